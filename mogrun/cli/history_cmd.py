"""``mogrun history``: the runs recorded locally, newest first, streamed (a
year's history is not held at once). The table and its rows are
``shown_rows``', as ``status`` shows them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from mogrun.cli import framework as click
from mogrun.cli.completion import complete_jobs
from mogrun.cli.run_targets import (
    job_and_repo,
    lists_repo,
    looks_like_run_id,
    nothing_recorded,
    open_state,
    unknown_repo,
    unknown_target,
)
from mogrun.cli.shown_rows import (
    as_left_locally,
    outcome_cell,
    runs_table,
    shown_row,
    shown_status,
)
from mogrun.cli.state import CliState
from mogrun.errors import UsageError


@click.command("history")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=30, show_default=True,
              help="How many runs to list, newest first.")
@click.option("--job", "job_name", metavar="JOB", help="Only runs of this job (or of one "
              "of its runs: JOB:owner/name, as logs takes it, or a run id: its rows).",
              shell_complete=complete_jobs)
@click.pass_obj
def history_command(state: CliState, limit: int, job_name: str | None) -> int:
    """Past runs recorded locally in .mogrun/history.db (newest first).

    \b
    Examples:
      mogrun history
      mogrun history --job codemod -n 5
      mogrun history --job codemod:acme/api
      mogrun --json history | jq -r .run_id

    Each task file in a folder has its own history (mogrun -f nightly.toml
    history: nightly.toml's runs); runs recorded before mogrun kept them
    apart are listed for every one. Runs are kept per API (--local runs
    apart): with none here, the APIs that have some are named, with the
    command that lists them (mogrun --local history). A --local run recorded
    as going whose mogrun is gone (killed) is shown unknown, as status shows
    it: its emulator ended with that mogrun, and the run with it.

    The exit column is each run's own exit code: 0 passed, 1 did not,
    130/143/129 when a signal cut the run short, - for a detached run not yet
    seen to end (--json: exit_code and finished_at null until status, logs
    --follow or rerun sees it end). The invocation's exit code
    is the worst of its runs' and can differ: a signal that lands after a
    run ended (while its gates judge it, while a notify is sent, or as the
    cancel finds it already ended) makes mogrun exit 130 while the run's row
    keeps 0 or 1; so does a KeyboardInterrupt a plugin's notifier raises,
    taken as a Ctrl-C. The summary says both: each run's result, and the
    exit code.
    """
    if job_name is not None and not job_name.strip():  # a script's unset variable
        raise UsageError(f"--job needs a job name, not {'a blank' if job_name else 'an empty'}"
                         " string", context=["Leave it out to list the runs of every job."])
    state.hold_github_commands()  # server and agent text follows
    taskfile, history = open_state(state, by_id=False)  # the history is all it shows
    job, sep, repo = job_and_repo(job_name or "")
    elsewhere = None  # a run id this API has no row of, recorded under another
    rest: Iterator[Any] = iter(())  # --json's rows after the first, read as printed
    try:
        run = (history.by_run_id(job_name.lower()) if job_name and job not in taskfile.job_names
               and looks_like_run_id(job_name) else None)
        if run is not None:  # every row of that run (a rerun that left it going has two)
            rows = sorted([run, *history.also_of_run(run)], key=lambda r: -r.id)[:limit]
        else:  # streamed: a year's history held at once took 310 MB as --json, 1.6 GB
            # as a table (which keeps each row's cells, not its request, for its widths)
            rest = history.stream_recent(limit, job=job or None, repo=repo if sep else None)
            rows = list(itertools.islice(rest, 1))
        if job_name is not None and not rows:
            known = history.recent(200, job=job)
            # A run id recorded under another API (--local, another URL) is pointed
            # at, as status and logs point at it, not called unknown.
            if not known and job not in taskfile.job_names:
                if not sep and looks_like_run_id(job_name) and history.recorded_under(
                        job_name.lower()):
                    elsewhere = job_name.lower()
                else:
                    raise unknown_target(job_name, job, taskfile, history)
            # the job ran, not on that repo (nor one it lists now): say which repos it did
            if sep and known and not lists_repo(job, repo, taskfile):
                raise unknown_repo(job_name, repo, known, history)
        if not rows:
            nothing_recorded(state, taskfile, history,
                             ["history", *(["--job", elsewhere or job_name] if job_name else [])],
                             None if elsewhere else job or None, repo if sep else None,
                             run_id=elsewhere)
            return 0
        shown: Iterator[Any] = itertools.chain(rows, rest)
        if state.local:  # as status shows them: a killed mogrun's runs went with it
            shown = map(as_left_locally, shown)
        if state.json_output:
            for row in shown:
                state.echo_json(shown_row(row))
            return 0
        cells = [[row.started_at, row.job, row.repo, row.run_id or "-", shown_status(row),
                  outcome_cell(row), "-" if row.exit_code is None else str(row.exit_code),
                  row.invocation] for row in shown]
    finally:
        history.close()
    runs_table(state,
               ["started", "job", "repo", "run id", "status", "outcome", "exit", "invocation"],
               cells)
    return 0
