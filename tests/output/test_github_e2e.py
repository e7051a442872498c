"""GitHub Actions end to end: the CLI against the emulator over loopback, reading
what a workflow reads (the step's log, $GITHUB_STEP_SUMMARY, $GITHUB_OUTPUT)."""

from __future__ import annotations

import pytest

from mogrun.testing import job, task_file


@pytest.fixture
def github_env(tmp_path):
    return {"GITHUB_ACTIONS": "true", "MOGRUN_POLL_INTERVAL": "0.1",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt")}


def commands(stdout: str, kind: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(f"::{kind}")]


def test_job_names_differing_only_in_case_share_no_step_outputs(mogrun_project,
                                                                  mogrun_emulator, tmp_path,
                                                                  github_env):
    """GitHub's step outputs ignore case: Lint_run_ids and lint_run_ids are one
    output, and the last line written wins, so neither job may have one."""
    mogrun_project.write(task_file(job("Lint"), job("lint"), job("test")))
    result = mogrun_project.run("run", "Lint", "lint", "test", env=github_env)
    assert result.exit_code == 0, result
    lines = (tmp_path / "output.txt").read_text().splitlines()
    assert len(lines[0].removeprefix("run_ids=").split()) == 3, lines
    assert [line.split("=")[0] for line in lines if "_run_ids=" in line] == ["test_run_ids"]
    assert commands(result.stdout, "warning") == [
        '::warning::jobs "Lint" and "lint" share the step output name Lint (GitHub ignores '
        "case): their Lint_run_ids and Lint_branches are left out; rename one of them"]
