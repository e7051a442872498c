"""A TOML syntax error as a person reads it: always located (the end of the
document too), a key or table written twice named and pointed at, and keys
spelt as TOML, not as the Python tuples tomllib prints.

tomllib says why and where it stopped; where that is not the place to look
(after the value of a repeated key) the key scanner of ``positions`` finds
the key. Anything not recognised keeps tomllib's words and position.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from mogrun.errors import Location, TaskFileError
from mogrun.taskfile.positions import Entry, entries, quote_key, source_line, source_text
from mogrun.tomltext import toml_repr

_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)")
_TUPLE = re.compile(r"\((?:\s*(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\s*,?)+\)")
_DECLARED_TWICE = re.compile(r"Cannot declare (.+) twice")
_OVERWRITE = ("Cannot overwrite a value", "Duplicate inline table key")
# A dotted key that adds to a table of its own header, or to an inline table.
_REOPENED = re.compile(r"Cannot (redefine|mutate immutable) namespace (.+)")
# A backslash that starts no escape (a Windows path, a regex in a prompt): tomllib
# points past it.
_BAD_ESCAPE = ("Unescaped '\\' in a string", "Invalid hex value")
_ESCAPE_ADVICE = ('A backslash in a "..." string starts an escape (\\n, \\t, \\u00e9): write '
                  "\\\\ for one backslash, or use single quotes ('...', or \'\'\'...\'\'\' "
                  "over several lines), which keep backslashes as written.")


def syntax_error(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> TaskFileError:
    """``exc`` as a located ``TaskFileError`` ("invalid TOML: ...")."""
    match = _AT.search(str(exc))
    reason = _AT.sub("", str(exc)).strip()
    if match is None:
        return TaskFileError(f"invalid TOML: {dotted_keys(reason)}", location=Location(str(path)))
    index = _index(text, match)
    reason, index = _named(text, reason, index)
    reason = _line_break_as_written(text, reason, index)
    line, column = source_text(text).point(index)
    src = source_line(text, line)
    if src is not None:
        column = min(column, len(src) + 1)  # (its URLs masked: ``source_line``)
    conflict = _CONFLICT.search(text)
    return TaskFileError(f"invalid TOML: {reason}",
                         location=Location(str(path), line, column, src),
                         context=[*(_CR_ONLY if _cr_only(text) else
                                    _invisible(_raw_line(text, line))),
                                  *([_ESCAPE_ADVICE] if reason in _BAD_ESCAPE else []),
                                  *(_conflict_hint(text, conflict) if conflict else
                                    _pasted(text, reason, index))])


# git's conflict markers, left by a merge or a rebase: the first opening one.
_CONFLICT = re.compile(r"^<<<<<<<(?:[ \t]|\r?$)", re.MULTILINE)


def _conflict_hint(text: str, marker: re.Match[str]) -> list[str]:
    line = source_text(text).point(marker.start())[0]
    return [f"Line {line} starts a merge conflict git left in the file (<<<<<<<): keep the "
            "side you want and delete the <<<<<<<, ======= and >>>>>>> lines."]


def _line_break_as_written(text: str, reason: str, index: int) -> str:
    """tomllib's ``'\\n'`` as the file writes its line break: in a CRLF file tomllib
    points at the ``\\r`` of ``'\\r\\n'``, where the caret then stands."""
    if reason.endswith("character '\\n'") and text.startswith("\r\n", index):
        return reason.removesuffix("'\\n'") + "'\\r\\n'"
    return reason


# Every line break a carriage return alone (classic Mac OS): the file reads as one line.
_CR_ONLY = ["The file's lines end with a carriage return alone (classic Mac OS line "
            "endings), so TOML reads it as one line: save it with LF (or CRLF) line endings."]


def _cr_only(text: str) -> bool:
    """Lines, two at least, each ended by a CR alone (one stray CR is said where it is)."""
    return text.rstrip("\r").count("\r") >= 2 and "\n" not in text


def _raw_line(text: str, line: int) -> str:
    """Line ``line`` as written: a CR is dropped only before its LF (CRLF)."""
    start = source_text(text).starts[line - 1]
    end = text.find("\n", start)
    return text[start:] if end < 0 else text[start:end].removesuffix("\r")


def _invisible(line: str) -> list[str]:
    """What on the error's line looks like nothing but is not TOML: a no-break
    space pasted from a web page or a chat (shown as U+FFFD), a zero-width
    character, a carriage return with no line feed after it, any other control
    character (an ESC a terminal paste left, DOS's end-of-file Ctrl-Z)."""
    import unicodedata

    seen: dict[str, int] = {}
    for column, char in enumerate(line, 1):
        kind = unicodedata.category(char)
        odd = (char != " " and kind in ("Zs", "Cf", "Zl", "Zp")) or (kind == "Cc"
                                                                    and char != "\t")
        if odd:
            seen.setdefault(char, column)
    return [f"Column {column} holds a carriage return with no line feed after it: end the "
            "line with a plain line break." if char == "\r" else
            f"Column {column} holds U+{ord(char):04X}, a control character, which an editor "
            "shows as nothing, a space or a box: delete it (or retype it as a plain space)."
            if unicodedata.category(char) == "Cc" else
            f"Column {column} holds U+{ord(char):04X} {unicodedata.name(char, 'unnamed')}, "
            "which looks like a space or nothing: retype it as a plain space (or delete it)."
            for char, column in seen.items()]


# Quotes a word processor or a chat puts in for " and ': TOML knows only straight ones.
_TYPOGRAPHIC = "\u201c\u201d\u2018\u2019\u201e\u201a\u00ab\u00bb\u2039\u203a"
# A job table's header up to its name's first letter TOML does not allow bare.
_JOB_HEADER = re.compile(r"[ \t]*\[[ \t]*jobs[ \t]*\.[ \t]*[A-Za-z0-9_-]*")
_KEY_STOPS = ("Invalid statement", "Expected '=' after a key",
              "Invalid initial character for a key part", "Expected ']")


def _pasted(text: str, reason: str, index: int) -> list[str]:
    """What a paste or a word processor left where tomllib stopped: typographic
    quotes, a bare key with letters TOML does not allow bare, an array never
    closed (tomllib says so only at the line after it, or the file's end)."""
    char = text[index] if index < len(text) else ""
    if char and char in _TYPOGRAPHIC:
        return ["The value uses typographic quotes (\u201c \u201d \u2018 \u2019), as word "
                "processors and chats write them: use straight ones (\" or ')."]
    if reason.startswith(_KEY_STOPS) and not char.isascii() and char.isprintable() \
            and not char.isspace():
        if _JOB_HEADER.fullmatch(text, text.rfind("\n", 0, index) + 1, index):
            # Quoted, it is still no job name: the hint led to a second error.
            from mogrun.taskfile.jobnames import JOB_NAME_RULE

            return [f"{quote_key(_key_part(text, index))} cannot name a job, quoted or not: "
                    f"job names {JOB_NAME_RULE}."]
        return ["A bare key is made of A-Za-z0-9_- only: quote a key with other letters "
                f"(write {quote_key(_key_part(text, index))})."]
    brackets, string = _open_at(text, index)
    arrays = [at for at in brackets if text[at] == "["]
    if string is not None and not text.startswith(('"""', "'''"), string):
        column, quote = source_text(text).point(string)[1], text[string]
        return [f"The string opened at column {column} is not closed: end it with {quote} "
                f"on its line (or write {quote * 3} around a string of several lines)."]
    if string is not None and not text[index:].strip():
        line, quotes = source_text(text).point(string)[0], text[string:string + 3]
        return [f"The multi-line string opened on line {line} is not closed: end it with "
                f"{quotes}."]
    if brackets and text[brackets[-1]] == "{" and reason in _INLINE_STOPS:
        return _inline_table_hint(text, index, brackets[-1])
    if arrays and (reason == "Unclosed array" or not text[index:].strip()
                   or (reason == "Invalid value" and _an_entry_begins(text, index))):
        line = source_text(text).point(arrays[0])[0]
        return [f"The array opened on line {line} is not closed: end it with ]."]
    return _unquoted(text, reason, index)


# A value written as a shell or YAML writes it: a word, a path, 30m, True.
_BARE_VALUE = re.compile(r"[A-Za-z0-9_][^\s,\]}#\"'=]*(?:[ \t]+[^\s,\]}#\"'=]+)*")
_AFTER_STATEMENT = "Expected newline or end of document after a statement"


def _unquoted(text: str, reason: str, index: int) -> list[str]:
    """A string written without its quotes (``harness = codex``, ``repo =
    acme/api``, ``prompt = Fix it``, ``timeout = 30m``: tomllib stops at its first
    letter or just past its digits) or a boolean in Python's spelling (``True``).
    Said only as the quoted line shows it: never for a line no error may quote (a
    secret's)."""
    start = index
    if reason == _AFTER_STATEMENT:  # `30m`: the number read, then the letters refused
        line_start = text.rfind("\n", 0, index) + 1
        equals = text.rfind("=", line_start, index)
        if equals < 0:
            return []
        start = len(text) - len(text[equals + 1:].lstrip(" \t"))
    elif reason != "Invalid value":
        return []
    found = _BARE_VALUE.match(text, start)
    if found is None or found.end() <= index:
        return []
    word = found.group()
    line, column = source_text(text).point(start)
    shown = source_line(text, line)
    if shown is None or shown[column - 1:column - 1 + len(word)] != word:
        return []  # a secret's line, or a URL the quoted line masks
    if word in ("True", "False", "TRUE", "FALSE"):
        return [f"TOML writes a boolean in lower case: {word.lower()}."]
    return [f"A string is written in quotes: write {toml_repr(word)}."]


# What tomllib says where an inline table goes on past its line (a line break or a
# comment inside it, as TOML 1.1 and other formats allow) or ends with a comma.
_INLINE_STOPS = ("Invalid initial character for a key part", "Unclosed inline table")


def _inline_table_hint(text: str, index: int, brace: int) -> list[str]:
    """Why the inline table opened at ``brace`` stops tomllib at ``index``: a comma
    after its last entry, or a line break or comment inside it (TOML 1.0 keeps an
    inline table on one line). Nothing when it is neither."""
    column = source_text(text).point(brace)[1]
    if text.startswith("}", index):
        return [f"The inline table opened at column {column} has a comma after its last "
                "entry: TOML allows none before its }; remove it."]
    end = text.find("\n", index)
    rest = text[index:] if end < 0 else text[index:end]
    if rest.strip(" \t\r") and not rest.lstrip(" \t").startswith("#"):
        return []
    entry = next((e for e in entries(text) if e.value == brace and e.kind != "table"), None)
    table = ("" if entry is None or any(isinstance(part, int) for part in entry.at)
             else f" ([{_toml_key(entry.path)}])")
    return [f"The inline table opened at column {column} goes on past its line: TOML keeps "
            "{ ... } on one line, with no line break or comment inside it. Write it on one "
            f"line, or as a table of its own{table}."]


# The start of a line that begins a key's entry or a table header, not an array's item.
_ENTRY_START = re.compile(r"[ \t]*(?:\[|(?:[A-Za-z0-9_-]+|\"[^\"\n]*\"|'[^'\n]*')"
                          r"(?:[ \t]*\.[ \t]*(?:[A-Za-z0-9_-]+|\"[^\"\n]*\"|'[^'\n]*'))*"
                          r"[ \t]*=)")


def _an_entry_begins(text: str, index: int) -> bool:
    """Whether tomllib's "Invalid value" at ``index`` is the next key's line (or a
    table's) where an array's next item was wanted: the array was never closed,
    its last item written with a comma after it (the usual style of a list of
    one item per line), which tomllib says only as an invalid value there."""
    start = text.rfind("\n", 0, index) + 1
    return (text[start:index].strip() in ("", "[", "[[")  # a header's name, past its [
            and _ENTRY_START.match(text, start) is not None)


def _key_part(text: str, index: int) -> str:
    """The part of a key around ``index``, as written (up to a blank, ``.``, ``=``...)."""
    stops = " \t\r\n=.[]\"'#"
    start = index
    while start > 0 and text[start - 1] not in stops:
        start -= 1
    end = index
    while end < len(text) and text[end] not in stops:
        end += 1
    return text[start:end]


def _open_at(text: str, index: int) -> tuple[list[int], int | None]:
    """Where each ``[`` or ``{`` still open at ``index`` is (outside strings and comments;
    a table header opens and closes on its line), and where a string still open
    there starts (``None`` if none is): tomllib names neither. A one-line string
    counts only when ``index`` is its line's end (or the file's): what is wrong
    is then that it is not closed."""
    opened: list[int] = []
    at = 0
    while at < index:
        char = text[at]
        if char == "#":
            at = _after(text, "\n", at)
        elif text.startswith(('"""', "'''"), at):
            start, at = at, _after(text, text[at:at + 3], at + 3, escapes=char == '"')
            if at >= len(text) and not text.endswith(text[start:start + 3], start + 3):
                return opened, start
        elif char in "\"'":
            start, at = at, _after(text, char, at + 1, escapes=char == '"', line=True)
            if at >= index and text[index:index + 1] in ("", "\r", "\n") \
                    and not (at - 1 > start and text[at - 1] == char):
                return opened, start
        elif char == "[" and not opened and not text[text.rfind("\n", 0, at) + 1:at].strip():
            at = _after(text, "\n", at)  # a table header (`[jobs.b` cut short is not an array)
        else:
            if char in "[{":
                opened.append(at)
            elif opened and text[opened[-1]] + char in ("[]", "{}"):
                opened.pop()
            at += 1
    return opened, None


def _after(text: str, end: str, at: int, *, escapes: bool = False, line: bool = False) -> int:
    """The index after ``end`` from ``at`` (a backslash escapes in ``"`` strings; a
    one-line string ends at its line's end too), or the end of ``text``."""
    while at < len(text):
        if escapes and text[at] == "\\":
            at += 2
        elif text.startswith(end, at) or (line and text[at] == "\n"):
            return at + len(end)
        else:
            at += 1
    return len(text)


def _index(text: str, match: re.Match[str]) -> int:
    """Where tomllib stopped: its line and column, or after the last character
    that is not a line break or blank (a file often ends with them)."""
    if match.group(1) is None:
        return len(text.rstrip(" \t\r\n"))
    line, column = int(match.group(1)), int(match.group(2))
    starts = source_text(text).starts
    return starts[min(line, len(starts)) - 1] + column - 1


def _named(text: str, reason: str, index: int) -> tuple[str, int]:
    """A better reason and place for a key or table written twice."""
    twice = _DECLARED_TWICE.fullmatch(reason)
    if twice:
        entry = _entry_at(text, index, "table")
        if entry is not None:
            return _declared_twice_reason(text, entry), entry.start
    elif reopened := _REOPENED.fullmatch(reason):
        entry = _entry_at(text, index, "key", "inline")
        said = None if entry is None else _reopened_reason(text, entry, *reopened.groups())
        if entry is not None and said is not None:
            return said, entry.start
        header = _entry_at(text, index, "table")
        said = None if header is None else _header_into_value(text, header)
        if header is not None and said is not None:
            return said, header.start
    elif reason == _LITERAL_UNCLOSED and (end := _unclosed_literal(text)) is not None \
            and end < len(text):
        # tomllib looked for the closing ' through the rest of the file: the string
        # ends at its line's end, as tomllib says when a ' comes later in the file.
        return "Found invalid character '\\n'", end
    elif reason in _BAD_ESCAPE:
        # tomllib stops past the backslash and its escape's letter (a line break too,
        # CRLF's two characters: a backslash ending a line of a one-line string).
        slash = text.rfind("\\", 0, index)
        if slash >= 0 and 0 < index - slash <= 3:
            return reason, slash
    elif reason.startswith(_OVERWRITE):
        entry = _entry_at(text, index, "key", "inline")
        if entry is not None:
            return _overwrite_reason(text, entry), entry.start
        entry = _entry_at(text, index, "table")
        if entry is not None:
            return (f"table {_header(text, entry)} cannot be declared: a key on its path "
                    "already holds a value", entry.start)
    return dotted_keys(reason), index


_LITERAL_UNCLOSED = 'Expected "\'"'  # tomllib's words, at the file's end


def _unclosed_literal(text: str) -> int | None:
    """The line break ending the first one-line literal string ('...') not closed on
    its line (at its CR in a CRLF file), or ``None``: comments and the other strings
    are stepped over as ``_open_at`` steps over them."""
    at = 0
    while at < len(text):
        char = text[at]
        if char == "#":
            at = _after(text, "\n", at)
        elif text.startswith(('"""', "'''"), at):
            at = _after(text, text[at:at + 3], at + 3, escapes=char == '"')
        elif char in "\"'":
            start, at = at, _after(text, char, at + 1, escapes=char == '"', line=True)
            if char == "'" and not (at - 1 > start and text[at - 1] == char):
                end = text.find("\n", start)
                end = len(text) if end < 0 else end
                return end - 1 if text.startswith("\r", end - 1) else end
        else:
            at += 1
    return None


def _declared_twice_reason(text: str, header: Entry) -> str:
    """A header tomllib says declares its table twice. It may be the first of its
    name: what came before is then a key that already holds the table (an inline
    table or an array) or made it (a dotted key), and that is what to name."""
    if any(e.kind == "table" and e.path == header.path and e.start < header.start
           for e in entries(text)):
        return f"table {_header(text, header)} is declared twice"
    said = _header_into_value(text, header) or _header_after_dotted_key(text, header)
    return said or f"table {_header(text, header)} is declared twice"


def _header_into_value(text: str, header: Entry) -> str | None:
    """A ``[header]`` or ``[[header]]`` at or under a key written before it as a
    whole value: an inline table or an array is complete as written, and TOML
    lets no header add to it. ``None`` when no such key is found."""
    whole = _whole_value_before(text, header)
    if whole is None:
        return None
    key = _toml_key(whole.path[len(whole.table):])
    line = source_text(text).point(whole.value)[0]
    shown = _header(text, header)
    if text.startswith("{", whole.value):
        return (f"{key} was written inline on line {line}; {shown} cannot add to it: "
                "an inline table is complete as written")
    return f"{key} is already set on line {line} as an array; {shown} cannot add to it"


def _whole_value_before(text: str, header: Entry) -> Entry | None:
    """The latest key/value before ``header`` (not inside an inline table) whose
    path ``header`` starts with and whose value is an inline table or an array."""
    found = None
    for entry in entries(text):
        if entry.start >= header.start:
            break
        if (entry.kind == "key" and header.path[:len(entry.path)] == entry.path
                and text.startswith(("{", "["), entry.value)):
            found = entry
    return found


def _header_after_dotted_key(text: str, header: Entry) -> str | None:
    """A ``[header]`` naming a table a dotted key already made (``hello.repo = ...``
    in ``[jobs]``, then ``[jobs.hello]``): TOML lets no header declare it again."""
    dotted = next((e for e in entries(text) if e.kind == "key" and e.start < header.start
                   and len(e.table) < len(header.path) < len(e.path)
                   and e.path[:len(header.path)] == header.path), None)
    if dotted is None:
        return None
    written = _toml_key(dotted.path[len(dotted.table):])
    line = source_text(text).point(dotted.start)[0]
    shown = _header(text, header)
    return (f'table {shown} is already defined by the dotted key "{written}" on line {line}; '
            f'write "{_toml_key(dotted.path[len(header.path):])}" under {shown} instead')


def _reopened_reason(text: str, entry: Entry, how: str, namespace: str) -> str | None:
    """A dotted key that reaches into a table already written whole: under its own
    header ("redefine"), or as an inline table or other value ("mutate immutable").
    ``None`` when ``entry`` is not the key tomllib means."""
    try:
        table = ast.literal_eval(namespace)
    except (ValueError, SyntaxError):
        return None
    table = table if isinstance(table, tuple) else (table,)
    if entry.kind == "inline":  # tomllib names it from the inline table's own root
        table = (*entry.table, *table)
        return _overwrite_reason(text, entry) if entry.path == table else None
    if entry.kind != "key" or entry.path[:len(table)] != table or len(entry.path) <= len(table):
        return None
    key, where = _key_and_where(entry)
    if how == "redefine":
        return f"{key} {where} {_adds_to_header(text, entry, table)}"
    return f"{key} {where} {_adds_to_value(text, entry, table)}"


def _adds_to_header(text: str, entry: Entry, table: tuple[str, ...]) -> str:
    header = next((e for e in entries(text) if e.kind == "table" and e.path == table), None)
    shown = _header(text, header) if header else f"[{_toml_key(table)}]"
    return (f"adds to table {shown}, which has a header of its own: write "
            f'"{_toml_key(entry.path[len(table):])}" under that header')


def _adds_to_value(text: str, entry: Entry, table: tuple[str, ...]) -> str:
    whole = next((e for e in entries(text) if e.kind == "key" and e.start < entry.start
                  and e.path == table[:len(e.path)]), None)
    if whole is None or not text.startswith("}", whole.end - 1):
        return f"adds to {_toml_key(table)}, which already holds a value"
    return (f"adds to the inline table {_toml_key(whole.path)}: write "
            f'"{_toml_key(entry.path[len(whole.path):])}" inside its {{ }}')


def _key_and_where(entry: Entry) -> tuple[str, str]:
    """``key "a.b"`` and where it is written (``in [jobs]``), for messages."""
    key = f'key "{_toml_key(entry.path[len(entry.table):])}"'
    where = ("at the top level" if not entry.table else
             f"in the inline table {_toml_key(entry.table)}" if entry.kind == "inline" else
             f"in [{_toml_key(entry.table)}]")
    return key, where


def _overwrite_reason(text: str, entry: Entry) -> str:
    key, where = _key_and_where(entry)
    if any(e.path == entry.path and e.start < entry.start for e in entries(text)):
        return f"{key} is defined twice {where}"
    return f"{key} {where} cannot be set: a key on its path already holds a value"


def _header(text: str, entry: Entry) -> str:
    """A table header as written: ``[name]`` or ``[[name]]``."""
    double = text.startswith("[[", entry.start)
    return f"{'[[' if double else '['}{_toml_key(entry.path)}{']]' if double else ']'}"


def _entry_at(text: str, index: int, *kinds: str) -> Entry | None:
    """The innermost entry of ``kinds`` whose text spans ``index``."""
    spanning = [e for e in entries(text) if e.kind in kinds and e.start <= index <= e.end]
    return max(spanning, key=lambda e: e.start, default=None)


def dotted_keys(reason: str) -> str:
    """tomllib's Python tuples of key parts (``('jobs', 'a')``) as TOML keys."""
    def dotted(match: re.Match[str]) -> str:
        try:
            parts = ast.literal_eval(match.group(0))
        except (ValueError, SyntaxError):
            return match.group(0)
        parts = parts if isinstance(parts, tuple) else (parts,)
        return _toml_key(tuple(str(p) for p in parts))

    return _TUPLE.sub(dotted, reason)


def _toml_key(parts: tuple[str, ...]) -> str:
    return ".".join(quote_key(part) for part in parts)
