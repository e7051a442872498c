"""What a team writing its own plugins got wrong, found by a pass over the
plugin docs: a plugin's deliberate words quoting the token, a KeyboardInterrupt
raised on a worker thread, a typo hidden by ``optionalhook``, a wrong answer
of a hook asked at every poll. Each was a leak, a traceback or silence."""

from __future__ import annotations

import copy
import dataclasses
import threading

import pytest
from plugtest_helpers import (
    TOKEN,
    host_with_token,
    make_job,
    make_request,
    make_result,
    make_state,
)

from mogrun.errors import GateError, MogrunError, PluginError
from mogrun.hookspecs import hookimpl
from mogrun.models import SessionConfig
from mogrun.pluginhost import PluginHost
from mogrun.runs import Event, GateVerdict


def host_of(plugin: object) -> PluginHost:
    return host_with_token(plugin, "team")


def test_a_deliberate_veto_quoting_the_token_is_masked() -> None:
    class Veto:
        @hookimpl
        def mogrun_start_request(self):
            raise GateError(f"refusing to start with token {TOKEN}")

    job = make_job()
    with pytest.raises(GateError) as caught:
        host_of(Veto()).start_request(job, job.runs[0], make_request("acme/api"))
    assert caught.value.message == "refusing to start with token ***"


def test_a_set_up_hook_s_own_mogrun_error_quoting_the_token_is_masked() -> None:
    class Configure:
        @hookimpl
        def mogrun_configure(self):
            raise MogrunError(f"team config missing (key={TOKEN})", context=[f"t={TOKEN}"])

    with pytest.raises(MogrunError) as caught:
        host_of(Configure()).configure(SessionConfig(None, None, None))
    assert caught.value.message == "team config missing (key=***)"
    assert caught.value.context == ("t=***",)


def test_a_gate_verdict_and_a_watch_reason_quoting_secrets_are_masked() -> None:
    secret = "https://hooks.example.com/T0/s3cr3t"

    class Leaky:
        @hookimpl
        def mogrun_gate(self):
            return GateVerdict(f"leaky {secret}", False, f"token {TOKEN}")

        @hookimpl
        def mogrun_watch(self):
            return f"stalled (token {TOKEN})"

    host = host_of(Leaky())
    job = make_job(secrets=frozenset({secret}))
    verdicts = host.gates(job=job, run=job.runs[0], result=make_result(), state=make_state(),
                          events=())
    assert verdicts == (GateVerdict("leaky ***", False, "token ***"),)
    assert host.watch(job=job, run=job.runs[0], state=make_state("running"),
                      unchanged_for=1.0) == "stalled (token ***)"


@pytest.mark.parametrize("where", ["gate", "run_started"])
def test_a_keyboard_interrupt_raised_on_a_worker_thread_is_the_plugin_s_fault(where) -> None:
    """No Ctrl-C reaches a worker thread: the raise was the plugin's. It escaped
    the containment, and the run's result (its run id too) was lost to a traceback."""
    class Rude:
        @hookimpl
        def mogrun_gate(self):
            raise KeyboardInterrupt

        @hookimpl
        def mogrun_run_started(self):
            raise KeyboardInterrupt

    host = host_of(Rude())
    job = make_job()
    got: list[object] = []

    def on_a_worker() -> None:
        if where == "gate":
            got.append(host.gates(job=job, run=job.runs[0], result=make_result(),
                                  state=make_state(), events=()))
        else:
            got.append(host.run_started(job=job, run=job.runs[0], state=make_state(),
                                        attached=False))

    worker = threading.Thread(target=on_a_worker)
    worker.start()
    worker.join()
    if where == "gate":
        assert got == [(GateVerdict("team", False, "gate crashed: KeyboardInterrupt"),)]
    else:
        assert got == [None]
        assert host.warnings == ['plugin "team" failed in mogrun_run_started '
                                 "(run nightly:acme/api): "
                                 "KeyboardInterrupt"]


def test_a_keyboard_interrupt_on_the_main_thread_is_still_the_user_s() -> None:
    class Rude:
        @hookimpl
        def mogrun_run_started(self):
            raise KeyboardInterrupt

    job = make_job()
    with pytest.raises(KeyboardInterrupt):
        host_of(Rude()).run_started(job=job, run=job.runs[0], state=make_state(),
                                    attached=False)


def test_a_wrong_answer_is_said_once_and_short() -> None:
    """A watch hook is asked at every poll: a list of 200,000 numbers made four
    warnings of 1.5 MB each in a one-second run."""
    class Stall:
        @hookimpl
        def mogrun_watch(self):
            return list(range(200_000))

    host = host_of(Stall())
    job = make_job()
    for _ in range(3):
        assert host.watch(job=job, run=job.runs[0], state=make_state("running"),
                          unchanged_for=1.0) is None
    assert len(host.warnings) == 1
    assert host.warnings[0].startswith('plugin "team" returned [0, 1, 2, ')
    assert len(host.warnings[0]) < 300  # the answer's repr cut to 80 characters
    assert "...) from mogrun_watch" not in host.warnings[0]
    assert f"... from mogrun_watch (run {job.runs[0].label}); ignored (expected a reason " \
        "string or None)" in host.warnings[0]


def test_a_start_request_of_the_wrong_type_says_what_to_return() -> None:
    class Small:
        @hookimpl
        def mogrun_start_request(self, request):
            return request.prompt + "\n\nKeep the diff small."

    job = make_job()
    with pytest.raises(GateError) as caught:
        host_of(Small()).start_request(job, job.runs[0], make_request("acme/api"))
    assert caught.value.message == (
        'plugin "team" returned str from mogrun_start_request, expected a StartRequest '
        "(dataclasses.replace the request given) or None")


def test_a_job_s_options_changed_in_place_are_the_plugin_s_error() -> None:
    """`job.options["gates"]["status"].append("failed")` in mogrun_adjust_job made
    a failed run pass with exit 0, past every check a replaced job gets."""
    class Lenient:
        @hookimpl
        def mogrun_adjust_job(self, job):
            job.options["gates"]["status"].append("failed")

    job = make_job(options={"gates": {"status": ["success"]}})
    with pytest.raises(PluginError) as caught:
        host_of(Lenient()).adjust_job(job)
    assert caught.value.message == ('plugin "team" changed job.options in place in '
                                    "mogrun_adjust_job")


def test_options_replaced_with_a_copy_are_taken_and_keep_their_types() -> None:
    """The way the docs say: a copy, through dataclasses.replace. The options keep
    the types a validator gave them (a Counter stays one)."""
    from collections import Counter

    class Strict:
        @hookimpl
        def mogrun_adjust_job(self, job):
            options = copy.deepcopy(dict(job.options))
            options["gates"]["status"].append("cancelled")
            return dataclasses.replace(job, options=options)

    job = make_job(options={"gates": {"status": ["success"]}, "counts": Counter("aab")})
    adjusted = host_of(Strict()).adjust_job(job)
    assert adjusted.options["gates"]["status"] == ["success", "cancelled"]
    assert job.options["gates"]["status"] == ["success"]
    assert adjusted.options["counts"].most_common(1) == [("a", 2)]


def test_an_event_payload_changed_by_a_plugin_stays_as_the_server_sent_it() -> None:
    """A plugin that tagged event.payload in mogrun_event rewrote the --json stream
    and the stored events: plugins get their own copy."""
    class Tagger:
        @hookimpl
        def mogrun_event(self, event):
            event.payload["seen_by"] = "tagger"

    host = host_of(Tagger())
    job = make_job()
    event = Event(id="e1", type="log", created_at="2026-01-01T00:00:00Z",
                  payload={"lines": ["a"]})
    host.event(job=job, run=job.runs[0], event=event)
    assert event.payload == {"lines": ["a"]}
    assert host.warnings == []


class TeamConfigError(GateError):
    """A plugin's own error whose message is computed (a property, as teams write)."""

    def __init__(self, team: str) -> None:
        self.team = team
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"team {self.team}: refusing with token {TOKEN}"

    @message.setter
    def message(self, value: str) -> None:
        pass


def test_a_plugin_s_own_error_class_with_a_computed_message_is_masked_not_a_traceback(
        ) -> None:
    """Masking copies the error with evolve(), which cannot set a property: a
    traceback (AttributeError "has no field 'message'") where the error was shown."""
    class Veto:
        @hookimpl
        def mogrun_start_request(self):
            raise TeamConfigError("platform")

    job = make_job()
    with pytest.raises(GateError) as caught:
        host_of(Veto()).start_request(job, job.runs[0], make_request("acme/api"))
    assert caught.value.message == "team platform: refusing with token ***"


def test_a_long_wrong_answer_is_masked_before_it_is_cut() -> None:
    """Cut first, the token's first 28 characters were shown: no longer the token."""
    class Watch:
        @hookimpl
        def mogrun_watch(self):
            return ("x" * 60, TOKEN)  # the token straddles the cut at 80 characters

    host = host_of(Watch())
    job = make_job()
    host.watch(job=job, run=job.runs[0], state=make_state("running"), unchanged_for=1.0)
    [warning] = host.warnings
    assert TOKEN[:8] not in warning and "'***" in warning, warning


def test_options_holding_a_plugin_s_objects_nan_or_a_cycle_are_not_taken_for_changes(
        ) -> None:
    """The in-place check must never accuse a plugin that changed nothing: an object
    without __eq__, a nan (never equal to itself), a cycle."""
    class Opaque:
        pass

    cyclic: dict = {"name": "x"}
    cyclic["self"] = cyclic

    class Looks:
        @hookimpl
        def mogrun_adjust_job(self, job):
            return None

    job = make_job(options={"o": Opaque(), "n": float("nan"), "c": cyclic, "s": {"a", "b"}})
    assert host_of(Looks()).adjust_job(job) is job
