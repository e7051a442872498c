"""The live terminal reporter, rendered by rich onto a forced terminal."""

from __future__ import annotations

import dataclasses
import io
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from mogrun.output.live import LiveReporter
from mogrun.runs import GateVerdict, RunState
from mogrun.waits import Wait, WaitKind

from .values import SECRET, make_event, make_job, make_result

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def live(color=True, quiet=False):
    out = io.StringIO()
    rep = LiveReporter(
        stdout=out,
        stderr=io.StringIO(),
        color=color,
        quiet=quiet,
        force_terminal=True,
        width=120,
        refresh_per_second=50,
    )
    return rep, out


def now_iso(seconds=0.0):
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def plain_text(out):
    """What the terminal would show, minus colours and cursor moves."""
    return ANSI.sub("", out.getvalue())


def test_lines_live_rows_and_summary_render():
    rep, out = live()
    job = make_job()
    run = job.runs[0]
    rep.job_started(job, run, RunState("r_1", "pending", "2026-03-04T05:06:00Z"), False)
    rep.event(job, run, make_event(f"compiling {SECRET} \x1b]0;evil\x07", tool="make"))
    time.sleep(0.1)  # let the refresh thread draw the live row
    result = make_result(
        duration=65, gates=(GateVerdict("tests", False, "3 failing"),), outcome="gate_failed"
    )
    rep.job_finished(job, (result,), "gate_failed")
    rep.summary((result,), 1)
    rep.close()
    shown = plain_text(out)
    assert "05:06:07  build  log  make  compiling *** \\x1b]0;evil\\x07" in shown
    assert "pending" in shown and "log make compiling ***" in shown  # the live row
    assert "0/1 done · 1 running · 0 queued" in shown
    assert re.search(r"build\s+acme/api\s+r_1\s+gate_failed\s+1m05s\s+-\s+tests: 3 failing",
                     shown)
    assert shown.rstrip().endswith("exit code 1")
    assert SECRET not in shown and "\x1b]0;evil" not in out.getvalue()


def test_colour_is_used_unless_disabled():
    colored, out = live(color=True)
    colored.summary((make_result(),), 0)
    assert "\x1b[32m" in out.getvalue()
    plain, out = live(color=False)
    plain.summary((make_result(),), 0)
    assert "\x1b[32m" not in out.getvalue() and "exit code 0" in out.getvalue()


def render(rep, width=120):
    console = rep.console.__class__(file=io.StringIO(), width=width, height=rep.console.height,
                                    color_system=None)
    with console.capture() as capture:
        console.print(rep._render())
    return capture.get()


def test_every_run_is_shown_queued_blocked_waiting_running_and_done():
    rep, _ = live(quiet=True)  # quiet: no refresh thread, the board is still kept
    lint, build = make_job("lint"), make_job("build", ("acme/a", "acme/b"))
    deploy = dataclasses.replace(make_job("deploy"), needs=("build",))
    rep.session_started([lint, build, deploy])
    rep.job_started(lint, lint.runs[0], RunState("r_l", "success", "2026-03-04T05:06:00Z",
                                                "2026-03-04T05:06:12Z"), False)
    rep.job_finished(lint, (make_result("lint", duration=12),), "success")
    rep.job_started(build, build.runs[0], RunState("r_a", "streaming", now_iso(-65)), False)
    rep.wait(Wait.for_seconds(WaitKind.START_LIMIT, "1 run queued for the start limit (10/min)",
                              43, job="build", run="build:acme/b"))
    text = render(rep)
    assert re.search(r"lint\s+done\s+success\s+12s", text), text
    assert re.search(r"build:acme/a\s+running\s+streaming\s+1m0[5-7]s", text), text
    assert re.search(r"build:acme/b\s+waiting\s+in 4[23]s\s+1 run queued for the start "
                     r"limit \(10/min\); ends in 4[23]s", text), text
    assert re.search(r"deploy\s+blocked\s+needs build", text), text
    assert "1/4 done · 1 running · 2 queued · 1 waiting" in text


def test_a_run_the_server_finished_is_never_shown_running_and_its_elapsed_stops():
    rep, _ = live(quiet=True)
    job = make_job("j", ("acme/a", "acme/b"))
    rep.session_started([job])
    for run in job.runs:
        rep.job_started(job, run, RunState("r", "pending", now_iso(-100)), False)
    rep.status(job, job.runs[0], "pending",
               RunState("r", "success", "2026-03-04T05:00:00Z", "2026-03-04T05:00:07Z"))
    lines = render(rep).splitlines()
    assert re.search(r"j:acme/a\s+done\s+success\s+7s", lines[0]), lines
    assert re.search(r"j:acme/b\s+running\s+pending\s+1m4[01]s", lines[1]), lines
    assert lines[-1] == "1/2 done · 1 running · 0 queued"


def test_a_short_screen_keeps_the_busy_rows_and_counts_the_rest():
    rep, _ = live(quiet=True)
    rep.console.height = 8
    jobs = [make_job(f"job{i}") for i in range(9)]
    rep.session_started(jobs)
    for job in jobs[:2]:
        rep.job_finished(job, (make_result(job.name),), "success")
    rep.job_started(jobs[8], jobs[8].runs[0], RunState("r_8", "pending"), False)
    text = render(rep)
    assert "job8" in text and "job0" not in text
    assert text.splitlines()[-1] == "2/9 done · 1 running · 6 queued · 4 more not shown"


@pytest.mark.parametrize(("columns", "lines"), [(20, 4), (12, 4), (16, 3), (12, 3), (5, 2),
                                                (200, 2), (20, 5)])
def test_the_area_never_takes_more_lines_than_a_tiny_screen_leaves(columns, lines):
    """At 20x4 one row plus a progress line broken over three filled the screen:
    rich's redraw then scrolled a copy of the area into the scrollback each frame."""
    rep, _ = live(quiet=True)
    rep.console.width, rep.console.height = columns, lines
    jobs = [make_job(f"job{i}") for i in range(8)]
    rep.session_started(jobs)
    rep.job_started(jobs[7], jobs[7].runs[0], RunState("r_7", "pending"), False)
    text = render(rep, width=columns)
    assert len(text.splitlines()) <= max(1, lines - 2), text


@pytest.mark.parametrize(("columns", "lines"), [(20, 5), (20, 4), (12, 6), (16, 5)])
def test_a_short_narrow_screen_still_says_how_many_rows_it_hides(columns, lines):
    """At 20x5 with 40 runs the progress line broke over four lines and was cut to
    the three there was room for: the count of rows not shown, its last part, was
    the one cut, and every run was hidden with nothing saying so (QA pass)."""
    rep, _ = live(quiet=True)
    rep.console.width, rep.console.height = columns, lines
    jobs = [make_job(f"job{i}") for i in range(40)]
    rep.session_started(jobs)
    for job in jobs:
        rep.job_started(job, job.runs[0], RunState(f"r_{job.name}", "pending"), False)
    shown = render(rep, width=columns).splitlines()
    assert len(shown) <= max(1, lines - 2), shown
    assert shown[-1].startswith("40 more not"), shown  # (cut to the screen's width)
    assert shown[0].startswith("0/40 done") or len(shown) == 1, shown


def test_the_summary_at_60_columns_keeps_every_run_id_whole():
    rep, out = live(color=False)
    rep.console.width = 60
    ids = ["run_7f3a9c2e41b8d0aa55e1", "run_7f3a9c2e41b8d0aa55e2"]
    results = tuple(make_result("build", f"acme/service-{n}", run_id=run_id, duration=125,
                                branch=f"mogrun/build-{n}")
                    for n, run_id in enumerate(ids))
    rep.summary(results, 0)
    shown = plain_text(out)
    for n, run_id in enumerate(ids):
        assert f"  run {run_id}  branch mogrun/build-{n}" in shown
    assert "…" not in shown and max(len(line) for line in shown.splitlines()) <= 60


def test_quiet_shows_no_live_area_and_no_events():
    rep, out = live(quiet=True)
    job = make_job()
    rep.job_started(job, job.runs[0], RunState("r_1", "pending"), False)
    rep.event(job, job.runs[0], make_event("noise"))
    rep.notice("kept", level="warning")
    rep.summary((make_result(),), 0)
    rep.close()
    shown = plain_text(out)
    assert rep._live is None
    assert "noise" not in shown and "exit code 0" in shown
    assert "warning: kept" in rep._err.getvalue()  # stderr is not this screen: its own


@pytest.mark.parametrize("quiet", [False, True])
def test_a_notice_goes_to_a_stderr_that_is_not_the_screen(quiet):
    # `mogrun fan 2>err.log` on a terminal: warnings (a cancel at Ctrl-C) were drawn
    # on the screen and err.log stayed empty; -v trace lines did go there
    rep, out = live(quiet=quiet)
    job = make_job()
    rep.job_started(job, job.runs[0], RunState("r_1", "pending"), False)
    rep.notice("cancelling 1 run started here", level="warning")
    rep.summary((make_result(),), 0)
    rep.close()
    assert "cancelling 1 run" not in plain_text(out)
    assert "warning: cancelling 1 run started here" in rep._err.getvalue()


def test_threads_and_the_refresh_thread_do_not_deadlock_or_split_lines():
    rep, out = live()
    jobs = [make_job(f"job{i}") for i in range(6)]

    def emit(job):
        at = "2026-03-04T05:06:00Z"
        rep.job_started(job, job.runs[0], RunState("r", "pending", at), False)
        for n in range(30):
            rep.event(job, job.runs[0], make_event(f"n{n}"))
            rep.status(job, job.runs[0], "pending", RunState("r", "streaming", at, at))

    threads = [threading.Thread(target=emit, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    rep.close()
    shown = plain_text(out)
    for job in jobs:
        for n in range(30):
            assert f"05:06:07  {job.name}  log  -  n{n}\n" in shown


def test_a_wait_naming_no_job_holds_every_run_not_started_but_not_a_blocked_one():
    rep, _ = live(quiet=True)
    first, second = make_job("first"), make_job("second")
    third = dataclasses.replace(make_job("third"), needs=("first",))
    rep.session_started([first, second, third])
    rep.job_started(first, first.runs[0], RunState("r_1", "streaming", now_iso(-3)), False)
    rep.wait(Wait.for_seconds(WaitKind.START_LIMIT, "1 run queued for the start limit (1/min)",
                              61))
    text = render(rep)
    assert re.search(r"first\s+running\s+streaming", text), text
    assert re.search(r"second\s+waiting\s+in 1m0[01]s\s+1 run queued for the start limit "
                     r"\(1/min\); ends in 1m0[01]s", text), text
    assert re.search(r"third\s+blocked\s+needs first", text), text


def test_a_wait_on_requests_holds_a_running_run_until_its_next_event():
    rep, _ = live(quiet=True)
    job = make_job("one")
    rep.session_started([job])
    rep.job_started(job, job.runs[0], RunState("r_1", "streaming", now_iso(-3)), False)
    rep.wait(Wait.for_seconds(WaitKind.RATE_LIMITED, "the API answered 429", 20))
    text = render(rep)
    assert re.search(r"one\s+waiting\s+streaming\s+in 20s\s+the API answered 429; ends in 20s",
                     text), text
    assert "0/1 done · 1 running · 0 queued · 1 waiting" in text
    rep.event(job, job.runs[0], make_event("moved on"))
    assert re.search(r"one\s+running\s+streaming\s+\d+s\s+log moved on", render(rep))


def test_a_row_is_cut_to_the_screen_as_a_stream_that_cannot_encode_it_writes_it():
    """On an ASCII stream a row cut to 50 columns with `…` was written 55 wide
    (`\\u2026`), and wrapped: stale rows at every redraw; `·` became `\\xb7`. The
    marks are the stream's own, and agent text is escaped before it is measured."""
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="backslashreplace")
    rep = LiveReporter(stdout=stream, stderr=io.StringIO(), quiet=True, force_terminal=True,
                       width=60)
    job = make_job()
    rep.session_started([job])
    rep.job_started(job, job.runs[0], RunState("r_1", "streaming"), False)
    rep.event(job, job.runs[0], make_event("café ☕ " * 10))
    text = render(rep, width=60)
    assert text.isascii(), text
    assert max(len(line) for line in text.splitlines()) <= 60, text
    assert "caf\\xe9 \\u2615" in text and text.splitlines()[0].endswith("..."), text
    assert " - 1 running - " in text, text
