"""Aligned plain-text tables for every command (``list``, ``status``,
``history``, ``repos``, the run summary).

A leaf with no imports beyond the standard library, so ``mogrun list`` can use
it without paying for the reporters or rich.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from typing import Any


def cell_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide East Asian characters count twice, marks
    that sit on the letter before them (Thai vowels, enclosing marks), format
    characters and an emoji's skin tone none. ASCII (nearly every cell) is one
    column a character: no per-character look-up."""
    if text.isascii():
        return len(text)
    return sum(_char_width(ch) for ch in text)


def _char_width(ch: str) -> int:
    if unicodedata.category(ch) in _ZERO_WIDTH or "\U0001f3fb" <= ch <= "\U0001f3ff":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


_ZERO_WIDTH = frozenset(("Mn", "Me", "Cf"))  # non-spacing and enclosing marks, format


MIN_COLUMNS = 20  # narrower than this, nothing mogrun draws is readable
FALLBACK_COLUMNS = 80


def columns_from(env: Mapping[str, str], stream: Any = None) -> int | None:
    """The width to draw for: ``COLUMNS`` when it is a usable number; when it is
    set but not (``0``, ``abc``, ``5``), the terminal's own width, else 80; unset,
    ``None`` (the drawing library asks the terminal). rich took ``COLUMNS=0`` at
    its word and drew nothing at all."""
    raw = str(env.get("COLUMNS", "")).strip()
    if raw.isdecimal() and int(raw) > MIN_COLUMNS:
        return int(raw)
    if not raw:
        return None
    size = terminal_columns(stream) or 0
    return size if size > MIN_COLUMNS else FALLBACK_COLUMNS


def screen_columns(env: Mapping[str, str], stream: Any) -> int | None:
    """The width ``stream``'s screen gives: ``columns_from``'s, else the terminal's
    own; ``None`` when neither is known (a pipe, a terminal that says 0 columns)."""
    return columns_from(env, stream) or terminal_columns(stream)


def table_columns(env: Mapping[str, str], stream: Any) -> int | None:
    """The width a table must fit on a terminal (``screen_columns``); ``None`` in a
    pipe, whatever ``COLUMNS`` says: a script reading the table gets the table."""
    return screen_columns(env, stream) if is_terminal(stream) else None


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is an interactive terminal; odd streams count as not."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def terminal_columns(stream: Any) -> int | None:
    """``stream``'s terminal's width, ``None`` for no terminal or one that says 0."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, OSError, ValueError):
        return None


def listed(names: Sequence[str], shown: int = 10) -> str:
    """``a, b, c and 997 more``: a fan-out's runs or repos in one line or one cell."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    """``headers`` and ``rows`` as left-aligned columns two spaces apart, with a
    dashed rule under the headers; no trailing spaces, no final newline."""
    return "\n".join(table_lines(headers, rows))


def fitted_lines(headers: list[str], rows: list[list[str]], columns: int | None
                 ) -> Iterator[str]:
    """``table_lines`` when they fit ``columns`` (``None``: no width is known, a pipe,
    where each line is made as it is taken); else one block per row, each ``header:
    value`` whole on its line: a terminal wraps a wider table, and cut a run id across
    two lines (``history`` at 80 columns), half of which looks like an id of its own."""
    lines = table_lines(headers, rows)
    if columns is None:
        return lines
    made = list(lines)
    if max(map(cell_width, made), default=0) <= columns:
        return iter(made)
    return _blocks(headers, rows, columns)


def _blocks(headers: list[str], rows: Sequence[list[str]], columns: int) -> Iterator[str]:
    """Each row as its ``header: value`` pairs, as many to a line as fit, a blank
    line between rows."""
    for number, row in enumerate(rows):
        if number:
            yield ""
        line = ""
        for header, cell in zip(headers, _padded(row, len(headers)), strict=False):
            pair = f"{header}: {cell}"
            if line and cell_width(line) + 2 + cell_width(pair) > columns:
                yield line
                line = pair
            else:
                line = f"{line}  {pair}" if line else pair
        if line:
            yield line


def table_lines(headers: list[str], rows: Sequence[list[str]]) -> Iterator[str]:
    """``render_table``'s lines, each made as it is taken: a fan-out's summary has
    thousands, and made whole (then joined, then split) it was copies of itself."""
    narrow = _NARROW[0] if _NARROW else None
    if narrow is not None:  # measured as printed: é is written as \\xe9, four columns
        headers = _as_printed(headers, narrow)
        rows = [_as_printed(row, narrow) for row in rows]
    columns = max([len(headers), *(len(row) for row in rows)])
    widths = [0] * columns
    for row in (headers, *rows):
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], cell_width(str(cell)))
    yield _join(_padded(headers, columns), widths)
    yield _join(["-" * width for width in widths], widths)
    for row in rows:
        yield _join(_padded(row, columns), widths)


_NARROW: list[str] = []  # stdout's encoding, once the CLI made it escape (``escaping``)


def escaping(encoding: str) -> None:
    """stdout cannot carry every character (``PYTHONIOENCODING=ascii``, a latin-1
    locale) and writes the others as escapes (the CLI sets ``backslashreplace``),
    wider than the characters: tables measure their cells as printed."""
    _NARROW[:] = [encoding]


def _as_printed(row: Sequence[Any], encoding: str) -> list[str]:
    """``row``'s cells as a stream in ``encoding`` prints them (its escapes written)."""
    return [as_printed(str(cell), encoding) for cell in row]


def as_printed(text: str, encoding: str) -> str:
    """``text`` as a stream in ``encoding`` writes it: what it cannot encode as the
    escapes the CLI's ``backslashreplace`` writes (``caf\\xe9``), wider than it."""
    return text.encode(encoding, "backslashreplace").decode(encoding)


def _padded(row: list[str], columns: int) -> list[str]:
    return [str(cell) for cell in row] + [""] * (columns - len(row))


def _join(cells: list[str], widths: list[int]) -> str:
    parts = [
        cell + " " * (width - cell_width(cell)) for cell, width in zip(cells, widths, strict=True)
    ]
    return "  ".join(parts).rstrip()
