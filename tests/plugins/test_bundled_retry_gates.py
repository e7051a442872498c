"""The bundled retry and gates plugins through the host, with injected randomness."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mogrun_plugins import gates, retry
from plugtest_helpers import make_job, make_result, make_state

from mogrun.errors import (
    ForbiddenError,
    IdempotencyConflictError,
    RateLimitedError,
    RequestInfo,
    RequestRefusedError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    UnauthorizedError,
)
from mogrun.pluginhost import PluginHost
from mogrun.runs import Event, GateVerdict

REQ = RequestInfo("GET", "http://127.0.0.1/api/v1/mogplex/runs/r1")


def api_error(cls, status, retry_after=None):
    return cls("x", status=status, code="X", retry_after=retry_after)


@pytest.fixture
def host():
    return PluginHost.bundled_only()


@pytest.fixture
def top_of_range(monkeypatch):
    """Make the jitter pick the top of its range, so the cap is visible."""
    monkeypatch.setattr(retry, "RNG", type("Top", (), {"uniform": staticmethod(lambda a, b: b)}))


def delay(host, error, attempt=1, job=None, retry_after=None):
    return host.retry_delay(error=error, attempt=attempt, job=job, request=REQ,
                            retry_after=retry_after)


@pytest.mark.parametrize("error", [
    api_error(RateLimitedError, 429), api_error(ServiceUnavailableError, 503),
    api_error(ServerError, 500), api_error(ServerError, 502), api_error(ServerError, 504),
    TransportError("connection refused"), TransportError("read timed out"),
])
def test_transient_errors_are_retried(host, error):
    assert delay(host, error) is not None


@pytest.mark.parametrize("error", [
    api_error(RequestRefusedError, 400), api_error(UnauthorizedError, 401),
    api_error(ForbiddenError, 403), api_error(RequestRefusedError, 404),
    api_error(RequestRefusedError, 409), api_error(IdempotencyConflictError, 409),
])
def test_client_errors_are_never_retried(host, error):
    assert delay(host, error) is None


def test_backoff_doubles_and_is_capped_by_max_delay(host, top_of_range):
    job = make_job(options={"retry": retry.validate({"attempts": 8, "max_delay": "3s"})})
    err = TransportError("reset")
    delays = [delay(host, err, attempt=n, job=job) for n in range(1, 10)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, None]


def test_full_jitter_stays_inside_the_range_and_is_seedable(host, monkeypatch):
    monkeypatch.setattr(retry, "RNG", random.Random(7))
    first = [delay(host, TransportError("x"), attempt=4) for _ in range(50)]
    monkeypatch.setattr(retry, "RNG", random.Random(7))
    again = [delay(host, TransportError("x"), attempt=4) for _ in range(50)]
    assert first == again
    assert all(0.0 <= d <= 4.0 for d in first)
    assert len(set(first)) > 40  # really random, not a constant


def test_retry_after_is_honoured_exactly_and_beyond_max_delay_gives_up(host, top_of_range):
    job = make_job(options={"retry": retry.validate({"max_delay": "10s"})})
    err = api_error(RateLimitedError, 429, retry_after=7)
    assert delay(host, err, job=job, retry_after=7.0) == 7.0
    assert delay(host, err, job=job, retry_after=10.0) == 10.0
    assert delay(host, err, job=job, retry_after=11.0) is None


@pytest.mark.parametrize("retry_after", [0.0, None])
def test_a_retry_after_of_0_backs_off_as_none_does(host, top_of_range, retry_after):
    """A proxy's ``Retry-After: 0`` taken at its word spent every attempt in one second."""
    err = api_error(RateLimitedError, 429, retry_after=retry_after)
    delays = [delay(host, err, attempt=n, retry_after=retry_after) for n in range(1, 5)]
    assert delays == [0.5, 1.0, 2.0, 4.0]


def test_defaults_apply_without_a_job_or_a_retry_key(host, top_of_range):
    err = api_error(ServerError, 500)
    assert delay(host, err, attempt=5) == 8.0
    assert delay(host, err, attempt=6) is None
    assert delay(host, err, attempt=5, job=make_job()) == 8.0
    assert delay(host, err, retry_after=60.0) == 60.0
    assert delay(host, err, retry_after=61.0) is None


def test_attempts_counts_consecutive_failures(host, top_of_range):
    job = make_job(options={"retry": retry.validate({"attempts": 1})})
    assert delay(host, TransportError("x"), attempt=1, job=job) == 0.5
    assert delay(host, TransportError("x"), attempt=2, job=job) is None


@pytest.mark.parametrize(("value", "message"), [
    ({"attempts": 0}, "retry.attempts must be a whole number >= 1, not 0"),
    ({"attempts": True}, "retry.attempts must be a whole number >= 1, not true"),
    ({"attempts": "3"}, "retry.attempts must be a whole number >= 1, not '3'"),
    ({"max_delay": "soon"}, "retry.max_delay: invalid duration 'soon'"),
    ({"stall_timeout": 0}, "retry.stall_timeout must be longer than 0s"),
    ({"attempt": 3}, 'unknown retry setting "attempt" (did you mean "attempts"?); valid: '
                     "attempts, max_delay, stall_timeout"),
    (5, "retry must be a table like { attempts = ... }, not an integer"),
])
def test_retry_key_is_validated(value, message):
    with pytest.raises(ValueError) as info:
        retry.validate(value)
    assert str(info.value).startswith(message)


def test_retry_key_normalises_durations():
    assert retry.validate({"attempts": 3, "max_delay": "2m", "stall_timeout": "10m"}) == {
        "attempts": 3, "max_delay": 120.0, "stall_timeout": 600.0}


def test_stall_timeout_stops_following(host):
    job = make_job(options={"retry": retry.validate({"stall_timeout": "10m"})})
    args = {"job": job, "run": job.runs[0], "state": make_state("streaming")}
    assert host.watch(**args, unchanged_for=599.0) is None
    assert host.watch(**args, unchanged_for=600.0) == "no change for 10m (stall_timeout)"
    assert host.watch(job=make_job(), run=job.runs[0], state=make_state("streaming"),
                      unchanged_for=10**6) is None


# --- gates -------------------------------------------------------------------------


def judge(host, job, status="success", events=(), state=..., result=None):
    state = make_state(status) if state is ... else state
    return host.gates(job=job, run=job.runs[0], result=result or make_result(outcome=status),
                      state=state, events=tuple(events))


def test_default_gate_is_status_success_even_without_the_key(host):
    assert judge(host, make_job()) == (GateVerdict("status", True, "status success"),)
    assert judge(host, make_job(), "failed") == (
        GateVerdict("status", False, "ended failed, expected success"),)


def test_status_gate_allows_listed_statuses(host):
    job = make_job(options={"gates": gates.validate({"status": ["success", "cancelled"]})})
    assert judge(host, job, "cancelled")[0].passed
    assert judge(host, job, "failed")[0].reason == "ended failed, expected success or cancelled"


def test_status_gate_reason_says_how_the_run_ended_without_repeating_the_gate():
    assert gates.status_verdict("failed", ["success"]).reason == "ended failed, expected success"
    assert gates.status_verdict(None, ["success"]) == GateVerdict(
        "status", False, "no status, expected success")


def test_max_duration_uses_server_timestamps(host):
    job = make_job(options={"gates": gates.validate({"max_duration": "20m"})})
    quick = make_state(created="2026-01-01T10:00:00Z", updated="2026-01-01T10:19:59Z")
    slow = make_state(created="2026-01-01T10:00:00Z", updated="2026-01-01T10:25:00Z")
    # The local duration says 1s: the server's timestamps win.
    result = make_result(duration=1.0)
    assert judge(host, job, state=quick, result=result)[1] == GateVerdict(
        "max_duration", True, "took 19m59s (max 20m)")
    assert judge(host, job, state=slow, result=result)[1] == GateVerdict(
        "max_duration", False, "took 25m, longer than max_duration 20m")


def test_require_and_forbid_events_with_tool_names(host):
    job = make_job(options={"gates": gates.validate({
        "require_events": ["tool_finished:edit_file"], "forbid_events": ["failed"]})})
    edit = Event("1", "tool_finished", "t", tool_name="edit_file")
    read = Event("2", "tool_finished", "t", tool_name="read_file")
    failed = Event("3", "failed", "t")
    assert judge(host, job, events=[read, edit])[1:] == (
        GateVerdict("require_events", True, "saw tool_finished:edit_file"),
        GateVerdict("forbid_events", True, "no failed event"))
    assert judge(host, job, events=[read, failed, failed])[1:] == (
        GateVerdict("require_events", False, "no tool_finished:edit_file event"),
        GateVerdict("forbid_events", False, "2 forbidden failed event(s)"))


@pytest.mark.parametrize(("value", "message"), [
    ({"status": "success"}, "gates.status must be a list of strings"),
    ({"status": []}, "gates.status must name at least one status"),
    ({"status": ["sucess"]}, 'gates.status: unknown value "sucess" (did you mean "success"?); '
                             "valid: success, failed, cancelled"),
    ({"max_duration": "forever"}, "gates.max_duration: invalid duration 'forever'"),
    ({"require_event": ["x"]}, 'unknown gates setting "require_event" (did you mean '
                               '"require_events"?)'),
    ({"forbid_events": [1]}, "gates.forbid_events[1] must be a string, not an integer"),
])
def test_gates_key_is_validated(value, message):
    with pytest.raises(ValueError) as info:
        gates.validate(value)
    assert str(info.value).startswith(message)


@settings(max_examples=300, deadline=None)
@given(attempt=st.integers(1, 80), attempts=st.integers(1, 40),
       max_delay=st.floats(0, 3600, allow_nan=False),
       retry_after=st.none() | st.floats(0, 7200, allow_nan=False),
       seed=st.integers(0, 2**32))
def test_backoff_delay_properties(attempt, attempts, max_delay, retry_after, seed):
    rng = random.Random(seed)
    got = retry.backoff_delay(attempt=attempt, attempts=attempts, max_delay=max_delay,
                              retry_after=retry_after, uniform=rng.uniform)
    if attempt > attempts:
        assert got is None
    elif retry_after is not None and retry_after >= 1:  # the server's, honoured exactly
        assert got == (None if retry_after > max_delay else retry_after)
    else:  # none, or a proxy's under a second: the backoff, and at least that
        floor = retry_after or 0.0
        assert floor <= got <= max(floor, min(max_delay, 0.5 * 2 ** (attempt - 1)))


@pytest.mark.parametrize("retry_after", [0.001, 0.5])
def test_a_sub_second_retry_after_is_backed_off_not_taken_at_its_word(retry_after):
    """Retry-After: 0.001 spent all six attempts in 10 ms, each announced as a
    retry 'after its Retry-After'."""
    waits = [retry.backoff_delay(attempt=n, attempts=5, max_delay=30.0, retry_after=retry_after,
                                 uniform=lambda low, high: high) for n in range(1, 6)]
    assert waits == [max(retry_after, 0.5 * 2 ** (n - 1)) for n in range(1, 6)]


def test_a_proxys_retry_after_0_is_backed_off_end_to_end(tmp_path, mogrun_emulator, mogrun_cli,
                                                         top_of_range):
    """Three 429s with ``Retry-After: 0``: the retries wait 0.2 s each (the backoff
    capped by max_delay), not 0, and their waits do not claim a Retry-After."""
    import time

    from mogrun.testing import write_taskfile

    mogrun_emulator.add_fault("start", "429", count=3, retry_after=0)
    write_taskfile(tmp_path, '[jobs.one]\nrepo = "acme/api"\n'
                   'prompt = "hi\\n@emulator duration=0s"\n'
                   'retry = {attempts = 5, max_delay = "0.2s"}\n')
    began = time.monotonic()
    result = mogrun_cli("run", "one", cwd=tmp_path)
    assert result.exit_code == 0, result
    assert time.monotonic() - began >= 0.6
    waits = [line for line in result.output.splitlines() if "answered 429" in line]
    assert len(waits) == 3, result
    assert not any("Retry-After" in line for line in waits), waits
    assert len([r for r in mogrun_emulator.requests if r.method == "POST"]) == 4
