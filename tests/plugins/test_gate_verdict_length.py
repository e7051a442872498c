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


MANY_VERDICTS = '''
from mogrun.plugin import GateVerdict, hookimpl


@hookimpl
def mogrun_gate():
    passing = [GateVerdict(f"check-{i}", True, "fine") for i in range(100_000)]
    return passing[:50_000] + [GateVerdict("late", False, "the one that failed")] + passing[50_000:]
'''
ALL_PASSING = '''
from mogrun.plugin import GateVerdict, hookimpl


@hookimpl
def mogrun_gate():
    return [GateVerdict(f"check-{i}", True, "fine") for i in range(1_000)]
'''


def test_a_gate_answering_many_verdicts_keeps_a_bounded_few_and_its_failure(
        tmp_path, mogrun_cli, mogrun_emulator):
    """100,000 verdicts of one gate call made a 104 MB history row, which `history`
    then read for 1.4 s. 200 are kept: the failing ones among them, and one that
    says how many more there were (failing if any of them failed)."""
    root = project(tmp_path, MANY_VERDICTS)
    result = mogrun_cli("--json", "run", "fix", cwd=root, env=ENV)
    assert result.exit_code == 1, result.stderr[:2000]  # the one failure still fails it
    gates = gates_of(result.stdout)
    assert len(gates) == 200 and len(result.output) < 100_000
    assert {"gate": "late", "passed": False, "reason": "the one that failed"} in gates
    assert gates[-1] == {"gate": "hg", "passed": True,
                         "reason": "99,802 more verdicts not kept (0 of them failing)"}
    history = mogrun_cli("--json", "history", cwd=root)
    assert history.exit_code == 0 and len(history.output) < 100_000, history.stderr[:2000]
    assert len(json.loads(history.stdout.splitlines()[0])["gates"]) == 201  # and status's


def test_a_gate_whose_many_verdicts_all_pass_still_passes(tmp_path, mogrun_cli,
                                                          mogrun_emulator):
    result = mogrun_cli("--json", "run", "fix", cwd=project(tmp_path, ALL_PASSING), env=ENV)
    assert result.exit_code == 0, result.stderr[:2000]
    gates = gates_of(result.stdout)
    assert len(gates) == 200 and gates[-1]["reason"] == (
        "801 more verdicts not kept (0 of them failing)")


def test_failing_verdicts_left_out_make_the_closing_one_fail() -> None:
    from mogrun.pluginguard import _bounded
    from mogrun.runs import GateVerdict

    verdicts = [GateVerdict(f"c{i}", i % 2 == 0, "r") for i in range(600)]  # 300 failing
    kept = _bounded("hg", verdicts)
    assert len(kept) == 200 and sum(not v.passed for v in kept[:-1]) == 199
    assert kept[-1] == GateVerdict("hg", False, "401 more verdicts not kept (101 of them failing)")
    assert [int(v.gate[1:]) for v in kept[:-1]] == sorted(int(v.gate[1:]) for v in kept[:-1])
