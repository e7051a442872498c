"""Bundled plugin: status and event gates on a finished run.

Job key ``gates = {status = ["success"], max_duration = "20m",
require_events = ["tool_finished"], forbid_events = ["log"]}``. Without the
key (or without ``status``) the status gate still applies with
``["success"]``. An event pattern is an event type, or ``type:tool`` to name
the tool too (``tool_finished:edit_file``). ``max_duration`` is measured
from the server's own timestamps (``createdAt`` to the terminal
``updatedAt``), so a slow network or a late poll does not count against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import mogrun.plugin
from mogrun.plugin import (
    Problems,
    RunStatus,
    duration,
    format_duration,
    hookimpl,
    server_span,
    strings,
    table,
)

if TYPE_CHECKING:  # a run's value, made where a run is judged: check and show load this plugin too
    from mogrun.plugin import GateVerdict

KEY = "gates"
DEFAULT_STATUS = (str(RunStatus.SUCCESS),)
# For `mogrun schema` (editors): never stricter than validate (strings are templated).
_NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}}
SCHEMA = {"type": "object", "additionalProperties": False, "properties": {
    "status": _NAMES, "max_duration": {"anyOf": [{"type": "number", "minimum": 0},
                                                 {"type": "string"}]},
    "require_events": _NAMES, "forbid_events": _NAMES}}


def validate(value: Any) -> dict[str, Any]:
    """The ``gates`` table, normalised; a table without ``status`` keeps the default."""
    found = Problems()  # an unknown sub-key is one more problem: the others are still said
    raw = table(value, KEY, ("status", "max_duration", "require_events", "forbid_events"),
                found)
    gates: dict[str, Any] = {"status": list(DEFAULT_STATUS)}
    if "status" in raw:
        gates["status"] = found.judge("status", _status, raw["status"])
    if "max_duration" in raw:
        gates["max_duration"] = found.judge("max_duration", duration, raw["max_duration"],
                                            "gates.max_duration")
    for name in ("require_events", "forbid_events"):
        if name in raw:
            gates[name] = found.judge(name, strings, raw[name], f"gates.{name}")
    found.done()
    return gates


def _status(value: Any) -> list[str]:
    # Only terminal runs are gated, so only terminal statuses can ever match.
    allowed = strings(value, "gates.status", choices=[s for s in RunStatus if s.terminal])
    if not allowed:
        raise ValueError("gates.status must name at least one status")
    return allowed


def matches(event: Any, pattern: str) -> bool:
    """``type`` or ``type:tool`` against one event."""
    kind, _, tool = pattern.partition(":")
    return event.type == kind and (not tool or event.tool_name == tool)


def _verdict(gate: str, passed: bool, reason: str) -> GateVerdict:
    # The module's attribute (imported on first use), not ``from mogrun.plugin import``:
    # that asks the module for a ``__path__`` first, a failed look-up at every verdict.
    return mogrun.plugin.GateVerdict(gate, passed, reason)


def status_verdict(status: str | None, allowed: Iterable[str]) -> GateVerdict:
    allowed = list(allowed)
    shown = status or "none"
    if status in allowed:
        return _verdict("status", True, f"status {shown}")
    # "gate status: ended failed, ..." (the gate's name is said before its reason).
    ended = "no status" if status is None else f"ended {status}"
    return _verdict("status", False, f"{ended}, expected {' or '.join(allowed)}")


def duration_verdict(state: Any, result: Any, limit: float) -> GateVerdict:
    seconds = server_duration(state)
    if seconds is None:
        seconds = getattr(result, "duration", None)
    if seconds is None:  # unknown fails: no run is passed on a length made up
        created, updated = (getattr(state, name, None) for name in ("created_at", "updated_at"))
        if not created or not updated:
            return _verdict("max_duration", False, "duration unknown: no server timestamps")
        return _verdict("max_duration", False, "duration unknown: the server's timestamps "
                        f"give none (createdAt {created}, updatedAt {updated})")
    took, cap = format_duration(round(seconds, 3)), format_duration(limit)
    if seconds <= limit:
        return _verdict("max_duration", True, f"took {took} (max {cap})")
    return _verdict("max_duration", False, f"took {took}, longer than max_duration {cap}")


def server_duration(state: Any) -> float | None:
    """Seconds from ``createdAt`` to ``updatedAt`` as the server wrote them
    (``server_span``: no offset is UTC; ``None`` when one is missing or
    unreadable, or ``updatedAt`` is before ``createdAt``)."""
    return server_span(getattr(state, "created_at", None), getattr(state, "updated_at", None))


def events_verdicts(events: Iterable[Any], required: list[str],
                    forbidden: list[str]) -> list[GateVerdict]:
    events = list(events)
    verdicts = []
    for pattern in required:
        seen = any(matches(e, pattern) for e in events)
        reason = f"saw {pattern}" if seen else f"no {pattern} event"
        verdicts.append(_verdict("require_events", seen, reason))
    for pattern in forbidden:
        count = sum(1 for e in events if matches(e, pattern))
        reason = f"no {pattern} event" if not count else f"{count} forbidden {pattern} event(s)"
        verdicts.append(_verdict("forbid_events", not count, reason))
    return verdicts


@hookimpl
def mogrun_job_keys(register: Callable[..., None]) -> None:
    register(KEY, validate,
             help="gates: {status, max_duration, require_events, forbid_events}",
             schema=SCHEMA)


@hookimpl
def mogrun_gate(job: Any, result: Any, state: Any, events: tuple[Any, ...]) -> list[GateVerdict]:
    gates = (getattr(job, "options", None) or {}).get(KEY) or {"status": list(DEFAULT_STATUS)}
    status = state.status if state is not None else result.status
    verdicts = [status_verdict(status, gates["status"])]
    if "max_duration" in gates:
        verdicts.append(duration_verdict(state, result, gates["max_duration"]))
    verdicts += events_verdicts(events, gates.get("require_events", []),
                                gates.get("forbid_events", []))
    return verdicts
