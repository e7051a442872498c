"""Plain aligned tables and the summary's cells."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mogrun.durations import format_duration
from mogrun.output.tables import gates_cell, reason_lines, summary_lines
from mogrun.runs import GateVerdict
from mogrun.tables import render_table

from .values import SECRET, make_result


def test_render_table_aligns_columns_without_trailing_spaces():
    table = render_table(["a", "long header", "c"], [["xyz", "1", ""], ["q"]])
    assert table.splitlines() == [
        "a    long header  c",
        "---  -----------  -",
        "xyz  1",
        "q",
    ]


def test_wide_characters_count_twice():
    table = render_table(["name", "x"], [["日本", "1"], ["ab", "2"]])
    assert table.splitlines()[2:] == ["日本  1", "ab    2"]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "-"),
        (-1, "-"),
        (0.04, "40ms"),
        (1e-9, "1ms"),  # was "<1ms", which parse_duration cannot read
        (0.9995, "1.0s"),  # was "1000ms"
        (2, "2s"),
        (9.94, "9.9s"),
        (9.96, "10s"),  # was "10.0s": a cancel's 9.999 s timeout read so, where 10s is said
        (9.99996, "10s"),
        (45.4, "45s"),
        (65, "1m05s"),
        (125, "2m05s"),
        (1500, "25m"),
        (3599.6, "1h"),
        (3725, "1h02m05s"),
        (5400, "1h30m"),
    ],
)
def test_format_duration(seconds, shown):
    assert format_duration(seconds) == shown


def test_gates_cell():
    assert gates_cell(make_result()) == "-"
    assert gates_cell(make_result(gates=(GateVerdict("a", True),))) == "passed"
    failed = (GateVerdict("a", True), GateVerdict("b", False, "why"), GateVerdict("c", False))
    assert gates_cell(make_result(gates=failed)) == "b: why; c"


def test_summary_cells_are_masked_and_escaped():
    result = make_result(
        repo="acme/\x1b[31mx",
        gates=(GateVerdict("g", False, f"{SECRET}\nx"),),
        attached=True,
        run_id=None,
    )
    table = "\n".join(summary_lines([result], [SECRET]))
    assert (
        table.splitlines()[2]
        == "build  acme/\\x1b[31mx  -       success (attached)  -         -       g: ***\\nx"
    )


def test_a_cut_reason_never_shows_part_of_a_secret():
    """Masked first, then cut: a secret across the cut is *** or gone, never a prefix."""
    result = make_result(outcome="failed", run_id="r_1", message="x" * 90 + SECRET + "y" * 500)
    (line,) = reason_lines((result,), [SECRET], limit=100)
    assert SECRET[:4] not in line and line.endswith("more characters cut)"), line
    assert reason_lines((result,), [SECRET]) == [f"build  failed (r_1): {'x' * 90}***{'y' * 500}"]


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_cell_width_takes_the_ascii_short_cut_only_where_it_agrees(text):
    """ASCII text is measured by its length, with no look-up per character: that
    must be what the look-up would have said (non-ASCII text is the look-up's, see
    the cases below)."""
    from mogrun.tables import _char_width, cell_width

    assert cell_width(text) == len(text) == sum(_char_width(ch) for ch in text)


@pytest.mark.parametrize(("text", "columns"), [
    ("\u0e01\u0e34\u0e19\u0e02\u0e49\u0e32\u0e27", 5),  # Thai: vowel and tone marks sit on letters
    ("ok \U0001f44d\U0001f3fd", 5),  # a skin tone takes no column of its own
    ("e\u0301 \u0031\u20e3", 3),  # a combining accent; an enclosing keycap
    ("\u65e5\u672c", 4), ("soft\u00adhyphen", 10),
])
def test_cell_width_counts_what_a_terminal_shows(text, columns):
    """`list` put a Thai description's next column one left, an emoji with a skin
    tone's two: marks with combining class 0 and the modifiers counted a column."""
    from mogrun.tables import cell_width

    assert cell_width(text) == columns


@pytest.mark.parametrize(("calls", "said"), [(1, "usage: 1 AI call, "), (2, "usage: 2 AI calls, ")])
def test_the_usage_line_counts_ai_calls_in_words_that_agree(calls, said) -> None:
    from mogrun.output.tables import usage_line

    usage = {"ai_calls": calls, "input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
             "cost_usd": 0.001}
    line = usage_line([make_result(usage=usage)])
    assert line is not None and line.startswith(said), line
