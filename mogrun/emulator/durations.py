"""Parsing of the short durations the emulator accepts ("500ms", "5s", "2m", "1h", "1d")."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "": 1.0}
# ASCII digits and blanks only, as every other count of the emulator (``directives.whole``)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)?\s*$", re.ASCII)


MAX_SECONDS = 366 * 86400.0  # longer cannot be slept or dated; nobody scripts it
# Shorter is no clock's tick; a subnormal one (1e-320) overflowed every division by it.
MIN_SECONDS = 0.001


def parse_seconds(text: str | float | int) -> float:
    """Seconds from a number or a string with an optional unit; ValueError if
    malformed, negative, not finite, longer than a year or shorter than 1 ms
    (zero passes: each caller says whether it may be zero)."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        seconds = _float(text)
    else:
        match = _DURATION.match(text)
        if match is None:
            raise ValueError(f"not a duration: {_shown(text)} (use e.g. 500ms, 5s, 2m, 1h, 1d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or ""]
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {_shown(text)}")
    if not math.isfinite(seconds) or seconds > MAX_SECONDS:
        raise ValueError(f"a duration must be at most a year (366d), not {_shown(text)}")
    if 0 < seconds < MIN_SECONDS:
        raise ValueError(f"a duration must be 0 or at least 1ms, not {_shown(text)}")
    return seconds


def _float(number: float | int) -> float:
    try:
        return float(number)
    except OverflowError:  # an int past a double (JSON carries any): past a year
        return math.inf if number > 0 else -math.inf


def _shown(text: str | float | int) -> str:
    """The value as a message quotes it: a number of hundreds of digits, or a
    string as long, is cut (repr() of an int past 4,300 digits even raises)."""
    if isinstance(text, int) and text.bit_length() > 64:
        return f"a number of {int(math.log10(abs(text))) + 1} digits"
    shown = repr(text)
    return shown if len(shown) <= 40 else f"{shown[:30]}... ({len(shown)} characters)"
