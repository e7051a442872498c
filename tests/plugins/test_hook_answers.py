"""Answers of the wrong type from the hooks whose answer the engine acts on."""

from __future__ import annotations

import pytest
from plugtest_helpers import make_job, make_state

from mogrun.hookspecs import hookimpl
from mogrun.pluginhost import PluginHost


@pytest.mark.parametrize("answer", [False, "", 0, ["bored"]])
def test_watch_answer_that_is_not_a_reason_is_ignored_with_a_warning(answer):
    class Wrong:
        @hookimpl
        def mogrun_watch(self):
            return answer

    host = PluginHost.from_plugins(("wrong", Wrong()))
    job = make_job()
    reason = host.watch(job=job, run=job.runs[0], state=make_state("streaming"),
                        unchanged_for=1.0)
    assert reason is None  # a run is never stopped for "False"
    assert host.warnings == [f'plugin "wrong" returned {answer!r} from mogrun_watch '
                             f"(run {job.runs[0].label}); ignored (expected a reason string "
                             "or None) (said once: its later wrong answers are not repeated)"]


def test_a_hook_that_returns_a_coroutine_is_told_its_code_never_ran():
    """A hook written as a plain def that returns a coroutine (``return
    self.post(event)`` of an async helper) was ignored as any observer's answer is:
    its code never ran, and the only sign was Python's "coroutine was never
    awaited" warning, pointing into pluggy, at garbage collection."""
    import gc
    import warnings

    from mogrun.runs import Event

    ran = []

    async def post(event):
        ran.append(event)

    class Hasty:
        @hookimpl
        def mogrun_event(self, event):
            return post(event)

    host = PluginHost.from_plugins(("hasty", Hasty()))
    job = make_job()
    event = Event(id="e1", type="log", created_at="2026-01-01T00:00:00+00:00")
    with warnings.catch_warnings(record=True) as python_said:
        warnings.simplefilter("always")
        host.event(job=job, run=job.runs[0], event=event)
        host.event(job=job, run=job.runs[0], event=event)
        gc.collect()
    assert ran == []  # (mogrun does not await it: the warnings below are the proof)
    assert host.warnings == [
        f'plugin "hasty" returned a coroutine from mogrun_event (run {job.runs[0].label}): '
        "its code never ran (mogrun calls a hook and never awaits what it returns: write "
        "the hook as a plain def that does the work)"]
    assert not [w for w in python_said if "never awaited" in str(w.message)], python_said


def test_gate_verdict_with_fields_of_the_wrong_type_is_a_failing_verdict():
    from plugtest_helpers import make_result

    from mogrun.runs import GateVerdict

    class Sloppy:
        @hookimpl
        def mogrun_gate(self):
            return [GateVerdict("ok", True, "fine"), GateVerdict("x", False, None),
                    GateVerdict(123, "yes", ["r"])]

    host = PluginHost.from_plugins(("sloppy", Sloppy()), bundled=False)
    job = make_job()
    verdicts = host.gates(job=job, run=job.runs[0], result=make_result(), state=None,
                          events=())
    # It listed the types it wanted as if they were those it got.
    assert verdicts == (GateVerdict("sloppy", False, "gate returned a GateVerdict whose "
                                    "reason must be a string, not NoneType"),)
    assert all(isinstance(v.reason, str) and isinstance(v.passed, bool) for v in verdicts)


@pytest.mark.parametrize(("change", "reason"), [
    ({"idempotency_key": "k\nX-Evil: 1"}, "the idempotency key is sent as an HTTP header"),
    ({"idempotency_key": "k" * 201}, "the idempotency key must be 1..200 characters"),
    ({"prompt": "x" * 100_001}, "the prompt is 100,001 characters"),
    ({"prompt": 123}, "prompt must be a string, not int"),
    ({"idempotency_key": None}, "idempotency_key must be a string, not NoneType"),
    ({"create_branch": "yes"}, "create_branch must be a boolean, not str"),
])
def test_a_start_request_breaking_a_server_limit_is_vetoed_before_sending(change, reason):
    import dataclasses

    from mogrun.errors import GateError

    class Rewriter:
        @hookimpl
        def mogrun_start_request(self, request):
            return dataclasses.replace(request, **change)

    host = PluginHost.from_plugins(("rewriter", Rewriter()), bundled=False)
    job = make_job()
    with pytest.raises(GateError) as caught:
        host.start_request(job=job, run=job.runs[0], request=job.runs[0].request)
    assert caught.value.message.startswith(
        'plugin "rewriter" returned a start request the server would refuse: ')
    assert reason in caught.value.message
