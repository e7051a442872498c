"""The live view's model: every run of the invocation and where it stands.

Kept apart from rich (stdlib only) so the rules are tested without a
terminal: a run is ``queued``, ``blocked`` (needs not done), ``waiting``
(a ``Wait`` holds it, with its countdown), ``running`` (the server's status,
elapsed since the *server's* start) or ``done``. A run the server has
finished is never shown running, and its elapsed time stops at the server's
last update: it is the run's duration, not when mogrun noticed.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mogrun.durations import format_duration, parse_moment
from mogrun.models import ResolvedJob, RunPlan
from mogrun.runs import RunResult, RunState
from mogrun.waits import Wait, WaitKind

QUEUED, BLOCKED, WAITING, RUNNING, DONE = "queued", "blocked", "waiting", "running", "done"
SHOW_FIRST = (RUNNING, WAITING, BLOCKED, QUEUED, DONE)  # what a short screen keeps


@dataclass
class BoardRow:
    """One run as the live view shows it."""

    label: str
    job: str
    needs: tuple[str, ...] = ()
    phase: str = QUEUED
    status: str = ""
    started: float | None = None  # epoch of the server's createdAt (or of our start)
    ended: float | None = None  # epoch of the server's last update once terminal
    last: str = ""
    wait: Wait | None = None

    def elapsed(self, now: float) -> str:
        if self.started is None:
            return ""
        if self.ended is not None:  # the run's duration, as the summary shows it
            return format_duration(max(0.0, self.ended - self.started))
        return format_duration(round(max(0.0, now - self.started)))  # whole seconds: no flicker


class Board:
    """Thread-safe: the engine's workers update it, the refresh thread reads it."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, BoardRow] = {}
        self._done_jobs: set[str] = set()
        self._clock = clock

    def plan(self, jobs: Sequence[ResolvedJob]) -> None:
        with self._lock:
            for job in jobs:
                for run in job.runs:
                    self._rows.setdefault(run.label, BoardRow(
                        job.label_of(run), job.name, tuple(job.needs),
                        phase=BLOCKED if job.needs else QUEUED))

    def started(self, job: ResolvedJob, run: RunPlan, label: str, state: RunState) -> None:
        with self._lock:
            row = self._row(job, run, label)
            row.phase, row.wait = RUNNING, None
            row.started = parse_moment(state.created_at) or self._clock()
            self._set_status(row, state)

    def status(self, run: RunPlan, state: RunState) -> None:
        with self._lock:
            row = self._rows.get(run.label)
            if row is not None:
                self._set_status(row, state)

    def event(self, run: RunPlan, text: str) -> None:
        with self._lock:
            row = self._rows.get(run.label)
            if row is not None:
                row.last, row.wait = text, None  # it moved on: no longer held

    def wait(self, wait: Wait) -> None:
        """A wait holds the run it names, or the runs of the job it names, or,
        naming neither (the start limit, a 429's pause), every run not started;
        a started one too when it holds requests (a 429's pause, a retry of its
        poll, an answer not come yet), until it ends or the run's next event.
        A NEEDS wait is already a ``blocked`` row, shown with its needs; a
        PLUGINS wait comes after every run is done."""
        if wait.kind in (WaitKind.NEEDS, WaitKind.PLUGINS):
            return
        with self._lock:
            for key, row in self._rows.items():
                if row.phase == DONE or row.ended is not None:
                    continue
                if (row.phase != RUNNING or wait.kind.holds_requests) and _holds(key, row, wait):
                    row.wait = wait

    def finished(self, job: ResolvedJob, results: Sequence[RunResult]) -> None:
        with self._lock:
            self._done_jobs.add(job.name)
            by_repo = {result.repo: result for result in results}
            for run in job.runs:
                row = self._rows.get(run.label)
                result = by_repo.get(run.repo)
                if row is None or result is None:
                    continue
                row.phase, row.wait, row.status = DONE, None, str(result.outcome)
                if row.started is not None and row.ended is None:
                    row.ended = row.started + (result.duration or 0.0)

    def rows(self, limit: int | None = None) -> tuple[list[tuple[str, ...]], int]:
        """The rows to show now (``label, phase, status, elapsed, detail``) in
        graph order, at most ``limit`` (busiest kept first), and how many are hidden."""
        now = self._clock()
        with self._lock:
            rows = list(self._rows.values())
            shown = [self._cells(row, now) for row in rows]
        if limit is None or len(shown) <= limit:
            return shown, 0
        rank = sorted(range(len(shown)), key=lambda i: SHOW_FIRST.index(shown[i][1]))
        keep = sorted(rank[:limit])
        return [shown[i] for i in keep], len(shown) - limit

    def progress(self, sep: str = " · ") -> str:
        """``7/20 done · 3 running · 10 queued · 2 waiting``: running counts every
        started run, held or not; ``waiting`` every row a wait holds, started or not
        (said apart: "0 queued (4 waiting)" read as four of none). ``sep``: what the
        view's stream can write (``" - "`` on an ASCII one)."""
        now = self._clock()
        with self._lock:
            phases = [(row.phase, self._phase(row, now)) for row in self._rows.values()]
        done = sum(shown == DONE for _, shown in phases)
        running = sum(own == RUNNING and shown != DONE for own, shown in phases)
        waiting = sum(shown == WAITING for _, shown in phases)
        queued = len(phases) - done - running
        text = f"{done}/{len(phases)} done{sep}{running} running{sep}{queued} queued"
        return text + (f"{sep}{waiting} waiting" if waiting else "")

    # -- inside the lock -------------------------------------------------------

    def _row(self, job: ResolvedJob, run: RunPlan, label: str) -> BoardRow:
        row = self._rows.get(run.label)
        if row is None:  # a run the plan did not list (a reporter used without a plan)
            row = self._rows[run.label] = BoardRow(label, job.name, tuple(job.needs))
        return row

    def _set_status(self, row: BoardRow, state: RunState) -> None:
        row.status = state.status
        row.started = parse_moment(state.created_at) or row.started
        if state.terminal:
            row.ended = parse_moment(state.updated_at) or self._clock()

    def _phase(self, row: BoardRow, now: float) -> str:
        if row.phase == RUNNING and row.ended is not None:
            return DONE  # the server finished it: never shown running
        if row.phase == DONE:
            return DONE
        if row.phase != RUNNING and any(need not in self._done_jobs for need in row.needs):
            return BLOCKED  # whatever else holds it, its needs come first
        if row.wait is not None and (row.wait.ends_at is None or row.wait.ends_at > now):
            return WAITING
        return row.phase if row.phase == RUNNING else QUEUED

    def _cells(self, row: BoardRow, now: float) -> tuple[str, ...]:
        """A waiting row's time column is its countdown (``in 43s``), so it stays
        in sight on a narrow screen where the reason is cut."""
        phase = self._phase(row, now)
        detail, elapsed = row.last, row.elapsed(now)
        if phase == WAITING and row.wait is not None:
            detail = row.wait.describe(now)
            left = row.wait.remaining(now)
            elapsed = "" if left is None else "in " + format_duration(math.ceil(left))
        elif phase == BLOCKED:
            waiting_for = [n for n in row.needs if n not in self._done_jobs]
            detail = "needs " + ", ".join(waiting_for)
        return (row.label, phase, row.status, elapsed, detail)


def _holds(key: str, row: BoardRow, wait: Wait) -> bool:
    """Whether ``wait`` holds this not-yet-started run: the run it names, the
    runs of the job it names, or, naming neither (the start limit, a 429's
    pause), every run not started yet."""
    if wait.run is not None:
        return key == wait.run
    if wait.job is not None:
        return row.job == wait.job
    return True
