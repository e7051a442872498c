"""A job `mogrun_adjust_job` returns keeps its durations within the task file's
longest: a `timeout` of 48h showed as `timeout: 48h`, and a `capacity_wait` of
1e308 as a 300-digit wait in `show` and in `run`'s needs-wait lines, where the
task file refuses both (exit 2). Refused with the task file's words."""

from __future__ import annotations

import pytest

from mogrun.testing import write_taskfile

PLUGIN = """\
import dataclasses

from mogrun.plugin import hookimpl


@hookimpl
def mogrun_adjust_job(job):
    return dataclasses.replace(job, {change})
"""

TASKS = """\
[mogplex]
plugins = ["adj.py"]

[jobs.fix]
repo = "acme/api"
prompt = "@emulator duration=0.2s events=1"
"""


def project(root, change: str):
    write_taskfile(root, TASKS)
    (root / "adj.py").write_text(PLUGIN.format(change=change))
    return root


@pytest.mark.parametrize(("change", "said"), [
    ("timeout=172800.0",
     "timeout is an invalid duration 172800.0: longer than the longest allowed (24h)"),
    ("capacity_wait=1e308",
     "capacity_wait is an invalid duration 1e+308: longer than the longest allowed "
     "(7 days)"),
    ("timeout=86400.5",
     "timeout is an invalid duration 86400.5: longer than the longest allowed (24h)"),
])
def test_a_duration_past_the_task_files_longest_is_the_hooks_error(tmp_path, mogrun_emulator,
                                                                   mogrun_cli, change, said):
    root = project(tmp_path, change)
    for command in ("show", "run"):
        result = mogrun_cli(command, "fix", cwd=root, env={"MOGRUN_POLL_INTERVAL": "0.1"})
        assert result.exit_code == 2, result
        assert result.stderr.splitlines()[0] == (
            f'Error: plugin "adj" failed in mogrun_adjust_job: it returned a job whose {said}')
    assert mogrun_emulator.runs == []  # refused before any run started


def test_the_longest_durations_themselves_are_kept(tmp_path, mogrun_cli):
    root = project(tmp_path, "timeout=86400.0, capacity_wait=604800")
    result = mogrun_cli("show", "fix", cwd=root)
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[1:3] == ["  timeout: 24h (then cancel)",
                                               "  capacity wait: 168h for a free sandbox"]
