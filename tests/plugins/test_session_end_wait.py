"""The wait for plugins at the session's end names the plugin still at work, and
only it, and says it has no known end (a plugin's hook gives mogrun none)."""

from __future__ import annotations

import json

import pytest

SLOW_REPORT = '''
import time
from mogrun.hookspecs import hookimpl

@hookimpl
def mogrun_session_finished(results):
    time.sleep(1.6)  # a report uploaded somewhere slow
'''


def waits_with_plugin(tmp_path, mogrun_cli, name: str, source: str) -> list[dict]:
    """The wait objects of ``run --json fix`` (it passes) with the task-file plugin
    ``name`` of ``source``."""
    from mogrun.testing import write_taskfile

    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / f"{name}.py").write_text(source)
    write_taskfile(tmp_path, f'[mogplex]\nplugins = ["plugins/{name}.py"]\n\n'
                   '[jobs.fix]\nrepo = "acme/api"\nprompt = "Fix it."\n')
    result = mogrun_cli("--json", "run", "fix", cwd=tmp_path)
    assert result.exit_code == 0, result
    return [json.loads(line) for line in result.stdout.splitlines()
            if '"type": "wait"' in line]


def test_only_the_plugin_still_at_work_is_named_and_the_wait_has_no_end(
        tmp_path, mogrun_emulator, mogrun_cli):
    waits = waits_with_plugin(tmp_path, mogrun_cli, "upload", SLOW_REPORT)
    said = [wait for wait in waits if wait["kind"] == "plugins"]
    assert len(said) == 1, waits  # junit (no --junit) and notify (nothing sent) were quick
    assert said[0]["reason"].startswith("waiting for plugin upload to finish"), said
    assert "no end is known" in said[0]["reason"], said
    assert (said[0]["ends_at"], said[0]["seconds"]) == (None, None), said


SLOW_GATE = '''
import time
from mogrun.hookspecs import hookimpl

@hookimpl
def mogrun_gate(job, run):
    time.sleep(1.6)  # a gate that asks a slow service
    return []
'''


def test_a_hook_that_runs_long_mid_session_is_said_naming_the_plugin_job_and_run(
        tmp_path, mogrun_emulator, mogrun_cli):
    """A hook that blocked (a gate asking a slow service, a notifier's network
    call) held its run with nothing on screen: only the end of session was said."""
    said = [wait for wait in waits_with_plugin(tmp_path, mogrun_cli, "slowgate", SLOW_GATE)
            if wait["kind"] == "plugins"]
    assert len(said) == 1, said  # once, however long it runs
    assert said[0]["reason"].startswith("waiting for plugin slowgate's mogrun_gate (running "
                                        "for "), said
    assert (said[0]["job"], said[0]["run"], said[0]["ends_at"]) == (
        "fix", "fix:acme/api", None), said


SLOW_EVENT_HOOK = '''
import time
from mogrun.hookspecs import hookimpl

_slept = []


@hookimpl
def mogrun_event(event):  # takes neither job nor run, as the docs allow
    if not _slept:
        _slept.append(event.id)
        time.sleep(1.6)  # an audit POST to a slow server

'''


def test_a_slow_hook_that_takes_no_job_or_run_is_said_naming_them_all_the_same(
        tmp_path, mogrun_emulator, mogrun_cli):
    """They were read from the implementation's parameters: ``def mogrun_event(event)``
    was said as ``"job": null, "run": null`` (``mogrun  wait  plugins``)."""
    said = [wait for wait in waits_with_plugin(tmp_path, mogrun_cli, "audit", SLOW_EVENT_HOOK)
            if wait["kind"] == "plugins"]
    assert len(said) == 1, said
    assert said[0]["reason"].startswith("waiting for plugin audit's mogrun_event"), said
    assert (said[0]["job"], said[0]["run"]) == ("fix", "fix:acme/api"), said


def test_each_slow_hook_call_is_said_once_and_quick_ones_never():
    from mogrun.engine.slowhooks import SlowHooks
    from mogrun.pluginguard import RunningHook

    calls = [RunningHook("a", "mogrun_event", 10.0, "fix", "fix:acme/api"),
             RunningHook("b", "mogrun_watch", 10.9, "fix"),
             RunningHook("c", "mogrun_session_finished", 0.0)]  # said by its own wait
    said: list = []
    slow = SlowHooks(lambda: calls, said.append)
    slow.look(11.5)
    slow.look(12.5)
    assert [(w.reason.split(" (")[0], w.job, w.run) for w in said] == [
        ("waiting for plugin a's mogrun_event", "fix", "fix:acme/api"),
        ("waiting for plugin b's mogrun_watch", "fix", None)]


def test_no_slow_hook_is_said_once_the_session_has_left_or_the_call_has_ended():
    from mogrun.engine.slowhooks import SlowHooks
    from mogrun.pluginguard import RunningHook

    call = RunningHook("a", "mogrun_event", 10.0, "fix")
    views = iter([[call], []])  # going at the first look, ended by the second
    said: list = []
    SlowHooks(lambda: next(views), said.append).look(12.0)
    assert said == []
    slow = SlowHooks(lambda: [call], said.append)
    with slow:
        pass
    slow.look(12.0)  # the session has left: its summary may be on screen already
    assert said == []


SLOW_SETUP = '''
import time
from mogrun.hookspecs import hookimpl

@hookimpl
def mogrun_{hook}({arg}):
    time.sleep(1.6)  # reads a team config from a slow share
'''


SLOW_VALIDATOR = '''
import time
from mogrun.hookspecs import hookimpl

def _ticket(value):
    time.sleep(1.6)  # asks the tracker whether the ticket exists
    return value

@hookimpl
def mogrun_job_keys(register):
    register("ticket", _ticket)
'''


@pytest.mark.parametrize(("source", "argv", "said_of"), [
    (SLOW_SETUP.format(hook="configure", arg="config"), ("check",),
     "plugin setup's mogrun_configure (running for "),
    (SLOW_SETUP.format(hook="adjust_job", arg="job"), ("--json", "run", "fix"),
     "plugin setup's mogrun_adjust_job (running for "),
    (SLOW_VALIDATOR, ("check",), 'plugin setup to check a value of job key "ticket" ('),
    (SLOW_VALIDATOR, ("--json", "run", "fix"),
     'plugin setup to check a value of job key "ticket" ('),
    # show printed each request only once its plugins had changed it: silent till then
    (SLOW_SETUP.format(hook="start_request", arg="request"), ("show", "fix"),
     "plugin setup's mogrun_start_request (running for ")],
    ids=["configure-check", "adjust_job-run", "validator-check", "validator-run",
         "start_request-show"])
def test_a_slow_set_up_hook_is_said_on_stderr_before_the_first_line(
        tmp_path, mogrun_emulator, mogrun_cli, source, argv, said_of):
    """A run's hook was said after a second; a set-up hook or a key's validator
    (before any output) left the terminal silent for as long as it took. Before
    any run one Ctrl-C stops mogrun ("Interrupted.", 130), which the line says
    (it said "Ctrl-C twice leaves without it", a run's way out)."""
    from mogrun.testing import write_taskfile

    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "setup.py").write_text(source)
    ticket = 'ticket = "T-1"\n' if source is SLOW_VALIDATOR else ""
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["plugins/setup.py"]\n\n'
                   f'[jobs.fix]\nrepo = "acme/api"\nprompt = "Fix it."\n{ticket}')
    result = mogrun_cli(*argv, cwd=tmp_path)
    assert result.exit_code == 0, result
    said = [line for line in result.stderr.splitlines() if line.startswith("wait plugins: ")]
    assert len(said) == 1 and said_of in said[0], result
    assert said[0].endswith("no end mogrun can set: Ctrl-C stops mogrun"), result
    if "--json" in argv:  # stdout stays NDJSON
        assert all(json.loads(line) for line in result.stdout.splitlines()), result


SLOW_IMPORT = '''
import time
time.sleep(1.6)  # the module reads a team config from a slow share as it loads
from mogrun.hookspecs import hookimpl

@hookimpl
def mogrun_configure(config):
    pass
'''


@pytest.mark.parametrize("argv", [("check",), ("--json", "run", "-p", "plugins/slow.py", "fix")])
def test_a_slow_plugin_import_is_said_on_stderr(tmp_path, mogrun_emulator, mogrun_cli, argv):
    """A module that took its time at import left check and run silent (a hanging one
    for ever), where a slow set-up hook of the same plugin was said after a second."""
    from mogrun.testing import write_taskfile

    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "slow.py").write_text(SLOW_IMPORT)
    plugins = "" if "-p" in argv else '[mogplex]\nplugins = ["plugins/slow.py"]\n\n'
    write_taskfile(tmp_path, plugins + '[jobs.fix]\nrepo = "acme/api"\nprompt = "Fix it."\n')
    result = mogrun_cli(*argv, cwd=tmp_path)
    assert result.exit_code == 0, result
    said = [line for line in result.stderr.splitlines() if line.startswith("wait plugins: ")]
    assert len(said) == 1 and "waiting for plugin slow to be imported (its module has run " \
        "for " in said[0], result
    assert said[0].endswith("an import has no end mogrun can set: Ctrl-C stops mogrun"), result
    if "--json" in argv:  # stdout stays NDJSON
        assert all(json.loads(line) for line in result.stdout.splitlines()), result


SLOW_RETRY = '''
import time
from mogrun.hookspecs import hookimpl

@hookimpl
def mogrun_retry_delay(error):
    time.sleep(1.6)  # a retry policy that asks a slow status page
    return None
'''


@pytest.mark.parametrize(("source", "argv", "said_of", "way_out"), [
    (SLOW_GATE, ("logs", "--follow", "fix"), "plugin slowhook's mogrun_gate (running for ",
     "Ctrl-C twice leaves without it"),
    (SLOW_RETRY, ("logs", "fix"), "plugin slowhook's mogrun_retry_delay (running for ",
     "Ctrl-C stops mogrun")], ids=["gate-logs-follow", "retry_delay-logs"])
def test_a_slow_hook_outside_a_run_is_said_on_stderr(tmp_path, mogrun_emulator, mogrun_cli,
                                                     source, argv, said_of, way_out):
    """``logs --follow`` judging a detached run by a slow gate, ``logs`` asking a
    slow retry policy after a 503: the terminal stayed silent for as long as the
    hook took, where ``run`` says such a hook after a second."""
    from mogrun.testing import write_taskfile

    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "slowhook.py").write_text(source)
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["plugins/slowhook.py"]\n\n'
                   '[jobs.fix]\nrepo = "acme/api"\n'
                   'prompt = """Fix it.\n@emulator duration=0.2s\n"""\n')
    env = {"MOGRUN_POLL_INTERVAL": "0.2"}
    started = mogrun_cli("run", "--detach", "fix", cwd=tmp_path, env=env)
    assert started.exit_code == 0, started
    mogrun_emulator.add_fault("events", "503")
    result = mogrun_cli(*argv, cwd=tmp_path, env=env)
    assert result.exit_code == 0, result
    said = [line for line in result.stderr.splitlines() if line.startswith("wait plugins: ")]
    assert len(said) == 1 and said_of in said[0], result
    assert said[0].endswith(f"no end mogrun can set: {way_out}"), result
