"""`status`, `logs`, `cancel`, `history` against history.db and the emulator."""

from __future__ import annotations

import json
import time

import pytest

from mogrun.emulator import Limits

from .conftest import FAN_GOING, HEADER, history_rows, json_lines, runs_by_repo

JOBS = """
    [jobs.hello]
    repo = "acme/api"
    prompt = "@emulator duration=0.3s message='hello from the agent'"
""" + FAN_GOING

GONE = "00000000-0000-4000-8000-000000000000"  # a run id (a UUID) the server does not know


def test_history_is_recorded_beside_the_task_file(project, mogrun, mogrun_emulator, tmp_path):
    project(JOBS)
    assert mogrun("hello").exit_code == 0
    assert (tmp_path / ".mogrun" / ".gitignore").read_text() == "*\n"
    assert (tmp_path / ".mogrun" / "history.db").exists()
    plain = mogrun("history")
    assert plain.exit_code == 0, plain
    assert mogrun_emulator.runs[0] in plain.stdout
    assert plain.stdout.splitlines()[0].split()[:3] == ["started", "job", "repo"]
    token = mogrun_emulator.write_token
    assert token.encode() not in (tmp_path / ".mogrun" / "history.db").read_bytes()


def test_local_runs_are_kept_apart(project, mogrun, mogrun_emulator):
    project(JOBS)
    assert mogrun("hello").exit_code == 0
    assert mogrun("--local", "hello").exit_code == 0
    remote = history_rows(mogrun)
    local = json_lines(mogrun("--local", "--json", "history").stdout)
    assert [r["base_url"] for r in remote] == [mogrun_emulator.url]
    assert [r["base_url"] for r in local] == ["local"]
    assert remote[0]["run_id"] != local[0]["run_id"]


def test_logs_of_a_job_prints_its_events(project, mogrun, mogrun_emulator):
    project(JOBS)
    assert mogrun("hello").exit_code == 0
    result = mogrun("logs", "hello")
    assert result.exit_code == 0, result
    assert "  hello  log  -  hello from the agent" in result.stdout
    by_id = mogrun("logs", mogrun_emulator.runs[0])
    assert by_id.stdout == result.stdout


def test_status_refreshes_from_the_api_and_cancel_by_job(project, mogrun, mogrun_emulator):
    project(JOBS)
    assert mogrun("run", "--detach", "fan").exit_code == 0
    api_run, web_run = runs_by_repo(mogrun_emulator, "acme/api", "acme/web")
    time.sleep(0.7)  # past the emulator's pending phase
    status = mogrun("--json", "status", "fan")
    assert status.exit_code == 0, status
    assert sorted(o["status"] for o in json_lines(status.stdout)) == ["streaming", "streaming"]
    one = mogrun("cancel", "fan:acme/web")
    assert one.exit_code == 0, one
    assert f"{web_run} (fan:acme/web) cancelled" in one.stdout
    assert mogrun_emulator.run_detail(api_run)["status"] == "streaming"
    rest = mogrun("cancel", "fan")
    assert rest.exit_code == 0, rest
    assert f"{web_run} (fan:acme/web) had already ended: cancelled" in rest.stdout
    assert mogrun_emulator.run_detail(api_run)["status"] == "cancelled"
    after = {r["run_id"]: r["status"] for r in history_rows(mogrun)}
    assert after == {api_run: "cancelled", web_run: "cancelled"}


def test_logs_follow_exits_by_the_runs_end(project, mogrun, mogrun_emulator):
    project("""
        [jobs.ok]
        repo = "acme/api"
        prompt = "@emulator duration=0.8s"
        [jobs.bad]
        repo = "acme/api"
        prompt = "@emulator duration=0.8s status=failed"
    """)
    assert mogrun("run", "--detach", "ok", "bad").exit_code == 0
    ok = mogrun("logs", "--follow", "ok")
    bad = mogrun("logs", "--follow", "bad")
    assert ok.exit_code == 0, ok
    assert bad.exit_code == 1, bad
    assert ok.stdout.splitlines()[-1].endswith("  success  success")
    assert bad.stdout.splitlines()[-1].endswith(
        "  failed  failed: The agent run failed; gate status: ended failed, expected success")


def test_status_of_unknown_job_or_run_is_a_clear_error(project, mogrun):
    project(JOBS)
    result = mogrun("status", "hello")
    assert result.exit_code == 2, result
    assert result.stderr.startswith("Error: no recorded runs of 'hello'")
    other = mogrun("status", "run_doesnotexist")
    assert other.exit_code == 2, other
    assert "Traceback" not in other.stderr


def test_a_job_removed_from_the_task_file_is_still_found_in_history(project, mogrun):
    project(JOBS)
    assert mogrun("hello").exit_code == 0
    project("""
        [jobs.other]
        repo = "acme/api"
        prompt = "x"
    """)
    result = mogrun("--json", "status", "hello")
    assert result.exit_code == 0, result
    assert [o["job"] for o in json_lines(result.stdout)] == ["hello"]


def test_history_with_a_limit_beyond_sqlite_integers_lists_everything(project, mogrun,
                                                                     mogrun_emulator):
    project(JOBS)
    assert mogrun("hello").exit_code == 0
    result = mogrun("history", "-n", "99999999999999999999999")
    assert result.exit_code == 0, result
    assert mogrun_emulator.runs[0] in result.stdout
    assert "Traceback" not in result.stderr


def test_logs_masks_env_values_the_agent_echoes_as_run_does(project, mogrun, tmp_path):
    secret = "hunter2-very-secret"
    project("""
        [jobs.leak]
        repo = "acme/api"
        prompt_file = "leak.md"
    """)
    (tmp_path / "leak.md").write_text(
        "use {{ env.DEPLOY_KEY }}\n@emulator duration=0.3s events=4 tools=none "
        "message='key={{ env.DEPLOY_KEY }}'\n")
    env = {"DEPLOY_KEY": secret}
    run = mogrun("leak", env=env)
    assert run.exit_code == 0, run
    assert "key=***" in run.stdout and secret not in run.output
    for args in (("logs", "leak"), ("--json", "logs", "leak"), ("logs", "--follow", "leak")):
        result = mogrun(*args, env=env)
        assert result.exit_code == 0, result
        assert "key=***" in result.stdout
        assert secret not in result.output


def detached_fan(project, mogrun, mogrun_emulator) -> tuple[str, str]:
    """``fan`` over acme/api and acme/web, started with --detach: its two run ids."""
    project("""
        [jobs.fan]
        repo = ["acme/api", "acme/web"]
        prompt = "{{ repo }}\\n@emulator duration=never interval=0.2s"
    """)
    assert mogrun("run", "--detach", "fan").exit_code == 0
    return runs_by_repo(mogrun_emulator, "acme/api", "acme/web")


def forget(tmp_path, run_id: str) -> None:
    """History names ``run_id`` as a run the server never knew (``GONE``)."""
    import sqlite3

    with sqlite3.connect(tmp_path / ".mogrun" / "history.db") as db:
        db.execute("UPDATE runs SET run_id = ? WHERE run_id = ?", (GONE, run_id))


def test_cancel_job_goes_on_past_a_run_the_server_no_longer_knows(project, mogrun,
                                                                  mogrun_emulator, tmp_path):
    api_run, web_run = detached_fan(project, mogrun, mogrun_emulator)
    forget(tmp_path, api_run)
    result = mogrun("cancel", "fan")
    assert result.exit_code == 1, result
    assert GONE in result.stderr
    assert f"{web_run} (fan:acme/web) cancelled" in result.stdout
    assert mogrun_emulator.run_detail(web_run)["status"] == "cancelled"
    mogrun("cancel", api_run)


def test_a_cancel_the_server_refuses_as_a_conflict_says_the_run_goes_on(
        project, mogrun, mogrun_emulator):
    """409 "Sandbox is not ready" was said in the server's words alone: nothing said
    the run was not cancelled, nor how to try again."""
    api_run, _web_run = detached_fan(project, mogrun, mogrun_emulator)
    mogrun_emulator.add_fault("cancel", "not_ready", count=100)
    result = mogrun("cancel", api_run)
    assert result.exit_code == 1, result
    assert "(CONFLICT, HTTP 409)" in result.stderr, result
    assert "Nothing was cancelled: the run goes on. Cancel it again in a moment with: " \
        f"mogrun cancel {api_run}" in result.stderr, result
    assert mogrun_emulator.run_detail(api_run)["status"] != "cancelled"
    mogrun_emulator.clear_faults()
    assert mogrun("cancel", "fan").exit_code == 0


def test_status_exit_status_of_a_run_the_server_no_longer_knows_is_not_going(
        project, mogrun, mogrun_emulator, tmp_path):
    """It said 3 (still going) for ever: a CI loop polling until it is not 3 spun."""
    api_run, web_run = detached_fan(project, mogrun, mogrun_emulator)
    going = mogrun("status", "--exit-status")
    assert going.exit_code == 3, going
    forget(tmp_path, api_run)
    result = mogrun("status", "--exit-status")
    assert result.exit_code == 1, result
    assert GONE in result.stderr and "unknown" in result.stdout, result
    shown = mogrun("--json", "status").stdout.splitlines()
    rows = {row["repo"]: row for row in map(json.loads, shown)}
    assert rows["acme/api"]["status"] == "unknown"  # shown so, never recorded so
    assert mogrun("cancel", web_run).exit_code == 0


def test_logs_job_goes_on_past_a_run_the_server_no_longer_knows(project, mogrun,
                                                                mogrun_emulator, tmp_path):
    project("""
        [jobs.fan]
        repo = ["acme/api", "acme/web"]
        prompt = "{{ repo }}\\n@emulator duration=0.3s message='hello from {{ repo }}'"
    """)
    assert mogrun("fan").exit_code == 0
    (api_run,) = runs_by_repo(mogrun_emulator, "acme/api")
    forget(tmp_path, api_run)
    for args in (("logs", "fan"), ("logs", "--follow", "fan")):
        result = mogrun(*args)
        assert result.exit_code == 1, result
        assert "fan:acme/api: Run not found" in result.stderr
        assert "hello from acme/web" in result.stdout


def test_history_of_one_run_label_as_logs_takes_it(project, mogrun, mogrun_emulator):
    project(JOBS)
    assert mogrun("run", "--detach", "fan").exit_code == 0
    _, web_run = runs_by_repo(mogrun_emulator, "acme/api", "acme/web")
    only = json_lines(mogrun("--json", "history", "--job", "fan:acme/web").stdout)
    assert [(r["job"], r["repo"], r["run_id"]) for r in only] == [("fan", "acme/web", web_run)]
    # owner/name in any case, as the task file takes it ("no recorded runs" before)
    assert json_lines(mogrun("--json", "history", "--job", "fan:Acme/WEB").stdout) == only
    status = mogrun("status", "fan:ACME/Web")
    assert status.exit_code == 0 and web_run in status.stdout, status
    logs = mogrun("logs", "fan:ACME/Web")
    assert logs.exit_code == 0 and "fan:acme/web  started" in logs.stdout, logs
    typo = mogrun("history", "--job", "fan:acme/wbe")
    assert typo.exit_code == 2, typo
    assert 'did you mean "fan:acme/web"?' in typo.stderr
    unknown = mogrun("history", "--job", "fna:acme/web")
    assert unknown.exit_code == 2 and 'did you mean "fan:acme/web"?' in unknown.stderr, unknown
    assert mogrun("cancel", "fan").exit_code == 0


def test_history_of_one_run_by_its_id(project, mogrun, mogrun_emulator):
    """``history --job ID`` said 'unknown job or run' for a run this history holds."""
    project(JOBS)
    assert mogrun("run", "--detach", "fan").exit_code == 0
    _, web_run = runs_by_repo(mogrun_emulator, "acme/api", "acme/web")
    only = json_lines(mogrun("--json", "history", "--job", web_run.upper()).stdout)
    assert [(r["job"], r["repo"], r["run_id"]) for r in only] == [("fan", "acme/web", web_run)]
    other = "00000000-0000-4000-8000-000000000000"
    unknown = mogrun("history", "--job", other)
    assert unknown.exit_code == 2 and f'unknown job or run "{other}"' in unknown.stderr
    assert mogrun("cancel", "fan").exit_code == 0


def test_status_and_logs_say_what_they_wait_for(project, mogrun, mogrun_emulator):
    """They sat silent through a 503's Retry-After (60 s on the real server) or a
    429's; run announced the same waits."""
    project(JOBS)
    assert mogrun("run", "--detach", "fan").exit_code == 0
    mogrun_emulator.add_fault("events", "503", retry_after=1)
    status = mogrun("--json", "status", "fan")
    assert status.exit_code == 0, status
    assert len(json_lines(status.stdout)) == 2  # stdout stays JSON
    (wait,) = [line for line in status.stderr.splitlines() if line.startswith("wait ")]
    assert wait.startswith("wait retry: ") and "; ends in 1s (" in wait, status.stderr
    mogrun_emulator.add_fault("events", "429", retry_after=1)
    logs = mogrun("logs", "fan:acme/api")
    assert logs.exit_code == 0, logs
    assert "wait rate_limited: " in logs.stderr
    mogrun_emulator.add_fault("events", "503", retry_after=1)
    quiet = mogrun("-q", "status", "fan")
    assert quiet.exit_code == 0 and "wait retry: " in quiet.stderr  # never silent
    assert quiet.stdout.count("\n") == 4  # the table: header, rule, two runs
    assert mogrun("cancel", "fan").exit_code == 0


def test_asked_whether_a_job_that_never_started_passed_the_answer_is_no(project, mogrun):
    """docs/cli.md: status --exit-status is 1 when no run is recorded, logs --follow
    1 unless each passed; both said 2 (a usage error) for a job of the file that
    never ran, or whose only run was skipped."""
    project("""
        [jobs.bad]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s status=failed"

        [jobs.after]
        repo = "acme/web"
        prompt = "@emulator duration=0.2s"
        needs = ["bad"]

        [jobs.never]
        repo = "acme/web"
        prompt = "@emulator duration=0.2s"
    """)
    assert mogrun("after").exit_code == 1  # bad failed, after skipped
    followed = mogrun("logs", "--follow", "after")
    assert followed.exit_code == 1, followed
    assert "no started runs recorded for 'after'" in followed.stderr
    assert mogrun("logs", "after").exit_code == 2  # not asked whether it passed
    status = mogrun("status", "--exit-status", "never")
    assert status.exit_code == 1, status
    assert "no recorded runs of 'never'" in status.stderr
    assert mogrun("status", "never").exit_code == 2


def test_history_and_status_mark_a_run_an_invocation_only_attached_to(project, mogrun,
                                                                        mogrun_emulator):
    """Two invocations of one fixed key are two rows of one run, both success: the
    second only attached to it, and the tables say so as its summary did."""
    project("""
        [jobs.daily]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s"
        idempotency_key = "daily-fixed"   # the same run, whoever starts it

    """)
    assert mogrun("daily").exit_code == 0
    again = mogrun("daily")
    assert again.exit_code == 0 and "success (attached)" in again.stdout, again
    [run_id] = mogrun_emulator.runs
    shown = [line.split() for line in mogrun("history").stdout.splitlines()[2:]]
    assert [(cells[3], cells[5:7]) for cells in shown] == [
        (run_id, ["success", "(attached)"]), (run_id, ["success", "0"])]
    assert [r["attached"] for r in history_rows(mogrun)] == [True, False]
    status = mogrun("status").stdout.splitlines()
    assert "  success (attached)  " in status[2], status


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=1, idle=30.0,
                                           reap=0.1))
def test_status_says_a_detached_run_was_refused_for_capacity(project, mogrun,
                                                             mogrun_emulator):
    """The server has one slot where the file says three: the second start of a
    detached fan-out is refused after it was made. A followed run retries that by
    itself; a detached one was shown as a plain failure, its reason nowhere."""
    project("""
        [jobs.fan]
        repo = ["acme/api", "acme/web"]
        prompt = "{{ repo }}\\n@emulator duration=never interval=0.2s"
    """, header=HEADER + "sandboxes = 3\n")
    assert mogrun("run", "--detach", "-j", "1", "fan").exit_code == 0
    api_run, web_run = runs_by_repo(mogrun_emulator, "acme/api", "acme/web")
    deadline = time.monotonic() + 10
    while mogrun_emulator.run_detail(web_run)["status"] != "failed":
        assert time.monotonic() < deadline, mogrun_emulator.run_detail(web_run)
        time.sleep(0.05)
    result = mogrun("status")
    assert result.exit_code == 0, result
    assert (f"fan:acme/web: run {web_run} was refused for capacity (Too many active "
            "sandboxes): it never ran; mogrun rerun starts it again") in result.stdout
    assert f"fan:acme/api: run {api_run}" not in result.stdout
    rows = {row["repo"]: row for row in json_lines(mogrun("--json", "status").stdout)}
    assert rows["acme/web"]["outcome"] == "failed"
    assert rows["acme/web"]["message"] == "Too many active sandboxes"
    assert rows["acme/web"]["note"].startswith(f"run {web_run} was refused for capacity")
    assert rows["acme/api"]["note"] is None
    assert mogrun("cancel", api_run).exit_code == 0


def test_logs_follow_says_a_bad_poll_interval_once_before_any_thread(project, mogrun):
    """Read in each run's follower thread: a traceback per run, exit 1."""
    project("""
        [jobs.fan]
        repo = ["acme/api", "acme/web"]
        prompt = "@emulator duration=0.2s"
    """)
    assert mogrun("-q", "fan").exit_code == 0
    for args in (("logs", "--follow", "fan"), ("logs", "fan")):
        result = mogrun(*args, env={"MOGRUN_POLL_INTERVAL": "abc"})
        assert result.exit_code == 2, result
        assert result.stderr.splitlines() == [
            "Error: MOGRUN_POLL_INTERVAL must be a number of seconds over 0 and at most 60 "
            "(such as 0.5), got 'abc'"], result
        assert result.stdout == ""


def test_logs_of_the_latest_invocation_names_each_run_it_has_no_events_of(project, mogrun):
    """A run of the invocation that never started (skipped for its needs) was left
    out of ``logs`` without a word: it is said on stderr, a ``not_started`` object
    with --json, and the runs that did start are shown as before."""
    project("""
        [jobs.bad]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s status=failed message='from bad'"

        [jobs.after]
        repo = "acme/web"
        prompt = "@emulator duration=0.2s"
        needs = ["bad"]
    """)
    assert mogrun("after").exit_code == 1
    plain = mogrun("logs")
    assert plain.exit_code == 0, plain
    assert "from bad" in plain.stdout
    assert ("note: after: no run to show (skipped: needs bad, which did not pass (failed))"
            in plain.stderr), plain.stderr
    said = [o for o in json_lines(mogrun("--json", "logs").stdout) if o["type"] == "not_started"]
    assert said == [{"type": "not_started", "job": "after", "repo": "acme/web",
                     "label": "after", "attempt": 1,
                     "message": "no run to show (skipped: needs bad, which did not pass "
                                "(failed))"}]


@pytest.mark.parametrize("command", ["history", "status"])
def test_a_table_wider_than_the_terminal_is_shown_a_block_per_run(project, mogrun, command,
                                                                  monkeypatch):
    """At 80 columns history's table took 105 and the terminal wrapped it, cutting
    each run id across two lines, half of which reads as an id (QA pass in a pty).
    Wider than the screen, each run is its `header: value` pairs, every one whole;
    in a pipe the table stays a table, whatever COLUMNS says."""
    project("""
        [jobs.nightly-dependency-cleanup]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s"
    """)
    assert mogrun("run", "nightly-dependency-cleanup").exit_code == 0
    [row] = history_rows(mogrun)
    piped = mogrun(command, env={"COLUMNS": "80"})
    assert row["run_id"] in piped.stdout.splitlines()[2], piped  # a table, as it was
    monkeypatch.setattr("mogrun.tables.is_terminal", lambda stream: True)
    narrow = mogrun(command, env={"COLUMNS": "80"})
    assert narrow.exit_code == 0, narrow
    lines = narrow.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert any(f"run id: {row['run_id']}" in line for line in lines), lines
    assert "job: nightly-dependency-cleanup" in narrow.stdout
    wide = mogrun(command, env={"COLUMNS": "200"})
    assert wide.stdout.splitlines()[0].startswith(("started", "job")), wide  # the table
    assert row["run_id"] in wide.stdout.splitlines()[2], wide


def _two_legs(project, mogrun) -> None:
    """A CI matrix's two legs of ``fan`` sharing this history: leg 1 fails acme/api
    and acme/worker, then leg 2 passes acme/web."""
    fan = """
        [jobs.fan]
        repo = ["acme/api", "acme/web", "acme/worker"]
        prompt = "@emulator duration=0.2s{status}"
    """
    project(fan.format(status=" status=failed"))
    assert mogrun("run", "fan", "--shard", "1/2").exit_code == 1  # acme/api, acme/worker
    project(fan.format(status=""))
    assert mogrun("run", "fan", "--shard", "2/2").exit_code == 0  # acme/web


def test_status_of_a_sharded_job_shows_every_leg_s_runs(project, mogrun, mogrun_emulator):
    """Legs of a CI matrix sharing one history: status JOB showed the last leg's runs
    alone, and --exit-status said 0 over leg 1's failure; an unsharded run after them
    is the job's latest again, alone."""
    _two_legs(project, mogrun)
    status = mogrun("--json", "status", "--exit-status", "fan")
    assert status.exit_code == 1, status
    shown = {row["repo"]: row["outcome"] for row in json_lines(status.stdout)}
    assert shown == {"acme/api": "failed", "acme/worker": "failed", "acme/web": "success"}
    assert mogrun("run", "fan", "--shard", "2/2").exit_code == 0  # leg 2 again: leg 1 kept
    assert len(json_lines(mogrun("--json", "status", "fan").stdout)) == 3
    assert mogrun("fan").exit_code == 0
    status = mogrun("--json", "status", "--exit-status", "fan")
    assert status.exit_code == 0, status
    assert len(json_lines(status.stdout)) == 3
    assert {row["invocation"] for row in json_lines(status.stdout)} == {
        history_rows(mogrun, "-n", "1")[0]["invocation"]}


def test_a_leg_s_one_run_of_a_fan_out_is_labelled_as_the_fan_out_s(
        project, mogrun, mogrun_emulator):
    """Each leg of --shard 1/2 held one run of fan: counted per invocation, each was
    labelled "fan" (cancel, logs, rerun could not tell them apart), and with acme/api
    then taken out of the list, its run read as a one-repo job's and was still judged
    (it is the fan-out's run of a repo the job no longer lists)."""
    project(FAN_GOING)
    for leg in ("1/2", "2/2"):
        assert mogrun("run", "fan", "--detach", "--shard", leg).exit_code == 0
    api_run, web_run = runs_by_repo(mogrun_emulator, "acme/api", "acme/web")
    preview = mogrun("rerun", "-n", "fan")
    assert f"fan:acme/web: run {web_run} was left going" in preview.stderr, preview
    cancelled = mogrun("cancel", "fan")
    assert cancelled.exit_code == 0, cancelled
    assert f"{api_run} (fan:acme/api) cancelled" in cancelled.stdout, cancelled
    assert f"{web_run} (fan:acme/web) cancelled" in cancelled.stdout, cancelled
    project(FAN_GOING.replace('"acme/api", ', ""))
    status = mogrun("status", "fan")
    assert "acme/web" in status.stdout and "acme/api" not in status.stdout, status


def test_rerun_and_logs_with_no_job_named_read_every_leg_of_a_matrix(
        project, mogrun, mogrun_emulator):
    """With no job named, rerun and logs read the newest invocation: after a CI
    matrix's legs, the leg that ended last alone, so leg 1's failures were not
    rerun ("nothing to rerun") and its runs not shown."""
    _two_legs(project, mogrun)
    planned = mogrun("rerun", "-n")
    assert "acme/api" in planned.stdout and "acme/worker" in planned.stdout, planned
    logs = mogrun("--json", "logs")
    assert {row.get("label") or row.get("run") for row in json_lines(logs.stdout)} >= {
        "fan:acme/api", "fan:acme/web", "fan:acme/worker"}, logs
