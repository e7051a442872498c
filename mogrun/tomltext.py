r"""Values as a task file spells them, for messages: the one home of that rule.

A message about a value quotes it the way the user wrote it in TOML
(``true``, ``2026-01-01T00:00:00Z``, ``{}``, ``"\u0001"``), never as
Python's ``repr`` would (``True``, ``datetime.datetime(...)``, ``'\x01'``).
A number or a date read from the task file is quoted as its text there
(``1e300``, not ``1e+300``; ``07:32:00.5``, not ``07:32:00.500000``) while
``spelled_by`` says where that text is: tomllib keeps no spelling.
Stdlib only: every layer's messages use it, plugins too (``mogrun.plugin``).
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from mogrun.textsafety import LINE_UNSAFE

# What the file wrote for a value read from it (by identity), or None.
Spelling = Callable[[object], str | None]
_SPELLING: ContextVar[Spelling | None] = ContextVar("mogrun_toml_spelling", default=None)

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # what a literal (single-quoted) string cannot hold
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
    spelled = _as_written(value)
    if spelled is not None:
        return spelled
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, datetime.date | datetime.time):
        return _moment(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(toml_repr, value)) + "]"
    if isinstance(value, Mapping):
        pairs = ", ".join(f"{_key(str(k))} = {toml_repr(v)}" for k, v in value.items())
        return "{ " + pairs + " }" if pairs else "{}"
    return repr(value)  # int and float: Python writes them as TOML does


@contextmanager
def spelled_by(spelling: Spelling) -> Iterator[None]:
    """Inside it, ``toml_repr`` of a number or date ``spelling`` knows (a value
    read from the task file, by identity) is the text the file wrote."""
    token = _SPELLING.set(spelling)
    try:
        yield
    finally:
        _SPELLING.reset(token)


def _as_written(value: Any) -> str | None:
    if not isinstance(value, float | datetime.date | datetime.time):
        return None  # a string or a boolean has one meaning per spelling; an int is shared
    spelling = _SPELLING.get()
    return spelling(value) if spelling is not None else None


def _moment(value: datetime.date | datetime.time) -> str:
    """A date or time as TOML's own examples write it: UTC as ``Z`` (tomllib
    reads ``Z`` and ``+00:00`` alike), a fraction of a second without the zeros
    Python pads it with."""
    text = value.isoformat()
    if isinstance(value, datetime.datetime | datetime.time) and value.microsecond:
        whole, _, rest = text.partition(".")
        digits, offset = rest[:6].rstrip("0"), rest[6:]
        text = f"{whole}.{digits}{offset}"
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _string(value: str) -> str:
    if "'" not in value and not _CONTROL.search(value) and not LINE_UNSAFE.intersection(value):
        return f"'{value}'"
    return basic_string(value)


def basic_string(value: str) -> str:
    """``value`` in double quotes, escaped as TOML writes it: a name said in a
    message as ``"a\\"b"``, not ``"a"b"``."""
    return '"' + "".join(_escaped(c) for c in value) + '"'


def _escaped(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    return _unicode(char) if _CONTROL.match(char) or char in LINE_UNSAFE else char


def _unicode(char: str) -> str:
    return f"\\u{ord(char):04x}"


def line_safe(text: str) -> str:
    """TOML text whose strings are all basic ones (tomlkit's) with each character
    that reorders or breaks a line written as its escape, as ``toml_repr`` writes
    it: raw, a bidi override made `cat` and `git diff` show the line reversed."""
    if LINE_UNSAFE.isdisjoint(text):
        return text
    return "".join(_unicode(char) if char in LINE_UNSAFE else char for char in text)


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _string(name)
