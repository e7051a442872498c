"""$GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY as earlier steps and odd runners
leave them: a last line with no line break, a path that cannot be written,
a step log that could not be written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mogrun.testing import job, task_file


@pytest.fixture
def github_env(tmp_path):
    return {"GITHUB_ACTIONS": "true", "MOGRUN_POLL_INTERVAL": "0.1",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt")}


def test_a_last_line_an_earlier_step_left_unfinished_stays_its_own(mogrun_project,
                                                                     mogrun_emulator,
                                                                     tmp_path, github_env):
    """'prev=value' then 'run_ids=...' became one line (the value lost, and an
    unfinished heredoc delimiter fails the step); the summary's heading joined
    the earlier step's last line."""
    (tmp_path / "output.txt").write_bytes(b"prev=value")
    (tmp_path / "summary.md").write_bytes(b"### earlier step")
    mogrun_project.write(task_file(job("ok")))
    result = mogrun_project.run("run", "ok", env=github_env)
    assert result.exit_code == 0, result
    outputs = (tmp_path / "output.txt").read_text().splitlines()
    assert outputs[0] == "prev=value" and outputs[1].startswith("run_ids=")
    summary = (tmp_path / "summary.md").read_text().splitlines()
    assert summary[:2] == ["### earlier step", "## mogrun"]


def test_an_output_file_that_cannot_be_written_is_annotated_and_not_a_success(
        mogrun_project, mogrun_emulator, tmp_path, github_env):
    """It was a plain line inside the stopped commands, and exit 0: later steps
    read empty run_ids."""
    (tmp_path / "a-dir").mkdir()
    env = {**github_env, "GITHUB_OUTPUT": str(tmp_path / "a-dir")}
    mogrun_project.write(task_file(job("ok")))
    script = ("import sys; from mogrun.cli.app import run_cli; "
              "sys.exit(run_cli(['run', 'ok']))")  # the process's own exit rule
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    full.update(env, MOGPLEX_URL=mogrun_emulator.url, MOGPLEX_API_KEY=mogrun_emulator.write_token)
    proc = subprocess.run([sys.executable, "-c", script], cwd=mogrun_project.root, env=full,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 74, proc
    warning = [line for line in proc.stdout.splitlines()
               if line.startswith("::warning::cannot write $GITHUB_OUTPUT")]
    assert warning, proc.stdout  # an annotation, outside the stopped commands
    assert (tmp_path / "summary.md").read_text().rstrip().endswith("exit code: 74")
    # Why 74, as the last line: the file it could not write, not stdout ("cannot write
    # the output", which stdout's own loss says), which was written in full.
    assert proc.stderr.splitlines()[-1] == (
        f"Error: cannot write $GITHUB_OUTPUT ({tmp_path / 'a-dir'}): Is a directory"), proc


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_the_exit_code_output_agrees_with_the_process_when_the_log_is_lost(
        mogrun_project, mogrun_emulator, tmp_path, github_env):
    mogrun_project.write(task_file(job("ok")))
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    full.update(github_env, MOGPLEX_URL=mogrun_emulator.url,
                MOGPLEX_API_KEY=mogrun_emulator.write_token)
    with open("/dev/full", "w") as device:
        proc = subprocess.run([sys.executable, "-m", "mogrun", "run", "ok"],
                              cwd=mogrun_project.root, env=full, stdout=device,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 74, proc.stderr
    assert "exit_code=74" in (tmp_path / "output.txt").read_text()
    assert "exit code: 74" in (tmp_path / "summary.md").read_text()


def test_output_lost_by_one_invocation_is_not_held_against_the_next(mogrun_project,
                                                                   mogrun_emulator, tmp_path,
                                                                   github_env):
    """Two invocations in one process (an embedder's, a test run's): the first one's
    unwritable $GITHUB_OUTPUT made the second say exit_code=74."""
    (tmp_path / "a-dir").mkdir()
    mogrun_project.write(task_file(job("ok")))
    first = mogrun_project.run("run", "ok",
                               env={**github_env, "GITHUB_OUTPUT": str(tmp_path / "a-dir")})
    assert "::warning::cannot write $GITHUB_OUTPUT" in first.stdout
    second = mogrun_project.run("run", "ok", env=github_env)
    assert second.exit_code == 0, second
    assert "exit_code=0" in (tmp_path / "output.txt").read_text()
