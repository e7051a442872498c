"""Waits through a real `python -m mogrun` against the emulator: the start
limit and a 429's Retry-After each produce their line within a few seconds
of the wait starting, in plain, GitHub and NDJSON output; following goes on
during a start-limit wait."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from mogrun.emulator import Emulator

MODES = {
    "plain": ([], {}),
    "github": ([], {"GITHUB_ACTIONS": "true"}),
    "json": (["--json"], {}),
}
TWO_JOBS = """\
[mogplex]
requests_per_minute = 600
starts_per_minute = 1

[jobs.first]
repo = "acme/api"
prompt = "@emulator duration=never interval=0.3s"

[jobs.second]
repo = "acme/web"
prompt = "@emulator duration=never"
"""
ONE_JOB = """\
[mogplex]
requests_per_minute = 600
starts_per_minute = 100

[jobs.first]
repo = "acme/api"
prompt = "@emulator duration=2s events=4"
"""


@pytest.fixture
def emulator():
    with Emulator(default_duration=0.5) as emu:
        yield emu


class Mogrun:
    """``python -m mogrun`` whose stdout lines are read as they come."""

    def __init__(self, emulator, tmp_path, tasks, *args, env=None):
        (tmp_path / "mogplex.toml").write_text(tasks)
        full = {k: v for k, v in os.environ.items()
                if not k.startswith(("MOGRUN_", "GITHUB_")) and k != "NO_COLOR"}
        full.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token,
                    MOGRUN_POLL_INTERVAL="0.1", NO_COLOR="1")
        full.update(env or {})
        self.proc = subprocess.Popen([sys.executable, "-m", "mogrun", *args], cwd=tmp_path,
                                     env=full, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.seen_at: list[tuple[str, float]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern, timeout=15.0):
        """The first stdout line matching ``pattern`` (one already read counts),
        and when it came."""
        for line, at in self.seen_at:
            if re.search(pattern, line):
                return line, at
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            self.seen_at.append((line, time.monotonic()))
            if re.search(pattern, line):
                return line, self.seen_at[-1][1]
        raise AssertionError(f"no line matching {pattern!r} in {self.seen}")

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        finally:
            self.proc.kill()
        return err


def wait_line(mode, kind):
    """How a wait of ``kind`` looks in ``mode`` (NDJSON: parsed afterwards)."""
    if mode == "json":
        return rf'"type": "wait", "kind": "{kind}"'
    return rf"^\d\d:\d\d:\d\d  \S+  wait  {kind}  .*; ends in \S+ \(\d\d:\d\d:\d\dZ\)$"


@pytest.mark.parametrize("mode", MODES)
def test_a_start_limit_wait_is_announced_and_following_goes_on(emulator, tmp_path, mode):
    args, env = MODES[mode]
    began = time.monotonic()
    mogrun = Mogrun(emulator, tmp_path, TWO_JOBS, *args, "first", "second", env=env)
    try:
        line, seen_at = mogrun.wait_for(wait_line(mode, "start_limit"))
        assert seen_at - began < 10.0  # python's start-up included; the wait is a minute
        started = r"started [0-9a-f-]{36}|job_started"  # may come before or after the wait
        if not any(re.search(started, seen) for seen in mogrun.seen):
            mogrun.wait_for(started)
        (run_id,) = emulator.runs
        polled = emulator.count("GET", f"/runs/{run_id}/events")
        time.sleep(1.5)
        assert emulator.count("GET", f"/runs/{run_id}/events") > polled  # following goes on
        assert emulator.runs == [run_id]  # the second start is held back
    finally:
        err = mogrun.stop()
    if mode == "json":
        wait = json.loads(line)
        assert wait["reason"] == "1 run queued for the start limit (1/min)", wait
        assert wait["seconds"] > 30 and wait["ends_at"].endswith("Z")
    else:
        assert "1 run queued for the start limit (1/min); ends in " in line, line
    assert "Traceback" not in err


@pytest.mark.parametrize("mode", MODES)
def test_a_429_retry_after_is_announced(emulator, tmp_path, mode):
    args, env = MODES[mode]
    emulator.add_fault("events", "429", count=1, retry_after=1.0)  # the run lasts 2 s
    mogrun = Mogrun(emulator, tmp_path, ONE_JOB, *args, "first", env=env)
    try:
        line, _ = mogrun.wait_for(wait_line(mode, "rate_limited"))
        text = json.loads(line)["reason"] if mode == "json" else line
        assert "429 (request limit)" in text, line
        mogrun.wait_for(r"success", timeout=30)
        assert mogrun.proc.wait(timeout=30) == 0
    finally:
        mogrun.stop() if mogrun.proc.poll() is None else None
    if mode == "github":
        assert any(re.match(r"::group::first", x) for x in mogrun.seen)


SMALL_BUDGET = """\
[mogplex]
requests_per_minute = 3

[jobs.first]
repo = "acme/api"
prompt = "@emulator duration=2s events=4"
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_poll_held_a_minute_by_the_request_budget_is_announced(emulator, tmp_path, mode):
    """Three requests a minute: the start took them, and the first poll waited a
    minute with nothing on screen, in every mode."""
    args, env = MODES[mode]
    began = time.monotonic()
    mogrun = Mogrun(emulator, tmp_path, SMALL_BUDGET, *args, "first", env=env)
    try:
        line, seen_at = mogrun.wait_for(wait_line(mode, "request_budget"))
        assert seen_at - began < 10.0
    finally:
        mogrun.stop()
    text = json.loads(line)["reason"] if mode == "json" else line
    assert "the next poll of this run waits for the request budget" in text, line
    if mode == "json":
        wait = json.loads(line)
        assert (wait["job"], wait["run"]) == ("first", "first:acme/api") and wait["seconds"] > 30


@pytest.mark.parametrize("endpoint", ["events", "start"])
def test_a_429s_wait_names_the_job_and_the_run_it_holds_back(emulator, tmp_path, endpoint):
    """A poll (or a start) answered 429 waits for its own run: the NDJSON wait
    names that run, as every other line of the run does, not ``null``."""
    emulator.add_fault(endpoint, "429", count=1, retry_after=1.0)
    mogrun = Mogrun(emulator, tmp_path, ONE_JOB, "--json", "first")
    try:
        line, _ = mogrun.wait_for(wait_line("json", "rate_limited"))
        assert mogrun.proc.wait(timeout=30) == 0
    finally:
        mogrun.stop() if mogrun.proc.poll() is None else None
    wait = json.loads(line)
    assert (wait["job"], wait["run"]) == ("first", "first:acme/api"), wait


LONG_RUN = """\
[jobs.first]
repo = "acme/api"
prompt = "@emulator duration=never"
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_long_pause_set_by_mogrun_poll_interval_is_said_as_that_setting(
        emulator, tmp_path, mode):
    """The budget would poll every second; MOGRUN_POLL_INTERVAL=15 makes each run
    wait 15 s between polls, and the wait says so, not that the budget holds it."""
    args, env = MODES[mode]
    mogrun = Mogrun(emulator, tmp_path, LONG_RUN, *args, "first",
                    env={**env, "MOGRUN_POLL_INTERVAL": "15"})
    try:
        line, _ = mogrun.wait_for(wait_line(mode, "poll_interval"))
    finally:
        mogrun.stop()
    assert not any("request_budget" in seen for seen in mogrun.seen), mogrun.seen
    text = json.loads(line)["reason"] if mode == "json" else line
    assert "the next poll of this run waits the poll interval MOGRUN_POLL_INTERVAL sets " \
           "(15s)" in text, line
    if mode == "json":
        wait = json.loads(line)
        assert (wait["job"], wait["run"]) == ("first", "first:acme/api") and wait["seconds"] > 10


# A fan-out of twelve under the real start limit (10 a minute), twelve workers at
# once: two runs wait for it.
TWELVE = [f"acme/r{n}" for n in range(1, 13)]
TWELVE_REPOS = """\
[mogplex]
requests_per_minute = 600
sandboxes = 20\t# room for all twelve: only the start limit holds any back

[jobs.fan]
repo = [REPOS]
prompt = "@emulator duration=never"

""".replace("REPOS", ", ".join(f'"{repo}"' for repo in TWELVE))


@pytest.mark.parametrize("mode", ["plain", "json"])
def test_a_start_limit_wait_counts_every_run_it_holds(tmp_path, mode):
    """The first run to wait said "1 run queued" at once, and the run that joined it
    a millisecond later was never counted (a later line for the same end is held back)."""
    args, env = MODES[mode]
    with Emulator(default_duration=0.5, repos=TWELVE) as emulator:
        mogrun = Mogrun(emulator, tmp_path, TWELVE_REPOS, *args, "fan", "-j", "12", env=env)
        try:
            line, _ = mogrun.wait_for(wait_line(mode, "start_limit"))
            time.sleep(1.0)  # any line that corrects it would come by now
        finally:
            err = mogrun.stop()
    while not mogrun.lines.empty():
        mogrun.seen.append(mogrun.lines.get())
    said = [seen for seen in mogrun.seen if re.search(wait_line(mode, "start_limit"), seen)]
    reason = json.loads(line)["reason"] if mode == "json" else line
    assert "2 runs queued for the start limit (10/min)" in reason, mogrun.seen
    assert len(said) == 1, said
    assert "Traceback" not in err
