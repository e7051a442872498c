"""Agent text in a GitHub Actions log issues no workflow command, whichever
command prints it. The runner acts on ``::cmd::`` at a line's start and on the
older ``##[cmd]`` anywhere in a line: ``run``'s own output ran inside
``::stop-commands::``, but ``logs``, ``status`` and ``history`` printed the same
text bare, and ``--json`` lines carried ``##[error]`` as it was."""

from __future__ import annotations

import json
import re

import pytest

from mogrun.testing import job, task_file

FORGED = "##[error]forged by the agent"
PROMPT = f'p\n@emulator duration=0.3s events=4 tools=none message="{FORGED}"'


@pytest.fixture
def github_env(tmp_path):
    return {"GITHUB_ACTIONS": "true", "MOGRUN_POLL_INTERVAL": "0.1",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt")}


def stopped_throughout(stdout: str) -> None:
    """Every line between the first and the last runs with commands stopped."""
    lines = stdout.splitlines()
    start = re.fullmatch(r"::stop-commands::([0-9a-f]{32})", lines[0])
    assert start, stdout
    assert lines[-1] == f"::{start.group(1)}::", stdout
    assert start.group(1) not in "\n".join(lines[1:-1])


@pytest.mark.parametrize("args", [["logs", "a"], ["logs"], ["status"], ["history"]])
def test_a_command_showing_agent_text_stops_workflow_commands(mogrun_project, mogrun_emulator,
                                                              github_env, args) -> None:
    mogrun_project.write(task_file(job("a", prompt=PROMPT)))
    assert mogrun_project.run("run", "a", env={"MOGRUN_POLL_INTERVAL": "0.1"}).exit_code == 0
    result = mogrun_project.run(*args, env=github_env)
    assert result.exit_code == 0, result
    stopped_throughout(result.stdout)
    if args[0] == "logs":
        assert FORGED in result.stdout  # shown as it is, and inert


@pytest.mark.parametrize("args", [["--json", "run", "a"], ["--json", "logs", "a"]])
def test_json_lines_carry_the_same_text_without_a_command_in_it(mogrun_project,
                                                                 mogrun_emulator, github_env,
                                                                 args) -> None:
    mogrun_project.write(task_file(job("a", prompt=PROMPT)))
    if args[1] == "logs":
        assert mogrun_project.run("run", "a", env={"MOGRUN_POLL_INTERVAL": "0.1"}).exit_code == 0
    result = mogrun_project.run(*args, env=github_env)
    assert result.exit_code == 0, result
    assert "##[" not in result.stdout
    messages = [json.loads(line).get("event", {}).get("message")
                for line in result.stdout.splitlines()]
    assert FORGED in messages  # the value itself is unchanged
    assert "::stop-commands::" not in result.stdout  # NDJSON only


def test_outside_github_nothing_is_added(mogrun_project, mogrun_emulator) -> None:
    mogrun_project.write(task_file(job("a", prompt=PROMPT)))
    env = {"MOGRUN_POLL_INTERVAL": "0.1", "GITHUB_ACTIONS": None}
    assert mogrun_project.run("run", "a", env=env).exit_code == 0
    result = mogrun_project.run("logs", "a", env=env)
    assert "stop-commands" not in result.stdout and FORGED in result.stdout
