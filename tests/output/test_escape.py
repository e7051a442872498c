"""Agent text is shown escaped on one line; the event line has a fixed shape."""

from __future__ import annotations

import pytest

from mogrun.durations import event_clock
from mogrun.output.base import escape_agent_text, format_event_line

from .values import SECRET, make_event


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text, ünïcode ✓", "plain text, ünïcode ✓"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("line one\nline two\r\n", "line one\\nline two\\r\\n"),
        ("tab\there", "tab\\there"),
        ("bell\x07 nul\x00 del\x7f", "bell\\x07 nul\\x00 del\\x7f"),
        ("c1 csi \x9b2J", "c1 csi \\x9b2J"),
        ("osc \x1b]0;title\x07", "osc \\x1b]0;title\\x07"),
        ("bidi \u202egnp.exe", "bidi \\u202egnp.exe"),
        ("sep\u2028x", "sep\\u2028x"),
        # Persian's non-joiner and an emoji sequence's joiner only join or part letters
        ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \U0001f468\u200d\U0001f469",
         "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \U0001f468\u200d\U0001f469"),
        ("zero width space\u200b soft\u00adhyphen", "zero width space\\u200b soft\\xadhyphen"),
    ],
)
def test_escape_agent_text(raw, shown):
    assert escape_agent_text(raw) == shown


def test_escaped_text_holds_no_control_character():
    raw = "".join(chr(c) for c in range(0x00, 0xA0)) + "\u2028\u202e"
    escaped = escape_agent_text(raw)
    assert all(ch.isprintable() for ch in escaped)
    assert "\x1b" not in escaped and "\n" not in escaped


def test_event_line_shape():
    event = make_event("ran the tests", type="tool_finished", tool="bash")
    assert (
        format_event_line("build", event) == "05:06:07  build  tool_finished  bash  ran the tests"
    )


def test_event_line_without_tool_or_message_uses_dash():
    event = make_event(None, type="started")
    assert format_event_line("build:acme/api", event) == "05:06:07  build:acme/api  started  -"


def test_event_line_escapes_every_field_and_masks_secrets():
    event = make_event(f"token {SECRET}\n\x1b[2Jgone", type="log\x1b[1m", tool="sh\nell")
    line = format_event_line("build", event, [SECRET])
    assert line == "05:06:07  build  log\\x1b[1m  sh\\nell  token ***\\n\\x1b[2Jgone"


def test_secret_split_by_a_control_character_is_still_masked():
    event = make_event("abc\ndef-secret")
    assert "***" in format_event_line("j", event, ["abc\ndef-secret"])


@pytest.mark.parametrize(
    ("stamp", "clock"),
    [
        ("2026-03-04T05:06:07Z", "05:06:07"),
        ("2026-03-04T05:06:07.123456+00:00", "05:06:07"),
        ("2026-03-04T07:06:07+02:00", "05:06:07"),
        ("not a time", "--:--:--"),
        ("", "--:--:--"),
    ],
)
def test_event_clock(stamp, clock):
    assert event_clock(stamp) == clock
