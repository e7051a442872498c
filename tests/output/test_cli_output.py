"""The reporters end to end: `mogrun --local`-style runs against the emulator
over loopback, through the CLI, with a secret echoed back by the agent."""

from __future__ import annotations

import json
import re

import pytest

SECRET_VALUE = "s3cr3t-value-42"
TASKFILE = r'''
[mogplex]
url = "https://mogplex.com"

[jobs.leak]
repo = "acme/api"
prompt = """
@emulator duration=0.3s events=6 message="leak {{ env.OUT_SECRET }} \u001b[2J ::error::x"
"""
'''


@pytest.fixture
def project(mogrun_project):
    mogrun_project.write(TASKFILE)
    return mogrun_project.root


def run(mogrun_cli, project, *args, env=None):
    env = {"OUT_SECRET": SECRET_VALUE, "MOGRUN_POLL_INTERVAL": "0.1", **(env or {})}
    return mogrun_cli(*args, "leak", cwd=project, env=env)


def test_plain_lines_mask_and_escape_the_agents_text(mogrun_cli, mogrun_emulator, project):
    result = run(mogrun_cli, project)
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert any(
        re.fullmatch(r"\d\d:\d\d:\d\d  leak  log  -  leak \*\*\* \\x1b\[2J ::error::x", line)
        for line in lines
    ), result
    assert re.fullmatch(r"leak\s+acme/api\s+[-0-9a-f]+\s+success\s+\S+\s+\S+\s+passed", lines[-3])
    assert re.fullmatch(r"1 passed, 0 failed in \d+s", lines[-2])
    assert lines[-1] == "exit code 0"
    assert SECRET_VALUE not in result.output and "\x1b" not in result.output


def test_json_stream_parses_and_holds_no_secret(mogrun_cli, mogrun_emulator, project):
    result = run(mogrun_cli, project, "--json")
    assert result.exit_code == 0, result
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    types = [o["type"] for o in objs]
    assert types[0] == "job_started" and types[-2:] == ["job_finished", "summary"]
    assert {"event", "status"} <= set(types)
    log = next(o for o in objs if o["type"] == "event" and o["event"]["type"] == "log")
    assert log["event"]["message"] == "leak *** \x1b[2J ::error::x"
    assert objs[-1]["exit_code"] == 0 and objs[-1]["results"][0]["outcome"] == "success"
    assert SECRET_VALUE not in result.output


def test_github_actions_flavour(mogrun_cli, mogrun_emulator, project, tmp_path):
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "out.txt"),
    }
    result = run(mogrun_cli, project, env=env)
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    token = next(line for line in lines if line.startswith("::stop-commands::")).split("::")[2]
    hostile = next(i for i, line in enumerate(lines) if "::error::x" in line)
    toggles = [line for line in lines[:hostile] if token in line]
    assert toggles[-1] == f"::stop-commands::{token}"
    assert lines[0] == "::group::leak" and "::endgroup::" in lines
    summary = (tmp_path / "summary.md").read_text()
    assert re.search(r"\| leak \| acme/api \| [-0-9a-f]{36} \|", summary)
    outputs = (tmp_path / "out.txt").read_text()
    assert re.search(r"^leak_run_ids=[-0-9a-f]+$", outputs, re.MULTILINE)
    assert SECRET_VALUE not in result.output + outputs
