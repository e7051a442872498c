"""A stalled server meets a job's timeout or a signal: the exit stays bounded.

A real ``python -m mogrun`` against the emulator, its endpoints held by faults
for longer than any grace mogrun gives them (the request timeout is 30 s)."""

from __future__ import annotations

import signal
import time

import pytest

from mogrun.emulator import Emulator

from .conftest import json_lines
from .test_signals import interrupt, mogrun_after, running, spawn, until

# A run that never ends by itself, as a user writes it (a comment, a blank line).
TIMED_JOB = """
[jobs.long]
repo = "acme/api"   # the one repo
timeout = "3s"
prompt = \"\"\"
long
@emulator duration=never interval=1s
\"\"\"

"""


@pytest.fixture
def emulator():
    with Emulator() as emu:
        yield emu


def finish(proc, timeout=40.0):
    """(stdout, stderr, seconds until ``proc`` exited)."""
    began = time.monotonic()
    out, err = proc.communicate(timeout=timeout)
    return out, err, time.monotonic() - began


@pytest.mark.parametrize("faults", [
    [("cancel", 1)],  # the cancel is held 40 s
    [("events", 3), ("cancel", 3)],  # every poll and every cancel sent is held 40 s
])
def test_a_timeout_holds_when_its_cancel_stalls(emulator, tmp_path, faults):
    """The cancel at the timeout had no deadline: nothing was said from the timeout
    on, the cancel waited its 30 s read timeout (and was sent again, four times in
    all), and its run was then judged `cancelled` instead of timed out."""
    for endpoint, count in faults:
        emulator.add_fault(endpoint, "delay", count=count, delay=40.0)
    with running(spawn(emulator, tmp_path, "--json", "long", jobs=TIMED_JOB)) as proc:
        out, err, elapsed = finish(proc)
    assert proc.returncode == 1, (out, err)
    assert elapsed < 20.0, (elapsed, err)
    (run_id,) = emulator.runs
    assert f"long: timed out after 3s; cancelling run {run_id} (waiting up to 10s" in err
    assert "the cancel did not get through" in err
    summary = json_lines(out)[-1]
    assert summary["type"] == "summary"
    assert [r["outcome"] for r in summary["results"]] == ["timeout"]
    (row,) = json_lines(mogrun_after(emulator, tmp_path, "--json", "history").stdout)
    assert (row["run_id"], row["outcome"]) == (run_id, "timeout")


def test_a_timeout_whose_cancel_finds_the_run_cancelled_is_still_a_timeout(
        emulator, tmp_path):
    """The timeout's cancel is told the run is no longer active, and the run reads
    back cancelled (an earlier send of the cancel got through, its answer lost): it
    was judged as a run that ended on its own, and failed as `cancelled`."""
    emulator.add_fault("cancel", "conflict")
    job = TIMED_JOB.replace("duration=never", "status=cancelled duration=never")
    with running(spawn(emulator, tmp_path, "long", jobs=job)) as proc:
        out, err, _ = finish(proc)
    assert proc.returncode == 1, (out, err)
    (run_id,) = emulator.runs
    assert emulator.run_detail(run_id)["status"] == "cancelled"
    assert f"long: timed out after 3s; cancelled run {run_id}" in err
    (row,) = json_lines(mogrun_after(emulator, tmp_path, "--json", "history").stdout)
    assert (row["outcome"], row["exit_code"]) == ("timeout", 1)


def test_a_signal_during_the_repo_look_up_exits_at_once(emulator, tmp_path):
    """The look-up of the job's repo waited out its 30 s read timeout after Ctrl-C."""
    emulator.add_fault("repos", "delay", count=5, delay=60.0)
    with running(spawn(emulator, tmp_path, "long", jobs=TIMED_JOB)) as proc:
        time.sleep(2.0)  # the look-up is held in the emulator's delay
        out, err, elapsed = interrupt(proc, timeout=40.0)
    assert proc.returncode == 130, (out, err)
    assert elapsed < 8.0, (elapsed, err)
    assert "interrupted; no run started here is going, stopping" in err
    assert emulator.runs == [] and "Traceback" not in err


def test_a_signal_during_the_sandbox_listing_starts_nothing_and_says_so(emulator, tmp_path):
    """The listing waited out its 30 s read timeout after the SIGTERM, was then taken
    for a server that cannot list sandboxes ("starting without knowing the free
    slots"), and the job said its start was unanswered though none was sent."""
    emulator.add_fault("sandboxes", "delay", count=2, delay=60.0)
    with running(spawn(emulator, tmp_path, "long", jobs=TIMED_JOB)) as proc:
        until(lambda: emulator.count("GET", "/repos") > 0, "the repo was looked up", proc)
        time.sleep(1.0)  # the listing is held in the emulator's delay
        out, err, elapsed = interrupt(proc, signum=signal.SIGTERM, timeout=40.0)
    assert proc.returncode == 143, (out, err)
    assert elapsed < 8.0, (elapsed, err)
    assert "starting without knowing" not in err
    assert "unanswered" not in err and "Idempotency-Key" not in err
    assert emulator.count("POST", path="/runs") == 0 and emulator.runs == []
    (row,) = json_lines(mogrun_after(emulator, tmp_path, "--json", "history").stdout)
    assert (row["outcome"], row["exit_code"]) == ("skipped", 143)
    assert row["message"] == "interrupted before it started"


def test_a_start_in_flight_at_a_signal_says_when_it_is_given_up(emulator, tmp_path):
    """The wait for the start's answer said "given up 30s after it was sent; ends in
    25s" after the signal, though the start is given up 10 s after the signal."""
    emulator.add_fault("start", "delay", delay=40.0)
    with running(spawn(emulator, tmp_path, "long", jobs=TIMED_JOB)) as proc:
        until(lambda: emulator.count("GET", "/sandboxes") > 0, "the start was sent", proc)
        time.sleep(1.0)  # the start is held in the emulator's delay
        out, err, elapsed = interrupt(proc, timeout=40.0)
    assert proc.returncode == 130, (out, err)
    assert elapsed < 20.0, (elapsed, err)
    (line,) = [line for line in out.splitlines() if "POST /runs: no answer yet" in line]
    assert "waiting for it (given up 10s after the signal); ends in " in line, line
    assert "after it was sent" not in line
