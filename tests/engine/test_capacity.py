"""Sandbox capacity end to end: the CLI against an emulator with the server's cap.

The emulator keeps sandboxes as the server does (reuse by repo + branch +
root, a cap per account, idle reaping); these tests shorten the idle time so
a 12-repo fan-out goes through its waves in seconds.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import defaultdict

import pytest

from mogrun.emulator import Limits

from .conftest import history_rows, json_lines, subprocess_env

REPOS = [f"acme/r{n:02d}" for n in range(1, 13)]
CAPPED = Limits(requests=0, starts=(), sandboxes=3, idle=0.3, reap=0.1)
BURST = 6  # 503s in a row: more than one GET /sandboxes retries through


def fan_out(project, extra: str = "", header_extra: str = "", repos: list[str] = REPOS) -> None:
    listed = ", ".join(f'"{r}"' for r in repos)
    project(f"""
        [jobs.fan]
        repo = [{listed}]
        prompt = "@emulator duration=0.3s events=2"
        {extra}
    """, header=HEADER + header_extra)


HEADER = """\
[mogplex]
requests_per_minute = 6000
starts_per_minute = 1000\r
"""


def runs_per_repo(emulator) -> dict[str, list[dict]]:
    names = {emulator.repo_id(r): r for r in REPOS}
    found: dict[str, list[dict]] = defaultdict(list)
    for run_id in emulator.runs:
        detail = emulator.run_detail(run_id)
        found[names[detail["repoId"]]].append(detail)
    return found


def start_keys(emulator) -> list[str]:
    return [r.idempotency_key for r in emulator.requests
            if r.method == "POST" and r.path.endswith("/runs") and r.idempotency_key]


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_capped_fan_out_with_busy_sandboxes_passes_and_never_exceeds_the_cap(
        project, mogrun, mogrun_emulator):
    mogrun_emulator.occupy_sandboxes(2, busy=1.0, repo="acme/r12")  # another client's work
    fan_out(project)
    result = mogrun("--json", "run", "-j", "6", "fan")
    assert result.exit_code == 0, result
    summary = json_lines(result.stdout)[-1]
    assert [r["outcome"] for r in summary["results"]] == ["success"] * 12
    assert mogrun_emulator.peak_sandboxes() <= 3
    per_repo = runs_per_repo(mogrun_emulator)
    assert {repo: [d["status"] for d in runs] for repo, runs in per_repo.items()} == {
        repo: ["success"] for repo in REPOS}  # never refused: mogrun waited for slots
    waits = [o for o in json_lines(result.stdout) if o["type"] == "wait"]
    capacity = [w for w in waits if w["kind"] == "capacity"]
    assert capacity, waits
    assert capacity[0]["reason"].startswith("waiting for a sandbox slot: 3 of 3 busy (")
    # the job too, as every other wait of a job says it (a consumer filters by job)
    assert {(w["job"], w["run"].partition(":")[0]) for w in capacity} == {("fan", "fan")}
    assert mogrun_emulator.count("GET", "/sandboxes") >= 1
    assert "failed" not in result.stderr


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_tiny_poll_interval_waits_for_no_free_sandbox(project, mogrun, mogrun_emulator):
    """MOGRUN_POLL_INTERVAL=0.000001 (accepted: over 0) made each sandbox listing
    stale before it was read: every start waited "0 of 3 busy", listing again and
    again. A listing is fresh for at least a few hundredths of a second."""
    fan_out(project, repos=REPOS[:3])
    result = mogrun("--json", "run", "-j", "3", "fan", env={"MOGRUN_POLL_INTERVAL": "0.000001"})
    assert result.exit_code == 0, result
    waits = [o for o in json_lines(result.stdout) if o["type"] == "wait"]
    assert [w for w in waits if w["kind"] == "capacity"] == [], waits
    assert mogrun_emulator.count("GET", "/sandboxes") <= 2


@pytest.mark.parametrize("mode", ["plain", "github"])
@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_capacity_wait_is_a_line_in_plain_and_github_output(project, mogrun, mogrun_emulator,
                                                              tmp_path, mode):
    mogrun_emulator.occupy_sandboxes(3, busy=1.0, repo="acme/r12")  # every slot held
    fan_out(project, repos=REPOS[:4])  # the first two runs wait: their line is the point
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
           "GITHUB_OUTPUT": str(tmp_path / "out.txt")} if mode == "github" else {}
    result = mogrun("run", "-j", "2", "fan", env=env)
    assert result.exit_code == 0, result
    lines = [line for line in result.stdout.splitlines() if "  wait  capacity  " in line]
    assert lines, result.stdout
    assert "waiting for a sandbox slot: 3 of 3 busy (" in lines[0]
    assert "; ends in " in lines[0]


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_runs_refused_for_capacity_get_new_attempts_and_a_lost_answer_no_extra_run(
        project, mogrun, mogrun_emulator):
    """mogrun told the account has 6 slots (it has 3): the server refuses some
    boots; each refused run gets attempt 2 (3, ...) under a key derived from its
    own, and the first start answers are lost on the way back."""
    mogrun_emulator.add_fault("start", "drop_after_commit", count=2)
    fan_out(project, header_extra="sandboxes = 6\n")
    result = mogrun("--json", "run", "-j", "12", "fan")
    assert result.exit_code == 0, result
    assert [r["outcome"] for r in json_lines(result.stdout)[-1]["results"]] == ["success"] * 12
    assert "taking 3 as the account's sandbox cap" in result.stderr
    per_repo = runs_per_repo(mogrun_emulator)
    keys = start_keys(mogrun_emulator)
    for repo, runs in per_repo.items():
        assert [d["status"] for d in runs][-1] == "success", repo
        assert all(d["error"] == "Too many active sandboxes" for d in runs[:-1]), runs
        assert sum(d["status"] == "success" for d in runs) == 1
    retried = [k for k in keys if "~attempt-" in k]
    assert retried, keys
    assert len(mogrun_emulator.runs) == len(set(keys))  # one run per key, none more
    assert all(len(k) <= 200 for k in keys)
    rows = history_rows(mogrun)
    attempts = [(r["repo"], r["attempt"], r["why"]) for r in rows if r["attempt"] > 1]
    assert attempts and all(why == "capacity" for _, _, why in attempts)
    refused = [r for r in rows if r["outcome"] == "refused"]
    assert refused and all("refused for capacity" in r["message"] for r in refused)
    assert not [r for r in rows if r["outcome"] == "failed"]
    assert not [o for o in json_lines(result.stdout)
                if o["type"] == "job_finished" and o.get("outcome") != "success"]


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_cap_that_never_frees_ends_in_a_bounded_failure_naming_the_busy_sandboxes(
        project, mogrun, mogrun_emulator):
    mogrun_emulator.occupy_sandboxes(3, busy=None, repo="acme/r12")
    project("""
        [jobs.one]
        repo = "acme/r01"
        prompt = "@emulator duration=0.3s"
        capacity_wait = "1.5s"
    """)
    result = mogrun("one")
    assert result.exit_code == 1, result
    assert mogrun_emulator.runs == []  # nothing was started into a full account
    # acme/r12 is not one of the job's repos: named by one GET /repos?id=, not by its id
    assert ("one: could not start: no sandbox slot freed within the job's capacity_wait "
            "(1.5s): 3 of 3 busy: acme/r12@interactive/") in result.stderr
    assert "waiting for a sandbox slot: 3 of 3 busy (acme/r12@interactive/" in result.stdout
    other = mogrun_emulator.repo_id("acme/r12")
    assert other not in result.stdout + result.stderr
    assert [r.query for r in mogrun_emulator.requests if r.path.endswith("/repos")
            and "id=" in r.query] == [f"id={other}&limit=1"]
    # on mogrun's clock (UTC HH:MM:SS), not as the server writes it
    assert len(re.findall(r" running, last active \d\d:\d\d:\d\d[;:]", result.stderr)) == 3
    assert "waiting for a sandbox slot: 3 of 3 busy (" in result.stdout
    assert "a sandbox frees once idle for the workspace's idle timeout" in result.stderr
    (row,) = history_rows(mogrun)
    assert (row["outcome"], row["exit_code"]) == ("failed", 1)


def test_capacity_wait_and_sandboxes_are_checked_like_every_key(project, mogrun):
    project("""
        [defaults]
        capacity_wait = "soon"

        [jobs.one]
        repo = "acme/api"
        prompt = "go"
    """, header=HEADER + "sandboxes = 0\n")
    result = mogrun("check")
    assert result.exit_code == 2, result
    assert "Error: [mogplex] sandboxes must be a positive integer, not 0" in result.stderr
    assert ('Error: [defaults] key "capacity_wait" is an invalid duration \'soon\''
            in result.stderr)


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=3, idle=1.5,
                                           reap=0.1), repos=REPOS)
def test_rerun_after_a_partial_failure_starts_only_what_did_not_pass(
        project, mogrun, mogrun_emulator):
    """Two slots held by other work and a short capacity_wait: one repo runs, three
    find no slot. After the other work ends, `rerun` starts exactly those three."""
    occupants = mogrun_emulator.occupy_sandboxes(2, busy=None, repo="acme/r12")
    assert len(occupants) == 2
    repos = REPOS[:4]
    job = f"""
        [jobs.fan]
        repo = [{", ".join(f'"{r}"' for r in repos)}]
        prompt = "@emulator duration=0.3s events=2"
        capacity_wait = "{{wait}}"
    """
    project(job.replace("{wait}", "200ms"))
    first = mogrun("fan")
    assert first.exit_code == 1, first
    assert "\nrerun what did not pass: mogrun rerun fan\n" in first.stdout, first.stdout
    passed = [r["repo"] for r in history_rows(mogrun) if r["outcome"] == "success"]
    assert len(passed) == 1
    before = set(mogrun_emulator.runs)

    mogrun_emulator.release_sandboxes()
    project(job.replace("{wait}", "30s"))  # the team gives it more time
    again = mogrun("--json", "rerun")
    assert again.exit_code == 0, again
    new_runs = [r for r in mogrun_emulator.runs if r not in before]
    started = sorted(runs_per_repo(mogrun_emulator).items())
    assert len(new_runs) == 3
    assert sorted(repo for repo, runs in started if any(d["runId"] in new_runs for d in runs)) \
        == sorted(set(repos) - set(passed))
    keys = start_keys(mogrun_emulator)
    assert all(k.endswith("~attempt-2") for k in keys[-3:]), keys
    assert len(set(keys)) == len(keys) and all(len(k) <= 200 for k in keys)
    latest = history_rows(mogrun, "-n", "3")
    assert {(r["attempt"], r["why"], r["outcome"]) for r in latest} == {(2, "rerun", "success")}
    assert mogrun("rerun").stderr.strip() == (
        "nothing to rerun: every run of the latest invocation passed")


def test_rerun_with_no_history_is_a_usage_error(project, mogrun):
    project("""
        [jobs.one]
        repo = "acme/api"
        prompt = "go"
    """)
    result = mogrun("rerun")
    assert result.exit_code == 2, result
    assert "Error: nothing to rerun: no run is recorded in this project's history" in result.stderr


def test_rerun_of_a_mistyped_job_suggests_the_job_and_starts_nothing(
        project, mogrun, mogrun_emulator):
    project("""
        [jobs.broken]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s status=failed"
    """)
    assert mogrun("broken").exit_code == 1
    before = list(mogrun_emulator.runs)
    result = mogrun("rerun", "brokne")
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[:3] == ['Error: unknown job "brokne" in mogplex.toml',
                                              'did you mean "broken"?', "Jobs: broken"]
    assert mogrun_emulator.runs == before


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=1, idle=30.0,
                                           reap=0.1), repos=REPOS)
def test_a_root_written_another_way_is_still_the_sandbox_that_serves_it(
        project, mogrun, mogrun_emulator):
    # The server stores "./apps/web/" as "apps/web" and lists sandboxes so: the
    # second job runs in the first one's sandbox, it need not wait for a slot.
    project("""
        [jobs.first]
        repo = "acme/r01"
        root = "apps/web"
        prompt = "@emulator duration=0.2s"

        [jobs.second]
        repo = "acme/r01"
        root = "./apps/web/"
        prompt = "@emulator duration=0.2s"
        needs = ["first"]
        capacity_wait = "2s"
    """, header=HEADER + "sandboxes = 1\n")
    result = mogrun("second")
    assert result.exit_code == 0, result
    assert "waiting for a sandbox slot" not in result.stdout
    assert len(mogrun_emulator.runs) == 2


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=2, idle=60,
                                           reap=0.1), repos=["acme/mono#apps/web", "acme/r12"])
def test_a_run_naming_no_root_reuses_the_sandbox_of_its_repos_own_root(
        project, mogrun, mogrun_emulator):
    """A monorepo's repo can set the directory its runs work in; a job that names
    no root gets that root's sandbox on the server. With the account full, a second
    run of it (its repo id from the cache this time) starts at once: it waited for
    a slot it did not need, and failed when none freed."""
    mogrun_emulator.occupy_sandboxes(1, busy=None, repo="acme/r12")
    project("""
        [jobs.web]
        repo = "acme/mono"
        prompt = "@emulator duration=0.2s"
        capacity_wait = "1s"
    """, header=HEADER + "sandboxes = 2\n")
    assert mogrun("web").exit_code == 0
    second = mogrun("web")
    assert second.exit_code == 0, second
    assert "waiting for a sandbox slot" not in second.stdout
    assert len(mogrun_emulator.runs) == 2
    assert mogrun_emulator.peak_sandboxes() == 2
    details = [mogrun_emulator.run_detail(r) for r in mogrun_emulator.runs]
    assert {d["rootDirectory"] for d in details} == {"apps/web"}
    assert mogrun_emulator.count("GET", "/repos") == 1  # the second run's id came from the cache


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_job_done_today_attaches_though_the_account_is_full(project, mogrun,
                                                               mogrun_emulator):
    """A {{ date }} key's CI retry of a job that already passed today waited for a
    slot (and failed after capacity_wait) though its start only replays the run."""
    project("""
        [jobs.daily]
        repo = "acme/r01"
        prompt = "@emulator duration=0.2s"
        idempotency_key = "daily-{{ date }}"
        capacity_wait = "1s"
    """, header=HEADER)
    assert mogrun("daily").exit_code == 0
    (run_id,) = mogrun_emulator.runs
    time.sleep(0.6)  # its sandbox is reaped
    assert mogrun_emulator.active_sandboxes() == 0
    mogrun_emulator.occupy_sandboxes(3, busy=None, repo="acme/r12")  # the account is full
    again = mogrun("daily")
    assert again.exit_code == 0, again
    assert f"attached to existing run {run_id}" in again.stderr
    assert "waiting for a sandbox slot" not in again.stdout
    assert mogrun_emulator.runs == [run_id]


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_replayed_old_capacity_refusal_does_not_lower_the_cap(project, mogrun,
                                                                mogrun_emulator):
    """The replay of this morning's refusal was read as a refusal now: the cap
    became the sandboxes active now (1), and the fan-out failed with slots free."""
    job = """
        [jobs.daily]
        repo = "acme/r01"
        prompt = "@emulator duration=0.2s"
        idempotency_key = "daily-{{ date }}"
        capacity_wait = "{wait}"

        [jobs.fan]
        repo = ["acme/r02", "acme/r03"]
        prompt = "@emulator duration=0.2s"
        capacity_wait = "5s"
        needs = ["daily"]
    """
    mogrun_emulator.occupy_sandboxes(3, busy=None, repo="acme/r12")
    project(job.replace("{wait}", "100ms"), header=HEADER + "sandboxes = 5\n")
    first = mogrun("daily")  # mogrun thinks there is room: the server refuses the boot
    assert first.exit_code == 1, first
    mogrun_emulator.release_sandboxes()
    time.sleep(0.6)  # reaped
    mogrun_emulator.occupy_sandboxes(1, busy=None, repo="acme/r12")  # one busy now
    project(job.replace("{wait}", "5s"), header=HEADER)  # the cap set right: 3
    again = mogrun("fan")
    assert again.exit_code == 0, again
    assert "taking 1 as the account's sandbox cap" not in again.stderr
    assert "which the server had refused for capacity" in again.stderr
    assert "mogrun rerun daily" not in again.stderr  # attempt 2 follows by itself


@pytest.mark.parametrize("branch", ["create_branch = true", 'base_branch = "dev"'])
@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=3, idle=60,
                                           reap=0.1), repos=REPOS)
def test_a_run_on_another_branch_waits_for_a_slot_not_a_refusal(
        project, mogrun, mogrun_emulator, branch):
    """A sandbox left on acme/r01's main (by a plain run) was taken to serve a run
    that creates its branch or works on another base: mogrun started it, the server
    refused it for capacity, and each next attempt started at once (29 starts in 3
    minutes, the whole hourly limit). The server's sandbox is that of the working
    branch it works out, which is neither."""
    project(f"""
        [jobs.plain]
        repo = "acme/r01"
        prompt = "@emulator duration=0.2s"

        [jobs.other]
        repo = "acme/r01"
        {branch}
        prompt = "@emulator duration=0.2s"
        capacity_wait = "1.5s"
    """, header=HEADER)
    assert mogrun("plain").exit_code == 0  # its sandbox idles, active, for a minute
    mogrun_emulator.occupy_sandboxes(2, busy=None, repo="acme/r12")
    result = mogrun("other")
    assert result.exit_code == 1, result
    assert len(mogrun_emulator.runs) == 1  # the plain run's: none was started into the cap
    assert "waiting for a sandbox slot: 3 of 3 busy (" in result.stdout
    assert "no sandbox slot freed within the job's capacity_wait" in result.stderr


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_sandbox_list_that_failed_for_a_moment_is_read_again(project, mogrun,
                                                                 mogrun_emulator):
    """A burst of 503s on GET /sandboxes left mogrun blind for good: it started a
    run into the full account every ~6 s, each refused, until Ctrl-C (10 starts
    in 70 s, the start budget spent on nothing)."""
    mogrun_emulator.occupy_sandboxes(3, busy=None, repo="acme/r12")  # never frees
    mogrun_emulator.add_fault("sandboxes", "503", count=BURST)
    project("""
        [jobs.one]
        repo = "acme/r01"
        prompt = "@emulator duration=0.3s"
        capacity_wait = "14s"
    """)
    result = mogrun("one")
    assert result.exit_code == 1, result
    assert "cannot read the account's sandboxes" in result.stderr
    starts = [r for r in mogrun_emulator.requests if r.method == "POST"
              and r.path.endswith("/runs")]
    assert len(starts) == 1, result  # the one blind start; its refusal reads the list again
    assert "no sandbox slot freed within the job's capacity_wait" in result.stderr


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_run_waiting_for_a_slot_in_another_terminal_is_going_not_failed(
        project, mogrun, mogrun_emulator):
    """status --exit-status said 1 (did not pass) for a run another mogrun was still
    waiting to start: a CI poller called a job failed that then ran and passed.
    Once that mogrun is gone (killed), the row is no longer waiting."""
    import signal
    import subprocess
    import sys

    mogrun_emulator.occupy_sandboxes(3, busy=None, repo="acme/r12")  # every slot held
    root = project("""
        [jobs.one]
        repo = "acme/r01"
        prompt = "@emulator duration=0.3s"
        capacity_wait = "60s"
    """)
    env = subprocess_env(mogrun_emulator)
    other = subprocess.Popen([sys.executable, "-m", "mogrun", "run", "one"], cwd=root, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not mogrun_emulator.count("GET", "/sandboxes"):  # it is waiting for a slot
            assert time.monotonic() < deadline and other.poll() is None
            time.sleep(0.05)
        waiting = mogrun("status", "--exit-status")
        assert waiting.exit_code == 3, waiting
        assert "waiting" in waiting.stdout
        assert "waiting" in mogrun("history").stdout  # history says the same
        cancel = mogrun("cancel", "one")  # was: 'no started runs recorded', exit 2
        assert cancel.exit_code == 1, cancel
        assert (f"'one' has not started yet: mogrun (pid {other.pid}) on this machine is "
                "waiting to start it") in cancel.stderr
        # rerun sent its key itself ("its start was never answered"), with no free slot.
        rerun = mogrun("rerun")
        assert rerun.exit_code == 1, rerun
        assert (f"not rerun: mogrun (pid {other.pid}) on this machine is still to start it"
                in rerun.stderr), rerun
        # nothing above says how to follow a run not started: the last line says what to do
        assert rerun.stderr.splitlines()[-1] == (
            "nothing to rerun now: what did not pass is still going (or needs what is); "
            f"rerun once mogrun (pid {other.pid}) on this machine has ended"), rerun
        assert not mogrun_emulator.count("POST", "/runs"), rerun
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait(timeout=20)
    gone = mogrun("status", "--exit-status")
    assert gone.exit_code == 1, gone  # its mogrun was killed: never started, not going
    assert "waiting" not in gone.stdout


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_refused_run_whose_next_attempt_finds_no_slot_is_named_in_the_summary(
        project, mogrun, mogrun_emulator):
    """The summary showed `-` as the run id: the refused run (named in the notice
    above it) exists; the next attempt, which found no slot, made none."""
    mogrun_emulator.occupy_sandboxes(3, busy=None, repo="acme/r12")
    project("""
        [jobs.one]
        repo = "acme/r01"
        prompt = "@emulator duration=0.3s"
        capacity_wait = "1s"
    """, header=HEADER + "sandboxes = 6\n")  # mogrun thinks there is room: refused
    result = mogrun("--json", "run", "one")
    assert result.exit_code == 1, result
    (refused,) = mogrun_emulator.runs
    assert f"run {refused} was refused for capacity" in result.stderr
    (summary,) = json_lines(result.stdout)[-1]["results"]
    assert (summary["run_id"], summary["status"], summary["outcome"]) == (
        refused, "failed", "failed")
    assert "no sandbox slot freed within the job's capacity_wait" in summary["message"]
    plain = mogrun("run", "one")
    assert plain.exit_code == 1, plain
    table = plain.stdout.split("job  repo", 1)[1]
    assert f"one  acme/r01  {mogrun_emulator.runs[-1]}  failed" in table, plain.stdout
    rows = [r for r in history_rows(mogrun) if r["attempt"] == 2]
    assert [(r["run_id"], r["status"]) for r in rows] == [(None, None)] * 2  # made no run


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_history_shows_a_refused_and_retried_attempt_as_refused_not_failed(
        project, mogrun, mogrun_emulator):
    """`history` listed the refused attempt of an invocation that passed as
    `failed` (exit 1): it failed nothing, the next attempt was the run."""
    mogrun_emulator.occupy_sandboxes(3, busy=1.0, repo="acme/r12")
    project("""
        [jobs.one]
        repo = "acme/r01"
        prompt = "@emulator duration=0.3s"
        capacity_wait = "20s"
    """, header=HEADER + "sandboxes = 6\n")  # mogrun thinks there is room: refused once
    result = mogrun("one")
    assert result.exit_code == 0, result
    refused, passed = mogrun_emulator.runs
    rows = {r["attempt"]: r for r in history_rows(mogrun)}
    assert (rows[1]["run_id"], rows[1]["status"], rows[1]["outcome"], rows[1]["exit_code"]) \
        == (refused, "failed", "refused", 0)
    assert rows[1]["message"] == (
        "Too many active sandboxes (refused for capacity; attempt 2 follows)")
    assert (rows[2]["run_id"], rows[2]["outcome"], rows[2]["why"]) == (
        passed, "success", "capacity")
    table = mogrun("history").stdout
    assert f"{refused}  failed   refused  0" in table, table
    assert mogrun("status", "--exit-status").exit_code == 0  # the latest attempt: passed
    assert "nothing to rerun" in mogrun("rerun").stderr
    # logs of the latest invocation act on the same latest attempts as status: the
    # refused attempt's "failed" made `logs --follow` exit 1 for a run that passed
    plain, followed = mogrun("logs"), mogrun("logs", "--follow")
    assert plain.exit_code == 0 and "External Mogplex run failed" not in plain.stdout, plain
    assert followed.exit_code == 0, followed
    assert refused not in followed.stdout and f"{passed}  success" in followed.stdout, followed


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_capacity_wait_never_counts_more_busy_than_the_cap_it_learnt(
        project, mogrun, mogrun_emulator):
    """A refusal taught the cap (3) while another start was still in flight: the
    wait read "4 of 3 busy". Three are busy; the fourth is a start on its way,
    which the server may yet refuse."""
    mogrun_emulator.occupy_sandboxes(3, busy=None, repo="acme/r12")
    mogrun_emulator.add_fault("start", "delay", delay=2.0)  # one start stays in flight
    fan_out(project, 'capacity_wait = "1s"', header_extra="sandboxes = 5\n",
            repos=REPOS[:2])
    result = mogrun("--json", "run", "-j", "2", "fan")
    assert result.exit_code == 1, result
    assert "taking 3 as the account's sandbox cap" in result.stderr
    reasons = [o["reason"] for o in json_lines(result.stdout)
               if o["type"] == "wait" and o["kind"] == "capacity"]
    assert reasons, result.stdout
    assert not [r for r in reasons if " of 3 busy" in r and not r.startswith(
        "waiting for a sandbox slot: 3 of 3 busy")], reasons
    assert any(r.endswith("; 1 more start of this invocation in flight, which the server "
                          "may refuse") for r in reasons), reasons


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=3, idle=0.3,
                                           reap=0.1, boots=((1, 3600.0),)), repos=REPOS)
def test_a_boot_rate_refusal_is_no_cap_and_holds_the_next_boot_back(
        project, mogrun, mogrun_emulator, monkeypatch):
    """The server refuses a boot for its hourly boot rate too ("Sandbox boot rate
    limit exceeded"): it was read as a cap ("taking 1 as the account's sandbox
    cap") though two slots were free. It is the boot rate: the cap stands, and
    the next attempt waits (growing) for the rate's window, not for a slot."""
    from mogrun.engine import boothold

    monkeypatch.setattr(boothold, "BOOT_HOLD", 0.4)
    fan_out(project, 'capacity_wait = "1s"', repos=REPOS[:2])
    result = mogrun("--json", "run", "-j", "1", "fan")
    assert result.exit_code == 1, result
    assert "as the account's sandbox cap" not in result.stderr
    assert ("the server refused to boot a sandbox for its boot rate limit (Sandbox boot rate "
            "limit exceeded), not for want of a slot: new sandboxes wait 400ms") in result.stderr
    waits = [o["reason"] for o in json_lines(result.stdout)
             if o["type"] == "wait" and o["kind"] == "capacity"]
    assert waits and waits[0].startswith(
        "waiting to boot a sandbox: the server's boot rate limit was reached (Sandbox boot "
        "rate limit exceeded); next try in "), waits
    errors = [mogrun_emulator.run_detail(r)["error"] for r in mogrun_emulator.runs]
    assert errors[0] is None and set(errors[1:]) == {"Sandbox boot rate limit exceeded"}
    assert 2 <= len(errors) <= 4  # held back 0.4s, then 0.8s: not a start per poll
    (_, refused) = json_lines(result.stdout)[-1]["results"]
    message = refused["message"]
    if message.startswith("no sandbox could boot within"):
        # A loaded machine (CI's eight workers on two cores): a listing slow to come
        # took what was left of the 1 s wait before the hold was looked at, and the
        # wait ran out holding back, said so: the boot rate, never a cap.
        assert message == (
            "no sandbox could boot within the job's capacity_wait (1s): the server's boot "
            "rate limit was reached (Sandbox boot rate limit exceeded); it frees as the "
            "boots of its window age out"), refused
        return
    assert message.startswith(  # the last hold outlasts the wait: no try left
        "no sandbox can boot within the job's capacity_wait (1s), which ends at "), refused
    assert ("the server's boot rate limit was reached (Sandbox boot rate limit exceeded), "
            "and new sandboxes are held back until ") in message, refused


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=6, idle=30,
                                           reap=0.1, boots=((1, 2.0),)), repos=REPOS)
def test_a_boot_that_succeeds_after_a_boot_hold_resets_it(project, mogrun, mogrun_emulator,
                                                          monkeypatch):
    """After a boot-rate refusal, a hold, and a boot that went through, the next
    refusal held new sandboxes back twice as long as the last hold: the window had
    room again, and the doubling kept growing (to 15 min) over a long fan-out."""
    from mogrun.engine import boothold

    monkeypatch.setattr(boothold, "BOOT_HOLD", 2.5)  # one boot per 2 s on the emulator
    fan_out(project, 'capacity_wait = "30s"', repos=REPOS[:3])
    result = mogrun("run", "-j", "1", "fan")
    assert result.exit_code == 0, result
    errors = [mogrun_emulator.run_detail(r)["error"] for r in mogrun_emulator.runs]
    assert errors == [None, "Sandbox boot rate limit exceeded", None,
                      "Sandbox boot rate limit exceeded", None], result
    holds = [line.split("new sandboxes wait ", 1)[1].split(",", 1)[0]
             for line in result.stderr.splitlines() if "new sandboxes wait " in line]
    assert holds == ["2.5s", "2.5s"], result.stderr


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=6, idle=30,
                                           reap=0.1, boots=((2, 3.0),)), repos=REPOS)
def test_a_burst_of_starts_refused_together_holds_boots_once(project, mogrun, mogrun_emulator,
                                                             monkeypatch):
    """Starts sent together and refused together for the boot rate doubled the hold
    once each: six at once held the next boot 8 minutes for a window that had room
    again in one, and runs failed for a capacity_wait the window would have met.
    Only a refusal of a start sent after the last refusal came says something new."""
    from mogrun.engine import boothold

    monkeypatch.setattr(boothold, "BOOT_HOLD", 3.5)  # two boots per 3 s on the emulator
    fan_out(project, 'capacity_wait = "6s"', repos=REPOS[:4])
    result = mogrun("run", "-j", "4", "fan", env={"MOGRUN_SANDBOXES": "6"})
    assert result.exit_code == 0, result
    refused = [r for r in mogrun_emulator.runs
               if mogrun_emulator.run_detail(r)["error"] == "Sandbox boot rate limit exceeded"]
    assert len(refused) == 2, result  # the two over the window, refused together
    holds = [line.split("new sandboxes wait ", 1)[1].split(",", 1)[0]
             for line in result.stderr.splitlines() if "new sandboxes wait " in line]
    assert holds and all(float(h.rstrip("s")) <= 3.5 for h in holds), result.stderr


@pytest.mark.parametrize("json_output", [False, True])
@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=3, idle=30,
                                           reap=0.1, boots=((1, 3600.0),)), repos=REPOS)
def test_a_boot_hold_past_the_capacity_wait_fails_at_once_saying_why(
        project, mogrun, mogrun_emulator, monkeypatch, json_output):
    """A boot hold that ends after the job's capacity_wait left the run waiting out
    its capacity_wait (its wait line said "next try in 10s; ends in 4s"), then
    failing: no try could come in time. It fails at once, naming both ends."""
    from mogrun.engine import boothold

    monkeypatch.setattr(boothold, "BOOT_HOLD", 10.0)
    fan_out(project, 'capacity_wait = "4s"', repos=REPOS[:2])
    began = time.monotonic()
    result = mogrun(*(["--json"] if json_output else []), "run", "-j", "1", "fan")
    took = time.monotonic() - began
    assert result.exit_code == 1, result
    assert took < 4.0, (took, result)  # r02's capacity_wait alone was 4 s
    assert len(mogrun_emulator.runs) == 2  # r01, and r02's refused attempt: no other try
    why = (r"no sandbox can boot within the job's capacity_wait \(4s\), which ends at "
           r"\d\d:\d\d:\d\dZ: the server's boot rate limit was reached \(Sandbox boot rate "
           r"limit exceeded\), and new sandboxes are held back until \d\d:\d\d:\d\dZ "
           r"\(in \d")
    assert re.search("fan:acme/r02: could not start: " + why, result.stderr), result.stderr
    # the refusal's line promises no attempt it cannot make ("attempt 2 starts when a
    # sandbox can boot" came just before the failure)
    said = result.stderr.index("attempt 2 starts if a sandbox can boot within the job's "
                               "capacity_wait (4s)")
    assert said < result.stderr.index("could not start"), result.stderr
    if json_output:
        lines = json_lines(result.stdout)
        assert not [o for o in lines if o["type"] == "wait"], lines
        (_, failed) = lines[-1]["results"]
        assert re.match(why, failed["message"]), failed
    else:
        assert "  wait  capacity  " not in result.stdout, result.stdout
        assert re.search(r"fan:acme/r02  failed \([0-9a-f-]+\): " + why, result.stdout), (
            result.stdout)


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_status_and_logs_say_a_refused_run_whose_next_attempt_found_no_slot(
        project, mogrun, mogrun_emulator):
    """`status` showed `-  -  failed` for a run the server refused for capacity whose
    next attempt then found no slot, and `logs` showed the refused run's events as
    if they were the run's (or said the invocation "started no run")."""
    mogrun_emulator.occupy_sandboxes(3, busy=None, repo="acme/r12")
    project("""
        # mogrun thinks there is room: the server refuses the boot
        [jobs.one]
        repo = "acme/r01"
        prompt = "@emulator duration=0.3s"
        capacity_wait = "1s"
    """, header=HEADER + "sandboxes = 6\n")
    assert mogrun("run", "one").exit_code == 1
    (refused,) = mogrun_emulator.runs
    said = (f"run {refused} (attempt 1) was refused for capacity (Too many active "
            "sandboxes); attempt 2 never started: no sandbox slot freed within the job's "
            "capacity_wait (1s): 3 of 3 busy: acme/r12@interactive/")
    status = mogrun("status")
    assert status.exit_code == 0, status
    assert "one  acme/r01  -       not started  failed" in status.stdout, status.stdout
    assert f"\none: {said}" in status.stdout, status.stdout
    (row,) = json_lines(mogrun("--json", "status", "one").stdout)
    assert (row["run_id"], row["status"], row["attempt"]) == (None, None, 2), row
    assert row["note"].startswith(said), row
    assert mogrun("status", "--exit-status").exit_code == 1  # it did not pass
    logs = mogrun("logs", "one")
    assert logs.exit_code == 0, logs
    assert f"note: one: {said}" in logs.stderr, logs.stderr
    assert "started no run" not in logs.stderr
    assert "  one  failed  -  External Mogplex run failed" in logs.stdout, logs.stdout
    assert f"note: one: {said}" in mogrun("logs").stderr  # the latest invocation's runs
    first, *events = json_lines(mogrun("--json", "logs", "one").stdout)
    assert (first["type"], first["label"], first["attempt"]) == ("not_started", "one", 2)
    assert first["message"].startswith(said), first
    assert events and {e["run_id"] for e in events} == {refused}, events


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=3, idle=30.0,
                                           reap=0.1), repos=REPOS)
def test_a_shard_leg_waiting_for_its_share_says_so_not_that_the_account_is_full(
        project, mogrun, mogrun_emulator):
    """--shard 1/2 of 3 slots takes 1: with the account's other two free, what holds
    acme/r03 is the leg's share, and the wait and the failure both say that."""
    project("""
        [jobs.fan]
        repo = ["acme/r01", "acme/r02", "acme/r03"]   # leg 1 of 2: r01 and r03
        prompt = "@emulator duration=3s events=3"
        capacity_wait = "1.5s"

    """)
    result = mogrun("run", "fan", "--shard", "1/2")
    assert result.exit_code == 1, result
    waits = [line for line in result.stdout.splitlines() if "  wait  capacity  " in line]
    assert waits, result.stdout
    assert "waiting for a sandbox slot of this leg's share: 1 of its 1 in use (" in waits[0]
    assert "; each of --shard's 2 legs takes 1 of the account's 3 slots; ends in " in waits[0]
    assert "of 3 busy" not in result.stdout + result.stderr
    assert re.search(r"fan:acme/r03: could not start: no sandbox slot of this leg's share "
                     r"freed within the job's capacity_wait \(1\.5s\): 1 of its 1 in use: "
                     r"acme/r01@main running, last active \d\d:\d\d:\d\d;", result.stderr)
    assert "; each of --shard's 2 legs takes 1 of the account's 3 slots; a sandbox frees" in (
        result.stderr)


@pytest.mark.parametrize("detach", [False, True])
def test_a_run_sharing_a_sandbox_still_booting_waits_for_its_vm(
        project, mogrun, mogrun_emulator, detach):
    """a and b both work on acme/api: the server hands b the sandbox a is booting,
    and its harness refuses one without a VM yet ("Sandbox is not ready"). mogrun
    started b at once (a shared sandbox needs no slot): b failed, having done
    nothing. b now waits for the VM (detached too: a's start is let go at once)."""
    project("""
        [jobs.a]
        repo = "acme/api"
        prompt = "@emulator duration=1.5s pending=0.8s"

        [jobs.b]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s"
    """)
    result = mogrun("--json", "run", *(["--detach"] if detach else []), "a", "b")
    assert result.exit_code == 0, result
    if detach:
        time.sleep(1.8)
    details = [mogrun_emulator.run_detail(r) for r in mogrun_emulator.runs]
    assert [(d["status"], d["error"]) for d in details] == [("success", None)] * 2, details
    assert len({d["sandboxRecordId"] for d in details}) == 1, details
    waits = [o["reason"] for o in json_lines(result.stdout) if o["type"] == "wait"]
    assert "waiting for acme/api's sandbox to boot" in {w.partition(":")[0] for w in waits}


def _boot_meanwhile(emulator, repo: str) -> str:
    """Another client (the user's other mogrun, say) starts a run on ``repo`` while
    this mogrun's start is on its way (held back by a ``start:delay`` fault, taken
    as it reached the emulator): the sandbox it boots was in no listing this mogrun
    read, and is still booting (``pending=6s``: no VM for 3 s) when that start
    arrives. Its run's id."""
    import json

    import urllib3

    http = urllib3.PoolManager()
    deadline = time.monotonic() + 20
    while json.loads(http.request("GET", f"{emulator.url}/_emulator/faults").data):
        assert time.monotonic() < deadline, "mogrun's start never came"
        time.sleep(0.02)
    headers = {"Authorization": f"Bearer {emulator.write_token}",
               "Content-Type": "application/json", "Idempotency-Key": "other-client"}
    body = {"repoId": emulator.repo_id(repo), "prompt": "@emulator duration=0.3s pending=6s"}
    answer = http.request("POST", f"{emulator.api_url}/runs", headers=headers,
                          body=json.dumps(body))
    assert answer.status == 202, answer.data
    return str(json.loads(answer.data)["data"]["runId"])


def _run_in_a_race(mogrun, mogrun_emulator, *args: str):
    """``mogrun *args`` whose start meets a sandbox another client is booting."""
    import threading

    mogrun_emulator.add_fault("start", "delay", delay=2.0)
    ended: list = []
    thread = threading.Thread(target=lambda: ended.append(mogrun(*args)), daemon=True)
    thread.start()
    other = _boot_meanwhile(mogrun_emulator, "acme/api")
    thread.join(60)
    assert ended, "mogrun did not end"
    return ended[0], other


ONE_ON_API = """
    [jobs.one]
    repo = "acme/api"
    prompt = "@emulator duration=0.3s"
"""


def test_a_run_that_joined_a_sandbox_another_client_was_booting_starts_again(
        project, mogrun, mogrun_emulator):
    """Another client boots acme/api's sandbox after one's listing showed none and
    before its start arrives: the server hands the start that sandbox, still
    booting, and the run fails "Sandbox is not ready", having done nothing. mogrun
    failed the job (exit 1); it now says so, waits for the sandbox's VM, and starts
    attempt 2 there, as after any refusal."""
    project(ONE_ON_API)
    result, other = _run_in_a_race(mogrun, mogrun_emulator, "--json", "run", "one")
    assert result.exit_code == 0, result
    refused, passed = [r for r in mogrun_emulator.runs if r != other]
    details = {r: mogrun_emulator.run_detail(r) for r in (refused, passed)}
    assert (details[refused]["status"], details[refused]["error"]) == (
        "failed", "Sandbox is not ready")
    assert details[passed]["status"] == "success", details
    (booted,) = mogrun_emulator.sandboxes()  # the other client's, which both joined
    assert {d["sandboxRecordId"] for d in details.values()} == {booted["id"]}, details
    assert (f"run {refused} joined its sandbox while that was still booting, and failed "
            "having done nothing (Sandbox is not ready); attempt 2 starts once that sandbox "
            "has booted, within the job's capacity_wait (30m)") in result.stderr, result
    waits = [o["reason"] for o in json_lines(result.stdout) if o["type"] == "wait"]
    assert "waiting for acme/api's sandbox to boot" in {w.partition(":")[0] for w in waits}
    rows = {r["attempt"]: r for r in history_rows(mogrun)}
    assert (rows[1]["run_id"], rows[1]["outcome"], rows[1]["exit_code"], rows[1]["message"]) \
        == (refused, "refused", 0, "Sandbox is not ready (refused for capacity; attempt 2 "
                                   "follows)")
    assert (rows[2]["run_id"], rows[2]["outcome"], rows[2]["why"]) == (
        passed, "success", "capacity")


def test_a_detached_run_that_joined_a_sandbox_still_booting_is_said_never_to_have_run(
        project, mogrun, mogrun_emulator):
    """Detached, nothing makes the next attempt of a run that failed "Sandbox is not
    ready": status said nothing of it (a failed run), as if the agent had failed;
    it now says the run never ran and that rerun starts it again, which it does."""
    project(ONE_ON_API)
    result, other = _run_in_a_race(mogrun, mogrun_emulator, "run", "--detach", "one")
    assert result.exit_code == 0, result
    (refused,) = [r for r in mogrun_emulator.runs if r != other]
    time.sleep(0.5)  # it fails 0.2 s after its start
    status = mogrun("status")
    assert (f"one: run {refused} was refused for capacity (Sandbox is not ready): it never "
            "ran; mogrun rerun starts it again") in status.stdout, status
    rerun = mogrun("rerun")
    assert rerun.exit_code == 0, rerun
    assert start_keys(mogrun_emulator)[-1].endswith("~attempt-2")
    assert mogrun_emulator.run_detail(mogrun_emulator.runs[-1])["status"] == "success"


def test_a_run_that_joined_a_sandbox_still_booting_past_its_capacity_wait_says_both(
        project, mogrun, mogrun_emulator):
    """Attempt 2 finds the sandbox still booting at the end of the job's
    capacity_wait (spent by then): the run failed, and status says the first attempt
    joined a sandbox not ready and the second never started, as after a refusal."""
    project(ONE_ON_API + '    capacity_wait = "1s"\n')
    result, _ = _run_in_a_race(mogrun, mogrun_emulator, "run", "one")
    assert result.exit_code == 1, result
    (refused,) = [r for r in mogrun_emulator.runs
                  if mogrun_emulator.run_detail(r)["error"] == "Sandbox is not ready"]
    said = (f"run {refused} (attempt 1) was refused for capacity (Sandbox is not ready); "
            "attempt 2 never started: acme/api's sandbox did not finish booting within the "
            "job's capacity_wait (1s)")
    status = mogrun("status")
    assert f"\none: {said}" in status.stdout, status


def test_a_run_sharing_a_sandbox_whose_boot_never_reached_the_server_does_not_wait_for_it(
        project, mogrun, mogrun_emulator):
    """a and b work on acme/api: the first to start boots its sandbox, the other
    waits for that boot. That start never reached the server (a 429 past the job's
    max_delay, given up at once), yet the other went on waiting for a sandbox that
    would never appear, and for a slot that start was taken to hold, until a listing
    said otherwise: a poll interval (one listing serves every start for one; it
    grows with the runs followed), here past its capacity_wait. It starts at once."""
    mogrun_emulator.add_fault("start", "429", retry_after=60)
    job = """
        repo = "acme/api"
        prompt = "@emulator duration=0.3s"
        capacity_wait = "2s"
        retry = { max_delay = "1s" }
    """
    project(f"[jobs.a]{job}\n[jobs.b]{job}")
    result = mogrun("--json", "run", "a", "b", env={"MOGRUN_POLL_INTERVAL": "3"})
    assert result.exit_code == 75, result
    results = json_lines(result.stdout)[-1]["results"]
    assert sorted(r["outcome"] for r in results) == ["error", "success"], str(result)
    (run,) = mogrun_emulator.runs
    assert mogrun_emulator.run_detail(run)["status"] == "success"
    assert "did not finish booting" not in result.output


def test_a_free_worker_goes_to_a_run_that_can_start_not_to_one_waiting_for_a_boot(
        project, mogrun, mogrun_emulator):
    """Two workers: a boots acme/api's sandbox (no VM for 1.5 s) and web ends first.
    The freed worker went to b, next in line, which shares a's sandbox and so was
    taken to start at once, but waits for its VM; the job worker then waited for
    b. The freed worker now goes to the job worker, which can start at once, and b
    follows."""
    project("""
        [jobs.a]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s pending=3s"

        [jobs.web]
        repo = "acme/web"
        prompt = "@emulator duration=0.2s"

        [jobs.b]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s"

        [jobs.worker]
        repo = "acme/worker"
        prompt = "@emulator duration=0.2s"
    """)
    result = mogrun("--json", "run", "-j", "2", "a", "web", "b", "worker")
    assert result.exit_code == 0, result
    started = [o["job"] for o in json_lines(result.stdout) if o["type"] == "job_started"]
    assert sorted(started[:2]) == ["a", "web"] and started[2:] == ["worker", "b"], started


@pytest.mark.parametrize("other", ['branch = "main"', 'root = "."', 'root = "./"'])
def test_a_run_naming_the_default_branch_or_root_shares_the_sandbox_being_booted(
        project, mogrun, mogrun_emulator, other):
    """b names acme/api's default branch (or its root as "."): the server runs it in
    the sandbox a, naming neither, boots. mogrun took them for two, waited for a
    second slot of a one-slot account, and gave b up at its capacity_wait. b waits
    only for that sandbox to boot (joined before, it fails "Sandbox is not ready")."""
    project(f"""
        [jobs.a]
        repo = "acme/api"
        prompt = "@emulator duration=2s"

        [jobs.b]
        repo = "acme/api"
        {other}
        capacity_wait = "1s"
        prompt = "@emulator duration=0.5s"
    """)
    result = mogrun("--json", "run", "a", "b", env={"MOGRUN_SANDBOXES": "1"})
    assert result.exit_code == 0, result
    waits = [o for o in json_lines(result.stdout) if o["type"] == "wait"]
    assert [w["reason"].partition(":")[0] for w in waits if w["kind"] == "capacity"] in (
        [], ["waiting for acme/api's sandbox to boot"]), waits


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_fixed_key_never_sent_still_waits_for_a_slot_next_time(project, mogrun,
                                                                  mogrun_emulator):
    """A fixed key whose start gave up waiting for a slot was taken as sent before:
    the CI retry skipped GET /sandboxes and POSTed into a full account (a run refused
    for capacity at once, its next attempt under another key)."""
    mogrun_emulator.occupy_sandboxes(3, busy=None, repo="acme/r12")
    project("""
        [jobs.nightly]
        repo = "acme/r01"
        idempotency_key = "nightly-2026-12-06"
        prompt = "@emulator duration=0.3s"
        capacity_wait = "1s"
    """)
    for _ in range(2):
        result = mogrun("nightly")
        assert result.exit_code == 1, result
        assert "no sandbox slot freed within the job's capacity_wait" in result.stderr
    assert mogrun_emulator.runs == [] and start_keys(mogrun_emulator) == []


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_blind_wait_starts_no_attempt_past_its_capacity_wait(project, mogrun,
                                                              mogrun_emulator):
    """GET /sandboxes unreadable (a burst of 500s), every slot held: the refusal's
    re-read ran its retries with no deadline, a try past the capacity_wait took a
    slot and started an attempt after it had ended, and the failure said "0 of 3
    busy: ;" (nothing listed)."""
    mogrun_emulator.occupy_sandboxes(3, busy=None, repo="acme/r12")
    mogrun_emulator.add_fault("sandboxes", "500", count=40)
    project("""
        [jobs.one]
        repo = "acme/r01"
        prompt = "@emulator duration=0.3s"
        capacity_wait = "3s"
        retry = { attempts = 3, max_delay = "1s" }
    """)
    result = mogrun("one")
    assert result.exit_code == 1, result
    assert ("could not start: no sandbox slot freed within the job's capacity_wait (3s): the "
            "account's sandboxes could not be read (GET /sandboxes), and the server refused "
            ) in result.stderr, result.stderr
    assert "0 of 3 busy" not in result.stderr
    posts = [r.time for r in mogrun_emulator.requests
             if r.method == "POST" and r.path.endswith("/runs")]
    refusals = [line for line in result.stderr.splitlines() if "refused for capacity" in line]
    assert posts and len(refusals) == len(posts), (posts, result.stderr)
    # Each attempt after the first waited at most its capacity_wait (and a poll) from
    # the refusal before it.
    assert all(b - a < 3 + 2 for a, b in itertools.pairwise(posts)), posts


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_second_blind_spell_counts_only_its_own_refusals(project, mogrun, mogrun_emulator):
    """GET /sandboxes failed, was read again, then failed for good: the failure said
    the server refused every blind start of the invocation "meanwhile", the first
    spell's too, while the list was readable in between."""
    import threading

    mogrun_emulator.occupy_sandboxes(3, busy=None, repo="acme/r12")  # never frees
    mogrun_emulator.add_fault("sandboxes", "500", count=4)  # each try of one read
    project("""
        [jobs.one]
        repo = "acme/r01"
        prompt = "@emulator duration=0.3s"
        capacity_wait = "8s"
        retry = { attempts = 3, max_delay = "1s" }
    """)
    ended: list = []
    thread = threading.Thread(target=lambda: ended.append(mogrun("one")), daemon=True)
    thread.start()

    def listed_after_a_refusal() -> bool:
        log = mogrun_emulator.requests
        refused = [r.time for r in log if r.method == "POST" and r.path.endswith("/runs")]
        return bool(refused) and any(r.path.endswith("/sandboxes") and r.status == 200
                                     and r.time > refused[0] for r in log)

    deadline = time.monotonic() + 6
    while not listed_after_a_refusal() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert listed_after_a_refusal(), mogrun_emulator.requests
    mogrun_emulator.add_fault("sandboxes", "500", count=1000)  # blind again, for good
    blind_again = max(r.time for r in mogrun_emulator.requests)
    thread.join(30)
    assert ended, "mogrun did not end"
    result = ended[0]
    assert result.exit_code == 1, result
    second = [r for r in mogrun_emulator.requests
              if r.method == "POST" and r.path.endswith("/runs") and r.time > blind_again]
    said = re.search(r"the server refused (\d+) starts? for capacity meanwhile", result.stderr)
    assert said, result.stderr
    assert int(said.group(1)) == len(second), (said.group(0), len(second))


@pytest.mark.mogrun_emulator(limits=CAPPED, repos=REPOS)
def test_a_429_on_the_sandbox_list_past_max_delay_gives_the_start_up(project, mogrun,
                                                                    mogrun_emulator):
    """A request-limit 429 to GET /sandboxes whose Retry-After is past the job's
    max_delay made mogrun go on blind and POST at once, into the same spent limit;
    any other request gives up at once then (exit 75)."""
    mogrun_emulator.add_fault("sandboxes", "429", count=1, retry_after=60)
    project("""
        [jobs.one]
        repo = "acme/r01"
        prompt = "@emulator duration=0.3s"
        retry = { max_delay = "30s" }
    """)
    result = mogrun("one")
    assert result.exit_code == 75, result
    assert mogrun_emulator.count("POST", "/runs") == 0
    assert "starting without knowing the free slots" not in result.stderr


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=1, idle=60,
                                           reap=0.1), repos=REPOS)
def test_a_run_whose_sandbox_is_pausing_starts_in_it_though_the_account_is_full(
        project, mogrun, mogrun_emulator):
    """The server reuses a ``pausing`` sandbox of the run's triple (its reuse look-up
    takes ``pausing`` as active) though its cap does not count one: the run needs no
    slot. mogrun read only creating/installing/running, so it waited for a slot the
    run did not need and failed when none freed."""
    project("""
        [jobs.web]
        repo = "acme/r01"
        prompt = "@emulator duration=0.2s"
        capacity_wait = "1s"
    """, header=HEADER + "sandboxes = 1\n")
    assert mogrun("web").exit_code == 0
    (first,) = mogrun_emulator.runs
    sandbox = mogrun_emulator.run_detail(first)["sandboxRecordId"]
    mogrun_emulator.pause_sandbox(sandbox, "30s")
    mogrun_emulator.occupy_sandboxes(1, busy=None, repo="acme/r12")  # the account is full
    second = mogrun("web")
    assert second.exit_code == 0, second
    assert "waiting for a sandbox slot" not in second.stdout
    runs = mogrun_emulator.runs
    assert len(runs) == 2
    assert mogrun_emulator.run_detail(runs[1])["sandboxRecordId"] == sandbox
    assert mogrun_emulator.active_sandboxes() == 1  # the occupant's: none booted
