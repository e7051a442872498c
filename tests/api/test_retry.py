"""Retry arithmetic of the client with an in-memory transport (every HTTP
behaviour is proven again against the emulator in the other test files)."""

from __future__ import annotations

import pytest

from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.transport import ConnectError
from mogrun.errors import (
    RateLimitedError,
    RequestRefusedError,
    ServiceUnavailableError,
    TransportError,
)
from mogrun.models import StartRequest

from .fakes import FakeClock, ScriptedTransport, envelope

RUN = {"runId": "run_1", "status": "pending", "replayed": False}


def client_for(answers, retry=None, clock=None):
    clock = clock or FakeClock()
    budget = RequestBudget(clock=clock, sleep=clock.sleep, margin=0.0)
    transport = ScriptedTransport(answers)
    client = MogplexClient("http://127.0.0.1:9/api/v1/mogplex", "mog_secret",
                           transport=transport, budget=budget, retry=retry)
    return client, transport, clock


class Policy:
    """Records each call; answers with the given delays in turn."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return self.answers.pop(0)


def test_a_429_pauses_the_budget_and_waits_for_retry_after():
    policy = Policy(0.5)
    client, transport, clock = client_for(
        [envelope(429, code="RATE_LIMITED", message="slow down", headers={"Retry-After": "7"}),
         envelope(200, {"repos": []})], retry=policy)
    assert client.list_repos() == []
    assert len(transport.sent) == 2
    assert clock.now == pytest.approx(1007.0)  # max(policy's 0.5, Retry-After 7)
    call = policy.calls[0]
    assert isinstance(call["error"], RateLimitedError)
    assert call["attempt"] == 1 and call["retry_after"] == 7.0 and call["job"] is None
    assert call["request"].method == "GET" and "/repos" in call["request"].url


def test_policy_false_or_none_gives_up_with_the_error():
    for answer in (False, None):
        client, transport, _ = client_for(
            [envelope(503, code="SERVICE_UNAVAILABLE", message="down")], retry=Policy(answer))
        with pytest.raises(ServiceUnavailableError) as caught:
            client.list_repos()
        assert caught.value.exit_code == 69
        assert len(transport.sent) == 1


def test_non_retryable_errors_never_reach_the_policy():
    policy = Policy(1.0)
    client, transport, _ = client_for(
        [envelope(404, code="NOT_FOUND", message="no such run")], retry=policy)
    with pytest.raises(RequestRefusedError):
        client.get_run("run_x")
    assert policy.calls == [] and len(transport.sent) == 1


def test_attempt_counts_consecutive_failures():
    policy = Policy(0.1, 0.2, 0.3)
    failures = [envelope(500, code="INTERNAL_ERROR", message="boom")] * 3
    client, transport, clock = client_for([*failures, envelope(200, {"run": RUN})], retry=policy)
    assert client.get_run("run_1").run_id == "run_1"
    assert [c["attempt"] for c in policy.calls] == [1, 2, 3]
    assert clock.sleeps == pytest.approx([0.1, 0.2, 0.3])
    assert len(transport.sent) == 4


def test_a_wait_past_the_deadline_gives_up_at_once():
    clock = FakeClock()
    policy = Policy(1.0)
    client, transport, _ = client_for(
        [envelope(429, code="RATE_LIMITED", message="slow", headers={"Retry-After": "120"})],
        retry=policy, clock=clock)
    with pytest.raises(RateLimitedError) as caught:
        client.get_run("run_1", deadline=clock.now + 60)
    assert caught.value.exit_code == 75
    assert clock.sleeps == [] and len(transport.sent) == 1
    assert "Gave up after 1 attempt." in caught.value.context
    assert caught.value.message.startswith(
        "slow (RATE_LIMITED, HTTP 429); not retried: waiting 120.0 s would pass the deadline; "
        "try again after ")
    assert client.budget.paused_for() == 0.0  # it gives up alone: no other job waits
    assert "; try again after " in caught.value.message


def test_a_retried_start_reuses_key_and_body_and_is_not_attached():
    request = StartRequest(repo="acme/api", repo_id="repo_1", prompt="hi", idempotency_key="k-1")
    client, transport, _ = client_for(
        [TransportError("connection dropped"), envelope(202, {**RUN, "replayed": True})],
        retry=Policy(0.0))
    outcome = client.start_run(request)
    assert (outcome.replayed, outcome.attached, outcome.attempts) == (True, False, 2)
    (_, _, h1, b1), (_, _, h2, b2) = transport.sent
    assert h1["Idempotency-Key"] == h2["Idempotency-Key"] == "k-1"
    assert b1 == b2


def test_a_replay_on_the_first_attempt_means_attached():
    request = StartRequest(repo="r", prompt="p", idempotency_key="k-2")
    client, _, _ = client_for([envelope(202, {**RUN, "replayed": True})])
    outcome = client.start_run(request)
    assert (outcome.replayed, outcome.attached, outcome.attempts) == (True, True, 1)


def test_a_replay_after_attempts_that_never_reached_the_server_is_attached():
    request = StartRequest(repo="r", prompt="p", idempotency_key="k-3")
    client, _, _ = client_for(
        [ConnectError("refused"),
         envelope(429, code="RATE_LIMITED", message="slow", headers={"Retry-After": "0"}),
         envelope(202, {**RUN, "replayed": True})],
        retry=Policy(0.0, 0.0))
    outcome = client.start_run(request)
    assert (outcome.attached, outcome.attempts) == (True, 3)


def test_start_takes_a_start_slot_from_the_budget():
    clock = FakeClock()
    budget = RequestBudget(starts=((1, 60.0),), clock=clock, sleep=clock.sleep, margin=0.0)
    transport = ScriptedTransport([envelope(202, RUN), envelope(202, RUN)])
    client = MogplexClient("http://127.0.0.1:9/api/v1/mogplex", "mog_x",
                           transport=transport, budget=budget)
    client.start_run(StartRequest(repo="r", prompt="p", idempotency_key="a"))
    client.start_run(StartRequest(repo="r", prompt="p", idempotency_key="b"))
    assert clock.now == pytest.approx(1060.0)
