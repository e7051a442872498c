"""Gates and the watch hook through the bundled plugins, end to end."""

from __future__ import annotations

from .conftest import json_lines


def test_a_gate_may_accept_a_failed_run(project, mogrun):
    project("""
        [jobs.lenient]
        repo = "acme/api"
        prompt = "@emulator status=failed duration=0.2s"
        gates = { status = ["success", "failed"] }
    """)
    result = mogrun("--json", "lenient")
    assert result.exit_code == 0, result
    summary = json_lines(result.stdout)[-1]
    assert summary["results"][0]["status"] == "failed"
    assert summary["results"][0]["outcome"] == "success"


def test_a_failing_gate_fails_a_successful_run(project, mogrun):
    project("""
        [jobs.slowish]
        repo = "acme/api"
        prompt = "@emulator duration=0.6s"
        gates = { max_duration = "0.1s" }
    """)
    result = mogrun("--json", "slowish")
    assert result.exit_code == 1, result
    run = json_lines(result.stdout)[-1]["results"][0]
    assert run["status"] == "success"
    assert run["outcome"] == "gate_failed"
    assert any(not g["passed"] for g in run["gates"])


def test_stalled_run_is_treated_as_timed_out(project, mogrun, mogrun_emulator):
    project("""
        [jobs.stuck]
        repo = "acme/api"
        prompt = "@emulator pending=30s duration=60s"
        retry = { stall_timeout = "0.5s" }
    """)
    result = mogrun("--json", "stuck")
    assert result.exit_code == 1, result
    run = json_lines(result.stdout)[-1]["results"][0]
    assert run["outcome"] == "timeout"
    assert mogrun_emulator.run_detail(mogrun_emulator.runs[0])["status"] == "cancelled"
