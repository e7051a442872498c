"""A small, exact YAML writer for the generated workflow.

The workflow is a tree of dicts, lists, strings, ints and bools; block style
covers it. Writing it by hand keeps mogrun free of a YAML dependency and
makes the bytes ours: insertion order is kept (callers choose the order), a
string is written plain only when no YAML reader can take it for anything
else, and every other string is double-quoted with JSON's escapes (a JSON
string is a valid YAML double-quoted scalar).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

INDENT = "  "
# Plain scalars start with a letter, "_", "$" or "(" (never an indicator such as
# "*", "&", "!", "-", "?", "{", "[", "'", '"', "%", "@", "`", "|", ">" or "#")
# and contain no ":" or "#" (": " and " #" would end or split the scalar). "[",
# "]", "{" and "}" are indicators only inside flow collections, which are never written.
_PLAIN = re.compile(r"[A-Za-z_$(][A-Za-z0-9_ .,/=(){}\[\];$|&!'<>+*@-]*")
# Anything else in a quoted scalar is a line break YAML folds (NEL, U+2028/9) or not allowed.
_UNPRINTABLE = re.compile("[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Words YAML 1.1 readers (PyYAML, older tools) turn into booleans or null.
_RESERVED = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"})


def scalar(value: Any) -> str:
    """One scalar as YAML text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"cannot write {type(value).__name__} as YAML")
    if (_PLAIN.fullmatch(value) and not value.endswith(" ")
            and value.lower() not in _RESERVED and "  " not in value):
        return value
    # YAML allows only printable characters, even inside quotes: escape the rest.
    return _UNPRINTABLE.sub(_escape, json.dumps(value, ensure_ascii=False))


def in_comment(text: str) -> str:
    """``text`` made safe for a ``#`` comment: a line break would end the comment
    and start YAML (a task-file path may hold one), so line breaks and the other
    characters YAML forbids are written as JSON escapes (``\\n``, ``\\u2028``)."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    return json.dumps(match.group())[1:-1]


def key(name: str, depth: int) -> str:
    """A mapping key: quoted as any other string would be, but for the workflow's
    own top-level ``on``, which stays plain as GitHub's examples write it (GitHub
    reads YAML 1.2, where ``on`` is a string). A job named ``on`` is quoted: a
    YAML 1.1 reader would take the key for ``True``."""
    return name if name == "on" and depth == 0 else scalar(name)


def dump(value: Mapping[str, Any]) -> str:
    """The whole document, ending with one newline."""
    return "\n".join(_mapping(value, 0) or ["{}"]) + "\n"


def _mapping(value: Mapping[str, Any], depth: int) -> list[str]:
    lines: list[str] = []
    pad = INDENT * depth
    for name, item in value.items():
        if isinstance(item, Mapping):
            lines.append(f"{pad}{key(name, depth)}:" + ("" if item else " {}"))
            lines += _mapping(item, depth + 1)
        elif isinstance(item, Sequence) and not isinstance(item, str):
            lines.append(f"{pad}{key(name, depth)}:" + ("" if item else " []"))
            lines += _sequence(item, depth + 1)
        else:
            lines.append(f"{pad}{key(name, depth)}: {scalar(item)}")
    return lines


def _sequence(value: Sequence[Any], depth: int) -> list[str]:
    lines: list[str] = []
    pad = INDENT * depth
    for item in value:
        if isinstance(item, Mapping) and item:
            inner = _mapping(item, depth + 1)
            # The first key shares the dash's line: "- uses: ...".
            lines.append(f"{pad}- {inner[0].lstrip()}")
            lines += inner[1:]
        elif isinstance(item, Mapping):
            lines.append(f"{pad}- {{}}")
        elif isinstance(item, Sequence) and not isinstance(item, str):
            raise TypeError("nested lists are not used in workflows")
        else:
            lines.append(f"{pad}- {scalar(item)}")
    return lines
