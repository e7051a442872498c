"""Aligned plain-text tables for every command (``list``, ``status``,
``history``, ``repos``, the run summary).

A leaf with no imports beyond the standard library, so ``mogrun list`` can use
it without paying for the reporters or rich.
"""

from __future__ import annotations

import unicodedata


def cell_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide East Asian characters count twice.
    ASCII (nearly every cell) is one column a character: no per-character look-up."""
    if text.isascii():
        return len(text)
    return sum(
        0
        if unicodedata.combining(ch)
        else 2
        if unicodedata.east_asian_width(ch) in ("W", "F")
        else 1
        for ch in text
    )


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    """``headers`` and ``rows`` as left-aligned columns two spaces apart, with a
    dashed rule under the headers; no trailing spaces, no final newline."""
    columns = max([len(headers), *(len(row) for row in rows)])
    table = [_padded(headers, columns), *(_padded(row, columns) for row in rows)]
    widths = [max(cell_width(row[i]) for row in table) for i in range(columns)]
    rule = ["-" * width for width in widths]
    lines = [_join(cells, widths) for cells in (table[0], rule, *table[1:])]
    return "\n".join(lines)


def _padded(row: list[str], columns: int) -> list[str]:
    return [str(cell) for cell in row] + [""] * (columns - len(row))


def _join(cells: list[str], widths: list[int]) -> str:
    parts = [
        cell + " " * (width - cell_width(cell)) for cell, width in zip(cells, widths, strict=True)
    ]
    return "  ".join(parts).rstrip()
