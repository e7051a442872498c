"""``format_duration`` writes what ``parse_duration`` reads back (the module's
promise): ``0.9995`` s was ``1000ms`` and a sub-millisecond timeout ``<1ms``,
which ``--json show`` printed as the timeout and nothing could read."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mogrun.durations import (
    JSON_PATTERN,
    LONGEST,
    LONGEST_TIMEOUT,
    format_duration,
    parse_duration,
    server_span,
)


def precision(shown: str) -> float:
    """How far a formatted value may be from the one it says: half its last
    unit, and a whole millisecond below one (``1ms`` is the least said)."""
    if shown.endswith("ms"):
        return 0.001
    return 0.05 if "." in shown else 0.5


def _parsed(text: str) -> float | None:
    try:
        return parse_duration(text)
    except ValueError:
        return None


# Every duration a task file accepts: TOML numbers and the strings people write.
ACCEPTED = (st.floats(min_value=0, max_value=LONGEST, allow_nan=False)
            | st.integers(0, int(LONGEST)).map(float)
            | st.from_regex(JSON_PATTERN, fullmatch=True).map(_parsed)
            .filter(lambda s: s is not None))


@given(ACCEPTED, st.sampled_from([LONGEST, LONGEST_TIMEOUT]))
@example(0.9995, LONGEST)
@example(0.0004, LONGEST)
@example(1e-9, LONGEST)
@example(9.96, LONGEST)
@example(59.5, LONGEST)
@example(LONGEST_TIMEOUT - 0.4, LONGEST_TIMEOUT)
def test_every_accepted_duration_formats_to_one_that_reads_back(seconds: float,
                                                                longest: float) -> None:
    seconds = min(seconds, longest)
    shown = format_duration(seconds)
    again = parse_duration(shown, longest=longest)  # within the same bound, rounded or not
    assert math.isclose(again, seconds, abs_tol=precision(shown) + 1e-9), shown
    assert (again > 0) == (seconds > 0), shown  # a timeout above zero is never said as none


@pytest.mark.parametrize(("seconds", "shown"), [
    (0.9995, "1.0s"), (0.99949, "999ms"), (0.0004, "1ms"), (0.0005, "1ms"), (1e-9, "1ms"),
    (0.001, "1ms"), (0.04, "40ms"), (0, "0s"),
])
def test_the_millisecond_boundaries(seconds: float, shown: str) -> None:
    assert format_duration(seconds) == shown


@pytest.mark.parametrize(("written", "shown"), [("0.0004", "1ms"), ("0.9995", "1.0s")])
def test_show_prints_a_timeout_the_task_file_takes(project, written: str, shown: str) -> None:
    path = project.root / "mogplex.toml"

    def write(timeout: str) -> None:
        path.write_bytes(("# a tiny timeout, as a test harness sets it\r\n"
                          "[jobs.a]\r\n"
                          'repo = "acme/api"  # the API\r\n'
                          'prompt = "x"\r\n'
                          f"timeout = {timeout}\r\n"
                          "\r\n\r\n").encode())

    write(written)
    first = project.run("--json", "show", "a")
    assert first.code == 0, first
    assert json.loads(first.out)["timeout"] == shown
    write(json.dumps(shown))  # what show said, written back as the timeout
    again = project.run("--json", "show", "a")
    assert again.code == 0, again  # read, and the same time to within what was said
    assert json.loads(again.out)["timeout_seconds"] == parse_duration(shown)
    assert math.isclose(parse_duration(shown), float(written), abs_tol=precision(shown))


@pytest.mark.parametrize(("start", "end", "seconds"), [
    ("2026-12-05T03:40:00Z", "2026-12-05T03:45:50", 350.0),        # no offset: UTC
    ("2026-12-05T03:40:00", "2026-12-05T05:45:50+02:00", 350.0),
    ("2026-12-05T03:40:00Z", "2026-12-05T03:40:00Z", 0.0),         # a real zero stays one
    ("2026-12-05T03:45:50Z", "2026-12-05T03:40:00Z", None),        # backwards: unknown, not 0
    (None, "2026-12-05T03:40:00Z", None), ("", "2026-12-05T03:40:00Z", None),
    ("soon", "2026-12-05T03:40:00Z", None),
])
def test_server_span_is_the_one_rule_for_a_run_s_length(start, end, seconds) -> None:
    assert server_span(start, end) == seconds
    assert format_duration(server_span(start, end)) == format_duration(seconds)
