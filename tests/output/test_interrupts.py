"""Ctrl-C, stalls and timeouts through a real `python -m mogrun` subprocess
against the emulator: what is said, and that each ends in bounded time."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from mogrun.emulator import Emulator

HEADER = """\
[mogplex]
requests_per_minute = 600
starts_per_minute = 100
"""
FAN_OUT = """
[jobs.long]
repo = ["acme/api", "acme/web"]
prompt = "@emulator duration=never interval=0.2s"
"""


@pytest.fixture
def emulator():
    with Emulator(default_duration=0.5) as emu:
        yield emu


def spawn(emulator, tmp_path, jobs, *args, env=None):
    (tmp_path / "mogplex.toml").write_text(HEADER + jobs)
    given = env or {}
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MOGRUN_", "GITHUB_")) and k != "NO_COLOR"}
    env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token,
               MOGRUN_POLL_INTERVAL="0.1", NO_COLOR="1", **given)
    return subprocess.Popen([sys.executable, "-m", "mogrun", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(check, timeout=20.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def following(emulator, count):
    def check():
        runs = emulator.runs
        return len(runs) >= count and all(
            emulator.count("GET", f"/runs/{r}/events") > 0 for r in runs) and runs
    return wait_until(check, what=f"{count} runs followed")


def finish(proc, timeout=60):
    try:
        return proc.communicate(timeout=timeout)
    finally:
        proc.kill()


def test_the_first_ctrl_c_says_what_it_cancels_and_whether_it_got_through(emulator, tmp_path):
    proc = spawn(emulator, tmp_path, FAN_OUT, "long")
    runs = following(emulator, 2)
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc)
    assert proc.returncode == 130, (out, err)
    assert "warning: cancelling 2 runs started here; Ctrl-C again to leave them going" in err
    for run_id in runs:
        assert re.search(rf"long:acme/\w+: cancel of run {run_id} got through", err), err
        assert emulator.run_detail(run_id)["status"] == "cancelled"
    assert "Traceback" not in err


def test_the_second_ctrl_c_lists_exactly_the_runs_left_going(emulator, tmp_path):
    emulator.add_fault("cancel", "delay", count=2, delay=8.0)
    proc = spawn(emulator, tmp_path, FAN_OUT, "long")
    runs = following(emulator, 2)
    proc.send_signal(signal.SIGINT)
    time.sleep(1.0)  # both cancels are now held in the emulator's delay (counted once answered)
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc)
    assert time.monotonic() - began < 5.0
    assert proc.returncode == 130, (out, err)
    # Both cancels were sent and are held unanswered: named as such, with the check.
    listed = re.findall(r"cancel sent, not yet answered: (\S+) \(long:acme/\w+\); see "
                        r"whether it ended with: mogrun status (\S+)", err)
    assert sorted(run for run, _ in listed) == sorted(runs), err
    assert all(run == again for run, again in listed)


def test_one_ctrl_c_against_a_server_stalling_everything_ends_in_bounded_time(emulator,
                                                                             tmp_path):
    proc = spawn(emulator, tmp_path, FAN_OUT.replace('["acme/api", "acme/web"]',
                                                      '["acme/api"]'), "long")
    (run_id,) = following(emulator, 1)
    emulator.add_fault("*", "delay", count=500, delay=60.0)  # polls and the cancel alike
    time.sleep(0.5)  # a poll is now held by the server
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc)
    # the held poll is dropped at once; the cancel gets its 10 s; not the 30 s read timeout
    assert time.monotonic() - began < 25.0
    assert proc.returncode == 130, (out, err)
    assert "cancelling 1 run started here; Ctrl-C again to leave it going" in err
    assert ("the cancel did not get through" in err
            and f"run {run_id} may still be going — cancel it with: mogrun cancel {run_id}"
            in err), err


def test_a_timeout_is_kept_while_the_events_endpoint_stalls(emulator, tmp_path):
    jobs = '\n[jobs.slow]\nrepo = "acme/api"\nprompt = "@emulator duration=never"\ntimeout = "3s"\n'
    emulator.add_fault("events", "delay", count=50, delay=40.0)
    began = time.monotonic()
    proc = spawn(emulator, tmp_path, jobs, "slow")
    out, err = finish(proc)
    elapsed = time.monotonic() - began
    assert proc.returncode == 1, (out, err)
    assert elapsed < 15.0, (elapsed, out, err)
    (run_id,) = emulator.runs
    assert f"timed out after 3s; cancelled run {run_id}" in err, err
    assert emulator.run_detail(run_id)["status"] == "cancelled"


class StallingWebhook:
    """A loopback HTTP server that accepts and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.accepted = threading.Event()
        self.held = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.accepted.set()

    def close(self):
        # shutdown first: a close alone leaves a blocked accept() (and the port) open
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for conn in self.held:
            conn.close()


class Lines:
    """A child's stdout and stderr read as they come, so a test can wait for a line."""

    def __init__(self, proc):
        self.proc = proc
        self.out, self.err = [], []
        self._threads = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                         for stream, into in ((proc.stdout, self.out), (proc.stderr, self.err))]
        for thread in self._threads:
            thread.start()

    def _read(self, stream, into):
        for line in stream:
            into.append(line)

    def wait_for_err(self, text):
        return wait_until(lambda: any(text in line for line in self.err), what=repr(text))

    def wait_for_out(self, text):
        return wait_until(lambda: any(text in line for line in self.out), what=repr(text))

    def finish(self, timeout=60):
        try:
            self.proc.wait(timeout)
        finally:
            self.proc.kill()
        for thread in self._threads:
            thread.join(10)
        return "".join(self.out), "".join(self.err)


def spawn_notifying(emulator, tmp_path, hook, env=None):
    """A short job whose notifier calls ``hook``, run until that call is made."""
    jobs = ('\n[jobs.quick]\nrepo = "acme/api"\nprompt = "@emulator duration=0.2s"\n'
            f'notify = {{webhook = "{hook.url}", on = ["always"]}}\n')
    proc = spawn(emulator, tmp_path, jobs, "quick", env=env)
    lines = Lines(proc)
    assert hook.accepted.wait(20), "the notifier never called"
    return proc, lines


def test_a_second_ctrl_c_while_a_notifier_delivers_exits_at_once(emulator, tmp_path):
    hook = StallingWebhook()
    try:
        proc, lines = spawn_notifying(emulator, tmp_path, hook)
        proc.send_signal(signal.SIGINT)
        # Handled before the second is sent: two signals pending at once are one.
        lines.wait_for_err("interrupted")
        began = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = lines.finish()
        elapsed = time.monotonic() - began
    finally:
        hook.close()
    assert proc.returncode == 130, (out, err)
    assert elapsed < 3.0, (elapsed, err)
    assert "notify" not in err and "Traceback" not in err, err
    assert "interrupted again" in err


def test_one_ctrl_c_while_a_notifier_delivers_still_exits_130(emulator, tmp_path):
    """The runs had all passed when the signal came, during the plugins' end of
    session: the summary, written after it, gives the exit code the process exits
    with, and a warning says why."""
    hook = StallingWebhook()
    try:
        proc, lines = spawn_notifying(emulator, tmp_path, hook)
        lines.wait_for_out("waiting for plugin notify")  # in the last hooks now
        proc.send_signal(signal.SIGINT)
        lines.wait_for_err("interrupted")
    finally:
        hook.close()  # the delivery fails at once
    out, err = lines.finish()
    assert proc.returncode == 130, (out, err)
    assert "exit code 130" in out and "exit code 0" not in out, out
    assert "warning: interrupted while the session's last hooks ran; exit code 130" in err, err
    assert "Traceback" not in err, err


def test_a_ctrl_c_while_a_notifier_delivers_sets_the_github_exit_code_output(emulator, tmp_path):
    """In CI: a later step reading the step's ``exit_code`` output sees the code the
    step failed with, not the one reckoned before the signal."""
    hook = StallingWebhook()
    outputs = tmp_path / "github_output"
    try:
        proc, lines = spawn_notifying(emulator, tmp_path, hook, env={
            "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(outputs)})
        lines.wait_for_out("waiting for plugin notify")
        proc.send_signal(signal.SIGINT)
        lines.wait_for_out("::warning::interrupted")  # GitHub: notices are annotations
    finally:
        hook.close()
    out, err = lines.finish()
    assert proc.returncode == 130, (out, err)
    assert "exit_code=130" in outputs.read_text().splitlines(), outputs.read_text()


def test_a_second_ctrl_c_leaves_out_runs_whose_cancel_got_through(emulator, tmp_path):
    """Both cancels got through, and the second Ctrl-C came while their last events
    were being caught up on: it listed them as left going ("cancel it with")."""
    proc = spawn(emulator, tmp_path, FAN_OUT, "long")
    runs = following(emulator, 2)
    emulator.add_fault("events", "delay", count=20, delay=8.0)  # holds each catch-up
    proc.send_signal(signal.SIGINT)
    wait_until(lambda: all(emulator.run_detail(r)["status"] == "cancelled" for r in runs),
               what="both cancels")
    time.sleep(0.5)  # each worker now waits for its run's last events
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc)
    assert proc.returncode == 130, (out, err)
    assert "interrupted again; exiting without waiting for runs" in err, err
    assert "left going:" not in err and "no runs were left going" in err, err
    assert "Traceback" not in err and "internal error" not in err, err
