"""``mogrun cancel``: a cancel for each run of a target, a signal sending no
more. What a run a mogrun on this machine is still to start (or, ``--local``,
is following) says is here too, and ``logs`` says it the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mogrun.cli import framework as click
from mogrun.cli.completion import complete_jobs
from mogrun.cli.loading import env_secrets
from mogrun.cli.run_targets import (
    Target,
    api_client,
    echo_safe,
    open_state,
    row_label,
    rows_for,
    run_id_case,
    targets_for,
    with_automations,
)
from mogrun.cli.state import CliState
from mogrun.cli.status_cmd import record_status
from mogrun.cli.unrecorded_runs import located
from mogrun.errors import MogrunError, RequestRefusedError, UsageError
from mogrun.textsafety import run_command


def going_in_a_local_mogrun(targets: Sequence[Target], what: str,
                            way_on: Callable[[int], str]) -> UsageError | None:
    """The refusal for a ``--local`` run that is still going, in the emulator of the
    mogrun on this machine that started and follows it: "--local runs end with
    the invocation that started them" was said of it, while that mogrun ran.
    ``what``: what only that mogrun can do; ``way_on(pid)``: what to do instead."""
    for target in targets:
        pid = target.row.live_owner if target.row is not None else None
        if pid is not None:
            return UsageError(
                f"{target.label}: run {target.run_id} is going in the --local emulator of "
                f"mogrun (pid {pid}) on this machine; only that mogrun can {what}",
                context=[way_on(pid)])
    return None


@click.command("cancel")
# Not required: click's "Missing argument" said nothing of where to find a target.
@click.argument("target", metavar="JOB|JOB:owner/name|RUN_ID", required=False,
                shell_complete=complete_jobs, callback=run_id_case)
@click.pass_obj
def cancel_command(state: CliState, target: str | None) -> int:
    """Request cancellation of a run (every run of a job's latest invocation).

    Ctrl-C or SIGTERM sends no more cancels (the one sent is answered; a
    second signal leaves at once), names each run whose cancel was not sent
    or not answered, with the command for it, and exits 130 or 143.

    With --json: one object per run: run_id, label (the job; JOB:owner/name in
    a fan-out), status (as the cancel left it) and already_terminal (it had
    ended on its own).

    \b
    Examples:
      mogrun cancel 3f9c2e41-7b1d-4c8a-9e55-0d6b2a7f1c38
      mogrun cancel codemod            every run of its latest invocation
    """
    if target is None:  # nothing cancelled by default: name what to stop
        raise UsageError("cancel needs a job, JOB:owner/name or a run id",
                         context=["See: mogrun status (the latest runs)"])
    state.hold_github_commands()  # server and agent text follows
    taskfile, history = open_state(state)
    try:
        secrets = env_secrets(state, taskfile)
        targets = targets_for(history, taskfile, target, secrets, state=state,
                              command="cancel")
        if not targets:
            waiting = still_to_start(
                target, rows_for(history, taskfile, target, secrets, state=state),
                _stop_that_mogrun)
            if waiting is not None:
                raise waiting
            raise UsageError(f"no started runs recorded for {target!r}")
        targets = with_automations(targets, taskfile)
        if state.local:
            going = going_in_a_local_mogrun(
                targets, "cancel it", lambda pid: f"Stop that mogrun (Ctrl-C there, or kill "
                f"-INT {pid}): it cancels what it started.")
            if going is not None:
                raise going
            if all(t.row is not None for t in targets):  # (an unknown run id: no API to ask)
                return _unstarted_left(state, history, rows_for(
                    history, taskfile, target, secrets, state=state),
                    _ended_locally(state, targets, taskfile))
        import threading
        import time

        from mogrun.engine.signals import InterruptibleSleep

        stop = threading.Event()  # set at the first signal: a retry's wait ends there
        sleeper = InterruptibleSleep(stop, time.sleep)
        client = api_client(state, taskfile, sleeper)
        code = _cancel_all(state, client, history,
                           located(state, client, taskfile, history, targets, "cancel"),
                           stop, sleeper)
        return _unstarted_left(state, history, rows_for(history, taskfile, target, secrets,
                                                        state=state), code)
    finally:
        history.close()


def _ended_locally(state: CliState, targets: Sequence[Target], taskfile: Any) -> int:
    """``--local`` runs no mogrun here follows any more (``going_in_a_local_mogrun``
    said those) have ended: as they were recorded, or with the emulator of the
    mogrun that ran them (killed). Said as a cancel of an ended run says it, with
    what status says of the second kind; there is no API to ask. It said "--local
    runs live only inside the invocation that started them", exit 2."""
    from mogrun.cli.shown_rows import as_left_locally, ended_unseen

    for target in targets:
        row = as_left_locally(target.row)
        _say_cancelled(state, target, row.status, already_terminal=True)
        note = None if state.json_output else ended_unseen(state, row, taskfile.jobs)
        if note is not None:
            echo_safe(f"{target.label}: {note}")
    return 0


def _unstarted_left(state: CliState, history: Any, rows: Sequence[Any], code: int) -> int:
    """After the cancels: each run of the invocation a mogrun here is still to start,
    named with what stops it (``cancel fan`` said only the runs started so far were
    cancelled, exit 0, and that mogrun then started the rest)."""
    from mogrun.errors import combine_exit_codes

    waiting = [row for row in rows if row.waiting]
    for row in waiting:
        pid = row.owner_pid
        echo_safe(f"warning: {row_label(history, row)}: not started yet: mogrun (pid {pid}) on "
                  f"this machine is still to start it. {_stop_that_mogrun(pid)}", err=True)
    return combine_exit_codes([code, 1]) if waiting else code


def _stop_that_mogrun(pid: int | None) -> str:
    """What ends another mogrun's runs still to start: ``cancel`` cannot."""
    return (f"Stop that mogrun (Ctrl-C there, or kill -INT {pid}): it starts nothing more, "
            "and cancels what it started.")


def still_to_start(target: str, rows: Sequence[Any],
                   advice: Callable[[int | None], str]) -> MogrunError | None:
    """``'b' has not started yet: mogrun (pid N) on this machine is waiting to start
    it``, when ``target``'s latest invocation started none of ``rows`` and one is
    ``waiting``: no older invocation's run stands for it (``cancel``, ``logs``).
    ``advice(pid)``: the caller's line of what to do about that mogrun.
    ``None`` otherwise."""
    if any(row.run_id for row in rows):
        return None
    waiting = [row for row in rows if row.waiting]
    if not waiting:
        return None
    pid = waiting[0].owner_pid
    return MogrunError(f"{target!r} has not started yet: mogrun (pid {pid}) on this machine "
                       "is waiting to start it (for its needs or a sandbox slot)",
                       context=[advice(pid)])


NO_PUBLIC_CANCEL = "NO_PUBLIC_CANCEL"  # an automation run's cancel, refused by mogrun itself


def _named(target: Target) -> str:
    """``ID (job:owner/name)``; a run id alone (history never recorded it) once."""
    return target.run_id if target.label == target.run_id else (
        f"{target.run_id} ({target.label})")


def _cancel_all(state: CliState, client: Any, history: Any, targets: Sequence[Target],
                stop: Any, sleeper: Any) -> int:
    """Every run gets its cancel even when the server refuses one (a run it no longer
    knows): that one is an error line, the rest go on, and the exit code is 1. A
    signal sends no more cancels, nor retries of one (``stop`` ends a retry's wait,
    ``sleeper``'s; the request in flight is answered; a second signal leaves it):
    each run whose cancel was not sent, or not answered, is named with its command,
    and the exit code is the signal's, as ``run`` does."""
    from mogrun.engine.signals import ForcedExit, SignalWatch

    pending = list(targets)  # pending[0] is in flight while a cancel is sent
    in_flight = [False]  # its cancel was sent, its answer (or retry) cut short
    with SignalWatch(stop, on_first=lambda code: _say_cancel_signal(code, pending)) as watch:
        try:
            code = _cancel_each(state, client, history, pending, watch, sleeper, in_flight)
        except ForcedExit as forced:
            return _cancels_left(state, pending, forced.exit_code, in_flight=True)
    if watch.exit_code is None:
        return code
    return _cancels_left(state, pending, watch.exit_code, worst=code, in_flight=in_flight[0])


def _cancel_each(state: CliState, client: Any, history: Any, pending: list[Target],
                 watch: Any, sleeper: Any, in_flight: list[bool]) -> int:
    """Send the cancels of ``pending`` in turn, each removed once answered, until all
    are or a signal lands (``watch``). One run's refusal is an error (exit 1)."""
    from mogrun.engine.automation_kind import Readers
    from mogrun.errors import Interrupted

    failed = False
    single = len(pending) == 1
    reader = Readers(client)  # an automation's runs: one look-up of it
    while pending and not watch.interrupted:
        target = pending[0]
        try:
            with sleeper.armed():
                _cancel_one(state, client, history, target, reader)
        except Interrupted:  # a signal during a retry's wait: no more tries
            in_flight[0] = True
            break
        except RequestRefusedError as exc:
            if single:
                raise
            failed = True
            said = (exc.message if exc.code == NO_PUBLIC_CANCEL  # it names the run itself
                    else f"{_named(target)}: {exc.message}")
            echo_safe(f"error: {said}", err=True)
        pending.pop(0)
    return 1 if failed else 0


def _say_cancel_signal(exit_code: int, pending: Sequence[Target]) -> None:
    """At the first signal: no more cancels are sent; the one in flight is waited for."""
    from mogrun.engine.signals import signal_name

    rest = len(pending) - 1
    more = f"; {rest} more not sent" if rest > 0 else ""
    echo_safe(f"warning: {signal_name(exit_code)}: sending no more cancels; waiting for "
              f"the answer to the cancel sent{more} (a second signal leaves at once)",
              err=True)


def _cancels_left(state: CliState, pending: Sequence[Target], exit_code: int, *,
                  in_flight: bool = False, worst: int = 0) -> int:
    """Name each run a signal left without a cancel (or with one unanswered), with
    the command for it; the exit code, said as ``run`` says it."""
    from mogrun.cli.run_cmd import command_prefix
    from mogrun.errors import combine_exit_codes

    command = command_prefix(state)
    for n, target in enumerate(pending):
        if in_flight and n == 0:
            echo_safe(f"cancel sent, not yet answered: {_named(target)}; see whether it "
                      f"ended with: {run_command(command, 'status', target.run_id)}", err=True)
        else:
            echo_safe(f"cancel not sent: {_named(target)}; cancel it with: "
                      f"{run_command(command, 'cancel', target.run_id)}", err=True)
    code = combine_exit_codes([worst, exit_code])
    echo_safe(f"exit code {code}", err=True)
    return code


def _cancel_one(state: CliState, client: Any, history: Any, target: Target,
                reader: Any) -> None:
    if target.automation is not None:
        if _automation_run_ended(state, reader, history, target):
            return
        raise RequestRefusedError(
            f"{_named(target)} is a run of automation {target.automation!r}: "
            "the Mogplex API has no cancel for automation runs; it is left going",
            status=0, code=NO_PUBLIC_CANCEL)
    try:
        outcome = client.cancel_run(target.run_id)
    except RequestRefusedError as exc:
        if exc.status != 409:
            raise
        from mogrun.cli.run_cmd import command_prefix

        # (a conflict the client could not settle: "Sandbox is not ready", a run
        # starting). The server's words alone left the run's fate unsaid.
        raise exc.evolve(context=[*exc.context, (
            f"Nothing was cancelled: the run goes on. Cancel it again in a moment with: "
            f"{run_command(command_prefix(state), 'cancel', target.run_id)}")]) from exc
    if target.row is not None:  # an ended run's row is completed, outcome included
        record_status(history, target.row, outcome.state)
    _say_cancelled(state, target, outcome.state.status, outcome.already_terminal)


def _automation_run_ended(state: CliState, reader: Any, history: Any, target: Target) -> bool:
    """An automation run has no cancel, but one that has ended needs none: said as
    a run's cancel says it, its row completed (``False``: it is going). ``reader``:
    the command's ``automation_kind.Readers``."""
    run, _ = reader(target.automation).get_events(target.run_id)
    if not run.terminal:
        return False
    if target.row is not None:
        record_status(history, target.row, run)
    _say_cancelled(state, target, run.status, already_terminal=True)
    return True


def _say_cancelled(state: CliState, target: Target, status: str | None,
                   already_terminal: bool) -> None:
    if state.json_output:
        state.echo_json({"run_id": target.run_id, "label": target.label, "status": status,
                         "already_terminal": already_terminal})
    elif already_terminal:
        echo_safe(f"{_named(target)} had already ended: {status}")
    else:
        echo_safe(f"{_named(target)} {status}")
