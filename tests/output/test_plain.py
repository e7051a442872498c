"""The plain reporter: lines for logs and pipes, notices on stderr."""

from __future__ import annotations

import io
import re
import threading

from mogrun.output.plain import PlainReporter
from mogrun.runs import GateVerdict, RunState

from .values import SECRET, ChunkyStream, make_event, make_job, make_result, summary_peak

CLOCK = r"\d\d:\d\d:\d\d"


def reporter(quiet: bool = False):
    out, err = io.StringIO(), io.StringIO()
    return PlainReporter(stdout=out, stderr=err, quiet=quiet), out, err


def session(rep):
    """A short successful session of one job, as the engine would report it."""
    job = make_job()
    run = job.runs[0]
    rep.job_started(job, run, RunState("r_1", "pending", "2026-03-04T05:06:05Z"), False)
    rep.event(job, run, make_event("cloning", type="tool_started", tool="git"))
    rep.status(job, run, "pending", RunState("r_1", "streaming", "2026-03-04T05:06:05Z",
                                             "2026-03-04T05:06:07.5Z"))
    rep.notice("attached to existing run r_0", job=job, run=run)
    rep.notice("plugin slow", level="warning")
    result = make_result(duration=12.4, gates=(GateVerdict("tests", True),))
    rep.job_finished(job, (result,), "success")
    rep.summary((result,), 0)
    rep.close()


def test_lines_have_the_event_shape():
    rep, out, err = reporter()
    session(rep)
    lines = out.getvalue().splitlines()
    assert lines[:3] == [  # a run's lines carry the server's times: they read in order
        "05:06:05  build  run  -  started r_1 (pending)",
        "05:06:07  build  tool_started  git  cloning",
        "05:06:07  build  status  -  pending -> streaming",
    ]
    assert re.fullmatch(CLOCK + r"  build  result  -  success \(r_1\)", lines[3])
    assert lines[4:] == [
        "",
        "job    repo      run id  status   duration  branch  gates",
        "-----  --------  ------  -------  --------  ------  ------",
        "build  acme/api  r_1     success  12s       -       passed",
        "1 passed, 0 failed in 0s",
        "exit code 0",
    ]
    assert err.getvalue().splitlines() == [
        "build: attached to existing run r_0",
        "warning: plugin slow",
    ]


def test_no_colour_or_escape_sequence_in_plain_output():
    rep, out, err = reporter()
    session(rep)
    rep.event(make_job(), make_job().runs[0], make_event("\x1b[31mred\x1b[0m"))
    assert "\x1b" not in out.getvalue() + err.getvalue()
    assert "\\x1b[31mred\\x1b[0m" in out.getvalue()


def test_quiet_shows_only_warnings_errors_and_the_summary():
    rep, out, err = reporter(quiet=True)
    session(rep)
    rep.notice("gave up", level="error")
    assert out.getvalue().splitlines()[0].startswith("job    repo")  # no blank line first
    assert "cloning" not in out.getvalue()
    assert err.getvalue().splitlines() == ["warning: plugin slow", "error: gave up"]


def test_secrets_are_masked_everywhere_including_the_summary():
    rep, out, err = reporter()
    job = make_job()
    run = job.runs[0]
    rep.job_started(job, run, RunState("r_1", "pending"), False)
    rep.event(job, run, make_event(f"key is {SECRET}", tool=SECRET))
    rep.notice(f"server said {SECRET}", job=job)
    rep.notice(f"later, without a job: {SECRET}", level="error")
    failed = make_result(
        outcome="failed", message=f"bad {SECRET}", gates=(GateVerdict("g", False, f"saw {SECRET}"),)
    )
    rep.job_finished(job, (failed,), "failed")
    rep.summary((failed,), 1)
    text = out.getvalue() + err.getvalue()
    assert SECRET not in text
    assert text.count("***") == 9  # the summary's reason line shows two more
    assert "build  failed (r_1): bad ***; gate g: saw ***" in out.getvalue()


def test_fan_out_lines_are_labelled_job_colon_repo():
    rep, out, _ = reporter()
    job = make_job("codemod", ("acme/a", "acme/b"))
    rep.event(job, job.runs[1], make_event("hi"))
    results = (make_result("codemod", "acme/a"), make_result("codemod", "acme/b", "failed"))
    rep.job_finished(job, results, "failed")
    lines = out.getvalue().splitlines()
    assert lines[0] == "05:06:07  codemod:acme/b  log  -  hi"
    assert lines[1].endswith("  codemod:acme/a  result  -  success (r_1)")
    assert lines[2].endswith("  codemod:acme/b  result  -  failed (r_1)")
    assert lines[3].endswith("  codemod  result  -  failed (1 of 2 runs passed)")


def test_failure_detail_names_the_failed_gates():
    rep, out, _ = reporter()
    result = make_result(
        outcome="gate_failed",
        gates=(GateVerdict("tests", False, "3 failing"), GateVerdict("lint", True)),
    )
    rep.job_finished(make_job(), (result,), "gate_failed")
    assert out.getvalue().rstrip().endswith("gate_failed (r_1): gate tests: 3 failing")


def test_many_threads_produce_whole_lines():
    out = ChunkyStream()
    rep = PlainReporter(stdout=out, stderr=io.StringIO())
    jobs = [make_job(f"job{i}") for i in range(8)]
    message = "x" * 100

    def emit(job):
        for n in range(50):
            rep.event(job, job.runs[0], make_event(f"{n} {message}"))

    threads = [threading.Thread(target=emit, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 8 * 50
    pattern = re.compile(r"05:06:07  job\d  log  -  \d+ x{100}")
    assert all(pattern.fullmatch(line) for line in lines)


def test_a_closed_stream_never_raises():
    out = io.StringIO()
    rep = PlainReporter(stdout=out, stderr=io.StringIO())
    out.close()
    rep.event(make_job(), make_job().runs[0], make_event("lost"))
    rep.summary((), 0)
    rep.close()


def test_a_runs_lines_never_go_back_in_time_even_after_a_wait_line():
    """Events a retry's poll brings can predate the retry's wait line: they are
    stamped no earlier than it. Another label keeps its own clock."""
    from mogrun.waits import Wait, WaitKind

    rep, out, _ = reporter()
    job, other = make_job(), make_job("other")
    rep.job_started(job, job.runs[0], RunState("r_1", "pending", "2026-03-04T05:06:00Z"), False)
    rep.wait(Wait(WaitKind.RETRY, "HTTP 503; retry 1", job="build"))
    rep.event(job, job.runs[0], make_event("from before the wait", at="2026-03-04T05:06:01Z"))
    rep.event(other, other.runs[0], make_event("its own time", at="2026-03-04T05:06:01Z"))
    rep.event(job, job.runs[0], make_event("no time", at="garbage"))
    lines = out.getvalue().splitlines()
    clocks = [line[:8] for line in lines]
    assert clocks[0] == "05:06:00" and clocks[1] == clocks[2] != "05:06:01", lines
    assert lines[3] == "05:06:01  other  log  -  its own time"
    assert lines[4] == "--:--:--  build  log  -  no time"


def test_a_run_its_gates_accept_shows_its_own_status_too(tmp_path):
    # gates = { status = ["failed"] }: the run failed and the job passed, and the
    # summary's status column read "success" alone (history said status failed)
    from mogrun.testing import run_mogrun, write_taskfile

    write_taskfile(tmp_path, '[jobs.f]  # expected to fail\r\nrepo = "acme/api"\r\n'
                             'prompt = "x\\n@emulator status=failed duration=0.1s"\r\n'
                             'gates = { status = ["failed"] }\r\n\r\n')
    result = run_mogrun("--local", "f", cwd=tmp_path)
    assert result.code == 0, result
    header = next(line for line in result.out.splitlines() if line.startswith("job "))
    row = next(line for line in result.out.splitlines() if line.startswith("f "))
    assert header.split()[:5] == ["job", "repo", "run", "id", "status"]
    assert "success (run failed)" in row, result.out


def test_a_fan_out_s_table_is_written_as_its_lines_are_made(tmp_path):
    """4,000 runs make a ~250 KB table; made whole, joined and copied it took
    8x that (2 MB) at the very end of the run; now the rows' cells and the
    results' order are most of what it takes."""
    from mogrun.output.tables import summary_lines

    results = tuple(make_result(repo=f"acme/r{n}", run_id=f"r_{n}", message=f"m {n}",
                                gates=(GateVerdict("g", True, "ok"),)) for n in range(4000))
    peak, text = summary_peak(PlainReporter, results, tmp_path / "out.txt")
    assert text.startswith("\n" + "\n".join(summary_lines(results)) + "\n")
    assert peak < 6 * len(text), (peak, len(text))  # 4.3x now, 8.1x before


def test_an_event_dated_in_the_future_holds_no_later_line_at_its_time():
    """A server clock glitch dated one event 2030: every later line of its run, the
    result line mogrun prints itself too, read 09:09:09 (QA pass). No line is later
    than the moment it is printed, and none goes back before the previous one."""
    import time

    from mogrun.durations import line_clock

    rep, out, _ = reporter()
    job = make_job()
    run = job.runs[0]
    rep.job_started(job, run, RunState("r_1", "pending", "2026-03-04T05:06:05Z"), False)
    rep.event(job, run, make_event("from the future", at="2030-01-01T09:09:09Z"))
    rep.event(job, run, make_event("an old one", id="e2", at="2026-03-04T05:06:08Z"))
    rep.job_finished(job, (make_result(),), "success")
    rep.close()
    lines = out.getvalue().splitlines()
    later = [line for line in lines if "from the future" in line or "an old one" in line
             or " result " in line]
    assert len(later) == 3, lines
    now = time.time()
    printed = {line_clock(now - back) for back in range(0, 5)}
    assert all(line[:8] in printed for line in later), later
    assert "09:09:09" not in out.getvalue()
