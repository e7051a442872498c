"""The request log, from Python and over GET /_emulator/requests; never the token."""

from __future__ import annotations

import time

from mogrun.emulator import RequestRecord


def test_log_records_method_path_status_time_and_key(api, mogrun_emulator):
    before = time.time()
    api.call("GET", "/repos?q=api")
    api.start(key="  key-7 ")
    api.call("GET", "/repos", token=None)
    records = mogrun_emulator.requests
    assert [(r.method, r.path, r.status) for r in records] == [
        ("GET", "/api/v1/mogplex/repos", 200),
        ("POST", "/api/v1/mogplex/runs", 202),
        ("GET", "/api/v1/mogplex/repos", 401),
    ]
    assert records[0].query == "q=api"
    assert records[1].idempotency_key == "key-7"
    assert records[0].idempotency_key is None
    assert before <= records[0].time <= records[2].time <= time.time()
    assert isinstance(records[0], RequestRecord)


def test_log_over_http_never_shows_a_token(api, mogrun_emulator):
    api.start(key="k")
    api.call("GET", "/repos", token="mog_wrong_token")
    answer = api.call("GET", "/_emulator/requests", api=False)
    assert answer.status == 200
    assert [(r["method"], r["status"], r["idempotency_key"]) for r in answer.json] == [
        ("POST", 202, "k"), ("GET", 401, None)]
    assert set(answer.json[0]) == {"method", "path", "status", "time", "idempotency_key",
                                   "query", "fault"}
    for token in (mogrun_emulator.write_token, "mog_wrong_token"):
        assert token not in answer.body.decode()
        assert token not in repr(mogrun_emulator.requests)


def test_control_requests_are_not_logged(api, mogrun_emulator):
    api.call("GET", "/_emulator/requests", api=False)
    api.call("GET", "/_emulator/runs", api=False)
    assert mogrun_emulator.requests == []


def test_count_helper(api, mogrun_emulator):
    run_id = api.start(key="a").data["runId"]
    api.start(key="a")
    api.call("POST", f"/runs/{run_id}/cancel")
    mogrun_emulator.add_fault("repos", "429")
    api.call("GET", "/repos")
    assert mogrun_emulator.count() == 4
    assert mogrun_emulator.count("POST", "/runs") == 3  # a prefix: the cancel too
    assert mogrun_emulator.count("POST", path="/runs") == 2
    assert mogrun_emulator.count(path=f"/api/v1/mogplex/runs/{run_id}") == 0
    assert mogrun_emulator.count("post", "/api/v1/mogplex/runs", status=202) == 2
    assert mogrun_emulator.count(path_prefix=f"/runs/{run_id}/cancel") == 1
    assert mogrun_emulator.count(status=429) == 1
    mogrun_emulator.clear_requests()
    assert mogrun_emulator.count() == 0


def test_runs_over_http(api, mogrun_emulator):
    run_id = api.start("@emulator duration=never").data["runId"]
    assert api.call("GET", "/_emulator/runs", api=False).json == [
        {"runId": run_id, "status": "pending", "repoId": mogrun_emulator.repo_id("acme/api")}]
    assert mogrun_emulator.runs == [run_id]
    assert mogrun_emulator.run_detail(run_id)["runId"] == run_id


def test_unknown_control_endpoint_is_404(api):
    answer = api.call("GET", "/_emulator/nothing", api=False)
    assert answer.status == 404
    assert "GET /_emulator/requests" in answer.json["error"]


def test_a_control_endpoint_asked_with_another_method_is_405(api):
    """As the API's own routes answer: the endpoint exists, not for that method."""
    answer = api.call("PUT", "/_emulator/faults", {}, api=False)
    assert answer.status == 405
    assert answer.headers["allow"] == "DELETE, GET, POST"
    assert answer.json == {"error": "PUT is not allowed here (allowed: DELETE, GET, POST)"}


def test_clear_requests_over_http(api, mogrun_emulator):
    api.call("GET", "/repos")
    assert api.call("DELETE", "/_emulator/requests", api=False).json == []
    assert mogrun_emulator.requests == []
