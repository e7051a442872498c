"""What the history says of runs whose mogrun was killed (SIGKILL: no handler ran),
or is still running in another terminal: ``status``, ``history``, ``logs`` and
``rerun`` agree on each row, and every row of a run learns its end. Real
``python -m mogrun`` processes against the emulator."""

from __future__ import annotations

import subprocess
import sys
import time

from mogrun.emulator import Emulator

from .conftest import json_lines
from .test_signals import mogrun_after, running, spawn, until, wait_following

KEYED = """
[jobs.long]
repo = "acme/api"
prompt = "@emulator duration=3s interval=0.2s"
idempotency_key = "long-fixed"
"""


def killed(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.communicate(timeout=10)


def test_a_start_unanswered_when_mogrun_was_killed_shows_unconfirmed(tmp_path):
    """SIGKILL while the server held the start: the row has a key, no run id and no
    outcome. status and history said ``not started`` (no note) while rerun rightly
    sent the same key again, for the run may exist."""
    with Emulator(default_duration=0.5) as emulator:
        emulator.add_fault("start", "delay", delay=3.0)
        with running(spawn(emulator, tmp_path, "long", jobs=KEYED)) as proc:
            until(lambda: emulator.count("GET", "/sandboxes") > 0, "the start is sent", proc)
            time.sleep(1.0)
            killed(proc)
        status = mogrun_after(emulator, tmp_path, "status", "long")
        history = mogrun_after(emulator, tmp_path, "history")
        (shown,) = json_lines(mogrun_after(emulator, tmp_path, "--json", "status").stdout)
    assert "unconfirmed" in status.stdout and "not started" not in status.stdout, status
    assert "its start may have made a run whose id is unknown" in status.stdout, status
    assert "rerun sends its Idempotency-Key (long-fixed) again" in status.stdout, status
    assert "unconfirmed" in history.stdout and "not started" not in history.stdout, history
    assert shown["note"] and "may have made a run" in shown["note"], shown
    assert shown["status"] == "unconfirmed", shown  # not a null read as "never started"
    assert "Traceback" not in status.stderr + history.stderr


def needs_jobs(up: str, down: str) -> str:
    return f"""
[jobs.a]
repo = "acme/api"
prompt = "@emulator duration={up}"

[jobs.b]
repo = "acme/web"
prompt = "@emulator {down} duration=0.2s"
needs = ["a"]
"""


def test_a_run_killed_while_it_waited_for_its_needs_shows_not_started(tmp_path):
    """Its row never got a key: nothing was sent, so it is not ``unconfirmed``."""
    with Emulator(default_duration=0.5) as emulator:
        with running(spawn(emulator, tmp_path, "b", jobs=needs_jobs("5s", ""))) as proc:
            wait_following(emulator)
            killed(proc)
        status = mogrun_after(emulator, tmp_path, "status", "b")
    assert "not started" in status.stdout and "unconfirmed" not in status.stdout, status


def test_logs_follow_of_a_run_still_to_start_says_so_not_an_older_result(tmp_path):
    """b's latest invocation waits for a: ``logs --follow b`` showed the previous
    invocation's run of b and exited 0 on its success, while this one's b (now
    failing) was yet to start. It says what ``cancel b`` says, and exits as it."""
    with Emulator(default_duration=0.5) as emulator:
        with running(spawn(emulator, tmp_path, "b", jobs=needs_jobs("0.2s", ""))) as first:
            first.communicate(timeout=30)
        assert first.returncode == 0
        with running(spawn(emulator, tmp_path, "b",
                           jobs=needs_jobs("5s", "status=failed"))) as proc:
            wait_following(emulator, count=3)  # a's, b's (passed), then a's again
            logs = mogrun_after(emulator, tmp_path, "logs", "--follow", "b")
            cancel = mogrun_after(emulator, tmp_path, "cancel", "b")
            plain = mogrun_after(emulator, tmp_path, "logs", "b")
            assert proc.poll() is None  # all of it while b was still to start
    said = f"'b' has not started yet: mogrun (pid {proc.pid}) on this machine is waiting"
    assert said in cancel.stderr, cancel
    assert f"kill -INT {proc.pid}" in cancel.stderr, cancel  # cancel's way: stop it
    assert "logs --follow b follows it here" in logs.stderr, logs  # logs': wait for it
    for result in (logs, plain):
        assert result.returncode == cancel.returncode != 0, result
        assert said in result.stderr, result
        assert "succeeded" not in result.stdout + result.stderr, result
        assert "Traceback" not in result.stderr


LOCAL = """
[jobs.long]
repo = "acme/api"
prompt = "@emulator duration=8s interval=0.2s"
"""


def history_json(tmp_path, *args: str) -> list[dict]:
    found = subprocess.run([sys.executable, "-m", "mogrun", "--local", "--json", "history",
                            *args], cwd=tmp_path, capture_output=True, text=True, check=True)
    return json_lines(found.stdout)


def test_a_local_rerun_holds_a_run_another_local_mogrun_still_follows(tmp_path):
    """``--local rerun`` started a second run of the one a live ``--local`` mogrun
    was following (exit 0): --local runs were never held, as those of a dead
    mogrun are gone with its emulator. Without --local the same is held (exit 1)."""
    with Emulator() as unused:  # spawn's URL: --local never asks it
        with running(spawn(unused, tmp_path, "--local", "long", jobs=LOCAL)) as proc:
            until(lambda: any(row["run_id"] for row in history_json(tmp_path)),
                  "the --local run started", proc)
            rerun = mogrun_after(unused, tmp_path, "--local", "rerun")
            alive = proc.poll() is None
        assert unused.runs == []
    assert rerun.returncode == 1, rerun
    assert alive  # it was still following its run
    assert f"followed by mogrun (pid {proc.pid}) on this machine" in rerun.stderr, rerun
    assert "nothing to rerun now" in rerun.stderr, rerun
    assert "Traceback" not in rerun.stderr
    started = [row for row in history_json(tmp_path) if row["run_id"]]
    assert len(started) == 1, started  # the first run, no second


def test_local_logs_follow_and_cancel_name_the_mogrun_that_follows_the_run(tmp_path):
    """While a --local mogrun still followed its run, ``--local logs --follow`` said
    "there is nothing left to follow" and ``cancel`` that --local runs "live only
    inside the invocation that started them": both as if the run were gone. They
    name that mogrun now, and what to do (rerun already did)."""
    with Emulator() as unused, running(  # spawn's URL: --local never asks it
            spawn(unused, tmp_path, "--local", "long", jobs=LOCAL)) as proc:
        until(lambda: any(row["run_id"] for row in history_json(tmp_path)),
              "the --local run started", proc)
        follow = mogrun_after(unused, tmp_path, "--local", "logs", "--follow", "long")
        named = mogrun_after(unused, tmp_path, "-f", "mogplex.toml", "--local", "logs",
                             "--follow", "long")
        cancel = mogrun_after(unused, tmp_path, "--local", "cancel", "long")
        alive = proc.poll() is None
    assert alive  # it was still following its run
    (run_id,) = [row["run_id"] for row in history_json(tmp_path) if row["run_id"]]
    going = (f"Error: long: run {run_id} is going in the --local emulator of mogrun "
             f"(pid {proc.pid}) on this machine; only that mogrun can ")
    assert (follow.returncode, follow.stderr.splitlines()) == (2, [
        going + "follow it: its output is where that mogrun runs",
        "Its events so far: mogrun --local logs long"]), follow
    # The command it suggests finds the same file, as every suggested command does.
    assert named.stderr.splitlines()[-1] == (
        "Its events so far: mogrun -f mogplex.toml --local logs long"), named
    assert (cancel.returncode, cancel.stderr.splitlines()) == (2, [
        going + "cancel it",
        f"Stop that mogrun (Ctrl-C there, or kill -INT {proc.pid}): it cancels what it "
        "started."]), cancel
    gone = mogrun_after(unused, tmp_path, "--local", "logs", "--follow", "long")
    assert gone.returncode == 2 and "there is nothing left to follow" in gone.stderr, gone


def test_a_local_rerun_still_reruns_a_run_whose_mogrun_was_killed(tmp_path):
    """Its emulator ended with it: the run is gone, so it starts again."""
    with Emulator() as unused, running(spawn(unused, tmp_path, "--local", "long",
                                             jobs=LOCAL)) as proc:
        until(lambda: any(row["run_id"] for row in history_json(tmp_path)),
              "the --local run started", proc)
        killed(proc)
        rerun = mogrun_after(unused, tmp_path, "--local", "rerun", "--detach")
    assert rerun.returncode == 0, rerun
    assert len([row for row in history_json(tmp_path) if row["run_id"]]) == 2


def test_a_killed_followers_row_learns_the_end_another_invocation_saw(tmp_path):
    """SIGKILL while following; a second ``mogrun long`` (same key) attached to the
    run and saw it end, but the killed invocation's row read ``streaming`` for good."""
    with Emulator(default_duration=0.5) as emulator:
        with running(spawn(emulator, tmp_path, "long", jobs=KEYED)) as proc:
            (run_id,) = wait_following(emulator)
            killed(proc)
        again = mogrun_after(emulator, tmp_path, "long")
        assert again.returncode == 0, again
        assert f"attached to existing run {run_id}" in again.stderr + again.stdout, again
        rows = json_lines(mogrun_after(emulator, tmp_path, "--json", "history").stdout)
    assert [row["run_id"] for row in rows] == [run_id, run_id], rows
    attached, killed_row = rows  # newest first
    assert attached["attached"] and not killed_row["attached"], rows
    for row in rows:
        assert (row["status"], row["outcome"], row["exit_code"]) == ("success", "success", 0)
        assert row["finished_at"], row


def test_an_unconfirmed_row_learns_the_run_a_rerun_finds_under_its_key(tmp_path):
    """The rerun sent the key again and attached to the run the killed mogrun's start
    had made, which passed; the killed one's row still said unconfirmed, for ever."""
    with Emulator(default_duration=0.5) as emulator:
        emulator.add_fault("start", "delay", delay=2.0)
        with running(spawn(emulator, tmp_path, "long", jobs=KEYED)) as proc:
            until(lambda: emulator.count("GET", "/sandboxes") > 0, "the start is sent", proc)
            time.sleep(0.5)
            killed(proc)
        until(lambda: emulator.runs, "the run the start made")
        rerun = mogrun_after(emulator, tmp_path, "rerun")
        assert rerun.returncode == 0, rerun
        assert "attached to existing run" in rerun.stdout + rerun.stderr, rerun
        rows = json_lines(mogrun_after(emulator, tmp_path, "--json", "history").stdout)
    (run_id,) = emulator.runs
    assert len(rows) == 2, rows
    assert all(row["run_id"] == run_id and row["status"] == "success" for row in rows), rows
