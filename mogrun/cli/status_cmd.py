"""``mogrun status``: the latest runs, refreshed from the API, and what
``--exit-status`` says of them. ``record_status`` (what mogrun learnt of a run,
written to history) is here, and ``logs``, ``cancel`` and ``rerun`` record
with it too.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from mogrun.cli import framework as click
from mogrun.cli.completion import complete_jobs
from mogrun.cli.loading import env_secrets
from mogrun.cli.run_targets import (
    api_client,
    echo_safe,
    nothing_recorded,
    open_state,
    row_automation,
    row_label,
    rows_for,
    run_id_case,
    say_never_run,
    still_listed,
)
from mogrun.cli.shown_rows import (
    NOT_STARTED,
    UNKNOWN_TO_SERVER,
    WAITING,
    as_left_locally,
    ended_unseen,
    never_started,
    outcome_cell,
    refused_unfollowed,
    runs_table,
    shown_row,
    shown_status,
    unconfirmed,
    unjudged,
)
from mogrun.cli.state import CliState
from mogrun.cli.unrecorded_runs import unrecorded_row
from mogrun.errors import (
    MogrunError,
    NotFoundError,
    NotStartedError,
    RateLimitedError,
    RequestRefusedError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
)
from mogrun.masking import mask

if TYPE_CHECKING:
    from mogrun.runs import RunResult


# `status --exit-status`: what a script learns without parsing the table.
EXIT_PASSED, EXIT_NOT_PASSED, EXIT_GOING = 0, 1, 3

EXIT_STATUS_HELP = """\b
--exit-status codes:
  0  every shown run passed
  1  a shown run did not pass (failed, cancelled, gate failed, never started;
     timed out or interrupted, even if it goes on on the server; unknown to
     the server), is not known to have passed (ended, but its gates are the
     task file's plugins, which status does not load: logs --follow or rerun
     judges it), a fan-out shown lists a repo it never ran (added since it
     ran: said on stderr), or no run is recorded at all
  3  none failed, but one is still going (pending, streaming, detached,
     left when following it failed, or waiting to start in a mogrun still
     running on this machine)
"""


@click.command("status", epilog=EXIT_STATUS_HELP)
@click.argument("target", required=False, metavar="[JOB|JOB:owner/name|RUN_ID]",
                shell_complete=complete_jobs, callback=run_id_case)
@click.option("--exit-status", is_flag=True, help="Exit 0 if every shown run passed, 1 if "
              "one did not, 3 while one is still going.")
@click.pass_obj
def status_command(state: CliState, target: str | None, exit_status: bool) -> int:
    """Latest runs from local history, refreshed from the API.

    \b
    Examples:
      mogrun status                    the latest runs of every job of the file
      mogrun status codemod            every run of codemod's latest invocation
      mogrun --json status 3f9c2e41-7b1d-4c8a-9e55-0d6b2a7f1c38
      mogrun status --exit-status nightly && echo all green

    A job no longer in the task file (removed, renamed) is not shown, nor
    judged by --exit-status, unless it is named (mogrun status OLD-NAME); nor
    is a run of a repo its job no longer lists (rerun cannot start it again;
    owner/name in any case, as GitHub's), unless named (mogrun status
    JOB:owner/name): when all of a job's latest runs are such, status says so
    and names one. mogrun history still has their runs. A fan-out that lists a
    repo it never ran here (added since it ran) has not passed: said, and
    --exit-status exits 1 (mogrun rerun starts that run); not when its latest
    runs are --shard legs some of which ran on another machine.

    Each task file in a folder (-f nightly.toml) has its own history. The
    legs of a --shard I/N matrix that share it are one invocation: a job's
    latest runs are the latest of each leg (back to a run of it that was no
    leg of N), whichever leg ran last. A run
    id this project never recorded (another checkout or CI started it) is
    read from the API and shown, not recorded (an automation's job run
    through the automations the task file names; its repo by owner/name, one
    GET /repos?id= for a run; with --json, what only history knows is null:
    id, job, invocation, idempotency_key, attempt, why, request, task_file;
    attached is false, gates []). Runs are
    kept per API
    (--local runs apart): with none here, the APIs that have some are named
    (mogrun --local status), and so is the one a run id was recorded under.
    A --local run recorded as going whose mogrun is gone (killed) is shown
    unknown: its emulator ended with that mogrun, and the run with it.
    The runs still going are asked a few at once (no endpoint lists runs),
    within the API's request limit. When the API cannot be reached, the runs
    are shown as last recorded (those it answered before it stopped: as
    learnt), with one warning, and the exit code is 69 (75 when it answers
    429, rate limited, past every retry). A Ctrl-C or a
    SIGTERM while the going runs are asked sends no more requests (an answer
    on its way is waited for; a second signal leaves at once), shows those
    asked as learnt and the others as last recorded, said, and exits 130
    (143 for a SIGTERM).
    """
    state.hold_github_commands()  # server and agent text follows
    state.repository_code = False  # no task-file plugin, even for a retry or a gate
    taskfile, history = open_state(state)
    try:
        # Rows without a run id (refused or skipped) are shown too: they are the latest.
        try:
            secrets = env_secrets(state, taskfile)
            found = (history.latest_per_job(set(taskfile.jobs) or None) if target is None
                     else rows_for(history, taskfile, target, secrets, state=state))
            rows = found
            if target is None or target in taskfile.job_names:  # its runs, not one named
                rows = still_listed(found, taskfile, history, state, secrets)
        except NotStartedError as exc:  # --exit-status: what never ran has not passed
            raise exc.as_not_passed() if exit_status else exc from exc
        unreachable: MogrunError | None = None
        refreshed: Refreshed | None = None
        if target is not None and not found:  # a run id: history has not seen it
            rows = [unrecorded_row(state, taskfile, history, target)]
        else:
            try:
                refreshed = _refresh(state, taskfile, history, rows)
                rows, unreachable = refreshed.rows, refreshed.unreachable
            except _UNREACHABLE as exc:
                refreshed, unreachable = None, exc
            if unreachable is not None:
                state.warn(_unreachable_warning(unreachable, refreshed))
        if not rows:
            if found:
                _none_listed(state, history, found)
            elif target is None and (gone := _gone_jobs(history, taskfile)):
                _only_gone_jobs(state, gone)
            else:
                nothing_recorded(state, taskfile, history, ["status"])
            # Nothing ran here yet, so nothing passed: `status --exit-status && deploy`
            # on a fresh checkout must not read as green.
            return EXIT_NOT_PASSED if exit_status else 0
        _show_status(state, rows, history, taskfile)
        added = (say_never_run(state, history, taskfile, rows)
                 if target is None or target in taskfile.job_names else {})
        if refreshed is not None and refreshed.signal is not None:  # a signal while asking
            from mogrun.engine.signals import signal_name

            if refreshed.left:
                state.warn(f"{signal_name(refreshed.signal)}: "
                           f"{refreshed.left} of the {refreshed.going} going runs were not "
                           "asked; they are shown as last recorded")
            return refreshed.signal
        if unreachable is not None:
            return unreachable.exit_code  # what is going now is not known
        if not exit_status:
            return 0
        return EXIT_NOT_PASSED if added else exit_status_code(rows)
    finally:
        history.close()


def _none_listed(state: CliState, history: Any, rows: Sequence[Any]) -> None:
    """What status says (on stderr; not with ``--json``) when every latest run it
    found is of a repo its job no longer lists (``still_listed``): a line a job,
    naming those repos and how to see one. It said "No runs recorded yet." — or,
    for ``status JOB``, asked the API for a run whose id was the job's name."""
    if state.json_output:
        return
    from mogrun.cli.run_cmd import command_prefix
    from mogrun.tables import listed

    by_job: dict[str, list[Any]] = {}
    for row in rows:
        by_job.setdefault(row.job, []).append(row)
    for job, runs in by_job.items():
        repos = listed(list(dict.fromkeys(row.repo for row in runs)))
        echo_safe(f"{job}: no run of the repos it lists now is recorded yet; its latest runs "
                  f"are of repos it no longer lists ({repos}): see one with "
                  f"{command_prefix(state)} status {runs[0].label}", err=True)


def _gone_jobs(history: Any, taskfile: Any) -> list[str]:
    """The jobs history has runs of that the task file no longer has (removed,
    renamed), the one run last first."""
    try:
        return [job for job in history.job_names()  # (a hand-edited blob is no job)
                if isinstance(job, str) and job not in taskfile.jobs]
    except MogrunError:  # a history that cannot be read: nothing recorded to name
        return []


def _only_gone_jobs(state: CliState, gone: Sequence[str]) -> None:
    """What status says (on stderr; not with ``--json``) when the only runs recorded
    are of jobs the task file no longer has: their names and how to see them. It
    said "No runs recorded yet." after a job was renamed, its runs still there."""
    if state.json_output:
        return
    from mogrun.cli.run_cmd import command_prefix
    from mogrun.tables import listed

    prefix = command_prefix(state)
    echo_safe("No runs of the task file's jobs are recorded yet; runs are recorded of "
              f"jobs it no longer has ({listed(list(gone))}): see them with {prefix} "
              f"status {gone[0]}, or {prefix} history", err=True)


def exit_status_code(rows: Sequence[Any]) -> int:
    """0 all passed, 1 one did not, is unknown to the server or ended with its
    gates still to judge (it wins), 3 one is still going."""
    from mogrun.cli.judging import awaits_judgement
    from mogrun.outcomes import Outcome, RunStatus

    going = False
    for row in rows:
        if row.waiting or _lost_going(row):  # judged once it ends
            going = True
            continue
        # Ended, its gates still to judge: status never will (3 would poll forever).
        if not row.run_id or row.status == UNKNOWN_TO_SERVER or awaits_judgement(row) or (
                row.outcome not in (None, Outcome.DETACHED) and not Outcome(row.outcome).passed):
            return EXIT_NOT_PASSED
        if not RunStatus.is_terminal(row.status):
            going = True
        elif row.status != RunStatus.SUCCESS and row.outcome != Outcome.SUCCESS:
            return EXIT_NOT_PASSED
    return EXIT_GOING if going else EXIT_PASSED


def _lost_going(row: Any) -> bool:
    """A run still going whose mogrun stopped following it for its own reasons (the
    server failed, a bug), not the user's (a timeout, a signal): not known to have
    failed, so going. It was 1, then 0 once it passed: a CI loop waiting for "not 3"
    stopped at a failure the run never had."""
    from mogrun.engine.signals import is_interrupt_code
    from mogrun.outcomes import Outcome, RunStatus

    return (bool(row.run_id) and row.outcome == Outcome.ERROR
            and not RunStatus.is_terminal(row.status) and row.status != UNKNOWN_TO_SERVER
            and not is_interrupt_code(row.exit_code))


class Refreshed(NamedTuple):
    """``_refresh``'s rows, and of the ``going`` runs it had to ask, how many were
    ``left`` unasked (shown as last recorded): by a signal (``signal``: its exit
    code, 130 for a Ctrl-C, 143 for a SIGTERM), or because the API stopped
    answering (``unreachable``: its error)."""

    rows: list[Any]
    going: int = 0
    left: int = 0
    signal: int | None = None
    unreachable: MogrunError | None = None


# The API cannot be asked now: what history knows is still worth showing (a
# rate-limited CI check lost the table, where a 503 kept it).
_UNREACHABLE = (TransportError, ServiceUnavailableError, ServerError, RateLimitedError)


def _refresh(state: CliState, taskfile: Any, history: Any, rows: Sequence[Any]) -> Refreshed:
    """Rows with the current status of every run not yet known to have ended (one
    ``GET /runs/{id}/events`` each, a few at once within the request budget:
    ``asking.ask_each``; a terminal row is never asked again). A detached
    run found ended is judged by its job's gates, as ``run`` would have, and
    completed in history: status, outcome, end, exit code — unless the task file
    names plugins (``GateJudge.verdict``): then it is shown ended, and left in
    history for ``logs --follow`` or ``rerun`` to judge. A signal (Ctrl-C, SIGTERM)
    stops the asking, and so does an API that stopped answering: what was learnt
    is kept and shown, the rest as recorded (``Refreshed.left``), where a slow
    server asked of a hundred runs showed nothing at all."""
    import dataclasses
    import threading
    import time

    from mogrun.cli.asking import ask_each
    from mogrun.engine.signals import InterruptibleSleep
    from mogrun.errors import Interrupted
    from mogrun.outcomes import RunStatus

    def going(row: Any) -> bool:
        return bool(row.run_id) and not RunStatus.is_terminal(row.status)

    if state.local:  # no API to ask
        return Refreshed([as_left_locally(row) for row in rows])
    live = [row for row in rows if going(row)]
    if not live:
        return Refreshed(list(rows))

    from mogrun.api.budget import AT_ONCE
    from mogrun.cli.judging import GateJudge
    from mogrun.engine.automation_kind import Readers

    stop = threading.Event()  # set at a signal: no more asking, a retry's wait ends
    sleeper = InterruptibleSleep(stop, time.sleep)
    client = api_client(state, taskfile, sleeper)
    judge = GateJudge(state, [row.job for row in live])
    fresh = {}  # every run asked, by row id
    unreachable: list[MogrunError] = []  # the first failure of the API itself

    reader = Readers(client)

    def ask(row: Any) -> Any:
        return reader(row_automation(row, taskfile)).get_events(row.run_id)

    def take(row: Any, answer: Any) -> bool:
        if isinstance(answer, Interrupted):  # its wait ended by the stop: not asked
            return True
        if isinstance(answer, _UNREACHABLE):  # said once; the others would fail alike
            if not unreachable:
                unreachable.append(answer)
            return False
        if isinstance(answer, RequestRefusedError):
            state.warn(f"{row.run_id}: {answer.message}")
            # A 404: not going, nor passed, as far as known; any other: as recorded.
            fresh[row.id] = dataclasses.replace(row, status=UNKNOWN_TO_SERVER) \
                if isinstance(answer, NotFoundError) else row
            return True
        if isinstance(answer, BaseException):
            raise answer
        run, events = answer
        judged = judge.verdict(row, run, events, taskfile) if run.terminal else None
        if run.terminal and judged is None:  # its gates are the plugins': shown, not kept
            fresh[row.id] = dataclasses.replace(row, status=run.status)
        else:
            fresh[row.id] = record_status(history, row, run, judged, judge.secrets_of(row))
        return True

    signalled = ask_each(live, ask, take, stop=stop, sleeper=sleeper,
                         at_once=min(AT_ONCE, client.budget.requests_per_minute),
                         on_signal=lambda code, in_flight: _say_stopping(state, code, in_flight))
    return Refreshed([fresh.get(row.id, row) for row in rows], len(live),
                     len(live) - len(fresh), signalled, unreachable[0] if unreachable else None)


def _unreachable_warning(error: MogrunError, refreshed: Refreshed | None) -> str:
    """What status says when the API stopped answering: every run as last recorded,
    or, when some were learnt before, how many are."""
    said = f"cannot refresh from the API ({error.message}); "
    if refreshed is None or refreshed.left == refreshed.going:
        return said + "showing the runs as last recorded"
    return said + (f"{refreshed.left} of the {refreshed.going} going runs are shown as last "
                   "recorded, the others as the API said")


def _say_stopping(state: CliState, exit_code: int, in_flight: int) -> None:
    """At the first signal, with runs being asked: the answers in flight are waited
    for (a wait for the budget or a retry ends at once)."""
    from mogrun.engine.signals import signal_name

    if in_flight:
        state.warn(f"{signal_name(exit_code)}: asking no more runs; an answer on its way is "
                   "waited for (a second signal leaves at once)")


def record_status(history: Any, row: Any, run: Any, judged: RunResult | None = None,
                  secrets: Collection[str] = ()) -> Any:
    """Write what mogrun learnt of ``row``'s run; a run that ended gets its outcome
    (``judged``'s when gates were applied, else the status's own) and exit code,
    and with ``judged`` what ``run`` keeps of a run it follows to its end: each
    gate's verdict and the message (masked of ``secrets``). A run recorded
    while it was still going (detached, or left going at a timeout, an interrupt or
    a failed follow) is judged as it ended, not as it was left. Every other row of
    the run not yet seen to end (a rerun recorded it again while it went) learns it
    too: no row of it goes on reading as going."""
    from mogrun.outcomes import RunStatus

    fresh = _record_one(history, row, run, judged, secrets)
    for other in history.also_of_run(row):
        if not RunStatus.is_terminal(other.status):
            _record_one(history, other, run, judged, secrets)
    return fresh


def _record_one(history: Any, row: Any, run: Any, judged: RunResult | None,
                secrets: Collection[str]) -> Any:
    """``record_status`` of one row."""
    import dataclasses

    from mogrun.outcomes import Outcome, RunStatus

    fields: dict[str, Any] = {"status": run.status}
    if run.terminal and (judged or row.outcome in (None, Outcome.DETACHED)
                         or not RunStatus.is_terminal(row.status)):
        from mogrun.engine.history_row import ended_fields, gates_json

        final = Outcome(judged.outcome) if judged else Outcome.of_status(run.status)
        kept = None if judged is None else (gates_json(judged.gates, secrets),
                                            mask(judged.message, secrets))
        fields.update(ended_fields(row, run.status, str(final), run.updated_at, kept))
        from mogrun.engine.run_kind import capacity_refusal

        refused = capacity_refusal(run)
        if refused and not row.message:  # a fixed text of the server's: no secret in it
            fields["message"] = refused  # what ``refused_unfollowed`` says
    changed = {k: v for k, v in fields.items() if getattr(row, k) != v}
    if changed:
        try:
            history.update(row.id, **changed)
        except MogrunError as exc:  # read-only, or locked too long: shown, not kept
            if history not in _SAID_UNRECORDED:
                _SAID_UNRECORDED.add(history)
                echo_safe(f"warning: {exc.message}; what the API said is shown, not "
                          "recorded", err=True)
    return dataclasses.replace(row, **changed)


# The histories a failed write was said of, once each. Weak: an id() kept here could
# be a later history's (in-process tests open many), whose warning would then be lost.
_SAID_UNRECORDED: weakref.WeakSet[Any] = weakref.WeakSet()


def _show_status(state: CliState, rows: Sequence[Any], history: Any, taskfile: Any) -> None:
    """The table, then a note under it for each run that needs one (``--json``: its
    ``note``): its latest attempt never started after a capacity refusal, the
    server refused it unfollowed, its gates are still to judge, its --local
    emulator ended before it did, or its start may have made a run never named
    (the task file's jobs are those rerun can start again)."""
    jobs = taskfile.jobs
    notes = [never_started(history, row) or refused_unfollowed(state, history, row, jobs)
             or unjudged(state, history, row) or ended_unseen(state, row, jobs)
             or unconfirmed(state, row, taskfile) for row in rows]
    if state.json_output:
        for row, note in zip(rows, notes, strict=True):
            state.echo_json({**shown_row(row), "note": note})
        return
    if not rows:  # said by nothing_recorded
        return
    runs_table(state, ["job", "repo", "run id", "status", "outcome", "started"],
              [[row.job or "-", row.repo or "-", row.run_id or "-", shown, outcome_cell(row),
                "-" if shown in (NOT_STARTED, WAITING) else row.started_at]
               for row in rows for shown in [shown_status(row)]])
    for row, note in zip(rows, notes, strict=True):
        if note is not None:
            echo_safe(f"{row_label(history, row)}: {note}")
