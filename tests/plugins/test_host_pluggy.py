"""The host calls hooks through pluggy: order and firstresult as hookspecs
declares them; interrupts are never taken for a plugin's fault."""

from __future__ import annotations

import pytest
from plugtest_helpers import ONCE, make_job, make_result

from mogrun.engine.signals import ForcedExit
from mogrun.errors import Interrupted, RateLimitedError, RequestInfo
from mogrun.hookspecs import hookimpl
from mogrun.pluginhost import PluginHost
from mogrun.waits import Wait, WaitKind

REQUEST = RequestInfo("POST", "http://127.0.0.1/runs")


def retry(host, job=None):
    return host.retry_delay(error=RateLimitedError("slow down", status=429, code="RATE"),
                            attempt=1, job=job, request=REQUEST, retry_after=None)


def test_first_answer_wins_and_later_implementations_are_not_called():
    calls = []

    class Early:  # registered first: pluggy calls it last
        @hookimpl
        def mogrun_retry_delay(self):
            calls.append("early")
            return 9.0

    class Late:
        @hookimpl
        def mogrun_retry_delay(self):
            calls.append("late")
            return 2.0

    host = PluginHost.from_plugins(("early", Early()), ("late", Late()), bundled=False)
    assert retry(host) == 2.0
    assert calls == ["late"]


def test_a_crashing_or_wrong_answer_passes_the_turn_to_the_next_plugin():
    class Decides:
        @hookimpl
        def mogrun_retry_delay(self):
            return 1.5

    class Crashes:
        @hookimpl
        def mogrun_retry_delay(self):
            raise RuntimeError("oops")

    class Wrong:
        @hookimpl
        def mogrun_retry_delay(self):
            return "soon"

    host = PluginHost.from_plugins(("decides", Decides()), ("crashes", Crashes()),
                                   ("wrong", Wrong()), bundled=False)
    assert retry(host) == 1.5
    assert host.warnings == [
        "plugin \"wrong\" returned 'soon' from mogrun_retry_delay; ignored "
        "(expected seconds (0 to a year), False or None) (said once: its later wrong answers "
        "are not repeated)",
        'plugin "crashes" failed in mogrun_retry_delay: RuntimeError: oops'
        f"{ONCE % 'mogrun_retry_delay'}"]


@pytest.mark.parametrize("answer", [True, float("nan"), float("inf"), 1e12, 10**12, -5, -0.5])
def test_a_delay_that_is_not_a_number_of_seconds_is_ignored(answer):
    class Odd:
        @hookimpl
        def mogrun_retry_delay(self):
            return answer

    host = PluginHost.from_plugins(("odd", Odd()), bundled=False)
    assert retry(host) is None
    assert host.warnings == [f'plugin "odd" returned {answer!r} from mogrun_retry_delay; '
                             "ignored (expected seconds (0 to a year), False or None)"
                             " (said once: its later wrong answers are not repeated)"]


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), ForcedExit(130),
                                       Interrupted(143)])
def test_an_interrupt_inside_a_notifier_is_not_contained(interrupt):
    class Notifier:
        @hookimpl
        def mogrun_job_finished(self):
            raise interrupt

    host = PluginHost.from_plugins(("notifier", Notifier()), bundled=False)
    with pytest.raises(type(interrupt)):
        host.job_finished(job=make_job(), results=(make_result(),), outcome="success")
    assert host.warnings == []


def test_an_interrupt_inside_a_gate_is_not_a_failing_verdict():
    class Gate:
        @hookimpl
        def mogrun_gate(self):
            raise ForcedExit(130)

    host = PluginHost.from_plugins(("gate", Gate()), bundled=False)
    job = make_job()
    with pytest.raises(ForcedExit):
        host.gates(job=job, run=job.runs[0], result=make_result(), state=None, events=())


def test_wait_reaches_observers_and_a_crash_is_a_warning():
    seen = []

    class Watcher:
        @hookimpl
        def mogrun_wait(self, wait):
            seen.append(wait.kind)

    class Broken:
        @hookimpl
        def mogrun_wait(self):
            raise ValueError("no")

    host = PluginHost.from_plugins(("watcher", Watcher()), ("broken", Broken()),
                                   bundled=False)
    host.wait(Wait(kind=WaitKind.RETRY, reason="transport error"))
    assert seen == [WaitKind.RETRY]
    assert host.warnings == ['plugin "broken" failed in mogrun_wait: ValueError: no'
                             f"{ONCE % 'mogrun_wait'}"]


def test_crash_messages_mask_the_job_secrets():
    class Leaky:
        @hookimpl
        def mogrun_event(self):
            raise RuntimeError("posting to https://hooks.example/T0/sekrit-value failed")

    host = PluginHost.from_plugins(("leaky", Leaky()), bundled=False)
    job = make_job(secrets={"sekrit-value"})
    host.event(job=job, run=job.runs[0], event=None)
    assert host.warnings == ['plugin "leaky" failed in mogrun_event (run nightly:acme/api): '
                             "RuntimeError: "
                             "posting to https://hooks.example/T0/*** failed"
                             f"{ONCE % 'mogrun_event'}"]


def test_a_p_plugin_stays_ahead_of_task_file_plugins_added_later(tmp_path):
    """run builds its host before the task file is read and adds the task
    file's plugins afterwards; -p plugins are still asked first."""
    (tmp_path / "team.py").write_text("from mogrun.plugin import hookimpl\n\n@hookimpl\n"
                                      "def mogrun_retry_delay():\n    return 7.0\n")
    (tmp_path / "mine.py").write_text("from mogrun.plugin import hookimpl\n\n@hookimpl\n"
                                      "def mogrun_retry_delay():\n    return 1.0\n")
    host = PluginHost.load(project_dir=None, extra=[str(tmp_path / "mine.py")],
                           use_entry_points=False)
    host.add_plugins(project_dir=tmp_path, task_file_plugins=["team.py"])
    assert retry(host) == 1.0
    assert [(i.name, i.source) for i in host.describe()][-2:] == [("team", "task file"),
                                                                  ("mine", "-p")]
    host.add_plugins(project_dir=None, extra=[str(tmp_path / "mine.py")])  # loads once
    assert host.plugin_names().count("mine") == 1


def test_what_an_observer_or_set_up_hook_returns_is_ignored():
    """Only hooks whose spec returns something have their answer checked."""
    from mogrun.models import SessionConfig

    class Chatty:
        @hookimpl
        def mogrun_configure(self):
            return "configured!"

        @hookimpl
        def mogrun_event(self):
            return 42

    host = PluginHost.from_plugins(("chatty", Chatty()), bundled=False)
    host.configure(SessionConfig(task_file=None, project_dir=None, base_url=None))
    job = make_job()
    host.event(job=job, run=job.runs[0], event=None)
    assert host.warnings == []


def test_tryfirst_and_trylast_keep_their_meaning_through_the_guard():
    calls = []

    class First:
        @hookimpl(tryfirst=True)
        def mogrun_retry_delay(self):
            calls.append("first")

    class Last:
        @hookimpl(trylast=True)
        def mogrun_retry_delay(self):
            calls.append("last")
            return 3.0

    class Plain:
        @hookimpl
        def mogrun_retry_delay(self):
            calls.append("plain")

    host = PluginHost.from_plugins(("first", First()), ("last", Last()), ("plain", Plain()),
                                   bundled=False)
    assert retry(host) == 3.0
    assert calls == ["first", "plain", "last"]


def test_a_hook_no_plugin_heard_is_heard_once_a_task_file_plugin_adds_it(tmp_path):
    """Whether anyone hears a run's events is remembered (a fan-out asks at every
    event), and learnt again when the task file's plugins come in after the first
    runs were told (``run`` adds them once the file is read)."""
    from mogrun.runs import Event

    (tmp_path / "audit.py").write_text(
        "from mogrun.plugin import hookimpl\n\nHEARD = []\n\n@hookimpl\n"
        "def mogrun_event(event):\n    HEARD.append(event.id)\n\n", encoding="utf-8")
    host = PluginHost.bundled_only()
    job = make_job()
    host.event(job=job, run=job.runs[0], event=Event("e1", "log", "2026-01-01T00:00:00Z",
                                                     payload={"n": 1}))
    host.add_plugins(project_dir=tmp_path, task_file_plugins=["audit.py"])
    host.event(job=job, run=job.runs[0], event=Event("e2", "log", "2026-01-01T00:00:01Z",
                                                     payload={"n": 2}))
    audit = next(p for name, p in host.pm.list_name_plugin() if name == "audit")
    assert audit.plugin.HEARD == ["e2"]


def test_a_module_plugins_hooks_are_found_as_pluggy_finds_them():
    """The quick look in a module's namespace (``pluginload._may_be_hook``) passes
    over only what pluggy's own scan passes over: every kind of attribute a module
    holds, the hooks among them a function, a bound method and a staticmethod."""
    import functools
    import types

    import pluggy

    from mogrun import hookspecs
    from mogrun.pluginload import Candidate, hook_impls

    class Holder:
        @hookimpl
        def mogrun_retry_delay(self):
            return 1.0

    @hookimpl
    def mogrun_configure(config):
        return None

    plugin = types.ModuleType("many_kinds")
    plugin.__dict__.update(
        mogrun_configure=mogrun_configure, mogrun_retry_delay=Holder().mogrun_retry_delay,
        mogrun_event=staticmethod(hookimpl(lambda job, run, event: None)),
        undecorated_helper=lambda: None, Holder=Holder, CONSTANT=3, partial=functools.partial(
            mogrun_configure, None), module=types, builtin=len, nothing=None)
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    by_pluggy = {attr for attr in dir(plugin) if pm.parse_hookimpl_opts(plugin, attr)}
    found = hook_impls(pm, Candidate("many", "test", "test", plugin), problems=[])
    assert by_pluggy == {"mogrun_configure", "mogrun_retry_delay", "mogrun_event"}
    assert set(found) == by_pluggy
