"""The system may refuse a thread (a container's process limit, ``ulimit -u``):
CPython then raises ``RuntimeError("can't start new thread")``. A fan-out runs
fewer runs at a time and says so; the threads mogrun can do without (the
history's writer, the output's batching, the plugins' waits, a slow call's
notice) are done without; nothing ends in a traceback."""

from __future__ import annotations

import threading

import pytest

from .conftest import history_rows, json_lines

REPOS = ("acme/api", "acme/web", "acme/worker")
FAN = f"""
    [jobs.fan]
    repo = [{", ".join(f'"{r}"' for r in REPOS)}]
    prompt = "@emulator duration=0.4s events=3"
"""


@pytest.fixture
def refuse_threads(monkeypatch):
    """``refuse_threads(workers=N, names=(...))``: from now on the system refuses a
    run worker while ``N`` are alive, and every thread whose name starts with one of
    ``names``, as ``pthread_create`` failing makes CPython refuse it."""

    def refuse(*, workers: int | None = None, names: tuple[str, ...] = ()) -> list[str]:
        refused: list[str] = []
        start = threading.Thread.start

        def limited(thread: threading.Thread) -> None:
            worker = thread.name.startswith("mogrun-worker")
            alive = sum(t.name.startswith("mogrun-worker") for t in threading.enumerate())
            if thread.name.startswith(names) or (
                    worker and workers is not None and alive >= workers):
                refused.append(thread.name)
                raise RuntimeError("can't start new thread")
            start(thread)

        monkeypatch.setattr(threading.Thread, "start", limited)
        return refused

    return refuse


def test_a_fan_out_refused_a_worker_runs_fewer_at_a_time_and_says_so(project, mogrun,
                                                                      refuse_threads):
    project(FAN)
    refused = refuse_threads(workers=1)
    result = mogrun("-j", "3", "fan")
    assert result.exit_code == 0, result
    assert any(name.startswith("mogrun-worker") for name in refused)
    assert "the system refused to start another thread" in result.stderr
    assert "running at most 1 at a time from now on" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert sorted(row["outcome"] for row in history_rows(mogrun)) == ["success"] * 3


def test_no_worker_to_be_had_skips_the_run_with_the_reason(project, mogrun, refuse_threads):
    project(FAN)
    refuse_threads(workers=0)
    result = mogrun("--json", "fan")
    assert result.exit_code == 1, result
    assert "Traceback" not in result.stderr + result.stdout
    summary = json_lines(result.stdout)[-1]
    assert summary["type"] == "summary"
    assert [r["outcome"] for r in summary["results"]] == ["skipped"] * 3
    first, *rest = [r["message"] for r in summary["results"]]
    assert first.startswith("not started: the system refused to start another thread")
    assert rest == ["not started after an earlier failure (use -k to keep going)"] * 2


@pytest.mark.parametrize("mode", ["--json", "-q"])
def test_threads_mogrun_can_do_without_are_done_without(project, mogrun, refuse_threads,
                                                       mode):
    """The history's writer has a way without its thread: the run passes, every row
    and line is written. (Output here is not a pipe, so its batching thread is not
    asked for: ``PacedLines`` is tried below on a real pipe.)"""
    project(FAN)
    refused = refuse_threads(names=("mogrun-history",))
    result = mogrun(mode, "-j", "3", "fan")
    assert result.exit_code == 0, result
    assert "Traceback" not in result.stderr + result.stdout
    assert "mogrun-history" in refused
    if mode == "--json":
        lines = json_lines(result.stdout)
        assert lines[-1]["type"] == "summary"
        assert sum(line["type"] == "event" for line in lines) == 9  # 3 events, 3 runs
    rows = history_rows(mogrun)
    assert sorted((row["outcome"], row["status"]) for row in rows) == [("success",
                                                                        "success")] * 3


def test_waits_no_thread_could_deliver_are_heard_when_the_session_drains(refuse_threads):
    from mogrun.engine.pluginwaits import PluginWaits
    from mogrun.waits import Wait, WaitKind

    refuse_threads(names=("mogrun-plugin-waits",))
    heard: list[str] = []
    waits = PluginWaits(lambda wait: heard.append(wait.reason))
    for reason in ("first", "second"):
        waits.wait(Wait(WaitKind.RETRY, reason))
    assert heard == []  # queued: no thread took them
    waits.drain()
    assert heard == ["first", "second"]


# For a real ``python -m mogrun``: the system refuses the threads named in
# MOGRUN_TEST_REFUSED_THREADS (comma-separated prefixes).
REFUSING_SITE = """\
import os
import threading

_names = tuple(n for n in os.environ.get("MOGRUN_TEST_REFUSED_THREADS", "").split(",") if n)
_start = threading.Thread.start


def _limited(thread):
    if _names and thread.name.startswith(_names):
        raise RuntimeError("can't start new thread")
    _start(thread)


threading.Thread.start = _limited
"""


def refusing_env(tmp_path, *names: str) -> dict[str, str]:
    """The environment that makes a spawned mogrun's system refuse ``names``."""
    import os

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(REFUSING_SITE, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "MOGRUN_TEST_REFUSED_THREADS": ",".join(names)}


def test_a_signal_with_no_timer_to_be_had_gives_the_unanswered_start_up_at_once(tmp_path):
    """The first signal gives starts still unanswered 10 s (a timer thread); with no
    thread for the timer, they are given up at once, never waited for in full."""
    import time

    from mogrun.emulator import Emulator

    from .test_signals import interrupt, running, spawn, until

    with Emulator() as emulator:
        emulator.add_fault("start", "delay", delay=40.0)
        job = '\n[jobs.long]\nrepo = "acme/api"\nprompt = "@emulator duration=never"\n'
        env = refusing_env(tmp_path, "mogrun-give-up")
        with running(spawn(emulator, tmp_path, "long", jobs=job, **env)) as proc:
            until(lambda: emulator.count("GET", "/sandboxes") > 0, "the start was sent", proc)
            time.sleep(1.0)  # the start is held in the emulator's delay
            out, err, elapsed = interrupt(proc, timeout=40.0)
    assert proc.returncode == 130, (out, err)
    assert elapsed < 8.0, (elapsed, err)
    assert "Traceback" not in out + err


def test_a_hook_holding_a_worker_at_its_timeout_is_rescued_with_no_thread_to_be_had(
        tmp_path):
    """The run a plugin's hook holds is ended at its timeout on the hook watch's own
    thread when no rescue thread can be started."""
    from mogrun.emulator import Emulator

    from .test_blocked_hooks import JOB, blocking_project
    from .test_signals import running, spawn

    blocking_project(tmp_path, "mogrun_event", "event")
    with Emulator(default_duration=0.5) as emulator:
        env = refusing_env(tmp_path, "mogrun-rescue-run")
        with running(spawn(emulator, tmp_path, "long",
                           jobs=JOB.format(extra='timeout = "3s"'), **env)) as proc:
            out, err = proc.communicate(timeout=20)
        (run_id,) = emulator.runs
        assert emulator.run_detail(run_id)["status"] == "cancelled"
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in out + err
    assert f"timed out after 3s; cancelled run {run_id}" in err, err


def test_a_slow_call_with_no_thread_to_say_it_is_not_said(refuse_threads):
    from mogrun.engine.lifecycle import _SlowAnnounce
    from mogrun.waits import Wait, WaitKind

    refused = refuse_threads(names=("mogrun-slow-announce",))
    said: list[Wait] = []
    with _SlowAnnounce(said.append, Wait(WaitKind.PLUGINS, "a plugin's end")):
        pass
    assert refused == ["mogrun-slow-announce"] and said == []


def test_lines_for_a_pipe_with_no_thread_to_batch_them_are_written_at_once(refuse_threads):
    import os
    import threading as threads

    from mogrun.output.paced import PacedLines

    refused = refuse_threads(names=("mogrun-lines",))
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)  # nothing written yet: BlockingIOError, not a hang
    with os.fdopen(write_end, "w", encoding="utf-8") as stream:
        lock = threads.RLock()
        lines = PacedLines(stream, lock)
        with lock:
            lines.write("first")
            lines.write("second")
        assert refused == ["mogrun-lines"]  # asked for once: then every line goes at once
        assert os.read(read_end, 100) == b"first\nsecond\n"  # before any close or flush
    os.close(read_end)
