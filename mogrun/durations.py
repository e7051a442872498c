"""Durations, the one home for reading and writing them.

Read as task files write them: ``"500ms"``, ``"90s"``, ``"25m"``, ``"2h"``,
compounds such as ``"1h30m"`` or ``"2m05s"``, or a number of seconds, given as
a number or written as a string (``"60"``, ``"1.5"``: what ``--timeout 60`` passes).
Written one way everywhere (``show``, the summary, notices, plugins):
``format_duration`` produces a string ``parse_duration`` reads back.

Stdlib only: plugins (through ``mogrun.plugin``) and every layer import it.
"""

from __future__ import annotations

import functools
import math
import re
import time
from typing import NoReturn

from mogrun.tomltext import toml_repr

UNKNOWN_CLOCK = "--:--:--"  # a moment unreadable, on a line's clock
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)"
_SECONDS = r"\d+(?:\.\d+)?"  # a bare number: seconds, as a TOML number is
# Each unit at most once, largest first: "30m30m" or "1s1h" is a slip, not an hour.
_COMPOUND = (rf"(?=\d)(?:{_SECONDS}\s*h\s*)?(?:{_SECONDS}\s*m(?!s)\s*)?"
             rf"(?:{_SECONDS}\s*s\s*)?(?:{_SECONDS}\s*ms\s*)?")
# Patterns, not compiled ones: re compiles (and caches) each on its first use, so
# a line that reads no duration (list) compiles none, and a valid one never the
# slowest (_NO_WAIT): compiling is slow beside a start-up.
_PATTERN = rf"{_SECONDS}|{_COMPOUND}"
_ANY_PARTS = rf"(?:{_PART}\s*)+"
# Written as a number but no wait: said so, not answered with the grammar.
_NO_WAIT = rf"-\s*(?:{_PATTERN})|[+-]?(?:inf(?:inity)?|nan)"
# The same grammar for a JSON Schema "pattern" (ECMA-262), as `mogrun schema` writes it.
JSON_PATTERN = rf"^\s*(?:{_SECONDS}|{_COMPOUND})\s*$"
_NOT_A_WAIT = "must be a finite, non-negative time"
# The longest any duration may be (a retry's delay, a gate's max_duration, a
# capacity_wait): a week covers a queue for sandbox slots over a weekend;
# beyond it is a typo (1e12), which would wait for ever and overflow deadlines.
LONGEST = 7 * 86400.0
# The longest a run's timeout may be: a Mogplex sandbox lives at most 5 hours,
# so a day is already more than any run can take.
LONGEST_TIMEOUT = 86400.0
_HINT = 'use a number of seconds or a string like "500ms", "90s", "25m", "1h30m" or "2h"'


NOT_POSITIVE = "must be longer than zero"  # a timeout's zero, or one below it


class NotPositive(ValueError):
    """``parse_duration(positive=True)`` of zero or below: ``NOT_POSITIVE``, its
    message, needs no value quoted (``--timeout`` adds the one it was given)."""

    def __init__(self) -> None:
        super().__init__(NOT_POSITIVE)


def parse_duration(value: str | int | float, *, longest: float = LONGEST,
                   positive: bool = False) -> float:
    """Seconds for a duration value of at most ``longest`` seconds; ``ValueError``
    with a clear message otherwise. ``positive``: zero and below are refused too,
    as ``NotPositive`` (a negative one said "non-negative", which let 0 through)."""
    try:
        seconds = _seconds(value)
    except ValueError:
        if positive and _below_zero(value):
            raise NotPositive from None
        raise
    if positive and seconds <= 0:
        raise NotPositive
    if seconds > longest:
        raise ValueError(f"invalid duration {toml_repr(value)}: longer than the longest "
                         f"allowed ({longest_said(longest)})")
    return seconds


def longest_said(seconds: float) -> str:
    """A bound as people say it: ``24h``, ``7 days``."""
    days, rest = divmod(seconds, 86400)
    return f"{days:.0f} days" if days > 1 and not rest else format_duration(seconds)


def _seconds(value: str | int | float) -> float:
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {toml_repr(value)}: {_HINT}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an integer beyond any float
            seconds = math.inf
        return _check_number(seconds, value)
    if not isinstance(value, str):
        raise ValueError(f"invalid duration {toml_repr(value)}: {_HINT}")
    return _text_seconds(value)


@functools.lru_cache(maxsize=256)
def _text_seconds(value: str) -> float:
    """A duration string's seconds. Remembered: a task file writes the same few
    durations in every job, and each is read twice (checked, then built)."""
    text = value.strip()
    if not text or re.fullmatch(_PATTERN, text, re.ASCII) is None:
        _refuse(value, text)
    if re.fullmatch(_SECONDS, text, re.ASCII):
        return _check_number(float(text), value)
    total = sum(float(number) * _UNITS[unit]
                for number, unit in re.findall(_PART, text, re.ASCII))
    return _check_number(total, value)


def _refuse(value: str, text: str) -> NoReturn:
    """Why ``value`` (``text`` stripped), which the grammar does not read, is no duration."""
    if re.fullmatch(_NO_WAIT, text, re.ASCII | re.IGNORECASE):
        raise ValueError(f"invalid duration {toml_repr(value)}: {_NOT_A_WAIT}")
    if text and re.fullmatch(_ANY_PARTS, text, re.ASCII):
        raise ValueError(f"invalid duration {toml_repr(value)}: write each unit once, largest "
                         'first ("1h30m", not "30m1h" or "30m30m")')
    raise ValueError(f"invalid duration {toml_repr(value)}: {_HINT}")


def _below_zero(value: str | int | float) -> bool:
    """Whether ``value`` is written as a time below zero (not ``-inf``, no time)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value < 0
    text = value.strip()
    return text.startswith("-") and text[1:].lstrip()[:1].isdigit()


def _check_number(seconds: float, original: object) -> float:
    """Reject what cannot be a wait: negative, infinite or NaN."""
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {toml_repr(original)}: {_NOT_A_WAIT}")
    return seconds


def format_duration(seconds: float | None) -> str:
    """``500ms``, ``3.2s``, ``45s``, ``2m05s``, ``25m``, ``1h02m05s``, ``2h``; ``-`` if unknown.

    Under a second, whole milliseconds, at least ``1ms`` (a 1e-9 s timeout is not
    none, and ``0ms`` would say so); one that rounds to 1000 ms is ``1.0s``.
    Under a minute, tenths are kept below 10 s for a time that is not whole (a run
    of 2.04 s reads ``2.0s`` in a summary, one of exactly 2 s ``2s``); above, whole
    seconds. Zero parts at the end are dropped.
    Each string is one ``parse_duration`` reads, to within that precision.
    """
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return "-"
    if math.isinf(seconds):
        return "∞"
    if 0 < seconds < 1:
        ms = max(1, round(seconds * 1000))  # not 0ms (nor "<1ms", which no one reads back)
        if ms < 1000:  # 0.9995 s is 1.0s, not "1000ms"
            return f"{ms}ms"
    if seconds < 10 and seconds != int(seconds) and round(seconds, 1) < 10:
        return f"{seconds:.1f}s"  # (9.96 s is 10s, as 10.0 s is, not "10.0s")
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        tail = f"{minutes:02d}m{secs:02d}s" if secs else (f"{minutes:02d}m" if minutes else "")
        return f"{hours}h{tail}"
    return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"


def parse_moment(stamp: object) -> float | None:
    """Epoch seconds of a server's ISO 8601 timestamp (a naive one is UTC);
    ``None`` when it is missing or unreadable. Durations between two of them
    (elapsed, a run's length) are measured on the server's clock."""
    from datetime import UTC, datetime

    text = stamp.strip() if isinstance(stamp, str) else ""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def line_clock(epoch: float | None = None) -> str:
    """The one clock of every line mogrun prints: ``HH:MM:SS`` in UTC, like the
    times ``mogrun history`` shows; ``epoch=None`` is now."""
    moment = time.time() if epoch is None else epoch
    return time.strftime("%H:%M:%S", time.gmtime(moment))


def event_clock(created_at: str | None) -> str:
    """``HH:MM:SS`` (UTC) of a server timestamp; ``--:--:--`` if unreadable."""
    moment = parse_moment(created_at)
    return UNKNOWN_CLOCK if moment is None else line_clock(moment)


def server_span(start: object, end: object) -> float | None:
    """Seconds from one server timestamp to a later one (a run's ``createdAt`` to
    its ``updatedAt``), each read by ``parse_moment``: the one rule for a run's
    length by the server's clock. ``None`` (unknown) when either is missing or
    unreadable, or ``end`` is before ``start``: a clock that went back says
    nothing of how long a run took, and a made-up ``0`` would pass any
    ``max_duration``."""
    began, ended = parse_moment(start), parse_moment(end)
    if began is None or ended is None or ended < began:
        return None
    return ended - began
