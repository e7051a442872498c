"""Validators for the tables of plugin job keys (public through ``mogrun.plugin``).

The bundled plugins and outside ones share them, so every key reads the same
way and every message has the same shape. Each raises ``ValueError`` with a
message that names the sub-key, which mogrun reports with the task file's
path, line, job and key. ``Problems`` gathers the problems of several
sub-keys into one ``KeyProblems``, so that ``check`` lists them all at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit

from mogrun.durations import parse_duration
from mogrun.loopback import DOTTED_LOOPBACK, NOT_HTTP, host_problem, url_refusal

T = TypeVar("T")


class KeyProblems(ValueError):
    """Every problem of one key's value, raised together so that ``check`` lists
    them in one go (fixing one does not reveal the next). ``problems`` are
    ``(sub-key, message)`` pairs: the sub-key (``"max_duration"``; a dotted path
    whose numbers index arrays, ``"1.on"``) is where the problem is written,
    ``""`` the value as a whole."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(message for _, message in self.problems))


class Problems:
    """Collects a key's problems: ``judge`` runs one check of a sub-key and keeps
    its ``ValueError``; ``done`` raises them all as one ``KeyProblems``."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def judge(self, sub_key: str, check: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``check(*args, **kwargs)``, or ``None`` with its problem kept. The sub-keys
        of a ``KeyProblems`` it raises are read under ``sub_key`` (``judge("1", ...)``
        of an array's item, whose ``on`` is wrong: ``"1.on"``), so each problem is
        located where it is written."""
        try:
            return check(*args, **kwargs)
        except ValueError as exc:
            self.found += [(".".join(filter(None, (sub_key, sub))), message)
                           for sub, message in problems_of(exc)]
            return None

    def add(self, sub_key: str, message: str) -> None:
        """A problem found without a check of its own."""
        self.found.append((sub_key, message))

    def done(self) -> None:
        """Raise what was found, if anything, as one ``KeyProblems``."""
        if self.found:
            raise KeyProblems(self.found)


def problems_of(error: ValueError) -> tuple[tuple[str, str], ...]:
    """A validator's ``ValueError`` as ``(sub-key, message)`` pairs (one with no
    sub-key unless it is a ``KeyProblems``)."""
    if isinstance(error, KeyProblems):
        return error.problems
    return (("", str(error)),)


def table(value: Any, key: str, allowed: Iterable[str],
          problems: Problems | None = None) -> Mapping[str, Any]:
    """``value`` must be a table whose keys are all in ``allowed`` (``KeyProblems``
    naming each key that is not, where it is written). With ``problems``, those
    are kept there instead, and the table is returned: its known sub-keys are
    then judged too, so ``check`` says an unknown key and a wrong value of the
    same table at once (``problems.done()`` raises them all)."""
    allowed = list(allowed)
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} must be a table like {{ {allowed[0]} = ... }}, "
                         f"not {type_name(value)}")
    unknown = [(str(name), f'unknown {key} setting "{name}"{_guess(str(name), allowed)}; '
                           f"valid: {', '.join(allowed)}")
               for name in value if name not in allowed]
    if problems is not None:
        for sub_key, message in unknown:
            problems.add(sub_key, message)
    elif unknown:  # each located at its own key, every one said at once
        raise KeyProblems(unknown)
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
    """A list of non-empty strings (optionally from ``choices``); each item that
    is not is a problem of its own, located at the item (sub-key: its index), as
    ``needs`` is."""
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list of strings, not {type_name(value)}")
    allowed = None if choices is None else list(choices)
    found = Problems()
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:  # counted from 1, as notify[1] is
            said = "must not be empty" if item == "" else f"must be a string, not {type_name(item)}"
            found.add(str(index), f"{where}[{index + 1}] {said}")
        elif allowed is not None and item not in allowed:
            found.add(str(index), f'{where}: unknown value "{item}"{_guess(item, allowed)}; '
                                  f"valid: {', '.join(allowed)}")
    found.done()
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
    # A URL no request can go to first: "http://127.0.0.1 /x" told to use https://,
    # which then said its host has a blank in it.
    problem = (_unsendable(parts, host) or host_problem(parts.netloc, host)
               if parts is not None and host is not None else None)
    if problem:  # said by check, not by the delivery after the runs
        raise ValueError(f"{where} is not a URL a request can go to: {problem}")
    if refusal == DOTTED_LOOPBACK:
        raise ValueError(f"{where}: {refusal}")
    if refusal is not None:
        raise ValueError(f"{where} must use https:// (plain http only to loopback)")
    return str(value)  # a str: urlsplit above only ran on one


def _unsendable(parts: SplitResult, host: str) -> str | None:
    """Why a URL that parsed cannot be sent to: a port that is no port, a host
    with blanks in it (the URL itself is a secret: its parts are not quoted)."""
    try:
        port = parts.port  # raises for "99999" and "abc"
    except ValueError:
        port = 0
    if port == 0:
        return "its port is not a number from 1 to 65535"
    if any(c.isspace() for c in host) or not host:
        return "its host is empty or has blanks in it"
    return None


def type_name(value: Any) -> str:
    """How TOML would call the value's type, for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name if not isinstance(value, str) else f'the string "{value}"'
    return "a table" if isinstance(value, Mapping) else type(value).__name__
