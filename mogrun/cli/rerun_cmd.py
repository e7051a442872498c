"""``mogrun rerun [JOB...]``: new attempts of what did not pass last time.

The latest invocation (of the named jobs, or the latest invocation of all)
is read from the task file's history. Every run of it that did not pass — failed,
cancelled, timed out, gate failed, skipped, never started — starts again as
its next attempt, under a key derived from the run's own key and the attempt
number (so a lost answer replays that attempt); passed runs are not repeated.
A job skipped because a need failed runs once that need passes. Options and
exit codes are those of ``run``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mogrun.cli import framework as click
from mogrun.cli.completion import complete_jobs
from mogrun.cli.run_cmd import (
    RunCommand,
    parse_shard_option,
    parse_timeout,
    plugin_options,
    run_options,
    session_options,
)
from mogrun.cli.state import CliState
from mogrun.errors import UsageError

if TYPE_CHECKING:
    from mogrun.engine.history import History, HistoryRow
    from mogrun.models import ResolvedJob

RERUN_HELP = """Start new attempts of the runs of the latest invocation that did not pass.

\b
Passed runs are not repeated; failed, cancelled, timed-out, gate-failed,
skipped and never-started runs start again as their next attempt (a new
Idempotency-Key derived from the run's own). With JOB names, the latest
invocation of each; without, every job of the latest invocation. Latest
means of this task file: each task file in a folder (-f nightly.toml) has
its own history.

\b
Examples:
  mogrun rerun                 what did not pass in the latest invocation
  mogrun rerun codemod         the runs of codemod that did not pass
  mogrun rerun -n              the start requests of those attempts; no network
"""


@click.command("rerun", cls=RunCommand, help=RERUN_HELP)
@click.argument("jobs", nargs=-1, shell_complete=complete_jobs)
@run_options
@click.pass_context
def rerun_command(ctx: click.Context, jobs: tuple[str, ...], parallel: int, dry_run: bool,
                  timeout: str | None, detach: bool, no_deps: bool, keep_going: bool,
                  plugins: tuple[str, ...], shard: str | None, **plugin_values: Any) -> int:
    state: CliState = ctx.obj
    from mogrun.cli.loading import load_taskfile, project_history
    from mogrun.cli.run_cmd import execute
    from mogrun.taskfile.graph import check_job_names

    timeout_override = parse_timeout(timeout)
    slice_ = parse_shard_option(shard)
    taskfile = load_taskfile(state)
    check_job_names(taskfile, jobs)  # a typo gets run's "did you mean", not "never run"
    history = project_history(state, taskfile)
    try:
        rows = _latest_rows(history, jobs)
    finally:
        history.close()
    retry = _not_passed(rows)
    if not retry:
        state.echo("nothing to rerun: every run of the latest invocation passed", err=True)
        return 0
    names = list(dict.fromkeys(row.job for row in retry))
    if dry_run:
        from mogrun.cli.taskfile_views import show_jobs

        return show_jobs(state, names, no_deps=no_deps, timeout_override=timeout_override,
                         extra_plugins=plugins, shard=slice_, select=_selector(retry))
    return execute(state, names, session_options(state, parallel=parallel,
                                                 keep_going=keep_going, detach=detach,
                                                 no_deps=no_deps),
                   plugins=plugins, options=plugin_options(ctx, plugin_values),
                   timeout_override=timeout_override, shard=slice_, select=_selector(retry))


def _latest_rows(history: History, jobs: Sequence[str]) -> list[HistoryRow]:
    """The latest attempt of each run of the latest invocation (of each named job)."""
    if not jobs:
        rows = history.latest_invocation()
        if not rows:
            raise UsageError("nothing to rerun: no run is recorded in this project's history",
                             context=["See: mogrun history"])
        return rows
    found: list[HistoryRow] = []
    for name in dict.fromkeys(jobs):
        rows = history.latest_invocation_of(name)
        if not rows:
            raise UsageError(f"nothing to rerun for {name!r}: it has never run here",
                             context=["See: mogrun history"])
        found.extend(rows)
    return found


def _not_passed(rows: Sequence[HistoryRow]) -> list[HistoryRow]:
    from mogrun.outcomes import Outcome

    return [row for row in rows
            if row.outcome is None or row.outcome not in {o.value for o in Outcome}
            or Outcome(row.outcome).failing]


def _selector(retry: Sequence[HistoryRow]) -> Any:
    """The runs to start again (by masked label) and the attempt each starts at."""
    wanted = {(row.job, row.repo): row for row in retry}

    def select(jobs: Sequence[ResolvedJob], history: History | None
               ) -> tuple[list[ResolvedJob], Mapping[str, tuple[int, str]]]:
        import dataclasses

        from mogrun.masking import mask

        chosen: list[ResolvedJob] = []
        attempts: dict[str, tuple[int, str]] = {}
        for job in jobs:
            runs = []
            for plan in job.runs:
                row = wanted.get((job.name, mask(plan.repo, job.secrets)))
                if row is not None:
                    runs.append(plan)
                    attempts[plan.label] = (row.attempt + 1, "rerun")
            if runs:
                chosen.append(dataclasses.replace(job, runs=tuple(runs)))
        return chosen, attempts

    return select
