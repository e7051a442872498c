"""What a run and a job ended as, and the exit code each outcome maps to.

Gates decide whether a finished run passes: with no verdicts at all the
server's status decides (only ``success`` passes); when every verdict passes
the run passes (a team may accept ``failed``); a failing verdict turns a
``success`` into ``gate_failed`` and leaves a failed or cancelled run as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mogrun.durations import server_span
from mogrun.outcomes import Outcome
from mogrun.runs import GateVerdict, RunResult, RunState

DETACHED = Outcome.DETACHED


def status_outcome(status: str | None) -> str:
    """The outcome a terminal status stands for before gates."""
    return Outcome.of_status(status)


def gated_outcome(status: str | None, verdicts: Sequence[GateVerdict]) -> str:
    """A terminal run's outcome once its gates have spoken."""
    base = Outcome.of_status(status)
    if not verdicts:
        return base
    if all(v.passed for v in verdicts):
        return Outcome.SUCCESS if base != Outcome.ERROR else base
    return Outcome.GATE_FAILED if base == Outcome.SUCCESS else base


def judged_message(state: RunState, outcome: str) -> str:
    """What a judged run's result says of its end: the server's error for a run that
    did not pass (a failed gate says its own reason in its verdict), nothing for a pass."""
    from mogrun.engine.run_kind import error_text

    return error_text(state) if outcome != Outcome.SUCCESS else ""


def job_outcome(results: Iterable[RunResult]) -> str:
    """A job passes only when every one of its runs passes (fan-out included)."""
    return Outcome.of_job(r.outcome for r in results)


def outcome_exit_code(outcome: str) -> int:
    """0 for a pass (or a detached start); 1 for any failing outcome."""
    return Outcome(outcome).exit_code


def server_duration(state: RunState) -> float | None:
    """Seconds between the run's createdAt and updatedAt, from the server's clock
    (``mogrun.durations.server_span``: no offset is UTC; backwards is unknown)."""
    return server_span(state.created_at, state.updated_at)


def failed_gate_reasons(verdicts: Iterable[GateVerdict]) -> list[str]:
    return [f"{v.gate}: {v.reason}" if v.reason else v.gate for v in verdicts if not v.passed]
