"""Durations as the task file writes them: ``"500ms"``, ``"90s"``, ``"25m"``,
``"2h"``, or a number of seconds.

Plugins import this to parse their own duration keys, so it imports nothing
beyond the standard library's ``re``.
"""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PATTERN = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)")
_HINT = 'use a number of seconds or a string like "500ms", "90s", "25m" or "2h"'


def parse_duration(value: str | int | float) -> float:
    """Seconds for a duration value; ``ValueError`` with a clear message otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: {_HINT}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an integer beyond any float
            seconds = math.inf
        return _check_number(seconds, value)
    if not isinstance(value, str):
        raise ValueError(f"invalid duration {value!r}: {_HINT}")
    match = _PATTERN.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"invalid duration {value!r}: {_HINT}")
    return _check_number(float(match.group(1)) * _UNITS[match.group(2)], value)


def _check_number(seconds: float, original: object) -> float:
    """Reject what cannot be a wait: negative, infinite or NaN."""
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {original!r}: must be a finite, non-negative time")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form (``"25m"``, ``"90s"``, ``"500ms"``) for `show` and `list`."""
    if seconds and seconds < 1:
        return f"{round(seconds * 1000)}ms"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds:f}".rstrip("0") + "s"
