"""Plain-text tables and the cells of the session summary, without rich, so
that any command (``history``, ``status``) can print an aligned table cheaply.
"""

from __future__ import annotations

from collections.abc import Iterable

from mogrun.durations import format_duration
from mogrun.masking import mask
from mogrun.models import RunResult
from mogrun.output.base import escape_agent_text
from mogrun.tables import render_table

SUMMARY_HEADERS = ["job", "repo", "run id", "status", "duration", "gates"]


def gates_cell(result: RunResult) -> str:
    """The failed gates' reasons, ``passed`` when every gate passed, ``-`` when none ran."""
    if not result.gates:
        return "-"
    failed = [g for g in result.gates if not g.passed]
    if not failed:
        return "passed"
    return "; ".join(f"{g.gate}: {g.reason}" if g.reason else g.gate for g in failed)


def summary_row(result: RunResult) -> list[str]:
    """One result as the summary's cells, unescaped and unmasked."""
    return [
        result.job,
        result.repo,
        result.run_id or "-",
        result.outcome + (" (attached)" if result.attached else ""),
        format_duration(result.duration),
        gates_cell(result),
    ]


def summary_rows(results: Iterable[RunResult], secrets: Iterable[str] = ()) -> list[list[str]]:
    """Every result as safe cells: masked, then escaped onto one line each."""
    secrets = tuple(secrets)
    return [
        [escape_agent_text(mask(cell, secrets)) for cell in summary_row(result)]
        for result in results
    ]


def render_summary(results: Iterable[RunResult], secrets: Iterable[str] = ()) -> str:
    """The plain summary table of a session."""
    return render_table(SUMMARY_HEADERS, summary_rows(results, secrets))
