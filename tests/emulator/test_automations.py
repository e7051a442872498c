"""Automation endpoints over real HTTP: list (cursor), get, trigger with the
server's checks and outcomes, runs list and run detail progressing over time."""

from __future__ import annotations

import base64
import json
import time
import uuid
from urllib.parse import urlencode

import pytest

from mogrun.emulator.automation_store import JobCaps

API = "acme/api"


def _trigger(api, automation_id: str, key: str = "trigger-1", repo: str = API,
             token: str | None = "default", **body):
    payload = {"repoId": api.emulator.repo_id(repo), **body}
    return api.call("POST", f"/automations/{automation_id}/trigger", payload, key=key,
                    token=token)


def _detail(api, automation_id: str, job_id: str) -> dict:
    return api.call("GET", f"/automations/{automation_id}/runs/{job_id}").data["run"]


def _until(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _finished(api, automation_id: str, job_id: str) -> dict:
    return _until(lambda: (lambda r: r if r["status"] in {"success", "failed", "cancelled"}
                           else None)(_detail(api, automation_id, job_id)))


def test_list_pages_with_a_cursor_newest_first(api, mogrun_emulator):
    ids = [mogrun_emulator.add_automation(f"a{i}") for i in range(5)]
    first = api.call("GET", "/automations?limit=2").data
    assert [a["id"] for a in first["automations"]] == ids[::-1][:2]
    assert set(first["automations"][0]) == {"id", "installationId", "name", "description",
                                            "status", "publishedVersionId", "createdAt",
                                            "updatedAt"}
    second = api.call("GET", f"/automations?limit=2&cursor={first['nextCursor']}").data
    third = api.call("GET", f"/automations?limit=2&cursor={second['nextCursor']}").data
    assert [a["id"] for a in second["automations"] + third["automations"]] == ids[::-1][2:]
    assert third["nextCursor"] is None
    assert len(api.call("GET", "/automations?limit=abc").data["automations"]) == 5
    assert len(api.call("GET", "/automations?limit=0").data["automations"]) == 1
    bad = api.call("GET", "/automations?cursor=not-a-cursor")
    assert (bad.status, bad.code, bad.message) == (400, "BAD_REQUEST", "Invalid cursor")


def test_a_page_never_repeats_a_row_whose_time_rounds_up_to_its_cursor(api, mogrun_emulator):
    """The list sorted by the exact creation time, the cursor by the microsecond
    it lists (the column's precision): a row created a hair before a microsecond
    (listed as that microsecond) sorted before its own cursor and came again on
    the next page (the one way found for the paging test above to fail, as it
    did once)."""
    ids = [mogrun_emulator.add_automation(f"a{i}") for i in range(5)]
    rows = mogrun_emulator._state.automations.automations
    for k, automation_id in enumerate(ids):  # each 0.4 us short of a millisecond
        rows[automation_id].created = 1_000_000 + k * 0.001 + 0.0009996
    first = api.call("GET", "/automations?limit=2").data
    second = api.call("GET", f"/automations?limit=2&cursor={first['nextCursor']}").data
    third = api.call("GET", f"/automations?limit=2&cursor={second['nextCursor']}").data
    listed = [a["id"] for page in (first, second, third) for a in page["automations"]]
    assert listed == ids[::-1]


def _cursor_of(created_at, automation_id, raw: str | None = None) -> str:
    text = raw if raw is not None else json.dumps({"createdAt": created_at, "id": automation_id})
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_the_cursor_is_read_as_the_server_reads_it(api, mogrun_emulator):
    """parseMogplexApiAutomationCursor: the raw value (not trimmed), createdAt of
    its ISO pattern (ASCII digits, a zone), a UUID id in any case.
    The emulator trimmed it and took any date Python's fromisoformat reads."""
    ids = [mogrun_emulator.add_automation(f"a{i}") for i in range(3)]
    first = api.call("GET", "/automations?limit=1").data
    stamp = first["automations"][0]["createdAt"]
    expected = [a["id"] for a in api.call("GET", "/automations").data["automations"][1:]]
    assert expected == ids[::-1][1:]

    def page(cursor: str):
        return api.call("GET", "/automations?" + urlencode({"cursor": cursor}))

    assert [a["id"] for a in page(_cursor_of(stamp, ids[-1].upper())).data[
        "automations"]] == expected
    assert [a["id"] for a in page(" " + first["nextCursor"] + "\n").data[
        "automations"]] == expected  # Node's base64 decoder skips the whitespace
    for bad in ["  ", _cursor_of("2026-01-01", ids[0]),
                _cursor_of("2026-01-01T00:00:00", ids[0]),
                _cursor_of("2026-01-01 00:00:00Z", ids[0]),
                _cursor_of("\uff12\uff10\uff12\uff16-01-01T00:00:00Z", ids[0]),
                _cursor_of("2026-13-01T00:00:00Z", ids[0]),
                _cursor_of("2026-02-31T00:00:00Z", ids[0]),
                _cursor_of("2026-01-01T00:00:00Z\n", ids[0]),
                _cursor_of(stamp, "triage"),
                _cursor_of(None, None, raw=f'{{"createdAt": "{stamp}", "id": "{ids[0]}", '
                                           '"n": NaN}')]:
        answer = page(bad)
        assert (answer.status, answer.code, answer.message) == (
            400, "BAD_REQUEST", "Invalid cursor"), bad
    late = page(_cursor_of("2999-01-01T23:00:00.5+02:00", ids[0])).data["automations"]
    assert [a["id"] for a in late] == ids[::-1]


def test_get_automation_and_its_errors(api, mogrun_emulator):
    automation_id = mogrun_emulator.add_automation("triage", published=False)
    got = api.call("GET", f"/automations/{automation_id}").data["automation"]
    assert (got["name"], got["status"], got["publishedVersion"]) == ("triage", "inactive", None)
    assert got["runSummary"] == {"lastRunId": None, "lastRunStatus": None, "runningCount": 0,
                                 "pendingCount": 0, "failed24h": 0}
    missing = api.call("GET", f"/automations/{uuid.uuid4()}")
    assert (missing.status, missing.message) == (404, "Automation not found")
    not_uuid = api.call("GET", "/automations/triage")
    assert (not_uuid.status, not_uuid.code) == (500, "INTERNAL_ERROR")
    mogrun_emulator.add_token("mog_other", user="other")
    api.token = "mog_other"
    assert api.call("GET", f"/automations/{automation_id}").status == 404


def test_an_automation_id_in_capitals_is_the_same_uuid(api, mogrun_emulator):
    """Postgres compares UUIDs, not text: the id in capitals finds the automation
    (it answered 404 "Automation not found"), and answers show it in lower case."""
    automation_id = mogrun_emulator.add_automation("triage")
    loud = automation_id.upper()
    got = api.call("GET", f"/automations/{loud}").data["automation"]
    assert got["id"] == automation_id
    started = _trigger(api, loud, key="caps-1")
    assert started.status == 202, started
    job_id = started.data["run"]["jobRunId"]
    assert started.data["run"]["automationId"] == automation_id
    runs = api.call("GET", f"/automations/{loud}/runs").data["runs"]
    assert [r["id"] for r in runs] == [job_id]
    assert _detail(api, loud, job_id.upper())["id"] == job_id


def test_no_automation_shows_active_without_a_published_version(api, mogrun_emulator):
    """A new flow is inactive until published; an active row with no published
    version (here: one unpublished while active) is repaired by the next read that
    loads it (``repairFlowPublicationConsistency``), never by the list. It showed
    ``active`` with ``publishedVersionId: null`` for ever."""
    draft = mogrun_emulator.add_automation("draft", published=False)
    [listed] = api.call("GET", "/automations").data["automations"]
    assert (listed["status"], listed["publishedVersionId"]) == ("inactive", None)
    assert listed["updatedAt"] == listed["createdAt"]
    added = api.call("POST", "/_emulator/automations", {"spec": "spec-draft:unpublished"},
                     api=False, token=None).json
    assert [(a["name"], a["status"]) for a in added if a["name"] == "spec-draft"] == [
        ("spec-draft", "inactive")]
    mogrun_emulator.set_automation(draft, published=True)  # publishing activates it
    assert api.call("GET", f"/automations/{draft}").data["automation"]["status"] == "active"
    broken = mogrun_emulator.add_automation("broken", published=False, active=True)
    raw = {a["id"]: a for a in api.call("GET", "/automations").data["automations"]}[broken]
    assert (raw["status"], raw["publishedVersionId"]) == ("active", None)  # as stored
    time.sleep(0.01)
    got = api.call("GET", f"/automations/{broken}").data["automation"]
    assert (got["status"], got["publishedVersion"]) == ("inactive", None)
    assert got["updatedAt"] > got["createdAt"]  # the repair wrote the row
    fixed = {a["id"]: a for a in api.call("GET", "/automations").data["automations"]}[broken]
    assert (fixed["status"], fixed["updatedAt"]) == ("inactive", got["updatedAt"])
    mogrun_emulator.set_automation(draft, published=False)
    refused = _trigger(api, draft, key="draft-1")
    assert (refused.status, refused.message) == (
        409, "Publish the automation before triggering it")
    assert api.call("GET", f"/automations/{draft}").data["automation"]["status"] == "inactive"


def test_trigger_checks_in_the_servers_order(api, mogrun_emulator):
    mogrun_emulator.add_repo("elsewhere/repo")
    ok_id = mogrun_emulator.add_automation("ok")
    draft = mogrun_emulator.add_automation("draft", published=False)
    off = mogrun_emulator.add_automation("off", active=False)
    path = f"/automations/{ok_id}/trigger"
    repo_id = mogrun_emulator.repo_id(API)
    cases = [
        (_trigger(api, ok_id, token=mogrun_emulator.read_token), 403, "FORBIDDEN", None),
        (api.call("POST", path, {"repoId": repo_id}), 400, "BAD_REQUEST",
         "Idempotency-Key is required"),
        (api.call("POST", path, {"repoId": repo_id}, key="k" * 201), 400, "BAD_REQUEST",
         "Idempotency-Key exceeds maximum length of 200 characters"),
        (api.call("POST", path, raw=b"{nope", key="k"), 400, "BAD_REQUEST",
         "repoId is required"),
        (api.call("POST", path, raw=b"[" * 100_000 + b"]" * 100_000, key="k"), 400,
         "BAD_REQUEST", "repoId is required"),  # past Python's parser: unread, not dropped
        (api.call("POST", path, {"repoId": "  "}, key="k"), 400, "BAD_REQUEST",
         "repoId is required"),
        (_trigger(api, ok_id, key="k", input=[1]), 400, "BAD_REQUEST",
         "input must be an object"),
        (_trigger(api, ok_id, key="k", input=None), 400, "BAD_REQUEST",
         "input must be an object"),
        (_trigger(api, str(uuid.uuid4()), key="k"), 404, "NOT_FOUND", "Automation not found"),
        (_trigger(api, draft, key="k"), 409, "CONFLICT",
         "Publish the automation before triggering it"),
        (_trigger(api, off, key="k"), 409, "CONFLICT",
         "Activate the automation before triggering it"),
        # The repos query casts repoId to a UUID: another string fails it (Postgres), 500.
        (api.call("POST", path, {"repoId": "repo_nope"}, key="k"), 500, "INTERNAL_ERROR",
         "Failed to trigger automation"),
        (api.call("POST", path, {"repoId": str(uuid.uuid4())}, key="k"), 404, "NOT_FOUND",
         "Repository not found"),
        (_trigger(api, ok_id, key="k", repo="elsewhere/repo"), 400, "BAD_REQUEST",
         "Repository is outside this automation's GitHub installation"),
    ]
    for answer, status, code, message in cases:
        assert (answer.status, answer.code) == (status, code), answer
        assert message is None or answer.message == message
    assert mogrun_emulator.job_runs() == []


@pytest.mark.parametrize("tokens", [7, 5, 1])
@pytest.mark.mogrun_emulator(automations=["triage"])
def test_a_scripted_token_total_is_the_ai_calls_sum(api, mogrun_emulator, tokens):
    """tokens=7 over two AI calls came back 8 (each share rounded on its own, half to
    even), tokens=5 as 4: the docs give it as the total over the calls."""
    [automation] = mogrun_emulator.automations
    note = f"@emulator duration=0.3s nodes=3 tokens={tokens}"
    answer = _trigger(api, automation["id"], input={"note": note})
    done = _finished(api, automation["id"], answer.data["run"]["jobRunId"])
    counts = [c["total_tokens"] for c in done["ai_calls"]]
    assert sum(counts) == tokens and all(type(n) is int for n in counts), counts


@pytest.mark.mogrun_emulator(automations=["triage"])
def test_a_trigger_starts_a_job_run_that_progresses(api, mogrun_emulator):
    [automation] = mogrun_emulator.automations
    note = "@emulator duration=2s nodes=3 tokens=1000 cost=0.5"
    answer = _trigger(api, automation["id"], input={"ticket": "PLAT-1", "note": note,
                                                    "source": "mine"})
    assert answer.status == 202
    run = answer.data["run"]
    assert (run["outcome"], run["reason"], run["started"], run["status"]) == (
        "queued", None, True, "running")
    assert run["automationId"] == automation["id"]
    assert run["runtime"]["provider"] == "trigger" and run["runtime"]["runId"]
    early = _detail(api, automation["id"], run["jobRunId"])
    assert early["status"] == "running" and early["completed_at"] is None
    assert early["metadata"]["ticket"] == "PLAT-1" and early["metadata"]["source"] == "mcp"
    done = _finished(api, automation["id"], run["jobRunId"])
    assert done["status"] == "success"
    assert [n["status"] for n in done["node_runs"]] == ["success"] * 3
    assert len(done["ai_calls"]) == 2
    assert sum(c["total_tokens"] for c in done["ai_calls"]) == 1000
    assert sum(c["cost_usd"] for c in done["ai_calls"]) == pytest.approx(0.5)
    assert done["input_tokens"] + done["output_tokens"] == 1000
    assert done["cost_usd"] is None  # as on the server: sum the AI calls
    assert [e["event_type"] for e in done["ai_calls"][0]["events"]] == [
        "started", "tool_started", "log", "tool_finished", "finished"]
    assert [(e["event_kind"], e["outcome"]) for e in done["dispatch_events"]] == [
        ("enqueue", "queued"), ("start", "started"), ("control", "completed")]


@pytest.mark.mogrun_emulator(automations=["triage"])
def test_the_input_comes_back_with_its_numbers_as_javascript_keeps_them(api, mogrun_emulator):
    """JSON.parse makes every number a double and JSON.stringify writes a whole one
    without ".0": a client comparing the input it sent with the metadata must not
    take 1.0 for 1, or 2**53 + 1 for 2**53, as another input."""
    [automation] = mogrun_emulator.automations
    sent = {"note": "@emulator duration=0.2s", "ratio": 1.0, "half": 0.5, "big": 2**53 + 1,
            "huge": 10**400, "flag": True, "nested": [2.0, {"x": -0.0, "n": 3}]}
    answer = _trigger(api, automation["id"], input=sent)
    assert answer.status == 202, answer.data
    meta = _detail(api, automation["id"], answer.data["run"]["jobRunId"])["metadata"]
    kept = {key: meta[key] for key in sent}
    assert kept == {"note": "@emulator duration=0.2s", "ratio": 1, "half": 0.5, "big": 2**53,
                    "huge": None, "flag": True, "nested": [2, {"x": 0, "n": 3}]}
    assert type(kept["ratio"]) is int and type(kept["flag"]) is bool


@pytest.mark.mogrun_emulator(automations=["triage"])
def test_a_reused_key_is_suppressed_with_the_first_job_run_whatever_the_body(api,
                                                                            mogrun_emulator):
    [automation] = mogrun_emulator.automations
    first = _trigger(api, automation["id"], key="same").data["run"]
    again = _trigger(api, automation["id"], key="same", repo="acme/web",
                     input={"other": True})
    assert again.status == 202
    assert again.data["run"] == {"automationId": automation["id"], "jobRunId": first["jobRunId"],
                                 "outcome": "suppressed", "reason": "IDEMPOTENT_DUPLICATE",
                                 "started": False, "status": "suppressed", "runtime": None}
    assert len(mogrun_emulator.job_runs()) == 1
    latest = _detail(api, automation["id"], first["jobRunId"])["latest_dispatch_event"]
    assert (latest["outcome"], latest["reason"]) == ("suppressed", "IDEMPOTENT_DUPLICATE")


@pytest.mark.mogrun_emulator(automations=["triage"])
def test_a_key_someone_else_used_points_at_their_run(api, mogrun_emulator):
    [automation] = mogrun_emulator.automations
    theirs = mogrun_emulator.take_job_key("nightly")
    answer = _trigger(api, automation["id"], key="nightly").data["run"]
    assert (answer["outcome"], answer["jobRunId"]) == ("suppressed", theirs)
    missing = api.call("GET", f"/automations/{automation['id']}/runs/{theirs}")
    assert (missing.status, missing.message) == (404, "Run not found")
    not_uuid = api.call("GET", f"/automations/{automation['id']}/runs/nightly")
    assert (not_uuid.status, not_uuid.code) == (500, "INTERNAL_ERROR")  # its query fails
    with pytest.raises(ValueError, match="already taken"):
        mogrun_emulator.take_job_key("nightly")


@pytest.mark.mogrun_emulator(automations=["triage"])
def test_pending_caps_suppress_without_creating_a_run(api, mogrun_emulator):
    [automation] = mogrun_emulator.automations
    mogrun_emulator.set_job_caps(JobCaps(repo_pending=1, installation_pending=2))
    first = _trigger(api, automation["id"], key="a", input={"s": "@emulator duration=2s"})
    repo_cap = _trigger(api, automation["id"], key="b").data["run"]
    assert (repo_cap["outcome"], repo_cap["reason"], repo_cap["jobRunId"]) == (
        "suppressed", "REPO_PENDING_LIMIT", None)
    assert (repo_cap["status"], repo_cap["started"], repo_cap["runtime"]) == (
        "suppressed", False, None)
    _trigger(api, automation["id"], key="c", repo="acme/web")
    install_cap = _trigger(api, automation["id"], key="d", repo="acme/worker").data["run"]
    assert install_cap["reason"] == "INSTALLATION_PENDING_LIMIT"
    assert len(mogrun_emulator.job_runs()) == 2
    _finished(api, automation["id"], first.data["run"]["jobRunId"])
    retried = _trigger(api, automation["id"], key="b").data["run"]  # the key stayed free
    assert (retried["outcome"], retried["started"]) == ("queued", True)


@pytest.mark.mogrun_emulator(automations=["triage"], job_caps=JobCaps(installation_running=1))
def test_the_installation_concurrency_limit_defers_then_starts(api, mogrun_emulator):
    [automation] = mogrun_emulator.automations
    _trigger(api, automation["id"], key="a", input={"s": "@emulator duration=2s"})
    deferred = _trigger(api, automation["id"], key="b", repo="acme/web").data["run"]
    assert (deferred["outcome"], deferred["reason"], deferred["started"],
            deferred["status"]) == ("queued", "INSTALLATION_CONCURRENCY_LIMIT", False, "pending")
    assert deferred["runtime"] == {"provider": None, "runId": None}
    waiting = _detail(api, automation["id"], deferred["jobRunId"])
    assert (waiting["status"], waiting["last_start_error"]) == (
        "pending", "Installation concurrency limit reached")
    done = _finished(api, automation["id"], deferred["jobRunId"])
    assert done["status"] == "success" and done["last_start_source"] == "queue_release"
    assert [(e["event_kind"], e["outcome"]) for e in done["dispatch_events"]][:3] == [
        ("enqueue", "queued"), ("start", "deferred"), ("start", "started")]


@pytest.mark.mogrun_emulator(automations=["triage"])
def test_scripted_failure_from_input_or_definition(api, mogrun_emulator):
    [automation] = mogrun_emulator.automations
    failing = _trigger(api, automation["id"], key="f", input={
        "note": "please\n@emulator status=failed duration=0.3s error=MISSING_CONFIG"})
    done = _finished(api, automation["id"], failing.data["run"]["jobRunId"])
    assert (done["status"], done["error"], done["requeueable"]) == (
        "failed", "MISSING_CONFIG", True)
    assert done["node_runs"][-1]["status"] == "failed"
    assert done["input_tokens"] is None  # totals are written on success only
    scripted = mogrun_emulator.add_automation("flaky", script="@emulator status=failed "
                                              "duration=0.3s")
    job = _trigger(api, scripted, key="g").data["run"]["jobRunId"]
    assert _finished(api, scripted, job)["status"] == "failed"
    bad = _trigger(api, scripted, key="h", input={"x": "@emulator stauts=failed"})
    assert (bad.status, bad.code) == (400, "BAD_REQUEST")
    assert "unknown key 'stauts'" in bad.message
    with pytest.raises(ValueError, match="unknown key 'nodez'"):
        mogrun_emulator.add_automation("typo", script="@emulator nodez=3")


@pytest.mark.mogrun_emulator(automations=["triage"])
def test_a_500_after_commit_leaves_a_job_run_that_the_same_key_finds(api, mogrun_emulator):
    [automation] = mogrun_emulator.automations
    mogrun_emulator.set_job_caps(JobCaps(repair=2.0))
    mogrun_emulator.add_fault("trigger", "500_after_commit")
    failed = _trigger(api, automation["id"], key="retry-me")
    assert (failed.status, failed.code, failed.message) == (
        500, "INTERNAL_ERROR", "Failed to trigger automation")
    [job_id] = mogrun_emulator.job_runs()
    pending = _detail(api, automation["id"], job_id)
    assert (pending["status"], pending["last_start_error"]) == (
        "pending", "Trigger.dev runtime is not configured")
    again = _trigger(api, automation["id"], key="retry-me").data["run"]
    assert (again["outcome"], again["jobRunId"]) == ("suppressed", job_id)
    done = _finished(api, automation["id"], job_id)
    assert (done["status"], done["last_start_source"], done["start_attempts"]) == (
        "success", "repair", 2)


@pytest.mark.mogrun_emulator(automations=["triage"])
def test_a_dropped_trigger_answer_still_made_the_job_run(api, mogrun_emulator):
    [automation] = mogrun_emulator.automations
    mogrun_emulator.add_fault("trigger", "drop_after_commit")
    with pytest.raises(Exception):  # noqa: B017 - the connection closes without an answer
        _trigger(api, automation["id"], key="lost")
    assert len(mogrun_emulator.job_runs()) == 1
    assert _trigger(api, automation["id"], key="lost").data["run"]["reason"] \
        == "IDEMPOTENT_DUPLICATE"


@pytest.mark.mogrun_emulator(automations=["triage", "other"])
def test_runs_list_is_newest_first_and_per_automation(api, mogrun_emulator):
    triage, other = (a["id"] for a in mogrun_emulator.automations)
    jobs = [_trigger(api, triage, key=f"k{i}").data["run"]["jobRunId"] for i in range(3)]
    _trigger(api, other, key="x")
    runs = api.call("GET", f"/automations/{triage}/runs?limit=2").data["runs"]
    assert [r["id"] for r in runs] == jobs[::-1][:2]
    assert runs[0]["flow_id"] == triage and runs[0]["latest_ai_call"] is None
    assert len(api.call("GET", f"/automations/{triage}/runs?limit=999").data["runs"]) == 3
    wrong = api.call("GET", f"/automations/{other}/runs/{jobs[0]}")
    assert (wrong.status, wrong.message) == (404, "Run not found")
    assert api.call("GET", f"/automations/{uuid.uuid4()}/runs").message \
        == "Automation not found"


def test_automation_faults(api, mogrun_emulator):
    automation_id = mogrun_emulator.add_automation("triage")
    mogrun_emulator.add_fault("automations", "503")
    mogrun_emulator.add_fault("automation_runs", "429")
    assert api.call("GET", f"/automations/{automation_id}").status == 503
    assert api.call("GET", f"/automations/{automation_id}/runs").status == 429
    assert api.call("GET", "/automations").status == 200


def test_control_endpoints_for_automations_keys_and_caps(api, mogrun_emulator):
    added = api.call("POST", "/_emulator/automations", {"spec": "triage,draft:unpublished"},
                     api=False, token=None)
    assert [(a["name"], a["published"]) for a in added.json] == [
        ("triage", True), ("draft", False)]
    scripted = api.call("POST", "/_emulator/automations",
                        {"name": "fails", "script": "@emulator status=failed"},
                        api=False, token=None)
    assert scripted.json[-1]["script"] == "@emulator status=failed"
    taken = api.call("POST", "/_emulator/job-keys", {"keys": ["k1", "k2"]}, api=False,
                     token=None)
    assert [k["key"] for k in taken.json] == ["k1", "k2"]
    caps = api.call("POST", "/_emulator/job-caps", {"installation_running": 2}, api=False,
                    token=None)
    assert caps.json == {"repo_pending": 25, "installation_pending": 100,
                         "installation_running": 2, "repair": 120.0}
    runs = api.call("GET", "/_emulator/job-runs", api=False, token=None).json
    assert {r["user"] for r in runs} == {"user_someone_else"}
    for path, body in [("automations", {"spec": "x:draft"}), ("job-keys", {"keys": "k"}),
                       ("job-caps", {"nope": 1}), ("automations", {"name": "x", "active": 1})]:
        bad = api.call("POST", f"/_emulator/{path}", body, api=False, token=None)
        assert bad.status == 400, (path, bad.json)


def test_the_trigger_reads_its_body_as_post_runs_does(api, mogrun_emulator):
    """Both handlers read ``await request.json()``: a byte order mark and a byte that is
    not UTF-8 do not stop it, and NaN (which Python's parser takes) is not JSON."""
    automation = mogrun_emulator.add_automation("ok")
    path = f"/automations/{automation}/trigger"
    repo = mogrun_emulator.repo_id(API)
    bom = b"\xef\xbb\xbf" + f'{{"repoId": "{repo}"}}'.encode()
    assert api.call("POST", path, raw=bom, key="bom").status == 202
    latin1 = f'{{"repoId": "{repo}", "input": {{"note": "caf\xe9"}}}}'.encode("latin-1")
    assert api.call("POST", path, raw=latin1, key="latin1").status == 202
    nan = f'{{"repoId": "{repo}", "input": {{"n": NaN}}}}'.encode()
    answer = api.call("POST", path, raw=nan, key="nan")
    assert (answer.status, answer.message) == (400, "repoId is required")


def test_a_run_id_that_is_not_a_uuid_is_the_run_logs_routes_500(api, mogrun_emulator):
    """The route's fallback names what it loads: the run's logs."""
    automation_id = mogrun_emulator.add_automation("triage")
    bad = api.call("GET", f"/automations/{automation_id}/runs/not-a-uuid")
    assert (bad.status, bad.code, bad.message) == (
        500, "INTERNAL_ERROR", "Failed to load automation run logs")
