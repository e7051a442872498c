"""``--json`` under GitHub Actions: stdout stays NDJSON, and the step summary and
outputs (files, not stdout) are written as without ``--json``; a workflow that
reads ``run_ids`` or ``exit_code`` lost them when it asked for JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

# As a person writes one: comments, a tab, CRLF line ends, a trailing blank line.
TASK_FILE = (
    "# CI jobs\r\n"
    "[mogplex]\r\n"
    "requests_per_minute = 600\r\n"
    "\r\n"
    "[jobs.fan]\r\n"
    "repo = [\"acme/api\", \"acme/web\"]\t# both\r\n"
    "prompt = \"@emulator duration=0.2s\"\r\n"
    "branch = \"mogrun/fan-{{ repo }}\"\r\n"
    "create_branch = true\r\n"
    "\r\n"
    "[jobs.broken]\r\n"
    "repo = \"acme/api\"\r\n"
    "prompt = \"@emulator status=failed duration=0.1s\"\r\n"
    "\r\n"
)


@pytest.fixture
def github_env(tmp_path):
    return {"GITHUB_ACTIONS": "true", "MOGRUN_POLL_INTERVAL": "0.1",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt")}


def json_lines(stdout: str) -> list[dict]:
    """Every stdout line, each one JSON object (a ::group:: line fails here)."""
    return [json.loads(line) for line in stdout.splitlines()]


def same_shape(text: str) -> str:
    """A step file with what differs between two sessions (run ids, times) blanked."""
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", text)
    return re.sub(r"\b\d+(\.\d+)?(ms|s)\b", "T", text)


def test_json_keeps_the_step_summary_and_outputs(mogrun_project, mogrun_emulator, tmp_path,
                                                 github_env):
    (mogrun_project.root / "mogplex.toml").write_bytes(TASK_FILE.encode())
    result = mogrun_project.run("--json", "run", "fan", "broken", env=github_env)
    assert result.exit_code == 1, result
    objects = json_lines(result.stdout)
    summary = objects[-1]
    assert summary["type"] == "summary" and summary["exit_code"] == 1, summary
    ids = [r["run_id"] for r in summary["results"]]
    outputs = (tmp_path / "output.txt").read_text().splitlines()
    assert outputs[:3] == [f"run_ids={' '.join(ids)}", "branches=mogrun/fan-acme/api "
                           "mogrun/fan-acme/web", "exit_code=1"], outputs
    assert f"fan_run_ids={ids[0]} {ids[1]}" in outputs and f"broken_run_ids={ids[2]}" in outputs
    markdown = (tmp_path / "summary.md").read_text()
    assert markdown.startswith("## mogrun\n\n| job | repo | run id |"), markdown
    assert f"| broken | acme/api | {ids[2]} | failed |" in markdown
    assert re.search(r"^- broken  failed \(.*ended failed, expected success$", markdown,
                     re.MULTILINE), markdown
    assert markdown.rstrip().endswith("\nexit code: 1"), markdown

    # The same session without --json writes the same files.
    for name in ("output.txt", "summary.md"):
        (tmp_path / name).rename(tmp_path / f"json-{name}")
    plain = mogrun_project.run("run", "fan", "broken", env=github_env)
    assert plain.exit_code == 1, plain
    assert plain.stdout.startswith("::stop-commands::") or "::group::" in plain.stdout
    for name in ("output.txt", "summary.md"):
        assert same_shape((tmp_path / f"json-{name}").read_text()) == same_shape(
            (tmp_path / name).read_text()), name


def test_json_says_a_step_file_it_cannot_write_on_stderr(mogrun_project, mogrun_emulator,
                                                         tmp_path, github_env):
    """A lost $GITHUB_OUTPUT is exit 74, as without --json, and the warning goes to
    stderr: an annotation on stdout would not be JSON."""
    (tmp_path / "a-dir").mkdir()
    env = {**github_env, "GITHUB_OUTPUT": str(tmp_path / "a-dir")}
    (mogrun_project.root / "mogplex.toml").write_bytes(TASK_FILE.encode())
    script = ("import sys; from mogrun.cli.app import run_cli; "
              "sys.exit(run_cli(['--json', 'run', 'fan']))")  # the process's own exit rule
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    full.update(env, MOGPLEX_URL=mogrun_emulator.url, MOGPLEX_API_KEY=mogrun_emulator.write_token)
    proc = subprocess.run([sys.executable, "-c", script], cwd=mogrun_project.root, env=full,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 74, proc
    assert json_lines(proc.stdout)[-1]["exit_code"] == 74, proc.stdout
    assert re.search(r"^warning: cannot write \$GITHUB_OUTPUT \(.*a-dir\): ", proc.stderr,
                     re.MULTILINE), proc.stderr
    assert (tmp_path / "summary.md").read_text().rstrip().endswith("\nexit code: 74")


def test_json_failing_before_its_session_still_writes_the_step_files(mogrun_project,
                                                                    tmp_path, github_env):
    """No token: the step's exit_code output was lost with --json, and an ::error::
    annotation on stdout would not be JSON."""
    (mogrun_project.root / "mogplex.toml").write_bytes(TASK_FILE.encode())
    result = mogrun_project.run("--json", "run", "fan",
                                env={**github_env, "MOGPLEX_API_KEY": None})
    assert result.exit_code == 64, result
    assert result.stdout == "", result.stdout
    assert result.stderr.startswith("Error: no API token"), result.stderr
    assert (tmp_path / "output.txt").read_text() == "run_ids=\nbranches=\nexit_code=64\n"
    markdown = (tmp_path / "summary.md").read_text()
    assert "`mogrun run` failed: no API token" in markdown and "exit code: 64" in markdown
