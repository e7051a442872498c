"""A number read from an environment variable: the one rule for every
``MOGRUN_*`` setting that is a number (``MOGRUN_SANDBOXES``,
``MOGRUN_POLL_INTERVAL``, ``MOGRUN_LIMIT_WINDOW_SCALE``).

Each had its own parser, and one took a blank value as unset where another
refused it. Here: surrounding whitespace (a CR from a CRLF ``.env``, the
newline of ``$(cat file)``) is ignored; a whole number is ASCII digits only
(``10``, not ``10.0``, ``1e3``, ``0x10`` or ``٣``, which ``int()`` would take);
any other number is a plain decimal, with an optional exponent (``0.5``,
``5e-2``), never ``inf``, ``nan``, ``1_0`` or non-ASCII digits; a value out of
bounds or of another form is a ``UsageError`` (exit 2) naming the variable,
the value as given and what is accepted. A leaf (the standard library and
``mogrun.errors``): every layer may use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from mogrun.errors import UsageError

N = TypeVar("N", int, float)

# A pattern, compiled by ``re`` on first use: most invocations set no number.
_DECIMAL = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_SHOWN = 40  # a longer value is cut in the message, which stays one readable line


def env_number(env: Mapping[str, str], name: str, kind: type[N], low: N, high: N,
               *, noun: str = "") -> N | None:
    """``env[name]`` as a ``kind`` (``int``: from ``low`` to ``high``; ``float``: over
    ``low`` and at most ``high``), or None when it is unset.

    An empty or whitespace-only value is unset too: a CI step that writes
    ``MOGRUN_SANDBOXES: ${{ vars.X }}`` with ``X`` undefined on this repo sets it
    to "", as does a ``.env`` line ``MOGRUN_SANDBOXES=``; nobody chose a value
    there, so the default applies instead of a failed job."""
    raw = env.get(name)
    text = (raw or "").strip()
    if not text:
        return None
    value = whole_number(text) if kind is int else _decimal(text)
    if value is not None and (low <= value <= high if kind is int else low < value <= high):
        return kind(value)
    accepted = (f"a {noun or 'whole number'} from {low} to {high} (digits 0-9)" if kind is int
                else f"a {noun or 'number'} over {low:g} and at most {high:g} (such as 0.5)")
    raise UsageError(f"{name} must be {accepted}, got {_shown(str(raw))}")


def whole_number(text: str) -> int | None:
    """``text`` as a whole number when it is ASCII digits alone (``None`` else), and
    ``None`` too past the interpreter's digit limit (4,300 digits: ``int()`` raises
    ``ValueError``, which came out as a traceback): no bound of mogrun's is that wide."""
    if not (text.isascii() and text.isdecimal()):
        return None
    try:
        return int(text)
    except ValueError:  # over the interpreter's digit limit (4300): no bounds are that wide
        return None


def _decimal(text: str) -> float | None:
    return float(text) if re.fullmatch(_DECIMAL, text) else None


def _shown(raw: str) -> str:
    """``raw`` quoted as typed: a byte the locale could not decode as ``\\xff``, not
    Python's stand-in for it (``\\udcff``), as every other variable says it."""
    from mogrun.textsafety import not_utf8

    as_bytes = not_utf8(raw)
    if as_bytes is not None:
        return f"'{as_bytes}'" if len(as_bytes) <= _SHOWN else f"'{as_bytes[:_SHOWN]}'..."
    return repr(raw) if len(raw) <= _SHOWN else f"{raw[:_SHOWN]!r}..."
