"""Automation jobs end to end: the CLI against the emulator's automation
endpoints over loopback, with the trigger's real rules (global keys,
IDEMPOTENT_DUPLICATE, pending caps, deferral, a 500 after the run exists)."""

from __future__ import annotations

import json
import re
import time
import tomllib
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from mogrun.emulator.automation_store import JobCaps
from mogrun.engine.automation_kind import trigger_key

FAST = {"MOGRUN_POLL_INTERVAL": "0.1"}
# A budget that lets FAST apply to several runs at once (at the default 60 requests a
# minute, three runs are polled every ~3 s whatever MOGRUN_POLL_INTERVAL says).
LIFTED = "[mogplex]\nrequests_per_minute = 600\n\n"
REPOS = ["acme/api", "acme/web", "acme/worker"]
pytestmark = pytest.mark.mogrun_emulator(automations=["triage", "draft:unpublished"],
                                         repos=REPOS)


def automation_job(name: str = "triage-all", *, repo=None, note: str = "@emulator duration=0.4s",
                   **keys) -> str:
    keys = {"automation": "triage", "input": {"ticket": "PLAT-7", "note": note}, **keys}
    lines = [f"[jobs.{name}]", f"repo = {json.dumps(repo or REPOS)}"]
    lines += [f"{key} = {_toml(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def _toml(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def ndjson(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.fixture
def project(mogrun_project, mogrun_emulator):
    mogrun_project.env.update(FAST)
    return mogrun_project


def test_a_fan_out_over_three_repos_passes(project, mogrun_emulator):
    project.write(LIFTED + automation_job())
    result = project.run("run", "triage-all")
    assert result.exit_code == 0, result
    runs = mogrun_emulator.job_runs()
    assert len(runs) == 3
    details = [mogrun_emulator.job_run_detail(r) for r in runs]
    assert {d["status"] for d in details} == {"success"}
    assert sorted(d["metadata"]["ticket"] for d in details) == ["PLAT-7"] * 3
    for repo in REPOS:
        assert f"triage-all:{repo}" in result.stdout


def test_usage_and_cost_are_in_the_json_summary(project):
    note = "@emulator duration=0.3s tokens=3000 cost=0.06"
    project.write(automation_job(repo=["acme/api"], note=note))
    result = project.run("--json", "run", "triage-all")
    assert result.exit_code == 0, result
    [summary] = [o for o in ndjson(result) if o["type"] == "summary"]
    [run] = summary["results"]
    assert run["usage"]["total_tokens"] == 3000
    assert run["usage"]["cost_usd"] == pytest.approx(0.06)
    assert summary["usage"]["total_tokens"] == 3000


def test_a_lost_trigger_answer_retried_with_the_same_key_creates_one_job_run(
        project, mogrun_emulator):
    mogrun_emulator.add_fault("trigger", "drop_after_commit")
    project.write(automation_job(repo=["acme/api"]))
    result = project.run("run", "triage-all")
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.job_runs()) == 1
    assert "attached" not in result.output  # our own lost answer, not someone's run
    keys = {r.idempotency_key for r in mogrun_emulator.requests if r.path.endswith("/trigger")}
    assert len(keys) == 1 and next(iter(keys)).startswith("mogrun-")


def test_a_500_after_the_run_exists_is_retried_into_the_same_run(project, mogrun_emulator):
    mogrun_emulator.set_job_caps(JobCaps(repair=0.2))
    mogrun_emulator.add_fault("trigger", "500_after_commit")
    project.write(automation_job(repo=["acme/api"]))
    result = project.run("run", "triage-all")
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.job_runs()) == 1


def test_a_run_whose_start_failed_on_the_server_is_said_waiting_for_its_repair(
        project, mogrun_emulator):
    """Pending after a failed start, the run waited for the server's repair cron (up
    to 7 minutes on the real server) with no line after its start_failed event."""
    mogrun_emulator.set_job_caps(JobCaps(repair=2.5))
    mogrun_emulator.add_fault("trigger", "500_after_commit")
    project.write(automation_job(repo=["acme/api"]))
    result = project.run("--json", "run", "triage-all")
    assert result.exit_code == 0, result
    waits = [o for o in ndjson(result) if o["type"] == "wait" and o["kind"] == "deferred"]
    assert len(waits) == 1, waits  # once per failed attempt, not at every poll
    [wait] = waits
    assert wait["reason"].startswith("its start failed on the server (Trigger.dev runtime "
                                     "is not configured); the server's repair starts it "
                                     "again 2 to 7 minutes after that attempt"), wait
    assert wait["run"] == "triage-all:acme/api" and wait["ends_at"], wait
    assert 300 < wait["seconds"] <= 420, wait  # 7 minutes from the attempt, at most


def test_a_failed_start_within_a_short_timeout_says_the_timeout_ends_the_wait(
        project, mogrun_emulator):
    """The wait said the repair's latest (7 minutes on) for a job whose 3 s timeout
    would end it long before: an end the job never reaches, as if unbounded."""
    mogrun_emulator.set_job_caps(JobCaps(repair=30))
    mogrun_emulator.add_fault("trigger", "500_after_commit")
    project.write(automation_job(repo=["acme/api"], timeout="3s"))
    result = project.run("--json", "run", "triage-all")
    assert result.exit_code == 1, result  # timed out, waiting for the repair
    [wait] = [o for o in ndjson(result) if o["type"] == "wait" and o["kind"] == "deferred"]
    assert wait["reason"].endswith("; the job's timeout ends the wait first"), wait
    assert 0 < wait["seconds"] <= 3, wait


def test_a_deferred_trigger_is_shown_waiting_then_followed(project, mogrun_emulator):
    mogrun_emulator.set_job_caps(JobCaps(installation_running=1))
    project.write(LIFTED + automation_job(note="@emulator duration=0.5s"))
    result = project.run("run", "-j", "3", "triage-all")
    assert result.exit_code == 0, result
    # The server names no count (this installation's limit is 1, the real one's 8).
    assert ("deferred: the installation runs as many job runs as its concurrency limit "
            "allows" in result.output), result.output
    assert "its start failed" not in result.output  # deferred is no failed start
    # Bounded by the job's timeout (30m by default), and said so: it had no end.
    assert re.search(r"the job's timeout ends the wait; ends in 30m \(\d\d:\d\d:\d\dZ\)",
                     result.output), result.output
    details = [mogrun_emulator.job_run_detail(r) for r in mogrun_emulator.job_runs()]
    assert [d["status"] for d in details] == ["success"] * 3


def _a_deferred_run(project, mogrun_emulator):
    """Job ``second``'s run, deferred by the installation's concurrency limit (1 here)
    behind job ``long``'s for about 1.5 s, both started with --detach; the result of
    the second's."""
    mogrun_emulator.set_job_caps(JobCaps(installation_running=1))
    project.write(automation_job("long", repo=["acme/api"], note="@emulator duration=1.5s")
                  + "\n" + automation_job("second", repo=["acme/web"], idempotency_key="k-1",
                                           note="@emulator duration=0.2s"))
    assert project.run("run", "--detach", "long").exit_code == 0
    detached = project.run("run", "--detach", "second")
    assert detached.exit_code == 0 and "deferred:" in detached.output, detached.output
    return detached


def test_a_detached_deferred_trigger_names_no_end_it_does_not_wait_for(project,
                                                                       mogrun_emulator):
    """--detach said "... or the job's timeout ends the wait; ends in 30m", and exited."""
    detached = _a_deferred_run(project, mogrun_emulator)
    [said] = [line for line in detached.output.splitlines() if "deferred:" in line]
    assert said.endswith("concurrency limit allows; it starts when one of them ends"), said


def _deferred_waits(result) -> list[dict]:
    return [o for o in ndjson(result) if o["type"] == "wait" and o["kind"] == "deferred"]


def test_a_deferred_run_attached_to_is_said_waiting_for_the_concurrency_limit(
        project, mogrun_emulator):
    """Attached to (a CI retry, a rerun), a deferred run sat pending in silence until
    the installation freed a slot: only the trigger's own deferral was said."""
    _a_deferred_run(project, mogrun_emulator)
    result = project.run("--json", "run", "second")
    assert result.exit_code == 0, result
    [wait] = _deferred_waits(result)  # once, not at every poll
    assert wait["reason"].startswith("deferred: the installation runs as many job runs as "
                                     "its concurrency limit allows"), wait
    assert wait["run"] == "second:acme/web" and wait["ends_at"], wait  # the job's timeout ends it


def test_logs_follow_of_a_deferred_run_says_what_it_waits_for(project, mogrun_emulator):
    _a_deferred_run(project, mogrun_emulator)
    result = project.run("logs", "--follow", "second")
    assert result.exit_code == 0, result
    # On stderr, as logs says every wait; no job's timeout bounds it here.
    [said] = [line for line in result.stderr.splitlines() if line.startswith("wait deferred")]
    assert said.endswith("concurrency limit allows; it starts when one of them ends"), said


def test_a_fresh_deferred_trigger_says_its_wait_once(project, mogrun_emulator):
    mogrun_emulator.set_job_caps(JobCaps(installation_running=1))
    project.write(LIFTED + automation_job(note="@emulator duration=0.5s"))
    result = project.run("--json", "run", "-j", "3", "triage-all")
    assert result.exit_code == 0, result
    waits = _deferred_waits(result)
    assert len(waits) == len({w["run"] for w in waits}) == 2, waits


def test_a_pending_cap_suppression_waits_and_then_succeeds(project, mogrun_emulator):
    mogrun_emulator.set_job_caps(JobCaps(repo_pending=1))
    first = automation_job("first", repo=["acme/api"], note="@emulator duration=1s")
    second = automation_job("second", repo=["acme/api"], note="@emulator duration=0.2s")
    project.write(first + "\n" + second)
    result = project.run("--json", "run", "-j", "2", "first", "second")
    assert result.exit_code == 0, result
    waits = [o for o in ndjson(result) if o["type"] == "wait"]
    assert any("REPO_PENDING_LIMIT" in w["reason"] for w in waits), waits
    assert len(mogrun_emulator.job_runs()) == 2


def test_an_unpublished_automation_is_a_usage_error_before_its_needs_run(
        project, mogrun_emulator):
    """It was found out at the trigger (409, exit 1), after the jobs it needs had
    run for nothing, with a summary suggesting a rerun that could only fail again."""
    project.write('[jobs.build]\nrepo = "acme/api"\nprompt = "build"\n\n'
                  + automation_job(repo=["acme/api"], automation="draft")
                  + 'needs = ["build"]\n')
    result = project.run("run", "triage-all")
    assert result.exit_code == 2, result
    assert result.errors[0] == ("Error: automation 'draft' of job 'triage-all' is not "
                                "published: publish it in Mogplex before a job triggers it")
    assert mogrun_emulator.runs == [] and mogrun_emulator.job_runs() == []
    assert "rerun" not in result.output
    rows = [json.loads(line) for line in project.run("--json", "history").stdout.splitlines()]
    assert sorted((r["job"], r["outcome"], r["run_id"]) for r in rows) == [
        ("build", "error", None), ("triage-all", "error", None)]  # each says it never started
    assert all(r["message"].startswith("not started: automation 'draft'") for r in rows)


def test_a_misspelt_automation_s_hint_names_each_once_and_a_shared_name_by_ids(
        project, mogrun_emulator):
    """Two automations named "triage": "Did you mean 'triage', 'triage'?", and the name
    offered was itself refused as ambiguous."""
    second = mogrun_emulator.add_automation("triage")
    project.write(automation_job(automation="triag"))
    result = project.run("run", "triage-all")
    assert result.exit_code == 2, result
    hint = result.stderr.splitlines()[1]
    assert hint.startswith("Did you mean 'triage' (the name of 2: by id, ") and \
        hint.count("'triage'") == 1 and second in hint, hint


def test_a_misspelt_automation_is_a_usage_error_before_anything_starts(
        project, mogrun_emulator):
    """It was a failed run per repo (exit 2 though), its "Did you mean" lost, and a
    summary inviting a rerun that could only fail the same way."""
    project.write(automation_job(automation="triag") + automation_job("other", repo=["acme/api"]))
    result = project.run("run", "triage-all", "other")
    assert result.exit_code == 2, result
    assert result.stderr == ("Error: no automation named 'triag' on this account, for job "
                             "'triage-all'\n"
                             "Did you mean 'triage'?\n")
    assert mogrun_emulator.job_runs() == []  # not even the other job's, correctly named
    assert "rerun" not in result.output


def test_an_automation_id_no_longer_there_is_said_to_be_an_id(project, mogrun_emulator):
    """A rerun sends an unanswered trigger again to the automation id it went to; that
    automation deleted since (or a job naming one by id) was "no automation named
    '<id>'", and a close name could be offered for an id."""
    gone = mogrun_emulator.add_automation("gone")
    mogrun_emulator.delete_automation(gone)
    project.write(automation_job(repo=["acme/api"], automation=gone.upper()))
    result = project.run("run", "triage-all")
    assert result.exit_code == 2, result
    assert result.stderr == (f"Error: no automation with id '{gone.upper()}' on this account "
                             "(deleted, or another account's), for job 'triage-all'\n"
                             "Run `mogrun automations` to list this token's automations.\n")


def test_an_automation_named_from_env_is_masked_and_its_runs_stay_readable(
        project, mogrun_emulator):
    """env.* values are secrets: the history kept the name masked ("***"), and
    status, logs and rerun then looked up an automation named "***" (exit 2); the
    not-found error quoted the value in clear."""
    project.write(LIFTED + automation_job(repo=["acme/api"], automation="{{ env.AUTO }}"))
    for value in ("triag", "tri\\age"):  # a backslash: its repr was not the value masked
        wrong = project.run("run", "triage-all", env={"AUTO": value})
        assert wrong.exit_code == 2, wrong
        assert wrong.errors[0].startswith(  # (the job's name holds "triag": masked there too)
            "Error: no automation named '***' on this account, for job '"), wrong
    result = project.run("run", "triage-all", env={"AUTO": "triage"})
    assert result.exit_code == 0, result
    [run_id] = mogrun_emulator.job_runs()
    [automation] = [a["id"] for a in mogrun_emulator.automations if a["name"] == "triage"]
    history = project.run("--json", "history", "-n", "1")
    [row] = [json.loads(line) for line in history.stdout.splitlines()]
    assert (row["run_id"], row["automation"]) == (run_id, automation)
    for command in (("status", "triage-all"), ("logs", "triage-all")):
        done = project.run(*command, env={"AUTO": None})
        assert done.exit_code == 0, (command, done)
        assert run_id in done.output or "node_" in done.output, (command, done)


def test_an_empty_automation_name_is_refused_by_check(project):
    project.write(automation_job(repo=["acme/api"], automation="{{ env.NOT_SET | default('') }}"))
    result = project.run("check")
    assert result.exit_code == 2, result
    assert 'key "automation": empty: give a published automation\'s id or name' in result.output


def test_a_key_reused_by_someone_else_is_never_taken_for_our_run(project, mogrun_emulator):
    project.write(automation_job(repo=["acme/api"], idempotency_key="weekly-1"))
    [automation] = [a for a in mogrun_emulator.automations if a["name"] == "triage"]
    repo_id = next(r["id"] for r in mogrun_emulator.repos if r["full_name"] == "acme/api")
    # Someone else already used the very key we would send (and the bare string too).
    mogrun_emulator.take_job_key(trigger_key("weekly-1", automation["id"], repo_id,
                                             "triage-all"))
    mogrun_emulator.take_job_key("weekly-1")
    result = project.run("run", "triage-all")
    assert result.exit_code == 1, result
    assert "already used by a job run outside automation" in result.output
    assert mogrun_emulator.job_runs(automation["id"]) == []


def test_a_ci_retry_with_the_same_key_attaches(project, mogrun_emulator):
    project.write(automation_job(repo=["acme/api"], idempotency_key="nightly-{{ date }}"))
    assert project.run("run", "triage-all").exit_code == 0
    again = project.run("run", "triage-all")
    assert again.exit_code == 0, again
    assert "attached to existing run" in again.output
    assert len(mogrun_emulator.job_runs()) == 1


@pytest.mark.parametrize(("first", "then"), [
    ({"dry_run": "true"}, {}),  # a key dropped from the input
    ({"flag": True}, {"flag": 1}),  # JSON's true is not 1 (Python's True == 1)
    ({"n": {"a": False}}, {"n": {"a": 0}}),
])
def test_an_input_that_lost_a_key_or_changed_its_type_is_a_conflict(project, mogrun_emulator,
                                                                     first, then):
    """Only the keys sent now were compared, with ==: an input that dropped its
    dry_run re-attached to the dry run and passed, as did true changed to 1. The
    conflict's hint compared with == too: true changed to 1 was "the request is the
    one invocation ... sent", as if only the server's copy differed."""
    note = "@emulator duration=0.4s"
    project.write(automation_job(repo=["acme/api"], idempotency_key="weekly",
                                 input={"note": note, **first}))
    assert project.run("run", "triage-all").exit_code == 0
    project.write(automation_job(repo=["acme/api"], idempotency_key="weekly",
                                 input={"note": note, **then}))
    again = project.run("run", "triage-all")
    assert again.exit_code == 1, again
    assert ("was triggered under this key with another input: the job's input changed "
            "since invocation") in again.output, again.output
    assert len(mogrun_emulator.job_runs()) == 1


def test_the_same_input_attaches_whatever_json_makes_of_its_numbers(project, mogrun_emulator):
    """A number comes back as the server's JavaScript kept it (1.0 as 1, 2**53 + 1
    rounded to 2**53): the same input is the same request, never a conflict."""
    job = automation_job(repo=["acme/api"], idempotency_key="weekly",
                         input={"note": "@emulator duration=0.4s", "ratio": 1.0, "n": 3,
                                "big": 2**53 + 1, "list": [2.0, 0.5]})
    project.write(job)
    assert project.run("run", "triage-all").exit_code == 0
    again = project.run("run", "triage-all")
    assert again.exit_code == 0, again
    assert "attached to existing run" in again.output


def test_a_key_reused_with_another_input_is_a_conflict_not_an_attach(project,
                                                                      mogrun_emulator):
    """The server answers a reused key with the earlier job run whatever the input:
    a job whose input changed re-attached to the run triggered with the old one and
    passed (a prompt job's changed prompt is a 409 IDEMPOTENCY_CONFLICT)."""
    project.write(automation_job(repo=["acme/api"], idempotency_key="weekly"))
    assert project.run("run", "triage-all").exit_code == 0
    project.write(automation_job(repo=["acme/api"], idempotency_key="weekly")
                  .replace('"PLAT-7"', '"PLAT-8"'))
    again = project.run("run", "triage-all")
    assert again.exit_code == 1, again
    assert "attached" not in again.output, again.output
    assert "was triggered under this key with another input: the job's input changed " \
        "since invocation" in again.output, again.output
    assert len(mogrun_emulator.job_runs()) == 1
    fresh = project.run("rerun", "triage-all")  # the way out it names
    assert fresh.exit_code == 0, fresh
    assert len(mogrun_emulator.job_runs()) == 2


def test_gates_judge_an_automation_job(project):
    failing = "@emulator duration=0.3s status=failed"
    project.write(automation_job(repo=["acme/api"], note=failing)
                  + '\n[jobs.tolerant]\nrepo = "acme/api"\nautomation = "triage"\n'
                  + f'input = {{ note = "{failing}" }}\n'
                  + 'gates = { status = ["success", "failed"] }\n')
    assert project.run("run", "triage-all").exit_code == 1
    tolerant = project.run("run", "tolerant")
    assert tolerant.exit_code == 0, tolerant


def test_check_refuses_run_keys_on_an_automation_job(project):
    project.write(automation_job(repo=["acme/api"], prompt="hi", harness="codex"))
    result = project.run("check")
    assert result.exit_code == 2, result
    assert 'key "prompt" does not apply to an automation job' in result.output


def test_check_refuses_reserved_input_keys(project):
    project.write(automation_job(repo=["acme/api"]).replace(
        'ticket = "PLAT-7"', 'repo_id = "x"'))
    result = project.run("check")
    assert result.exit_code == 2, result
    assert "repo_id" in result.output and "reserved" in result.output


@pytest.mark.parametrize(("value", "said"), [
    ("2026-01-01", "holds a date at since"),
    ("10:00:00", "holds a time at since"),
    ("1979-05-27T07:32:00Z", "holds a datetime at since"),
    ("[1, { at = 2026-01-01 }]", "holds a date at since[1].at"),
    ("nan", "holds nan at since"),
    ("-inf", "holds -inf at since"),
])
def test_input_json_cannot_carry_is_refused_before_any_request(project, mogrun_emulator,
                                                               value, said):
    """A TOML date crashed show and every run with a traceback (json.dumps), and nan
    was sent as NaN, which no server parses; check said ok to both."""
    text = automation_job(repo=["acme/api"]).replace('ticket = "PLAT-7"', f"since = {value}")
    project.write("\ufeff# edited by hand\r\n" + text.replace("\n", "\r\n") + "\r\n\r\n")
    for args in (("check",), ("show", "triage-all"), ("triage-all",), ("ci", "github")):
        result = project.run(*args)
        assert result.exit_code == 2, (args, result)
        assert f'key "input" {said}, which JSON cannot carry' in result.stderr, (args, result)
        assert "Traceback" not in result.output
    assert mogrun_emulator.requests == []

def test_automations_lists_the_accounts_automations(project):
    result = project.run("automations")
    assert result.exit_code == 0, result
    assert "triage" in result.stdout and "draft" in result.stdout
    listed = [json.loads(line) for line in project.run("--json", "automations").stdout.splitlines()]
    assert {(a["name"], a["published"]) for a in listed} == {("triage", True), ("draft", False)}


def test_show_prints_the_trigger_request(project):
    project.write(automation_job(repo=["acme/api"]))
    result = project.run("show", "triage-all")
    assert result.exit_code == 0, result
    assert "/automations/" in result.stdout and "PLAT-7" in result.stdout
    assert "POST /runs" not in result.stdout
    shown = json.loads(project.run("--json", "show", "triage-all").stdout)
    assert shown["on_timeout"] == "detach"  # as the text says: left going, never cancelled
    assert "(then left going: automation runs cannot be cancelled)" in result.stdout
    assert ('note: the path names automation "triage" as written; it is resolved to the '
            "automation's id (by id, else by name) through GET /automations when the job "
            "runs") in result.stdout


@pytest.mark.parametrize("automation", ["triage", "{{ which }}"])
def test_status_and_logs_read_automation_runs_and_cancel_sees_them_ended(
        project, mogrun_emulator, automation):
    """Through the automation the run rendered (recorded with it), not the key as
    written: a templated one was looked up as "{{ which }}"."""
    project.write('[vars]\nwhich = "triage"\n\n' + automation_job(
        repo=["acme/api"], note="@emulator duration=1s", automation=automation))
    started = project.run("run", "--detach", "triage-all")
    assert started.exit_code == 0, started
    status = project.run("--json", "status", "triage-all")
    assert status.exit_code == 0, status
    [row] = [json.loads(line) for line in status.stdout.splitlines()]
    assert row["status"] in ("pending", "running")  # read through the automation, not /runs
    logs = project.run("logs", "--follow", "triage-all")
    assert logs.exit_code == 0, logs
    assert "node_success" in logs.stdout and "Agent step 1" in logs.stdout
    assert not [r for r in mogrun_emulator.requests if r.path.startswith("/api/v1/mogplex/runs")]
    cancel = project.run("cancel", "triage-all")  # it has ended: nothing to cancel
    assert cancel.exit_code == 0, cancel
    assert cancel.stdout == f"{row['run_id']} (triage-all) had already ended: success\n"


def test_logs_follow_totals_what_automation_runs_cost_as_run_does(project):
    """run's summary totals usage (plain and --json); logs --follow listed each run's
    usage in --json but no total, and said nothing of it in plain output."""
    note = "@emulator duration=0.5s tokens=3000 cost=0.06"
    project.write(automation_job(repo=["acme/api", "acme/web"], note=note))
    assert project.run("run", "--detach", "triage-all").exit_code == 0
    followed = project.run("--json", "logs", "--follow", "triage-all")
    assert followed.exit_code == 0, followed
    summary = ndjson(followed)[-1]
    assert summary["type"] == "summary", summary
    assert summary["usage"]["total_tokens"] == 6000, summary
    assert summary["usage"]["cost_usd"] == pytest.approx(0.12)
    plain = project.run("logs", "--follow", "triage-all")
    assert plain.stdout.splitlines()[-1].startswith("usage: "), plain
    assert "6000 tokens" in plain.stdout.splitlines()[-1]


def test_cancel_says_it_cannot_cancel_a_going_automation_run(project, mogrun_emulator):
    """It said so of an ended run too, with exit 1, where a run's cancel says
    "had already ended" and exits 0. The automation is named by its id, which the
    run's row keeps (a name may be renamed)."""
    project.write("# as edited by hand\r\n" + automation_job(
        repo=["acme/api"], note="@emulator duration=never").replace("\n", "\r\n") + "\r\n")
    assert project.run("run", "--detach", "triage-all").exit_code == 0
    cancel = project.run("cancel", "triage-all")
    assert cancel.exit_code == 1, cancel
    assert "no cancel for automation runs" in cancel.output
    [triage] = [a["id"] for a in mogrun_emulator.automations if a["name"] == "triage"]
    assert f"is a run of automation {triage!r}" in cancel.output, cancel.output
    [row] = [json.loads(line) for line in project.run("--json", "status").stdout.splitlines()]
    assert row["status"] == "running", row


def test_cancel_of_a_fan_out_names_each_automation_run_once(project, mogrun_emulator):
    """It said "error: ID (job:repo): ID (job:repo) is a run of automation ..."."""
    [triage] = [a["id"] for a in mogrun_emulator.automations if a["name"] == "triage"]
    project.write(LIFTED + automation_job(repo=["acme/api", "acme/web"],
                                          note="@emulator duration=never"))
    assert project.run("run", "--detach", "triage-all").exit_code == 0
    cancel = project.run("cancel", "triage-all")
    assert cancel.exit_code == 1, cancel
    lines = cancel.stderr.splitlines()
    assert len(lines) == 2, cancel
    for line in lines:
        run_id = line.split()[1]
        assert re.fullmatch(rf"error: {run_id} \(triage-all:acme/(api|web)\) is a run of "
                            rf"automation '{triage}': the Mogplex API has no cancel for "
                            r"automation runs; it is left going", line), line


def test_an_automation_named_by_its_id_in_capitals_is_found(project, mogrun_emulator):
    """It was "no automation named ...", though the server's UUID cast takes it."""
    [automation] = [a["id"] for a in mogrun_emulator.automations if a["name"] == "triage"]
    project.write(automation_job(repo=["acme/api"], automation=automation.upper()))
    result = project.run("run", "triage-all")
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.job_runs(automation)) == 1


def test_an_automation_run_is_read_after_its_job_left_the_task_file(project):
    project.write(automation_job(repo=["acme/api"], note="@emulator duration=0.2s"))
    assert project.run("run", "triage-all").exit_code == 0
    [row] = [json.loads(line) for line in project.run("--json", "history").stdout.splitlines()]
    project.write(automation_job("renamed", repo=["acme/api"]))
    logs = project.run("logs", row["run_id"])
    assert logs.exit_code == 0, logs
    assert "node_success" in logs.stdout


def test_status_shows_every_run_when_one_s_automation_was_deleted(project, mogrun_emulator):
    """The automation of a going run deleted in the web app: `status` failed whole
    (exit 2, "no automation named '<its id>'"), showing no run at all, not even the
    prompt job's beside it. Its run is now said unknown to the server, the rest shown."""
    project.write(automation_job(repo=["acme/api"], note="@emulator duration=30s")
                  + '[jobs.p]\nrepo = "acme/api"\nprompt = "@emulator duration=30s"\n')
    assert project.run("run", "--detach", "triage-all", "p").exit_code == 0
    [automation] = [a["id"] for a in mogrun_emulator.automations if a["name"] == "triage"]
    mogrun_emulator.delete_automation(automation)
    result = project.run("status")
    assert result.exit_code == 0, result
    assert "no automation named" not in result.stderr, result.stderr
    assert "Automation not found" in result.stderr, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[2:]}
    assert set(rows) == {"triage-all", "p"}, result.stdout
    logs = project.run("logs", "triage-all")
    assert logs.exit_code == 1 and "Automation not found" in logs.stderr, logs


def test_a_timeout_leaves_an_automation_run_going_and_says_so(project):
    project.write(automation_job(repo=["acme/api"], note="@emulator duration=never",
                                 timeout="1s"))
    result = project.run("run", "triage-all")
    assert result.exit_code == 1, result
    assert "cannot be cancelled, left running" in result.output


def test_the_github_step_summary_and_junit_carry_an_automation_job(project, tmp_path):
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    note = "@emulator duration=0.3s tokens=1500 cost=0.02"
    project.write(automation_job(repo=["acme/api"], note=note))
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary),
           "GITHUB_OUTPUT": str(outputs)}
    result = project.run("run", "triage-all", "--junit", "report.xml", env=env)
    assert result.exit_code == 0, result
    assert "usage: 2 AI calls, 1500 tokens" in summary.read_text()
    case = ET.parse(project.path.parent / "report.xml").getroot().find("testsuite/testcase")
    assert (case.get("classname"), case.get("name")) == ("triage-all", "acme/api")


def test_the_json_schema_knows_automation_jobs(project):
    schema = json.loads(project.run("schema").stdout)
    good = tomllib.loads(automation_job(repo=["acme/api"]))
    jsonschema.validate(good, schema)
    reserved = tomllib.loads(automation_job(repo=["acme/api"]).replace("ticket", "repo_id"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(reserved, schema)


def test_a_pending_cap_that_never_frees_ends_within_capacity_wait(project, mogrun_emulator):
    mogrun_emulator.set_job_caps(JobCaps(repo_pending=1))
    holder = automation_job("holder", repo=["acme/api"], note="@emulator duration=never",
                            timeout="6s")
    waiter = automation_job("waiter", repo=["acme/api"], capacity_wait="2s")
    project.write(holder + "\n" + waiter)
    assert project.run("run", "--detach", "holder").exit_code == 0  # its run holds the cap
    result = project.run("run", "waiter")
    assert result.exit_code == 1, result
    assert "suppressed by REPO_PENDING_LIMIT for longer than capacity_wait" in result.output
    assert len(mogrun_emulator.job_runs()) == 1  # the waiter never created a run
    # each wait says how long triggers go on, not only when the next one goes
    assert "triggering again, for 2s more at most (capacity_wait)" in result.output, result


def test_rerun_triggers_a_new_attempt_of_a_failed_automation_run(project, mogrun_emulator):
    note = "@emulator duration=0.3s status={{ outcome }}"
    project.write('[vars]\noutcome = "failed"\n\n'
                  + automation_job(repo=["acme/api"], note=note, idempotency_key="nightly-1"))
    assert project.run("run", "triage-all").exit_code == 1
    again = project.run("--set", "outcome=success", "rerun")
    assert again.exit_code == 0, again
    runs = mogrun_emulator.job_runs()
    assert [mogrun_emulator.job_run_detail(r)["status"] for r in runs] == ["failed", "success"]
    keys = [r.idempotency_key for r in mogrun_emulator.requests if r.path.endswith("/trigger")]
    assert len(set(keys)) == 2  # the attempt has a key of its own, never the failed run's


@pytest.mark.mogrun_emulator(automations=["paused:inactive"], repos=REPOS)
def test_an_inactive_automation_is_a_usage_error_before_anything_starts(
        project, mogrun_emulator):
    project.write(automation_job(repo=["acme/api"], automation="paused"))
    result = project.run("run", "triage-all")
    assert result.exit_code == 2, result
    assert result.errors[0] == ("Error: automation 'paused' of job 'triage-all' is inactive: "
                                "activate it in Mogplex before a job triggers it"), result
    assert mogrun_emulator.job_runs() == []


def test_the_history_keeps_what_the_trigger_sent(project, mogrun_emulator):
    """It kept a run's body with an empty prompt; the input was lost."""
    project.write(LIFTED + automation_job(repo=["acme/api"]))
    assert project.run("run", "triage-all").exit_code == 0
    history = project.run("--json", "history", "-n", "1")
    [row] = [json.loads(line) for line in history.stdout.splitlines()]
    assert json.loads(row["request"]) == {
        "repoId": mogrun_emulator.repo_id("acme/api"),
        "input": {"ticket": "PLAT-7", "note": "@emulator duration=0.4s"}}


def test_a_run_stays_readable_after_its_job_became_an_automation_job(project):
    """A prompt job's runs were read through the automation the job names once the
    file was edited to trigger one: ``logs`` said "Run not found" (HTTP 404) for
    each. A row that recorded a run's request is a run, whatever the job is now."""
    prompt_job = ('[jobs.k]\r\nrepo = "acme/api"  # one repo\r\n'
                  'prompt = "@emulator duration=0.2s"\r\n')
    project.write(LIFTED.replace("\n", "\r\n") + prompt_job + "\r\n")
    assert project.run("k").exit_code == 0
    project.write(LIFTED + automation_job("k", repo=["acme/api"]) + "\n\n")
    logs = project.run("logs", "k")
    assert logs.exit_code == 0, logs
    assert "Run not found" not in logs.stderr
    assert logs.stdout.splitlines()[-1].endswith("  k  finished  -  Run finished"), logs


def test_a_name_spelled_exactly_wins_over_one_in_another_case(project, mogrun_emulator):
    """Names match in any case, so ``Triage`` beside ``triage`` made a job naming
    either exactly "ambiguous" (exit 2): the one spelled as written is meant."""
    exact = mogrun_emulator.add_automation("Triage")
    project.write(LIFTED + automation_job("t", repo=["acme/api"], automation="Triage"))
    result = project.run("--json", "t")
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.job_runs(exact)) == 1
    project.write(LIFTED + automation_job("t", repo=["acme/api"], automation="TRIAGE"))
    refused = project.run("t").stderr  # neither spelled so: still refused
    # and which job names it is said, as for a name that matches none
    assert "is ambiguous" in refused and ", for job 't'" in refused, refused


def _clone(root, name: str, origin: str | None, text: str):
    """A folder holding ``text`` as its task file, a git repository with ``origin``."""
    import subprocess

    folder = root / name
    folder.mkdir()
    (folder / "mogplex.toml").write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    if origin is not None:
        subprocess.run(["git", "-C", str(folder), "remote", "add", "origin", origin], check=True)
    return folder


def test_two_projects_with_one_job_and_key_trigger_two_runs(project, mogrun_emulator):
    """Two repositories' task files with the same job, key, automation and repo sent
    one trigger key: the second project's job attached to the first's run and never
    ran. A second clone of one repository (a CI runner, over SSH) still attaches."""
    text = ("# copied from the example\n"
            + automation_job(repo=["acme/api"], idempotency_key="triage-{{ week }}") + "\n\n")
    ops = _clone(project.root, "ops", "https://ci-token@github.com/Acme/ops.git", text)
    web = _clone(project.root, "web", "git@github.com:acme/web.git", text)
    again = _clone(project.root, "ops-ssh", "ssh://git@github.com/acme/ops", text)
    for folder in (ops, web):
        result = project.run("run", "triage-all", cwd=folder)
        assert result.exit_code == 0, result
        assert "attached" not in result.output, result
    assert len(mogrun_emulator.job_runs()) == 2
    retried = project.run("run", "triage-all", cwd=again)
    assert retried.exit_code == 0 and "attached to existing run" in retried.output, retried
    assert len(mogrun_emulator.job_runs()) == 2


@pytest.mark.parametrize(("url", "expected"), [
    ("https://github.com/acme/ops.git", "github.com/acme/ops"),
    ("https://x-access-token:ghs_secret@GitHub.com/acme/ops", "github.com/acme/ops"),
    ("git@github.com:acme/ops.git", "github.com/acme/ops"),
    ("ssh://git@github.com:22/acme/ops/", "github.com/acme/ops"),
    ("/srv/git/ops.git", "/srv/git/ops"),
])
def test_a_remote_is_one_project_however_it_is_written(url, expected):
    from mogrun.projectkey import normalised_remote

    assert normalised_remote(url) == expected
    assert "secret" not in normalised_remote(url)


def test_the_project_identity_is_asked_once_however_many_triggers_start_at_once():
    """A fan-out's first triggers come from many worker threads at once: each
    asked git for the project's identity (two processes each)."""
    import threading
    import time

    from mogrun.engine.automation_kind import AutomationKind

    asked = []

    def identity() -> str:
        asked.append(1)
        time.sleep(0.05)  # git takes a moment: the others arrive meanwhile
        return "github.com/acme/ops:mogplex.toml"

    kind = AutomationKind(None, project=identity)  # type: ignore[arg-type]
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(kind._project_identity()))
               for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(asked) == 1 and got == ["github.com/acme/ops:mogplex.toml"] * 20


@pytest.mark.parametrize("where", ["inside", "the clone"])
def test_a_task_file_in_a_folder_named_in_latin_1_triggers(project, mogrun_emulator, where):
    """The project's identity holds the task file's path in its repository: a folder
    named in latin-1 (bytes that are no UTF-8) made its key an internal error, both
    where it digested the path and where it read git's answer of a clone so named."""
    text = automation_job(repo=["acme/api"]) + "\n"
    name = "ops" if where == "inside" else "caf\udce9"  # b"caf\xe9" on disk
    repository = _clone(project.root, name, "https://github.com/acme/ops.git", text)
    folder = repository / "caf\udce9" if where == "inside" else repository
    folder.mkdir(exist_ok=True)
    (folder / "mogplex.toml").write_text(text, encoding="utf-8")
    result = project.run("run", "triage-all", cwd=folder)
    assert result.exit_code == 0, result
    assert "internal error" not in result.output
    assert len(mogrun_emulator.job_runs()) == 1


@pytest.mark.parametrize("then", ["renamed", "its name taken by a new one"])
def test_a_renamed_automations_recorded_runs_are_still_read_and_never_run_again(
        project, mogrun_emulator, then):
    """History kept the automation's name, and looked it up at every read: once it
    was renamed, status, logs and rerun exited 2 ("no automation named ..."), and
    once a new automation took the old name, rerun read the runs as unknown (that
    one's 404) and triggered them all again, though they had passed."""
    project.write(LIFTED + automation_job(repo=["acme/api", "acme/web"],
                                          note="@emulator duration=1.5s"))
    first = project.run("run", "--detach", "triage-all")
    assert first.exit_code == 0, first  # left going
    runs = mogrun_emulator.job_runs()
    [triage] = [a["id"] for a in mogrun_emulator.automations if a["name"] == "triage"]
    mogrun_emulator.set_automation(triage, name="triage-v1")
    if then != "renamed":
        mogrun_emulator.add_automation("triage")
    for command in (("status", "triage-all"), ("logs", "triage-all")):
        read = project.run(*command)
        assert read.exit_code in (0, 3), (command, read)
        assert "no automation named" not in read.output and "HTTP 404" not in read.output, read
    deadline = time.monotonic() + 10
    while {mogrun_emulator.job_run_detail(r)["status"] for r in runs} != {"success"}:
        assert time.monotonic() < deadline, "the job runs did not end"
        time.sleep(0.1)
    rerun = project.run("rerun")
    assert mogrun_emulator.job_runs() == runs, rerun  # nothing triggered again
    assert project.run("status", "--exit-status", "triage-all").exit_code == 0


def test_rerun_dry_run_says_an_automation_run_is_read_through_its_automation(
        project, mogrun_emulator):
    """It said it would read `GET /runs/{id}/events`, which has no automation run."""
    project.write(LIFTED + automation_job(repo=["acme/api"], note="@emulator duration=never"))
    assert project.run("run", "--detach", "triage-all").exit_code == 0
    [run_id] = mogrun_emulator.job_runs()
    [triage] = [a["id"] for a in mogrun_emulator.automations if a["name"] == "triage"]
    dry = project.run("rerun", "-n")
    assert f"(GET /automations/{triage}/runs/{run_id})" in dry.stderr, dry
    assert "/events" not in dry.stderr, dry


def test_an_automation_fan_out_splits_into_more_legs_than_there_are_slots(project):
    """Refused past 3 legs, for the account's 3 sandbox slots, which an automation's
    runs never take (nor run starts): only the request budget binds them (QA pass).
    A file with an agent-run job is still refused, by the slots."""
    fan = LIFTED + automation_job(repo=["acme/api", "acme/web", "acme/worker", "acme/api2"])
    project.write(fan)
    real = {"MOGRUN_SANDBOXES": None}  # the account's 3 slots, not the fixture's lifted cap
    leg = project.run("--json", "run", "-n", "triage-all", "--shard", "4/4", env=real)
    assert leg.exit_code == 0, leg
    assert [r["repo"] for d in ndjson(leg) for r in d["runs"]] == ["acme/api2"], leg
    project.write(fan + '\n[jobs.fix]\nrepo = "acme/api"\nprompt = "x"\n')
    refused = project.run("run", "-n", "triage-all", "fix", "--shard", "4/4", env=real)
    assert refused.exit_code == 2, refused
    assert "sandbox slots (3) cannot be split 4 ways" in refused.output, refused


def test_a_trigger_given_up_unanswered_names_the_key_it_sent(project, mogrun_emulator,
                                                             quick_backoff):
    """It said "sends its Idempotency-Key mogrun-triage-all-... again": the job's key,
    which the server never saw (a trigger sends a digest of it), to look for."""
    mogrun_emulator.add_fault("trigger", "drop_after_commit", count=9)
    project.write(automation_job(repo=["acme/api"]))
    result = project.run("run", "triage-all")
    assert result.exit_code == 69, result
    assert len(mogrun_emulator.job_runs()) == 1  # made, its answer lost each time
    [sent] = {r.idempotency_key for r in mogrun_emulator.requests
              if r.path.endswith("/trigger")}
    assert f"sends its Idempotency-Key {sent} again" in result.stderr, result


def test_our_own_run_whose_read_back_fails_is_followed_not_forgotten(
        project, mogrun_emulator, quick_backoff):
    """The trigger's answer lost, its retry answered "duplicate" with the run it had
    made; reading that run back failed (500s): the job was recorded "not started"
    with no run id (status said so of a going run), and a rerun triggered a second."""
    mogrun_emulator.add_fault("trigger", "drop_after_commit")
    mogrun_emulator.add_fault("automation_runs", "500", count=6)  # the read-back's every try
    project.write(automation_job(repo=["acme/api"], note="@emulator duration=0.3s"))
    result = project.run("run", "triage-all")
    [made] = mogrun_emulator.job_runs()
    assert result.exit_code == 0, result  # followed once reads answer again
    assert f"started {made} (pending)" in result.stdout, result  # not "(suppressed)"
    assert project.run("rerun").exit_code == 0
    assert mogrun_emulator.job_runs() == [made]  # no second run


def test_a_duplicate_whose_read_back_fails_is_triggered_again_with_its_key(
        project, mogrun_emulator, quick_backoff):
    """A first trigger answered "duplicate" (a CI retry's run), then its read-back
    failed: recorded as a start that made no run, the rerun sent a new key (attempt
    2) and made a second run beside the first."""
    project.write(automation_job(repo=["acme/api"], note="@emulator duration=0.3s",
                                 idempotency_key="ci-1"))
    assert project.run("run", "triage-all").exit_code == 0
    [first] = mogrun_emulator.job_runs()
    mogrun_emulator.add_fault("automation_runs", "500", count=6)
    again = project.run("run", "triage-all")
    assert again.exit_code == 69, again
    rerun = project.run("rerun")
    assert rerun.exit_code == 0, rerun
    assert mogrun_emulator.job_runs() == [first]  # found again under the same key
    assert "could not be read back" in again.stderr, again


def test_status_names_the_key_an_unanswered_trigger_sent(project, mogrun_emulator,
                                                         quick_backoff):
    """status's note said "rerun sends its Idempotency-Key (mogrun-triage-all-...)":
    the job's key, which the server never saw, where the trigger sent a digest of it."""
    mogrun_emulator.add_fault("trigger", "drop_after_commit", count=9)
    project.write(automation_job(repo=["acme/api"]))
    assert project.run("run", "triage-all").exit_code == 69
    [sent] = {r.idempotency_key for r in mogrun_emulator.requests
              if r.path.endswith("/trigger")}
    status = project.run("status", "triage-all")
    assert f"rerun sends its Idempotency-Key ({sent}) again" in status.stdout, status


def renamed_after_an_unanswered_trigger(project, mogrun_emulator) -> tuple[str, str]:
    """A one-repo job's trigger unanswered (its job run made), then its automation
    renamed: the job run's id and the automation's."""
    mogrun_emulator.add_fault("trigger", "drop_after_commit", count=9)
    project.write(automation_job(repo=["acme/api"]))
    assert project.run("run", "triage-all").exit_code == 69
    [first] = mogrun_emulator.job_runs()
    [was] = [a["id"] for a in mogrun_emulator.automations if a["name"] == "triage"]
    mogrun_emulator.set_automation(was, name="triage (old)")
    return first, was


def test_a_rerun_sends_an_unanswered_trigger_to_the_automation_it_went_to(
        project, mogrun_emulator, quick_backoff):
    """A recorded trigger kept the automation's name: renamed, and its name taken by
    another, the rerun triggered that other one under another key, a second run."""
    first, was = renamed_after_an_unanswered_trigger(project, mogrun_emulator)
    mogrun_emulator.add_automation("triage")
    rerun = project.run("rerun")
    assert rerun.exit_code == 0, rerun
    assert mogrun_emulator.job_runs() == [first]
    assert {r.path for r in mogrun_emulator.requests if r.path.endswith("/trigger")} == {
        f"/api/v1/mogplex/automations/{was}/trigger"}


def test_a_rerun_sends_only_the_unanswered_trigger_where_it_went(
        project, mogrun_emulator, quick_backoff):
    """The rerun that sent an unanswered trigger to the automation it went to sent
    the job's other runs there too: a repo added since went to the renamed one, not
    to the automation the task file names today."""
    first, was = renamed_after_an_unanswered_trigger(project, mogrun_emulator)
    now = mogrun_emulator.add_automation("triage")
    project.write(LIFTED + automation_job(repo=["acme/api", "acme/web"]))
    dry = project.run("rerun", "-n")
    assert f'automations/{was}/trigger\n' in dry.stdout, dry
    assert f'the path names automation "{was}"' in dry.stdout, dry
    assert 'automations/triage/trigger\n' in dry.stdout, dry
    plan = project.run("--json", "rerun", "-n").stdout
    planned = [json.loads(line) for line in plan.splitlines()]
    runs = [run for job in planned for run in job["runs"]]
    assert [(run["repo"], run.get("automation")) for run in runs] == [
        ("acme/api", was), ("acme/web", None)], planned
    rerun = project.run("rerun")
    assert rerun.exit_code == 0, rerun
    assert mogrun_emulator.job_runs(was) == [first]
    [added] = mogrun_emulator.job_runs(now)
    assert mogrun_emulator.job_run_detail(added)["repo"]["full_name"] == "acme/web"
    history = project.run("--json", "history", "-n", "2")
    rows = [json.loads(line) for line in history.stdout.splitlines()]
    recorded = {(row["run_id"], row["automation"]) for row in rows}
    assert recorded == {(first, was), (added, now)}, history


def test_a_rerun_refuses_up_front_when_the_automation_a_trigger_went_to_is_unpublished(
        project, mogrun_emulator, quick_backoff):
    """Only the automation the task file names today was looked up before the
    starts: the re-sent trigger's own, unpublished since, was refused when sent
    (the server asks for a published automation before it reads the key), after
    the job's other repo had been triggered for nothing."""
    first, was = renamed_after_an_unanswered_trigger(project, mogrun_emulator)
    now = mogrun_emulator.add_automation("triage")
    mogrun_emulator.set_automation(was, published=False)
    project.write(LIFTED + automation_job(repo=["acme/api", "acme/web"]))
    rerun = project.run("rerun")
    assert rerun.exit_code == 2, rerun
    assert f"automation {was!r} of job 'triage-all' is not published" in rerun.stderr, rerun
    assert mogrun_emulator.job_runs(now) == []
    assert mogrun_emulator.job_runs(was) == [first]


@pytest.mark.parametrize("command", ["status", "logs", "rerun", "cancel"])
def test_an_automation_is_looked_up_once_for_all_its_runs(project, mogrun_emulator, command):
    """status, logs, rerun and cancel read a fan-out's going runs, each through its
    automation: every run looked the automation up again (one listing a run, from
    the budget; status asks them at once)."""
    project.write(LIFTED + automation_job(note="@emulator duration=30s"))
    assert project.run("run", "--detach", "triage-all").exit_code == 0
    asked = len(mogrun_emulator.requests)
    result = project.run(command, "triage-all")
    assert "acme/worker" in result.stdout + result.stderr, result
    lookups = [r for r in mogrun_emulator.requests[asked:]
               if r.method == "GET" and r.path.rstrip("/").endswith("/automations")]
    # None at all since runs are read by the id their rows keep (at most one, ever).
    assert len(lookups) <= 1, [r.path for r in mogrun_emulator.requests[asked:]]
