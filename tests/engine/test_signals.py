"""A real SIGINT / SIGTERM to a `python -m mogrun` subprocess following runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from mogrun.emulator import Emulator

from .conftest import HEADER, json_lines, subprocess_env

LONG_JOB = """
[jobs.long]
repo = "acme/api"
prompt = "@emulator duration=never interval=0.2s"
idempotency_key = "long-{{ date }}"
"""


@pytest.fixture
def emulator():
    with Emulator(default_duration=0.5) as emu:
        yield emu


def spawn(emulator, tmp_path, *args, jobs=LONG_JOB, header=HEADER, preexec_fn=None,
          **env_extra):
    """``python -m mogrun ARGS`` on ``jobs`` against ``emulator`` (``env_extra``
    added to, or overriding, its environment; ``preexec_fn`` run in the child
    before mogrun, as ``subprocess.Popen`` takes it)."""
    (tmp_path / "mogplex.toml").write_text(header + jobs)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MOGRUN_FILE", "GITHUB_ACTIONS", "MOGRUN_DISABLE_PLUGINS")}
    env.update({"MOGPLEX_URL": emulator.url, "MOGPLEX_API_KEY": emulator.write_token,
                "MOGRUN_POLL_INTERVAL": "0.1", "NO_COLOR": "1", **env_extra})
    return subprocess.Popen([sys.executable, "-m", "mogrun", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=preexec_fn)


@contextlib.contextmanager
def running(proc):
    """``proc``, killed on the way out whatever happened (a failed wait included)."""
    try:
        yield proc
    finally:
        proc.kill()


def interrupt(proc, *, signum=signal.SIGINT, times=1, gap=0.5, timeout=20.0):
    """Send ``signum`` ``times`` times, ``gap`` s apart, then wait for the exit:
    (stdout, stderr, seconds from the last signal to the exit)."""
    for sent in range(times):
        if sent:
            time.sleep(gap)
        began = time.monotonic()
        proc.send_signal(signum)
    out, err = proc.communicate(timeout=timeout)
    return out, err, time.monotonic() - began


def wait_following(emulator, count=1, timeout=15.0):
    """Until ``count`` runs exist and each has been polled at least once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = emulator.runs
        if len(runs) >= count and all(
                emulator.count("GET", f"/runs/{r}/events") > 0 for r in runs[-1:]):
            return runs
        time.sleep(0.05)
    raise AssertionError("mogrun did not start following in time")


def until(condition, what, proc=None, timeout=15.0, step=0.05):
    """Wait until ``condition()`` holds (``what`` names it if it never does); a
    ``proc`` that exits meanwhile fails at once."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        assert proc is None or proc.poll() is None, f"mogrun exited before: {what}"
        time.sleep(step)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                             (signal.SIGHUP, 129)])  # a terminal closed
def test_signal_cancels_runs_this_invocation_started(emulator, tmp_path, signum, code):
    with running(spawn(emulator, tmp_path, "long")) as proc:
        (run_id,) = wait_following(emulator)
        out, err, _ = interrupt(proc, signum=signum)
    assert proc.returncode == code, (out, err)
    assert emulator.run_detail(run_id)["status"] == "cancelled"
    assert emulator.count("POST", f"/runs/{run_id}/cancel") == 1
    assert "Traceback" not in err
    history = subprocess.run([sys.executable, "-m", "mogrun", "--json", "history"],
                             cwd=tmp_path, capture_output=True, text=True,
                             env={**os.environ, "MOGPLEX_URL": emulator.url})
    assert f'"run_id": "{run_id}"' in history.stdout
    assert '"status": "cancelled"' in history.stdout
    assert f'"exit_code": {code}' in history.stdout


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGINT])
def test_a_signal_ignored_when_mogrun_started_stays_ignored(emulator, tmp_path, signum):
    """``nohup mogrun long`` (SIGHUP ignored), or ``mogrun long &`` in a script (the
    shell ignores Ctrl-C for it): mogrun put its own handler in, so the SSH session
    that dropped, or a Ctrl-C meant for the script's foreground, cancelled the runs
    the user had put out of the signal's reach. Python itself leaves them ignored."""
    proc = spawn(emulator, tmp_path, "long",
                 preexec_fn=lambda: signal.signal(signum, signal.SIG_IGN))
    with running(proc):
        (run_id,) = wait_following(emulator)
        proc.send_signal(signum)
        time.sleep(1.0)
        assert proc.poll() is None, proc.communicate()
        assert emulator.count("POST", f"/runs/{run_id}/cancel") == 0
        out, err, _ = interrupt(proc, signum=signal.SIGTERM)  # a signal it does take
    assert proc.returncode == 143, (out, err)
    assert emulator.run_detail(run_id)["status"] == "cancelled"


def test_a_closed_terminal_exits_129_not_74(emulator, tmp_path):
    """Closing the terminal (an SSH connection dropped) sends SIGHUP, and then every
    write to it fails (EIO): the live view's last frame raised out of the session,
    which exited 74 ("cannot write the output") while the history said 129. A
    ``kill -HUP`` with the terminal still there gave 129."""
    import fcntl
    import pty
    import termios

    (tmp_path / "mogplex.toml").write_text(HEADER + LONG_JOB)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MOGRUN_FILE", "GITHUB_ACTIONS", "MOGRUN_DISABLE_PLUGINS", "NO_COLOR")}
    env.update({"MOGPLEX_URL": emulator.url, "MOGPLEX_API_KEY": emulator.write_token,
                "MOGRUN_POLL_INTERVAL": "0.1", "TERM": "xterm"})
    terminal, screen = pty.openpty()

    def own_terminal() -> None:  # a session of its own, the pty its controlling terminal
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "mogrun", "long"], cwd=tmp_path, env=env,
                            stdin=screen, stdout=screen, stderr=subprocess.PIPE, text=True,
                            preexec_fn=own_terminal)
    os.close(screen)
    try:
        with running(proc):
            (run_id,) = wait_following(emulator)
            with contextlib.suppress(OSError):
                os.read(terminal, 65536)  # the live view is up
            os.close(terminal)  # the terminal window closed
            terminal = -1
            _, err = proc.communicate(timeout=30)
    finally:
        if terminal >= 0:
            os.close(terminal)
    assert proc.returncode == 129, err
    assert "SIGHUP" in err and "Traceback" not in err, err
    assert emulator.run_detail(run_id)["status"] == "cancelled"


def mogrun_after(emulator, tmp_path, *args):
    """A later ``python -m mogrun ARGS`` in the project, against ``emulator``."""
    env = {**os.environ, "MOGPLEX_URL": emulator.url, "MOGPLEX_API_KEY": emulator.write_token}
    env.pop("MOGRUN_FILE", None)
    return subprocess.run([sys.executable, "-m", "mogrun", *args], cwd=tmp_path,
                          capture_output=True, text=True, env=env)


@pytest.mark.parametrize(("command", "fate"), [("status", "status=cancelled duration=1.5s"),
                                               ("cancel", "duration=never")])
def test_an_interrupted_run_read_back_ended_keeps_its_signals_exit_code(
        emulator, tmp_path, command, fate):
    """The Ctrl-C's cancel did not get through, so the row was left going (exit 130).
    `status` (or `cancel`) later found the run cancelled and judged it: its outcome
    became `cancelled`, and its exit code 1, as if no Ctrl-C had ever ended it."""
    emulator.add_fault("cancel", "not_ready", count=1)  # the interrupt's cancel only
    job = f'[jobs.long]\nrepo = "acme/api"\nprompt = "@emulator {fate} interval=0.2s"\n'
    with running(spawn(emulator, tmp_path, "long", jobs=job)) as proc:
        (run_id,) = wait_following(emulator)
        out, err, _ = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    assert "the cancel did not get through" in err
    until(lambda: command == "cancel" or emulator.run_detail(run_id)["status"] == "cancelled",
          "the run ended on its own")
    later = mogrun_after(emulator, tmp_path, command, "long")
    assert later.returncode == 0, later
    (row,) = json_lines(mogrun_after(emulator, tmp_path, "--json", "history").stdout)
    assert (row["status"], row["outcome"], row["exit_code"]) == ("cancelled", "cancelled", 130)
    assert row["message"] == "interrupted; the cancel did not get through"


def test_signal_leaves_attached_runs_going(emulator, tmp_path):
    first = spawn(emulator, tmp_path, "run", "--detach", "long")
    assert first.wait(timeout=20) == 0, first.communicate()
    (run_id,) = emulator.runs
    with running(spawn(emulator, tmp_path, "long")) as proc:
        wait_following(emulator)
        deadline = time.monotonic() + 10
        while emulator.count("GET", f"/runs/{run_id}/events") == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        out, err, _ = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    assert f"attached to existing run {run_id}" in err
    assert emulator.count("POST", f"/runs/{run_id}/cancel") == 0
    assert emulator.run_detail(run_id)["status"] in ("pending", "streaming")


def test_second_ctrl_c_still_ends_the_json_stream_with_a_summary(emulator, tmp_path):
    """The stream ended on a status line: a script had only stderr's human text
    to find the runs left going."""
    emulator.add_fault("cancel", "delay", count=1, delay=5.0)
    jobs = LONG_JOB + '\n[jobs.quick]\nrepo = "acme/web"\nprompt = "@emulator duration=0.1s"\n'
    with running(spawn(emulator, tmp_path, "--json", "long", "quick", jobs=jobs)) as proc:
        wait_following(emulator, count=2)
        until(lambda: any(emulator.run_detail(r)["status"] == "success" for r in emulator.runs),
              "a run succeeded")
        time.sleep(0.5)  # quick's end is seen
        out, err, _ = interrupt(proc, times=2)
    assert proc.returncode == 130, (out, err)
    last = json_lines(out)[-1]
    assert last["type"] == "summary" and last["exit_code"] == 130, out
    by_job = {r["job"]: r for r in last["results"]}
    assert by_job["quick"]["outcome"] == "success" and not by_job["quick"]["left_going"]
    long_id = next(r for r in emulator.runs if emulator.run_detail(r)["status"] != "success")
    assert by_job["long"] == {**by_job["long"], "run_id": long_id, "left_going": True,
                              "outcome": "error", "message": "interrupted again; its cancel "
                              "was sent, not yet answered"}  # as stderr says, not "left going"


def test_second_ctrl_c_under_github_actions_still_gives_the_runs_ids(emulator, tmp_path):
    """$GITHUB_OUTPUT had run_ids= empty: the ids an `if: always()` step needs to
    cancel what was left going were only in the log's text."""
    emulator.add_fault("cancel", "delay", count=2, delay=5.0)
    jobs = LONG_JOB.replace('repo = "acme/api"', 'repo = ["acme/api", "acme/web"]')
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    with running(spawn(emulator, tmp_path, "long", jobs=jobs, **env)) as proc:
        runs = wait_following(emulator, count=2)
        out, err, _ = interrupt(proc, times=2)
    assert proc.returncode == 130, (out, err)
    outputs = dict(line.split("=", 1) for line in
                   (tmp_path / "output.txt").read_text().splitlines())
    assert sorted(outputs["run_ids"].split()) == sorted(runs), outputs
    assert outputs["exit_code"] == "130"
    assert (tmp_path / "summary.md").read_text().count("## mogrun") == 1
    # Each run left going is annotated, as a failed run is (there were none).
    errors = [line for line in out.splitlines() if line.startswith("::error ")]
    assert sorted(e.split("::", 2)[2].split(":", 1)[0] for e in errors) == [
        "long acme/api", "long acme/web"], out


def test_second_ctrl_c_exits_at_once_naming_runs_left_going(emulator, tmp_path):
    emulator.add_fault("cancel", "delay", count=1, delay=5.0)
    with running(spawn(emulator, tmp_path, "long")) as proc:
        (run_id,) = wait_following(emulator)
        # The second comes while the cancel is stuck in the emulator's delay.
        out, err, elapsed = interrupt(proc, times=2)
    assert proc.returncode == 130, (out, err)
    assert elapsed < 3.0
    # Its cancel went out and was not answered: not "left going", which it may not be.
    assert (f"cancel sent, not yet answered: {run_id} (long); see whether it ended with: "
            f"mogrun status {run_id}") in err
    assert "Traceback" not in err


def test_ctrl_c_while_a_start_waits_for_the_budget_starts_nothing_more(emulator, tmp_path):
    (tmp_path / "mogplex.toml").write_text(
        "[mogplex]\nstarts_per_minute = 1\n" + LONG_JOB
        + '\n[jobs.other]\nrepo = "acme/web"\nprompt = "@emulator duration=never"\n')
    env = subprocess_env(emulator)
    with running(subprocess.Popen(
            [sys.executable, "-m", "mogrun", "long", "other"], cwd=tmp_path, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)) as proc:
        (run_id,) = wait_following(emulator)
        time.sleep(0.3)  # the second start is now waiting for the start budget (1 a minute)
        out, err, elapsed = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    assert elapsed < 5.0
    # A start waiting for the budget was not sent: no run of it can exist.
    assert "start in flight" not in err and "left unanswered" not in err
    assert emulator.runs == [run_id]
    assert emulator.run_detail(run_id)["status"] == "cancelled"


def test_ctrl_c_while_a_lost_start_is_retried_finds_the_run_and_cancels_it(emulator, tmp_path):
    """The first answer is lost after the server created the run; the retry is held
    by a 503's Retry-After when Ctrl-C lands. mogrun does not know the run's id,
    but the same key finds it: it is cancelled, not reported as never started."""
    emulator.add_fault("start", "drop_after_commit")
    emulator.add_fault("start", "503", retry_after=20)
    with running(spawn(emulator, tmp_path, "long")) as proc:
        until(lambda: emulator.count("POST", "/runs", 503, path="/runs"), "the retry came")
        (run_id,) = emulator.runs
        out, err, _ = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    assert emulator.runs == [run_id]  # found by its key, never a second run
    assert emulator.run_detail(run_id)["status"] == "cancelled"
    assert "interrupted while its start was unanswered: the start (Idempotency-Key long-" in err
    assert f") is run {run_id}" in err
    assert "never started" not in out + err and "Traceback" not in err


def test_ctrl_c_while_a_dropped_start_is_retried_sends_it_once_more_only(emulator, tmp_path):
    """After the signal the start was sent 'once more' through a whole new retry
    cycle (retry 1 ... retry 5 again): 9 POSTs where the policy allows 6, and
    seconds more before the exit."""
    emulator.add_fault("start", "drop", count=50)
    with running(spawn(emulator, tmp_path, "long")) as proc:
        until(lambda: emulator.count("POST", "/runs", path="/runs") >= 2, "a retry", proc)
        before = emulator.count("POST", "/runs", path="/runs")
        out, err, elapsed = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    sent = emulator.count("POST", "/runs", path="/runs") - before
    assert sent <= 2, emulator.requests  # the attempt in flight, and the one look after
    assert "whether the run exists is unknown" in err
    assert elapsed < 5.0
    assert emulator.runs == []


def test_ctrl_c_during_a_cancels_retry_wait_exits_with_the_signals_code(emulator, tmp_path):
    """`mogrun cancel` said "sending no more cancels", then sent every retry of the
    one it was retrying (503s) and exited 69 some 14 s later, not 130."""
    detached = spawn(emulator, tmp_path, "run", "--detach", "long")
    assert detached.wait(timeout=20) == 0, detached.communicate()
    (run_id,) = emulator.runs
    emulator.add_fault("cancel", "503", count=50, retry_after=3)
    with running(spawn(emulator, tmp_path, "cancel", run_id)) as proc:
        until(lambda: emulator.count("POST", f"/runs/{run_id}/cancel"), "the first cancel", proc)
        time.sleep(0.3)  # in its retry's wait
        out, err, elapsed = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    assert elapsed < 2.0
    assert emulator.count("POST", f"/runs/{run_id}/cancel") == 1  # no retry after the signal
    assert f"cancel sent, not yet answered: {run_id} (long); see whether it ended with: " \
           f"mogrun status {run_id}" in err, err
    assert err.splitlines()[-1] == "exit code 130", err


def test_ctrl_c_in_a_503s_retry_wait_starts_no_run(emulator, tmp_path):
    """A start answered 503 (the server's limit service down: asked before any run
    is made) and held by its Retry-After when Ctrl-C lands: the start was sent
    again after the signal 'to find the run', made one, and cancelled it, where
    no run is to be started after a signal."""
    emulator.add_fault("start", "503", retry_after=30)
    with running(spawn(emulator, tmp_path, "long")) as proc:
        until(lambda: emulator.count("POST", "/runs", 503, path="/runs"), "the 503")
        time.sleep(0.5)  # in its retry wait
        out, err, _ = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    assert emulator.runs == [], err
    assert emulator.count("POST", "/runs", path="/runs") == 1, emulator.requests
    assert " run  -  started " not in out and "Traceback" not in err, out


def test_second_ctrl_c_closes_the_history_rows_of_runs_left_going(tmp_path):
    with Emulator(default_duration=0.5) as emulator:
        emulator.add_fault("cancel", "delay", count=1, delay=5.0)
        with running(spawn(emulator, tmp_path, "long")) as proc:
            (run_id,) = wait_following(emulator)
            out, err, _ = interrupt(proc, times=2)  # the cancel is stuck in its delay
        assert proc.returncode == 130, (out, err)
        history = subprocess.run(
            [sys.executable, "-m", "mogrun", "--json", "history"], cwd=tmp_path, text=True,
            capture_output=True, env={**os.environ, "MOGPLEX_URL": emulator.url,
                                      "MOGPLEX_API_KEY": emulator.write_token}, check=True)
    (row,) = json_lines(history.stdout)
    assert (row["run_id"], row["outcome"], row["exit_code"]) == (run_id, "error", 130)
    # Its cancel was sent and stuck: it may well be cancelled, and the row says so.
    assert row["message"] == "interrupted again; its cancel was sent, not yet answered"
    assert row["finished_at"]


def wait_start_in_flight(emulator, timeout=15.0):
    """Until the start is sent: the sandbox look-up comes just before it."""
    deadline = time.monotonic() + timeout
    while emulator.count("GET", "/sandboxes") == 0:
        assert time.monotonic() < deadline, "mogrun never came to its start"
        time.sleep(0.02)
    time.sleep(0.4)


def test_ctrl_c_while_a_start_is_unanswered_waits_for_it_and_cancels_its_run(
        emulator, tmp_path):
    """It said "no run started here is going, stopping", then sat silent until the
    start's read timeout (30 s), and sent the start again after the signal."""
    emulator.add_fault("start", "delay", delay=2.0)
    with running(spawn(emulator, tmp_path, "long")) as proc:
        wait_start_in_flight(emulator)
        out, err, elapsed = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    assert ("interrupted; waiting up to 10s for 1 start in flight to answer, to cancel "
            "what it started") in err
    assert "no run started here is going" not in err
    (run_id,) = emulator.runs
    assert emulator.run_detail(run_id)["status"] == "cancelled"
    assert emulator.count("POST", "/runs", path="/runs") == 1  # never sent again
    assert elapsed < 8.0


def test_second_ctrl_c_names_a_start_left_unanswered_with_its_key(emulator, tmp_path):
    """It said "no runs were left going" while the server went on to make the run."""
    emulator.add_fault("start", "delay", delay=3.0)
    with running(spawn(emulator, tmp_path, "long")) as proc:
        wait_start_in_flight(emulator)
        out, err, _ = interrupt(proc, times=2, gap=0.3, timeout=5)
    assert proc.returncode == 130, (out, err)
    assert "no runs were left going" not in err
    assert "left unanswered: the start of long (Idempotency-Key long-" in err
    assert "it may have made a run, left going" in err
    # Its row is closed as one signal closes it (it read "not started" for ever,
    # with no exit code), and rerun sends its key again: it attaches, never doubles.
    (row,) = json_lines(mogrun_after(emulator, tmp_path, "--json", "history").stdout)
    assert (row["run_id"], row["outcome"], row["exit_code"], row["message"]) == (
        None, "skipped", 130, "interrupted while its start was unanswered: it may have made "
        "a run")
    assert row["finished_at"]
    until(lambda: len(emulator.runs) == 1, "the delayed start made its run")
    rerun = mogrun_after(emulator, tmp_path, "rerun", "--detach")
    assert rerun.returncode == 0, rerun
    assert "was never answered, so it may have made a run" in rerun.stdout + rerun.stderr
    assert len(emulator.runs) == 1  # attached


def test_second_ctrl_c_masks_a_repo_named_from_env(emulator, tmp_path):
    """Its lines are printed outside every reporter, which mask job secrets."""
    emulator.add_fault("cancel", "delay", count=2, delay=5.0)
    # A fan-out: its runs are named job:repo there, as everywhere (a lone run: the job).
    jobs = LONG_JOB.replace('repo = "acme/api"', 'repo = ["{{ env.SECRET_REPO }}", "acme/web"]')
    with running(spawn(emulator, tmp_path, "long", SECRET_REPO="acme/api", jobs=jobs)) as proc:
        runs = wait_following(emulator, count=2)
        out, err, _ = interrupt(proc, times=2)  # the cancels are stuck in their delay
    run_id = next(r for r in runs if emulator.run_detail(r)["repoId"] == emulator.repo_id(
        "acme/api"))
    assert f"cancel sent, not yet answered: {run_id} (long:***)" in err, err
    assert "acme/api" not in out + err


def test_ctrl_c_after_a_run_ended_on_its_own_judges_it_with_its_gates(emulator, tmp_path):
    """The run ended before mogrun's first poll; Ctrl-C's cancel found it already
    ended. It was counted as passed, gates skipped, "cancel got through" said,
    and rerun never repeated it."""
    quick = """
[jobs.quick]
repo = "acme/api"
prompt = "@emulator duration=0.3s events=3"
gates = { max_duration = "100ms" }
"""
    with running(spawn(emulator, tmp_path, "--json", "quick", jobs=quick,
                       MOGRUN_POLL_INTERVAL="30")) as proc:  # no poll before the signal
        until(lambda: emulator.runs, "the run started", step=0.02)
        (run_id,) = emulator.runs
        until(lambda: emulator.run_detail(run_id)["status"] == "success", "the run ended")
        out, err, _ = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    assert f"run {run_id} had already ended (success); judged as it ended" in err
    assert "got through" not in err
    (result,) = json_lines(out)[-1]["results"]
    assert result["outcome"] == "gate_failed", result
    assert "longer than max_duration 100ms" in json.dumps(result["gates"])


def test_sigterm_on_an_automation_run_says_it_is_left_going_not_cancelled(tmp_path):
    """The public API has no cancel for automation runs: the first signal must not
    promise one, and the second names the run without a cancel command."""
    jobs = LONG_JOB + ('\n[jobs.triage]\nrepo = "acme/api"\nautomation = "triage"\n'
                       'input = { note = "@emulator duration=never" }\n')
    with Emulator(default_duration=0.5, automations=["triage"]) as emu:
        emu.add_fault("cancel", "delay", count=1, delay=5.0)  # the second signal comes first
        with running(spawn(emu, tmp_path, "run", "triage", "long", jobs=jobs)) as proc:
            until(lambda: emu.runs and emu.count("GET", f"/runs/{emu.runs[-1]}/events")
                  and any("/automations/" in r.path and r.method == "GET"
                          and "/runs/" in r.path for r in emu.requests),
                  "mogrun followed both")
            (run_id,) = emu.runs
            out, err, _ = interrupt(proc, signum=signal.SIGTERM, times=2, gap=1.0)
    assert proc.returncode == 143, (out, err)
    first = next(line for line in err.splitlines() if "SIGTERM" in line)
    assert first == ("warning: SIGTERM: cancelling 1 run started here; a second signal leaves "
                     "it going; 1 run started here cannot be cancelled (an automation run) "
                     "and is left going"), err
    left = sorted(line for line in err.splitlines()
                  if line.startswith(("left going: ", "cancel sent, ")))
    assert len(left) == 2, err
    assert (f"cancel sent, not yet answered: {run_id} (long); see whether it ended with: "
            f"mogrun status {run_id}") in left
    assert any(line.endswith("(triage); automation runs cannot be cancelled")
               for line in left), left
    assert "Traceback" not in err


SLOW_AUDIT = '''
import time
from mogrun.plugin import hookimpl

@hookimpl
def mogrun_event(event):
    print("audited", event.type, flush=True)
    time.sleep(1.0)  # an audit POST per event
'''


def test_one_ctrl_c_does_not_feed_the_backlog_through_a_slow_event_hook(emulator, tmp_path):
    """Each event the cancel caught up on went through the plugin's mogrun_event:
    12 events of a 20 s hook held one Ctrl-C for 4 minutes."""
    (tmp_path / "audit.py").write_text(SLOW_AUDIT)
    jobs = 'plugins = ["audit.py"]\n' + LONG_JOB.replace("interval=0.2s", "interval=0.05s")
    with running(spawn(emulator, tmp_path, "long", jobs=jobs)) as proc:  # after HEADER's table
        wait_following(emulator)
        time.sleep(1.5)  # the hook is busy, events pile up behind it
        out, err, took = interrupt(proc)
    assert proc.returncode == 130, err
    assert took < 5.0, (took, out)  # one hook call in flight at most, then out
    assert out.count("audited") <= 4, out


def killed_with_its_start_held(emulator, tmp_path, **spawned) -> str:
    """``mogrun long`` killed while the server holds its start, which then makes the
    run anyway: that run's id (the history has its key, no run id)."""
    emulator.add_fault("start", "delay", delay=2.0)
    with running(spawn(emulator, tmp_path, "long", **spawned)) as proc:
        wait_start_in_flight(emulator)
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while not emulator.runs:  # the server still answers the start it was holding
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (made,) = emulator.runs
    return made


def test_a_rerun_after_a_kill_with_the_start_unanswered_attaches_to_its_run(
        emulator, tmp_path):
    """mogrun was killed while its start was unanswered; the server made the run.
    The row held the key but no run id, and rerun sent a new key (~attempt-2):
    a second run of the same job, the first one followed by no one."""
    made = killed_with_its_start_held(emulator, tmp_path)
    with running(spawn(emulator, tmp_path, "rerun", "--detach")) as proc:
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (out, err)
    assert emulator.runs == [made], err
    # A killed mogrun's row cannot tell a start sent from one waiting for a slot: it
    # says "may have been sent" (it said "was never answered" of one never sent).
    assert ("may have been sent before its mogrun was killed, so it may have made a run: "
            "attempt 1 is sent again") in err
    assert f"attached to existing run {made}" in err


TIMED_JOB = """
[jobs.long]
repo = "acme/api"
# The time and a secret in the prompt: rendered again by the rerun, both differ.
prompt = "Started at {{ now }} for {{ env.TEAM_TOKEN }}\\n@emulator duration=never interval=0.2s"
"""


def test_a_rerun_sends_an_unanswered_start_again_with_the_request_it_sent(emulator, tmp_path):
    """The start's key was sent again with the prompt rendered anew: its {{ now }}
    (or {{ date }} after midnight) differed, the server refused the key with 409
    IDEMPOTENCY_CONFLICT ("the job's prompt changed"), and the next rerun made a
    second run under a new key. The request is the one recorded (its masked
    secret filled again from the environment)."""
    secret = {"TEAM_TOKEN": "tok-s3cr3t-value"}
    made = killed_with_its_start_held(emulator, tmp_path, jobs=TIMED_JOB, **secret)
    time.sleep(1.1)  # {{ now }} is another second now
    with running(spawn(emulator, tmp_path, "rerun", "--detach", jobs=TIMED_JOB,
                       **secret)) as proc:
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (out, err)
    assert emulator.runs == [made], err
    assert f"attached to existing run {made}" in err
    assert "tok-s3cr3t-value" not in out + err


NEEDS_JOBS = """
[jobs.up]
repo = "acme/api"
prompt = "@emulator duration=1.5s"

[jobs.down]
repo = "acme/web"
prompt = "@emulator duration=0.2s"
needs = ["up"]
"""


def test_a_run_waiting_for_its_needs_when_mogrun_is_killed_is_recorded(emulator, tmp_path):
    """Killed while ``down`` waited for ``up``: history had only ``up``'s row, so
    once ``up`` passed, rerun said every run of the invocation passed."""
    with running(spawn(emulator, tmp_path, "down", jobs=NEEDS_JOBS)) as proc:
        wait_following(emulator)
        proc.kill()
        proc.wait()
    with running(spawn(emulator, tmp_path, "--json", "history", jobs=NEEDS_JOBS)) as proc:
        out, err = proc.communicate(timeout=30)
    rows = {row["job"]: row for row in json_lines(out)}
    assert set(rows) == {"up", "down"}, (out, err)
    assert (rows["down"]["run_id"], rows["down"]["outcome"]) == (None, None)
    time.sleep(1.5)  # up ends on the server, passed
    with running(spawn(emulator, tmp_path, "rerun", jobs=NEEDS_JOBS)) as proc:
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (out, err)
    assert len(emulator.runs) == 2, err  # up was not started again; down was
    assert "nothing to rerun" not in err


def test_ctrl_c_while_a_detached_start_is_unanswered_cancels_its_run(emulator, tmp_path):
    """It said it waited for the start to cancel what it started, then detached the
    run the late answer named: left going, 'cancelled' nowhere."""
    emulator.add_fault("start", "delay", delay=2.0)
    with running(spawn(emulator, tmp_path, "run", "--detach", "long")) as proc:
        wait_start_in_flight(emulator)
        out, err, _ = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    (run_id,) = emulator.runs
    assert emulator.run_detail(run_id)["status"] == "cancelled", (out, err)
    assert f"cancel of run {run_id} got through" in err


TWO_DETACHED = """
[jobs.first]
repo = "acme/api"
prompt = "@emulator duration=never interval=0.2s"

[jobs.second]
repo = "acme/web"
prompt = "@emulator duration=never interval=0.2s"
"""


def test_ctrl_c_after_a_run_was_detached_says_it_stays_going(emulator, tmp_path):
    """The first signal said 'cancelling 1 run started here' of a run already handed
    over with --detach, which nothing then cancelled."""
    one_start = HEADER.replace("starts_per_minute = 100", "starts_per_minute = 1")
    with running(spawn(emulator, tmp_path, "run", "--detach", "-j", "2", "first", "second",
                       jobs=TWO_DETACHED, header=one_start)) as proc:
        # the first started; the second waits for the budget
        until(lambda: emulator.runs, "the first run started", proc)
        time.sleep(0.5)
        out, err, _ = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    assert "1 run already left going (--detach, a timeout) stays going" in err, err
    assert "cancelling" not in err, err
    (run_id,) = emulator.runs
    assert emulator.run_detail(run_id)["status"] != "cancelled"


def test_ctrl_c_after_a_local_run_was_detached_says_it_ends_with_mogrun(emulator, tmp_path):
    """Under --local the detach line says the run ends with mogrun's emulator; the
    first signal's line then said it "stays going"."""
    one_start = HEADER.replace("starts_per_minute = 100", "starts_per_minute = 1")
    with running(spawn(emulator, tmp_path, "--local", "run", "--detach", "-j", "2", "first",
                       "second", jobs=TWO_DETACHED, header=one_start)) as proc:
        until(lambda: (tmp_path / ".mogrun" / "history.db").exists(), "a run recorded", proc)
        time.sleep(2.0)  # the first started; the second waits a minute for the budget
        out, err, _ = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    assert "the --local emulator stops when mogrun exits" in out + err, (out, err)
    assert ("1 run already left going (--detach, a timeout) ends with the --local emulator "
            "as mogrun exits") in err, err
    assert "stays going" not in err, err


def test_the_first_signals_line_comes_before_a_cancel_refused_at_once(emulator, tmp_path):
    """A 429's pause leaves no room for the cancel, which fails without a request:
    its error line came before the line saying what the signal does."""
    emulator.add_fault("events", "429", count=1, retry_after=20)
    with running(spawn(emulator, tmp_path, "long")) as proc:
        until(lambda: emulator.count("GET", "/runs/", status=429), "a poll met the 429", proc)
        time.sleep(0.5)
        out, err, _ = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    said = err.index("cancelling 1 run started here")
    assert said < err.index("the cancel did not get through"), err


def test_ctrl_c_while_a_trigger_is_unanswered_says_its_run_is_left_going(tmp_path):
    """It said "no run started here is going, stopping", then reported the run the
    trigger made as started, and as left going since it cannot be cancelled."""
    with Emulator(default_duration=0.5, automations=["triage"]) as emulator:
        emulator.add_fault("trigger", "delay", delay=3.0)
        job = ('[jobs.triage]\t# the nightly triage\nrepo = "acme/api"\n'
               'automation = "triage"\ninput = { note = "@emulator duration=20s" }\n\n')
        with running(spawn(emulator, tmp_path, "triage", jobs=job)) as proc:
            until(lambda: emulator.count("GET", "/automations") > 0, "the look-up", proc)
            time.sleep(0.5)  # the trigger is now held in the emulator's delay
            out, err, elapsed = interrupt(proc)
        assert proc.returncode == 130, (out, err)
        assert ("interrupted; waiting up to 10s for 1 automation trigger in flight to "
                "answer: the run it makes cannot be cancelled and is left going") in err
        assert "no run started here is going" not in err
        (run_id,) = emulator.job_runs()
        assert emulator.job_run_detail(run_id)["status"] in ("pending", "running")
        assert elapsed < 8.0


def test_second_ctrl_c_after_a_cancel_got_through_records_the_run_cancelled(tmp_path):
    """The second signal came while the cancelled run's last events were read: stderr
    said the cancel got through and that no runs were left going, but the row said
    ``pending``/``error`` (left going). It says what was said: cancelled."""
    import threading

    with Emulator(default_duration=0.5) as emulator:
        with running(spawn(emulator, tmp_path, "long")) as proc:
            (run_id,) = wait_following(emulator)
            lines: list[str] = []
            reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
            reader.start()
            proc.send_signal(signal.SIGINT)
            # The cancel's catch-up (GET /runs/{id}/events) is held: the second signal
            # lands after "got through", before the worker writes the result.
            emulator.add_fault("events", "delay", count=5, delay=5.0)
            until(lambda: any("got through" in line for line in lines), "the cancel's line",
                  proc)
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)
            reader.join(timeout=5)
        assert proc.returncode == 130, lines
        assert any("no runs were left going" in line for line in lines), lines
        assert emulator.run_detail(run_id)["status"] == "cancelled"
        history = subprocess.run(
            [sys.executable, "-m", "mogrun", "--json", "history"], cwd=tmp_path, text=True,
            capture_output=True, env={**os.environ, "MOGPLEX_URL": emulator.url,
                                      "MOGPLEX_API_KEY": emulator.write_token}, check=True)
    (row,) = json_lines(history.stdout)
    assert (row["run_id"], row["status"], row["outcome"], row["exit_code"]) == (
        run_id, "cancelled", "cancelled", 130), row
    assert row["message"] == "interrupted" and row["finished_at"]


def test_sigterm_stops_logs_follow_as_it_stops_run(emulator, tmp_path):
    """``logs --follow`` had no SIGTERM handler: it died by the default action, with
    nothing said, no --json summary, exit -15 (run says why and exits 143)."""
    jobs = LONG_JOB.replace('idempotency_key = "long-{{ date }}"\n', "") + "\n# left going\n"
    spawn(emulator, tmp_path, "run", "long", "--detach", jobs=jobs).communicate(timeout=20)
    (run_id,) = emulator.runs
    with running(spawn(emulator, tmp_path, "--json", "logs", "--follow", "long",
                       jobs=jobs)) as proc:
        until(lambda: emulator.count("GET", f"/runs/{run_id}/events") > 1, "following", proc)
        out, err, _ = interrupt(proc, signum=signal.SIGTERM)
    assert proc.returncode == 143, (out, err)
    assert ("warning: SIGTERM: stopping following 1 run, left going (not started here); "
            "a second signal leaves at once") in err.splitlines(), err
    summary = json_lines(out)[-1]
    assert (summary["type"], summary["exit_code"]) == ("summary", 143), summary
    assert [r["run_id"] for r in summary["results"]] == [run_id]
    assert emulator.run_detail(run_id)["status"] not in ("cancelled", "success")  # going
    assert "Traceback" not in err


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_logs_follows_retry_wait_at_once_with_its_own_code(
        emulator, tmp_path, signum, code):
    """A poll answered 429 with a Retry-After of 30 s held the first signal for the
    whole of it, silent after "stopping following", and then exited 130 whatever
    the signal was: the wait ended by a signal said 130 (run ends it at once, 143)."""
    jobs = LONG_JOB.replace('idempotency_key = "long-{{ date }}"\n', "") + "\n# left going\n"
    spawn(emulator, tmp_path, "run", "long", "--detach", jobs=jobs).communicate(timeout=20)
    (run_id,) = emulator.runs
    emulator.add_fault("events", "429", count=4, retry_after=30)
    with running(spawn(emulator, tmp_path, "logs", "--follow", "long", jobs=jobs)) as proc:
        until(lambda: emulator.count("GET", f"/runs/{run_id}/events", status=429) > 0,
              "a 429 to wait out", proc)
        time.sleep(0.5)  # in its wait
        out, err, took = interrupt(proc, signum=signum)
    assert proc.returncode == code, (out, err)
    assert took < 10, (took, err)
    assert f"exit code {code}" in err.splitlines(), err


ONE_SLOW_THREE_QUICK = """
[jobs.slow]
repo = "acme/api"
prompt = "@emulator duration=never interval=0.2s"

[jobs.fan]
repo = ["acme/api", "acme/web", "acme/worker"]
prompt = "@emulator duration=0.3s"
"""


def test_logs_follow_stopped_counts_and_names_the_runs_still_going(emulator, tmp_path):
    """At Ctrl-C, ``logs --follow`` said it stopped following 4 runs when 3 had
    ended, and (plain output) never said which run was still going nor how to
    follow it, as ``run`` says it."""
    jobs = ONE_SLOW_THREE_QUICK
    spawn(emulator, tmp_path, "run", "--detach", "slow", "fan", jobs=jobs).communicate(timeout=20)
    # (the runs start side by side: which one came first is not known)
    listed, _ = spawn(emulator, tmp_path, "--json", "history", jobs=jobs).communicate(timeout=20)
    [slow] = [row["run_id"] for row in json_lines(listed) if row["job"] == "slow"]
    fan = [r for r in emulator.runs if r != slow]
    until(lambda: all(emulator.run_detail(r)["status"] == "success" for r in fan),
          "the fan-out's end")
    before = {r: emulator.count("GET", f"/runs/{r}") for r in fan}
    with running(spawn(emulator, tmp_path, "logs", "--follow", jobs=jobs)) as proc:
        # Each ended run read by this follower (a slow start-up under load took more
        # than the second this test once gave it), then a moment for its result line.
        until(lambda: all(emulator.count("GET", f"/runs/{r}") > before[r] for r in fan),
              "the ended runs read", proc)
        time.sleep(0.5)
        out, err, _ = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    assert err.splitlines() == [
        "warning: interrupted: stopping following 1 run, left going (not started here); "
        "a second signal leaves at once",
        f"still going: slow ({slow}); follow with: mogrun logs --follow {slow}",
        "exit code 130"], err
    assert out.count("  success  success") == 3, out


def test_logs_follow_stopped_before_its_first_poll_gives_the_status_recorded(
        emulator, tmp_path):
    # the result said "status": "" when the signal came in the first pause
    jobs = LONG_JOB.replace('idempotency_key = "long-{{ date }}"\n', "")
    spawn(emulator, tmp_path, "run", "long", "--detach", jobs=jobs).communicate(timeout=20)
    (run_id,) = emulator.runs
    asked = len(emulator.requests)
    with running(spawn(emulator, tmp_path, "--json", "logs", "--follow", "long", jobs=jobs,
                       MOGRUN_POLL_INTERVAL="60")) as proc:
        time.sleep(1.5)  # started, in its first pause (a minute)
        out, err, _ = interrupt(proc, signum=signal.SIGTERM)
    assert proc.returncode == 143, (out, err)
    assert emulator.count("GET", f"/runs/{run_id}/events") == 0, emulator.requests[asked:]
    summary = json_lines(out)[-1]
    assert summary["results"][0]["status"] == "pending", summary


QUICK_JOB = """
[jobs.quick]
repo = "acme/api"
prompt = "@emulator duration=0.3s"
"""


def test_logs_follow_of_a_run_recorded_ended_reads_it_at_once(emulator, tmp_path):
    """A run history recorded ended was followed as one going: a whole poll
    interval before its events were read, and a Ctrl-C in that pause said it
    stopped following 1 run "left going", "still going: ... follow with", and
    ``"left_going": true`` for a run that had ended (cancelled, success...)."""
    spawn(emulator, tmp_path, "quick", jobs=QUICK_JOB).communicate(timeout=20)
    (run_id,) = emulator.runs
    began = time.monotonic()
    done = spawn(emulator, tmp_path, "logs", "--follow", "quick", jobs=QUICK_JOB,
                 MOGRUN_POLL_INTERVAL="60")
    out, err = done.communicate(timeout=30)
    assert done.returncode == 0, (out, err)
    assert time.monotonic() - began < 20, (out, err)  # not the minute's pause
    emulator.add_fault("events", "delay", count=5, delay=30)  # its first poll hangs
    with running(spawn(emulator, tmp_path, "--json", "logs", "--follow", "quick",
                       jobs=QUICK_JOB)) as proc:
        time.sleep(3.0)  # (a request is counted once answered) started, its poll held
        out, err, _ = interrupt(proc, signum=signal.SIGTERM)
    assert proc.returncode == 143, (out, err)
    assert "left going" not in err and "still going" not in err, err
    assert err.splitlines()[0] == "warning: SIGTERM: stopping; no run followed is going", err
    (result,) = json_lines(out)[-1]["results"]
    assert (result["run_id"], result["status"], result["left_going"]) == (
        run_id, "success", False), result


FAN = """
[jobs.fan]
repo = ["acme/api", "acme/web", "acme/worker"]
prompt = "@emulator duration=never interval=0.2s"

"""


def test_ctrl_c_during_cancel_names_the_cancels_sent_and_not_sent(emulator, tmp_path):
    """Ctrl-C while ``cancel fan`` sent the first of three (slow) cancels said only
    "Interrupted." (130): not which runs were cancelled and which never were."""
    spawn(emulator, tmp_path, "run", "fan", "--detach", jobs=FAN).communicate(timeout=20)
    assert len(emulator.runs) == 3
    emulator.add_fault("cancel", "delay", count=3, delay=3.0)
    with running(spawn(emulator, tmp_path, "cancel", "fan", jobs=FAN)) as proc:
        # the emulator logs a request once answered: the second cancel is in flight
        until(lambda: any(r.path.endswith("/cancel") for r in emulator.requests),
              "a cancel answered", proc)
        time.sleep(0.5)  # its answer read, mogrun sends the next one (3 s to answer)
        out, err, _ = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    lines = err.splitlines()
    assert ("warning: interrupted: sending no more cancels; waiting for the answer to the "
            "cancel sent; 1 more not sent (a second signal leaves at once)") in lines, err
    [not_sent] = [line for line in lines if line.startswith("cancel not sent: ")]
    [left] = [r for r in emulator.runs if emulator.run_detail(r)["status"] != "cancelled"]
    assert not_sent == (f"cancel not sent: {left} (fan:acme/worker); cancel it with: "
                        f"mogrun cancel {left}"), err
    assert [line.split()[-1] for line in out.splitlines()] == ["cancelled"] * 2, out
    assert lines[-1] == "exit code 130", err
    assert "Interrupted." not in err and "Traceback" not in err


def test_second_ctrl_c_still_writes_the_junit_report(emulator, tmp_path):
    """--junit wrote no file when a second Ctrl-C left without waiting for the runs:
    the report a CI step uploads was missing exactly when a job was cut short."""
    emulator.add_fault("cancel", "delay", count=1, delay=5.0)
    jobs = (LONG_JOB + "\n# done before the Ctrl-C\n[jobs.quick]\nrepo = \"acme/web\"\n"
            'prompt = "@emulator duration=0.1s"\n\n'
            '[jobs.after]\nrepo = "acme/worker"\nprompt = "x"\nneeds = ["long"]\n\n')
    report = tmp_path / "reports" / "junit.xml"
    with running(spawn(emulator, tmp_path, "--junit", "reports/junit.xml", "long", "quick",
                       "after", jobs=jobs)) as proc:
        wait_following(emulator, count=2)
        until(lambda: any(emulator.run_detail(r)["status"] == "success" for r in emulator.runs),
              "a run succeeded", proc)
        time.sleep(0.5)  # quick's end is seen
        out, err, elapsed = interrupt(proc, times=2)
    assert proc.returncode == 130, (out, err)
    assert elapsed < 3.0, err  # it still leaves at once
    cases = {case.get("classname"): case for case in ET.parse(report).iter("testcase")}
    assert sorted(cases) == ["after", "long", "quick"], report.read_text()
    assert [child.tag for child in cases["quick"]] == ["properties"]  # it passed
    [error] = cases["long"].findall("error")
    assert error.get("message") == ("error: interrupted again; its cancel was sent, "
                                    "not yet answered")
    assert cases["after"].find("skipped") is not None  # skipped at the first signal
    assert "Traceback" not in err


SLOW_END = '''
import time

from mogrun.plugin import hookimpl

@hookimpl
def mogrun_session_finished():
    time.sleep(3)  # a notifier's deliveries, say
'''


def test_a_slow_plugin_end_after_a_second_ctrl_c_is_said_with_the_way_out(emulator, tmp_path):
    """The second signal still gives the plugins their end of session (the JUnit
    report): one that takes a while is said, naming the one more Ctrl-C that
    leaves without it, not a silent wait after "exits at once"."""
    emulator.add_fault("cancel", "delay", count=1, delay=5.0)  # the run is still going
    (tmp_path / "slow_end.py").write_text(SLOW_END)
    header = HEADER.replace("[mogplex]\n", '[mogplex]\nplugins = ["slow_end.py"]\n', 1)
    assert header != HEADER
    with running(spawn(emulator, tmp_path, "long", header=header)) as proc:
        wait_following(emulator)
        out, err, _elapsed = interrupt(proc, times=2)
    assert proc.returncode == 130, (out, err)
    assert ("waiting for plugin slow_end to finish its end-of-session work (such as "
            "notifications being delivered); no end is known: one more Ctrl-C leaves "
            "without it") in out + err, (out, err)
    assert "Traceback" not in err


def test_a_signal_while_a_failed_start_waits_for_its_retry_waits_for_its_run(emulator,
                                                                            tmp_path):
    """Between a start's 500 and its retry the key was no longer "on the wire", so
    SIGTERM said "no run started here is going, stopping", then sent the start once
    more (to find the run a 500 may have stored) and cancelled what it made. The
    run may exist through the pause: the signal's line says it waits for it."""
    emulator.add_fault("start", "500", count=1, retry_after=8)
    with running(spawn(emulator, tmp_path, "long")) as proc:
        until(lambda: emulator.count("POST", "/runs", status=500), "the start's 500", proc)
        time.sleep(0.5)  # in the retry's 8 s pause
        out, err, elapsed = interrupt(proc, signum=signal.SIGTERM)
    assert proc.returncode == 143, (out, err)
    assert "no run started here is going" not in err, err
    assert ("SIGTERM; waiting up to 10s for 1 start in flight to answer, to cancel what it "
            "started") in err, err
    (run_id,) = emulator.runs  # the last look made it (the 500 stored nothing)
    assert emulator.run_detail(run_id)["status"] == "cancelled"
    assert elapsed < 8.0


def test_logs_follow_of_a_fan_out_another_mogrun_still_starts_does_not_pass_it(
        emulator, tmp_path):
    """While `mogrun -j 1 fan` here had started one of its three runs, `logs --follow
    fan` followed that one, said nothing of the others and exited 0; the fan-out
    then failed. The runs still to start are named, and the follow exits 1."""
    jobs = ('[jobs.fan]\nrepo = ["acme/api", "acme/web", "acme/worker"]\n'
            'prompt = "@emulator duration=1.5s"\n')
    with running(spawn(emulator, tmp_path, "-j", "1", "fan", jobs=jobs)) as first:
        until(lambda: len(emulator.runs) == 1, "the first start", first)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token,
                   MOGRUN_POLL_INTERVAL="0.1", NO_COLOR="1")
        follow = subprocess.run([sys.executable, "-m", "mogrun", "--json", "logs", "--follow",
                                 "fan"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=60)
        first.communicate(timeout=60)
    assert follow.returncode == 1, follow
    said = [o for o in json_lines(follow.stdout) if o["type"] == "not_started"]
    assert said and all(o["message"].startswith("no run to show yet: mogrun (pid ")
                        for o in said), follow.stdout
    summary = json_lines(follow.stdout)[-1]
    assert summary["exit_code"] == 1, summary
    assert "waiting" in {r["status"] for r in summary["results"]}, summary


def test_cancel_of_a_fan_out_another_mogrun_still_starts_names_the_rest(emulator, tmp_path):
    """`cancel fan` while `mogrun -j 1 fan` here had started one of three runs said
    only that one was cancelled and exited 0; that mogrun then started the rest."""
    jobs = ('[jobs.fan]\nrepo = ["acme/api", "acme/web", "acme/worker"]\n'
            'prompt = "@emulator duration=1.5s"\n')
    with running(spawn(emulator, tmp_path, "-k", "-j", "1", "fan", jobs=jobs)) as first:
        until(lambda: len(emulator.runs) == 1, "the first start", first)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token, NO_COLOR="1")
        cancel = subprocess.run([sys.executable, "-m", "mogrun", "cancel", "fan"], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=60)
        first.send_signal(signal.SIGINT)  # as the warning says: it starts nothing more
        first.communicate(timeout=60)
    assert cancel.returncode == 1, cancel
    named = [line for line in cancel.stderr.splitlines() if "not started yet" in line]
    assert len(named) == 2, cancel.stderr
    assert f"kill -INT {first.pid}" in named[0], named


HANGING_END = '''
import time

from mogrun.plugin import hookimpl

@hookimpl
def mogrun_session_finished():
    time.sleep(60)  # a webhook that never answers, say
'''


def test_a_first_signal_during_a_slow_plugin_end_says_the_wait_again(emulator, tmp_path):
    """A first Ctrl-C while a plugin's end of session went on said "stopping", and then
    nothing while mogrun went on waiting for the plugin: the wait is said again, its
    way out now one more Ctrl-C, which leaves."""
    (tmp_path / "hang_end.py").write_text(HANGING_END)
    header = HEADER.replace("[mogplex]\n", '[mogplex]\nplugins = ["hang_end.py"]\n', 1)
    quick = '[jobs.quick]\nrepo = "acme/api"\nprompt = "@emulator duration=0.2s"\n'
    with running(spawn(emulator, tmp_path, "quick", jobs=quick, header=header)) as proc:
        until(lambda: emulator.runs and emulator.run_detail(emulator.runs[0])["status"]
              == "success", "the run ended", proc)
        time.sleep(2.5)  # its end seen, the plugin's end said as a wait
        proc.send_signal(signal.SIGINT)
        time.sleep(1.0)
        out, err, elapsed = interrupt(proc)
    assert proc.returncode == 130, (out, err)
    assert elapsed < 3.0, err
    assert "interrupted; no run started here is going, stopping" in err, err
    twice = out.index("work (such as notifications being delivered); no end is known: "
                      "Ctrl-C twice leaves without it")  # (waits are said on stdout)
    assert out.index("no end is known: one more Ctrl-C leaves without it") > twice, out


@pytest.mark.parametrize("endpoint", ["run", "events"])
def test_logs_follow_stopped_while_a_poll_waits_says_the_stop_once(emulator, tmp_path,
                                                                   endpoint):
    """A Ctrl-C that cut a poll short added "error: interrupted while a poll waited for
    the server" to the interrupt's own warning, and one in a pause did not: the same
    key press read as a failure of the server half the time."""
    spawn(emulator, tmp_path, "run", "long", "--detach").communicate(timeout=20)
    (run_id,) = emulator.runs
    emulator.add_fault(endpoint, "delay", count=100, delay=30.0)  # every poll hangs
    with running(spawn(emulator, tmp_path, "logs", "--follow", "long")) as proc:
        time.sleep(2.0)  # its first poll sent, waiting for the answer
        out, err, _ = interrupt(proc)
    emulator.clear_faults()
    assert proc.returncode == 130, (out, err)
    assert err.splitlines() == [
        "warning: interrupted: stopping following 1 run, left going (not started here); "
        "a second signal leaves at once",
        f"still going: long ({run_id}); follow with: mogrun logs --follow {run_id}",
        "exit code 130"], err


CHATTY = f"""
[jobs.chatty]
repo = "acme/worker"
prompt = "@emulator duration=never interval=5ms message={'x' * 4000}"
"""


@pytest.mark.parametrize("output", [(), ("--json",)])
def test_a_reader_that_stopped_reading_holds_no_cancel(emulator, tmp_path, output):
    """With stdout a pipe nobody read (``| less`` left waiting, a stalled log shipper,
    ``timeout N mogrun JOB | slow``), the thread writing a batch blocked holding the
    reporter's lock, and with it the run's thread and the signal's notice: SIGTERM
    said "cancelling" and sent no cancel until the reader read again."""
    with running(spawn(emulator, tmp_path, *output, "chatty", jobs=CHATTY)) as proc:
        (run_id,) = wait_following(emulator)
        # Each poll brings dozens of events of 4 KB: the pipe's 64 KiB fill at once.
        until(lambda: emulator.count("GET", f"/runs/{run_id}/events") >= 3, "three polls", proc)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        until(lambda: emulator.run_detail(run_id)["status"] == "cancelled",
              "the run cancelled while stdout is not read", proc, timeout=10.0)
        out, err = proc.communicate(timeout=20)  # the reader reads again: all of it
    assert proc.returncode == 143, err
    assert "cancelling 1 run started here" in err, err
    # Nothing written was lost: the events, then the session's end, whole.
    last = out.splitlines()[-1]
    assert "x" * 1000 in out, len(out)
    assert (json.loads(last)["type"] == "summary") if output else last == "exit code 143", last


QUICK_FAN = """
[jobs.fan]
repo = ["acme/api", "acme/web", "acme/worker"]
prompt = "@emulator duration=0.2s"
"""


def test_sigterm_while_status_asks_shows_what_it_learnt(emulator, tmp_path):
    """A SIGTERM (CI cancelling the job) while status asked the going runs killed it
    by the default action: no row at all, exit -15. It shows the runs asked as learnt
    and the others as last recorded, says so, and exits 143, as a Ctrl-C does (130).
    A request limit of 1 a minute holds the second run's request in the budget, where
    the signal finds it."""
    spawn(emulator, tmp_path, "run", "--detach", "fan", jobs=QUICK_FAN).communicate(timeout=20)
    until(lambda: all(emulator.run_detail(r)["status"] == "success" for r in emulator.runs),
          "the runs ended")
    asked = emulator.count("GET", "/runs/")
    with running(spawn(emulator, tmp_path, "--json", "status", "fan", jobs=QUICK_FAN,
                       header="[mogplex]\nrequests_per_minute = 1\n")) as proc:
        until(lambda: emulator.count("GET", "/runs/") > asked, "the first run asked", proc)
        out, err, took = interrupt(proc, signum=signal.SIGTERM)
    assert proc.returncode == 143, (out, err)
    assert took < 10, (took, err)
    rows = json_lines(out)
    assert [row["repo"] for row in rows] == ["acme/api", "acme/web", "acme/worker"]
    assert sorted(row["status"] for row in rows) == ["pending", "pending", "success"], rows
    assert ("warning: SIGTERM: 2 of the 3 going runs were not asked; they are shown as last "
            "recorded") in err.splitlines(), err
    assert "Traceback" not in err


def test_a_second_signal_leaves_status_without_the_answers_in_flight(emulator, tmp_path):
    """The first signal waits for the answers on their way (each is a run learnt);
    against a server that holds them, a second one leaves at once: every run shown
    as last recorded, the signal's exit code."""
    import urllib.request

    def faults_left() -> int:
        with urllib.request.urlopen(f"{emulator.url}/_emulator/faults", timeout=5) as answer:
            return sum(fault["remaining"] for fault in json.load(answer))

    spawn(emulator, tmp_path, "run", "--detach", "fan", jobs=QUICK_FAN).communicate(timeout=20)
    emulator.add_fault("events", "delay", count=3, delay=60)
    with running(spawn(emulator, tmp_path, "--json", "status", "fan", jobs=QUICK_FAN)) as proc:
        until(lambda: faults_left() == 0, "the three runs asked", proc)
        out, err, took = interrupt(proc, signum=signal.SIGTERM, times=2, gap=1.0)
    assert proc.returncode == 143, (out, err)
    assert took < 10, (took, err)
    assert [row["status"] for row in json_lines(out)] == ["pending"] * 3, out
    lines = err.splitlines()
    assert ("warning: SIGTERM: asking no more runs; an answer on its way is waited for (a "
            "second signal leaves at once)") in lines, err
    assert ("warning: SIGTERM: 3 of the 3 going runs were not asked; they are shown as last "
            "recorded") in lines, err
