"""Each fault kind, its count, its endpoint, Retry-After, and the HTTP control API."""

from __future__ import annotations

import http.client
import json
import time

import pytest

from mogrun.emulator.app import CONFLICT_ROW_LAG
from mogrun.emulator.faults import ENDPOINTS, Fault, parse_faults


@pytest.mark.parametrize(("kind", "status", "code"), [
    ("500", 500, "INTERNAL_ERROR"),
    ("502", 502, "BAD_GATEWAY"),
    ("503", 503, "SERVICE_UNAVAILABLE"),
    ("504", 504, "GATEWAY_TIMEOUT"),
    ("429", 429, "RATE_LIMITED"),
])
def test_status_faults_answer_an_error_envelope(api, mogrun_emulator, kind, status, code):
    mogrun_emulator.add_fault("repos", kind)
    answer = api.call("GET", "/repos")
    assert (answer.status, answer.code) == (status, code)
    assert api.call("GET", "/repos").status == 200  # count=1: only the next request


@pytest.mark.parametrize(("kind", "default"), [("429", "1"), ("503", "1"), ("500", None)])
def test_retry_after_defaults(api, mogrun_emulator, kind, default):
    mogrun_emulator.add_fault("repos", kind)
    assert api.call("GET", "/repos").headers.get("retry-after") == default


def test_retry_after_is_configurable(api, mogrun_emulator):
    mogrun_emulator.add_fault("repos", "429", retry_after=7)
    mogrun_emulator.add_fault("repos", "502", retry_after=2.5)
    assert api.call("GET", "/repos").headers["retry-after"] == "7"
    assert api.call("GET", "/repos").headers["retry-after"] == "3"


def test_count_applies_to_the_next_n_requests(api, mogrun_emulator):
    mogrun_emulator.add_fault("start", "503", count=2)
    assert api.start(key="k").status == 503
    assert api.start(key="k").status == 503
    assert api.start(key="k").status == 202
    assert len(mogrun_emulator.runs) == 1


def test_a_start_fault_answers_as_the_route_does_after_the_token(api, mogrun_emulator):
    """The route's limiter (503 unavailable, 429) and its start (500) answer after the
    token, scope, Idempotency-Key and JSON checks, in the route's words: a start
    without a token is 401, as on the server (it was the fault's 503 "Service
    unavailable (injected)", no token needed)."""
    mogrun_emulator.add_fault("start", "503", count=3)
    repo_id = mogrun_emulator.repo_id("acme/api")
    body = {"repoId": repo_id, "prompt": "x"}
    unauthorised = api.call("POST", "/runs", body, key="k", token=None)
    assert (unauthorised.status, unauthorised.code) == (401, "UNAUTHORIZED")
    read_only = api.call("POST", "/runs", body, key="k", token=mogrun_emulator.read_token)
    assert read_only.status == 403
    answer = api.start(key="k")
    assert (answer.status, answer.code, answer.message) == (
        503, "SERVICE_UNAVAILABLE", "External Mogplex run rate limit unavailable")
    assert answer.headers["retry-after"] == "1"  # the fault's default: tests stay quick
    mogrun_emulator.add_fault("start", "503", retry_after=60)
    assert api.start(key="k").headers["retry-after"] == "60"  # the route's own
    mogrun_emulator.add_fault("start", "429", retry_after=30)
    limited = api.start(key="k")
    assert (limited.status, limited.code, limited.message, limited.headers["retry-after"]) == (
        429, "RATE_LIMITED", "Too many requests (injected)", "30")
    mogrun_emulator.add_fault("*", "500")
    failed = api.start(key="k")
    assert (failed.status, failed.code, failed.message) == (
        500, "INTERNAL_ERROR", "Failed to start run")
    assert mogrun_emulator.runs == []
    assert api.start(key="k").status == 202


def test_fault_only_hits_its_endpoint(api, mogrun_emulator):
    mogrun_emulator.add_fault("events", "500")
    run_id = api.start().data["runId"]
    assert api.call("GET", f"/runs/{run_id}").status == 200
    assert api.call("GET", "/repos").status == 200
    assert api.call("GET", f"/runs/{run_id}/events").status == 500
    assert api.call("GET", f"/runs/{run_id}/events").status == 200


def test_star_hits_any_endpoint(api, mogrun_emulator):
    mogrun_emulator.add_fault("*", "500", count=2)
    assert api.call("GET", "/repos").status == 500
    assert api.call("GET", "/nope").status == 500
    assert api.call("GET", "/repos").status == 200


def test_html_fault_is_a_proxy_page(api, mogrun_emulator):
    mogrun_emulator.add_fault("run", "html")
    run_id = api.start().data["runId"]
    answer = api.call("GET", f"/runs/{run_id}")
    assert answer.status == 502
    assert answer.headers["content-type"] == "text/html"
    assert answer.body.startswith(b"<html>")


def test_empty_fault(api, mogrun_emulator):
    mogrun_emulator.add_fault("repos", "empty")
    answer = api.call("GET", "/repos")
    assert (answer.status, answer.body, answer.headers["content-length"]) == (200, b"", "0")


def test_truncated_fault_is_half_a_json_body(api, mogrun_emulator):
    mogrun_emulator.add_fault("repos", "truncated")
    answer = api.call("GET", "/repos")
    assert answer.status == 200
    assert answer.body.startswith(b'{"ok":true')
    assert int(answer.headers["content-length"]) == len(answer.body)
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.body)


def test_delay_fault_sleeps_then_answers(api, mogrun_emulator):
    mogrun_emulator.add_fault("repos", "delay", delay=0.3)
    began = time.monotonic()
    assert api.call("GET", "/repos").status == 200
    assert time.monotonic() - began >= 0.3
    began = time.monotonic()
    api.call("GET", "/repos")
    assert time.monotonic() - began < 0.25


def _raw_start(emulator, key):
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
    body = json.dumps({"repoId": emulator.repo_id("acme/api"), "prompt": "p"})
    conn.request("POST", "/api/v1/mogplex/runs", body, {
        "Authorization": f"Bearer {emulator.write_token}", "Idempotency-Key": key,
        "Content-Type": "application/json"})
    try:
        return conn.getresponse()
    finally:
        conn.close()


def test_drop_after_commit_creates_the_run_then_closes(api, mogrun_emulator):
    mogrun_emulator.add_fault("start", "drop_after_commit")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _raw_start(mogrun_emulator, "lost")
    assert len(mogrun_emulator.runs) == 1
    retry = api.call("POST", "/runs", {"repoId": mogrun_emulator.repo_id("acme/api"),
                                       "prompt": "p"}, key="lost")
    assert retry.data["replayed"] is True
    assert retry.data["runId"] == mogrun_emulator.runs[0]
    record = mogrun_emulator.requests[0]
    assert (record.status, record.fault, record.idempotency_key) == (
        0, "drop_after_commit", "lost")


def test_drop_closes_without_effect(mogrun_emulator):
    mogrun_emulator.add_fault("start", "drop")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _raw_start(mogrun_emulator, "gone")
    assert mogrun_emulator.runs == []
    assert _raw_start(mogrun_emulator, "gone").status == 202


def test_conflict_fault_ends_the_run_with_its_own_status(api, mogrun_emulator):
    mogrun_emulator.add_fault("cancel", "conflict")
    run_id = api.start("@emulator status=failed duration=60s").data["runId"]
    answer = api.call("POST", f"/runs/{run_id}/cancel")
    assert (answer.status, answer.code, answer.message) == (
        409, "CONFLICT", "Run is no longer active")
    # The server's row is updated after the agent's call ends: active for a moment.
    assert api.call("GET", f"/runs/{run_id}").data["run"]["status"] in ("pending", "streaming")
    time.sleep(CONFLICT_ROW_LAG)
    run = api.call("GET", f"/runs/{run_id}").data["run"]
    assert run["status"] == "failed"
    assert api.call("POST", f"/runs/{run_id}/cancel").data["alreadyTerminal"] is True


def test_faults_over_http(api, mogrun_emulator):
    added = api.call("POST", "/_emulator/faults", {"spec": "repos:503x2@4"}, api=False)
    assert added.status == 200
    assert added.json == [{"endpoint": "repos", "kind": "503", "count": 2, "retry_after": 4.0,
                           "delay": None, "remaining": 2}]
    api.call("POST", "/_emulator/faults", [{"endpoint": "run", "kind": "500"}], api=False)
    assert api.call("GET", "/repos").headers["retry-after"] == "4"
    assert len(api.call("GET", "/_emulator/faults", api=False).json) == 2
    assert api.call("DELETE", "/_emulator/faults", api=False).json == []
    assert api.call("GET", "/repos").status == 200


@pytest.mark.parametrize("body", [{"endpoint": "nope", "kind": "500"}, {"kind": "500"},
                                  {"spec": "start:boom"}, [1], "text"])
def test_bad_faults_over_http_are_400(api, body):
    answer = api.call("POST", "/_emulator/faults", body, api=False)
    assert answer.status == 400
    assert answer.json["error"]


def test_parse_faults_syntax():
    assert parse_faults("start:503x2,events:429@3,run:delay=1.5sx2,start:drop_after_commit") == [
        Fault("start", "503", 2),
        Fault("events", "429", 1, retry_after=3.0),
        Fault("run", "delay", 2, delay=1.5),
        Fault("start", "drop_after_commit"),
    ]
    assert parse_faults("*:html,cancel:conflictx3") == [Fault("*", "html"),
                                                         Fault("cancel", "conflict", 3)]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_fault_endpoint_can_be_given_as_a_spec(endpoint):
    """``automation_runs:500x3`` was a "bad fault": the spec's endpoint had no ``_``."""
    assert parse_faults(f" {endpoint}:500x3 ,{endpoint}:delay=1s") == [
        Fault(endpoint, "500", 3), Fault(endpoint, "delay", delay=1.0)]


@pytest.mark.parametrize(("spec", "message"), [
    ("start:foo", "unknown fault kind 'foo'"),
    ("nope:500", "unknown fault endpoint 'nope'"),
    ("events:drop_after_commit", "applies only to the 'start' or 'trigger' endpoint"),
    ("start:conflict", "applies only to the 'cancel' endpoint"),
    ("start:500x0", "count must be at least 1"),
    ("start", "expected ENDPOINT:KIND"),
])
def test_parse_faults_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_faults(spec)


def test_add_fault_validates(mogrun_emulator):
    with pytest.raises(ValueError, match="unknown fault kind"):
        mogrun_emulator.add_fault("start", "418")
