"""The summary through the CLI against the emulator: graph order and the
file's repo order, the working branch, a reason for every run that did not
pass (kept with -q), the totals line, in plain, --json and GitHub output."""

from __future__ import annotations

import json
import re

import pytest

from mogrun.testing import write_taskfile

FAST = {"MOGRUN_POLL_INTERVAL": "0.1", "GITHUB_ACTIONS": None}
TASKS = """\
[mogplex]
requests_per_minute = 600
starts_per_minute = 100

[jobs.fan]
repo = ["acme/web", "acme/api", "acme/worker"]  # the summary keeps this order
prompt = "{{ repo }}\\n@emulator duration=0.6s"
branch = "mogrun/fan-{{ repo }}"
create_branch = true

[jobs.broken]
repo = "acme/api"
prompt = "@emulator status=failed duration=0.1s"

[jobs.after]
repo = "acme/api"
needs = ["broken"]
prompt = "never sent"

"""
ROWS = [
    r"fan\s+acme/web\s+[-0-9a-f]+\s+success\s+\S+\s+mogrun/fan-acme/web\s+passed",
    r"fan\s+acme/api\s+[-0-9a-f]+\s+success\s+\S+\s+mogrun/fan-acme/api\s+passed",
    r"fan\s+acme/worker\s+[-0-9a-f]+\s+success\s+\S+\s+mogrun/fan-acme/worker\s+passed",
    r"broken\s+acme/api\s+[-0-9a-f]+\s+failed\s+\S+\s+-\s+status: ended failed, expected success",
    r"after\s+acme/api\s+-\s+skipped\s+-\s+-\s+-",
]
TAIL = [
    r"broken  failed \([-0-9a-f]+\): .*gate status: ended failed, expected success",
    r"after  skipped: needs broken, which did not pass \(failed\)",
    r"3 passed, 1 failed, 1 skipped in \d+s",
    r"rerun what did not pass: mogrun rerun broken after",
    r"exit code 1",
]


@pytest.fixture
def project(tmp_path):
    write_taskfile(tmp_path, TASKS)
    return tmp_path


def run(mogrun_cli, project, *args, env=None):
    return mogrun_cli(*args, "run", "-k", "fan", "broken", "after", cwd=project,
                      env={**FAST, **(env or {})})


@pytest.mark.parametrize("quiet", [False, True])
def test_plain_summary_order_branch_reasons_and_totals(mogrun_cli, mogrun_emulator, project,
                                                       quiet):
    result = run(mogrun_cli, project, *(["-q"] if quiet else []))
    assert result.exit_code == 1, result
    lines = result.stdout.splitlines()
    table = lines[-len(ROWS) - len(TAIL):-len(TAIL)]
    for pattern, line in zip(ROWS, table, strict=True):
        assert re.fullmatch(pattern, line), (pattern, line, result)
    for pattern, line in zip(TAIL, lines[-len(TAIL):], strict=True):
        assert re.fullmatch(pattern, line), (pattern, line, result)
    if quiet:
        assert not any(re.match(r"\d\d:\d\d:\d\d  ", line) for line in lines)  # no stream
        # The table first: its blank line parted it from a stream -q does not print.
        assert lines[0].startswith("job "), lines[:2]


def test_json_summary_has_branches_in_graph_order(mogrun_cli, mogrun_emulator, project):
    result = run(mogrun_cli, project, "--json")
    assert result.exit_code == 1, result
    summary = json.loads(result.stdout.splitlines()[-1])
    assert [(r["job"], r["repo"], r["branch"]) for r in summary["results"]] == [
        ("fan", "acme/web", "mogrun/fan-acme/web"),
        ("fan", "acme/api", "mogrun/fan-acme/api"),
        ("fan", "acme/worker", "mogrun/fan-acme/worker"),
        ("broken", "acme/api", None),
        ("after", "acme/api", None),
    ]
    assert summary["results"][-1]["message"] == "needs broken, which did not pass (failed)"


def test_github_step_summary_and_outputs_carry_branches(mogrun_cli, mogrun_emulator, project,
                                                         tmp_path):
    files = {"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
             "GITHUB_OUTPUT": str(tmp_path / "out.txt")}
    result = run(mogrun_cli, project, env={"GITHUB_ACTIONS": "true", **files})
    assert result.exit_code == 1, result
    summary = (tmp_path / "summary.md").read_text()
    assert re.search(r"^\| fan \| acme/web \| [-0-9a-f]+ \| success \| \S+ \| mogrun/fan-acme/web "
                     r"\| passed \|$", summary, re.MULTILINE), summary
    assert "- after  skipped: needs broken, which did not pass (failed)" in summary
    assert re.search(r"^- 3 passed, 1 failed, 1 skipped in \d+s$", summary, re.MULTILINE)
    outputs = (tmp_path / "out.txt").read_text().splitlines()
    assert "fan_branches=mogrun/fan-acme/web mogrun/fan-acme/api mogrun/fan-acme/worker" in outputs
    assert "branches=mogrun/fan-acme/web mogrun/fan-acme/api mogrun/fan-acme/worker" in outputs
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 2, errors  # broken's failure and after's skip, one each


def test_plain_lines_are_in_time_order_status_lines_included(mogrun_cli, mogrun_emulator,
                                                             tmp_path):
    write_taskfile(tmp_path, """\
        [jobs.steady]
        repo = "acme/api"
        prompt = "@emulator duration=4s events=12"
        """)
    # the real poll interval (1.5 s): a status line stamped when mogrun noticed it
    # used to sit after events the next poll showed from before that moment
    result = mogrun_cli("steady", cwd=tmp_path, env={"GITHUB_ACTIONS": None})
    assert result.exit_code == 0, result
    stream = [line for line in result.stdout.splitlines()
              if re.match(r"\d\d:\d\d:\d\d  steady  ", line)]
    kinds = {line.split()[2] for line in stream}
    assert {"run", "status", "result"} <= kinds, stream
    clocks = [line[:8] for line in stream]
    assert clocks == sorted(clocks), stream


def test_github_timeout_is_one_annotation(mogrun_cli, mogrun_emulator, tmp_path):
    write_taskfile(tmp_path, """\
        [jobs.slow]
        repo = "acme/api"
        prompt = "@emulator duration=never interval=0.2s"
        timeout = "1s"
        """)
    result = mogrun_cli("slow", cwd=tmp_path, env={**FAST, "GITHUB_ACTIONS": "true"})
    assert result.exit_code == 1, result
    commands = [line for line in result.stdout.splitlines()
                if line.startswith(("::error", "::warning"))]
    assert len(commands) == 1, result
    assert re.fullmatch(r"::error title=mogrun%3A slow::slow acme/api: timeout \([-0-9a-f]+\): "
                        r"timed out after 1s", commands[0]), commands
    assert re.search(r"slow: timed out after 1s; cancelled run [-0-9a-f]+", result.stdout)
