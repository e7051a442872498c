"""Plugins through the real CLI against the emulator over loopback HTTP."""

from __future__ import annotations

import itertools
import json
import textwrap
import xml.etree.ElementTree as ET

import pytest
from plugtest_helpers import Receiver

from mogrun.testing import write_taskfile

FAST = "@emulator status=success duration=0.3s events=9 tools=read_file,edit_file"

RECORDER = '''
import json, os
from mogrun.hookspecs import hookimpl

LOG = os.path.join(os.path.dirname(__file__), "calls.jsonl")

def note(*item):
    with open(LOG, "a") as f:
        f.write(json.dumps(item) + "\\n")

@hookimpl
def mogrun_configure(config):
    note("configure", config.command, config.local)

@hookimpl
def mogrun_adjust_job(job):
    note("adjust_job", job.name, [r.repo for r in job.runs])

@hookimpl
def mogrun_start_request(job, run, request):
    note("start_request", run.repo, request.idempotency_key.startswith("k-"))

@hookimpl
def mogrun_run_started(job, run, state, attached):
    note("run_started", run.repo, len(state.run_id) == 36, attached)

@hookimpl
def mogrun_status_changed(run, old, state):
    note("status_changed", old, state.status)

@hookimpl
def mogrun_event(event):
    note("event", event.type, event.tool_name)

@hookimpl
def mogrun_watch(unchanged_for):
    note("watch", unchanged_for >= 0)

@hookimpl
def mogrun_gate(job, run, result, state, events):
    note("gate", state.status, len(events) > 0)

@hookimpl
def mogrun_job_finished(job, results, outcome):
    note("job_finished", job.name, [r.outcome for r in results], outcome)

@hookimpl
def mogrun_session_finished(results, exit_code):
    note("session_finished", len(results), exit_code)
'''


@pytest.fixture
def cli(mogrun_cli):
    """``mogrun_cli`` polling every 0.2 s (MOGRUN_POLL_INTERVAL), so short runs end fast."""

    def run(*args, env=None, **kw):
        return mogrun_cli(*args, env={"MOGRUN_POLL_INTERVAL": "0.2", **(env or {})}, **kw)

    return run


def project(tmp_path, jobs: str, plugins: dict[str, str] | None = None, header: str = ""):
    names = [f"plugins/{name}.py" for name in plugins or {}]
    write_taskfile(tmp_path, f"[mogplex]\nplugins = {json.dumps(names)}\n{header}\n"
                   + textwrap.dedent(jobs))
    for name, source in (plugins or {}).items():
        path = tmp_path / "plugins" / f"{name}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return tmp_path


def job(name="fix", prompt=FAST, extra=""):
    return f'[jobs.{name}]\nrepo = "acme/api"\nidempotency_key = "k-{{{{ job }}}}"\n' \
           f'prompt = """Fix it.\n{prompt}\n"""\n{extra}\n'


def test_every_hook_is_called_at_its_time(tmp_path, mogrun_emulator, cli):
    root = project(tmp_path, job(), {"recorder": RECORDER})
    result = cli("run", "fix", cwd=root)
    assert result.exit_code == 0, result
    calls = [json.loads(line) for line in (root / "plugins" / "calls.jsonl").read_text()
             .splitlines()]
    kinds = [c[0] for c in calls]
    assert calls[0] == ["configure", "run", False]
    assert calls[1] == ["adjust_job", "fix", ["acme/api"]]
    assert calls[2] == ["start_request", "acme/api", True]
    assert calls[3] == ["run_started", "acme/api", True, False]
    assert ["event", "tool_finished", "edit_file"] in calls
    assert ["status_changed", "pending", "success"] in calls or \
        ["status_changed", "streaming", "success"] in calls
    # mogrun_watch runs after polls of a still-active run: see the stall_timeout test.
    assert kinds[-3:] == ["gate", "job_finished", "session_finished"]
    assert calls[-3:] == [["gate", "success", True], ["job_finished", "fix", ["success"],
                                                      "success"], ["session_finished", 1, 0]]
    assert kinds.index("event") > kinds.index("run_started")


EDIT_GATE = '''
from mogrun.hookspecs import hookimpl
from mogrun.runs import GateVerdict

@hookimpl
def mogrun_gate(events):
    ok = any(e.type == "tool_finished" and e.tool_name == "edit_file" for e in events)
    return GateVerdict("edit_gate", ok, "edited a file" if ok else "no edit_file call")
'''


def test_task_file_gate_changes_the_outcome(tmp_path, mogrun_emulator, cli):
    no_edit = "@emulator status=success duration=0.3s events=6 tools=read_file"
    root = project(tmp_path, job("good") + job("lazy", no_edit), {"edit_gate": EDIT_GATE})
    assert cli("run", "good", cwd=root).exit_code == 0
    lazy = cli("--json", "run", "lazy", "--junit", "report.xml", cwd=root)
    assert lazy.exit_code == 1, lazy
    finished = [json.loads(line) for line in lazy.stdout.splitlines()
                if '"job_finished"' in line]
    assert finished and "no edit_file call" in json.dumps(finished)
    case = ET.parse(root / "report.xml").getroot().find("testsuite/testcase")
    assert (case.get("classname"), case.get("name")) == ("lazy", "acme/api")
    assert case.find("failure").get("message") == \
        "gate_failed (status success): edit_gate: no edit_file call"


def test_misspelled_hook_fails_check_with_exit_2(tmp_path, cli):
    typo = EDIT_GATE.replace("def mogrun_gate(", "def mogrun_gatee(")
    root = project(tmp_path, job(), {"edit_gate": typo})
    result = cli("check", cwd=root)
    assert result.exit_code == 2, result
    assert 'plugin "edit_gate" implements unknown hook "mogrun_gatee"' in result.stderr
    assert "Traceback" not in result.output


CRASHERS = '''
from mogrun.hookspecs import hookimpl

@hookimpl
def mogrun_event(event):
    raise RuntimeError("observer broke")

@hookimpl
def mogrun_job_finished(job):
    raise RuntimeError("notifier broke")
'''


def test_crashing_observer_and_notifier_are_warnings(tmp_path, mogrun_emulator, cli):
    root = project(tmp_path, job(), {"crashers": CRASHERS})
    result = cli("run", "fix", cwd=root)
    assert result.exit_code == 0, result
    assert ('plugin "crashers" failed in mogrun_event (run fix:acme/api): '
            "RuntimeError: observer broke") \
        in result.stderr
    assert ('plugin "crashers" failed in mogrun_job_finished (job fix): '
            "RuntimeError: notifier broke") \
        in result.stderr
    history = cli("--json", "history", cwd=root)
    assert history.exit_code == 0 and '"success"' in history.stdout


def test_crashing_gate_fails_its_job(tmp_path, mogrun_emulator, cli):
    gate = "from mogrun.hookspecs import hookimpl\n" \
           "@hookimpl\ndef mogrun_gate(events):\n    return 1 / 0\n"
    root = project(tmp_path, job(), {"bad_gate": gate})
    result = cli("run", "fix", cwd=root)
    assert result.exit_code == 1, result
    assert "gate crashed: ZeroDivisionError: division by zero" in result.output


def starts(emulator):
    return [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/runs")]


def test_retry_after_is_honoured_exactly(tmp_path, mogrun_emulator, cli):
    root = project(tmp_path, job(extra='retry = { attempts = 3, max_delay = "5s" }'))
    mogrun_emulator.add_fault("start", "429", retry_after=1.0)
    result = cli("run", "fix", cwd=root)
    assert result.exit_code == 0, result
    first, second = starts(mogrun_emulator)
    assert (first.status, second.status) == (429, 202)
    assert 1.0 <= second.time - first.time < 1.4


WAIT_RECORDER = """
import json, os
from mogrun.plugin import hookimpl

@hookimpl
def mogrun_wait(wait):
    with open(os.path.join(os.path.dirname(__file__), "waits.jsonl"), "a") as f:
        f.write(json.dumps(wait.as_json()) + "\\n")
"""


def test_a_plugin_hears_of_a_429_pause_through_mogrun_wait(tmp_path, mogrun_emulator, cli):
    root = project(tmp_path, job(extra='retry = { attempts = 3, max_delay = "5s" }'),
                   {"waits": WAIT_RECORDER})
    mogrun_emulator.add_fault("start", "429", retry_after=1.0)
    result = cli("run", "fix", cwd=root)
    assert result.exit_code == 0, result
    waits = [json.loads(line) for line in
             (root / "plugins" / "waits.jsonl").read_text().splitlines()]
    assert [w["kind"] for w in waits] == ["rate_limited"]
    assert waits[0]["job"] == "fix" and "429" in waits[0]["reason"]


def test_retry_after_beyond_max_delay_gives_up_at_once(tmp_path, mogrun_emulator, cli):
    root = project(tmp_path, job(extra='retry = { attempts = 3, max_delay = "2s" }'))
    mogrun_emulator.add_fault("start", "429", retry_after=30.0)
    result = cli("run", "fix", cwd=root)
    assert result.exit_code == 75, result
    assert [r.status for r in starts(mogrun_emulator)] == [429]


def test_backoff_is_capped_by_max_delay_and_attempts_run_out(tmp_path, mogrun_emulator,
                                                             cli):
    root = project(tmp_path, job(extra='retry = { attempts = 3, max_delay = "0.2s" }'))
    mogrun_emulator.add_fault("start", "500", count=4)
    result = cli("run", "fix", cwd=root)
    assert result.exit_code == 69, result
    tries = starts(mogrun_emulator)
    assert [r.status for r in tries] == [500, 500, 500, 500]  # 3 retries, then give up
    gaps = [b.time - a.time for a, b in itertools.pairwise(tries)]
    # Uncapped, the third wait could reach 2 s; capped, each is at most 0.2 s (+ overhead).
    assert all(gap < 0.2 + 0.15 for gap in gaps), gaps
    mogrun_emulator.clear_requests()
    mogrun_emulator.add_fault("start", "500", count=2)
    assert cli("run", "fix", cwd=root).exit_code == 0
    assert [r.status for r in starts(mogrun_emulator)] == [500, 500, 202]


def test_stall_timeout_treats_a_silent_run_as_timed_out(tmp_path, mogrun_emulator, cli):
    silent = "@emulator duration=never interval=1h events=3"
    root = project(tmp_path, job(prompt=silent, extra='retry = { stall_timeout = "1s" }'))
    result = cli("run", "fix", cwd=root)
    assert result.exit_code == 1, result
    assert "no change for 1s (stall_timeout)" in result.output


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.close()


def test_notification_arrives_and_its_url_is_masked(tmp_path, mogrun_emulator, cli,
                                                   receiver):
    hook = receiver.url("/hooks/team-secret-abc")
    extra = 'notify = [{ webhook = "{{ env.TEAM_HOOK }}", on = ["always"] }]'
    root = project(tmp_path, job(extra=extra))
    result = cli("run", "fix", cwd=root, env={"TEAM_HOOK": hook})
    assert result.exit_code == 0, result
    [posted] = receiver.received
    assert posted["path"] == "/hooks/team-secret-abc"
    assert posted["json"]["job"] == "fix" and posted["json"]["outcome"] == "success"
    assert "Authorization" not in posted["headers"]
    assert mogrun_emulator.write_token not in json.dumps(posted)
    shown = cli("show", "fix", cwd=root, env={"TEAM_HOOK": hook})
    assert shown.exit_code == 0, shown
    assert "team-secret-abc" not in shown.output


def test_a_notify_entry_whose_url_renders_empty_is_skipped(tmp_path, mogrun_emulator, cli,
                                                           receiver):
    """An optional notifier: unset in this environment, the run goes on silently."""
    extra = ('notify = [{ slack = "{{ env.SLACK_WEBHOOK_URL }}", on = ["always"] },\n'
             '          { webhook = "{{ env.TEAM_HOOK }}", on = ["always"] }]')
    root = project(tmp_path, job(extra=extra))
    env = {"SLACK_WEBHOOK_URL": "", "TEAM_HOOK": receiver.url("/team")}
    checked = cli("check", cwd=root, env=env)
    assert checked.exit_code == 0, checked
    result = cli("run", "fix", cwd=root, env=env)
    assert result.exit_code == 0, result
    assert [r["path"] for r in receiver.received] == ["/team"]
    assert "warning" not in result.stderr
    nobody = cli("run", "--rerun", "fix", cwd=root, env={**env, "TEAM_HOOK": " "})
    assert nobody.exit_code == 0, nobody
    assert len(receiver.received) == 1


def test_task_file_plugins_load_only_for_check_show_run(tmp_path, cli):
    """A task-file plugin is repository code: `list`, `--help` and `history` never
    import it (here it would fail loudly), while `check`, `show` and `run` do."""
    broken = "raise RuntimeError('imported!')\n"
    root = project(tmp_path, job(), {"broken": broken})
    for args in (["list"], ["--help"], ["history"], ["run", "--help"]):
        result = cli(*args, cwd=root)
        assert result.exit_code == 0, (args, result)
        assert "imported!" not in result.output
    for args in (["check"], ["show", "fix"], ["run", "fix"]):
        result = cli(*args, cwd=root)
        assert result.exit_code == 2, (args, result)
        assert 'plugin "broken" failed to import: RuntimeError: imported!' in result.stderr


@pytest.mark.parametrize("command", [("run", "fix"), ("run", "-n", "fix"), ("check",),
                                     ("plugins",)])
def test_one_plugin_manager_per_invocation(tmp_path, mogrun_emulator, cli, monkeypatch,
                                           command):
    """run builds its host before the task file is read (for plugin options)
    and adds the task file's plugins to that same manager later."""
    import pluggy

    built = []
    real_init = pluggy.PluginManager.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(pluggy.PluginManager, "__init__", counting)
    extra = tmp_path / "extra.py"
    extra.write_text("from mogrun.plugin import hookimpl\n\n@hookimpl\n"
                     "def mogrun_add_options(register):\n    register('team', help='x')\n")
    root = project(tmp_path, job(), {"recorder": RECORDER})
    with_p = command[0] in ("run", "plugins")  # check takes no -p
    args = (command[0], "-p", str(extra), *command[1:]) if with_p else command
    result = cli(*args, cwd=root)
    assert result.exit_code == 0, result
    assert len(built) == 1
    if command[0] == "run" and "-n" not in command:
        kinds = [json.loads(line)[0] for line in
                 (root / "plugins" / "calls.jsonl").read_text().splitlines()]
        assert kinds.count("configure") == 1


TAGGING = '''
import dataclasses
from mogrun.plugin import hookimpl
_options = {}

@hookimpl
def mogrun_add_options(register):
    register("tag", help="Append TAG to every prompt.", metavar="TAG")

@hookimpl
def mogrun_configure(config):
    _options.update(config.options)

@hookimpl
def mogrun_start_request(job, run, request):
    if _options.get("tag"):
        return dataclasses.replace(request, prompt=f"{request.prompt} [tag {_options['tag']}]")
'''


@pytest.mark.parametrize("command", [["run", "-n"], ["rerun", "-n"]])
def test_a_dry_run_gives_the_plugins_their_own_run_options(tmp_path, cli, command) -> None:
    """``run -p tag.py --tag URGENT -n lint`` showed the prompt without the tag, which
    the run sends: the dry run configured the plugins without their options."""
    write_taskfile(tmp_path, '[jobs.lint]\nrepo = "acme/api"\nprompt = "fix lint"\n\n')
    (tmp_path / "tag_meanwhile.py").write_text(TAGGING)
    args = [*command, "-p", "./tag_meanwhile.py", "--tag", "URGENT", "lint"]
    if command[0] == "rerun":  # a timed-out run, for rerun to repeat
        ran = cli("--local", "-q", "run", "lint", "--timeout", "1ms", cwd=tmp_path)
        assert ran.exit_code == 1, ran
        args = ["--local", *args]
    shown = cli(*args, cwd=tmp_path)
    assert shown.exit_code == 0, shown
    assert '"prompt": "fix lint [tag URGENT]"' in shown.stdout, shown.stdout
