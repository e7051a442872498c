"""``start:500_after_commit``: the server stored the run, then could not queue it.

The server's ``startMogplexApiRun`` (lib/mogplex-api/runs.ts) inserts the run,
appends its accepted event, then queues it; when that throws, it marks the run
failed with the error's message (``markExternalAgentRunFailed``, which appends
no event) and rethrows, and the route answers 500 ``Failed to start run``. The
key stays with the failed run: every retry replays it."""

from __future__ import annotations

import pytest

from mogrun.emulator.faults import Fault, parse_faults

QUEUE_ERROR = "Trigger.dev runtime is not configured"


def _failed_start(api, mogrun_emulator, key: str = "k1", prompt: str = "do it"):
    mogrun_emulator.add_fault("start", "500_after_commit")
    return api.start(prompt, key=key)


def test_the_start_answers_the_routes_500_and_the_run_exists_failed(api, mogrun_emulator):
    answer = _failed_start(api, mogrun_emulator)
    assert (answer.status, answer.code, answer.message) == (
        500, "INTERNAL_ERROR", "Failed to start run")
    assert "retry-after" not in answer.headers
    [run_id] = mogrun_emulator.runs
    run = api.call("GET", f"/runs/{run_id}").data["run"]
    assert (run["status"], run["error"]) == ("failed", QUEUE_ERROR)
    assert run["runtime"] == {"provider": None, "runId": None}  # never queued
    assert run["updatedAt"] == run["createdAt"]
    assert (run["sandboxRecordId"], run["sandboxId"]) == (None, None)
    assert mogrun_emulator.active_sandboxes() == 0  # the queue failed before any launch
    record = mogrun_emulator.requests[0]
    assert (record.status, record.fault, record.idempotency_key) == (
        500, "500_after_commit", "k1")


def test_its_only_event_is_the_accepted_one(api, mogrun_emulator):
    _failed_start(api, mogrun_emulator)
    [run_id] = mogrun_emulator.runs
    listed = api.call("GET", f"/runs/{run_id}/events").data
    assert [(e["type"], e["message"]) for e in listed["events"]] == [
        ("started", "External Mogplex run accepted")]
    assert listed["events"][0]["payload"]["external_run_id"] == run_id
    assert listed["run"]["status"] == "failed"


def test_a_retry_with_the_same_key_replays_the_failed_run_for_ever(api, mogrun_emulator):
    _failed_start(api, mogrun_emulator)
    [run_id] = mogrun_emulator.runs
    for _ in range(2):
        again = api.start("do it", key="k1")
        assert again.status == 202
        data = again.data
        assert (data["replayed"], data["runId"], data["status"], data["error"]) == (
            True, run_id, "failed", QUEUE_ERROR)
    assert api.start("something else", key="k1").code == "IDEMPOTENCY_CONFLICT"
    fresh = api.start("do it", key="k2")
    assert (fresh.status, fresh.data["replayed"], fresh.data["status"]) == (202, False, "pending")
    assert len(mogrun_emulator.runs) == 2


def test_a_cancel_finds_it_already_terminal(api, mogrun_emulator):
    _failed_start(api, mogrun_emulator)
    [run_id] = mogrun_emulator.runs
    cancelled = api.call("POST", f"/runs/{run_id}/cancel").data
    assert (cancelled["status"], cancelled["alreadyTerminal"]) == ("failed", True)
    assert cancelled["run"]["error"] == QUEUE_ERROR


def test_it_names_the_active_sandbox_the_server_found_without_using_it(api, mogrun_emulator):
    """The server looks the sandbox up before storing the run; it never launches it.
    The row copies the sandbox's id as it is then: "pending" while it is still
    creating, which a 30 s boot keeps it for the whole test (a boot of 0.02 s let
    a loaded machine see the id change between the listing and the start)."""
    api.start("@emulator duration=0.2s pending=30s", key="first")
    [sandbox] = api.call("GET", "/sandboxes").data["sandboxes"]
    _failed_start(api, mogrun_emulator, key="second")
    failed = mogrun_emulator.run_detail(mogrun_emulator.runs[1])
    assert (failed["status"], failed["sandboxRecordId"], failed["sandboxId"]) == (
        "failed", sandbox["id"], "pending")
    assert mogrun_emulator.active_sandboxes() == 1  # no boot of its own


def test_a_replay_or_a_refusal_under_the_fault_answers_as_usual(api, mogrun_emulator):
    """The queue is the last step: what is answered before it ignores the fault,
    which is used up all the same."""
    first = api.start("do it", key="old").data
    mogrun_emulator.add_fault("start", "500_after_commit")
    replay = api.start("do it", key="old")
    assert (replay.status, replay.data["replayed"], replay.data["runId"]) == (
        202, True, first["runId"])
    mogrun_emulator.add_fault("start", "500_after_commit")
    bad = api.call("POST", "/runs", {"repoId": mogrun_emulator.repo_id("acme/api")}, key="new")
    assert (bad.status, bad.message) == (400, "Prompt is required")
    assert api.start("do it", key="new").data["status"] == "pending"  # fault used up
    assert len(mogrun_emulator.runs) == 2


def test_the_fault_is_given_as_a_spec_and_over_http(api, mogrun_emulator):
    assert parse_faults("start:500_after_commitx2") == [Fault("start", "500_after_commit", 2)]
    added = api.call("POST", "/_emulator/faults", {"spec": "start:500_after_commit"}, api=False)
    assert added.status == 200
    assert api.start(key="via-http").status == 500
    assert mogrun_emulator.run_detail(mogrun_emulator.runs[0])["status"] == "failed"


@pytest.mark.parametrize("endpoint", ["events", "run", "cancel", "launch", "repos", "*"])
def test_the_fault_is_refused_for_other_endpoints(api, mogrun_emulator, endpoint):
    message = "fault '500_after_commit' applies only to the 'start' or 'trigger' endpoint"
    with pytest.raises(ValueError, match=message):
        mogrun_emulator.add_fault(endpoint, "500_after_commit")
    with pytest.raises(ValueError, match=message):
        parse_faults(f"{endpoint}:500_after_commit")
    refused = api.call("POST", "/_emulator/faults", {"spec": f"{endpoint}:500_after_commit"},
                       api=False)
    assert refused.status == 400
    assert message in refused.json["error"]
