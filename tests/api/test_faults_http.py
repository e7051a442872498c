"""Every fault kind of the emulator, met by the client over real HTTP."""

from __future__ import annotations

import email.utils
import time

import pytest

from mogrun.api.envelope import parse_retry_after
from mogrun.errors import (
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
)
from mogrun.models import StartRequest

from .conftest import QuickRetry


@pytest.mark.parametrize("kind, error_class, exit_code", [
    ("500", ServerError, 69), ("502", ServerError, 69), ("504", ServerError, 69),
    ("503", ServiceUnavailableError, 69), ("429", RateLimitedError, 75),
])
def test_5xx_and_429_are_retried_then_succeed(make_client, mogrun_emulator, kind,
                                              error_class, exit_code):
    policy = QuickRetry()
    mogrun_emulator.add_fault("repos", kind, count=2, retry_after=0)
    repos = make_client(retry=policy).list_repos()
    assert repos, "the third attempt answered"
    assert [r.status for r in mogrun_emulator.requests] == [int(kind), int(kind), 200]
    assert [type(c["error"]) for c in policy.calls] == [error_class, error_class]
    assert policy.calls[0]["error"].exit_code == exit_code
    assert [c["attempt"] for c in policy.calls] == [1, 2]


@pytest.mark.parametrize("kind, error_class, exit_code", [
    ("503", ServiceUnavailableError, 69), ("429", RateLimitedError, 75), ("500", ServerError, 69),
])
def test_retries_running_out_give_the_status_exit_code(make_client, mogrun_emulator, kind,
                                                       error_class, exit_code):
    mogrun_emulator.add_fault("run", kind, count=10, retry_after=0)
    client = make_client(retry=QuickRetry(attempts=2))
    with pytest.raises(error_class) as caught:
        client.get_run("00000000-0000-4000-8000-000000000000")
    assert caught.value.exit_code == exit_code
    assert "Gave up after 3 attempts." in caught.value.context
    assert mogrun_emulator.count(path_prefix="/runs") == 3


@pytest.mark.parametrize("kind, status, reason, first_bytes", [
    ("html", 502, "a body that is not valid JSON", '"<html><head><title>502 Bad Gateway'),
    ("empty", 200, "an empty body", "(empty body)"),
    ("truncated", 200, "a body that is not valid JSON",
     '"{\\"ok\\":true,\\"data\\":{\\"note\\":'),
])
def test_bodies_that_are_not_the_envelope_are_transport_errors(
        client, mogrun_emulator, kind, status, reason, first_bytes):
    mogrun_emulator.add_fault("repos", kind)
    with pytest.raises(TransportError) as caught:
        client.list_repos()
    error = caught.value
    assert (error.exit_code, error.status) == (69, status)
    assert error.message.startswith(f"HTTP {status} from GET /repos?limit=200 carried {reason}: ")
    assert first_bytes.replace('\\"', '"') in error.message
    assert len(error.message) < 250  # the first bytes, not the whole page


def test_a_non_envelope_body_is_retried_like_a_5xx(make_client, mogrun_emulator):
    policy = QuickRetry()
    mogrun_emulator.add_fault("repos", "html")
    assert make_client(retry=policy).list_repos()
    assert isinstance(policy.calls[0]["error"], TransportError)
    assert [r.status for r in mogrun_emulator.requests] == [502, 200]


def test_json_without_ok_is_a_transport_error():
    from mogrun.api.budget import RequestBudget
    from mogrun.api.client import MogplexClient
    from mogrun.api.transport import Urllib3Transport

    from .loopback import loopback_server

    with loopback_server(200, {"Content-Type": "application/json"}, b'{"repos": []}') as srv:
        client = MogplexClient(srv.url + "/api/v1/mogplex", "mog_x", transport=Urllib3Transport(),
                               budget=RequestBudget())
        with pytest.raises(TransportError) as caught:
            client.list_repos()
    assert caught.value.message == (
        "HTTP 200 from GET /repos?limit=200 carried JSON without the envelope's 'ok' field: "
        '"{\"repos\": []}"')


def test_drop_after_commit_retries_with_the_same_key_one_run(make_client, mogrun_emulator):
    policy = QuickRetry()
    mogrun_emulator.add_fault("start", "drop_after_commit")
    client = make_client(retry=policy)
    request = StartRequest(repo="acme/api", repo_id=mogrun_emulator.repo_id("acme/api"),
                           prompt="once", idempotency_key="k-drop")
    outcome = client.start_run(request)
    assert len(mogrun_emulator.runs) == 1
    assert outcome.state.run_id == mogrun_emulator.runs[0]
    assert (outcome.replayed, outcome.attached, outcome.attempts) == (True, False, 2)
    starts = [r for r in mogrun_emulator.requests if r.method == "POST"]
    assert [(r.status, r.idempotency_key) for r in starts] == [(0, "k-drop"), (202, "k-drop")]
    assert "dropped before a complete answer" in policy.calls[0]["error"].message


def test_a_slow_answer_is_a_read_timeout(make_client, mogrun_emulator):
    mogrun_emulator.add_fault("run", "delay", delay=1.0)
    client = make_client(read_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        client.get_run("00000000-0000-4000-8000-000000000000")
    assert time.monotonic() - started < 0.9
    assert caught.value.exit_code == 69
    assert "within 300ms (read timed out)" in caught.value.message


def test_a_slow_answer_is_said_while_it_is_waited_for(make_client, mogrun_emulator,
                                                      monkeypatch):
    """A stalled server held a poll for 30 s with nothing on screen ("waits are
    never silent"); a fast answer says nothing."""
    from mogrun.api import transport
    from mogrun.waits import WaitKind

    monkeypatch.setattr(transport, "SLOW_ANSWER", 0.3)
    client = make_client(read_timeout=5.0)
    said = []
    client.waits.subscribe(said.append)
    client.get_run(client.start_run(StartRequest(
        repo="acme/api", repo_id=mogrun_emulator.repo_id("acme/api"), prompt="x",
        idempotency_key="k-slow")).state.run_id)
    assert said == []  # answered at once: nothing to say
    mogrun_emulator.add_fault("run", "delay", delay=1.0)
    state = client.get_run(mogrun_emulator.runs[0])
    assert state.run_id == mogrun_emulator.runs[0]  # the answer still came, and counts
    (wait,) = said
    assert wait.kind == WaitKind.ANSWER
    assert wait.reason.startswith(f"GET /runs/{mogrun_emulator.runs[0]}: no answer yet after")
    assert 3.5 < wait.remaining() < 4.7  # until the request is given up (5 s after it went)


def test_a_dropped_connection_is_a_transport_error(client, mogrun_emulator):
    mogrun_emulator.add_fault("repos", "drop")
    with pytest.raises(TransportError) as caught:
        client.list_repos()
    assert "dropped before a complete answer" in caught.value.message


def test_retry_after_is_honoured_between_attempts(make_client, mogrun_emulator):
    mogrun_emulator.add_fault("events", "429", retry_after=1)
    policy = QuickRetry(delay=0.0)
    client = make_client(retry=policy)
    with pytest.raises(Exception):  # noqa: B017 - the run is unknown; we measure the retry
        client.get_events("00000000-0000-4000-8000-000000000000")
    first, second = [r for r in mogrun_emulator.requests if "/events" in r.path]
    assert first.status == 429 and second.status == 404
    assert second.time - first.time >= 1.0
    assert policy.calls[0]["retry_after"] == 1.0


def test_retry_after_as_http_date_and_seconds():
    now = time.time()
    in_ten = email.utils.formatdate(now + 10, usegmt=True)
    assert parse_retry_after(in_ten, now=lambda: now) == pytest.approx(10, abs=1)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(email.utils.formatdate(now - 60, usegmt=True)) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_retry_after_in_each_http_date_form_rfc_9110_names():
    """asctime's form (and a "-0000" zone) read as no date at all: an HTTP-date
    is GMT in all three forms a recipient must accept."""
    now = email.utils.parsedate_to_datetime("Sat, 05 Dec 2026 03:46:00 GMT").timestamp()
    for stamp in ("Sat, 05 Dec 2026 03:46:50 GMT", "Saturday, 05-Dec-26 03:46:50 GMT",
                  "Sat Dec  5 03:46:50 2026", "Sat, 05 Dec 2026 03:46:50 -0000"):
        assert parse_retry_after(stamp, now=lambda: now) == pytest.approx(50), stamp
