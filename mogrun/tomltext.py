r"""Values as a task file spells them, for messages: the one home of that rule.

A message about a value quotes it the way the user wrote it in TOML
(``true``, ``2026-01-01T00:00:00+00:00``, ``{}``, ``"\u0001"``), never as
Python's ``repr`` would (``True``, ``datetime.datetime(...)``, ``'\x01'``).
Stdlib only: every layer's messages use it, plugins too (``mogrun.plugin``).
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"',
            "\\": "\\\\"}


def toml_repr(value: Any) -> str:
    """``value`` as TOML writes it. A string is a literal string (``'C:\\p'``,
    backslashes as typed) unless it holds a ``'`` or a control character, then
    a basic one with TOML's escapes (``"it's\\n"``); a table is an inline table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(toml_repr, value)) + "]"
    if isinstance(value, Mapping):
        pairs = ", ".join(f"{_key(str(k))} = {toml_repr(v)}" for k, v in value.items())
        return "{ " + pairs + " }" if pairs else "{}"
    return repr(value)  # int and float: Python writes them as TOML does


def _string(value: str) -> str:
    if "'" not in value and not any(_is_control(c) for c in value):
        return f"'{value}'"
    return '"' + "".join(_escaped(c) for c in value) + '"'


def _escaped(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    return f"\\u{ord(char):04x}" if _is_control(char) else char


def _is_control(char: str) -> bool:
    return ord(char) < 32 or ord(char) == 127


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _string(name)
