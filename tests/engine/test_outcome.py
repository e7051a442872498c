"""Outcome rules: gates over statuses, job outcomes over runs, exit codes."""

from __future__ import annotations

import pytest

from mogrun.engine.outcome import gated_outcome, job_outcome, outcome_exit_code
from mogrun.runs import GateVerdict, RunResult

PASS, FAIL = GateVerdict("status", True), GateVerdict("max_duration", False, "too slow")


@pytest.mark.parametrize(("status", "verdicts", "outcome"), [
    ("success", (), "success"),
    ("failed", (), "failed"),
    ("cancelled", (), "cancelled"),
    ("success", (PASS,), "success"),
    ("failed", (PASS,), "success"),        # a gate accepted the failed run
    ("success", (PASS, FAIL), "gate_failed"),
    ("failed", (FAIL,), "failed"),         # a failed run stays failed
    ("weird", (), "error"),
])
def test_gated_outcome(status, verdicts, outcome):
    assert gated_outcome(status, verdicts) == outcome


def result(outcome):
    return RunResult(job="j", repo="r", outcome=outcome)


def test_job_outcome_passes_only_when_every_run_passes():
    assert job_outcome([result("success"), result("success")]) == "success"
    assert job_outcome([result("success"), result("gate_failed")]) == "gate_failed"
    assert job_outcome([result("skipped"), result("timeout")]) == "timeout"
    assert job_outcome([result("detached")]) == "detached"


def test_a_refused_attempt_fails_nothing_and_is_no_runs_result():
    from mogrun.outcomes import NOTIFY_OUTCOMES, Outcome

    assert not Outcome.REFUSED.failing and not Outcome.REFUSED.passed
    assert Outcome.REFUSED.exit_code == 0
    assert job_outcome([result("refused"), result("success")]) == "success"
    assert job_outcome([result("refused")]) == "skipped"  # no run's result at all
    assert "refused" not in NOTIFY_OUTCOMES  # nothing to tell a person: attempt 2 follows


def test_exit_codes():
    assert [outcome_exit_code(o) for o in ("success", "detached")] == [0, 0]
    assert {outcome_exit_code(o) for o in ("failed", "cancelled", "timeout", "gate_failed",
                                            "skipped", "error")} == {1}
