"""Plain-text tables and the cells of the session summary, without rich, so
that any command (``history``, ``status``) can print an aligned table cheaply.

The summary is the same in every mode: the table (graph order), then one
line per run that did not pass saying why (kept with ``-q``: the reason is
what a quiet user reads the summary for), a totals line, and the command
that retries what did not pass when the engine gives one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from typing import Any

from mogrun.durations import format_duration
from mogrun.masking import mask
from mogrun.outcomes import Outcome, RunStatus, awaiting_input_way_on
from mogrun.output.base import escape_agent_text
from mogrun.runs import RunResult
from mogrun.tables import cell_width, table_lines
from mogrun.textsafety import run_command

SUMMARY_HEADERS = ["job", "repo", "run id", "status", "duration", "branch", "gates"]
STATUS_COLUMN = 3


def gates_cell(result: RunResult) -> str:
    """The failed gates' reasons, ``passed`` when every gate passed, ``-`` when none ran."""
    if not result.gates:
        return "-"
    failed = [g for g in result.gates if not g.passed]
    if not failed:
        return "passed"
    return "; ".join(f"{g.gate}: {g.reason}" if g.reason else g.gate for g in failed)


def status_cell(result: RunResult) -> str:
    """The run's outcome, as its gates judged it; a run they passed whose own status
    is another (``gates = { status = ["failed"] }``) says that status too, so
    the column never reads "success" alone for a run that failed."""
    cell = result.outcome
    if result.outcome == Outcome.SUCCESS and result.status not in (None, RunStatus.SUCCESS):
        cell += f" (run {result.status})"
    return attached_mark(cell, result.attached)


def attached_mark(cell: str, attached: bool) -> str:
    """``success (attached)``: the outcome of a run an invocation only attached to (its
    key matched a run already there), told apart from the run's own starter's."""
    return cell + (" (attached)" if attached else "")


def summary_row(result: RunResult) -> list[str]:
    """One result as the summary's cells, unescaped and unmasked."""
    return [
        result.job,
        result.repo,
        result.run_id or "-",
        status_cell(result),
        format_duration(result.duration),
        result.branch or "-",
        gates_cell(result),
    ]


def summary_rows(results: Iterable[RunResult], secrets: Iterable[str] = ()) -> list[list[str]]:
    """Every result as safe cells: masked, then escaped onto one line each."""
    secrets = tuple(secrets)
    return [
        [safe_cell(cell, secrets) for cell in summary_row(result)]
        for result in results
    ]


def safe_cell(text: str, secrets: Iterable[str]) -> str:
    secrets = tuple(secrets)
    return mask(escape_agent_text(mask(text, secrets)), secrets)


def summary_lines(results: Iterable[RunResult], secrets: Iterable[str] = ()) -> Iterator[str]:
    """The lines of a session's plain summary table, each made as it is written
    (``table_lines``)."""
    return table_lines(SUMMARY_HEADERS, summary_rows(results, secrets))


def render_stacked(results: Iterable[RunResult], secrets: Iterable[str] = ()) -> str:
    """The summary for a narrow terminal: one block per run, every value whole
    (a run id is never cut, so two ids never look alike)."""
    lines: list[str] = []
    for cells in summary_rows(results, secrets):
        job, repo, run_id, status, duration, branch, gates = cells
        lines.append(f"{job}  {repo}  {status}  {duration}")
        lines.append(f"  run {run_id}" + (f"  branch {branch}" if branch != "-" else ""))
        if gates != "-":
            lines.append(f"  gates {gates}")
    return "\n".join(lines)


def table_width(results: Iterable[RunResult], secrets: Iterable[str] = ()) -> int:
    """Columns the plain table needs: its widest line."""
    return max((cell_width(line) for line in summary_lines(results, secrets)), default=0)


def result_detail(result: RunResult) -> str:
    """``outcome`` plus why, for a finished line, an annotation or the summary."""
    detail = result.why
    run = f" ({result.run_id})" if result.run_id else ""
    return f"{result.outcome}{run}" + (f": {detail}" if detail else "")


def result_label(result: RunResult, fan_out: bool) -> str:
    return result.label if fan_out else result.job


def clip(text: str, limit: int | None) -> str:
    """``text`` cut to ``limit`` characters with a marker saying how much was cut
    (``None``: whole). Cut text that is already masked: a cut must not leave a
    secret's first characters unmasked."""
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]} … ({len(text) - limit:,} more characters cut)"


def fanned(results: Iterable[RunResult], fan_outs: Collection[str] = ()) -> set[str]:
    """The jobs whose results are named ``job:owner/name``: those with several here,
    and ``fan_outs`` (the session's fan-outs: a rerun of one of their runs has one)."""
    seen: set[str] = set()
    several = set(fan_outs)
    for result in results:
        (several if result.job in seen else seen).add(result.job)
    return several


def reason_lines(results: tuple[RunResult, ...], secrets: Iterable[str] = (),
                 limit: int | None = None, fan_outs: Collection[str] = ()) -> list[str]:
    """``label  outcome (run): why`` for every run that did not pass (skips
    included), each cut to ``limit`` characters (GitHub's step summary)."""
    named = fanned(results, fan_outs)
    failing = [r for r in results if is_failing(r)]
    return [
        clip(safe_cell(f"{result_label(r, r.job in named)}  {result_detail(r)}", secrets),
             limit)
        for r in failing
    ]


def totals_line(results: Iterable[RunResult], elapsed: float) -> str:
    """``7 passed, 2 failed, 1 skipped in 3m12s``; every failing outcome but a
    skip counts as failed, detached starts are counted apart."""
    counts = {"passed": 0, "failed": 0, "skipped": 0, "detached": 0}
    for result in results:
        counts[_bucket(result)] += 1
    parts = [f"{counts['passed']} passed", f"{counts['failed']} failed"]
    parts += [f"{counts[name]} {name}" for name in ("skipped", "detached") if counts[name]]
    return f"{', '.join(parts)} in {format_duration(round(elapsed))}"


def total_usage(results: Iterable[RunResult]) -> dict[str, Any] | None:
    """Tokens and cost summed over the runs that report them (automation runs);
    ``None`` when none does. A cost is only summed from the runs that know theirs."""
    usages = [r.usage for r in results if r.usage]
    if not usages:
        return None
    total: dict[str, Any] = {key: sum(int(u.get(key) or 0) for u in usages) for key in
                             ("ai_calls", "input_tokens", "output_tokens", "total_tokens")}
    costs = [float(u["cost_usd"]) for u in usages if isinstance(u.get("cost_usd"), int | float)]
    total["cost_usd"] = round(sum(costs), 6) if costs else None
    return total


def usage_line(results: Iterable[RunResult]) -> str | None:
    """``usage: 3 AI calls, 3000 tokens, $0.0600`` — what the invocation cost."""
    total = total_usage(results)
    if total is None:
        return None
    cost = "cost unknown" if total["cost_usd"] is None else f"${total['cost_usd']:.4f}"
    calls = total["ai_calls"]
    return (f"usage: {calls} AI call{'' if calls == 1 else 's'}, {total['total_tokens']} tokens "
            f"({total['input_tokens']} in, {total['output_tokens']} out), {cost}")


def summary_tail(results: tuple[RunResult, ...], exit_code: int, elapsed: float,
                 rerun: str | None, secrets: Iterable[str] = (), command: str = "mogrun",
                 fan_outs: Collection[str] = ()) -> list[str]:
    """What follows the table in every text mode: reasons (one per run that did not
    pass, first), totals, runs still going (their hints start with ``command``),
    rerun, exit code. ``fan_outs``: the session's fan-out jobs (``fanned``)."""
    secrets = tuple(secrets)
    lines = reason_lines(results, secrets, fan_outs=fan_outs)
    if results:
        lines.append(totals_line(results, elapsed))
    usage = usage_line(results)
    if usage:
        lines.append(usage)
    lines += going_lines(results, secrets, command, fan_outs)
    if rerun and exit_code != 0:
        lines.append("rerun what did not pass: " + safe_cell(rerun, secrets))
    lines.append(f"exit code {exit_code}")
    return lines


def going_lines(results: tuple[RunResult, ...], secrets: Iterable[str] = (),
                command: str = "mogrun", fan_outs: Collection[str] = ()) -> list[str]:
    """``still going: job (id); follow with: mogrun logs --follow id`` for each run
    that did not pass but was left going: ``rerun`` leaves it alone while it goes.
    ``command``: ``mogrun -f FILE``, how this invocation found its task file."""
    named = fanned(results, fan_outs)
    # (a run id ``logs --follow`` was given that no history recorded is of no job)
    return [safe_cell(_going_line(r, result_label(r, r.job in named) or "run", command),
                      secrets)
            for r in results if r.left_going and r.run_id]


def _going_line(result: RunResult, label: str, command: str) -> str:
    run_id = result.run_id or ""  # (only runs with an id are said going)
    if result.status == RunStatus.AWAITING_INPUT:  # following it would only wait
        return (f"awaiting input: {label} ({result.run_id}); "
                + awaiting_input_way_on(run_command(command, "cancel", run_id)))
    follow = run_command(command, "logs --follow", run_id)
    return f"still going: {label} ({result.run_id}); follow with: {follow}"


def _bucket(result: RunResult) -> str:
    if result.outcome == Outcome.SUCCESS:
        return "passed"
    if result.outcome == Outcome.SKIPPED:
        return "skipped"
    if result.outcome == Outcome.DETACHED:
        return "detached"
    return "failed"


def is_failing(result: RunResult) -> bool:
    """Did not pass and was not merely started (``--detach``)."""
    return result.outcome not in (Outcome.SUCCESS, Outcome.DETACHED)
