"""The client against the emulator over real loopback HTTP: endpoints,
envelope, error codes, replay and attach."""

from __future__ import annotations

import time

import pytest

from mogrun.errors import (
    ForbiddenError,
    IdempotencyConflictError,
    RepoNotFoundError,
    RequestRefusedError,
    ServerError,
    UnauthorizedError,
)
from mogrun.models import StartRequest

FOREVER = "work\n@emulator duration=never interval=0.2s"


def start_request(emu, key: str, prompt: str = "hello", repo: str = "acme/api") -> StartRequest:
    return StartRequest(repo=repo, repo_id=emu.repo_id(repo), prompt=prompt, idempotency_key=key)


def test_list_repos_and_query(client, mogrun_emulator):
    names = [r["full_name"] for r in client.list_repos()]
    assert names == [r["full_name"] for r in mogrun_emulator.repos]
    assert {"acme/api", "acme/web", "acme/worker"} <= set(names)
    only = client.list_repos("WEB")
    assert [r["full_name"] for r in only] == ["acme/web"]
    assert mogrun_emulator.requests[-1].query in ("q=WEB&limit=200", "limit=200&q=WEB")


def test_resolve_repo_exact_case_insensitive(client, mogrun_emulator):
    repo = client.resolve_repo("ACME/Api")
    assert repo["full_name"] == "acme/api"
    assert repo["id"] == mogrun_emulator.repo_id("acme/api")


def test_resolve_repo_not_found_lists_closest_names(client):
    with pytest.raises(RepoNotFoundError) as caught:
        client.resolve_repo("acme/apo")
    assert caught.value.exit_code == 2
    assert caught.value.message == "repo 'acme/apo' is not one of this token's repos"
    assert caught.value.context[0].startswith("Closest names: acme/api")


def test_a_value_that_is_not_owner_name_is_an_id_and_costs_no_request(client, mogrun_emulator):
    assert client.resolve_repo("repo_123") == {"id": "repo_123"}
    assert mogrun_emulator.count() == 0


def test_start_get_events_cancel(client, mogrun_emulator):
    outcome = client.start_run(start_request(mogrun_emulator, "k-start", FOREVER))
    assert (outcome.replayed, outcome.attached, outcome.attempts) == (False, False, 1)
    run_id = outcome.state.run_id
    assert mogrun_emulator.runs == [run_id]
    assert client.get_run(run_id).run_id == run_id
    state, events = client.get_events(run_id, limit=50)
    assert state.run_id == run_id and not state.terminal
    assert events and events[0].type == "started"
    cancelled = client.cancel_run(run_id)
    assert (cancelled.state.status, cancelled.already_terminal) == ("cancelled", False)
    again = client.cancel_run(run_id)
    assert (again.state.status, again.already_terminal) == ("cancelled", True)


def test_get_events_leaves_out_the_events_already_seen(client, mogrun_emulator):
    run_id = client.start_run(start_request(
        mogrun_emulator, "k-known", "@emulator duration=never pending=0s interval=0.05s")
    ).state.run_id
    _, first = client.get_events(run_id)
    time.sleep(0.3)
    _, later = client.get_events(run_id, known={e.id for e in first})
    _, everything = client.get_events(run_id)  # (the run goes on: it may hold more)
    seen = [e.id for e in first + later]
    assert first and later and len(set(seen)) == len(seen)
    assert [e.id for e in everything][:len(seen)] == seen


def test_start_sends_the_key_and_json_body(client, mogrun_emulator):
    client.start_run(start_request(mogrun_emulator, "k-body"))
    record = mogrun_emulator.requests[-1]
    assert (record.method, record.status, record.idempotency_key) == ("POST", 202, "k-body")
    detail = mogrun_emulator.run_detail(mogrun_emulator.runs[0])
    assert detail["repoId"] == mogrun_emulator.repo_id("acme/api")


def test_same_key_same_body_on_a_first_attempt_attaches(client, mogrun_emulator):
    first = client.start_run(start_request(mogrun_emulator, "k-attach"))
    second = client.start_run(start_request(mogrun_emulator, "k-attach"))
    assert second.state.run_id == first.state.run_id
    assert (second.replayed, second.attached) == (True, True)
    assert len(mogrun_emulator.runs) == 1


def test_same_key_other_body_is_an_idempotency_conflict(client, mogrun_emulator):
    client.start_run(start_request(mogrun_emulator, "k-conflict", "one"))
    with pytest.raises(IdempotencyConflictError) as caught:
        client.start_run(start_request(mogrun_emulator, "k-conflict", "two"))
    error = caught.value
    assert (error.exit_code, error.status, error.code) == (1, 409, "IDEMPOTENCY_CONFLICT")
    assert error.message.endswith("(IDEMPOTENCY_CONFLICT, HTTP 409)")
    assert any("'k-conflict' was used before" in line for line in error.context)


def test_bad_token_is_unauthorized_64(make_client, mogrun_emulator):
    client = make_client(token="mog_not_a_real_token")
    with pytest.raises(UnauthorizedError) as caught:
        client.list_repos()
    assert (caught.value.exit_code, caught.value.status) == (64, 401)
    assert "mog_not_a_real_token" not in " ".join(caught.value.lines())


def test_read_token_cannot_start_403_is_65(make_client, mogrun_emulator):
    client = make_client(token=mogrun_emulator.read_token)
    with pytest.raises(ForbiddenError) as caught:
        client.start_run(start_request(mogrun_emulator, "k-read"))
    assert (caught.value.exit_code, caught.value.status, caught.value.code) == (
        65, 403, "FORBIDDEN")
    assert mogrun_emulator.runs == []


def test_unknown_run_is_refused_404_exit_1(client):
    with pytest.raises(RequestRefusedError) as caught:
        client.get_run("00000000-0000-4000-8000-000000000000")
    assert (caught.value.exit_code, caught.value.status, caught.value.code) == (
        1, 404, "NOT_FOUND")
    assert caught.value.request.url.endswith("/runs/00000000-0000-4000-8000-000000000000")


def test_invalid_start_is_refused_400_with_the_servers_message(client, mogrun_emulator):
    request = StartRequest(repo="acme/api", repo_id=mogrun_emulator.repo_id("acme/api"),
                           prompt="x", idempotency_key="k-bad", harness="vim")
    with pytest.raises(RequestRefusedError) as caught:
        client.start_run(request)
    assert (caught.value.exit_code, caught.value.status, caught.value.code) == (
        1, 400, "BAD_REQUEST")
    assert "harness" in caught.value.message.lower()


def test_run_ids_cannot_escape_the_path(client, mogrun_emulator):
    with pytest.raises(ServerError):  # not a UUID: the server's query fails, a 500
        client.get_run("../repos")
    assert mogrun_emulator.requests[-1].path.endswith("/runs/..%2Frepos")


def test_cancel_that_races_the_end_reads_the_run_again(client, mogrun_emulator):
    """The server updates the run's row after the agent's call ends, so a run whose
    cancel lost the race reads as active for a moment after the 409: that read alone
    raised "Run is no longer active" for a run that was ending."""
    run_id = client.start_run(start_request(mogrun_emulator, "k-race", FOREVER)).state.run_id
    mogrun_emulator.add_fault("cancel", "conflict")
    outcome = client.cancel_run(run_id)
    assert outcome.already_terminal is True
    assert outcome.state.run_id == run_id
    assert outcome.state.terminal and outcome.state.status != "cancelled"
    assert outcome.state.status == mogrun_emulator.run_detail(run_id)["status"]
    assert mogrun_emulator.count("POST", f"/runs/{run_id}/cancel", status=409) == 1
    reads = [r for r in mogrun_emulator.requests if r.method == "GET" and r.path.endswith(run_id)]
    assert len(reads) >= 2, reads  # the first still read it as active
    assert mogrun_emulator.requests[-1].method == "GET"


def test_a_cancel_the_sandbox_did_not_get_is_not_read_again_and_again(client, mogrun_emulator):
    """Only "no longer active" is a race with the run's end: "Sandbox is not ready"
    left the run going, and is said after one read."""
    run_id = client.start_run(start_request(mogrun_emulator, "k-ready", FOREVER)).state.run_id
    mogrun_emulator.add_fault("cancel", "not_ready")
    with pytest.raises(RequestRefusedError) as caught:
        client.cancel_run(run_id)
    assert "Sandbox is not ready" in caught.value.message
    reads = [r for r in mogrun_emulator.requests if r.method == "GET" and r.path.endswith(run_id)]
    assert len(reads) == 1, reads


def test_a_query_string_tells_true_one_and_one_point_zero_apart() -> None:
    from mogrun.api.client import _query

    assert [_query({"a": value}) for value in (1, True, 1.0, "1")] == [
        "a=1", "a=True", "a=1.0", "a=1"]
    assert _query({"limit": 200}) == _query({"limit": 200}) == "limit=200"
    assert _query({"q": ["x", "y"]}) == "q=%5B%27x%27%2C+%27y%27%5D"  # not a cache key
