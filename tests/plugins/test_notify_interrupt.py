"""A second Ctrl-C while a notifier delivers leaves at once: the host's
containment of plugin faults never swallows the user's interrupt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mogrun.emulator import Emulator

TASKS = """\
[mogplex]
requests_per_minute = 600
starts_per_minute = 100

[jobs.quick]
repo = "acme/api"
prompt = "@emulator duration=0.2s interval=0.1s"
notify = [{{ webhook = "{url}", on = ["always"] }}]
"""


class StallingReceiver:
    """A webhook that reads the POST, then never answers until closed."""

    def __init__(self) -> None:
        self.got = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.got.set()
                receiver.release.wait(60)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/s3cr3t-token"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def spawn(emulator: Emulator, cwd, job: str) -> subprocess.Popen[str]:
    """``python -m mogrun JOB`` against ``emulator``, its output piped."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MOGRUN_FILE", "GITHUB_ACTIONS", "MOGRUN_DISABLE_PLUGINS")}
    env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token,
               MOGRUN_POLL_INTERVAL="0.1", NO_COLOR="1")
    return subprocess.Popen([sys.executable, "-m", "mogrun", job], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def receiver():
    rec = StallingReceiver()
    yield rec
    rec.close()


def test_second_ctrl_c_while_notifying_exits_at_once(tmp_path, receiver):
    (tmp_path / "mogplex.toml").write_text(TASKS.format(url=receiver.url))
    with Emulator(default_duration=0.2) as emulator:
        proc = spawn(emulator, tmp_path, "quick")
        try:
            assert receiver.got.wait(30), "the notifier never posted"
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "could not notify" not in err  # the interrupt was not taken for a delivery failure
    assert "mogrun_job_finished" not in err
    assert "Traceback" not in err
    assert "s3cr3t-token" not in out + err


def test_a_webhook_that_does_not_answer_holds_back_neither_the_result_nor_the_next_job(
        tmp_path, receiver):
    """The job's result line waited for the delivery (10 s a webhook), and the
    jobs after it did too: the job's end is on the scheduler's thread."""
    tasks = TASKS.format(url=receiver.url) + (
        '\n[jobs.after]\nrepo = "acme/api"\nprompt = "@emulator duration=0.2s"\n'
        'needs = ["quick"]\n')
    (tmp_path / "mogplex.toml").write_text(tasks)
    with Emulator(default_duration=0.2) as emulator:
        proc = spawn(emulator, tmp_path, "after")
        try:
            assert receiver.got.wait(30), "the notifier never posted"
            posted = time.monotonic()
            lines = iter(proc.stdout.readline, "")
            done = next(line for line in lines if line.split()[1:3] == ["after", "result"])
            assert time.monotonic() - posted < 4.0, done  # not the webhook's 10 s timeout
            receiver.release.set()  # the receiver now hangs up without an answer
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 0, (out, err)  # a notifier's failure never changes the result
    assert ('warning: plugin "notify" failed in mogrun_session_finished: could not notify: '
            'webhook #1 (127.0.0.1) of job "quick": ') in err
    assert "s3cr3t-token" not in out + err


def test_a_slow_delivery_at_the_session_end_is_said_before_the_summary(tmp_path, receiver):
    """notify waits for its deliveries at the session's end, before the summary:
    past a moment, that wait is a line naming notify alone, not a silent terminal."""
    (tmp_path / "mogplex.toml").write_text(TASKS.format(url=receiver.url))
    with Emulator(default_duration=0.2) as emulator:
        proc = spawn(emulator, tmp_path, "quick")
        try:
            assert receiver.got.wait(30), "the notifier never posted"
            posted = time.monotonic()
            lines = iter(proc.stdout.readline, "")
            said = next(line for line in lines
                        if line.split()[1:4] == ["mogrun", "wait", "plugins"])
            assert time.monotonic() - posted < 5.0, said
            receiver.release.set()
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    # Only the plugin still at work is named (not junit: no --junit, nothing to do),
    # and the wait says it has no known end rather than show none.
    assert said.split(None, 4)[4] == (
        "waiting for plugin notify to finish its end-of-session work (such as notifications "
        "being delivered); no end is known: Ctrl-C twice leaves without it\n"), said
    assert "1 passed" in out  # the summary came after the wait line
    assert "s3cr3t-token" not in said + out + err


SLOW_END = """\
import time
from mogrun.plugin import hookimpl

@hookimpl
def mogrun_session_finished(config):
    time.sleep(20)
"""


def test_after_a_first_ctrl_c_the_end_of_session_wait_says_one_more_leaves(tmp_path):
    """After the Ctrl-C that cancelled the runs, the wait for a slow end of session
    said "Ctrl-C twice leaves without it", where one more left at once."""
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "slow_end.py").write_text(SLOW_END)
    (tmp_path / "mogplex.toml").write_text(
        '[mogplex]\nplugins = ["plugins/slow_end.py"]\n\n[jobs.long]\nrepo = "acme/api"\n'
        'prompt = "@emulator duration=30s interval=0.1s"\n\n')
    with Emulator() as emulator:
        proc = spawn(emulator, tmp_path, "long")
        try:
            lines = iter(proc.stdout.readline, "")
            next(line for line in lines if line.split()[1:3] == ["long", "status"])
            proc.send_signal(signal.SIGINT)
            said = next(line for line in lines
                        if line.split()[1:4] == ["mogrun", "wait", "plugins"])
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=10)  # not the plugin's 20 s
        finally:
            proc.kill()
    assert said.rstrip().endswith("no end is known: one more Ctrl-C leaves without it"), said
    assert proc.returncode == 130, (out, err)


RUDE_NOTIFIER = '''
from mogrun.plugin import hookimpl

@hookimpl
def mogrun_{hook}():
    raise KeyboardInterrupt  # a notifier's own Ctrl-C handling, gone wrong

'''


@pytest.mark.parametrize("hook", ["job_finished", "session_finished"])
def test_a_keyboard_interrupt_from_a_notifier_is_a_ctrl_c_with_a_summary(
        tmp_path, mogrun_emulator, mogrun_cli, hook):
    """On the main thread it is taken as the user's Ctrl-C: mogrun exited 130 with
    `Interrupted.` and no summary (nor the job's result line), while the history
    said success 0. Now it ends as a Ctrl-C does: result, summary, exit code 130,
    and the run's row its own 0 (docs/cli.md: the exit column is per run)."""
    from mogrun.testing import write_taskfile

    (tmp_path / "rude.py").write_text(RUDE_NOTIFIER.format(hook=hook))
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["rude.py"]\n\n[jobs.fix]\n'
                   'repo = "acme/api"\nprompt = "Fix it."\n\n')
    result = mogrun_cli("run", "fix", cwd=tmp_path, env={"MOGRUN_POLL_INTERVAL": "0.1"})
    assert result.exit_code == 130, result
    assert "Interrupted." not in result.stderr, result
    assert "fix  result  -  success" in result.stdout, result
    assert "1 passed, 0 failed" in result.stdout and "exit code 130" in result.stdout, result
    history = mogrun_cli("--json", "history", cwd=tmp_path)
    assert '"outcome": "success"' in history.stdout and '"exit_code": 0' in history.stdout
