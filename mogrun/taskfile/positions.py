"""Where a key sits in the task file's text, for error messages.

tomllib gives values without positions, so on the error path (never for a
valid file) this small scanner walks the TOML text and records the line and
column of every key, tables, dotted keys and inline tables included, and of
every element of an array: an index (an ``int``, from 0) is a part of a path,
so ``needs[1]`` is ``("jobs", "x", "needs", 1)`` and ``notify[1].on`` is
``("jobs", "x", "notify", 1, "on")``, in an inline array as in one written
over many lines or as ``[[jobs.x.notify]]`` tables. Each such path is also
known without its indexes (``("jobs", "x", "notify", "on")``), where the
first occurrence wins. It also keeps every key/value and header with its
span of text (``entries``, paths without indexes), which is how a key
written twice is found (``mogrun.taskfile.syntax``).
"""

from __future__ import annotations

import bisect
import datetime
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mogrun.errors import Location

Path_ = tuple[str | int, ...]  # an int is an array index
# Character classes are sets, never strings: at the end of the text ``peek``
# returns "", and "" is "in" every string.
_QUOTES = frozenset("\"'")
_NEWLINE = re.compile("\n")
_KEY_WORD = re.compile(r"[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'")
# Any ``key =`` on a line; a bare key is tried only where a word starts, so a huge
# line is scanned once, not once per character (that made it quadratic).
_ASSIGNED = re.compile(r"((?<![A-Za-z0-9_-])[A-Za-z0-9_-]+|\"[^\"\n]*\"|'[^'\n]*')[ \t]*=")
# The scanner steps over runs of text with these (C speed), not one character at a
# time: an error in a 10,000-job file scans the whole file once.
_BLANKS = re.compile(r"(?:[ \t\r]+|#[^\n]*)*")
_BLANKS_AND_LINES = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")
_BARE_RUN = re.compile(r"[A-Za-z0-9_-]*")
_SCALAR = re.compile(r"[^,\]}\n#]*")
_BASIC_LINE = re.compile(r'"(?:[^"\\\n]|\\[^\n]?)*("?)')  # to its closing quote or line end
_LITERAL_LINE = re.compile(r"'[^'\n]*('?)")


class SourceText:
    """A task file's text with its line starts, computed once, so that placing
    any number of keys or quoting any number of lines stays linear."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0, *(newline.end() for newline in _NEWLINE.finditer(text))]

    def point(self, index: int) -> tuple[int, int]:
        """1-based line and column of the character at ``index``."""
        line = bisect.bisect_right(self.starts, index)
        return line, index - self.starts[line - 1] + 1

    def line(self, number: int) -> str | None:
        """The text of a 1-based line without its line break, if it exists."""
        if not 0 < number <= len(self.starts):
            return None
        start = self.starts[number - 1]
        end = self.starts[number] - 1 if number < len(self.starts) else len(self.text)
        return self.text[start:end].removesuffix("\r")


@functools.lru_cache(maxsize=4)
def source_text(text: str) -> SourceText:
    """The (cached) line index of ``text``: ``check`` may locate many errors."""
    return SourceText(text)


@dataclass(frozen=True)
class Entry:
    """One key/value or table header as written: its path, the table its key is
    written in (``inline`` when that is an inline table) and the span of text
    from the key (or ``[``) to the end of the value (or of the header's key)."""

    path: tuple[str, ...]
    table: tuple[str, ...]
    start: int
    end: int
    kind: str  # "table", "key" or "inline"
    at: Path_ = ()  # a key/value's path with its array indexes
    value: int = -1  # where a key/value's value starts


class _Scanner:
    """A forgiving single-pass TOML scanner: keys and their positions only.

    It must never fail, whatever the text: it runs while an error is reported.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.found: dict[Path_, tuple[int, int]] = {}
        self.entries: list[Entry] = []
        self.tables_of_arrays: dict[Path_, int] = {}  # [[x]] headers seen, per path
        self.point = source_text(text).point

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_blank(self, newlines: bool) -> None:
        blanks = _BLANKS_AND_LINES if newlines else _BLANKS
        self.pos = blanks.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def skip_string(self) -> None:
        """Step over a string. Basic ones (double quotes) have backslash escapes,
        single- and multi-line alike: an escaped quote never ends one. Literal ones
        (single quotes) have none. Up to two quotes just before the closing three
        belong to the string (TOML 1.0)."""
        quote = self.text[self.pos]
        escapes = quote == '"'
        if self.text.startswith(quote * 3, self.pos):
            self.pos += 3
            while self.pos < len(self.text) and not self.text.startswith(quote * 3, self.pos):
                self.pos += 2 if escapes and self.text[self.pos] == "\\" else 1
            self.pos += 3
            for _ in range(2):
                self.pos += self.peek() == quote
            return
        string = (_BASIC_LINE if escapes else _LITERAL_LINE).match(self.text, self.pos)
        assert string is not None  # it starts at its quote
        # An unclosed one ends with its line (the newline is stepped over too).
        self.pos = string.end() + (not string.group(1))

    def key(self) -> list[tuple[str, int]]:
        """A dotted key: each part with the index where it starts."""
        parts: list[tuple[str, int]] = []
        while True:
            self.skip_blank(newlines=False)
            start, char = self.pos, self.peek()
            if char in _QUOTES:
                self.skip_string()
                parts.append((_quoted_key(self.text[start : self.pos]), start))
            else:
                self.pos = _BARE_RUN.match(self.text, self.pos).end()  # type: ignore[union-attr]
                if self.pos == start:
                    return parts
                parts.append((self.text[start : self.pos], start))
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return parts
            self.pos += 1

    def record(self, base: Path_, parts: list[tuple[str, int]]) -> Path_:
        path = base
        for name, start in parts:
            path = (*path, name)
            self.mark(path, start)
        return path

    def mark(self, path: Path_, start: int) -> None:
        """``path`` (and, if it holds indexes, ``path`` without them) starts at ``start``."""
        point = self.point(start)
        self.found.setdefault(path, point)
        if any(isinstance(part, int) for part in path):
            self.found.setdefault(_without_indexes(path), point)

    def value(self, path: Path_) -> None:
        """Skip one value, recording the keys of inline tables inside it."""
        self.skip_blank(newlines=False)
        char = self.peek()
        if char in _QUOTES:
            self.skip_string()
        elif char == "[":
            self.array(path)
        elif char == "{":
            self.inline_table(path)
        else:
            self.pos = _SCALAR.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def array(self, path: Path_) -> None:
        """Skip an array, recording where each element starts (``(*path, index)``)."""
        self.pos += 1
        index = 0
        while self.pos < len(self.text):
            self.skip_blank(newlines=True)
            if self.peek() in ("]", ""):
                self.pos += 1
                return
            if self.peek() == ",":
                self.pos += 1
                continue
            before = self.pos
            if self.peek() != "}":
                self.mark((*path, index), before)
                self.value((*path, index))
                index += 1
            self.pos += self.pos == before  # a stray "}": step over it

    def inline_table(self, path: Path_) -> None:
        self.pos += 1
        while self.pos < len(self.text):
            self.skip_blank(newlines=True)
            if self.peek() in ("}", ""):
                self.pos += 1
                return
            if self.peek() == ",":
                self.pos += 1
                continue
            parts = self.key()
            if not parts or self.peek() != "=":
                self.pos += 1
                continue
            self.pos += 1
            self.pair(path, parts, "inline")

    def pair(self, table: Path_, parts: list[tuple[str, int]], kind: str) -> None:
        """The value of a key/value pair whose ``=`` is behind, and its entry."""
        path = self.record(table, parts)
        self.skip_blank(newlines=False)
        begin = self.pos
        self.value(path)
        self.entries.append(Entry(_without_indexes(path), _without_indexes(table),
                                  parts[0][1], self.pos, kind, path, begin))

    def header(self, parts: list[tuple[str, int]]) -> Path_:
        """A header's path, recorded: a part naming an array of tables opened
        before (``[[a]]``) is its latest element, as TOML reads it, so ``[[a.b]]``
        or ``[a.c]`` under the second ``[[a]]`` is ``("a", 1, "b")``."""
        path: Path_ = ()
        for number, (name, start) in enumerate(parts, 1):
            path = (*path, name)
            if number < len(parts) and path in self.tables_of_arrays:
                path = (*path, self.tables_of_arrays[path] - 1)
            self.mark(path, start)
        return path

    def element_table(self, path: Path_, start: int) -> Path_:
        """The path of the element a ``[[path]]`` header opens: the next index of
        ``path`` (``path`` holds the indexes of the elements it is in, so each
        ``[[a]]`` element counts its own ``[[a.b]]`` from 0)."""
        index = self.tables_of_arrays.get(path, 0)
        self.tables_of_arrays[path] = index + 1
        self.mark((*path, index), start)
        return (*path, index)

    def scan(self) -> _Scanner:
        table: Path_ = ()
        while self.pos < len(self.text):
            self.skip_blank(newlines=True)
            if self.peek() == "[":
                start = self.pos
                of_array = self.text.startswith("[[", self.pos)
                self.pos += 2 if of_array else 1
                header = self.header(self.key())
                self.entries.append(Entry(_without_indexes(header), (), start, self.pos,
                                          "table"))
                table = header
                if of_array:
                    table = self.element_table(table, start)
            else:
                parts = self.key()
                if parts and self.peek() == "=":
                    self.pos += 1
                    self.pair(table, parts, "key")
            end = self.text.find("\n", self.pos)
            self.pos = len(self.text) if end < 0 else end + 1
        return self


@functools.lru_cache(maxsize=4)
def scanned(text: str) -> _Scanner:
    """The one scan of ``text`` (cached: ``check`` may report many errors in one file)."""
    return _Scanner(text).scan()


def _without_indexes(path: Path_) -> tuple[str, ...]:
    return tuple(part for part in path if isinstance(part, str))


def _quoted_key(written: str) -> str:
    """A quoted key as TOML reads it: a basic one's escapes (``"a\\u0062"`` is
    ``ab``) decoded by tomllib itself; as written, quotes off, if it cannot be."""
    if written.startswith('"') and "\\" in written:
        import tomllib

        try:
            return next(iter(tomllib.loads(f"{written} = 0")))
        except (tomllib.TOMLDecodeError, StopIteration):
            pass
    return written[1:-1]


def key_positions(text: str) -> dict[Path_, tuple[int, int]]:
    """Line and column (1-based) of the first occurrence of every key path in
    ``text``. Callers must not modify the result."""
    return scanned(text).found


def entries(text: str) -> list[Entry]:
    """Every key/value and table header of ``text``, in the order written.
    Callers must not modify the result."""
    return scanned(text).entries


def written_values(text: str, data: Mapping[str, Any]) -> dict[int, tuple[object, str]]:
    """What ``text`` wrote for each number and date of its key/values, by the
    identity of the value tomllib read (``data``): ``id -> (value, its text)``."""
    written: dict[int, tuple[object, str]] = {}
    for entry in entries(text):
        if entry.value < 0:
            continue
        value: Any = data
        for part in entry.at:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                break
        else:
            if isinstance(value, float | datetime.date | datetime.time):
                written[id(value)] = (value, text[entry.value:entry.end].strip())
    return written


def values_as_written(text: str, table: tuple[str, ...]) -> dict[str, str]:
    """The text ``text`` writes for each key/value of ``table`` (``("vars",)``),
    comments and blanks around it left out."""
    return {entry.path[-1]: text[entry.value:entry.end].strip() for entry in entries(text)
            if entry.value >= 0 and entry.path[:-1] == table}


def sub_path(value: Any, sub_key: str) -> tuple[str | int, ...]:
    """Where a validator's ``sub_key`` is in ``value``, as parts of a location path:
    a dotted path whose numbers index arrays (``"1.on"``: ``notify[1].on``),
    followed as far as ``value`` has it (the rest is located at what holds it)."""
    path: list[str | int] = []
    for part in sub_key.split(".") if sub_key else ():
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            path.append(int(part))
            value = value[int(part)]
        elif isinstance(value, Mapping) and part in value:
            path.append(part)
            value = value[part]
        else:
            break
    return tuple(path)


def locate(path: str, text: str, keys: Sequence[str | int]) -> Location:
    """The location of ``keys`` (or of its longest prefix that exists) in the file."""
    found = key_positions(text)
    wanted = tuple(keys)
    while wanted and wanted not in found:
        wanted = wanted[:-1]
    if not wanted:
        return Location(path)
    line, column = found[wanted]
    return Location(path, line, column, source_line(text, line))


@functools.lru_cache(maxsize=64)
def source_line(text: str, line: int) -> str | None:
    """The text of a 1-based line (TOML lines end at ``\\n``), if it exists and
    holds no secret-looking key, safe to print: a tab becomes a space and any
    other character a terminal would act on becomes U+FFFD, one for one, so the
    caret under it still lines up; and every URL's credentials, path and query
    masked in place: a webhook URL is a secret wherever the line holds one (a
    misspelt ``notfy``, a ``[vars]`` entry a template takes it from, another key
    of an inline table, around a template), which no rule of its key can list.
    Cached: a line with a thousand problems is made safe once, not once per
    problem."""
    from mogrun.masking import urls_masked_in_place
    from mogrun.textsafety import LINE_UNSAFE

    raw = source_text(text).line(line)
    if raw is None or line in secret_lines(text):
        return None
    spaced = raw.replace("\t", " ")
    if spaced.isprintable() and not LINE_UNSAFE.intersection(spaced):  # nothing to
        return urls_masked_in_place(spaced)  # replace: a 2 MB prompt's line took 6 s
    return urls_masked_in_place("".join(_shown(char) for char in raw))


@functools.lru_cache(maxsize=4)
def secret_lines(text: str) -> frozenset[int]:
    """Lines no error may quote: those of a key/value whose key looks secret
    (from its key to the end of its value), of a table header that does, and
    any line that starts like one even where the scanner found no key/value
    (``token "abc"``, an unclosed string)."""
    from mogrun.taskfile.secretkeys import is_secret_key

    point = source_text(text).point
    lines: set[int] = set()
    for entry in entries(text):
        # A job name is a name: [jobs.rotate-token] holds no credential.
        names = entry.path[2:] if entry.path[:1] == ("jobs",) else entry.path
        if any(is_secret_key(name) for name in names):
            first, last = point(entry.start)[0], point(max(entry.start, entry.end - 1))[0]
            lines.update(range(first, last + 1))
    for number, raw in enumerate(text.split("\n"), start=1):
        leading = raw.split("=", 1)[0]
        if not raw.lstrip().startswith("[") and any(
                is_secret_key(word.strip("\"'")) for word in _KEY_WORD.findall(leading)):
            lines.add(number)
        elif "=" in raw and any(is_secret_key(word.strip("\"'"))
                                for word in _ASSIGNED.findall(raw)):
            lines.add(number)  # a second key on the line: 'prompt = "x", token = "..."'
    return frozenset(lines)


def _shown(char: str) -> str:
    from mogrun.textsafety import escape_agent_text

    if char == "\t":
        return " "
    return char if escape_agent_text(char) == char else "\ufffd"


def quote_key(name: str) -> str:
    """``name`` as a TOML key: bare when possible, else quoted."""
    return name if name and re.fullmatch(r"[A-Za-z0-9_-]+", name) else '"' + name + '"'
