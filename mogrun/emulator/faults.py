"""Injected faults: each applies to the next ``count`` requests to an endpoint.

Spec syntax (``--faults`` and ``POST /_emulator/faults {"spec": ...}``)::

    ENDPOINT:KIND[=DELAY][xCOUNT][@RETRY_AFTER][,...]
    start:503x2,events:429@3,run:delay=1.5sx2,start:drop_after_commit
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mogrun.emulator.durations import parse_seconds

ENDPOINTS = ("start", "events", "run", "cancel", "repos", "sandboxes", "launch",
             "automations", "trigger", "automation_runs", "*")
KINDS = ("500", "502", "503", "504", "429", "html", "empty", "truncated", "delay",
         "drop_after_commit", "drop", "conflict", "not_ready", "changed", "500_after_commit")
ONLY_FOR = {"drop_after_commit": ("start", "trigger"), "conflict": ("cancel",),
            "not_ready": ("cancel",), "changed": ("cancel",),
            "500_after_commit": ("start", "trigger")}

_KIND_WORD = "|".join(sorted(KINDS, key=len, reverse=True))
_SPEC = re.compile(
    r"^(?P<endpoint>[a-z_*]+):(?P<kind>" + _KIND_WORD + r"|[a-z0-9_]+?)"
    r"(?:=(?P<delay>\d*\.?\d+(?:ms|s)?))?"
    r"(?:x(?P<count>\d+))?"
    r"(?:@(?P<retry>\d*\.?\d+(?:ms|s|m|h)?))?$"
)


@dataclass(frozen=True)
class Fault:
    """One kind of failure for the next ``count`` requests to ``endpoint``."""

    endpoint: str
    kind: str
    count: int = 1
    retry_after: float | None = None
    delay: float | None = None

    def __post_init__(self) -> None:
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown fault endpoint {self.endpoint!r} "
                             f"(one of {', '.join(ENDPOINTS)})")
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (one of {', '.join(KINDS)})")
        only = ONLY_FOR.get(self.kind)
        if only is not None and self.endpoint not in only:
            names = " or ".join(repr(name) for name in only)
            raise ValueError(f"fault {self.kind!r} applies only to the {names} endpoint")
        if self.count < 1:
            raise ValueError(f"a fault count must be at least 1, got {self.count}")
        for name in ("retry_after", "delay"):
            value = getattr(self, name)
            if value is not None:
                try:
                    parse_seconds(value)
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """From ``{"endpoint", "kind", "count"?, "retry_after"?, "delay"?}``."""
        unknown = set(data) - {"endpoint", "kind", "count", "retry_after", "delay"}
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        count = data.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int):
            raise ValueError(f"a fault count must be a whole number, got {count!r}")
        try:
            return cls(str(data["endpoint"]), str(data["kind"]), count,
                       _opt_float(data.get("retry_after")), _opt_float(data.get("delay")))
        except KeyError as exc:
            raise ValueError(f"a fault needs {exc.args[0]!r}") from exc
        except TypeError as exc:
            raise ValueError(f"bad fault: {exc}") from exc


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("expected a number of seconds")
    return parse_seconds(value)


def parse_faults(spec: str) -> list[Fault]:
    """Faults from the command-line syntax; ValueError naming the bad item."""
    faults = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        match = _SPEC.match(item)
        if match is None:
            raise ValueError(f"bad fault {item!r}: expected ENDPOINT:KIND[=DELAY][xCOUNT]"
                             "[@RETRY_AFTER], e.g. start:503x2 or events:429@3")
        try:
            faults.append(Fault(
                match["endpoint"], match["kind"], int(match["count"] or 1),
                parse_seconds(match["retry"]) if match["retry"] else None,
                parse_seconds(match["delay"]) if match["delay"] else None,
            ))
        except ValueError as exc:
            raise ValueError(f"bad fault {item!r}: {exc}") from exc
    return faults


def endpoint_of(method: str, parts: list[str]) -> str | None:
    """Which fault endpoint an API path (split after the prefix) is, if any."""
    if parts in (["repos"], ["sandboxes"]) and method == "GET":
        return parts[0]
    if parts == ["sandboxes"] and method == "POST":
        return "launch"
    if parts and parts[0] == "automations":
        return _automation_endpoint(method, parts)
    if parts == ["runs"] and method == "POST":
        return "start"
    if len(parts) == 2 and parts[0] == "runs" and method == "GET":
        return "run"
    if len(parts) == 3 and parts[0] == "runs":
        if parts[2] == "events" and method == "GET":
            return "events"
        if parts[2] == "cancel" and method == "POST":
            return "cancel"
    return None


def _automation_endpoint(method: str, parts: list[str]) -> str | None:
    if method == "POST" and len(parts) == 3 and parts[2] == "trigger":
        return "trigger"
    if method != "GET":
        return None
    return "automation_runs" if len(parts) >= 3 and parts[2] == "runs" else "automations"


class FaultQueue:
    """Pending faults in the order added; the caller holds the state lock."""

    def __init__(self) -> None:
        self._pending: list[list[Any]] = []  # [Fault, remaining]

    def add(self, fault: Fault) -> None:
        self._pending.append([fault, fault.count])

    def take(self, endpoint: str | None) -> Fault | None:
        """The first fault matching ``endpoint`` (or ``*``), consuming one use."""
        for entry in self._pending:
            fault = entry[0]
            if fault.endpoint == "*" or (endpoint is not None and fault.endpoint == endpoint):
                entry[1] -= 1
                if entry[1] <= 0:
                    self._pending.remove(entry)
                return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        return [{**fault.to_json(), "remaining": left} for fault, left in self._pending]

    def clear(self) -> None:
        self._pending.clear()
