"""``MogrunApp``: the CLI as a function of argv, environment, cwd and streams.
Nothing it does reaches the process's own streams, environment or directory."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from mogrun.cli.app import MogrunApp
from mogrun.testing import write_taskfile

JOBS = """\
[jobs.lint]
repo = "acme/api"
prompt = "lint it"
"""


def app(cwd, env=None) -> tuple[MogrunApp, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return MogrunApp(cwd=cwd, env=env or {}, stdout=out, stderr=err), out, err


@pytest.mark.parametrize("argv", [["list"], ["--help"], ["--version"], ["status", "--help"]])
def test_output_goes_to_the_apps_streams_only(tmp_path, capfd, argv) -> None:
    write_taskfile(tmp_path, JOBS)
    before = os.getcwd()
    run, out, err = app(tmp_path)
    assert run(argv) == 0, err.getvalue()
    assert out.getvalue().strip()
    assert err.getvalue() == ""
    assert capfd.readouterr() == ("", "")
    assert os.getcwd() == before


def test_the_apps_cwd_and_env_find_the_task_file(tmp_path) -> None:
    path = write_taskfile(tmp_path / "elsewhere", JOBS, name="tasks.toml")
    run, out, _ = app(tmp_path, env={"MOGRUN_FILE": str(path)})
    assert run(["--json", "list"]) == 0
    assert '"lint"' in out.getvalue()
    run, _, err = app(tmp_path)
    assert run(["list"]) == 2
    assert err.getvalue().startswith("Error: no mogplex.toml")


def test_a_usage_error_is_exit_2_on_the_apps_stderr(tmp_path, capfd) -> None:
    run, out, err = app(tmp_path)
    assert run(["list", "--frobnicate"]) == 2
    assert "No such option '--frobnicate'" in err.getvalue()
    assert out.getvalue() == ""
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("closed", [1, 2], ids=["stdout", "stderr"])
@pytest.mark.parametrize("argv", [["list"], ["--json", "check"], ["--help"],
                                  ["--json", "--local", "run", "quick"]])
def test_a_stream_closed_at_start_discards_output_and_the_exit_code_stands(
        tmp_path, argv, closed) -> None:
    """``mogrun run job >&-`` in a cron line: Python starts with that stream as
    None, and the first line of output crashed with a traceback."""
    import subprocess
    import sys

    write_taskfile(tmp_path, '[jobs.quick]\nrepo = "acme/api"\n'
                   'prompt = "@emulator duration=0.1s"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    env["MOGRUN_POLL_INTERVAL"] = "0.1"
    with open(tmp_path / "other.txt", "w+b") as other:
        proc = subprocess.run(  # the shell closes the descriptor, as a cron line would
            ["sh", "-c", f'exec "$@" {closed}>&-', "sh", sys.executable, "-m", "mogrun",
             *argv], cwd=tmp_path, env=env, timeout=60, stdout=other, stderr=other)
        other.seek(0)
        said = other.read().decode()
    assert proc.returncode == 0, said
    assert "Traceback" not in said


def _env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))},
            **extra}


def _reader_leaves_after_one_line(tmp_path, *argv: str, stdout: Any = None,
                                  until: bytes = b"", before_leaving: Any = None,
                                  **env: str) -> int:
    """``mogrun ARGV 2>&1 | head -1``: the exit code mogrun gives once its reader left.
    A real pipe, made as small as Linux allows, read a byte at a time as ``head``
    does: the output past its first line is written after the reader left. With
    ``stdout`` (a file), only stderr goes to the pipe: ``2>&1 >FILE | head -1``.
    ``until``: it reads lines until one holds that (``grep -m1 until``);
    ``before_leaving``: called once the line is read, before the reader leaves."""
    import fcntl

    read_fd, write_fd = os.pipe()
    with contextlib.suppress(OSError):  # F_SETPIPE_SZ: Linux only
        fcntl.fcntl(write_fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)
    proc = subprocess.Popen([sys.executable, "-m", "mogrun", *argv], cwd=tmp_path, env=_env(**env),
                            stdout=write_fd if stdout is None else stdout,
                            stderr=subprocess.STDOUT if stdout is None else write_fd)
    os.close(write_fd)
    line = bytearray()  # (kept only to look for ``until``: a first line may be long)
    while (byte := os.read(read_fd, 1)) != b"":
        if byte == b"\n":
            if until in line:
                break
            line.clear()
        elif until:
            line += byte
    if before_leaving is not None:
        before_leaving()
    os.close(read_fd)  # head has its line and leaves
    return proc.wait(timeout=60)


# Enough problems that their lines outlast the pipe's buffer once the reader has left.
MANY_PROBLEMS = JOBS + "".join(
    f'\n# job {n}, copied from a template\n[jobs.copy{n}]\nrepo = "acme/api"\r\n'
    f'promt = "typo"\n\n' for n in range(3000))


@pytest.mark.parametrize(("argv", "code"), [(["check"], 2), (["--json", "check"], 2),
                                            (["list"], 0), (["--json", "list"], 0)])
def test_a_reader_that_leaves_changes_no_exit_code(tmp_path, argv, code) -> None:
    """`check 2>&1 | head -1` found problems yet exited 1 (a broken pipe), where
    check exits 0 or 2; `list | head -1` exited 1 where it lists: the code is the
    command's own, whether its reader stays to the end or not."""
    write_taskfile(tmp_path, MANY_PROBLEMS)
    assert _reader_leaves_after_one_line(tmp_path, *argv) == code


@pytest.mark.parametrize("argv", [["logs", "chatty"], ["--json", "logs", "chatty"],
                                  ["logs"], ["logs", "--follow", "chatty"]])
def test_logs_whose_reader_leaves_exits_as_it_would_have(tmp_path, mogrun_emulator,
                                                         argv) -> None:
    """`mogrun logs RUN | head -1` exited 1: a broken pipe, not the command's answer."""
    write_taskfile(tmp_path, '[jobs.chatty]\nrepo = "acme/api"\n'
                   'prompt = "@emulator duration=0.3s events=150"\n\n')
    env = {"MOGPLEX_URL": mogrun_emulator.url, "MOGPLEX_API_KEY": mogrun_emulator.write_token,
           "MOGRUN_POLL_INTERVAL": "0.1"}
    assert _reader_leaves_after_one_line(tmp_path, "run", "chatty", **env) == 0
    assert _reader_leaves_after_one_line(tmp_path, *argv, **env) == 0


def _started_for_ever(tmp_path, emulator) -> dict[str, str]:
    """A run started detached that streams until cancelled, with one event a minute
    after its start; the environment that reaches it."""
    write_taskfile(tmp_path, '[jobs.forever]\nrepo = "acme/api"\n'
                   'prompt = "@emulator duration=never interval=60s tools=none message=ready"'
                   '\n\n')
    env = {"MOGPLEX_URL": emulator.url, "MOGPLEX_API_KEY": emulator.write_token,
           "MOGRUN_POLL_INTERVAL": "0.1"}
    started = subprocess.run([sys.executable, "-m", "mogrun", "forever", "--detach"],
                             cwd=tmp_path, env=_env(**env), capture_output=True, timeout=60)
    assert started.returncode == 0, started.stderr
    return env


def test_logs_follow_stops_once_its_reader_left(tmp_path, mogrun_emulator) -> None:
    """`logs --follow JOB | grep -m1 ready`: grep had its line and left, and mogrun
    followed the run on, silently, to its end (hours for a real run; for ever for
    this one). It stops once its reader left: the run did not end here (exit 1).
    Not at its next write: a quiet agent's next event came minutes later."""
    env = _started_for_ever(tmp_path, mogrun_emulator)
    began = time.monotonic()
    # grep leaves at the run's status line, the last before a minute's quiet: mogrun
    # learnt of it at its next write, the next event (here a minute away).
    assert _reader_leaves_after_one_line(tmp_path, "logs", "--follow", "forever",
                                         until=b"streaming", **env) == 1
    assert time.monotonic() - began < 30


def test_logs_follow_whose_reader_leaves_during_a_poll_exits_as_between_two(
        tmp_path, mogrun_emulator) -> None:
    """The stop the reader's leaving sets cuts a poll in flight short, and that poll's
    "interrupted" was taken for a Ctrl-C's: exit 130, where the same reader leaving
    between two polls gives 1 (seen once in CI). Here every poll after the line is
    held 5 s by the server, so the reader leaves during one."""
    env = _started_for_ever(tmp_path, mogrun_emulator)

    def hold_the_polls() -> None:
        for endpoint in ("events", "run"):
            mogrun_emulator.add_fault(endpoint, "delay", count=50, delay=5.0)
        time.sleep(0.5)  # the next poll (0.1 s away) is sent, and held

    began = time.monotonic()
    assert _reader_leaves_after_one_line(tmp_path, "logs", "--follow", "forever",
                                         until=b"streaming", before_leaving=hold_the_polls,
                                         **env) == 1
    assert time.monotonic() - began < 30


def test_a_reader_of_stderr_that_leaves_changes_neither_code_nor_stdout(tmp_path) -> None:
    """`-v repos 2>&1 >repos.txt | head -1` exited 1 with repos.txt empty, and an
    unreachable API's `repos 2>&1 | head -1` 1 where it gives 69: the -v trace and
    the retry waits were written past the one guard every other line has."""
    write_taskfile(tmp_path, JOBS)
    listed = tmp_path / "repos.txt"
    with listed.open("w") as out:
        code = _reader_leaves_after_one_line(tmp_path, "--local", "-v", "repos", stdout=out)
    assert code == 0
    assert "acme/api" in listed.read_text()
    assert _reader_leaves_after_one_line(tmp_path, "--url", "http://127.0.0.1:1", "repos",
                                         MOGPLEX_API_KEY="mog_x") == 69


FAN_OUT = [f"acme/r{n:03}" for n in range(120)]  # a status table past the pipe's buffer


@pytest.mark.mogrun_emulator(repos=FAN_OUT)
@pytest.mark.parametrize(("status", "code"), [("success", 0), ("failed", 1)])
def test_state_commands_keep_their_answer_when_their_reader_leaves(
        tmp_path, mogrun_emulator, status, code) -> None:
    """`--json status | head -1` and `--json history | head -1` exited 1 whatever
    the runs did; `status --exit-status` says whether they passed either way, and
    still never reads as passed when one did not."""
    repos = ", ".join(f'"{repo}"' for repo in FAN_OUT)
    write_taskfile(tmp_path, '[mogplex]\r\nrequests_per_minute = 100000\r\n'
                   'starts_per_minute = 1000\r\nstarts_per_hour = 1000\r\n\r\n'
                   f'[jobs.wide]\r\nrepo = [{repos}]\r\n'
                   f'prompt = "@emulator duration=0.1s status={status}"\r\n')
    env = {"MOGPLEX_URL": mogrun_emulator.url, "MOGPLEX_API_KEY": mogrun_emulator.write_token,
           "MOGRUN_POLL_INTERVAL": "0.1", "MOGRUN_SANDBOXES": "10000"}
    ran = subprocess.run([sys.executable, "-m", "mogrun", "run", "-q", "-j", "120", "wide"],
                         cwd=tmp_path, env=_env(**env), capture_output=True, timeout=60)
    assert ran.returncode == code, ran.stderr
    codes = {" ".join(argv): _reader_leaves_after_one_line(tmp_path, *argv, **env)
             for argv in (["status", "--exit-status"], ["--json", "status", "--exit-status"],
                          ["--json", "status"], ["--json", "history"], ["history"])}
    assert codes == {"status --exit-status": code, "--json status --exit-status": code,
                     "--json status": 0, "--json history": 0, "history": 0}


def _mogrun_into(cwd, argv: list[str], stdout: Any, **env: str) -> tuple[int, str]:
    """``mogrun ARGV >STDOUT``: its exit code and what it said on stderr."""
    proc = subprocess.run([sys.executable, "-m", "mogrun", *argv], cwd=cwd,
                          env=_env(MOGRUN_POLL_INTERVAL="0.1", **env), stdout=stdout,
                          stderr=subprocess.PIPE, timeout=120, check=False)
    return proc.returncode, proc.stderr.decode()


COMPLETE = {"_MOGRUN_COMPLETE": "bash_complete", "COMP_WORDS": "mogrun ", "COMP_CWORD": "1"}


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_completion_with_no_cwd_or_no_room_gives_no_completions_and_no_traceback(
        tmp_path) -> None:
    """The shell's <TAB> in a deleted directory, or with stdout full, printed a
    traceback onto the user's command line."""
    gone = tmp_path / "gone"
    gone.mkdir()
    proc = subprocess.run(  # the shell's cwd deleted under it
        ["sh", "-c", 'cd "$0" && rmdir "$0" && exec "$@"', str(gone), sys.executable, "-m",
         "mogrun"], env=_env(**COMPLETE), capture_output=True, timeout=60, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, b"", b"")
    with open("/dev/full", "w") as full:
        assert _mogrun_into(tmp_path, [], full, **COMPLETE) == (1, "")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_a_full_disk_turns_only_a_0_into_74(tmp_path) -> None:
    """`status --exit-status >full` and `check >full` exited 74 where the runs had
    failed (1) or the file had problems (2): 74 replaces a 0, never a failure."""
    write_taskfile(tmp_path, '[jobs.bad]\nrepo = "acme/api"\n'
                   'prompt = "x\\n@emulator status=failed duration=0.2s"\n')
    (tmp_path / "broken.toml").write_text('[jobs.x]\nrepo="acme/api"\nprompt="a"\nbogus=1\n')
    lost = "Error: cannot write the output: No space left on device\n"
    with open("/dev/full", "w") as full:
        assert _mogrun_into(tmp_path, ["--local", "bad"], full)[0] == 1
        for argv in (["--local", "status", "--exit-status"],
                     ["--local", "--json", "status", "--exit-status"]):
            assert _mogrun_into(tmp_path, argv, full) == (1, ""), argv
        for argv in (["-f", "broken.toml", "check"], ["-f", "broken.toml", "--json", "check"]):
            assert _mogrun_into(tmp_path, argv, full)[0] == 2, argv
        assert _mogrun_into(tmp_path, ["--local", "status"], full) == (74, lost)
        assert _mogrun_into(tmp_path, ["check"], full) == (74, lost)


@pytest.mark.parametrize("argv", [["list"], ["--json", "check"], ["--local", "hello"],
                                  ["--local", "--json", "hello"], ["schema"]])
def test_a_stdout_that_cannot_be_written_is_said_and_exits_74(tmp_path, argv) -> None:
    """`mogrun list 1<file` (a descriptor open for reading: EBADF) ended in a
    traceback; `run` lost every line and exited 0."""
    write_taskfile(tmp_path, '[jobs.hello]\nrepo = "acme/api"\n'
                   'prompt = "hi\\n@emulator duration=0.2s"\n')
    (tmp_path / "in.txt").write_text("x\n")
    with open(tmp_path / "in.txt") as read_only:
        assert _mogrun_into(tmp_path, argv, read_only) == (
            74, "Error: cannot write the output: Bad file descriptor\n")


def test_a_pipe_its_parent_left_non_blocking_gets_every_line(tmp_path) -> None:
    """A parent (node, ssh) that left the pipe non-blocking: a reader a moment late
    got the first 64 KiB of a long `list`, and mogrun exited 0. The writes wait
    for room, as on any pipe, and the parent's flag is given back."""
    import fcntl
    import time

    write_taskfile(tmp_path, "".join(f'[jobs.j{n}]\nrepo = "acme/api"\nprompt = "do {n}"\n\n'
                                     for n in range(3000)))
    whole = subprocess.run([sys.executable, "-m", "mogrun", "list"], cwd=tmp_path, env=_env(),
                           capture_output=True, timeout=60, check=True).stdout
    read_fd, write_fd = os.pipe()
    fcntl.fcntl(write_fd, fcntl.F_SETFL, fcntl.fcntl(write_fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    proc = subprocess.Popen([sys.executable, "-m", "mogrun", "list"], cwd=tmp_path,
                            env=_env(), stdout=write_fd, stderr=subprocess.PIPE)
    time.sleep(1)  # the reader is late: the pipe fills
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(
        iter(lambda: os.read(read_fd, 65536), b"")))
    reader.start()
    code, said = proc.wait(timeout=60), proc.stderr.read()  # type: ignore[union-attr]
    blocking = os.get_blocking(write_fd)
    os.close(write_fd)  # the reader sees the end
    reader.join(timeout=60)
    os.close(read_fd)
    assert (code, said) == (0, b"")
    assert b"".join(chunks) == whole
    assert not blocking  # the parent's flag, as it left it


def test_an_oserror_that_is_not_the_outputs_is_not_called_lost_output(monkeypatch) -> None:
    """Only what a write meets ends a command as "cannot write the output" (74): a
    read a command failed to guard (EACCES) is a bug, and keeps its traceback."""
    import pytest

    from mogrun.cli import app

    def denied(self, args):
        raise PermissionError(13, "Permission denied", "/etc/secret")

    monkeypatch.setattr(app.MogrunApp, "__call__", denied)
    with pytest.raises(PermissionError):
        app.run_cli(["list"])
