"""A gate verdict's reason and name are kept as a watch's reason is: their first
200 characters. A 5 MB reason was printed four times by `run` (20 MB), written
whole to `--json`, to the JUnit report and to the history row's `gates` column.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from mogrun.testing import write_taskfile

SECRET = "br-secret-7741"
LONG = 5_000_000

TASKS = '''
[mogplex]
plugins = ["hg.py"]

[jobs.fix]
repo = "acme/api"
prompt = "@emulator duration=0.2s events=2"
branch = "fix/{{ env.BRANCH_SECRET }}"
'''

# The job's secret straddles the cut: masked first, no part of it is shown.
LONG_VERDICTS = f'''
from mogrun.plugin import GateVerdict, hookimpl


@hookimpl
def mogrun_gate():
    reason = "r" * 190 + "{SECRET}" + "r" * {LONG}
    return [GateVerdict("g" * 1000, False, reason), GateVerdict("hg", True, "r" * {LONG})]
'''
LONG_CRASH = f'''
from mogrun.plugin import hookimpl


@hookimpl
def mogrun_gate():
    raise RuntimeError("c" * {LONG})
'''
ENV = {"BRANCH_SECRET": SECRET, "MOGRUN_POLL_INTERVAL": "0.1"}


def project(root, plugin: str):
    write_taskfile(root, TASKS)
    (root / "hg.py").write_text(plugin)
    return root


def gates_of(ndjson: str) -> list[dict]:
    """The plugin's verdicts of the one run, as the --json summary gives them (not
    the bundled gates' ``status``)."""
    [summary] = [line for line in map(json.loads, ndjson.splitlines())
                 if line["type"] == "summary"]
    return [g for g in summary["results"][0]["gates"] if g["gate"] != "status"]


def cut(text: str) -> bool:
    return len(text) == 200 and text.endswith("...")


def test_a_long_verdict_is_cut_in_the_output_json_junit_and_history(tmp_path, mogrun_cli,
                                                                    mogrun_emulator):
    root = project(tmp_path, LONG_VERDICTS)
    plain = mogrun_cli("run", "fix", cwd=root, env=ENV)
    assert plain.exit_code == 1, plain.stderr[:2000]
    assert len(plain.output) < 20_000 and "r" * 201 not in plain.output
    assert SECRET[:4] not in plain.output and f"{'g' * 197}...: {'r' * 190}***" in plain.stdout

    report = root / "junit.xml"
    result = mogrun_cli("--json", "run", "--junit", str(report), "fix", cwd=root, env=ENV)
    assert result.exit_code == 1, result.stderr[:2000]
    assert len(result.output) < 20_000 and report.stat().st_size < 20_000
    assert [(len(g["gate"]), cut(g["reason"])) for g in gates_of(result.stdout)] == [
        (200, True), (2, True)]
    failure = ET.parse(report).getroot().find("testsuite/testcase/failure")
    assert failure is not None and "r" * 201 not in (failure.text or "")

    history = mogrun_cli("--json", "history", cwd=root)
    assert history.exit_code == 0 and len(history.output) < 20_000, history.stderr[:2000]
    assert SECRET[:4] not in history.output
    row = json.loads(history.stdout.splitlines()[0])
    assert sum(cut(g["reason"]) for g in row["gates"]) == 2


def test_a_gate_crashing_with_a_long_message_is_cut_too(tmp_path, mogrun_cli, mogrun_emulator):
    result = mogrun_cli("--json", "run", "fix", cwd=project(tmp_path, LONG_CRASH), env=ENV)
    assert result.exit_code == 1, result.stderr[:2000]
    assert len(result.output) < 20_000
    [verdict] = gates_of(result.stdout)
    assert verdict["gate"] == "hg" and cut(verdict["reason"])
    assert verdict["reason"].startswith("gate crashed: RuntimeError: ccc")
