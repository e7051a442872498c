"""``status``, ``logs``, ``cancel`` and ``history``: what past runs did and are doing.

They read ``.mogrun/history.db`` beside the task file (found, and parsed for
its ``url`` and job names, but its plugins are never loaded) and talk to the
API with the history's run ids. A target is a run id, a job name (every run
of that job's latest invocation) or ``JOB:owner/name`` (one run of a fan-out).
``--local`` runs live only inside the invocation that started them, so their
history is shown as recorded.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mogrun.cli import framework as click
from mogrun.cli.completion import complete_jobs
from mogrun.cli.state import CliState
from mogrun.errors import RequestRefusedError, UsageError
from mogrun.masking import mask


@dataclass(frozen=True)
class Target:
    """One run a state command acts on: its history row if known, else just an id."""

    run_id: str
    label: str
    row: Any = None


def _open(state: CliState) -> tuple[Any, Any]:
    """(task file, history) for this invocation's API base URL."""
    from mogrun.cli.loading import history_key, load_taskfile
    from mogrun.engine.history import History

    taskfile = load_taskfile(state)
    return taskfile, History.for_project(taskfile.project_dir, history_key(state, taskfile))


def _rows_for(history: Any, taskfile: Any, target: str,
              secrets: frozenset[str] = frozenset()) -> list[Any]:
    """A run id's row, else the runs of a job's latest invocation (also a job since
    removed from the task file); ``[]`` for a run id mogrun never recorded. A repo
    named from ``env.*`` is stored masked, so ``JOB:owner/name`` matches it masked too."""
    job, sep, repo = target.partition(":")
    row = None if sep else history.by_run_id(target)
    if row is not None:
        return [row]
    rows = history.latest_invocation_of(job)
    if sep:
        rows = [row for row in rows if row.repo in (repo, mask(repo, secrets))]
    if not rows and (sep or job in taskfile.job_names):
        raise UsageError(f"no recorded runs of {target!r} against this API",
                         context=[f"History: {history.path} ({history.base_url})"])
    return rows


def _targets(history: Any, taskfile: Any, target: str,
             secrets: frozenset[str] = frozenset()) -> list[Target]:
    rows = _rows_for(history, taskfile, target, secrets)
    if not rows:
        return [Target(target, target)]
    return [Target(row.run_id, _row_label(history, row), row) for row in rows if row.run_id]


def _row_label(history: Any, row: Any) -> str:
    """``job``, or ``job:owner/name`` for a run of a fan-out (as ``run`` shows them)."""
    return f"{row.job}:{row.repo}" if history.is_fan_out(row) else row.job


def _client(state: CliState, taskfile: Any) -> Any:
    if state.local:
        raise UsageError("--local runs live only inside the invocation that started them",
                         context=["Their recorded state: mogrun --local status"])
    from mogrun.cli.connect import connect

    return connect(state, taskfile=taskfile).client


def _echo_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, ensure_ascii=True))


def _echo_safe(text: str, err: bool = False) -> None:
    """A line with server text in it (a status, a run id): escaped onto one line."""
    from mogrun.output.base import escape_agent_text

    click.echo(escape_agent_text(text), err=err)


def _table(headers: list[str], rows: list[list[str]]) -> None:
    from mogrun.output.base import escape_agent_text
    from mogrun.tables import render_table

    safe = [[escape_agent_text(str(cell)) for cell in row] for row in rows]
    click.echo(render_table(headers, safe))


# --- status ---------------------------------------------------------------------


@click.command("status")
@click.argument("target", required=False, metavar="[JOB|JOB:owner/name|RUN_ID]",
                shell_complete=complete_jobs)
@click.pass_obj
def status_command(state: CliState, target: str | None) -> int:
    """Latest runs from local history, refreshed from the API.

    \b
    Examples:
      mogrun status                    the latest runs of every job
      mogrun status codemod            every run of codemod's latest invocation
      mogrun --json status run_123
    """
    taskfile, history = _open(state)
    try:
        # Rows without a run id (refused or skipped) are shown too: they are the latest.
        rows = (history.latest_per_job() if target is None
                else _rows_for(history, taskfile, target, env_secrets(state, taskfile)))
        if target is not None and not rows:
            raise UsageError(f"no recorded run {target!r} against this API",
                             context=[f"History: {history.path} ({history.base_url})"])
        statuses = _refresh(state, taskfile, history, rows)
        _show_status(state, rows, statuses)
        return 0
    finally:
        history.close()


def _refresh(state: CliState, taskfile: Any, history: Any, rows: Sequence[Any]) -> dict:
    """Current statuses from ``GET /runs/{id}``; history keeps the newest known."""
    statuses: dict[int, str | None] = {row.id: row.status for row in rows}
    live = [row for row in rows if row.run_id]
    if state.local or not live:
        return statuses
    client = _client(state, taskfile)
    for row in live:
        try:
            run = client.get_run(row.run_id)
        except RequestRefusedError as exc:
            click.echo(f"warning: {row.run_id}: {exc.message}", err=True)
            continue
        statuses[row.id] = run.status
        if run.status != row.status:
            history.update(row.id, status=run.status)
    return statuses


def _show_status(state: CliState, rows: Sequence[Any], statuses: dict) -> None:
    if state.json_output:
        for row in rows:
            _echo_json({**row.as_dict(), "status": statuses.get(row.id)})
        return
    if not rows:
        click.echo("No runs recorded yet.", err=True)
        return
    _table(["job", "repo", "run id", "status", "outcome", "started"],
           [[row.job, row.repo, row.run_id or "-", statuses.get(row.id) or "-",
             row.outcome or "-", row.started_at] for row in rows])


# --- logs -----------------------------------------------------------------------


@click.command("logs")
@click.argument("target", metavar="JOB|JOB:owner/name|RUN_ID", shell_complete=complete_jobs)
@click.option("-f", "--follow", is_flag=True, help="Follow to the end; exit 0 on success, "
              "1 otherwise.")
@click.pass_obj
def logs_command(state: CliState, target: str, follow: bool) -> int:
    """A run's events (every run of a job's latest invocation).

    \b
    Examples:
      mogrun logs weekly-cleanup
      mogrun logs --follow run_123     follow to the end; exit 0 on success
      mogrun logs codemod:acme/web     one run of a fan-out
    """
    taskfile, history = _open(state)
    try:
        secrets = env_secrets(state, taskfile)
        targets = _targets(history, taskfile, target, secrets)
        if not targets:
            raise UsageError(f"no started runs recorded for {target!r}")
        client = _client(state, taskfile)
        return print_logs(state, client, history, targets, follow=follow, secrets=secrets)
    finally:
        history.close()


def env_secrets(state: CliState, taskfile: Any) -> frozenset[str]:
    """The values of every ``env.NAME`` the task file and its prompt files use: the agent
    may echo them, and ``logs`` masks them as ``run`` does (they are secrets)."""
    texts = [taskfile.text]
    root = taskfile.project_dir.resolve()
    for table in (taskfile.defaults, *taskfile.jobs.values()):
        name = table.get("prompt_file") if isinstance(table, dict) else None
        if isinstance(name, str):
            with contextlib.suppress(OSError, ValueError):
                path = (root / name).resolve()
                if path.is_relative_to(root):
                    texts.append(path.read_text(encoding="utf-8"))
    from mogrun.taskfile.templates import template_names

    used = (name.split("|")[0].strip() for text in texts for name in template_names(text))
    names = {name.removeprefix("env.") for name in used if name.startswith("env.")}
    return frozenset(value for name in names if (value := state.env.get(name)))


class _LogSink:
    """Prints what a follower of ``logs --follow`` sees, secrets masked."""

    def __init__(self, state: CliState, target: Target, secrets: frozenset[str]) -> None:
        self.state, self.target, self.secrets = state, target, secrets

    def event(self, event: Any) -> None:
        if self.state.json_output:
            from mogrun.output.ndjson import event_dict, masked

            _echo_json(masked({"type": "event", "run_id": self.target.run_id,
                               "label": self.target.label, "event": event_dict(event)},
                              self.secrets))
            return
        from mogrun.output.base import format_event_line

        click.echo(format_event_line(self.target.label, event, self.secrets))

    def status(self, old: str | None, state: Any) -> None:
        if self.state.json_output:
            _echo_json({"type": "status", "run_id": self.target.run_id,
                        "label": self.target.label, "old": old, "status": state.status})

    def notice(self, message: str, level: str = "info") -> None:
        click.echo(f"{level}: {self.target.label}: {message}", err=True)

    def watch(self, state: Any, unchanged_for: float) -> None:
        return None


def print_logs(state: CliState, client: Any, history: Any, targets: Sequence[Target], *,
               follow: bool, secrets: frozenset[str] = frozenset()) -> int:
    """Each run's events in turn; with ``follow``, each to its end (exit 0 only if all
    succeeded). A run the server refuses (one it no longer knows) is an error line when
    there are others, which are still shown; the exit code is then 1."""
    from mogrun.engine.session import poll_override

    override = poll_override(state.env)
    codes = []
    for target in targets:
        try:
            codes.append(_log_one(state, client, history, target, follow, secrets, override))
        except RequestRefusedError as exc:
            if len(targets) == 1:
                raise
            _echo_safe(f"error: {target.run_id} ({target.label}): {exc.message}", err=True)
            codes.append(1)
    return max(codes, default=0)


def _log_one(state: CliState, client: Any, history: Any, target: Target, follow: bool,
             secrets: frozenset[str], override: float | None) -> int:
    from mogrun.engine.follower import Follower
    from mogrun.models import RunState

    follower = Follower(client, None, RunState(run_id=target.run_id, status=""),
                        _LogSink(state, target, secrets),
                        interval=lambda: override or client.budget.poll_interval(1))
    follower.poll_once()
    if not follow:
        return 0
    final = follower.state if follower.state.terminal else follower.follow().state
    if target.row is not None and final.status != target.row.status:
        history.update(target.row.id, status=final.status)
    if not state.json_output:
        _echo_safe(f"{target.label}  {target.run_id}  {final.status}")
    return 0 if final.status == "success" else 1


# --- cancel ---------------------------------------------------------------------


@click.command("cancel")
@click.argument("target", metavar="JOB|JOB:owner/name|RUN_ID", shell_complete=complete_jobs)
@click.pass_obj
def cancel_command(state: CliState, target: str) -> int:
    """Request cancellation of a run (every run of a job's latest invocation).

    \b
    Examples:
      mogrun cancel run_123
      mogrun cancel codemod            every run of its latest invocation
    """
    taskfile, history = _open(state)
    try:
        targets = _targets(history, taskfile, target, env_secrets(state, taskfile))
        if not targets:
            raise UsageError(f"no started runs recorded for {target!r}")
        client = _client(state, taskfile)
        return _cancel_all(state, client, history, targets)
    finally:
        history.close()


def _cancel_all(state: CliState, client: Any, history: Any, targets: Sequence[Target]) -> int:
    """Every run gets its cancel even when the server refuses one (a run it no longer
    knows): that one is an error line, the rest go on, and the exit code is 1."""
    if len(targets) == 1:
        _cancel_one(state, client, history, targets[0])
        return 0
    failed = False
    for target in targets:
        try:
            _cancel_one(state, client, history, target)
        except RequestRefusedError as exc:
            failed = True
            _echo_safe(f"error: {target.run_id} ({target.label}): {exc.message}", err=True)
    return 1 if failed else 0


def _cancel_one(state: CliState, client: Any, history: Any, target: Target) -> None:
    outcome = client.cancel_run(target.run_id)
    status = outcome.state.status
    if target.row is not None and status != target.row.status:
        history.update(target.row.id, status=status)
    if state.json_output:
        _echo_json({"run_id": target.run_id, "label": target.label, "status": status,
                    "already_terminal": outcome.already_terminal})
    elif outcome.already_terminal:
        _echo_safe(f"{target.run_id} ({target.label}) had already ended: {status}")
    else:
        _echo_safe(f"{target.run_id} ({target.label}) {status}")


# --- history --------------------------------------------------------------------


@click.command("history")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=30, show_default=True,
              help="How many runs to list, newest first.")
@click.option("--job", "job_name", metavar="JOB", help="Only runs of this job.")
@click.pass_obj
def history_command(state: CliState, limit: int, job_name: str | None) -> int:
    """Past runs recorded locally in .mogrun/history.db (newest first).

    \b
    Examples:
      mogrun history
      mogrun history --job codemod -n 5
      mogrun --json history | jq -r .run_id
    """
    _, history = _open(state)
    try:
        rows = history.recent(limit=limit, job=job_name)
    finally:
        history.close()
    if state.json_output:
        for row in rows:
            _echo_json(row.as_dict())
        return 0
    if not rows:
        click.echo("No runs recorded yet.", err=True)
        return 0
    _table(["started", "job", "repo", "run id", "status", "outcome", "exit", "invocation"],
           [[row.started_at, row.job, row.repo, row.run_id or "-", row.status or "-",
             row.outcome or "-", "-" if row.exit_code is None else str(row.exit_code),
             row.invocation] for row in rows])
    return 0

