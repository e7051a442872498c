"""With ``--json`` stdout holds NDJSON only: what a plugin prints (the docs'
examples do, from hooks that run on worker threads) goes to stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from mogrun.testing import write_taskfile

FAST = "@emulator status=success duration=0.3s events=3"

PRINTER = '''
import sys
from mogrun.plugin import hookimpl

print("PLUGIN-IMPORT")

@hookimpl
def mogrun_configure(config):
    print("PLUGIN-CONFIGURE")

@hookimpl
def mogrun_run_started(job, run, state, attached):
    print("PLUGIN-STARTED", flush=True)
    sys.stdout.write("PLUGIN-WRITE\\n")

@hookimpl
def mogrun_session_finished(results, exit_code):
    print("PLUGIN-FINISHED")
'''

WORDS = ("PLUGIN-IMPORT", "PLUGIN-CONFIGURE", "PLUGIN-STARTED", "PLUGIN-WRITE",
         "PLUGIN-FINISHED")


def _project(tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "printer.py").write_text(PRINTER)
    write_taskfile(tmp_path, textwrap.dedent(f'''\
        [mogplex]
        plugins = ["plugins/printer.py"]
        [jobs.fix]
        repo = "acme/api"
        idempotency_key = "k-fix"
        prompt = """Fix it.
        {FAST}
        """
        '''))
    return tmp_path


def test_json_output_keeps_plugin_prints_off_stdout(tmp_path, mogrun_emulator, mogrun_cli,
                                                    capsys):
    root = _project(tmp_path)
    real_stdout = sys.stdout
    result = mogrun_cli("--json", "run", "fix", cwd=root, env={"MOGRUN_POLL_INTERVAL": "0.2"})
    assert result.exit_code == 0, result
    assert sys.stdout is real_stdout  # restored when the invocation ends
    lines = result.stdout.splitlines()
    assert lines and all(json.loads(line) for line in lines)
    for word in WORDS:
        assert word in result.stderr, result
    assert not any(word in capsys.readouterr().out for word in WORDS)


def test_without_json_plugin_prints_stay_on_stdout(tmp_path, mogrun_emulator, mogrun_cli):
    """The invocation's stdout: in-process, the result's (not the test process's)."""
    root = _project(tmp_path)
    result = mogrun_cli("run", "fix", cwd=root, env={"MOGRUN_POLL_INTERVAL": "0.2"})
    assert result.exit_code == 0, result
    for word in WORDS:
        assert word in result.stdout
        assert word not in result.stderr


# Writes that bypass sys.stdout: a child process inherits file descriptor 1, and
# os.write(1, ...) is the descriptor itself. Only the process can divert those.
RAW = '''
import os, subprocess, sys, time
from mogrun.plugin import hookimpl

os.write(1, b"RAW-IMPORT\\n")

@hookimpl
def mogrun_run_started(job, run, state, attached):
    subprocess.run([sys.executable, "-c", "print('CHILD-STARTED')"], check=True)
    os.write(1, b"RAW-STARTED\\n")

@hookimpl
def mogrun_session_finished(results, exit_code):
    os.system("echo CHILD-FINISHED")
    deadline = time.monotonic() + 20
    while os.path.exists("hold") and not os.path.exists("go") and time.monotonic() < deadline:
        time.sleep(0.01)  # the test reads the lines written so far meanwhile
'''
RAW_WORDS = ("RAW-IMPORT", "CHILD-STARTED", "RAW-STARTED", "CHILD-FINISHED")
# The code under test, not whichever mogrun is installed (a worktree run with PYTHONPATH).
PYTHONPATH = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


def _raw_project(tmp_path):
    root = _project(tmp_path)
    (root / "plugins" / "printer.py").write_text(RAW)
    return root


def _mogrun(root, emulator, *args, **popen):
    """mogrun as a process of its own: its stdout is file descriptor 1."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MOGPLEX_URL": emulator.url,
           "MOGPLEX_API_KEY": emulator.write_token, "MOGRUN_SANDBOXES": "10000",
           "MOGRUN_POLL_INTERVAL": "0.1", **PYTHONPATH}
    return subprocess.Popen([sys.executable, "-m", "mogrun", *args], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def test_json_output_keeps_what_plugins_write_to_fd_1_off_stdout(tmp_path, mogrun_emulator):
    root = _raw_project(tmp_path)
    (root / "hold").touch()  # the session's end waits for "go"
    proc = _mogrun(root, mogrun_emulator, "--json", "run", "fix")
    first = proc.stdout.readline().decode()
    assert proc.poll() is None  # lines come out as they are written, not at exit
    (root / "go").touch()
    out, err = (stream.decode() for stream in proc.communicate(timeout=60))
    assert proc.returncode == 0, err
    lines = [first, *out.splitlines()]
    assert [json.loads(line)["type"] for line in lines][::len(lines) - 1] == \
        ["job_started", "summary"], lines
    for word in RAW_WORDS:
        assert word in err, err
    assert "Traceback" not in err


def test_json_output_to_a_reader_that_left_does_not_crash(tmp_path, mogrun_emulator):
    """``mogrun --json run | head -0``: the NDJSON goes nowhere, quietly."""
    proc = _mogrun(_raw_project(tmp_path), mogrun_emulator, "--json", "run", "fix")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert "CHILD-FINISHED" in err, err


def test_json_check_keeps_what_plugins_write_to_fd_1_off_stdout(tmp_path, mogrun_emulator):
    """``check`` (answered without click) loads the plugins too: its one object stays alone."""
    proc = _mogrun(_raw_project(tmp_path), mogrun_emulator, "--json", "check")
    out, err = (stream.decode() for stream in proc.communicate(timeout=60))
    assert proc.returncode == 0, err
    assert json.loads(out)["ok"] is True, out
    assert "RAW-IMPORT" in err, err


LATE = '''
import threading, time
from mogrun.plugin import hookimpl

def post(name):
    time.sleep(0.5)
    print("LATE-POST", name, flush=True)

@hookimpl
def mogrun_job_finished(job):
    threading.Thread(target=post, args=(job.name,)).start()  # not a daemon
'''


def test_a_plugin_thread_that_outlives_the_run_never_writes_after_the_summary(tmp_path):
    """Python waits for a plugin's own (non-daemon) thread at exit, after mogrun's
    cleanups gave stdout back: its print landed on stdout after the --json summary."""
    (tmp_path / "late.py").write_text(LATE)
    write_taskfile(tmp_path, f'[mogplex]\nplugins = ["late.py"]\n\n[jobs.fix]\n'
                             f'repo = "acme/api"\nprompt = "{FAST}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    done = subprocess.run([sys.executable, "-m", "mogrun", "--json", "--local", "run", "fix"],
                          cwd=tmp_path, env={**env, "MOGRUN_POLL_INTERVAL": "0.1"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["type"] == "summary"
    assert "LATE-POST" not in done.stdout and "LATE-POST fix" in done.stderr


def test_ctrl_c_ends_the_wait_for_a_plugin_thread_at_once(tmp_path):
    """Python's own wait for such a thread at exit took no signal: two Ctrl-C did
    nothing for as long as the thread slept. The wait is said, and a signal ends it."""
    import signal
    import time

    (tmp_path / "late.py").write_text(LATE.replace("time.sleep(0.5)", "time.sleep(60)"))
    write_taskfile(tmp_path, f'[mogplex]\nplugins = ["late.py"]\n\n[jobs.fix]\n'
                             f'repo = "acme/api"\nprompt = "{FAST}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    with out_path.open("w") as out_file, err_path.open("w") as err_file:
        proc = subprocess.Popen([sys.executable, "-m", "mogrun", "-q", "--local", "run", "fix"],
                                cwd=tmp_path, env={**env, "MOGRUN_POLL_INTERVAL": "0.1"},
                                stdout=out_file, stderr=err_file, text=True)
        try:
            deadline = time.monotonic() + 30
            while "Ctrl-C leaves now" not in err_path.read_text() \
                    and time.monotonic() < deadline:
                time.sleep(0.1)  # until the wait is said
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=10)
        finally:
            proc.kill()
    out, err = out_path.read_text(), err_path.read_text()
    assert proc.returncode == 130, err
    assert "waiting for 1 plugin thread(s) to end (Ctrl-C leaves now)" in err
    assert err.rstrip().endswith("left 1 plugin thread(s) unfinished")
    assert out.rstrip().endswith("exit code 0")  # the invocation itself had ended
