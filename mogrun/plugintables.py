"""Validators for the tables of plugin job keys (public through ``mogrun.plugin``).

The bundled plugins and outside ones share them, so every key reads the same
way and every message has the same shape. Each raises ``ValueError`` with a
message that names the sub-key, which mogrun reports with the task file's
path, line, job and key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from mogrun.durations import parse_duration
from mogrun.loopback import NOT_HTTP, url_refusal


def table(value: Any, key: str, allowed: Iterable[str]) -> Mapping[str, Any]:
    """``value`` must be a table whose keys are all in ``allowed``."""
    allowed = list(allowed)
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} must be a table like {{ {allowed[0]} = ... }}, "
                         f"not {type_name(value)}")
    for name in value:
        if name not in allowed:
            raise ValueError(f'unknown {key} setting "{name}"{_guess(str(name), allowed)}; '
                             f"valid: {', '.join(allowed)}")
    return value


def _guess(word: str, allowed: list[str]) -> str:
    """`` (did you mean "X"?)`` for the closest of ``allowed``, or nothing."""
    from mogrun.taskfile.schema import closest  # a typo's path only

    close = closest(word, allowed)
    return f' (did you mean "{close}"?)' if close else ""


def duration(value: Any, where: str) -> float:
    """Seconds of a duration sub-key, with the sub-key in the message."""
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def strings(value: Any, where: str, *, choices: Iterable[str] | None = None) -> list[str]:
    """A list of non-empty strings (optionally from ``choices``)."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{where} must be a list of strings, not {type_name(value)}")
    if choices is not None:
        choices = list(choices)
        for item in value:
            if item not in choices:
                raise ValueError(f'{where}: unknown value "{item}"{_guess(item, choices)}; '
                                 f"valid: {', '.join(choices)}")
    return list(value)


def web_url(value: Any, where: str) -> str:
    """An http(s) URL a plugin may post to: plain ``http://`` only to loopback,
    the rule mogrun's own HTTP layer enforces when it sends."""
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        host = parts.hostname if parts is not None else None
    except ValueError:  # "http://[::1" and the like
        parts = host = None
    refusal = url_refusal(parts.scheme if parts is not None else None, host)
    if refusal == NOT_HTTP:
        raise ValueError(f"{where} must be an http(s) URL")
    if refusal is not None:
        raise ValueError(f"{where} must use https:// (plain http only to loopback)")
    return str(value)  # a str: urlsplit above only ran on one


def type_name(value: Any) -> str:
    """How TOML would call the value's type, for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name if not isinstance(value, str) else f'the string "{value}"'
    return "a table" if isinstance(value, Mapping) else type(value).__name__
