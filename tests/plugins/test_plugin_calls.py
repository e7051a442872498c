"""The host calls every hook with the right arguments, and contains plugin failures."""

from __future__ import annotations

import dataclasses
import json

import pytest
from plugtest_helpers import ONCE, make_job, make_result, make_state

from mogrun.errors import GateError, PluginError, RateLimitedError, RequestInfo
from mogrun.hookspecs import hookimpl
from mogrun.models import SessionConfig
from mogrun.pluginhost import PluginHost
from mogrun.runs import Event, GateVerdict


class Recorder:
    """Records every call with its keyword arguments."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def mogrun_configure(self, config):
        self.calls.append(("configure", config))

    @hookimpl
    def mogrun_run_started(self, job, run, state, attached):
        self.calls.append(("run_started", job.name, run.repo, state.run_id, attached))

    @hookimpl
    def mogrun_event(self, job, run, event):
        self.calls.append(("event", job.name, run.repo, event.id))

    @hookimpl
    def mogrun_status_changed(self, run, old, state):
        self.calls.append(("status", run.repo, old, state.status))

    @hookimpl
    def mogrun_job_finished(self, job, results, outcome):
        self.calls.append(("job_finished", job.name, len(results), outcome))

    @hookimpl
    def mogrun_session_finished(self, config, results, exit_code):
        self.calls.append(("session_finished", config.command, len(results), exit_code))


class Crasher:
    """Raises from every observer hook and from its gate."""

    @hookimpl
    def mogrun_event(self, event):
        raise RuntimeError("boom in event")

    @hookimpl
    def mogrun_status_changed(self, state):
        raise RuntimeError("boom in status")

    @hookimpl
    def mogrun_gate(self, job):
        raise KeyError("missing")

    @hookimpl
    def mogrun_job_finished(self, job):
        raise RuntimeError("webhook down https://secret.example.com/hook")

    @hookimpl
    def mogrun_session_finished(self):
        raise OSError("disk full")

    @hookimpl
    def mogrun_watch(self):
        raise ValueError("watch broke")


def host_with(*plugins):
    return PluginHost.from_plugins(*plugins)


CONFIG = SessionConfig(task_file="/p/mogplex.toml", project_dir="/p", base_url="http://x")


def test_observer_hooks_receive_their_arguments():
    rec = Recorder()
    host = host_with(("rec", rec))
    job = make_job(repos=("acme/api", "acme/web"))
    run = job.runs[1]
    configured = host.configure(CONFIG)
    host.run_started(job=job, run=run, state=make_state("pending"), attached=True)
    host.status_changed(job=job, run=run, old="pending", state=make_state("streaming"))
    host.event(job=job, run=run, event=Event(id="e1", type="log", created_at="t"))
    host.job_finished(job=job, results=(make_result(), make_result()), outcome="success")
    host.session_finished(config=CONFIG, results=(make_result(),), exit_code=0)
    assert rec.calls == [
        ("configure", configured),
        ("run_started", "nightly", "acme/web", "run_1", True),
        ("status", "acme/web", "pending", "streaming"),
        ("event", "nightly", "acme/web", "e1"),
        ("job_finished", "nightly", 2, "success"),
        ("session_finished", "run", 1, 0),
    ]
    # the bundled junit plugin's --junit, not given: None
    assert configured.options == {"junit": None} and CONFIG.options == {}
    assert host.warnings == []


def test_raising_observers_become_warnings_and_others_still_run():
    rec, seen = Recorder(), []
    host = host_with(("rec", rec), ("crasher", Crasher()))
    host.on_warning = seen.append
    job = make_job(secrets={"https://secret.example.com/hook"})
    run = job.runs[0]
    host.event(job=job, run=run, event=Event(id="e1", type="log", created_at="t"))
    host.status_changed(job=job, run=run, old=None, state=make_state("pending"))
    host.job_finished(job=job, results=(), outcome="failed")
    host.session_finished(config=CONFIG, results=(), exit_code=1)
    assert host.watch(job=job, run=run, state=make_state("streaming"), unchanged_for=1) is None
    assert host.warnings == [
        'plugin "crasher" failed in mogrun_event (run nightly:acme/api): '
        "RuntimeError: boom in event"
        f"{ONCE % 'mogrun_event'}",
        'plugin "crasher" failed in mogrun_status_changed (run nightly:acme/api): '
        "RuntimeError: boom in status"
        f"{ONCE % 'mogrun_status_changed'}",
        'plugin "crasher" failed in mogrun_job_finished (job nightly): '
        "RuntimeError: webhook down ***",
        'plugin "crasher" failed in mogrun_session_finished: OSError: disk full',
        'plugin "crasher" failed in mogrun_watch (run nightly:acme/api): ValueError: watch broke'
        f"{ONCE % 'mogrun_watch'}",
    ]
    assert seen == host.warnings
    assert [c[0] for c in rec.calls] == ["event", "status", "job_finished", "session_finished"]


def test_crashing_gate_fails_its_job_and_other_verdicts_still_count():
    host = host_with(("crasher", Crasher()))
    job = make_job()
    verdicts = host.gates(job=job, run=job.runs[0], result=make_result(),
                          state=make_state("success"), events=())
    assert verdicts == (
        GateVerdict("crasher", False, "gate crashed: KeyError: 'missing'"),
        GateVerdict("status", True, "status success"),
    )
    assert host.warnings == []  # the failing verdict is the report


def test_gate_returning_garbage_is_a_failing_verdict():
    class Sloppy:
        @hookimpl
        def mogrun_gate(self):
            return "looks fine"

    host = host_with(("sloppy", Sloppy()))
    job = make_job()
    verdicts = host.gates(job=job, run=job.runs[0], result=make_result(), state=None, events=())
    assert verdicts[0] == GateVerdict("sloppy", False, "gate returned str, not a GateVerdict")


def test_gate_returning_a_verdicts_fields_says_what_it_returned():
    """A gate returning the verdict's fields as a tuple was said to have returned
    str (the tuple's first item), which its code never returns."""
    class Unwrapped:
        @hookimpl
        def mogrun_gate(self):
            return ("unwrapped", False, "no edit_file call")

    host = host_with(("unwrapped", Unwrapped()))
    job = make_job()
    verdicts = host.gates(job=job, run=job.runs[0], result=make_result(), state=None, events=())
    assert verdicts[0] == GateVerdict("unwrapped", False, (
        "gate returned a tuple holding str, not GateVerdicts (return GateVerdict(gate, "
        "passed, reason), a list of them, or None)"))


def test_gate_sees_result_state_and_events():
    seen = {}

    class Looker:
        @hookimpl
        def mogrun_gate(self, job, run, result, state, events):
            seen.update(job=job.name, run=run.repo, outcome=result.outcome,
                        status=state.status, events=[e.type for e in events])
            return [GateVerdict("looker", True, "ok"), GateVerdict("looker2", False, "nope")]

    host = host_with(("looker", Looker()))
    job = make_job()
    events = (Event("1", "started", "t"), Event("2", "finished", "t"))
    verdicts = host.gates(job=job, run=job.runs[0], result=make_result(),
                          state=make_state("success"), events=events)
    assert seen == {"job": "nightly", "run": "acme/api", "outcome": "success",
                    "status": "success", "events": ["started", "finished"]}
    assert GateVerdict("looker2", False, "nope") in verdicts


def test_adjust_job_chains_in_call_order():
    class AddTag:
        def __init__(self, tag):
            self.tag = tag

        @hookimpl
        def mogrun_adjust_job(self, job):
            return dataclasses.replace(job, description=job.description + self.tag)

    class Keep:
        @hookimpl
        def mogrun_adjust_job(self, job):
            return None

    host = host_with(("a", AddTag("a")), ("keep", Keep()), ("b", AddTag("b")))
    # pluggy's order: the last registered is called first; each sees the previous result.
    assert host.adjust_job(make_job()).description == "ba"


def test_adjust_job_crash_or_wrong_type_is_a_plugin_error():
    class Bad:
        @hookimpl
        def mogrun_adjust_job(self, job):
            return {"name": "x"}

    with pytest.raises(PluginError, match='"bad" returned dict from mogrun_adjust_job'):
        host_with(("bad", Bad())).adjust_job(make_job())

    class Crash:
        @hookimpl
        def mogrun_adjust_job(self, job):
            raise ValueError("nope")

    with pytest.raises(PluginError) as info:
        host_with(("crash", Crash())).adjust_job(make_job())
    assert info.value.message == ('plugin "crash" failed in mogrun_adjust_job (job nightly): '
                                  "ValueError: nope")


def test_start_request_is_adjusted_or_vetoed():
    class Branch:
        @hookimpl
        def mogrun_start_request(self, job, run, request):
            return dataclasses.replace(request, working_branch=f"bot/{job.name}")

    class Veto:
        @hookimpl
        def mogrun_start_request(self, run):
            if run.repo == "acme/web":
                raise GateError("acme/web is frozen this week")

    host = host_with(("branch", Branch()), ("veto", Veto()))
    job = make_job(repos=("acme/api", "acme/web"))
    changed = host.start_request(job=job, run=job.runs[0], request=job.runs[0].request)
    assert changed.working_branch == "bot/nightly"
    assert changed.prompt == job.runs[0].request.prompt
    with pytest.raises(GateError, match="acme/web is frozen this week"):
        host.start_request(job=job, run=job.runs[1], request=job.runs[1].request)


def test_start_request_crash_vetoes_with_plugin_name():
    class Crash:
        @hookimpl
        def mogrun_start_request(self, request):
            raise TypeError("bad")

    host = host_with(("crash", Crash()))
    job = make_job()
    with pytest.raises(GateError) as info:
        host.start_request(job=job, run=job.runs[0], request=job.runs[0].request)
    assert info.value.message == ('plugin "crash" failed in mogrun_start_request '
                                  "(run nightly:acme/api): TypeError: bad")


ERROR = RateLimitedError("slow down", status=429, code="RATE_LIMITED", retry_after=2.0)
REQ = RequestInfo("POST", "http://127.0.0.1/api/v1/mogplex/runs")


def retry(host, attempt=1, retry_after=2.0, job=None, error=ERROR):
    return host.retry_delay(error=error, attempt=attempt, job=job, request=REQ,
                            retry_after=retry_after)


def test_retry_delay_first_answer_wins_over_the_bundled_policy():
    class Patient:
        @hookimpl
        def mogrun_retry_delay(self, attempt):
            return 0.25 if attempt < 3 else None

    host = host_with(("patient", Patient()))
    assert retry(host, attempt=1) == 0.25
    assert retry(host, attempt=3) == 2.0  # no opinion: the bundled policy honours Retry-After


def test_retry_delay_false_means_give_up_and_crash_is_contained():
    class Never:
        @hookimpl
        def mogrun_retry_delay(self):
            return False

    assert retry(host_with(("never", Never()))) is None

    class Crash:
        @hookimpl
        def mogrun_retry_delay(self):
            raise RuntimeError("policy broke")

    host = host_with(("crash", Crash()))
    assert retry(host) == 2.0
    assert host.warnings == ['plugin "crash" failed in mogrun_retry_delay: '
                             f"RuntimeError: policy broke{ONCE % 'mogrun_retry_delay'}"]


def test_retry_delay_bad_answer_is_ignored_with_a_warning():
    class Wrong:
        @hookimpl
        def mogrun_retry_delay(self):
            return "soon"

    host = host_with(("wrong", Wrong()))
    assert retry(host) == 2.0
    assert "returned 'soon' from mogrun_retry_delay" in host.warnings[0]

    class Forever:
        @hookimpl
        def mogrun_retry_delay(self):
            return float("inf")

    host = host_with(("forever", Forever()))
    assert retry(host) == 2.0
    assert "returned inf from mogrun_retry_delay" in host.warnings[0]


def test_configure_crash_is_a_plugin_error_before_any_run():
    class Crash:
        @hookimpl
        def mogrun_configure(self, config):
            raise RuntimeError("needs PAGER_KEY")

    with pytest.raises(PluginError) as info:
        host_with(("crash", Crash())).configure(CONFIG)
    assert info.value.message == ('plugin "crash" failed in mogrun_configure: '
                                  "RuntimeError: needs PAGER_KEY")
    assert info.value.exit_code == 2


def test_watch_first_reason_wins():
    class Impatient:
        @hookimpl
        def mogrun_watch(self, unchanged_for):
            return "bored" if unchanged_for > 5 else None

    host = host_with(("impatient", Impatient()))
    job = make_job()
    args = {"job": job, "run": job.runs[0], "state": make_state("streaming")}
    assert host.watch(**args, unchanged_for=1) is None
    assert host.watch(**args, unchanged_for=6) == "bored"


@pytest.mark.parametrize(("changes", "problem"), [
    ({"timeout": None}, "timeout"),
    ({"timeout": "10m"}, "timeout"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": float("inf")}, "timeout"),
    ({"capacity_wait": -1.0}, "capacity_wait"),
    ({"capacity_wait": None}, "capacity_wait"),
    ({"secrets": None}, "secrets"),
    ({"secrets": frozenset({1})}, "secrets"),
    ({"name": "other"}, "name"),
    ({"runs": None}, "runs"),
    ({"runs": ("acme/api",)}, "runs"),
    ({"on_timeout": "explode"}, "on_timeout"),
    ({"needs": None}, "needs"),
    ({"options": None}, "options"),
])
def test_adjust_job_with_a_badly_typed_field_is_the_hooks_crash(changes, problem):
    import dataclasses

    class Bad:
        @hookimpl
        def mogrun_adjust_job(self, job):
            return dataclasses.replace(job, **changes)

    with pytest.raises(PluginError) as info:
        host_with(("bad", Bad())).adjust_job(make_job())
    assert info.value.message.startswith('plugin "bad" failed in mogrun_adjust_job: ')
    assert problem in info.value.message


def test_adjust_job_secrets_as_a_set_of_strings_are_taken():
    import dataclasses

    class Loose:
        @hookimpl
        def mogrun_adjust_job(self, job):
            return dataclasses.replace(job, secrets={"hook-secret"}, timeout=30)

    job = host_with(("loose", Loose())).adjust_job(make_job())
    assert job.secrets == frozenset({"hook-secret"}) and job.timeout == 30


def test_adjust_job_with_a_bad_timeout_stops_run_before_any_run(tmp_path, mogrun_emulator,
                                                                 mogrun_cli):
    from mogrun.testing import write_taskfile

    (tmp_path / "bad.py").write_text(
        "import dataclasses\nfrom mogrun.plugin import hookimpl\n"
        "@hookimpl\ndef mogrun_adjust_job(job):\n"
        "    return dataclasses.replace(job, timeout=None)\n")
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["bad.py"]\n'
                   '[jobs.fix]\nrepo = "acme/api"\nprompt = "hi @emulator duration=0.2s"\n')
    result = mogrun_cli("run", "fix", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert "Traceback" not in result.output
    assert result.stderr.startswith('Error: plugin "bad" failed in mogrun_adjust_job: ')
    assert "started" not in result.output


OPTION_READER = '''
import json, os
from mogrun.plugin import hookimpl

@hookimpl
def mogrun_add_options(register):
    register("team-x", help="team")
    register("loud", flag=True)

@hookimpl
def mogrun_configure(config):
    seen = [config.command, config.options["team-x"], config.options["loud"]]
    with open(os.path.join(os.path.dirname(__file__), "seen.jsonl"), "a") as f:
        f.write(json.dumps(seen) + "\\n")
'''


@pytest.mark.parametrize("command", [("check",), ("show", "fix"), ("--json", "check"),
                                     ("show", "--json", "fix")])
def test_check_and_show_give_plugin_options_their_defaults(tmp_path, mogrun_cli, command):
    import json

    from mogrun.testing import write_taskfile

    (tmp_path / "opts.py").write_text(OPTION_READER)
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["opts.py"]\n'
                   '[jobs.fix]\nrepo = "acme/api"\nprompt = "hi"\n')
    result = mogrun_cli(*command, cwd=tmp_path)
    assert result.exit_code == 0, result
    seen = [json.loads(line) for line in (tmp_path / "seen.jsonl").read_text().splitlines()]
    assert seen == [[command[-1] if command[-1] == "check" else "show", None, False]]


@pytest.mark.parametrize("command", [("show", "fan"), ("run", "-n", "fan")])
def test_a_veto_in_a_dry_run_names_the_run_it_refused(tmp_path, plugin_file, mogrun_cli,
                                                      command):
    """show and run -n said only the plugin's reason ("acme/web is frozen this
    week"): not which job or run, as run says it ("could not start")."""
    rel = plugin_file("freeze", """
        from mogrun.plugin import GateError

        @hookimpl
        def mogrun_start_request(run):
            if run.repo == "acme/web":
                raise GateError("frozen this week")
    """)
    (tmp_path / "mogplex.toml").write_text(
        f'[mogplex]\nplugins = ["{rel}"]\n\n[jobs.fan]\nrepo = ["acme/api", "acme/web"]\n'
        'prompt = "x"\n\n')
    result = mogrun_cli(*command, cwd=tmp_path)
    assert result.exit_code == 1, result
    assert result.errors == ["Error: fan:acme/web: could not start: frozen this week"], result


@pytest.mark.parametrize("command", [("show", "fan", "solo"), ("run", "-n", "fan", "solo"),
                                     ("--json", "show", "fan", "solo")])
def test_a_veto_in_a_dry_run_shows_every_other_run(tmp_path, plugin_file, mogrun_cli,
                                                   command):
    """show and run -n stopped at the first veto, where run goes on with the other
    runs: every job is shown, each refused run said in its place, and the error
    names them all (exit 1, as run's)."""
    rel = plugin_file("freeze", """
        from mogrun.plugin import GateError

        @hookimpl
        def mogrun_start_request(run):
            if run.repo in ("acme/web", "acme/ops"):
                raise GateError(run.repo + " is frozen")
    """)
    (tmp_path / "mogplex.toml").write_text(
        f'[mogplex]\nplugins = ["{rel}"]\n\n[jobs.fan]\nrepo = ["acme/api", "acme/web"]\n'
        'prompt = "x"\n\n[jobs.solo]\nrepo = "acme/ops"\nprompt = "y"\n\n[jobs.after]\n'
        'repo = "acme/api"\nprompt = "z"\n')
    result = mogrun_cli(*command, "after", cwd=tmp_path)
    assert result.exit_code == 1, result
    assert result.stderr.splitlines() == [
        "Error: fan:acme/web: could not start: acme/web is frozen",
        "Also: solo: could not start: acme/ops is frozen"], result
    if command[0] == "--json":
        documents = [json.loads(line) for line in result.stdout.splitlines()]
        runs = {run["run"]: run for doc in documents for run in doc["runs"]}
        assert [doc["job"] for doc in documents] == ["fan", "solo", "after"]
        assert runs["fan:acme/web"]["request"] is None
        assert runs["fan:acme/web"]["refused"] == "acme/web is frozen"
        assert runs["fan:acme/api"]["request"]["body"]["prompt"] == "x"
        assert runs["after:acme/api"]["request"]["body"]["prompt"] == "z"
    else:
        assert "not sent: a plugin refused it: acme/web is frozen" in result.stdout
        assert "not sent: a plugin refused it: acme/ops is frozen" in result.stdout
        assert '"prompt": "x"' in result.stdout and '"prompt": "z"' in result.stdout
