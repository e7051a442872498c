"""``mogrun rerun [JOB...]``: new attempts of what did not pass last time.

The latest invocation (of the named jobs, or the latest invocation of all)
is read from the task file's history. Every run of it that did not pass — failed,
cancelled, timed out, gate failed, skipped, never started — starts again as
its next attempt, under a key derived from the run's own key and the attempt
number (so a lost answer replays that attempt); passed runs are not repeated.
A run whose key was never sent (skipped) starts under it: the start it never
made. A fan-out's repo added since, never run here, starts as its first attempt.
A job skipped because a need failed runs once that need passes; a need the
task file gives it now that never ran here runs first, as its first attempt.
Options and exit codes are those of ``run``.

A run that may still be going (its following failed, it was left going at its
timeout or at Ctrl-C: recorded with a failing outcome and a status that is not
terminal) is never started again while it goes: its state is read first
(``GET /runs/{id}/events``, inside the request budget). Still going, it is left alone
(with the command that follows it) but recorded again in this invocation as it
stands (its run id, a failing outcome, why), and so is a job that needs its job
(recorded skipped): the next rerun finds both and reads the run again; ended,
it is judged as it ended. ``--local`` runs ended with their emulator, unless
the mogrun that started one still runs: it follows the run there, so it is held.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mogrun.cli import framework as click
from mogrun.cli.completion import complete_jobs
from mogrun.cli.rerun_keys import keys_never_sent, refused_unstored
from mogrun.cli.rerun_rows import (
    follower_pid,
    grown_fan_outs,
    held_back,
    in_file,
    latest_per_run,
    latest_rows,
    needs_rows,
    not_passed,
)
from mogrun.cli.rerun_selection import NO_LONGER_IN_FILE, Selection
from mogrun.cli.run_cmd import (
    RunCommand,
    parse_shard_option,
    parse_timeout,
    plugin_options,
    run_options,
    session_options,
)
from mogrun.cli.state import CliState

if TYPE_CHECKING:
    from mogrun.engine.history import History
    from mogrun.engine.history_row import HistoryRow

RERUN_HELP = """Start new attempts of the runs of the latest invocation that did not pass.

\b
Passed runs are not repeated; failed, cancelled, timed-out, gate-failed,
skipped and never-started runs start again as their next attempt (a new
Idempotency-Key derived from the run's own, one no invocation here has
used: after a run that attached to an earlier attempt, the attempt after
the last one made). A run that never sent its key
(skipped: a need failed, say) starts under that key, as its first start:
a later run of the job under the same key (idempotency_key =
"verify-{{ date }}") attaches to it rather than starting another.
With JOB names, the latest invocation of each, and of each job they need
(rerun first where it did not pass; not with --no-deps); without, every
job of the latest invocation. The needs are the task file's now: one
never run here (added since, or left out by --no-deps) starts first too,
as its first attempt.
Latest means of this task file: each task file in a folder (-f
nightly.toml) has its own history; the legs of a --shard I/N matrix that
share it are one invocation. With --shard I/N, each run of the leg
is judged by its latest attempt, whichever invocation made it (another
leg may have run here since).

A run left going (following failed, on_timeout = "detach", Ctrl-C) is read
from the API first: still going, it is not started again (follow it with
mogrun logs --follow ID), nor is a job that needs it; ended, it is judged as
it ended (rerun if it did not pass). When the rerun starts other runs, a
run still going is recorded again in its invocation, with its run id and a
message saying why, and a job so held back as skipped (named in the rerun
line). When it would start none (all of it is going, or held back behind
what is), it records nothing (a CI step polling with rerun adds no rows)
and says each run and job, and why, on stderr. Either way the next rerun
reads that run again, reruns it if it ended without passing, and starts the
job once its need has passed. When such a run is still going, or a job is
held back, the exit code is 1: what did not pass has not passed yet. So is a
run another mogrun on this machine is still to start, or (--local: its
emulator is that mogrun's) still follows. Nothing to rerun is
exit 0 (every run passed, or the jobs of those that did not are no longer
in the task file: said, nothing can start them), no run recorded exit 2;
with nothing to rerun, it still ends with the summary every session gives
(--json's summary line, GitHub's step outputs and summary).
A one-repo job whose repo was edited since is rerun on its repo now (said);
a fan-out's run whose repo the list no longer has is not (said too), and
one of a repo it has gained since (never run here) starts, as its first
attempt (said), though its other runs passed: the job passes only with it,
and a job that needs it waits.

\b
Examples:
  mogrun rerun                 what did not pass in the latest invocation
  mogrun rerun codemod         the runs of codemod that did not pass
  mogrun rerun -n              those attempts' start requests; no network
                               (runs left going are said, not read)
"""


def _all_passed(jobs: tuple[str, ...]) -> str:
    """Nothing to rerun: of the jobs named, each one's latest invocation is read
    (another job of that invocation may have failed); of none, the latest one."""
    from mogrun.tables import listed

    if not jobs:
        return "nothing to rerun: every run of the latest invocation passed"
    jobs = tuple(dict.fromkeys(jobs))
    if len(jobs) == 1:
        return f"nothing to rerun: {jobs[0]} passed in the latest invocation that ran it"
    return f"nothing to rerun: {listed(jobs, 3)} each passed in the latest invocation that ran it"


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
    fresh: dict[str, str] = {}
    try:
        rows = latest_rows(state, taskfile, history, jobs)
        if slice_ is not None:  # this leg's runs may be older than another leg's
            rows = latest_per_run(history, rows)
        if not no_deps:
            rows += needs_rows(history, taskfile, jobs or held_back(taskfile, rows),
                                {*jobs, *(row.job for row in rows)})[0]
        retry = not_passed(rows)
        if not no_deps and retry:
            # The needs the task file gives the jobs to rerun now (it may have been
            # edited, or they ran with --no-deps): each must pass first, as in run.
            more, fresh = needs_rows(history, taskfile, in_file(taskfile, retry),
                                      {row.job for row in rows})
            rows += more
            retry += not_passed(more)
        # Fan-outs that passed but list a repo never run here since: not passed.
        grown = [] if slice_ is not None else grown_fan_outs(
            history, taskfile, rows, {row.job for row in retry})
        labels = {row.id: _label(history, row) for row in retry}
        unsent = keys_never_sent(history, retry)
        refused = refused_unstored(history, retry)
    finally:
        history.close()
    from mogrun.cli.run_cmd import no_runs

    if not retry and not grown:
        state.echo(_all_passed(jobs), err=True)
        return 0 if dry_run else no_runs(state)
    names = _in_task_file(state, taskfile, dict.fromkeys(row.job for row in retry))
    if not names and not grown:
        state.echo(NO_LONGER_IN_FILE, err=True)
        return 0 if dry_run else no_runs(state)
    names += [name for name in [*fresh, *grown] if name not in names]
    selection = Selection(state, taskfile, retry, labels, use_needs=not no_deps,
                          whole=slice_ is None, fresh=fresh, read=rows, unsent=unsent,
                          refused=refused)
    if dry_run:
        from mogrun.cli.run_targets import row_automation
        from mogrun.cli.taskfile_views import show_jobs

        for row in selection.unsettled:
            pid = follower_pid(row)
            how = ("was left going" if pid is None else
                   f"is followed by mogrun (pid {pid}) on this machine")
            automation = row_automation(row, taskfile)  # its runs are read through it
            read = (f"GET /runs/{row.run_id}/events" if automation is None else
                    f"GET /automations/{automation}/runs/{row.run_id}")
            state.echo(f"{labels[row.id]}: run {row.run_id} {how} ({row.status}); a rerun "
                       f"first reads its state ({read}) and starts "
                       f"attempt {row.attempt + 1} only if it has ended without passing",
                       err=True)
        return show_jobs(state, names, no_deps=no_deps, timeout_override=timeout_override,
                         extra_plugins=plugins, shard=slice_, select=selection,
                         options=plugin_options(ctx, plugin_values))
    return execute(state, names, session_options(state, parallel=parallel,
                                                 keep_going=keep_going, detach=detach,
                                                 no_deps=no_deps),
                   plugins=plugins, options=plugin_options(ctx, plugin_values),
                   timeout_override=timeout_override, shard=slice_, select=selection)


def _in_task_file(state: CliState, taskfile: Any, names: Iterable[str]) -> list[str]:
    """``names`` that are still jobs of the task file; each one removed since is said
    (its runs cannot be started again: nothing says how)."""
    kept = []
    for name in names:
        if name in taskfile.job_names:
            kept.append(name)
        else:
            state.echo(f"{name}: no longer in the task file; not rerun", err=True)
    return kept


def _label(history: History, row: HistoryRow) -> str:
    from mogrun.cli.run_targets import row_label

    return str(row_label(history, row))


