"""A start the server stored, failed, and answered 500 (``start:500_after_commit``).

On the server (``startMogplexApiRun``, lib/mogplex-api/runs.ts) a run whose
queueing throws is marked failed with the error's message and the route
answers 500 ``INTERNAL_ERROR`` "Failed to start run"; the same key then
replays that failed run for ever. mogrun retries the start under its key, gets
the failed run back, and reports it failed; only a rerun (a new key) starts the
work again."""

from __future__ import annotations

from .conftest import history_rows, json_lines

QUEUE_ERROR = "Trigger.dev runtime is not configured"
JOB = """
    [jobs.hello]
    repo = "acme/api"
    prompt = "@emulator duration=0.3s events=4"
"""


def _starts(emulator) -> list[tuple[int, str | None, str | None]]:
    return [(r.status, r.idempotency_key, r.fault) for r in emulator.requests
            if r.method == "POST" and r.path.endswith("/runs")]


def test_the_retried_start_gets_the_failed_run_and_the_job_fails(project, mogrun,
                                                                 mogrun_emulator):
    project(JOB)
    mogrun_emulator.add_fault("start", "500_after_commit")
    result = mogrun("hello")
    assert result.exit_code == 1, result
    [run_id] = mogrun_emulator.runs  # the retry replayed it: no second run
    detail = mogrun_emulator.run_detail(run_id)
    assert (detail["status"], detail["error"]) == ("failed", QUEUE_ERROR)
    [(status, key, fault), replay] = _starts(mogrun_emulator)
    assert (status, fault) == (500, "500_after_commit")
    assert replay == (202, key, None)  # the same key, after the 500
    assert "Failed to start run (INTERNAL_ERROR, HTTP 500); retry 1" in result.stdout
    assert f"failed ({run_id}): {QUEUE_ERROR}" in result.stdout
    assert "Traceback" not in result.output
    [row] = history_rows(mogrun)
    assert (row["run_id"], row["idempotency_key"], row["status"], row["outcome"],
            row["exit_code"], row["message"]) == (run_id, key, "failed", "failed", 1,
                                                  QUEUE_ERROR)


def test_its_json_says_the_retry_and_the_servers_error(project, mogrun, mogrun_emulator):
    project(JOB)
    mogrun_emulator.add_fault("start", "500_after_commit")
    result = mogrun("--json", "run", "hello")
    assert result.exit_code == 1, result
    lines = json_lines(result.stdout)
    [wait] = [o for o in lines if o["type"] == "wait"]
    assert (wait["kind"], wait["reason"]) == (
        "retry", "Failed to start run (INTERNAL_ERROR, HTTP 500); retry 1")
    [run_id] = mogrun_emulator.runs
    events = [o["event"]["type"] for o in lines if o["type"] == "event"]
    assert events == ["started"]  # the run's only event on the server
    summary = lines[-1]
    assert summary["exit_code"] == 1
    assert [(r["run_id"], r["outcome"], r["message"]) for r in summary["results"]] == [
        (run_id, "failed", QUEUE_ERROR)]


def test_a_rerun_starts_a_new_run_under_a_new_key_and_passes(project, mogrun,
                                                             mogrun_emulator):
    project(JOB)
    mogrun_emulator.add_fault("start", "500_after_commit")
    assert mogrun("hello").exit_code == 1
    [failed_id] = mogrun_emulator.runs
    result = mogrun("rerun")
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.runs) == 2
    new_id = mogrun_emulator.runs[1]
    assert mogrun_emulator.run_detail(new_id)["status"] == "success"
    assert mogrun_emulator.run_detail(failed_id)["status"] == "failed"  # untouched
    keys = [key for _, key, _ in _starts(mogrun_emulator)]
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2]
    newest, first = history_rows(mogrun)
    assert (newest["run_id"], newest["outcome"], newest["attempt"], newest["why"]) == (
        new_id, "success", 2, "rerun")
    assert (first["run_id"], first["outcome"]) == (failed_id, "failed")
