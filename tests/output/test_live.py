"""The live terminal reporter, rendered by rich onto a forced terminal."""

from __future__ import annotations

import io
import re
import threading
import time

from mogrun.models import GateVerdict, RunState
from mogrun.output.live import MAX_ROWS, LiveReporter

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


def plain_text(out):
    """What the terminal would show, minus colours and cursor moves."""
    return ANSI.sub("", out.getvalue())


def test_lines_live_rows_and_summary_render():
    rep, out = live()
    job = make_job()
    run = job.runs[0]
    rep.job_started(job, run, RunState("r_1", "pending"), False)
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
    assert re.search(r"build\s+acme/api\s+r_1\s+gate_failed\s+1m05s\s+tests: 3 failing", shown)
    assert shown.rstrip().endswith("exit code 1")
    assert SECRET not in shown and "\x1b]0;evil" not in out.getvalue()


def test_colour_is_used_unless_disabled():
    colored, out = live(color=True)
    colored.summary((make_result(),), 0)
    assert "\x1b[32m" in out.getvalue()
    plain, out = live(color=False)
    plain.summary((make_result(),), 0)
    assert "\x1b[32m" not in out.getvalue() and "exit code 0" in out.getvalue()


def test_live_rows_are_capped_and_finished_jobs_leave():
    rep, _ = live()
    jobs = [make_job(f"job{i}") for i in range(MAX_ROWS + 3)]
    for job in jobs:
        rep.job_started(job, job.runs[0], RunState(f"r_{job.name}", "pending"), False)
    rep.job_finished(jobs[0], (make_result(jobs[0].name),), "success")
    console = rep.console.__class__(file=io.StringIO(), width=120, color_system=None)
    with console.capture() as capture:
        console.print(rep._render())
    rep.close()
    text = capture.get()
    assert "job0 " not in text and "job1 " in text
    assert f"… and {MAX_ROWS + 2 - MAX_ROWS} more running" in text


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
    assert "noise" not in shown and "warning: kept" in shown and "exit code 0" in shown


def test_threads_and_the_refresh_thread_do_not_deadlock_or_split_lines():
    rep, out = live()
    jobs = [make_job(f"job{i}") for i in range(6)]

    def emit(job):
        rep.job_started(job, job.runs[0], RunState("r", "pending"), False)
        for n in range(30):
            rep.event(job, job.runs[0], make_event(f"n{n}"))
            rep.status(job, job.runs[0], "pending", RunState("r", "streaming"))

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


def test_elapsed_counts_until_the_terminal_status(monkeypatch):
    import types

    import mogrun.output.live as live_module

    clock = types.SimpleNamespace(now=100.0)
    monkeypatch.setattr(live_module, "time", types.SimpleNamespace(monotonic=lambda: clock.now))
    rep, _ = live(quiet=True)  # quiet: no refresh thread, the rows are still kept
    job = make_job("j", ("acme/a", "acme/b"))
    for run in job.runs:
        rep.job_started(job, run, RunState("r", "pending"), False)
    clock.now = 107.0
    rep.status(job, job.runs[0], "pending", RunState("r", "success"))
    clock.now = 190.0
    console = rep.console.__class__(file=io.StringIO(), width=120, color_system=None)
    with console.capture() as capture:
        console.print(rep._render())
    lines = capture.get().splitlines()
    assert re.search(r"j:acme/a\s+success\s+7s", lines[0])
    assert re.search(r"j:acme/b\s+pending\s+1m30s", lines[1])
