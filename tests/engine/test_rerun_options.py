"""``mogrun rerun`` takes run's options ("options and exit codes as run"): ``-n``
previews the attempts a rerun would start and starts nothing; ``--no-deps``,
``--shard``, ``-j``, ``-k``, ``--timeout`` and ``--detach`` work as for run."""

from __future__ import annotations

import contextlib
import json
import sqlite3

import pytest

from .conftest import history_rows, json_lines

JOBS = """
    [jobs.ok]
    repo = "acme/api"
    prompt = "@emulator duration=0.2s"

    [jobs.bad]
    repo = "acme/web"
    prompt = "@emulator duration=0.2s status=failed"
    idempotency_key = "bad-key"

    [jobs.after]
    repo = "acme/api"
    prompt = "@emulator duration=0.2s"
    needs = ["bad"]
"""


def test_rerun_dry_run_previews_the_next_attempts_and_starts_nothing(
        project, mogrun, mogrun_emulator) -> None:
    project(JOBS)
    assert mogrun("-k", "ok", "bad").exit_code == 1
    recorded = history_rows(mogrun)
    mogrun_emulator.clear_requests()

    preview = mogrun("rerun", "-n")
    assert preview.exit_code == 0, preview
    assert "job bad" in preview.stdout and "job ok" not in preview.stdout  # ok passed
    assert "  run bad:acme/web (attempt 2)" in preview.stdout
    assert "Idempotency-Key: bad-key~attempt-2" in preview.stdout
    [document] = [json.loads(line) for line in mogrun("--json", "rerun", "--dry-run")
                  .stdout.splitlines()]
    assert document["job"] == "bad"
    [run] = document["runs"]
    assert run["attempt"] == 2
    assert run["request"]["headers"]["Idempotency-Key"] == "bad-key~attempt-2"
    assert mogrun_emulator.requests == []  # no network at all
    assert history_rows(mogrun) == recorded

    assert mogrun("rerun").exit_code == 1  # what the preview showed is what starts
    assert history_rows(mogrun)[0]["idempotency_key"] == "bad-key~attempt-2"


def test_rerun_takes_runs_options(project, mogrun, mogrun_emulator) -> None:
    project(JOBS)
    assert mogrun("after").exit_code == 1  # bad failed, after was skipped
    project(JOBS.replace("status=failed", "status=success"))
    before = len(mogrun_emulator.runs)
    result = mogrun("rerun", "--no-deps", "-j", "1", "-k", "--timeout", "1m",
                    "--shard", "1/1", "after")
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.runs) == before + 1  # after alone: its need not rerun
    assert [r["job"] for r in history_rows(mogrun, "-n", "1")] == ["after"]
    detached = mogrun("rerun", "--detach", "bad")
    assert detached.exit_code == 0, detached
    assert "detached" in detached.stdout


def test_rerun_declares_runs_options_once() -> None:
    """One declaration of each option for both commands: rerun has all of run's
    but --rerun (a rerun makes new attempts under their own keys)."""
    from mogrun.cli.rerun_cmd import rerun_command
    from mogrun.cli.run_cmd import run_command

    def options(command):
        return {param.name: param.opts for param in command.params if param.name != "jobs"}

    run = options(run_command)
    assert options(rerun_command) == {name: opts for name, opts in run.items()
                                      if name != "rerun"}


def fan_out_where_web_failed(project, mogrun, web: str = "acme/web") -> None:
    """A passed fan-out over acme/api and acme/web (spelt ``web``) whose history then
    says web's run failed: the emulator cannot fail one run of a fan-out alone."""
    root = project(f"""
        [jobs.fan]
        repo = ["acme/api", "{web}"]
        prompt = "@emulator duration=0.2s"
    """)
    assert mogrun("fan").exit_code == 0
    with contextlib.closing(sqlite3.connect(root / ".mogrun" / "history.db")) as db, db:
        db.execute("UPDATE runs SET status = 'failed', outcome = 'failed' WHERE repo = ?",
                   (web,))


def test_a_rerun_leg_without_a_run_to_rerun_says_so_and_starts_nothing(
        project, mogrun, mogrun_emulator) -> None:
    """As run's legs do: a leg whose share of the runs holds none that failed."""
    fan_out_where_web_failed(project, mogrun)
    before = len(mogrun_emulator.runs)
    legs = [mogrun("rerun", "--shard", f"{leg}/2") for leg in (1, 2)]
    assert [leg.exit_code for leg in legs] == [0, 0], legs
    said = [leg for leg in legs if "nothing to do" in leg.stderr]
    assert len(said) == 1, legs
    shard = "1/2" if said[0] is legs[0] else "2/2"
    assert said[0].stderr == (f"shard {shard}: none of the runs to rerun fall in this leg; "
                              "nothing to do\n"), said[0]
    assert said[0].stdout == "exit code 0\n"  # the summary every leg gives, as run's
    assert len(mogrun_emulator.runs) == before + 1  # the other leg reran web's run


NEEDS_FAILED = """
    [jobs.x]
    repo = "acme/api"
    prompt = "x\\n@emulator duration=0.2s status=failed"

    [jobs.y]
    repo = "acme/web"
    prompt = "y\\n@emulator duration=0.2s"
    needs = ["x"]
"""


def test_rerun_of_a_job_reruns_its_need_that_did_not_pass_first(project, mogrun,
                                                                   mogrun_emulator) -> None:
    """``rerun y`` started y though its need x had failed (and y was skipped for it)."""
    project(NEEDS_FAILED)
    assert mogrun("y").exit_code == 1
    before = len(mogrun_emulator.runs)
    result = mogrun("rerun", "y")
    assert result.exit_code == 1, result
    jobs = [r["job"] for r in history_rows(mogrun, "-n", "2")]
    assert jobs == ["y", "x"], jobs  # x's attempt 2 failed again, y skipped again
    assert len(mogrun_emulator.runs) == before + 1  # x only
    assert mogrun("rerun", "--no-deps", "y").exit_code == 0  # as asked: y alone


def test_rerun_of_a_job_whose_need_is_still_going_holds_it_back(project, mogrun,
                                                                  mogrun_emulator) -> None:
    project("""
        [jobs.x]
        repo = "acme/api"
        prompt = "x\\n@emulator duration=30s"
        timeout = "1s"
        on_timeout = "detach"

        [jobs.y]
        repo = "acme/web"
        prompt = "y\\n@emulator duration=0.2s"
        needs = ["x"]
    """)
    mogrun("y")
    before = len(mogrun_emulator.runs)
    result = mogrun("rerun", "y")
    assert "not rerun while its need x is still going" in result.stderr, result
    assert len(mogrun_emulator.runs) == before, result


def test_a_rerun_legs_dry_run_without_a_run_to_rerun_says_so_too(
        project, mogrun, mogrun_emulator) -> None:
    """``rerun -n --shard`` of a leg with nothing to rerun printed nothing."""
    fan_out_where_web_failed(project, mogrun)
    legs = [mogrun("rerun", "-n", "--shard", f"{leg}/2") for leg in (1, 2)]
    assert [leg.exit_code for leg in legs] == [0, 0], legs
    said = [leg for leg in legs if "nothing to do" in leg.stderr]
    assert len(said) == 1 and said[0].stdout == "", legs
    assert "none of the runs to rerun fall in this leg" in said[0].stderr


def test_a_failed_legs_rerun_hint_keeps_its_shard(project, mogrun) -> None:
    """The hint without --shard would rerun the leg with the whole token's limits
    while the other legs run."""
    project("""
        [jobs.fan]
        repo = ["acme/api", "acme/web"]
        prompt = "@emulator duration=0.2s status=failed"
    """)
    result = mogrun("run", "fan", "--shard", "2/2")
    assert result.exit_code == 1, result
    assert "rerun what did not pass: mogrun rerun --shard 2/2 fan" in result.output, result


@pytest.mark.parametrize("named", [("fan",), ()])
def test_a_legs_rerun_finds_its_failed_run_after_another_leg_ran(
        project, mogrun, mogrun_emulator, named) -> None:
    """Leg 1 failed and printed 'mogrun rerun --shard 1/2 fan'; leg 2 then ran here
    and passed: the rerun took the job's latest invocation (leg 2's) and said
    'nothing to rerun: every run of the latest invocation passed'."""
    fan = """
        [jobs.fan]
        repo = ["acme/api", "acme/web"]
        prompt = "@emulator duration=0.2s{status}"
    """
    project(fan.format(status=" status=failed"))
    first = mogrun("run", "fan", "--shard", "1/2")  # acme/api
    assert "rerun what did not pass: mogrun rerun --shard 1/2 fan" in first.output, first
    project(fan.format(status=""))
    assert mogrun("run", "fan", "--shard", "2/2").exit_code == 0  # acme/web
    before = len(mogrun_emulator.runs)
    rerun = mogrun("rerun", "--shard", "1/2", *named)
    assert rerun.exit_code == 0, rerun
    assert len(mogrun_emulator.runs) == before + 1
    [row] = history_rows(mogrun, "-n", "1")
    assert (row["repo"], row["attempt"], row["outcome"]) == ("acme/api", 2, "success"), row
    assert mogrun("rerun", "--shard", "2/2", *named).exit_code == 0  # its leg: all passed
    assert len(mogrun_emulator.runs) == before + 1


def test_a_rerun_of_runs_the_task_file_no_longer_has_says_so(
        project, mogrun, mogrun_emulator) -> None:
    fan_out_where_web_failed(project, mogrun)
    project("""
        [jobs.fan]
        repo = ["acme/api"]
        prompt = "@emulator duration=0.2s"
    """)
    before = len(mogrun_emulator.runs)
    result = mogrun("rerun")
    assert (result.exit_code, result.stdout) == (0, "exit code 0\n"), result
    assert result.stderr == ("fan:acme/web: acme/web is no longer one of fan's repos in the "
                             "task file; not rerun\n"
                             "nothing to rerun: the runs that did not pass are no longer in "
                             "the task file\n")
    assert len(mogrun_emulator.runs) == before


def test_status_judges_the_runs_rerun_would_start(project, mogrun, mogrun_emulator) -> None:
    """A fan-out's failed run of a repo taken out of its list: rerun said it was gone
    and started nothing (exit 0), while status --exit-status said 1 for it for ever.
    Named, it is still shown and judged, as a removed job is."""
    fan_out_where_web_failed(project, mogrun)
    project("""
        [jobs.fan]
        repo = ["acme/api"]
        prompt = "@emulator duration=0.2s"
    """)
    for argv in (["fan"], []):
        status = mogrun("status", "--exit-status", *argv)
        assert status.exit_code == 0, status
        assert "acme/web" not in status.stdout and "acme/api" in status.stdout
    named = mogrun("status", "--exit-status", "fan:acme/web")
    assert named.exit_code == 1 and "failed" in named.stdout, named


def test_status_of_a_fan_out_whose_every_run_is_of_a_removed_repo_says_so(
        project, mogrun, mogrun_emulator) -> None:
    """Every latest run of fan is of a repo taken out of its list: status fan found
    none left, took the job's name for a run id and asked GET /runs/fan (500s,
    retried, exit 69); status alone said "No runs recorded yet."."""
    project("""
        [jobs.fan]
        repo = ["acme/api", "acme/web"]
        prompt = "@emulator duration=0.2s"
    """)
    assert mogrun("fan").exit_code == 0
    project("""
        [jobs.fan]
        repo = ["acme/worker"]
        prompt = "@emulator duration=0.2s"
    """)
    mogrun_emulator.clear_requests()
    said = ("fan: no run of the repos it lists now is recorded yet; its latest runs are "
            "of repos it no longer lists (acme/api, acme/web): see one with mogrun status "
            "fan:acme/api\n")
    for argv, code in ((["fan"], 0), (["--exit-status", "fan"], 1), (["--exit-status"], 1)):
        status = mogrun("status", *argv)
        assert (status.exit_code, status.stdout, status.stderr) == (code, "", said), status
    assert mogrun_emulator.requests == []
    assert "acme/api" in mogrun("status", "fan:acme/api").stdout


def test_a_repo_whose_case_alone_was_edited_is_still_the_job_s(
        project, mogrun, mogrun_emulator) -> None:
    """owner/name resolves in any case: acme/WEB edited to acme/web is the same repo.
    rerun said its failed run's repo was no longer the job's and started nothing
    (exit 0), and status stopped judging it (exit 0 over a failure)."""
    fan_out_where_web_failed(project, mogrun, web="acme/WEB")
    project("""
        [jobs.fan]
        repo = ["acme/api", "acme/web"]
        prompt = "@emulator duration=0.2s"
    """)
    for argv in (["fan"], []):
        status = mogrun("status", "--exit-status", *argv)
        assert status.exit_code == 1 and "acme/WEB" in status.stdout, status
    before = len(mogrun_emulator.runs)
    result = mogrun("rerun")
    assert result.exit_code == 0, result
    assert "no longer" not in result.stderr and "never run here" not in result.stderr
    assert len(mogrun_emulator.runs) == before + 1
    [row] = history_rows(mogrun, "-n", "1")
    assert (row["repo"], row["attempt"]) == ("acme/web", 2), row


def test_a_legs_rerun_reads_a_repo_s_runs_in_either_case_as_one(
        project, mogrun, mogrun_emulator) -> None:
    """A leg's rerun reads the latest run of each of the job's repos, from any of
    its invocations: acme/WEB's failed run and, after a case-only edit, acme/web's
    passed one were two repos, and the rerun started the failure again though the
    repo had passed since."""
    fan_out_where_web_failed(project, mogrun, web="acme/WEB")
    project("""
        [jobs.fan]
        repo = ["acme/api", "acme/web"]
        prompt = "@emulator duration=0.2s"
    """)
    assert mogrun("fan").exit_code == 0  # acme/web passes
    before = len(mogrun_emulator.runs)
    result = mogrun("rerun", "--shard", "1/1")
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.runs) == before, result


def test_a_rerun_s_key_derives_from_the_run_s_own_default_key(
        project, mogrun, mogrun_emulator) -> None:
    """A job without idempotency_key gets mogrun-JOB-<nonce>, new each invocation: a
    rerun sent <today's nonce>~attempt-2 and its -n showed yet another, where the
    docs say the key derives from the run's own."""
    project("""
        [jobs.flaky]
        repo = "acme/web"
        prompt = "@emulator duration=0.2s status=failed"
    """)
    assert mogrun("flaky").exit_code == 1
    (first,) = history_rows(mogrun)
    preview = mogrun("rerun", "-n")
    assert f"Idempotency-Key: {first['idempotency_key']}~attempt-2" in preview.stdout, preview
    assert mogrun("rerun").exit_code == 1
    assert mogrun("rerun").exit_code == 1
    keys = [row["idempotency_key"] for row in history_rows(mogrun)]
    base = first["idempotency_key"]
    assert sorted(keys) == sorted([base, f"{base}~attempt-2", f"{base}~attempt-3"])


def test_a_rerun_goes_on_past_a_job_removed_from_the_task_file(project, mogrun,
                                                               mogrun_emulator) -> None:
    """Plain rerun failed with 'unknown job "gone"' (exit 2), naming no job itself,
    and the job still in the file was not rerun."""
    jobs = """
        [jobs.gone]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s status=failed"

        [jobs.keep]
        repo = "acme/web"
        prompt = "@emulator duration=0.2s status=failed"
    """
    project(jobs)
    assert mogrun("-k", "gone", "keep").exit_code == 1
    project(jobs.split("[jobs.keep]")[0].replace("gone", "keep").replace("acme/api", "acme/web")
            .replace("status=failed", "status=success"))
    before = len(mogrun_emulator.runs)
    result = mogrun("rerun")
    assert result.exit_code == 0, result
    assert "gone: no longer in the task file; not rerun" in result.stderr
    assert len(mogrun_emulator.runs) == before + 1  # keep's attempt 2


def test_the_rerun_hint_of_a_no_deps_run_keeps_no_deps(project, mogrun,
                                                       mogrun_emulator) -> None:
    """Since rerun JOB reruns the needs first, the hint without --no-deps reran x
    (failed again) and skipped y instead of rerunning y alone."""
    project(NEEDS_FAILED.replace('prompt = "y\\n@emulator duration=0.2s"',
                                 'prompt = "y\\n@emulator duration=0.2s status=failed"'))
    result = mogrun("--no-deps", "y")
    assert result.exit_code == 1, result
    assert "rerun what did not pass: mogrun rerun --no-deps y" in result.output, result


def test_a_rerun_says_a_fan_out_repo_removed_from_the_task_file(project, mogrun,
                                                                mogrun_emulator) -> None:
    """A failed run whose repo the job no longer lists was dropped without a word
    (a removed job is said): the rerun looked like it reran all that had failed."""
    project("""
        [jobs.a]
        repo = ["acme/api", "acme/web"]
        prompt = "@emulator duration=0.2s status=failed"
    """)
    assert mogrun("a").exit_code == 1
    project("""
        [jobs.a]
        repo = ["acme/api", "acme/worker"]
        prompt = "@emulator duration=0.2s"
    """)
    before = len(mogrun_emulator.runs)
    result = mogrun("rerun")
    assert result.exit_code == 0, result
    assert ("a:acme/web: acme/web is no longer one of a's repos in the task file; "
            "not rerun") in result.stderr
    assert "acme/api: no longer" not in result.stderr
    assert "a:acme/worker: never run here (added to its job's repos since" in result.stderr
    assert len(mogrun_emulator.runs) == before + 2  # acme/api's attempt 2, worker's first


def test_a_rerun_leg_with_needs_is_told_to_rerun_not_run(project, mogrun,
                                                          mogrun_emulator) -> None:
    """Refused for its needs, a rerun leg was told 'then mogrun run dep --no-deps
    --shard 1/3': a run that starts every run of the leg under new keys (the
    passed ones too), without the --set that shaped the failed requests."""
    project("""
        [vars]
        st = "success"
        [jobs.prep]
        repo = "acme/api"
        prompt = "@emulator duration=0.1s"
        [jobs.dep]
        repo = ["acme/api", "acme/web", "acme/worker"]
        prompt = "@emulator duration=0.1s status={{ st }}"
        needs = ["prep"]
    """)
    first = mogrun("--set", "st=failed", "run", "dep", "--no-deps", "--shard", "1/3")
    assert first.exit_code == 1, first
    before = len(mogrun_emulator.runs)
    result = mogrun("--set", "st=failed", "rerun", "--shard", "1/3")
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[-1] == (
        "Run the needs first (mogrun --set st=failed rerun prep, or mogrun --set st=failed "
        "run prep for one never run here), then mogrun --set st=failed rerun --no-deps "
        "--shard 1/3 dep.")
    assert len(mogrun_emulator.runs) == before


def test_nothing_to_rerun_still_gives_a_ci_step_its_outputs(project, mogrun, tmp_path) -> None:
    """It wrote no $GITHUB_OUTPUT and no step summary (a later step reading
    steps.X.outputs.exit_code got ''), and --json ended with no summary line."""
    project("""
        [jobs.ok]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s"
    """)
    assert mogrun("ok").exit_code == 0
    outputs, summary = tmp_path / "outputs.txt", tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(outputs),
           "GITHUB_STEP_SUMMARY": str(summary)}
    result = mogrun("rerun", env=env)
    assert result.exit_code == 0, result
    assert "nothing to rerun: every run of the latest invocation passed" in result.stderr
    assert outputs.read_text().splitlines() == ["run_ids=", "branches=", "exit_code=0"]
    assert "No run was started." in summary.read_text()
    assert "::error" not in result.stdout
    lines = json_lines(mogrun("--json", "rerun").stdout)
    assert lines == [{"type": "summary", "exit_code": 0, "results": [], "rerun": None}]
    assert mogrun("rerun", "-n").stdout == ""  # a dry run shows what would be sent: nothing


def test_a_rerun_of_a_one_repo_job_whose_repo_was_edited_runs_it_there(
        project, mogrun, mogrun_emulator) -> None:
    """It said "s: no longer in the task file; not rerun" and exited 0 (nothing to
    rerun), while list showed the job and status --exit-status said 1."""
    project("""
        [jobs.s]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s status=failed"
    """)
    assert mogrun("s").exit_code == 1
    project("""
        # moved to the web repo
        [jobs.s]
        repo = "acme/web"   # was acme/api
        prompt = "@emulator duration=0.2s"
    """)
    before = len(mogrun_emulator.runs)
    result = mogrun("rerun")
    assert result.exit_code == 0, result
    assert "s: its job's repo is now acme/web; rerun there" in result.stderr
    assert "no longer in the task file" not in result.stderr
    assert len(mogrun_emulator.runs) == before + 1
    [row] = history_rows(mogrun, "-n", "1")
    assert (row["repo"], row["attempt"], row["outcome"]) == ("acme/web", 2, "success"), row


def test_a_rerun_s_key_derives_from_a_key_that_hides_a_secret(
        project, mogrun, mogrun_emulator) -> None:
    """History keeps a key masked (repo from env.*: ``mogrun-s-<nonce>:***/api``), and
    rerun then sent a fresh random base: a lost start never replayed, two reruns at
    once started two runs each. The mask is filled from the key resolved now."""
    root = project("""
        # the owner is a secret: every key names it
        [jobs.s]
        repo = ["{{ env.OWNER }}/api", "{{ env.OWNER }}/web"]
        prompt = \"\"\"t {{ env.SECRETVAL }}
        @emulator status=failed duration=0.2s\"\"\"

    """)
    env = {"OWNER": "acme", "SECRETVAL": "s3cr3t"}
    assert mogrun("s", env=env).exit_code == 1
    first = {row["repo"]: row["idempotency_key"] for row in history_rows(mogrun)}
    assert first.keys() == {"***/api", "***/web"}
    mogrun_emulator.clear_requests()
    assert mogrun("rerun", env=env).exit_code == 1
    sent = sorted(r.idempotency_key for r in mogrun_emulator.requests
                  if r.method == "POST" and r.path.endswith("/runs"))
    assert sent == sorted(first[repo].replace("***", "acme") + "~attempt-2"
                          for repo in first)
    keys = {row["idempotency_key"] for row in history_rows(mogrun)}
    assert {key + "~attempt-2" for key in first.values()} <= keys
    runs = len(mogrun_emulator.runs)
    assert mogrun("rerun", "s", env=env).exit_code == 1  # attempt 3, derived likewise
    assert {key + "~attempt-3" for key in first.values()} <= {
        row["idempotency_key"] for row in history_rows(mogrun)}
    assert len(mogrun_emulator.runs) == runs + 2
    stored = b"".join(path.read_bytes() for path in (root / ".mogrun").glob("history.db*"))
    assert b"acme" not in stored and b"s3cr3t" not in stored  # never written to disk


def test_a_masked_key_the_job_no_longer_matches_is_said(project, mogrun,
                                                        mogrun_emulator) -> None:
    project("""
        [jobs.s]
        repo = "{{ env.OWNER }}/api"
        idempotency_key = "k-{{ env.OWNER }}"
        prompt = "@emulator status=failed duration=0.2s"
    """)
    assert mogrun("s", env={"OWNER": "acme"}).exit_code == 1
    project("""
        [jobs.s]
        repo = "{{ env.OWNER }}/api"
        idempotency_key = "k2-fixed"
        prompt = "@emulator status=failed duration=0.2s"
    """)
    result = mogrun("rerun", env={"OWNER": "acme"})
    assert result.exit_code == 1
    assert ("s: its recorded Idempotency-Key (k-***) hides a secret the job's key "
            "no longer holds the same way: attempt 2 is sent under a key derived from "
            "today's") in result.stderr, result
    assert history_rows(mogrun)[0]["idempotency_key"] == "k2-fixed~attempt-2"


EDITED_NEEDS = """
    [jobs.a]
    repo = "acme/api"
    prompt = "@emulator duration=0.2s status=failed"

    [jobs.c]
    repo = "acme/web"
    prompt = "@emulator duration=0.2s status=failed"

    [jobs.b]
    repo = "acme/api"
    prompt = "@emulator duration=0.2s"
    needs = ["a"]
"""


@pytest.mark.parametrize("named", [(), ("b",)])
def test_a_need_the_task_file_gave_since_runs_first_in_a_rerun(
        project, mogrun, mogrun_emulator, named) -> None:
    """b was skipped for a; its needs were then edited to c, which never ran: rerun
    started b at once, beside a's attempt, and b passed without c (which fails)."""
    project(EDITED_NEEDS)
    assert mogrun("b").exit_code == 1  # a failed, b skipped
    project(EDITED_NEEDS.replace('needs = ["a"]', 'needs = ["c"]'))
    preview = mogrun("rerun", "-n", *named)
    assert "  run c:acme/web (attempt 1)" in preview.stdout, preview
    before = len(mogrun_emulator.runs)
    result = mogrun("rerun", *named)
    assert result.exit_code == 1, result
    assert "c: never run here, and b needs it: it starts first" in result.stderr
    assert "b  skipped: needs c, which did not pass (failed)" in result.stdout
    # c; and a's attempt 2 unless b alone is named (it no longer needs a)
    assert len(mogrun_emulator.runs) == before + (1 if named else 2)
    c_passes = 'duration=0.2s"\n\n    [jobs.b]'
    project(EDITED_NEEDS.replace('needs = ["a"]', 'needs = ["c"]')
            .replace('duration=0.2s status=failed"\n\n    [jobs.b]', c_passes))
    again = mogrun("rerun", "b")
    assert again.exit_code == 0, again  # c passes now (attempt 2), then b
    assert [r["job"] for r in history_rows(mogrun, "-n", "2")] == ["b", "c"]


def test_a_rerun_of_a_job_run_with_no_deps_runs_its_need_never_run_first(
        project, mogrun, mogrun_emulator) -> None:
    """`mogrun --no-deps b` then `mogrun rerun b`: b's need a never ran here, so
    it has not passed: it runs first, as `mogrun b` would run it."""
    project(EDITED_NEEDS.replace('prompt = "@emulator duration=0.2s"\n    needs',
                                 'prompt = "@emulator duration=0.2s status=failed"\n    needs'))
    assert mogrun("--no-deps", "b").exit_code == 1
    result = mogrun("rerun", "b")
    assert result.exit_code == 1, result
    assert "a: never run here, and b needs it: it starts first" in result.stderr
    assert [r["job"] for r in history_rows(mogrun, "-n", "2")] == ["b", "a"]
    assert history_rows(mogrun, "-n", "2")[0]["outcome"] == "skipped"
    assert mogrun("rerun", "--no-deps", "b").exit_code == 1  # as asked: b alone, failing


def test_nothing_to_rerun_of_a_job_names_it_not_the_whole_invocation(project, mogrun) -> None:
    """`rerun ok` after `run -k ok bad` said "every run of the latest invocation
    passed", where bad had failed in that very invocation."""
    project(JOBS)
    assert mogrun("run", "-k", "ok", "bad").exit_code == 1
    result = mogrun("rerun", "ok")
    assert result.exit_code == 0, result
    said = "nothing to rerun: ok passed in the latest invocation that ran it"
    assert result.stderr.strip() == said, result
    assert mogrun("rerun", "-n", "ok", "ok").stderr.strip() == said  # named twice: once


def test_a_rerun_preview_of_a_job_with_no_key_shows_the_key_it_will_send(project,
                                                                          mogrun) -> None:
    """`rerun -n` said a job's key was "made anew at each invocation: the run sends
    its own" when the job names no idempotency_key, but a rerun derives its key
    from the recorded run's, and sends the key shown."""
    project(JOBS.replace('    idempotency_key = "bad-key"\n', ""))
    assert mogrun("-k", "ok", "bad").exit_code == 1
    preview = mogrun("rerun", "-n")
    assert "made anew" not in preview.stdout, preview.stdout
    [document] = [json.loads(line) for line in mogrun("--json", "rerun", "-n").stdout.splitlines()]
    [run] = document["runs"]
    assert run["key_per_invocation"] is False, run
    shown = run["request"]["headers"]["Idempotency-Key"]
    assert mogrun("rerun").exit_code == 1
    assert history_rows(mogrun)[0]["idempotency_key"] == shown
    first = mogrun("--json", "show", "bad").stdout  # a plain show's key is made anew
    assert json.loads(first)["runs"][0]["key_per_invocation"] is True


def test_a_rerun_after_a_run_that_attached_again_sends_a_fresh_attempt(
        project, mogrun, mogrun_emulator) -> None:
    """`mogrun nightly || mogrun rerun` on a second day of CI: the run attached to
    attempt 1 (failed), and the rerun took attempt 1 + 1, whose key an earlier
    rerun had sent: it attached to that failed run, and said to rerun again."""
    project("""
        [jobs.nightly]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s status=failed"
        idempotency_key = "nightly-{{ date }}"
    """)
    assert mogrun("nightly").exit_code == 1  # attempt 1
    assert mogrun("rerun").exit_code == 1  # attempt 2
    again = mogrun("nightly")  # attaches to attempt 1
    assert again.exit_code == 1 and "attached to existing run" in again.stderr, again
    rerun = mogrun("rerun")
    assert "attached" not in rerun.stderr, rerun.stderr
    assert len(mogrun_emulator.runs) == 3  # a fresh attempt: a new run
    assert history_rows(mogrun)[0]["idempotency_key"].endswith("~attempt-3")


def test_nothing_recorded_names_the_history_command_of_this_task_file(mogrun_cli,
                                                                      tmp_path) -> None:
    """`mogrun -f nightly.toml rerun` said "See: mogrun history", which found no
    mogplex.toml there: the command it names keeps the -f (and --local)."""
    (tmp_path / "nightly.toml").write_text('[jobs.j]\nrepo = "acme/api"\nprompt = "x"\n\n')
    for argv in (["-f", "nightly.toml"], ["-f", "nightly.toml", "--local"]):
        for args in (["rerun"], ["rerun", "j"]):
            result = mogrun_cli(*argv, *args, cwd=tmp_path)
            assert result.exit_code != 0, result
            assert f"See: mogrun {' '.join(argv)} history" in result.stderr, result.stderr


def test_an_attached_runs_hint_names_what_retries_it_with_no_history(project, mogrun,
                                                                     mogrun_emulator) -> None:
    """With a history that cannot be opened, the summary said `run --rerun nightly`,
    but the line of a run attached to a failed one said `mogrun rerun nightly`,
    which then failed: "cannot open run history"."""
    root = project("""
        [jobs.nightly]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s status=failed"
        idempotency_key = "nightly-{{ date }}"
    """)
    assert mogrun("nightly").exit_code == 1
    history = next(root.glob(".mogrun/history.db"))
    history.write_bytes(b"garbage, not a database\n")
    again = mogrun("nightly")
    assert again.exit_code == 1, again
    assert "start a fresh attempt with: mogrun run --rerun nightly" in again.stderr, again.stderr
    assert "mogrun rerun nightly" not in again.stderr, again.stderr


def test_a_fan_out_edited_to_one_new_repo_is_rerun_there(project, mogrun,
                                                          mogrun_emulator) -> None:
    """A failed fan-out edited to one new repo: rerun said both runs were no longer in
    the file and "nothing to rerun", exit 0, while status --exit-status said 1 and
    the job had never passed. Its one run now starts, as its first attempt."""
    root = project("""
        [jobs.fan]
        repo = ["acme/api", "acme/web"]
        prompt = "@emulator duration=0.2s status=failed"
    """)
    assert mogrun("fan").exit_code == 1
    toml = root / "mogplex.toml"
    toml.write_text(toml.read_text().replace('["acme/api", "acme/web"]', '"acme/worker"')
                    .replace("status=failed", "status=success"))
    result = mogrun("rerun")
    assert result.exit_code == 0, result
    assert "fan: never run here" in result.stderr, result.stderr
    assert "nothing to rerun" not in result.stderr, result.stderr
    assert len(mogrun_emulator.runs) == 3
