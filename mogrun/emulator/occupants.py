"""Sandboxes held by other work of the account (the web app, another client),
put there by tests and demos so that a client meets a busy account.

Spec syntax (``mogrun emulator --occupy`` and ``POST /_emulator/sandboxes``)::

    [REPO:]COUNT[@BUSY][,...]
    2@30s               two sandboxes of the first repo, busy 30 s, then idle
    acme/web:1@never    one sandbox of acme/web, busy until released
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mogrun.emulator.durations import parse_seconds
from mogrun.emulator.sandboxes import Sandbox, Triple
from mogrun.emulator.state import DEFAULT_USER, State

DEFAULT_BUSY = 60.0
MAX_COUNT = 1000  # far past any account's cap; a typo's 99999999 would take hours to set up
_SPEC = re.compile(r"^(?:(?P<repo>[^:@,\s]+/[^:@,\s]+):)?(?P<count>\d+)(?:@(?P<busy>\S+))?$",
                   re.ASCII)  # ASCII digits: ``int`` also reads ``２``, no other count does
_serial = itertools.count(1)


@dataclass(frozen=True)
class Occupants:
    """``count`` sandboxes of ``repo`` (None: the account's first repo), busy for
    ``busy`` seconds from now (None: until released), then idle like any other."""

    count: int = 1
    busy: float | None = DEFAULT_BUSY
    repo: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_COUNT:
            raise ValueError(f"occupy 1 to {MAX_COUNT} sandboxes, not {self.count}")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Occupants:
        """From ``{"count"?, "busy"? (seconds, "30s" or "never"), "repo"?}``."""
        unknown = set(data) - {"count", "busy", "repo"}
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        count = data.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int):
            raise ValueError(f"count must be a whole number, got {count!r}")
        busy = data.get("busy", DEFAULT_BUSY)
        repo = data.get("repo")
        return cls(count, _busy(busy), None if repo is None else str(repo))


def _busy(value: Any) -> float | None:
    if value is None or value in ("never", "forever"):
        return None
    if isinstance(value, bool):
        raise ValueError("busy must be a duration such as 30s, or never")
    return parse_seconds(value)


def parse_occupants(spec: str) -> list[Occupants]:
    """Occupants from the command-line syntax; ValueError naming the bad item."""
    found = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        match = _SPEC.match(item)
        if match is None:
            raise ValueError(f"bad sandbox occupant {item!r}: expected [REPO:]COUNT[@BUSY], "
                             "e.g. 2@30s or acme/web:1@never")
        try:
            found.append(Occupants(int(match["count"]), _busy(match["busy"] or DEFAULT_BUSY),
                                   match["repo"]))
        except ValueError as exc:
            raise ValueError(f"bad sandbox occupant {item!r}: {exc}") from exc
    return found


def occupy(state: State, occupants: Occupants, now: float,
           user: str = DEFAULT_USER) -> list[Sandbox]:
    """Add the occupants' sandboxes (caller holds the lock); an unknown repo is a
    ValueError naming the account's repos."""
    repo = state.repo_named(occupants.repo)
    made = []
    for _ in range(occupants.count):
        triple = Triple(repo["id"], f"interactive/{next(_serial)}", None)
        made.append(state.sandboxes.occupy(user, triple, repo["default_branch"], now,
                                           occupants.busy))
    return made


def release(state: State, now: float) -> int:
    """End every occupant's busy time now; they idle from here and get reaped."""
    return sum(sandbox.release(now) for sandbox in state.sandboxes.all)
