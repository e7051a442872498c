"""The ``@emulator`` directive: a line in a prompt that scripts the run's fate.

    @emulator status=failed duration=5s events=12 tools=edit_file,run_tests
    @emulator duration=never interval=0.2s message="::error::boom"

Without a directive a run succeeds after the emulator's default duration with
its default number of events. See docs/emulator.md.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from mogrun.emulator.durations import parse_seconds

DIRECTIVE = re.compile(r"^[ \t]*@emulator\b(.*)$", re.MULTILINE)
STATUSES = ("success", "failed", "cancelled")
DEFAULT_TOOLS = ("read_file", "edit_file", "run_tests")
MIN_EVENTS = 3  # started, status_changed, and the terminal event


T = TypeVar("T")


class DirectiveError(ValueError):
    """A malformed ``@emulator`` line; the start is refused with 400."""


@dataclass(frozen=True)
class Script:
    """How a run behaves over time. ``duration`` None means it never ends on its
    own (it streams an event every ``interval`` seconds until cancelled)."""

    status: str = "success"
    duration: float | None = 3.0
    pending: float | None = None
    events: int = 8
    tools: tuple[str, ...] = DEFAULT_TOOLS
    message: str | None = None
    error: str | None = None
    interval: float = 0.5

    @property
    def pending_time(self) -> float:
        """Seconds in ``pending``: as scripted, else a tenth of the run (at most 0.5 s)."""
        if self.pending is not None:
            return self.pending
        return 0.5 if self.duration is None else min(0.5, self.duration / 10)

    @property
    def end_time(self) -> float | None:
        """Seconds from creation to the terminal status (None: never)."""
        if self.duration is None:
            return None
        return max(self.duration, self.pending_time)


def parse_script(prompt: str, default: Script) -> Script:
    """The script for a prompt: ``default`` updated by each directive line in order."""
    return apply_directives(prompt, default, _PARSERS)


Parsers = Mapping[str, Callable[[str], object]]


def apply_directives(text: str, default: T, parsers: Parsers) -> T:
    """``default`` (a dataclass) updated by each ``@emulator`` line of ``text``, in
    order, with ``parsers`` reading the values; DirectiveError for a bad line."""
    script = default
    for match in DIRECTIVE.finditer(text):
        script = _apply(script, match.group(1), parsers)
    return script


def _apply(script: T, text: str, parsers: Parsers) -> T:
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise DirectiveError(f"bad @emulator directive: {exc}") from exc
    changes: dict[str, Any] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise DirectiveError(f"bad @emulator directive: expected key=value, got {word!r}")
        changes[key] = _value(key, value, parsers)
    return replace(script, **changes)  # type: ignore[type-var]


def _value(key: str, value: str, parsers: Parsers) -> object:
    try:
        return parsers[key](value)
    except KeyError:
        known = ", ".join(parsers)
        raise DirectiveError(f"bad @emulator directive: unknown key {key!r} (known: {known})") \
            from None
    except ValueError as exc:
        raise DirectiveError(f"bad @emulator directive: {key}={value!r}: {exc}") from exc


def status(value: str) -> str:
    if value not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    return value


AWAITING_INPUT = "awaiting_input"  # a run only: paused at the agent's checkpoint, for good


def run_status(value: str) -> str:
    """A run may also end its pass at a checkpoint: the server then sets
    ``awaiting_input`` (not terminal), keeps the sandbox warm, and only a reply
    outside the API (Slack) or a cancel moves it on."""
    if value == AWAITING_INPUT:
        return value
    if value not in STATUSES:
        raise ValueError(f"status must be one of {', '.join((*STATUSES, AWAITING_INPUT))}")
    return value


def duration(value: str) -> float | None:
    return None if value in ("never", "forever") else parse_seconds(value)


def whole(text: str, low: int, high: int | None = None) -> int | None:
    """``text`` as a whole number from ``low`` to ``high``, written in ASCII digits
    (``int`` also reads ``١``), else ``None``: every count the emulator is given."""
    if not text.isascii() or not text.isdecimal():
        return None
    number = int(text)
    return number if low <= number and (high is None or number <= high) else None


MAX_EVENTS = 100_000  # far past the API's 200 a read; more is a typo that would crash


def _events(value: str) -> int:
    events = whole(value, 0, MAX_EVENTS)
    if events is None:
        raise ValueError(f"events must be a whole number of at most {MAX_EVENTS:,}")
    return max(MIN_EVENTS, events)


def _tools(value: str) -> tuple[str, ...]:
    if value in ("", "none"):
        return ()
    return tuple(t.strip() for t in value.split(",") if t.strip())


def _interval(value: str) -> float:
    seconds = parse_seconds(value)
    if seconds <= 0:
        raise ValueError("interval must be positive")
    return seconds


_PARSERS: dict[str, Callable[[str], Any]] = {
    "status": run_status,
    "duration": duration,
    "pending": parse_seconds,
    "events": _events,
    "tools": _tools,
    "message": str,
    "error": str,
    "interval": _interval,
}
