"""A run the server pauses at ``awaiting_input`` (the agent's pass succeeded and
stopped at a checkpoint to ask a person; the newest server's run-execution).
It is not terminal, and no API call answers it: mogrun said nothing new and
waited for the job's timeout, then cancelled a run someone may still answer."""

from __future__ import annotations

import time

from mogrun.durations import parse_moment

from .conftest import history_rows, json_lines

ASKS = """
    [jobs.ask]
    repo = "acme/api"
    prompt = "@emulator status=awaiting_input duration=0.4s"
    timeout = "10m"

    [jobs.after]
    repo = "acme/web"
    prompt = "@emulator duration=0.2s"
    needs = ["ask"]
"""


def test_a_run_awaiting_input_ends_the_follow_at_once_and_is_left_going(
        project, mogrun, mogrun_emulator):
    project(ASKS)
    began = time.monotonic()
    result = mogrun("after")
    assert time.monotonic() - began < 5.0  # not the 10 minute timeout
    assert result.exit_code == 1, result
    (run_id,) = mogrun_emulator.runs  # after never started
    assert mogrun_emulator.run_detail(run_id)["status"] == "awaiting_input"  # not cancelled
    assert ("warning: ask: awaiting input: the agent stopped to ask a question the API "
            f"cannot answer; left going — answer it in Mogplex, or cancel it with: "
            f"mogrun cancel {run_id}") in result.stderr
    assert (f"awaiting input: ask ({run_id}); answer it in Mogplex, or cancel it with: "
            f"mogrun cancel {run_id}") in result.stdout
    assert "after  skipped: needs ask, which did not pass (failed)" in result.stdout
    # after did not pass: named (rerun reads its need first); ask, left going, is not
    assert "rerun what did not pass: mogrun rerun after" in result.stdout.splitlines()
    rows = {row["job"]: row for row in history_rows(mogrun)}
    assert (rows["ask"]["status"], rows["ask"]["outcome"]) == ("awaiting_input", "failed")
    status = mogrun("status", "--exit-status", "ask")
    assert status.exit_code == 1, status
    assert "awaiting_input" in status.stdout
    rerun = mogrun("rerun")  # held back, with the way on that works (following does not)
    assert rerun.exit_code == 1, rerun
    assert (f"ask: run {run_id} is still going (awaiting_input), not rerun; answer it in "
            f"Mogplex, or cancel it with: mogrun cancel {run_id}") in rerun.stderr, rerun
    assert mogrun_emulator.runs == [run_id]
    named = mogrun("rerun", "after")  # as the summary says: after stays held back
    assert named.exit_code == 1, named
    assert "after: not rerun while its need ask is still going" in named.stderr, named
    assert mogrun_emulator.runs == [run_id]


def test_json_says_so_and_logs_follow_does_not_wait_on_it(project, mogrun, mogrun_emulator):
    project(ASKS)
    result = mogrun("--json", "ask")
    assert result.exit_code == 1, result
    summary = json_lines(result.stdout)[-1]
    [run] = summary["results"]
    assert (run["status"], run["outcome"], run["left_going"]) == ("awaiting_input", "failed",
                                                                  True)
    began = time.monotonic()
    logs = mogrun("logs", "--follow", "ask")
    assert time.monotonic() - began < 5.0
    assert logs.exit_code == 1, logs
    assert f"{run['run_id']} is awaiting input" in logs.stderr
    followed = json_lines(mogrun("--json", "logs", "--follow", "ask").stdout)[-1]
    assert followed["type"] == "summary" and followed["exit_code"] == 1, followed
    assert followed["results"] == [{**run, "duration": None}]  # as run's summary said it
    cancelled = mogrun("cancel", "ask")  # the way out it names
    assert cancelled.exit_code == 0, cancelled
    assert mogrun_emulator.run_detail(run["run_id"])["status"] == "cancelled"
    assert history_rows(mogrun)[0]["status"] == "cancelled"


def test_the_emulator_keeps_a_paused_runs_sandbox_until_it_is_cancelled(mogrun_emulator):
    import json

    import urllib3

    http = urllib3.PoolManager()
    headers = {"Authorization": f"Bearer {mogrun_emulator.write_token}",
               "Content-Type": "application/json", "Idempotency-Key": "paused-1"}
    body = {"repoId": mogrun_emulator.repo_id("acme/api"),
            "prompt": "@emulator status=awaiting_input duration=0.2s events=4"}
    run = json.loads(http.request("POST", f"{mogrun_emulator.api_url}/runs", headers=headers,
                                  body=json.dumps(body)).data)["data"]
    time.sleep(0.4)

    def get(path: str) -> dict:
        return json.loads(http.request("GET", mogrun_emulator.api_url + path,
                                       headers=headers).data)["data"]

    answer = get(f"/runs/{run['runId']}/events")
    assert answer["run"]["status"] == "awaiting_input"
    assert answer["events"][-1]["type"] not in ("finished", "failed", "cancelled")
    [sandbox] = get("/sandboxes")["sandboxes"]  # busy: its idle clock reads now, not the end
    assert parse_moment(sandbox["last_active_at"]) > parse_moment(run["createdAt"]) + 0.35
    http.request("POST", f"{mogrun_emulator.api_url}/runs/{run['runId']}/cancel",
                 headers=headers)
    assert [e["type"] for e in get(f"/runs/{run['runId']}/events")["events"]][-2:] == [
        "cancel_requested", "cancelled"]
