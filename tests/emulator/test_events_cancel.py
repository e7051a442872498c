"""Events (order, shape, cap) and idempotent cancel."""

from __future__ import annotations

import time

import pytest


def _events(api, run_id, query=""):
    return api.call("GET", f"/runs/{run_id}/events{query}").data


def _wait_terminal(api, run_id, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api.call("GET", f"/runs/{run_id}").data["run"]
        if run["status"] in ("success", "failed", "cancelled"):
            return run
        time.sleep(0.05)
    raise AssertionError("run did not end")


def test_successful_run_events_in_order(api):
    run_id = api.start("@emulator duration=0.2s events=8 tools=edit_file,run_tests").data["runId"]
    _wait_terminal(api, run_id)
    data = _events(api, run_id)
    assert data["run"]["status"] == "success"
    events = data["events"]
    assert [e["type"] for e in events] == [
        "started", "status_changed", "tool_started", "tool_finished", "log",
        "tool_started", "tool_finished", "finished"]
    assert [e["toolName"] for e in events if e["type"] == "tool_started"] == [
        "edit_file", "run_tests"]
    assert [e["createdAt"] for e in events] == sorted(e["createdAt"] for e in events)
    assert len({e["id"] for e in events}) == 8
    for event in events:
        assert set(event) == {"id", "type", "toolName", "message", "payload", "createdAt"}
        assert isinstance(event["payload"], dict)
    assert data["run"]["updatedAt"] == events[-1]["createdAt"]


def test_events_appear_over_time_and_ids_are_stable(api):
    run_id = api.start("@emulator duration=0.4s pending=0s events=10").data["runId"]
    early = _events(api, run_id)["events"]
    assert 1 <= len(early) < 10
    final = _events(api, _wait_terminal(api, run_id)["runId"])["events"]
    assert len(final) == 10
    assert final[: len(early)] == early


def test_updated_at_moves_only_when_the_run_row_is_written(api):
    """The server writes a run's row when it is created (and queued), when it goes
    streaming and when it ends (``executeExternalAgentRun``); its events live in
    another table. updatedAt used to follow the newest event while it streamed."""
    run_id = api.start("@emulator duration=1.2s pending=0.3s events=12").data["runId"]
    pending = _events(api, run_id)
    assert pending["run"]["status"] == "pending"
    assert pending["run"]["updatedAt"] == pending["run"]["createdAt"]
    seen = []
    while len(seen) < 2:
        data = _events(api, run_id)
        if data["run"]["status"] != "streaming":
            assert data["run"]["status"] == "pending", data["run"]
        elif len(data["events"]) >= 3 + len(seen):  # events beyond status_changed
            seen.append(data)
        time.sleep(0.05)
    went_streaming = seen[0]["events"][1]
    assert went_streaming["type"] == "status_changed"
    assert [d["run"]["updatedAt"] for d in seen] == [went_streaming["createdAt"]] * 2
    assert seen[1]["events"][-1]["createdAt"] > went_streaming["createdAt"]
    final = _events(api, _wait_terminal(api, run_id)["runId"])
    assert final["run"]["updatedAt"] == final["events"][-1]["createdAt"]


def test_failed_run_has_error_and_failed_event(api):
    prompt = '@emulator status=failed duration=0.1s error="tests are red"'
    run_id = api.start(prompt).data["runId"]
    run = _wait_terminal(api, run_id)
    assert run["status"] == "failed"
    assert run["error"] == "tests are red"
    last = _events(api, run_id)["events"][-1]
    assert (last["type"], last["message"]) == ("failed", "tests are red")


def test_custom_message_reaches_log_events(api):
    prompt = '@emulator duration=0.05s events=6 message="::error file=a.py::bad \x1b[31mred"'
    run_id = api.start(prompt).data["runId"]
    _wait_terminal(api, run_id)
    logs = [e for e in _events(api, run_id)["events"] if e["type"] == "log"]
    assert logs and all(e["message"] == "::error file=a.py::bad \x1b[31mred" for e in logs)


def test_event_cap_from_the_start_without_cursor(api):
    run_id = api.start("@emulator duration=0.05s events=250").data["runId"]
    _wait_terminal(api, run_id)
    default = _events(api, run_id)["events"]
    assert len(default) == 100
    most = _events(api, run_id, "?limit=200")["events"]
    assert len(most) == 200
    assert most[:100] == default
    assert "finished" not in {e["type"] for e in most}
    assert len(_events(api, run_id, "?limit=5000")["events"]) == 200
    assert len(_events(api, run_id, "?limit=0")["events"]) == 1
    assert len(_events(api, run_id, "?limit=7")["events"]) == 7
    assert _events(api, run_id, "?limit=x")["events"] == default  # parseInt: the default


def test_cancel_active_run(api):
    run_id = api.start("@emulator duration=never pending=0s interval=0.01s").data["runId"]
    time.sleep(0.05)
    answer = api.call("POST", f"/runs/{run_id}/cancel")
    assert answer.status == 200
    assert answer.data["status"] == "cancelled"
    assert answer.data["alreadyTerminal"] is False
    assert answer.data["run"]["status"] == "cancelled"
    events = _events(api, run_id, "?limit=200")["events"]
    assert [e["type"] for e in events[-2:]] == ["cancel_requested", "cancelled"]
    time.sleep(0.05)
    assert _events(api, run_id, "?limit=200")["events"] == events  # nothing after cancelled


def test_cancel_is_idempotent(api):
    run_id = api.start("@emulator duration=never").data["runId"]
    first = api.call("POST", f"/runs/{run_id}/cancel").data
    second = api.call("POST", f"/runs/{run_id}/cancel").data
    assert second["alreadyTerminal"] is True
    assert second["status"] == "cancelled"
    assert second["run"] == first["run"]
    types = [e["type"] for e in _events(api, run_id)["events"]]
    assert types.count("cancelled") == 1


def test_cancel_of_a_finished_run_returns_it_unchanged(api):
    run_id = api.start("@emulator duration=0.05s").data["runId"]
    before = _wait_terminal(api, run_id)
    answer = api.call("POST", f"/runs/{run_id}/cancel").data
    assert answer["alreadyTerminal"] is True
    assert answer["status"] == "success"
    assert answer["run"] == before


def test_cancel_during_pending(api):
    run_id = api.start("@emulator pending=5s duration=10s").data["runId"]
    answer = api.call("POST", f"/runs/{run_id}/cancel").data
    assert answer["status"] == "cancelled"
    assert answer["run"]["sandboxId"] is None  # it never left pending
    assert [e["type"] for e in _events(api, run_id)["events"]] == [
        "started", "cancel_requested", "cancelled"]


def test_scripted_cancelled_status(api):
    run_id = api.start("@emulator status=cancelled duration=0.05s").data["runId"]
    assert _wait_terminal(api, run_id)["status"] == "cancelled"
    assert _events(api, run_id)["events"][-1]["type"] == "cancelled"


def test_bad_directive_refuses_the_start(api, mogrun_emulator):
    answer = api.start("@emulator stauts=failed")
    assert (answer.status, answer.code) == (400, "BAD_REQUEST")
    assert answer.message.startswith("bad @emulator directive: unknown key 'stauts'")
    assert mogrun_emulator.runs == []


@pytest.mark.mogrun_emulator(default_duration=0.1, default_events=5)
def test_unscripted_run_uses_the_emulator_defaults(api):
    run_id = api.start("just a prompt").data["runId"]
    _wait_terminal(api, run_id)
    assert len(_events(api, run_id)["events"]) == 5
