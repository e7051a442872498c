"""mogrun.testing: the fixtures as plugin authors use them (a real pytest run
through the installed ``pytest11`` entry point), and its helpers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from mogrun.emulator import Limits
from mogrun.testing import MogrunResult, run_mogrun, write_taskfile

AUTHOR_TESTS = '''
import json
import os

import pytest

from mogrun.emulator import Limits


def test_cli_talks_to_the_emulator(mogrun_emulator, mogrun_cli, tmp_path):
    result = mogrun_cli("--json", "repos", cwd=tmp_path)
    assert result.exit_code == 0, result
    names = [json.loads(line)["full_name"] for line in result.stdout.splitlines()]
    assert names == ["acme/api", "acme/web", "acme/worker"]
    assert mogrun_emulator.count("GET", "/repos") == 1
    assert os.environ["MOGPLEX_URL"] == "https://must-not-be-used.example"  # restored


@pytest.mark.mogrun_emulator(repos=["solo/repo"], limits=Limits(1, 60.0, ()))
def test_marker_configures_the_emulator(mogrun_emulator):
    assert [r["full_name"] for r in mogrun_emulator.repos] == ["solo/repo"]
    assert mogrun_emulator.limits == Limits(1, 60.0, ())


def test_env_is_applied_and_can_unset(mogrun_emulator, mogrun_cli):
    result = mogrun_cli("repos", env={"MOGPLEX_API_KEY": None})
    assert result.exit_code == 64, result
    assert "MOGPLEX_API_KEY" in result.stderr


def test_session_emulator_is_wired_too(mogrun_emulator_session, mogrun_cli):
    before = mogrun_emulator_session.count("GET", "/repos")
    result = mogrun_cli("--json", "repos")
    assert result.exit_code == 0, result
    assert mogrun_emulator_session.count("GET", "/repos") == before + 1
'''


def test_fixtures_work_for_a_plugin_author(tmp_path):
    (tmp_path / "test_author.py").write_text(AUTHOR_TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["MOGPLEX_URL"] = "https://must-not-be-used.example"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout


def test_mogrun_cli_captures_and_restores(mogrun_cli, monkeypatch, tmp_path):
    monkeypatch.setenv("MOGPLEX_URL", "http://127.0.0.1:1")
    result = mogrun_cli("emulator", "--host", "10.0.0.1", cwd=tmp_path,
                        env={"EXTRA_VAR": "1"})
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error: --host 10.0.0.1 is not a loopback address")
    assert os.environ["MOGPLEX_URL"] == "http://127.0.0.1:1"
    assert "EXTRA_VAR" not in os.environ
    assert os.getcwd() != str(tmp_path)


def test_run_mogrun_captures_stdout():
    result = run_mogrun("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("mogrun ")


def test_result_repr_shows_exit_code_and_output():
    text = repr(MogrunResult(3, "out line\n", ""))
    assert text == "<MogrunResult exit_code=3\nstdout:\n  out line\nstderr:\n  (empty)\n>"
    assert MogrunResult(0, "a", "b").output == "ab"


def test_write_taskfile_dedents(tmp_path):
    path = write_taskfile(tmp_path, """
        [jobs.hello]
        repo = "acme/api"
    """)
    assert path == tmp_path / "mogplex.toml"
    assert path.read_text() == '[jobs.hello]\nrepo = "acme/api"\n'


@pytest.mark.mogrun_emulator(default_events=4, limits=Limits.real())
def test_marker_in_our_own_suite(mogrun_emulator):
    assert mogrun_emulator.limits == Limits.real()


def test_module_is_cheap_to_import():
    code = textwrap.dedent("""
        import sys
        import mogrun.testing
        heavy = {"urllib3", "rich", "mogrun.emulator.server", "http.server"}
        print(sorted(heavy & set(sys.modules)))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_run_mogrun_leaves_the_developers_token_and_url_out(monkeypatch, tmp_path):
    """``run_mogrun`` (what a module-scoped fixture reaches for: ``mogrun_cli`` is
    per test) sent the developer's exported token to the URL they had exported:
    it unsets the machine's variables as ``mogrun_cli`` does."""
    monkeypatch.setenv("MOGPLEX_API_KEY", "mog_developers_real_token")
    monkeypatch.setenv("MOGPLEX_URL", "http://127.0.0.1:9")
    result = run_mogrun("repos", cwd=tmp_path)
    assert result.exit_code == 64, result  # no token: nothing was sent anywhere
    assert "MOGPLEX_API_KEY" in result.stderr and "127.0.0.1:9" not in result.output


def test_a_poll_interval_exported_for_a_real_project_stays_out(monkeypatch, tmp_path):
    """An exported MOGRUN_POLL_INTERVAL (the docs tell people to set one) failed every
    test that ran a job (=bogus) or made it wait its interval (=20)."""
    monkeypatch.setenv("MOGRUN_POLL_INTERVAL", "bogus")
    write_taskfile(tmp_path, '[jobs.hello]\nrepo = "acme/api"\nprompt = "@emulator duration=0s"\n')
    result = run_mogrun("--local", "hello", cwd=tmp_path)
    assert result.exit_code == 0, str(result)


PLUGIN_READS_ENVIRON = '''
import os
from pathlib import Path

from mogrun.plugin import hookimpl


@hookimpl
def mogrun_configure(config):
    seen = [os.environ.get(name, "-") for name in ("AUDIT_TEAM", "MOGPLEX_API_KEY")]
    Path("seen.txt").write_text(" ".join(seen))
'''


def test_a_plugin_sees_the_calls_environment_in_os_environ(mogrun_emulator, mogrun_cli,
                                                           monkeypatch, tmp_path):
    """A plugin reads ``os.environ``, as it does in a mogrun process: it saw the
    developer's real token (and called the real API with it) and not the test's
    ``env``."""
    monkeypatch.setenv("MOGPLEX_API_KEY", "mog_developers_real_token")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "audit.py").write_text(PLUGIN_READS_ENVIRON)
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["audit.py"]\n\n'
                   '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = mogrun_cli("check", cwd=tmp_path, env={"AUDIT_TEAM": "platform"})
    assert result.exit_code == 0, result
    assert (tmp_path / "seen.txt").read_text() == f"platform {mogrun_emulator.write_token}"
    assert os.environ["MOGPLEX_API_KEY"] == "mog_developers_real_token"  # given back
    assert "AUDIT_TEAM" not in os.environ


PLUGIN_PRINTS = '''
from mogrun.plugin import hookimpl


@hookimpl
def mogrun_configure(config):
    print("configured by the team's plugin")
'''


@pytest.mark.parametrize(("argv", "stream"), [(("check",), "stdout"),
                                              (("--json", "check"), "stderr")])
def test_a_plugins_print_is_in_the_result(mogrun_cli, tmp_path, argv, stream):
    """A hook's print goes to stdout (stderr with --json, whose stdout is NDJSON):
    in-process it went to pytest's own capture, so a team could not assert on
    what its notifier printed."""
    (tmp_path / "team.py").write_text(PLUGIN_PRINTS)
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["team.py"]\n\n'
                   '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = mogrun_cli(*argv, cwd=tmp_path)
    assert result.exit_code == 0, str(result)
    assert "configured by the team's plugin" in getattr(result, stream), str(result)


SIGNALLED_TESTS = '''
import pathlib

import pytest

from mogrun.testing import job, task_file, write_taskfile

TASKS = task_file(job("h", timeout="20s", prompt="@emulator duration=never interval=0.2s"))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_hang(n, mogrun_emulator, mogrun_cli, tmp_path):
    write_taskfile(tmp_path, TASKS)
    pathlib.Path(__file__).with_name(f"began-{n}").touch()
    mogrun_cli("run", "h", cwd=tmp_path, env={"MOGRUN_POLL_INTERVAL": "0.2"})
'''


def _as_from_a_shell() -> None:
    """SIGINT delivered and handled as in a shell's child: a test worker (xdist's)
    may hand its children SIGINT ignored or blocked."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.mark.parametrize(("signum", "ended"), [(signal.SIGINT, "KeyboardInterrupt"),
                                               (signal.SIGTERM, None)])
def test_a_signal_during_an_in_process_run_stops_the_test_run(tmp_path, signum, ended):
    """mogrun took the Ctrl-C (or a CI cancel's SIGTERM), cancelled its run and
    returned 130, and pytest went on to the next test: the signal never reached it."""
    (tmp_path / "test_signalled.py").write_text(SIGNALLED_TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         str(tmp_path)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
        preexec_fn=_as_from_a_shell)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "began-1").exists():
            assert time.monotonic() < deadline and proc.poll() is None, "the test never began"
            time.sleep(0.05)
        time.sleep(1.0)  # its run is being followed
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=40)
    finally:
        proc.kill()
    assert not (tmp_path / "began-2").exists(), out
    assert proc.returncode != 0, out
    if ended:
        assert ended in out, out


def test_a_ctrl_c_while_mogrun_starts_still_stops_the_test_run(tmp_path, monkeypatch):
    """A Ctrl-C that lands before mogrun's run handles signals (it was still
    loading its task file: a loaded CI machine took over a second to get there)
    reached mogrun as a ``KeyboardInterrupt``, which it answers with "Interrupted."
    and 130: the test passed and pytest went on to the next, the Ctrl-C lost.
    The embedder is owed it as it is owed one the run took; a ``KeyboardInterrupt``
    that code raised (no signal) is not."""
    from mogrun.cli import loading

    def ctrl_c(*args, **kwargs):
        # What Python does as SIGINT lands: calls the handler in place, here.
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)

    def raised(*args, **kwargs):
        raise KeyboardInterrupt

    write_taskfile(tmp_path, '[jobs.h]\nrepo = "acme/api"\nprompt = "hi"\n')
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a shell's
    try:
        monkeypatch.setattr(loading, "load_session", ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            run_mogrun("--local", "run", "h", cwd=tmp_path)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
        monkeypatch.setattr(loading, "load_session", raised)
        result = run_mogrun("--local", "run", "h", cwd=tmp_path)
        assert (result.exit_code, result.stderr) == (130, "Interrupted.\n")
    finally:
        signal.signal(signal.SIGINT, previous)
    monkeypatch.undo()
    # Owed once: the next call is not interrupted by it.
    assert run_mogrun("--local", "run", "-n", "h", cwd=tmp_path).exit_code == 0
