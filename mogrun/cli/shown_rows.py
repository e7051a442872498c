"""How ``status`` and ``history`` show a recorded run: its status word
(waiting, not started, unconfirmed, unknown), the note a row needs, its
``--json`` row and the table. One set of rules (``logs`` and ``rerun`` read
them too), so no command tells a run differently.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Collection
from typing import Any

from mogrun.cli import framework as click
from mogrun.cli.run_targets import row_label
from mogrun.cli.state import CliState


def outcome_cell(row: Any) -> str:
    """A row's outcome as the run summary says it: ``success (attached)`` for a run
    the invocation attached to, so two rows of one run are told apart."""
    from mogrun.output.tables import attached_mark

    return attached_mark(row.outcome or "-", row.attached)


def runs_table(state: CliState, headers: list[str], rows: list[list[str]]) -> None:
    """A table of runs; wider than the terminal, a block per run (``fitted_lines``).
    Each row's cells are made safe in place and the lines written a batch at a
    time: ``history -n`` of a year's runs held four copies of its table at once."""
    from mogrun.output.base import escape_agent_text
    from mogrun.tables import fitted_lines, table_columns

    for row in rows:
        row[:] = [escape_agent_text(str(cell)) for cell in row]
    lines = fitted_lines(headers, rows, table_columns(state.env, state.stdout))
    while batch := list(itertools.islice(lines, 1000)):
        click.echo("\n".join(batch))


# What ``status`` shows (never records) for a run the API answers NOT_FOUND for: an
# ``--exit-status`` poller waiting for it to stop being 3 would wait forever.
UNKNOWN_TO_SERVER = "unknown"


def never_started(history: Any, row: Any) -> str | None:
    """``run 3f9c... (attempt 1) was refused for capacity (Too many active sandboxes);
    attempt 2 never started: no sandbox slot freed within ...``: what happened to a
    run whose latest attempt, made after a capacity refusal, never started (no slot
    within its capacity_wait, an interrupt); ``None`` for any other row."""
    if row.run_id or row.why != "capacity" or row.outcome is None:
        return None  # it started, was not made after a refusal, or is still to start
    before = history.attempt_before(row)
    refused = ""
    if before is not None and before.run_id:
        from mogrun.outcomes import refusal_reason

        error = refusal_reason(before.message) or before.status
        refused = (f"run {before.run_id} (attempt {before.attempt}) was refused for capacity "
                   f"({error}); ")
    return f"{refused}attempt {row.attempt} never started: {row.message or row.outcome}"


def refused_unfollowed(state: CliState, history: Any, row: Any,
                       jobs: Collection[str]) -> str | None:
    """``run 3f9c... was refused for capacity (Too many active sandboxes): it never
    ran; mogrun rerun starts it again``: a run no mogrun followed to its end
    (``--detach``, left going) that the server refused after its start, which a
    followed run would have retried by itself; ``None`` for any other row."""
    from mogrun.engine.capacity import is_refusal
    from mogrun.outcomes import Outcome

    if (row.outcome != Outcome.FAILED or not row.run_id or not row.job  # rerun knows no other
            or not is_refusal(row.message or "")):  # as capacity_refusal recorded it
        return None
    return (f"run {row.run_id} was refused for capacity ({row.message}): it never ran; "
            f"{starts_again(state, row, jobs)}")


def as_left_locally(row: Any) -> Any:
    """A ``--local`` row as it stands: recorded as going, with no mogrun of this
    machine following it any more, its run ended with that mogrun's emulator, its
    end unseen (``UNKNOWN_TO_SERVER``); any other row as recorded. (``status``,
    ``logs`` and ``history`` show it so: it read as going for ever in ``history``.)"""
    import dataclasses

    from mogrun.outcomes import RunStatus

    if row.run_id and not RunStatus.is_terminal(row.status) and row.live_owner is None:
        return dataclasses.replace(row, status=UNKNOWN_TO_SERVER)
    return row


def ended_unseen(state: CliState, row: Any, jobs: Collection[str]) -> str | None:
    """What a ``--local`` run recorded as going, whose mogrun is gone (killed), is
    now: its emulator ended with that mogrun, and the run with it. It read as
    going for ever, and ``status --exit-status`` said 3 for ever."""
    if not state.local or row.status != UNKNOWN_TO_SERVER:
        return None
    return ("its --local emulator ended with the mogrun that ran it, before the run's end "
            f"was seen: {starts_again(state, row, jobs)}")


def starts_again(state: CliState, row: Any, jobs: Collection[str]) -> str:
    """``mogrun rerun starts it again``, for a run of a job still in the task file
    (``jobs``): said of a removed job's run, the command it named failed on
    "unknown job"."""
    if row.job not in jobs:
        return (f"its job {row.job} is no longer in the task file, so rerun cannot start it "
                "again")
    from mogrun.cli.run_cmd import command_prefix

    return f"{command_prefix(state)} rerun starts it again"


def unjudged(state: CliState, history: Any, row: Any) -> str | None:
    """``ended success; its gates are judged by the task file's plugins, which status
    does not load: mogrun logs --follow fix (or mogrun rerun) judges it``; ``None``
    for a row that is judged or still going."""
    from mogrun.cli.judging import awaits_judgement
    from mogrun.cli.run_cmd import command_prefix

    if not awaits_judgement(row):
        return None
    command = command_prefix(state)
    return (f"ended {row.status}; its gates are judged by the task file's plugins, which "
            f"status does not load: {command} logs --follow {row_label(history, row)} "
            f"(or {command} rerun) judges it")


def start_unanswered(row: Any) -> bool:
    """Whether ``row``'s start may have made a run whose id was never learnt: the
    server accepted it without naming the run, a signal left it unanswered (its
    message says either), or the mogrun that recorded its key was killed before
    recording how it ended (no outcome, and that mogrun gone). A key is recorded
    just before the start is sent, and also before a sandbox slot is waited for:
    the history cannot tell those apart, so such a start may have been sent. A
    row that never got a key (killed while it waited for its needs) sent nothing;
    one whose mogrun still runs is ``waiting``. The one rule of ``status`` and
    ``history`` (``unconfirmed``) and of ``rerun`` (``rerun_keys.unanswered``: its
    next attempt sends the same key)."""
    from mogrun.engine.runner import may_have_started

    if row.run_id:
        return False
    if row.outcome is None:
        return bool(row.idempotency_key) and row.live_owner is None
    return may_have_started(row.message)


def unconfirmed(state: CliState, row: Any, taskfile: Any) -> str | None:
    """``its start may have made a run whose id is unknown: mogrun rerun sends ...``:
    a row without a run whose start may have made one (``start_unanswered``);
    ``None`` for any other row."""
    if not start_unanswered(row):
        return None
    from mogrun.cli.run_cmd import command_prefix

    return (f"its start may have made a run whose id is unknown: {command_prefix(state)} "
            f"rerun sends its Idempotency-Key ({sent_key(row, taskfile)}) again, which "
            "finds such a run rather than starting a second")


def sent_key(row: Any, taskfile: Any) -> str:
    """The Idempotency-Key ``row``'s start sent, as the server knows it: a run's is
    the key recorded; a trigger's a digest of it (``trigger_key``), made again from
    the automation id, repo id, job and key the row recorded and the project.
    Where the row cannot tell (the automation's id never learnt, a masked key),
    said as a digest of the key recorded."""
    import json

    from mogrun.cli.run_targets import row_automation
    from mogrun.masking import MASK
    from mogrun.reponames import is_uuid

    key = str(row.idempotency_key)
    if row_automation(row, taskfile) is None:
        return key
    try:
        body = json.loads(row.request)
    except ValueError:
        body = None
    repo_id = body.get("repoId") if isinstance(body, dict) else None
    if MASK in key or not is_uuid(row.automation) or not isinstance(repo_id, str):
        return f"mogrun-<digest of {key}>"
    from mogrun.engine.automation_kind import trigger_key

    return trigger_key(key, row.automation, repo_id, row.job,
                       _project(str(taskfile.project_dir), str(taskfile.path)))


@functools.cache
def _project(project_dir: str, task_file: str) -> str:
    """``projectkey.project_identity``, asked of git once however many rows need it."""
    from mogrun.projectkey import project_identity

    return project_identity(project_dir, task_file)


# A run not started yet by a mogrun still running on this machine (its needs, a slot).
WAITING = "waiting"
NOT_STARTED = "not started"  # a row with no run, and no mogrun left to start it
UNCONFIRMED_START = "unconfirmed"  # a row with no run id whose start may have made a run


def shown_status(row: Any) -> str:
    """A row's status as status and history show it: a waiting one says so, one
    that never started too, and one whose start may have made a run (its id never
    learnt) does not read as never started."""
    if row.waiting:
        return WAITING
    if row.status or row.run_id:
        return row.status or "-"
    return UNCONFIRMED_START if start_unanswered(row) else NOT_STARTED


def shown_row(row: Any) -> dict[str, Any]:
    """A row as ``--json`` status and history show it: a waiting one says so, and
    so does one whose start may have made a run (a script deciding whether to
    start it again reads that, not a null it would take for "never started")."""
    word = shown_status(row)  # the one rule; "not started" stays JSON's null
    return {**row.as_dict(), **({"status": word} if word in (WAITING, UNCONFIRMED_START)
                                else {})}
