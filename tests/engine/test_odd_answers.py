"""Odd or hostile server answers the emulator never gives — field types the API
does not promise, answers lacking the run id, transitional statuses, escape
sequences in a status, a repo listing without ids — end in a result or one clear
error, never a crash. Served by a loopback server of our own that answers per
method and path in the API's envelope."""

from __future__ import annotations

import io

import pytest

from mogrun.testing import loopback_api

from .conftest import json_lines
from .test_scheduler import job

ODD_EVENTS = [
    {"id": None, "type": "log", "message": "first null id", "createdAt": "2026-01-01T00:00:00Z"},
    {"id": None, "type": "log", "message": "second null id", "createdAt": "2026-01-01T00:00:01Z"},
    {"type": None, "message": 42, "toolName": 7, "createdAt": 1767225600},
    {"id": "e4", "type": "log", "message": {"text": "a dict"}, "payload": ["not", "an", "object"],
     "createdAt": "2026-01-01T00:00:03Z"},
    {"id": "e5", "type": "log", "message": "string payload", "payload": "x=1",
     "createdAt": "2026-01-01T00:00:04Z"},
]


def odd_events_server():
    """A loopback API whose one run succeeds with ``ODD_EVENTS``."""

    def answer(method, path):
        if method == "POST":
            return 202, {**_run_detail("pending"), "replayed": False}
        return 200, {"run": _run_detail("success"), "events": ODD_EVENTS}

    return fake_api(answer)


ODD = "0dd00000-0000-4000-8000-000000000000"  # a run id as the server makes them: a UUID


def _run_detail(status: str) -> dict:
    return {"runId": ODD, "repoId": "5c0ffee0-1234-4321-8abc-0123456789ab", "status": status,
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:05Z",
            "error": None}


def fake_api(answer):
    """A loopback API answering ``answer(method, path) -> (status, data)``, for
    answers the emulator never gives (``mogrun.testing.loopback_api``)."""
    return loopback_api(answer)


@pytest.mark.parametrize("mode", ["--no-color", "--json"])
def test_events_with_odd_field_types_are_shown_not_a_crash(project, mogrun, mode):
    project("""
        [jobs.odd]
        repo = "5c0ffee0-1234-4321-8abc-0123456789ab"
        prompt = "go"
    """)
    with odd_events_server() as url:
        result = mogrun(mode, "odd", env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_test"})
    assert result.exit_code == 0, result
    assert "internal error" not in result.output
    if mode == "--json":
        lines = json_lines(result.stdout)
        events = [line["event"] for line in lines if line["type"] == "event"]
        assert [e["message"] for e in events] == [
            "first null id", "second null id", 42, {"text": "a dict"}, "string payload"]
        assert lines[-1]["results"][0]["outcome"] == "success"
    else:
        for text in ("first null id", "second null id", "42", "a dict", "string payload"):
            assert text in result.stdout


def test_live_view_takes_events_whose_fields_are_not_strings():
    from mogrun.output.live import LiveReporter
    from mogrun.runs import Event, RunState

    out = io.StringIO()
    live = job("live")
    reporter = LiveReporter(stdout=out, stderr=out, color=False, force_terminal=True, width=100)
    reporter.job_started(live, live.runs[0], RunState(run_id="r1", status="pending"), False)
    reporter.event(live, live.runs[0], Event(id="e1", type="log", created_at="x",
                                           tool_name=7, message={"text": "a dict"}))
    reporter.close()
    assert "{'text': 'a dict'}" in out.getvalue()


def test_cancel_shows_a_hostile_status_escaped(project, mogrun):
    project("""
        [jobs.any]
        repo = "5c0ffee0-1234-4321-8abc-0123456789ab"
        prompt = "go"
    """)
    hostile = "cancelled\x1b]0;owned\x07\n::error::forged"

    def answer(method, path):
        return 200, {"run": _run_detail(hostile), "status": hostile, "alreadyTerminal": False}

    with fake_api(answer) as url:
        result = mogrun("cancel", ODD, env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"})
    assert result.exit_code == 0, result
    assert "\x1b" not in result.stdout and "\n::error::" not in result.stdout
    assert result.stdout.strip() == (
        f"{ODD} " + r"cancelled\x1b]0;owned\x07\n::error::forged")  # the id once


def test_run_timestamps_that_are_not_strings_give_a_result_not_a_crash(project, mogrun):
    project("""
        [jobs.odd]
        repo = "5c0ffee0-1234-4321-8abc-0123456789ab"
        prompt = "go"
    """)

    def answer(method, path):
        run = {**_run_detail("pending" if method == "POST" else "success"),
               "createdAt": 1767225600, "updatedAt": ["not", "a", "time"]}
        if method == "POST":
            return 202, {**run, "replayed": False}
        return 200, {"run": run, "events": []}

    with fake_api(answer) as url:
        result = mogrun("--json", "odd", env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"})
    assert result.exit_code == 0, result
    summary = json_lines(result.stdout)[-1]
    assert summary["results"][0]["outcome"] == "success"
    assert summary["results"][0]["duration"] >= 0


def test_follower_keeps_its_run_id_when_an_answer_lacks_it(project, mogrun):
    project("""
        [jobs.odd]
        repo = "5c0ffee0-1234-4321-8abc-0123456789ab"
        prompt = "go"
    """)
    polls = []

    def answer(method, path):
        if method == "POST":
            return 202, {**_run_detail("pending"), "replayed": False}
        polls.append(path)
        run = _run_detail("streaming" if len(polls) < 3 else "success")
        del run["runId"]
        return 200, {"run": run, "events": []}

    with fake_api(answer) as url:
        result = mogrun("--json", "odd", env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"})
    assert result.exit_code == 0, result
    assert all(path.startswith(f"/api/v1/mogplex/runs/{ODD}/events") for path in polls)
    summary = json_lines(result.stdout)[-1]
    assert [(r["run_id"], r["outcome"]) for r in summary["results"]] == [(ODD, "success")]


OTHER = "0the0000-0000-4000-8000-000000000000"  # another run's id


def test_an_answer_about_another_run_is_refused_not_taken_for_this_one(project, mogrun):
    """A cache or balancer that mixed two answers up: the run's poll answered with
    another run's body, a success. It was taken as this run's, and a run that went on
    to fail passed its job with exit 0. Now the run is lost, said, and left going."""
    project("""
        [jobs.deploy]
        repo = "5c0ffee0-1234-4321-8abc-0123456789ab"
        prompt = "go"
    """)

    def answer(method, path):
        if method == "POST":
            return 202, {**_run_detail("pending"), "replayed": False}
        if path.startswith(f"/api/v1/mogplex/runs/{ODD}"):
            return 200, {"run": {**_run_detail("success"), "runId": OTHER},
                         "events": [{"id": "x1", "type": "finished", "message": "done",
                                     "createdAt": "2026-01-01T00:00:05Z"}]}
        return 404, None

    with fake_api(answer) as url:
        env = {"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"}
        result = mogrun("--json", "deploy", env=env)
        status = mogrun("status", "deploy", "--exit-status", env=env)
    assert result.exit_code == 69, result
    summary = json_lines(result.stdout)[-1]
    [run] = summary["results"]
    assert (run["run_id"], run["outcome"], run["left_going"]) == (ODD, "error", True)
    assert f"is about run '{OTHER}', not run '{ODD}'" in run["message"]
    assert not [line for line in json_lines(result.stdout) if line["type"] == "event"]
    assert status.exit_code == 69, status  # never recorded as the other run's success
    assert "success" not in status.stdout and "is about run" in status.stderr
    assert "Traceback" not in result.stderr + status.stderr


def test_a_cancel_answer_without_run_id_keeps_the_run_in_the_result(project, mogrun):
    project("""
        [jobs.odd]
        repo = "5c0ffee0-1234-4321-8abc-0123456789ab"
        prompt = "go"
        timeout = "300ms"
    """)

    def answer(method, path):
        if path.endswith("/cancel"):
            run = _run_detail("cancelled")
            del run["runId"]
            return 200, {"run": run, "status": "cancelled", "alreadyTerminal": False}
        if method == "POST":
            return 202, {**_run_detail("pending"), "replayed": False}
        return 200, {"run": _run_detail("streaming"), "events": []}

    with fake_api(answer) as url:
        env = {"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"}
        result = mogrun("--json", "odd", env=env)
        history = json_lines(mogrun("--json", "history", env=env).stdout)
    assert result.exit_code == 1, result
    summary = json_lines(result.stdout)[-1]
    assert [(r["run_id"], r["outcome"], r["status"]) for r in summary["results"]] == [
        (ODD, "timeout", "cancelled")]
    assert [(r["run_id"], r["status"]) for r in history] == [(ODD, "cancelled")]


def test_a_transitional_status_is_followed_not_judged(project, mogrun):
    project("""
        [jobs.odd]
        repo = "5c0ffee0-1234-4321-8abc-0123456789ab"
        prompt = "go"
    """)
    statuses = iter(["streaming", "cancellation_requested", "cancellation_requested"])

    def answer(method, path):
        if method == "POST":
            return 202, {**_run_detail("pending"), "replayed": False}
        return 200, {"run": _run_detail(next(statuses, "cancelled")), "events": []}

    with fake_api(answer) as url:
        result = mogrun("--json", "odd", env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"})
    assert result.exit_code == 1, result
    seen = [o["status"] for o in json_lines(result.stdout) if o["type"] == "status"]
    assert seen == ["streaming", "cancellation_requested", "cancelled"]
    assert json_lines(result.stdout)[-1]["results"][0]["outcome"] == "cancelled"


@pytest.mark.parametrize("repos", ['"acme/api"', '["acme/api", "acme/web"]'])
@pytest.mark.parametrize("listed_id", ["missing", None, ""])
def test_a_repo_listing_without_ids_is_a_clear_error(project, mogrun, repos, listed_id):
    project(f"""
        [jobs.odd]
        repo = {repos}
        prompt = "go"
    """)

    def answer(method, path):
        listing = [{"full_name": name} if listed_id == "missing"
                   else {"full_name": name, "id": listed_id} for name in ("acme/api", "acme/web")]
        return 200, {"repos": listing}

    with fake_api(answer) as url:
        result = mogrun("odd", env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"})
    assert result.exit_code == 69, result
    assert result.stderr.startswith("Error: ") and "acme/api" in result.stderr
    assert "Traceback" not in result.output


def test_a_403_on_one_runs_read_loses_that_run_and_the_next_job_still_starts(project, mogrun):
    """Its repo left the token's reach: a's poll answered 403. Every other job was
    skipped, "the API refused the token, so no run can start with it", though the
    token still started and read runs of other repos. A 401 still stops every start."""
    project("""
        [jobs.a]
        repo = "5c0ffee0-1234-4321-8abc-0123456789ab"
        prompt = "go"

        [jobs.b]
        repo = "5c0ffee0-1234-4321-8abc-0123456789ac"
        prompt = "go"
    """)
    other = "0dd00000-0000-4000-8000-0000000000bb"

    def answer(method, path):
        if method == "POST":
            started = ODD if not starts else other
            starts.append(started)
            return 202, {**_run_detail("pending"), "runId": started, "replayed": False}
        if path.startswith(f"/api/v1/mogplex/runs/{ODD}"):
            return 403, {"code": "FORBIDDEN", "message": "Forbidden"}
        return 200, {"run": {**_run_detail("success"), "runId": other}, "events": []}

    starts: list[str] = []
    with fake_api(answer) as url:
        result = mogrun("--json", "-k", "-j", "1", "a", "b",
                        env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"})
    assert result.exit_code == 65, result  # the first of the codes that apply
    outcomes = {r["job"]: r["outcome"] for r in json_lines(result.stdout)[-1]["results"]}
    assert outcomes == {"a": "error", "b": "success"}, result
    assert "refused the token" not in result.output
