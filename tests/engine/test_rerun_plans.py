"""What ``mogrun rerun`` plans from the task file as it is now and the history:
a repo added to a fan-out since its invocation starts, as its first attempt (the
job has not passed without it, nor may the jobs that need it start), and a run
that never sent its key (skipped) starts under that key, so a later ordinary
run of the job under the same key attaches to it rather than starting another."""

from __future__ import annotations

import time

from .conftest import history_rows

CODEMOD = """
    [jobs.codemod]
    repo = [{repos}]
    prompt = "{{{{ repo }}}}\\n@emulator duration=0.2s{codemod}"

    [jobs.verify]
    repo = "acme/web"
    prompt = "verify\\n@emulator duration=0.2s{verify}"
    needs = ["codemod"]
"""
TWO = '"acme/api", "acme/web"'
THREE = '"acme/api", "acme/web", "acme/worker"'
FAILED = " status=failed"


def _codemod(repos: str = TWO, codemod: str = "", verify: str = "") -> str:
    return CODEMOD.format(repos=repos, codemod=codemod, verify=verify)


def _latest(mogrun) -> list[dict]:
    """The rows of the latest invocation."""
    rows = history_rows(mogrun)
    return [row for row in rows if row["invocation"] == rows[0]["invocation"]]


def _runs_on(emulator, repo: str) -> list[dict]:
    """The emulator's runs on ``repo``, oldest first."""
    wanted = emulator.repo_id(repo)
    return [detail for detail in map(emulator.run_detail, emulator.runs)
            if detail["repoId"] == wanted]


def test_a_repo_added_to_a_failed_fan_out_runs_before_the_jobs_that_need_it(
        project, mogrun, mogrun_emulator) -> None:
    """codemod failed on api and web; its prompt was fixed and acme/worker added:
    rerun reran api and web, never ran worker (said nothing), then ran verify
    (which needs codemod) and exited 0; ``status codemod:acme/worker`` said
    "no recorded runs"."""
    project(_codemod(codemod=FAILED))
    assert mogrun("verify").exit_code == 1  # codemod failed, verify skipped
    invocation = history_rows(mogrun)[0]["invocation"]
    project(_codemod(THREE))

    preview = mogrun("rerun", "-n")
    assert "  run codemod:acme/worker (attempt 1)" in preview.stdout, preview
    result = mogrun("rerun")
    assert result.exit_code == 0, result
    assert (f"codemod:acme/worker: never run here (added to its job's repos since "
            f"invocation {invocation}): it starts, as its first attempt") in result.stderr
    rows = {row["repo"] + ":" + row["job"]: row for row in _latest(mogrun)}
    assert {at: (row["attempt"], row["outcome"]) for at, row in rows.items()} == {
        "acme/api:codemod": (2, "success"), "acme/web:codemod": (2, "success"),
        "acme/worker:codemod": (1, "success"), "acme/web:verify": (1, "success")}, rows
    worker = mogrun_emulator.run_detail(rows["acme/worker:codemod"]["run_id"])
    verify = mogrun_emulator.run_detail(rows["acme/web:verify"]["run_id"])
    assert verify["createdAt"] >= worker["updatedAt"], (worker, verify)  # after it ended
    assert mogrun("status", "--exit-status", "codemod:acme/worker").exit_code == 0


def test_a_repo_added_to_a_need_that_passed_holds_back_the_job_that_needs_it(
        project, mogrun, mogrun_emulator) -> None:
    """codemod passed on api and web, verify failed; acme/worker was then added to
    codemod (where it fails): rerun ran verify alone and exited 0, though codemod,
    as the task file has it now, has not passed."""
    project(_codemod(verify=FAILED))
    assert mogrun("verify").exit_code == 1  # codemod passed, verify failed
    project(_codemod(THREE, codemod=FAILED))  # api and web passed: only worker runs
    before = len(mogrun_emulator.runs)
    result = mogrun("rerun")
    assert result.exit_code == 1, result
    assert "codemod:acme/worker: never run here" in result.stderr, result
    assert len(mogrun_emulator.runs) == before + 1  # worker, not api or web again
    rows = {row["job"]: row for row in _latest(mogrun)}
    assert (rows["codemod"]["repo"], rows["codemod"]["outcome"]) == ("acme/worker", "failed")
    assert (rows["verify"]["outcome"], rows["verify"]["run_id"]) == ("skipped", None), rows


def test_a_repo_added_to_a_fan_out_that_passed_runs(project, mogrun, mogrun_emulator) -> None:
    """codemod passed on api and web, then acme/worker was added: rerun said "nothing
    to rerun: codemod passed in the latest invocation that ran it" (exit 0, no run),
    though a fan-out passes only with every run, and nothing else ran worker alone."""
    project(_codemod())
    assert mogrun("codemod").exit_code == 0
    invocation = history_rows(mogrun)[0]["invocation"]
    project(_codemod(THREE))
    for args in (("rerun", "-n"), ("rerun", "-n", "codemod")):
        preview = mogrun(*args)
        assert preview.exit_code == 0, preview
        assert "  run codemod:acme/worker (attempt 1)" in preview.stdout, preview
        assert "acme/api (attempt" not in preview.stdout, preview
    before = len(mogrun_emulator.runs)
    result = mogrun("rerun", "codemod")
    assert result.exit_code == 0, result
    assert (f"codemod:acme/worker: never run here (added to its job's repos since "
            f"invocation {invocation}): it starts, as its first attempt") in result.stderr
    assert len(mogrun_emulator.runs) == before + 1  # worker, not api or web again
    assert mogrun("rerun").stderr.startswith("nothing to rerun: every run")


def test_a_repo_added_to_a_fan_out_is_looked_for_not_every_row_of_its_job_read(
        project, mogrun, monkeypatch) -> None:
    """Whether an added repo ever ran here read every row of its job: `rerun -n` of a
    fan-out took 12 s and 400 MB at 300,000 rows (bench/history.py's build)."""
    from mogrun.engine.history import History

    project(_codemod(codemod=FAILED))
    assert mogrun("codemod").exit_code == 1
    project(_codemod(THREE))

    def every_row(*_args: object) -> None:
        raise AssertionError("every row of the job read")

    monkeypatch.setattr(History, "latest_runs_of", every_row)
    preview = mogrun("rerun", "-n")
    assert preview.exit_code == 0, preview
    assert "  run codemod:acme/worker (attempt 1)" in preview.stdout, preview


def test_a_run_of_a_one_repo_job_that_passed_is_not_rerun_on_a_repo_edited_since(
        project, mogrun, mogrun_emulator) -> None:
    """Only a fan-out gains runs: a one-repo job that passed stays passed."""
    project(_codemod('"acme/api"', verify=FAILED))
    assert mogrun("verify").exit_code == 1
    project(_codemod('"acme/worker"'))
    before = len(mogrun_emulator.runs)
    result = mogrun("rerun")
    assert result.exit_code == 0, result
    assert "never run here" not in result.stderr, result
    assert len(mogrun_emulator.runs) == before + 1  # verify alone


DAILY = """
    [jobs.codemod]
    repo = "acme/api"
    prompt = "codemod\\n@emulator duration={duration} interval=0.1s{codemod}"
    timeout = "0.4s"
    on_timeout = "detach"

    [jobs.verify]
    repo = "acme/web"
    prompt = "verify\\n@emulator duration=0.2s{verify}"
    idempotency_key = "verify-{{{{ date }}}}"
    needs = ["codemod"]
"""


def _daily(duration: str = "0.2s", codemod: str = "", verify: str = "") -> str:
    return DAILY.format(duration=duration, codemod=codemod, verify=verify)


def _until_ended(emulator, run_id: str) -> None:
    deadline = time.monotonic() + 10
    while emulator.run_detail(run_id)["status"] not in ("success", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"run {run_id} did not end"
        time.sleep(0.05)


def _verify_key(mogrun) -> str:
    [row] = [row for row in history_rows(mogrun) if row["job"] == "verify"][-1:]
    return row["idempotency_key"]


def _same_day_run_attaches(mogrun, mogrun_emulator) -> None:
    """A plain ``mogrun verify`` later that day starts no second verify run."""
    verifies = len(_runs_on(mogrun_emulator, "acme/web"))
    again = mogrun("verify")
    assert again.exit_code == 0, again
    assert "attached to existing run" in again.stdout + again.stderr, again
    assert len(_runs_on(mogrun_emulator, "acme/web")) == verifies == 1


def test_a_skipped_run_starts_under_its_own_key_never_sent(project, mogrun,
                                                          mogrun_emulator) -> None:
    """verify (``verify-{{ date }}``) was skipped (its need failed), so it never
    sent its key; rerun sent ``verify-DATE~attempt-2``, and a cron's ``mogrun
    verify`` later that day sent ``verify-DATE``, unused, starting verify again."""
    project(_daily(codemod=FAILED))
    assert mogrun("verify").exit_code == 1  # codemod failed, verify skipped
    key = _verify_key(mogrun)
    project(_daily())
    preview = mogrun("rerun", "-n")
    assert f"Idempotency-Key: {key}\n" in preview.stdout, preview
    result = mogrun("rerun")
    assert result.exit_code == 0, result
    verify = next(row for row in history_rows(mogrun) if row["job"] == "verify")
    assert (verify["idempotency_key"], verify["attempt"], verify["outcome"]) == (
        key, 1, "success"), verify
    _same_day_run_attaches(mogrun, mogrun_emulator)


def test_a_run_held_back_then_rerun_still_starts_under_its_key_never_sent(
        project, mogrun, mogrun_emulator) -> None:
    """The QA case: codemod left going at its timeout, verify skipped; a rerun while
    codemod still goes holds verify back (recorded again, under the same key, not
    sent); the rerun after codemod passed sends that key, as the first start."""
    project(_daily(duration="2s"))
    assert mogrun("verify").exit_code == 1  # codemod left going, verify skipped
    key = _verify_key(mogrun)
    held = mogrun("rerun")
    assert "verify: not rerun while its need codemod is still going" in held.stderr, held
    [codemod] = mogrun_emulator.runs
    _until_ended(mogrun_emulator, codemod)
    result = mogrun("rerun")
    assert result.exit_code == 0, result
    verify = next(row for row in history_rows(mogrun) if row["job"] == "verify")
    assert (verify["idempotency_key"], verify["attempt"]) == (key, 1), verify
    project(_daily())  # codemod ends within its timeout from now on
    _same_day_run_attaches(mogrun, mogrun_emulator)


def test_a_skipped_run_whose_key_an_earlier_invocation_sent_gets_a_new_one(
        project, mogrun, mogrun_emulator) -> None:
    """verify sent ``verify-DATE`` and failed; a later invocation skipped it under
    the same key: its rerun must not send that key (the failed run would answer)."""
    project(_daily(verify=FAILED))
    assert mogrun("verify").exit_code == 1  # verify failed under verify-DATE
    key = _verify_key(mogrun)
    project(_daily(codemod=FAILED))
    assert mogrun("verify").exit_code == 1  # codemod failed: verify skipped, same key
    project(_daily())
    result = mogrun("rerun")
    assert result.exit_code == 0, result
    verify = next(row for row in history_rows(mogrun) if row["job"] == "verify")
    assert (verify["idempotency_key"], verify["attempt"], verify["outcome"]) == (
        f"{key}~attempt-2", 2, "success"), verify
