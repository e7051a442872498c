"""Scheduling end to end: needs, keep-going, fan-out, --detach, --json, faults."""

from __future__ import annotations

import json
import re

import pytest

from mogrun.testing import job, task_file

from .conftest import history_rows, json_lines

RETRY_FAST = 'retry = { attempts = 3, max_delay = "2s" }'


def build_then_deploy(build_status: str) -> str:
    """deploy needs build; build's run ends with ``build_status``."""
    return task_file(job("build", prompt=f"@emulator status={build_status} duration=0.2s"),
                     job("deploy", repo="acme/web", needs=["build"]))


def test_failed_need_skips_the_dependent_job(project, mogrun, mogrun_emulator):
    project(build_then_deploy("failed"))
    result = mogrun("--json", "deploy")
    assert result.exit_code == 1, result
    assert len(mogrun_emulator.runs) == 1  # deploy never started
    finished = {o["job"]: o["outcome"] for o in json_lines(result.stdout)
                if o["type"] == "job_finished"}
    assert finished == {"build": "failed", "deploy": "skipped"}


def test_needs_run_first(project, mogrun, mogrun_emulator):
    project(build_then_deploy("success"))
    result = mogrun("--json", "deploy")
    assert result.exit_code == 0, result
    started = [o["job"] for o in json_lines(result.stdout) if o["type"] == "job_started"]
    assert started == ["build", "deploy"]
    assert len(mogrun_emulator.runs) == 2


def test_no_deps_ignores_needs(project, mogrun, mogrun_emulator):
    project(build_then_deploy("failed"))
    result = mogrun("run", "--no-deps", "deploy")
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.runs) == 1


JOBS_ONE_FAILS = """
    [jobs.a]
    repo = "acme/api"
    prompt = "@emulator status=failed duration=0.2s"
    [jobs.b]
    repo = "acme/web"
    prompt = "@emulator duration=0.2s"
"""


def test_without_keep_going_no_new_job_starts_after_a_failure(project, mogrun, mogrun_emulator):
    project(JOBS_ONE_FAILS)
    result = mogrun("--json", "run", "-j", "1", "a", "b")
    assert result.exit_code == 1, result
    assert len(mogrun_emulator.runs) == 1
    summary = json_lines(result.stdout)[-1]
    assert [(r["job"], r["outcome"]) for r in summary["results"]] == [
        ("a", "failed"), ("b", "skipped")]


def test_keep_going_runs_independent_jobs(project, mogrun, mogrun_emulator):
    project(JOBS_ONE_FAILS)
    result = mogrun("--json", "run", "-j", "1", "-k", "a", "b")
    assert result.exit_code == 1, result
    assert len(mogrun_emulator.runs) == 2
    outcomes = {r["job"]: r["outcome"] for r in json_lines(result.stdout)[-1]["results"]}
    assert outcomes == {"a": "failed", "b": "success"}


def test_fan_out_runs_each_repo_and_fails_if_one_fails(project, mogrun, mogrun_emulator):
    project("""
        [jobs.codemod]
        repo = ["acme/api", "acme/web", "acme/worker"]
        prompt = "{{ repo }}\\n@emulator duration=0.3s"
        [jobs.mixed]
        repo = ["acme/api", "acme/web"]
        prompt = "{{ repo }}\\n@emulator duration=0.3s"
    """)
    result = mogrun("--json", "codemod")
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.runs) == 3
    finished = [o for o in json_lines(result.stdout) if o["type"] == "job_finished"]
    assert [(o["job"], o["outcome"], len(o["runs"])) for o in finished] == [
        ("codemod", "success", 3)]
    keys = {r["idempotency_key"] for r in history_rows(mogrun)}
    assert len(keys) == 3


PER_REPO_PLUGIN = """
import dataclasses

from mogrun.errors import GateError
from mogrun.hookspecs import hookimpl


@hookimpl
def mogrun_start_request(job, run, request):
    if run.repo == "acme/web":
        return dataclasses.replace(request, prompt=request.prompt + "\\n@emulator status=failed")
    if run.repo == "acme/worker":
        raise GateError("acme/worker is frozen this week")
    return None
"""


def test_fan_out_job_fails_when_one_run_fails(project, mogrun, mogrun_emulator, tmp_path):
    project("""
        [jobs.mixed]
        repo = ["acme/api", "acme/web"]
        prompt = "@emulator duration=0.3s"
    """)
    (tmp_path / "per_repo.py").write_text(PER_REPO_PLUGIN)
    result = mogrun("--json", "run", "-k", "-p", str(tmp_path / "per_repo.py"), "mixed")
    assert result.exit_code == 1, result
    finished = next(o for o in json_lines(result.stdout) if o["type"] == "job_finished")
    assert finished["outcome"] == "failed"
    assert sorted((r["repo"], r["outcome"]) for r in finished["runs"]) == [
        ("acme/api", "success"), ("acme/web", "failed")]


def test_start_veto_fails_that_run_without_sending_it(project, mogrun, mogrun_emulator,
                                                       tmp_path):
    project("""
        [jobs.fan]
        repo = ["acme/api", "acme/worker"]
        prompt = "@emulator duration=0.3s"
    """)
    (tmp_path / "per_repo.py").write_text(PER_REPO_PLUGIN)
    result = mogrun("run", "-k", "-p", str(tmp_path / "per_repo.py"), "fan")
    assert result.exit_code == 1, result
    assert len(mogrun_emulator.runs) == 1
    assert "acme/worker is frozen this week" in result.stderr


def test_detach_starts_and_exits_0(project, mogrun, mogrun_emulator):
    project("""
        [jobs.long]
        repo = "acme/api"
        prompt = "@emulator duration=never interval=0.2s"
    """)
    result = mogrun("run", "--detach", "long")
    assert result.exit_code == 0, result
    run_id = mogrun_emulator.runs[0]
    assert run_id in result.stdout
    assert f"mogrun logs --follow {run_id}" in result.stderr
    assert mogrun_emulator.run_detail(run_id)["status"] in ("pending", "streaming")
    assert mogrun_emulator.count("GET", f"/runs/{run_id}/events") == 0
    # Not followed, it has no duration ("1ms" read as how long a pending run took).
    row = next(line for line in result.stdout.splitlines() if run_id in line and "detached" in line)
    assert row.split()[:2] == ["long", "acme/api"] and row.split()[4] == "-", row
    result = mogrun("--json", "run", "--detach", "long", "--rerun")
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["results"][0]["duration"] is None, summary


def test_detach_judges_a_run_it_attached_to_that_had_already_ended(project, mogrun,
                                                                     mogrun_emulator):
    """A fixed key's run had failed; `run --detach` attached to it, said "started run"
    and exit 0, recorded it detached, and rerun then called it passed ("nothing to
    rerun"), though mogrun had said to rerun it. An ended run is judged, not left."""
    project("""
        [jobs.fx]
        repo = "acme/api"
        idempotency_key = "fx-key-1"
        prompt = '@emulator status=failed duration=0.3s'
    """)
    assert mogrun("run", "fx").exit_code == 1
    detached = mogrun("run", "--detach", "fx")
    assert detached.exit_code == 1, detached
    assert "which had already ended failed" in detached.stderr
    assert "started run" not in detached.stderr
    planned = mogrun("rerun", "-n", "fx")
    assert planned.exit_code == 0 and "nothing to rerun" not in planned.stdout + planned.stderr
    assert len(mogrun_emulator.runs) == 1


def test_detach_waits_for_needs(project, mogrun, mogrun_emulator):
    project("""
        [jobs.build]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s"
        [jobs.long]
        repo = "acme/web"
        prompt = "@emulator duration=never"
        needs = ["build"]
    """)
    result = mogrun("run", "--detach", "long")
    assert result.exit_code == 0, result
    build, long = mogrun_emulator.runs
    assert mogrun_emulator.run_detail(build)["status"] == "success"
    assert mogrun_emulator.run_detail(long)["status"] in ("pending", "streaming")


def test_json_output_is_ndjson_only(project, mogrun):
    project("""
        [jobs.a]
        repo = "acme/api"
        prompt = "@emulator duration=0.4s events=6"
    """)
    result = mogrun("--json", "a")
    assert result.exit_code == 0, result
    objects = json_lines(result.stdout)  # every line parses
    types = [o["type"] for o in objects]
    assert types[0] == "job_started"
    assert types[-2:] == ["job_finished", "summary"]
    assert "event" in types and "status" in types
    assert objects[-1]["exit_code"] == 0


@pytest.mark.parametrize("endpoint", ["start", "events"])
@pytest.mark.parametrize("kind", ["429", "503"])
def test_transient_errors_are_retried(project, mogrun, mogrun_emulator, endpoint, kind):
    project(f"""
        [jobs.a]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s"
        {RETRY_FAST}
    """)
    mogrun_emulator.add_fault(endpoint, kind, count=1, retry_after=0.1)
    result = mogrun("a")
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.runs) == 1
    path = "/runs" if endpoint == "start" else f"/runs/{mogrun_emulator.runs[0]}/events"
    assert mogrun_emulator.count(None, path, status=int(kind)) == 1


@pytest.mark.parametrize(("kind", "code"), [("503", 69), ("429", 75)])
def test_start_gives_up_after_retries(project, mogrun, mogrun_emulator, kind, code):
    project("""
        [jobs.a]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s"
        retry = { attempts = 1, max_delay = "2s" }
    """)
    mogrun_emulator.add_fault("start", kind, count=5, retry_after=0.1)
    result = mogrun("a")
    assert result.exit_code == code, result
    assert mogrun_emulator.runs == []


def test_retry_after_beyond_max_delay_gives_up_at_once(project, mogrun, mogrun_emulator):
    project("""
        [jobs.a]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s"
        retry = { attempts = 5, max_delay = "1s" }
    """)
    mogrun_emulator.add_fault("start", "429", count=1, retry_after=30)
    result = mogrun("a")
    assert result.exit_code == 75, result
    assert mogrun_emulator.count("POST", "/runs") == 1
    assert re.search(r"try again after \d\d:\d\d:\d\dZ \(in 30s\)", result.stderr), result
    # History keeps the time, not the countdown: status said "(in 30s)" hours later.
    shown = mogrun("--json", "status", "a")
    message = json.loads(shown.stdout.splitlines()[0])["message"]
    assert re.search(r"try again after \d\d:\d\d:\d\dZ", message), message
    assert "(in " not in message, message


@pytest.mark.parametrize("kind", ["html", "empty", "truncated"])
def test_non_json_body_mid_follow_is_retried(project, mogrun, mogrun_emulator, kind):
    project(f"""
        [jobs.a]
        repo = "acme/api"
        prompt = "@emulator duration=0.5s events=5"
        {RETRY_FAST}
    """)
    mogrun_emulator.add_fault("events", kind, count=1)
    result = mogrun("--json", "a")
    assert result.exit_code == 0, result
    events = [o["event"]["id"] for o in json_lines(result.stdout) if o["type"] == "event"]
    assert len(events) == len(set(events)) == 5


def test_exit_code_precedence_across_jobs(project, mogrun, mogrun_emulator):
    project("""
        [defaults]
        retry = { attempts = 1, max_delay = "1s" }
        [jobs.a]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s"
        [jobs.b]
        repo = "acme/web"
        prompt = "@emulator status=failed duration=0.2s"
    """)
    mogrun_emulator.add_fault("start", "503", count=2, retry_after=0.1)
    result = mogrun("--json", "run", "-k", "-j", "1", "a", "b")
    assert result.exit_code == 69, result  # 69 (503 after retries) outranks 1 (failed)
    outcomes = {r["job"]: r["outcome"] for r in json_lines(result.stdout)[-1]["results"]}
    assert outcomes == {"a": "error", "b": "failed"}


def test_github_actions_gets_the_run_ids(project, mogrun, mogrun_emulator, tmp_path):
    project("""
        [jobs.codemod]
        repo = ["acme/api", "acme/web"]
        prompt = "{{ repo }}\\n@emulator duration=0.2s"
    """)
    outputs, summary = tmp_path / "out.txt", tmp_path / "summary.md"
    result = mogrun("codemod", env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(outputs),
                                    "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 0, result
    written = outputs.read_text()
    for run_id in mogrun_emulator.runs:
        assert run_id in written
    assert "::group::" in result.stdout
    assert "codemod" in summary.read_text()


def test_quiet_shows_only_the_summary_and_problems(project, mogrun):
    project("""
        [jobs.a]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s message='chatter'"
    """)
    result = mogrun("-q", "a")
    assert result.exit_code == 0, result
    assert "chatter" not in result.output
    assert "acme/api" in result.stdout
