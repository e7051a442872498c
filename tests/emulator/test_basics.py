"""Repos, start, run, events, cancel: the happy paths over HTTP."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import pytest

from mogrun.emulator import Emulator, Limits

from .conftest import Http

TIMESTAMPTZ = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,5}[1-9])?\+00:00"


def test_repos_lists_the_configured_repos(api):
    answer = api.call("GET", "/repos")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    names = [r["full_name"] for r in answer.data["repos"]]
    assert names == ["acme/api", "acme/web", "acme/worker"]
    assert set(answer.data["repos"][0]) == {
        "id", "full_name", "installation_id", "default_branch", "root_directory"}


def test_repos_query_is_a_case_insensitive_substring(api):
    assert [r["full_name"] for r in api.call("GET", "/repos?q=WE").data["repos"]] == ["acme/web"]
    assert api.call("GET", "/repos?q=zzz").data["repos"] == []


def test_repos_query_is_the_servers_unescaped_ilike_pattern():
    # The server passes q into `full_name ILIKE '%q%'` unescaped: % (and PostgREST's
    # *) and _ are wildcards, a backslash makes the next character literal, and a
    # lone trailing backslash is a pattern Postgres refuses (the handler's 500).
    names = ["acme/my%repo", "acme/myXrepo", "acme/my_repo", "acme/other"]
    with Emulator(repos=names) as emulator:
        api = Http(emulator)

        def found(q: str) -> list[str] | str:
            answer = api.call("GET", "/repos?" + urlencode({"q": q}))
            return [r["full_name"] for r in answer.data["repos"]] if answer.status == 200 \
                else f"{answer.status} {answer.code}"

        assert found("my_repo") == names[:3]
        assert found("my\\_repo") == ["acme/my_repo"]
        assert found("ACME/%REPO") == names[:3]
        assert found("me/*o") == names
        assert found("my\\%") == ["acme/my%repo"]
        assert found("my\\") == "500 INTERNAL_ERROR"


def test_repos_limit_is_clamped_not_rejected(api):
    assert len(api.call("GET", "/repos?limit=0").data["repos"]) == 1
    assert len(api.call("GET", "/repos?limit=-5").data["repos"]) == 1
    assert len(api.call("GET", "/repos?limit=2").data["repos"]) == 2
    assert len(api.call("GET", "/repos?limit=9999").data["repos"]) == 3
    # as the server's parseInt: no number is the default, leading digits count
    assert len(api.call("GET", "/repos?limit=abc").data["repos"]) == 3
    assert len(api.call("GET", "/repos?limit=2abc").data["repos"]) == 2


@pytest.mark.parametrize("digit", ["\uff12", "\u0662", "\u06f2", "\u0968"])
def test_limit_reads_only_ascii_digits_as_parseint_does(api, digit):
    """Number.parseInt(value, 10) reads 0-9 only: a full-width, Arabic-Indic or
    Devanagari 2 is no number, so the default (Python's int() read them as 2)."""
    assert len(api.call("GET", "/repos?" + urlencode({"limit": digit})).data["repos"]) == 3
    assert len(api.call("GET", "/repos?" + urlencode({"limit": "1" + digit})).data[
        "repos"]) == 1  # "1" then a non-digit: 1


def test_a_limit_too_long_for_a_double_is_the_default(api):
    """parseInt of 400 digits is Infinity, not finite: the default (100), not 200."""
    run_id = api.start("@emulator duration=0.05s events=250").data["runId"]
    time.sleep(0.3)
    events = api.call("GET", f"/runs/{run_id}/events?limit={'9' * 400}").data["events"]
    assert len(events) == 100
    padded = api.call("GET", f"/runs/{run_id}/events?limit={'0' * 5000}150").data["events"]
    assert len(padded) == 150  # leading zeros are no part of the number's size


def test_start_returns_202_run_detail(api, mogrun_emulator):
    answer = api.start("hello\n@emulator duration=0.3s")
    assert answer.status == 202
    run = answer.data
    assert set(run) == {
        "runId", "aiCallId", "sandboxRecordId", "sandboxId", "repoId", "harness", "status",
        "branch", "rootDirectory", "eventsUrl", "cancelUrl", "createdAt", "updatedAt",
        "error", "runtime", "replayed"}
    assert run["replayed"] is False
    assert run["status"] == "pending"
    assert run["harness"] == "codex"
    assert run["branch"] == {"base": "main", "working": "main", "createBranch": False}
    assert run["repoId"] == mogrun_emulator.repo_id("acme/api")
    assert run["eventsUrl"] == f"/api/v1/mogplex/runs/{run['runId']}/events"  # a path
    # a timestamptz as PostgREST writes it: "+00:00", the microseconds' zeros dropped
    assert re.fullmatch(TIMESTAMPTZ, run["createdAt"]), run["createdAt"]
    assert mogrun_emulator.runs == [run["runId"]]


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=1))
def test_the_202_carries_the_runtime_the_server_queued_the_run_on(api, mogrun_emulator):
    """startMogplexApiRun queues the run on Trigger.dev and records the handle
    (markExternalAgentRunQueued) before the 202: a refused run was queued too."""
    started = api.start("@emulator duration=never pending=5s").data
    runtime = started["runtime"]
    assert runtime["provider"] == "trigger" and runtime["runId"].startswith("run_")
    assert api.call("GET", f"/runs/{started['runId']}").data["run"]["runtime"] == runtime
    assert api.start("@emulator duration=never pending=5s").data["runtime"] == runtime  # replay
    refused = api.start("go", key="key-2", repo="acme/web").data
    assert refused["runtime"]["provider"] == "trigger"
    assert refused["runtime"]["runId"] not in (None, runtime["runId"])
    time.sleep(0.3)  # failed by now
    failed = api.call("GET", f"/runs/{refused['runId']}").data["run"]
    assert (failed["status"], failed["runtime"]) == ("failed", refused["runtime"])


def test_run_progresses_over_wall_clock_time(api):
    run_id = api.start("@emulator duration=0.4s pending=0.1s").data["runId"]
    assert api.call("GET", f"/runs/{run_id}").data["run"]["status"] == "pending"
    time.sleep(0.15)
    streaming = api.call("GET", f"/runs/{run_id}").data["run"]
    assert streaming["status"] == "streaming"
    assert streaming["sandboxId"] is not None
    time.sleep(0.3)
    assert api.call("GET", f"/runs/{run_id}").data["run"]["status"] == "success"


def test_unknown_run_is_404(api):
    answer = api.call("GET", "/runs/00000000-0000-4000-8000-000000000000")
    assert (answer.status, answer.code) == (404, "NOT_FOUND")
    assert api.call("GET", "/runs/00000000-0000-4000-8000-000000000000/events").status == 404
    assert api.call("POST", "/runs/00000000-0000-4000-8000-000000000000/cancel").status == 404


def test_a_run_id_that_is_not_a_uuid_fails_the_servers_query_500(api):
    # Runs are keyed by UUID: the server's query fails on any other id, and each
    # handler answers its own 500 (never a 404).
    for method, path, message in [("GET", "/runs/run_nope", "Failed to load run"),
                                  ("GET", "/runs/42/events", "Failed to list events"),
                                  ("POST", "/runs/x/cancel", "Failed to cancel run")]:
        answer = api.call(method, path)
        assert (answer.status, answer.code, answer.message) == (500, "INTERNAL_ERROR", message)


def test_context_manager_stops_serving():
    with Emulator() as emulator:
        url = emulator.url
        assert url.startswith("http://127.0.0.1:")
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url + "/api/v1/mogplex/repos", timeout=2)
    except urllib.error.URLError as exc:
        assert "refused" in str(exc.reason).lower() or isinstance(exc.reason, OSError)
    else:
        raise AssertionError("a stopped emulator still answered")


def test_a_single_repo_string_is_one_repo():
    with Emulator(repos="solo/one") as emulator:
        assert [r["full_name"] for r in emulator.repos] == ["solo/one"]


def test_only_loopback_hosts():
    with pytest.raises(ValueError, match="loopback only"):
        Emulator(host="0.0.0.0")


def test_a_repo_can_set_its_own_root_directory():
    with Emulator(repos=["acme/mono@dev#./apps/web/", "acme/api"], limits=None) as emulator:
        listed = {r["full_name"]: r for r in emulator.repos}
        assert listed["acme/mono"]["root_directory"] == "apps/web"
        assert listed["acme/mono"]["default_branch"] == "dev"
        assert listed["acme/api"]["root_directory"] is None
    with pytest.raises(ValueError, match="must stay inside it"):
        Emulator(repos=["acme/mono#../up"])


def test_a_default_duration_no_run_can_take_is_refused():
    with pytest.raises(ValueError, match="the default duration: a duration must be at most"):
        Emulator(default_duration=float("nan"))


def test_the_docs_give_acme_api_the_id_the_emulator_gives_it():
    """docs/emulator.md said acme/api is always d5666a07-..., an id from before
    repo ids became UUIDs; a reader pasting it got 404s."""
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "emulator.md").read_text()
    stated = re.search(r"`acme/api` is always\s+`([0-9a-f-]{36})`", docs)
    assert stated is not None
    with Emulator(repos=["acme/api"]) as emulator:
        assert stated.group(1) == emulator.repo_id("acme/api")


def test_ai_call_sandbox_record_and_event_ids_are_uuids(api, mogrun_emulator):
    """The server's ai_calls, sandboxes and events tables key their rows by UUID
    (the emulator sent aic_..., sbr_... and evt_... ids); event ids stay the same
    on every read."""
    uuid_shape = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
    run_id = api.start("@emulator duration=0.3s events=5").data["runId"]
    deadline = time.monotonic() + 5
    while (run := api.call("GET", f"/runs/{run_id}").data["run"])["status"] != "success":
        assert time.monotonic() < deadline, run
        time.sleep(0.05)
    assert uuid_shape.fullmatch(run["aiCallId"]), run["aiCallId"]
    assert uuid_shape.fullmatch(run["sandboxRecordId"]), run["sandboxRecordId"]
    [sandbox] = api.call("GET", "/sandboxes").data["sandboxes"]
    assert sandbox["id"] == run["sandboxRecordId"]
    events = api.call("GET", f"/runs/{run_id}/events").data["events"]
    assert len({e["id"] for e in events}) == 5
    assert all(uuid_shape.fullmatch(e["id"]) for e in events), events
    assert [e["id"] for e in api.call("GET", f"/runs/{run_id}/events").data["events"]] == [
        e["id"] for e in events]
