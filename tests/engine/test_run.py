"""`mogrun run` end to end: CLI in-process -> client -> loopback HTTP -> emulator."""

from __future__ import annotations

import json
import shlex
import textwrap

import pytest

from .conftest import HEADER, history_rows, json_lines


def test_success_streams_events_and_exits_0(project, mogrun, mogrun_emulator):
    project("""
        [jobs.hello]
        repo = "acme/api"
        prompt = "@emulator duration=0.4s events=5"
    """)
    result = mogrun("hello")
    assert result.exit_code == 0, result
    run_id = mogrun_emulator.runs[0]
    assert len(mogrun_emulator.runs) == 1
    assert f"started {run_id}" in result.stdout
    assert "hello  finished" in result.stdout
    assert "attached" not in result.output
    rows = history_rows(mogrun)
    assert [(r["job"], r["run_id"], r["status"], r["outcome"], r["exit_code"]) for r in rows] == [
        ("hello", run_id, "success", "success", 0)]
    assert rows[0]["base_url"] == mogrun_emulator.url


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_failed_or_cancelled_run_exits_1(project, mogrun, status):
    project(f"""
        [jobs.bad]
        repo = "acme/api"
        prompt = '@emulator status={status} duration=0.3s error="it broke"'
    """)
    result = mogrun("bad")
    assert result.exit_code == 1, result
    assert history_rows(mogrun)[0]["outcome"] == status


def test_timeout_cancels_the_run(project, mogrun, mogrun_emulator):
    project("""
        [jobs.slow]
        repo = "acme/api"
        prompt = "@emulator duration=never interval=0.1s"
    """)
    result = mogrun("run", "--timeout", "0.6s", "slow")
    assert result.exit_code == 1, result
    run_id = mogrun_emulator.runs[0]
    assert f"timed out after 600ms; cancelled run {run_id}" in result.stderr
    assert mogrun_emulator.run_detail(run_id)["status"] == "cancelled"
    assert history_rows(mogrun)[0]["outcome"] == "timeout"


def test_a_cancelled_runs_last_events_are_shown_after_its_cancel(project, mogrun,
                                                               mogrun_emulator):
    """At a timeout the run is cancelled; the events it wrote since the last poll
    (and the cancel's own) are shown too, each once: the tail says why it ended."""
    project("""
        [jobs.slow]
        repo = "acme/api"
        prompt = "@emulator duration=never interval=0.2s"
    """)
    result = mogrun("--json", "run", "--timeout", "1s", "slow")
    assert result.exit_code == 1, result
    shown = [o["event"]["id"] for o in json_lines(result.stdout) if o["type"] == "event"]
    logged = [o["event"]["id"] for o in json_lines(mogrun("--json", "logs", "slow").stdout)
              if o.get("type") == "event"]
    assert shown == logged, (shown, logged)
    assert len(shown) == len(set(shown))
    types = [o["event"]["type"] for o in json_lines(result.stdout) if o["type"] == "event"]
    assert types[-2:] == ["cancel_requested", "cancelled"], types


def test_timeout_detach_leaves_the_run_going(project, mogrun, mogrun_emulator):
    project("""
        [jobs.slow]
        repo = "acme/api"
        prompt = "@emulator duration=never interval=0.1s"
        timeout = "0.5s"
        on_timeout = "detach"
    """)
    result = mogrun("slow")
    assert result.exit_code == 1, result
    run_id = mogrun_emulator.runs[0]
    assert (f"timed out after 500ms; left running — resume with: mogrun logs --follow {run_id}"
            in result.stderr)
    assert mogrun_emulator.run_detail(run_id)["status"] == "streaming"
    assert mogrun_emulator.count("POST", f"/runs/{run_id}/cancel") == 0


def test_timeout_detach_judges_a_run_that_ended_since_its_last_poll(project, mogrun,
                                                                    mogrun_emulator):
    """Polled at the request budget's pace (every ~30 s in a 30-repo fan-out), a run
    that ended after its last poll was said "timed out; left running" at the
    deadline: its job failed and the jobs needing it were skipped, while status
    showed it a success. Here the first poll is due after the deadline."""
    project("""
        [jobs.quick]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s"
        timeout = "1s"
        on_timeout = "detach"
        [jobs.after]
        repo = "acme/web"
        prompt = "@emulator duration=0.1s"
        needs = ["quick"]
    """)
    result = mogrun("after", env={"MOGRUN_POLL_INTERVAL": "3"})
    assert result.exit_code == 0, result
    assert "left running" not in result.stderr
    assert len(mogrun_emulator.runs) == 2  # the job needing it ran
    rows = history_rows(mogrun, "--job", "quick")
    assert [(row["outcome"], row["status"]) for row in rows] == [("success", "success")]


def test_a_timeout_judges_a_run_that_ended_since_its_last_poll_without_a_cancel(
        project, mogrun, mogrun_emulator):
    """The same without on_timeout: a run that ended well inside its timeout, unseen
    since its last poll, was said "timed out after 1s; cancelling run ..." and sent
    a cancel; with the cancel refused (a request budget with no room left) it was
    recorded a timeout, exit 1. It is read once more first."""
    project("""
        [jobs.quick]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s"
        timeout = "1s"
    """)
    result = mogrun("quick", env={"MOGRUN_POLL_INTERVAL": "3"})
    assert result.exit_code == 0, result
    assert "timed out" not in result.stderr and "cancel" not in result.stderr, result.stderr
    (run_id,) = mogrun_emulator.runs
    assert mogrun_emulator.count("POST", f"/runs/{run_id}/cancel") == 0
    (row,) = history_rows(mogrun)
    assert (row["outcome"], row["status"]) == ("success", "success")


def test_lost_start_response_makes_exactly_one_run(project, mogrun, mogrun_emulator):
    project("""
        [jobs.hello]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s"
    """)
    mogrun_emulator.add_fault("start", "drop_after_commit")
    result = mogrun("hello")
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.runs) == 1
    assert mogrun_emulator.count("POST", "/runs") == 2
    assert "attached" not in result.output  # the replay answered our own retry


def test_same_key_in_a_later_invocation_attaches(project, mogrun, mogrun_emulator):
    project("""
        [jobs.weekly]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s"
        idempotency_key = "weekly-{{ date }}"
    """)
    first = mogrun("weekly")
    second = mogrun("weekly")
    assert first.exit_code == 0 and second.exit_code == 0, (first, second)
    run_id = mogrun_emulator.runs[0]
    assert len(mogrun_emulator.runs) == 1
    assert f"attached to existing run {run_id}" in second.stderr
    assert history_rows(mogrun)[0]["attached"] is True
    third = mogrun("run", "--rerun", "weekly")
    assert third.exit_code == 0, third
    assert len(mogrun_emulator.runs) == 2
    assert "attached" not in third.stderr


FIXED_KEY_JOB = """
    [jobs.a]
    repo = "acme/api"
    prompt = "first {{ team }}\\n@emulator duration=0.2s"
    idempotency_key = "fixed-key"
    [vars]
    team = "x"
"""
WAY_OUT = ("start a fresh attempt with: mogrun --set team=y rerun a (or give the job a new "
           "idempotency_key)")


def test_idempotency_conflict_fails_the_job_with_the_servers_message(
        project, mogrun, mogrun_emulator):
    project(FIXED_KEY_JOB)
    assert mogrun("a").exit_code == 0
    result = mogrun("--set", "team=y", "a")
    assert result.exit_code == 1, result
    assert "could not start" in result.stderr
    assert "Idempotency" in result.stderr or "idempotency" in result.stderr
    assert ": the job's prompt changed since invocation " in result.stderr
    assert WAY_OUT in result.stderr  # the --set that changed the prompt
    assert len(mogrun_emulator.runs) == 1
    again = mogrun("--set", "team=y", "rerun", "a")
    assert again.exit_code == 0, again
    assert len(mogrun_emulator.runs) == 2
    assert history_rows(mogrun)[0]["idempotency_key"] == "fixed-key~attempt-2"


def test_a_conflict_with_nothing_changed_since_the_last_send_says_so(
        project, mogrun, mogrun_emulator):
    """The second invocation sent the edited prompt and was refused; the third sends
    what the second did: none of its fields differs from the row history recalls,
    yet the server holds the first invocation's request under the key."""
    project(FIXED_KEY_JOB)
    assert mogrun("-q", "a").exit_code == 0
    edited = mogrun("--set", "team=y", "a")
    assert edited.exit_code == 1, edited
    assert ": the job's prompt changed since invocation " in edited.stderr
    again = mogrun("--set", "team=y", "a")
    assert again.exit_code == 1, again
    assert "the job's the request" not in again.stderr
    assert "changed since invocation" not in again.stderr
    line = next(x for x in again.stderr.splitlines() if "IDEMPOTENCY_CONFLICT" in x)
    assert "(IDEMPOTENCY_CONFLICT, HTTP 409): the request is the one invocation " in line
    assert " sent under this key (" in line
    assert line.endswith("or with another value of a secret); " + WAY_OUT), line
    assert "), but the server holds a different one under it (sent by an earlier " in line
    assert len(mogrun_emulator.runs) == 1


def test_a_fixed_key_that_attaches_to_a_failed_run_says_so_and_names_rerun(
        project, mogrun, mogrun_emulator):
    project("""
        [jobs.bad]
        repo = "acme/api"
        prompt = '@emulator status=failed duration=0.2s error="it broke"'
        idempotency_key = "bad-once"
    """)
    assert mogrun("bad").exit_code == 1
    second = mogrun("bad")
    assert second.exit_code == 1, second
    run_id = mogrun_emulator.runs[0]
    assert (f"attached to existing run {run_id}, which had already ended failed (its key "
            "was used before); start a fresh attempt with: mogrun rerun bad") in second.stderr
    assert len(mogrun_emulator.runs) == 1


def test_the_hints_to_rerun_name_the_task_file_as_the_summary_does(
        mogrun_project, mogrun, mogrun_emulator):
    """``mogrun -f v7.toml d``: the conflict's and the attach's "start a fresh attempt
    with" give the same rerun line as the summary's, ``-f`` included."""
    def write(prompt: str) -> None:
        mogrun_project.write(HEADER + f"""
[jobs.d]
repo = "acme/api"
prompt = "{prompt}\\n@emulator duration=0.2s"
idempotency_key = "fixed-key"
[jobs.bad]
repo = "acme/api"
prompt = '@emulator status=failed duration=0.2s'
idempotency_key = "bad-once"
""", name="v7.toml")

    write("first")
    assert mogrun("-f", "v7.toml", "d").exit_code == 0
    assert mogrun("-f", "v7.toml", "bad").exit_code == 1
    write("second")
    result = mogrun("-f", "v7.toml", "d")
    assert result.exit_code == 1, result
    assert ("start a fresh attempt with: mogrun -f v7.toml rerun d (or give the job a new "
            "idempotency_key)") in result.stderr
    assert "rerun what did not pass: mogrun -f v7.toml rerun d" in result.stdout.splitlines()
    attached = mogrun("-f", "v7.toml", "bad")
    assert attached.exit_code == 1, attached
    assert "start a fresh attempt with: mogrun -f v7.toml rerun bad" in attached.stderr


def test_the_rerun_hint_keeps_the_sets_that_shaped_the_requests(project, mogrun,
                                                                mogrun_emulator):
    """Doing what the hint says sends the prompts the failed attempt sent: a rerun
    without --set would deploy to the default target."""
    project("""
        [vars]
        target = "production"

        [jobs.deploy]
        repo = "acme/api"
        prompt = "Deploy to {{ target }}.\\n@emulator duration=0.2s status=failed"
    """)
    result = mogrun("--set", "target=stag ing", "deploy")
    assert result.exit_code == 1, result
    hint = "rerun what did not pass: mogrun --set 'target=stag ing' rerun deploy"
    assert hint in result.stdout.splitlines(), result.stdout
    assert mogrun(*shlex.split(hint.split(": ", 1)[1])[1:]).exit_code == 1
    assert len(mogrun_emulator.runs) == 2
    prompts = [json.loads(row["request"])["prompt"] for row in history_rows(mogrun)]
    assert [p.splitlines()[0] for p in prompts] == ["Deploy to stag ing."] * 2


def test_the_rerun_hint_keeps_the_plugins_and_plugin_options_that_shaped_them(
        project, mogrun, mogrun_emulator):
    """A ``-p`` plugin (and its option) rewrote the prompt: the hint dropped them, so
    doing what it said sent another prompt than the failed attempt did."""
    root = project("""
        [jobs.deploy]
        repo = "acme/api"
        prompt = "Deploy.\\n@emulator duration=0.2s status=failed"
    """)
    (root / "tone.py").write_text(textwrap.dedent("""
        import dataclasses
        from mogrun.plugin import hookimpl

        TONE = []

        @hookimpl
        def mogrun_add_options(register):
            register("tone", help="how to say it")

        @hookimpl
        def mogrun_configure(config):
            TONE.append(config.options["tone"])

        @hookimpl
        def mogrun_start_request(job, run, request):
            return dataclasses.replace(request, prompt=f"({TONE[-1]}) " + request.prompt)
    """))
    result = mogrun("run", "-p", "tone.py", "--tone", "calm now", "deploy")
    assert result.exit_code == 1, result
    hint = "rerun what did not pass: mogrun rerun -p tone.py --tone 'calm now' deploy"
    assert hint in result.stdout.splitlines(), result.stdout
    assert mogrun(*shlex.split(hint.split(": ", 1)[1])[1:]).exit_code == 1
    prompts = [json.loads(row["request"])["prompt"] for row in history_rows(mogrun)]
    assert [p.splitlines()[0] for p in prompts] == ["(calm now) Deploy."] * 2


def test_agent_text_is_escaped(project, mogrun):
    project("""
        [jobs.evil]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s message='::error::pwned \\u001b[31mred\\u001b[0m'"
    """)
    result = mogrun("evil")
    assert result.exit_code == 0, result
    assert "\x1b" not in result.output
    assert "\\x1b[31mred" in result.stdout
    assert not any(line.startswith("::error::") for line in result.stdout.splitlines())


def test_agent_text_cannot_issue_workflow_commands(project, mogrun, tmp_path):
    project("""
        [jobs.evil]
        repo = "acme/api"
        prompt = '@emulator duration=0.3s message="::error::pwned"'
    """)
    summary = tmp_path / "summary.md"
    result = mogrun("evil", env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    evil = next(i for i, line in enumerate(lines) if "::error::pwned" in line)
    stop = [i for i, line in enumerate(lines[:evil]) if line.startswith("::stop-commands::")]
    assert stop, result.stdout
    token = lines[stop[-1]].split("::stop-commands::", 1)[1]
    assert len(token) >= 16
    assert f"::{token}::" in lines[evil:]


def test_event_cap_is_announced_once(project, mogrun):
    project("""
        [jobs.chatty]
        repo = "acme/api"
        prompt = "@emulator duration=0.6s events=300"
    """)
    result = mogrun("--json", "chatty")
    assert result.exit_code == 0, result
    # the emulator answers the first 200, as the contract's server does: said at the end
    assert result.stderr.count("this run had more than 200 events, the most the API returns "
                               "at once, and the server returned its first 200") == 1
    objects = json_lines(result.stdout)
    events = [o["event"]["id"] for o in objects if o["type"] == "event"]
    assert len(events) == len(set(events)) == 200
    assert objects[-1]["type"] == "summary"
    assert objects[-1]["results"][0]["status"] == "success"
    for args in (("logs", "chatty"), ("--json", "logs", "chatty")):  # they were silent
        shown = mogrun(*args)
        assert shown.exit_code == 0, shown
        assert shown.stderr.count("this run had more than 200 events") == 1, shown


def test_unknown_repo_exits_2_before_any_start(project, mogrun, mogrun_emulator):
    project("""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        [jobs.b]
        repo = "acme/nope"
        prompt = "x"
    """)
    result = mogrun("a", "b")
    assert result.exit_code == 2, result
    assert mogrun_emulator.runs == []


def test_revoked_token_exits_64(project, mogrun, mogrun_emulator):
    project("""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
    """)
    result = mogrun("a", env={"MOGPLEX_API_KEY": "mog_not_a_token"})
    assert result.exit_code == 64, result


def test_read_only_token_exits_65(project, mogrun, mogrun_emulator):
    project("""
        [jobs.a]
        repo = "5c0ffee0-1234-4321-8abc-0123456789ab"
        prompt = "x"
        [jobs.b]
        repo = "5c0ffee0-1234-4321-8abc-0123456789ab"
        prompt = "x"
    """)
    result = mogrun("run", "-j", "1", "a", "b", env={"MOGPLEX_API_KEY": mogrun_emulator.read_token})
    assert result.exit_code == 65, result
    assert mogrun_emulator.count("POST", "/runs") == 1  # 403 stops everything


def test_bad_command_lines_exit_2(project, mogrun, mogrun_emulator):
    project("""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
    """)
    no_jobs = mogrun("run")
    assert no_jobs.exit_code == 2
    assert no_jobs.stderr.startswith("Error: run needs at least one job name")
    # show said click's "Missing argument 'JOBS...'" where run says what to do
    no_shown = mogrun("show")
    assert (no_shown.exit_code, no_shown.stderr) == (
        2, "Error: show needs at least one job name\nSee: mogrun list\n"), no_shown
    no_target = mogrun("cancel")  # click's "Missing argument" too
    assert (no_target.exit_code, no_target.stderr) == (
        2, "Error: cancel needs a job, JOB:owner/name or a run id\n"
           "See: mogrun status (the latest runs)\n"), no_target
    bad_timeout = mogrun("run", "--timeout", "soon", "a")
    assert bad_timeout.exit_code == 2
    assert bad_timeout.stderr.startswith("Error: --timeout: invalid duration 'soon'")
    bad_j = mogrun("run", "-j", "0", "a")
    assert bad_j.exit_code == 2
    unknown = mogrun("nosuchjob")
    assert unknown.exit_code == 2
    assert mogrun_emulator.runs == []


def test_dry_run_sends_nothing(project, mogrun, mogrun_emulator):
    project("""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
    """)
    result = mogrun("run", "-n", "a")
    assert result.exit_code == 0, result
    assert "acme/api" in result.stdout
    assert mogrun_emulator.requests == []


def test_timeout_counts_from_the_start_not_from_waiting_for_needs(project, mogrun):
    project("""
        [jobs.first]
        repo = "acme/api"
        prompt = "@emulator duration=1s"
        timeout = "5s"
        [jobs.second]
        repo = "acme/web"
        prompt = "@emulator duration=0.3s"
        timeout = "0.9s"
        needs = ["first"]
    """)
    result = mogrun("--json", "second")
    assert result.exit_code == 0, result
    outcomes = [(r["job"], r["outcome"]) for r in json_lines(result.stdout)[-1]["results"]]
    assert outcomes == [("first", "success"), ("second", "success")]


def test_read_only_project_still_runs_with_a_warning(project, mogrun, tmp_path):
    project("""
        [jobs.a]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s"
    """)
    (tmp_path / ".mogrun").write_text("not a directory")
    result = mogrun("a")
    assert result.exit_code == 0, result
    assert "runs will not be recorded" in result.stderr


def test_a_local_run_where_mogrun_is_a_file_says_why_in_words(mogrun_project, tmp_path):
    """The --local events' log said "[Errno 17] File exists: '/.../.mogrun'" where
    the history's warning beside it says ".mogrun is not a folder"."""
    mogrun_project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "@emulator duration=0.2s"\n\n')
    (mogrun_project.root / ".mogrun").write_text("not a directory\n")
    result = mogrun_project.run("--local", "a", env={"MOGRUN_POLL_INTERVAL": "0.1"})
    assert result.exit_code == 0, result
    folder = mogrun_project.root / ".mogrun"
    assert f"warning: cannot keep the --local runs' events: {folder} is not a folder\n" \
        in result.stderr, result
    assert "Errno" not in result.stderr, result


def test_a_run_ending_as_its_timeouts_cancel_goes_out_is_judged_with_its_last_events(
        project, mogrun, mogrun_emulator):
    """The cancel answers 409 CONFLICT (the run had just ended on its own): the run is
    judged with the events it emitted at the end, which are shown; a gate requiring
    ``finished`` passes instead of failing for want of it."""
    mogrun_emulator.add_fault("cancel", "conflict")
    project("""
        [jobs.edge]
        repo = "acme/api"
        prompt = "@emulator duration=never interval=0.1s"
        timeout = "600ms"
        gates = {require_events = ["finished"]}
    """)
    result = mogrun("edge")
    assert result.exit_code == 0, result
    assert "edge  finished" in result.stdout
    (row,) = history_rows(mogrun)
    assert (row["status"], row["outcome"]) == ("success", "success")


EDGE = """
    [jobs.edge]
    repo = "acme/api"
    prompt = "@emulator duration=never interval=0.1s"
    timeout = "600ms"
"""  # a run that never ends by itself, so its timeout's cancel meets the server


def test_a_cancel_refused_while_the_run_goes_on_is_not_taken_for_its_end(
        project, mogrun, mogrun_emulator):
    """The server also answers 409 CONFLICT when it cannot reach the sandbox to stop
    the agent ("Sandbox is not ready"), and the run goes on: the timeout then says
    the run may still be going, never that it ended or was cancelled."""
    mogrun_emulator.add_fault("cancel", "not_ready")
    project(EDGE)
    result = mogrun("edge")
    assert result.exit_code != 0, result
    (run_id,) = mogrun_emulator.runs
    assert (f"edge: timed out after 600ms; the cancel did not get through (Sandbox is not "
            f"ready (CONFLICT, HTTP 409)); run {run_id} may still be going — cancel it with: "
            f"mogrun cancel {run_id}") in result.stderr
    assert "cancelled run" not in result.stderr
    assert mogrun_emulator.run_detail(run_id)["status"] not in ("cancelled", "success")
    (row,) = history_rows(mogrun)
    assert row["outcome"] == "timeout"


@pytest.mark.parametrize(("count", "cancelled"), [(2, True), (3, False)])
def test_a_cancel_the_server_asks_to_retry_is_sent_again(project, mogrun, mogrun_emulator,
                                                        count, cancelled):
    """The newest server answers 409 "Run state changed; retry cancellation" when its
    update lost to another write, and nothing is done: the cancel is sent again (three
    times in all), not reported as one that did not get through."""
    mogrun_emulator.add_fault("cancel", "changed", count=count)
    project(EDGE)
    result = mogrun("edge")
    assert result.exit_code == 1, result
    (run_id,) = mogrun_emulator.runs
    cancels = [r for r in mogrun_emulator.requests if r.path.endswith("/cancel")]
    assert [r.status for r in cancels] == [409] * count + [200] * (3 - count)
    assert mogrun_emulator.run_detail(run_id)["status"] == (
        "cancelled" if cancelled else "streaming")
    assert (f"cancelled run {run_id}" in result.stderr) is cancelled
    assert ("Run state changed; retry cancellation" in result.stderr) is not cancelled


def test_an_attached_run_is_left_going_at_this_invocations_timeout(
        project, mogrun, mogrun_emulator):
    project("""
        [jobs.long]
        repo = "acme/api"
        prompt = "@emulator duration=never interval=0.1s"
        idempotency_key = "long-once"
    """)
    assert mogrun("run", "--detach", "long").exit_code == 0
    (run_id,) = mogrun_emulator.runs
    result = mogrun("run", "--timeout", "500ms", "long")
    assert result.exit_code == 1, result
    assert mogrun_emulator.count("POST", f"/runs/{run_id}/cancel") == 0
    assert mogrun_emulator.run_detail(run_id)["status"] == "streaming"
    assert ("timed out after 500ms; left running (this invocation only attached to it) — "
            f"resume with: mogrun logs --follow {run_id}") in result.stderr


def test_local_detached_runs_get_no_resume_command_that_cannot_work(project, mogrun):
    project("""
        [jobs.long]
        repo = "acme/api"
        prompt = "@emulator duration=never interval=0.2s"
        [jobs.slow]
        repo = "acme/web"
        prompt = "@emulator duration=never interval=0.2s"
        timeout = "300ms"
        on_timeout = "detach"
    """)
    detached = mogrun("--local", "run", "--detach", "long")
    assert detached.exit_code == 0, detached
    timed_out = mogrun("--local", "slow")
    assert timed_out.exit_code == 1, timed_out
    for result in (detached, timed_out):
        assert "mogrun logs --follow" not in result.stderr
        assert "the --local emulator stops when mogrun exits" in result.stderr
    assert "mogrun --local logs" not in detached.stderr
    refused = mogrun("--local", "logs", "--follow", "long")
    assert refused.exit_code == 2  # which is why no such command is suggested


def test_a_local_cancel_that_did_not_get_through_names_no_command_that_cannot_work():
    """Under --local, 'cancel it with: mogrun --local cancel ID' was said, which is
    refused (--local runs end with the invocation that started them)."""
    from types import SimpleNamespace

    from mogrun.engine.context import SessionDeps
    from mogrun.engine.runner import _cancel_failed
    from mogrun.errors import MogrunError

    track = SimpleNamespace(run_id="r-1", secrets=frozenset())
    for local, said in ((True, "the --local emulator stops when mogrun exits, and the run "
                                "with it"),
                        (False, "cancel it with: mogrun cancel r-1")):
        deps = SimpleNamespace(local=local, command="mogrun")
        deps.resume_hint = lambda run_id, verb="resume", d=deps: SessionDeps.resume_hint(
            d, run_id, verb)
        deps.cancel_hint = lambda run_id, d=deps: SessionDeps.cancel_hint(d, run_id)
        text = _cancel_failed(deps, track, MogrunError("no room"), "interrupted")
        assert text == ("interrupted; the cancel did not get through (no room); run r-1 may "
                        f"still be going — {said}")


def test_a_run_past_the_event_cap_is_said_while_it_runs_and_at_its_timeout(project, mogrun):
    """Past 200 events the contract's server answers the same first 200: `run` sat
    silent until the timeout, which cancelled the run and said nothing of the
    events it never showed (its cancel's own among them)."""
    project("""
        [jobs.chatty]
        repo = "acme/api"
        prompt = "@emulator duration=never interval=5ms"
        timeout = "3s"
    """)
    result = mogrun("chatty")
    assert result.exit_code == 1, result
    lines = result.stderr.splitlines()
    said = [i for i, line in enumerate(lines) if "has reached 200 events" in line]
    ended = [i for i, line in enumerate(lines) if "timed out after 3s" in line]
    assert len(said) == 1 and ended and said[0] < ended[0], result.stderr
    assert result.stderr.count("this run had more than 200 events") == 1, result.stderr


def test_a_key_another_job_sent_is_said_as_that_jobs(project, mogrun, mogrun_emulator):
    """'the job's prompt changed since invocation ...' though job b had never run and
    its prompt never changed: job a had sent the key."""
    project("""
        [jobs.a]
        repo = "acme/api"
        idempotency_key = "shared-key"
        prompt = "job a\\n@emulator duration=0.2s"

        [jobs.b]
        repo = "acme/api"
        idempotency_key = "shared-key"
        prompt = "job b\\n@emulator duration=0.2s"
    """)
    assert mogrun("a").exit_code == 0
    result = mogrun("b")
    assert result.exit_code == 1, result
    assert ": job a sent this key in invocation " in result.stderr, result
    assert "give each job its own idempotency_key" in result.stderr
    assert "changed since" not in result.stderr
