"""A pausing sandbox over real HTTP, as the server treats one: listed ``pausing``,
not counted against the cap, yet reused by a start of its triple; ``paused``
once its stop is done, then neither counted nor reused."""

from __future__ import annotations

import time

import pytest

from mogrun.emulator import Limits

CAP1 = Limits(requests=0, starts=(), sandboxes=1)
NEVER = "@emulator duration=never pending=0s interval=1s"
QUICK = "@emulator duration=0.2s"


def _until(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _final(api, run_id: str) -> dict:
    def check():
        run = api.call("GET", f"/runs/{run_id}").data["run"]
        return run if run["status"] in {"failed", "success", "cancelled"} else None
    return _until(check)


def _idle(mogrun_emulator, repo: str = "acme/api") -> dict:
    """An idle running sandbox of ``repo`` (another work's, idle at once)."""
    [sid] = mogrun_emulator.occupy_sandboxes(1, busy=0, repo=repo)
    return next(s for s in mogrun_emulator.sandboxes() if s["id"] == sid)


@pytest.mark.mogrun_emulator(limits=CAP1)
def test_a_pausing_sandbox_is_listed_and_frees_its_slot(api, mogrun_emulator):
    box = _idle(mogrun_emulator)
    assert mogrun_emulator.active_sandboxes() == 1
    before = box["last_active_at"]
    mogrun_emulator.pause_sandbox(box["id"], "30s")
    [listed] = api.call("GET", "/sandboxes").data["sandboxes"]
    assert (listed["id"], listed["status"]) == (box["id"], "pausing")
    assert listed["sandbox_id"] == box["sandbox_id"]
    assert listed["last_active_at"] > before  # the pause claim renews the idle clock
    assert mogrun_emulator.active_sandboxes() == 0
    run = api.start(QUICK, key="other", repo="acme/web").data
    assert _final(api, run["runId"])["status"] == "success"  # booted: the slot was free
    assert mogrun_emulator.active_sandboxes() == 1


@pytest.mark.mogrun_emulator(limits=CAP1)
def test_a_start_of_its_triple_reuses_a_pausing_sandbox_past_a_full_cap(
        api, mogrun_emulator):
    box = _idle(mogrun_emulator)
    mogrun_emulator.occupy_sandboxes(1, busy=None, repo="acme/web")  # the cap is full
    mogrun_emulator.pause_sandbox(box["id"], "30s")
    started = api.start(QUICK, key="same", repo="acme/api",
                        workingBranch=box["working_branch"]).data
    assert started["sandboxRecordId"] == box["id"]  # known at the start: reused
    final = _final(api, started["runId"])
    assert (final["status"], final["error"]) == ("success", None)
    refused = api.start(QUICK, key="new", repo="acme/worker").data
    assert _final(api, refused["runId"])["error"] == "Too many active sandboxes"


@pytest.mark.mogrun_emulator(limits=CAP1)
def test_a_paused_sandbox_is_neither_counted_nor_reused(api, mogrun_emulator):
    box = _idle(mogrun_emulator)
    mogrun_emulator.pause_sandbox(box["id"], 0.2)
    _until(lambda: api.call("GET", "/sandboxes?status=paused").data["sandboxes"])
    assert mogrun_emulator.active_sandboxes() == 0
    started = api.start(QUICK, key="same", repo="acme/api",
                        workingBranch=box["working_branch"]).data
    assert started["sandboxRecordId"] is None  # not reused: a new one boots
    assert _final(api, started["runId"])["status"] == "success"
    statuses = {s["id"]: s["status"] for s in mogrun_emulator.sandboxes()}
    assert statuses.pop(box["id"]) == "paused"
    assert list(statuses.values()) == ["running"]


def test_only_an_idle_running_sandbox_pauses_over_the_control_endpoint(
        api, mogrun_emulator):
    busy = api.start(NEVER, key="busy").data
    sid = _until(lambda: mogrun_emulator.run_detail(busy["runId"])["sandboxRecordId"])
    answer = api.call("POST", "/_emulator/pause", {"id": sid}, api=False, token=None)
    assert answer.status == 400 and "is busy" in answer.json["error"]
    unknown = api.call("POST", "/_emulator/pause", {"id": "nope"}, api=False, token=None)
    assert unknown.status == 400 and "no sandbox 'nope'" in unknown.json["error"]
    box = _idle(mogrun_emulator, "acme/web")
    answer = api.call("POST", "/_emulator/pause", {"id": box["id"], "pausing": "1m"},
                      api=False, token=None)
    assert answer.status == 200
    assert {s["id"]: s["status"] for s in answer.json}[box["id"]] == "pausing"
    again = api.call("POST", "/_emulator/pause", {"id": box["id"]}, api=False, token=None)
    assert again.status == 400 and "is pausing" in again.json["error"]
