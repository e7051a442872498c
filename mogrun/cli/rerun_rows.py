"""Which recorded runs a rerun reads from the history: the latest invocation (of
the jobs named, or of all), every ``--shard`` leg's latest runs, the needs' latest
runs, and of those the ones that did not pass. Also how a rerun knows a run
(``run_at``), who follows one left going (``follower_pid``), and a read of
the history that may fail (``read_history``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from mogrun.cli.run_cmd import command_prefix
from mogrun.errors import NothingRecordedError

T = TypeVar("T")

if TYPE_CHECKING:
    from mogrun.cli.state import CliState
    from mogrun.engine.history import History
    from mogrun.engine.history_row import HistoryRow


def latest_rows(state: CliState, taskfile: Any, history: History,
                 jobs: Sequence[str]) -> list[HistoryRow]:
    """The latest attempt of each run of the latest invocation (of each named job).
    None here: where else they ran (``--local``, another URL), if anywhere."""
    from mogrun.cli.run_targets import recorded_elsewhere

    if not jobs:
        rows = history.latest_invocation()
        if not rows:
            elsewhere = recorded_elsewhere(state, taskfile, history, ["rerun"])
            raise NothingRecordedError(
                "nothing to rerun: " + ("no run is recorded against this API" if elsewhere
                                        else "no run is recorded in this project's history"),
                context=[*elsewhere, f"See: {command_prefix(state)} history"])
        return rows
    found: list[HistoryRow] = []
    for name in dict.fromkeys(jobs):
        rows = history.latest_invocation_of(name)
        if not rows:
            raise NothingRecordedError(f"nothing to rerun for {name!r}: it has never run here",
                             context=[*recorded_elsewhere(state, taskfile, history,
                                                          ["rerun", name], name),
                                      f"See: {command_prefix(state)} history"])
        found.extend(rows)
    return found


def latest_per_run(history: History, rows: Sequence[HistoryRow]) -> list[HistoryRow]:
    """For ``--shard I/N``: the latest attempt of every run of the jobs of ``rows``,
    from any of their invocations. The legs of a CI matrix run as invocations of
    their own, so once another leg has run here the job's latest invocation holds
    none of this leg's runs, and the rerun its failed run printed found nothing."""
    return [row for job in dict.fromkeys(row.job for row in rows)
            for row in history.latest_runs_of(job)]


def needs_rows(history: History, taskfile: Any, jobs: Sequence[str],
                have: set[str]) -> tuple[list[HistoryRow], dict[str, str]]:
    """The rows of the latest invocation of each job ``jobs`` need, directly or not
    (and not in ``have``, the rows already read), as run takes needs first: a need
    that did not pass is rerun before them, one still going holds them back. And
    the needs never run here (each with a job that needs it): started first, as
    their first attempt, since they have not passed either."""
    from mogrun.taskfile.graph import job_order, needs_of

    rows: list[HistoryRow] = []
    fresh: dict[str, str] = {}
    order, given = job_order(taskfile, jobs), set(jobs)
    for name in order:
        if name in have or name in given:
            continue
        found = history.latest_invocation_of(name)
        if found:
            rows += found
        else:
            fresh[name] = next(job for job in order if name in needs_of(taskfile, job))
    return rows, fresh


def in_file(taskfile: Any, rows: Sequence[HistoryRow]) -> list[str]:
    """The jobs of ``rows`` the task file still has (in the rows' order)."""
    names = set(taskfile.job_names)
    return list(dict.fromkeys(row.job for row in rows if row.job in names))


def held_back(taskfile: Any, rows: Sequence[HistoryRow]) -> list[str]:
    """The jobs of the latest invocation not started for a need outside it: a rerun
    held them back while a need it did not rerun was still going. Their needs'
    latest runs are read again (still going, they stay held; ended, judged)."""
    from mogrun.outcomes import Outcome
    from mogrun.taskfile.graph import needs_of

    ran, names = {row.job for row in rows}, set(taskfile.job_names)
    return list(dict.fromkeys(
        row.job for row in rows if row.outcome == Outcome.SKIPPED and row.job in names
        and any(need not in ran for need in needs_of(taskfile, row.job))))


def not_passed(rows: Sequence[HistoryRow]) -> list[HistoryRow]:
    """Rows that did not pass, and detached ones not yet seen to end (read first:
    one that has since failed, or failed its gates, is rerun). A refused attempt
    that is the latest one recorded never had its next attempt (mogrun was killed
    in between): it did not pass either."""
    from mogrun.outcomes import Outcome, RunStatus

    return [row for row in rows
            if row.outcome is None or row.outcome not in {o.value for o in Outcome}
            or Outcome(row.outcome).failing or row.outcome == Outcome.REFUSED
            or (row.outcome == Outcome.DETACHED and not RunStatus.is_terminal(row.status))]


def follower_pid(row: HistoryRow) -> int | None:
    """The pid of the mogrun on this machine following ``row``'s run now: the one
    that recorded its start, still running and yet to record how it ended (the
    liveness test ``HistoryRow.waiting`` makes of a run not yet started)."""
    return row.live_owner if row.run_id else None


def run_at(job: str, repo: str) -> tuple[str, str]:
    """How a rerun knows a run of a job: its job and its repo's ``repo_key`` (as
    recorded, masked), so a repo whose case alone was edited in the task file is
    the same run, not one removed and one never run."""
    from mogrun.reponames import repo_key

    return job, repo_key(repo)


def left_alone(row: HistoryRow) -> str:
    """Why a run left going is in a rerun's invocation, not started again: the row
    ``history`` shows beside the one that left it going (or that still follows it)."""
    pid = follower_pid(row)
    if pid is not None:
        return (f"followed by mogrun (pid {pid}) on this machine, invocation "
                f"{row.invocation}; not rerun while it is still going")
    return (f"left going by invocation {row.invocation}; not rerun while it is "
            "still going")


def read_history(state: CliState, taskfile: Any, history: History | None,
                 read: Callable[[History], T], failed: T) -> T:
    """``read(history)``, ``failed`` where the history cannot be read. ``-n`` passes
    no history: the one rerun read is opened again, for this."""
    from mogrun.errors import MogrunError

    if history is None:
        from mogrun.cli.loading import project_history

        try:
            opened = project_history(state, taskfile)
        except MogrunError:
            return failed
        try:
            return read_history(state, taskfile, opened, read, failed)
        finally:
            opened.close()
    try:
        return read(history)
    except MogrunError:
        return failed


def grown_fan_outs(history: History, taskfile: Any, rows: Sequence[HistoryRow],
                   have: set[str]) -> list[str]:
    """The jobs of ``rows`` (not in ``have``, still in the task file) whose list of
    repos there names one they have no run of here (``never_run_repos``): one that
    passed before the repo was added has not passed now (``RepoEdits.added`` starts
    that run). Repos that cannot be told without resolving (a template, an id) are
    left to the rest of rerun."""
    from mogrun.cli.run_targets import never_run_repos

    return [job for job in dict.fromkeys(row.job for row in rows)
            if job not in have and never_run_repos(history, rows, job, taskfile)]
