"""Parsing of the short durations the emulator accepts ("500ms", "5s", "2m", "1h", "1d")."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "": 1.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)?\s*$")


MAX_SECONDS = 366 * 86400.0  # longer cannot be slept or dated; nobody scripts it


def parse_seconds(text: str | float | int) -> float:
    """Seconds from a number or a string with an optional unit; ValueError if
    malformed, negative, not finite or longer than a year."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _DURATION.match(text)
        if match is None:
            raise ValueError(f"not a duration: {text!r} (use e.g. 500ms, 5s, 2m, 1h, 1d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or ""]
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {text!r}")
    if not math.isfinite(seconds) or seconds > MAX_SECONDS:
        raise ValueError(f"a duration must be at most a year (366d), not {text!r}")
    return seconds
