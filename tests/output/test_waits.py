"""Every reporter announces a wait with its reason and when it ends."""

from __future__ import annotations

import io
import json
import re
import time

from mogrun.output.github import GithubReporter
from mogrun.output.live import LiveReporter
from mogrun.output.ndjson import NdjsonReporter
from mogrun.output.plain import PlainReporter
from mogrun.waits import Wait, WaitKind

from .values import SECRET, make_job


def start_wait():
    return Wait(WaitKind.START_LIMIT, "2 runs queued for the start limit (10/min)",
                ends_at=time.time() + 43.4, job="build", run="build:acme/b")


UNTIMED = Wait(WaitKind.NEEDS, f"needs lint ({SECRET})", job="deploy")
DESCRIBED = (r"2 runs queued for the start limit \(10/min\); ends in 4[234]s "
             r"\(\d\d:\d\d:\d\dZ\)")


def test_plain_line_has_the_stream_shape_on_stdout():
    out, err = io.StringIO(), io.StringIO()
    rep = PlainReporter(stdout=out, stderr=err, secrets=[SECRET])
    rep.wait(start_wait())
    rep.wait(UNTIMED)
    first, second = out.getvalue().splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d  build:acme/b  wait  start_limit  " + DESCRIBED, first)
    assert re.fullmatch(r"\d\d:\d\d:\d\d  deploy  wait  needs  needs lint \(\*\*\*\)", second)
    assert err.getvalue() == ""


def test_a_wait_line_takes_the_label_of_its_runs_other_lines():
    """A single-repo job's lines are labelled ``job``: its wait line said
    ``job:owner/name``, so grepping the job's lines missed it."""
    out = io.StringIO()
    rep = PlainReporter(stdout=out, stderr=io.StringIO())
    rep.session_started([make_job("build", ("acme/b",)), make_job("fan", ("acme/x", "acme/y"))])
    rep.wait(start_wait())
    rep.wait(Wait(WaitKind.CAPACITY, "no slot", job="fan", run="fan:acme/y"))
    labels = [line.split()[1] for line in out.getvalue().splitlines()]
    assert labels == ["build", "fan:acme/y"]


def test_quiet_plain_output_says_a_wait_on_stderr():
    """``-q`` dropped wait lines: a capacity wait sat silent for a minute."""
    out, err = io.StringIO(), io.StringIO()
    PlainReporter(stdout=out, stderr=err, quiet=True).wait(start_wait())
    assert out.getvalue() == ""
    assert "  wait  " in err.getvalue() and "ends in" in err.getvalue()


def test_ndjson_wait_object():
    out = io.StringIO()
    rep = NdjsonReporter(stdout=out, stderr=io.StringIO(), secrets=[SECRET])
    rep.wait(start_wait())
    rep.wait(UNTIMED)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["type"] == "wait" and first["kind"] == "start_limit"
    assert first["reason"] == "2 runs queued for the start limit (10/min)"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", first["ends_at"])
    assert 40 < first["seconds"] <= 43.4
    assert (first["job"], first["run"]) == ("build", "build:acme/b")
    assert second == {"type": "wait", "kind": "needs", "reason": "needs lint (***)",
                      "ends_at": None, "seconds": None, "job": "deploy", "run": None}


def test_github_wait_is_a_line_in_its_jobs_group_and_no_annotation():
    out = io.StringIO()
    rep = GithubReporter(stdout=out, stderr=io.StringIO(), env={})
    rep.wait(start_wait())
    rep.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "::group::build"
    assert any(re.search(r"  build:acme/b  wait  start_limit  " + DESCRIBED, x) for x in lines)
    assert not any(x.startswith(("::warning", "::error", "::notice")) for x in lines)


def test_live_view_prints_the_wait_line_too():
    out = io.StringIO()
    rep = LiveReporter(stdout=out, stderr=io.StringIO(), force_terminal=True, width=200,
                       color=False)
    rep.session_started([make_job("build", ("acme/a", "acme/b"))])
    rep.wait(start_wait())
    rep.close()
    assert re.search(r"  build:acme/b  wait  start_limit  " + DESCRIBED, out.getvalue())


def test_a_wait_of_a_day_or_more_names_the_date_it_ends():
    now = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    wait = Wait(WaitKind.RETRY, "retrying", ends_at=now + 3 * 86400 + 5)
    assert wait.describe(now) == "retrying; ends in 72h00m05s (2027-01-18 08:00:05Z)"
    assert Wait(WaitKind.RETRY, "retrying", ends_at=now + 5).describe(now) == (
        "retrying; ends in 5s (08:00:05Z)")


def test_a_wait_ending_past_any_calendar_is_still_said():
    """A capacity_wait of 1e12 s (the task file takes it) crashed the wait's line
    with 'year 33715 is out of range': a traceback and a lost run."""
    from mogrun.waits import Wait, WaitKind

    wait = Wait.for_seconds(WaitKind.CAPACITY, "waiting for a sandbox slot", 1e12)
    assert wait.describe().endswith("(a time past any calendar)")
    shown = wait.as_json()
    assert shown["ends_at"] is None and shown["seconds"] > 9e11


def test_a_retry_s_end_is_shown_as_a_wait_shows_its_own():
    """``clock_in`` (a 503's "try again after", a capacity wait's end) had its own
    copy of the wait's clock, and its own words for an end no calendar holds."""
    from mogrun.waits import Wait, WaitKind, clock_in

    for seconds in (5, 3 * 86400 + 5, 1e12):
        wait = Wait.for_seconds(WaitKind.RETRY, "retrying", seconds)
        shown = clock_in(seconds)
        assert wait.describe().endswith(f"({shown})"), (seconds, shown)
    assert re.fullmatch(r"\d\d:\d\d:\d\dZ", clock_in(5))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", clock_in(3 * 86400))
    assert clock_in(float("nan")) == clock_in(float("inf")) == "a time past any calendar"
