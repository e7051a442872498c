"""``MogrunApp``: the CLI as a function of argv, environment, cwd and streams.
Nothing it does reaches the process's own streams, environment or directory."""

from __future__ import annotations

import io
import os

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


def _reader_leaves_after_one_line(tmp_path, *argv: str) -> int:
    """``mogrun ARGV 2>&1 | head -1``: the exit code mogrun gives once its reader left."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("MOGRUN_FILE", "GITHUB_ACTIONS")}
    proc = subprocess.Popen([sys.executable, "-m", "mogrun", *argv], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    assert proc.stdout.readline()
    proc.stdout.close()  # head has its line and leaves
    return proc.wait(timeout=60)


# Enough problems that their lines outlast the pipe's buffer once the reader has left.
MANY_PROBLEMS = JOBS + "".join(
    f'\n# job {n}, copied from a template\n[jobs.copy{n}]\nrepo = "acme/api"\r\n'
    f'promt = "typo"\n\n' for n in range(3000))


@pytest.mark.parametrize(("argv", "code"), [(["check"], 2),  # its verdict was known
                                            (["list"], 1)])  # no verdict: a pipe's 1
def test_a_reader_that_leaves_keeps_a_verdict_already_known(tmp_path, argv, code) -> None:
    """`check 2>&1 | head -1` found problems yet exited 1 (a broken pipe), where
    check exits 0 or 2; a broken pipe still never reads as passed."""
    write_taskfile(tmp_path, MANY_PROBLEMS)
    assert _reader_leaves_after_one_line(tmp_path, *argv) == code
