"""Scheduling resolved jobs over their needs graph, at most ``-j`` runs at once.

The unit of parallelism is a run, so the runs of a fan-out count toward
``-j`` like separate jobs. A job starts once every need in this session has
passed; a job whose need did not pass is skipped (never started). Without
keep-going, the first failing run stops anything new from starting (queued
runs are skipped) while runs already going are followed to the end.

Workers are daemon threads, not an executor: a second Ctrl-C must be able to
leave the process at once without joining runs that are still being followed.
A worker whose run ended takes the next ready run (a fan-out of 1,000 runs at
``-j 200`` starts 200 threads, not 1,000) and leaves when the session ends.
A run whose worker a plugin's hook holds may be ended by another thread, which
hands its result over (``hand_over``): that worker leaves once it is let go.
When the system refuses a worker thread (a container's process limit), the
runs going are as many as run at once from then on, and that is said; with
none going, the run is skipped with the reason: never a traceback.
The scheduler itself runs in the calling (main) thread, waiting in short
slices so signal handlers run promptly.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import queue
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mogrun.durations import format_duration
from mogrun.engine.lifecycle import Observer
from mogrun.engine.outcome import DETACHED, job_outcome
from mogrun.engine.track import RunTrack
from mogrun.models import ResolvedJob, RunPlan
from mogrun.runs import RunResult
from mogrun.threads import NoThread, start_without_signals
from mogrun.waits import Wait, WaitKind

# ``None``: the run's result was handed over by another thread (``Scheduler.hand_over``)
RunFn = Callable[[ResolvedJob, RunPlan], RunResult | None]
SkipFn = Callable[[ResolvedJob, RunPlan, str], RunResult]
JobDoneFn = Callable[[ResolvedJob, tuple[RunResult, ...], str], None]
CrashFn = Callable[[ResolvedJob, RunPlan, str], None]
WaitFn = Callable[[Wait], None]
PreferFn = Callable[[ResolvedJob, RunPlan], bool]
NoticeFn = Callable[[str], None]
LOOK_AHEAD = 64  # ready runs looked at for one that can start at once


@dataclass(eq=False)
class _JobState:
    job: ResolvedJob
    needs: tuple[str, ...]
    state: str = "pending"  # pending | running | done
    results: dict[int, RunResult] = field(default_factory=dict)
    outcome: str | None = None
    waiting: int = 0  # needs not yet done
    announced: bool = False  # its NEEDS wait was emitted
    said_end: float | None = None  # the end its NEEDS wait said last (None: unknown)
    ends: dict[str, float] = field(default_factory=dict)  # run label -> latest end, started


class Scheduler:
    """Runs ``jobs`` (topological order) through ``run_fn``; returns every result.

    Linear in the size of the graph: a job is looked at when it is first
    schedulable or when one of its needs finishes, never by rescanning every
    job (a 4,000-job chain schedules in well under a second).
    """

    def __init__(
        self,
        jobs: Sequence[ResolvedJob],
        *,
        run_fn: RunFn,
        skip_fn: SkipFn,
        on_job_done: JobDoneFn,
        max_parallel: int = 4,
        keep_going: bool = False,
        use_needs: bool = True,
        stop: threading.Event | None = None,
        abort: threading.Event | None = None,
        on_crash: CrashFn | None = None,
        on_wait: WaitFn | None = None,
        prefer: PreferFn | None = None,
        on_notice: NoticeFn | None = None,
    ) -> None:
        names = {job.name for job in jobs}
        self._jobs = [
            _JobState(job, tuple(n for n in job.needs if n in names) if use_needs else ())
            for job in jobs
        ]
        self._by_name = {js.job.name: js for js in self._jobs}
        self._dependents: dict[str, list[_JobState]] = {js.job.name: [] for js in self._jobs}
        for js in self._jobs:
            js.waiting = len(js.needs)
            for name in js.needs:
                self._dependents[name].append(js)
        self.run_fn, self.skip_fn, self.on_job_done = run_fn, skip_fn, on_job_done
        self.on_crash, self.on_wait, self.prefer = on_crash, on_wait, prefer
        self.on_notice = on_notice
        self.max_parallel = max(1, max_parallel)
        self.keep_going = keep_going
        self.stop = stop or threading.Event()
        self.abort = abort or threading.Event()  # the token refused: nothing may start
        self._halted = False
        self.finished: list[RunResult] = []
        self._ready: deque[tuple[_JobState, int]] = deque()
        self._candidates: deque[_JobState] = deque(js for js in self._jobs if not js.waiting)
        # (job, run, result, whether its worker is free to take another run)
        # (A SimpleQueue: put and get in C, where a Queue's take a Condition's Python
        # code, for every run of a fan-out, on the thread that hands runs out.)
        self._done: queue.SimpleQueue[tuple[_JobState, int, RunResult, bool]] = (
            queue.SimpleQueue())
        # Runs handed to idle workers (None: leave). A worker is idle from the moment
        # its result is taken off ``_done`` (only this thread counts them).
        self._handed: queue.SimpleQueue[tuple[_JobState, int] | None] = queue.SimpleQueue()
        self._idle = 0
        self._active = 0
        self._left = len(self._jobs)  # jobs not yet done
        self._swept: set[str] = set()  # "stop", "halt": every pending job looked at once
        # (job, run label, latest end or None) as runs start or start again: workers put,
        # this thread takes (a NEEDS wait's end is known once every needed run started).
        self._bounds: queue.SimpleQueue[tuple[str, str, float | None]] = queue.SimpleQueue()

    def run(self) -> list[RunResult]:
        """Schedule until every job is done or skipped; results in finishing order."""
        try:
            while True:
                self._sweep()
                self._take_bounds()
                self._promote()
                self._launch()
                if self._active == 0 and not self._ready and self._left == 0:
                    return self.finished
                try:
                    js, index, result, freed = self._done.get(timeout=0.2)
                except queue.Empty:
                    continue
                self._active -= 1
                self._idle += freed
                self._record(js, index, result)
        finally:
            # Every worker leaves: an idle one now, a busy one (a session left by an
            # exception, a second Ctrl-C) once its run ends; none waits on for good.
            for _ in range(self._idle + self._active):
                self._handed.put(None)
            self._idle = 0

    def hand_over(self, job: ResolvedJob, plan: RunPlan, result: RunResult) -> None:
        """``plan``'s result, from a thread other than its worker (which a plugin's
        hook holds: its ``run_fn`` returns ``None`` if it ever returns, and it leaves).
        Any thread may call it, once per run its worker will not finish."""
        js = self._by_name[job.name]
        index = next(i for i, p in enumerate(js.job.runs) if p is plan)
        self._done.put((js, index, result, False))

    @property
    def active(self) -> int:
        return self._active

    def run_bound(self, job: str, label: str, ends_at: float | None) -> None:
        """A run of ``job`` started and ends by ``ends_at`` (epoch seconds: its
        timeout from the 202) at the latest, or is to start again (``None``: a new
        attempt after a capacity refusal). Any thread may call it."""
        self._bounds.put((job, label, ends_at))

    def _take_bounds(self) -> None:
        """Each job waiting on a run just started says its wait again when its end
        became known (or changed, or is unknown again)."""
        touched: dict[str, _JobState] = {}
        # This thread alone takes from ``_bounds``: what ``empty`` says is there, stays.
        while not self._bounds.empty():  # (no Empty raised at every turn of ``run``)
            job, label, ends_at = self._bounds.get_nowait()
            js = self._by_name.get(job)
            if js is None:
                continue
            if ends_at is None:
                js.ends.pop(label, None)
            else:
                js.ends[label] = ends_at
            touched[job] = js
        for js in touched.values():
            for dep in self._dependents[js.job.name]:
                if dep.announced and dep.state == "pending":
                    self._say_needs(dep)

    def _say_needs(self, dep: _JobState) -> None:
        """``dep``'s NEEDS wait, when its end is not what was said last."""
        open_needs = [self._by_name[n] for n in dep.needs if self._by_name[n].state != "done"]
        ends = _latest_end(open_needs)
        if ends != dep.said_end and open_needs and self.on_wait is not None:
            dep.said_end = ends
            self.on_wait(needs_wait(dep.job.name, [n.job for n in open_needs], ends))

    @property
    def halted(self) -> bool:
        return self._halted or self.abort.is_set()

    def _sweep(self) -> None:
        """After an interrupt every pending job is skipped; after a failure (without
        ``-k``) every pending job whose needs are done: look at them once."""
        for flag, on in (("stop", self.stop.is_set()), ("halt", self.halted)):
            if on and flag not in self._swept:
                self._swept.add(flag)
                self._candidates.extend(js for js in self._jobs if js.state == "pending")

    def _promote(self) -> None:
        """Start candidates whose needs passed; skip those whose needs cannot pass."""
        while self._candidates:
            js = self._candidates.popleft()
            if js.state != "pending":
                continue
            reason = self._skip_reason(js)
            if reason is not None:
                self._skip_job(js, reason)
            elif js.waiting == 0:
                js.state = "running"
                self._announce_dependents(js)
                self._ready.extend((js, i) for i in range(len(js.job.runs)))
                if not js.job.runs:
                    self._finish_job(js)

    def _announce_dependents(self, js: _JobState) -> None:
        """A job starts: each job waiting on it says so (a NEEDS wait), once, and so
        does each job waiting on those, down the graph: ``c`` of ``a -> b -> c`` was
        silent until ``b`` could start, for the whole of ``a``'s run."""
        if self.on_wait is None:
            return
        below = deque(self._dependents[js.job.name])  # not recursion: a long chain
        while below:
            dep = below.popleft()
            if dep.announced or dep.state != "pending":
                continue
            dep.announced = True
            open_needs = [self._by_name[n] for n in dep.needs
                          if self._by_name[n].state != "done"]
            dep.said_end = _latest_end(open_needs)
            self.on_wait(needs_wait(dep.job.name, [n.job for n in open_needs], dep.said_end))
            below.extend(self._dependents[dep.job.name])

    def _skip_reason(self, js: _JobState) -> str | None:
        if self.stop.is_set():
            return "interrupted before it started"
        for name in js.needs:
            need = self._by_name[name]
            if need.state == "done" and need.outcome not in ("success", DETACHED):
                return f"needs {name}, which did not pass ({need.outcome})"
        if self.halted and js.waiting == 0:
            return self._halt_reason()
        return None

    def _halt_reason(self) -> str:
        """Why nothing more starts: ``-k`` helps after a failure, not after the API
        refused the token (401/403), where no start can succeed."""
        if self.abort.is_set():
            return "not started: the API refused the token, so no run can start with it"
        return "not started after an earlier failure (use -k to keep going)"

    def _launch(self) -> None:
        while self._ready and self._active < self.max_parallel:
            js, index = self._next_ready()
            if self.stop.is_set() or self.halted:
                why = ("interrupted before it started" if self.stop.is_set()
                       else self._halt_reason())
                self._record(js, index, self.skip_fn(js.job, js.job.runs[index], why))
                continue
            self._active += 1
            if self._idle:
                self._idle -= 1
                self._handed.put((js, index))
            else:
                try:  # workers take no signals: the main thread gets every Ctrl-C at once
                    start_without_signals(functools.partial(self._worker, js, index),
                                          f"mogrun-worker-{self._active}")
                except NoThread as refused:
                    self._active -= 1
                    if self._active == 0:  # no worker to wait for: it cannot run at all
                        self._record(js, index, self.skip_fn(js.job, js.job.runs[index],
                                                             f"not started: {refused.message}"))
                        continue
                    self._ready.appendleft((js, index))  # first in line for a free worker
                    self._fewer_at_once(refused)
                    return

    def _fewer_at_once(self, refused: NoThread) -> None:
        """No more workers than those going now: each takes the next run as its own ends."""
        self.max_parallel = self._active
        if self.on_notice is not None:
            self.on_notice(f"{refused.message}: running at most {self._active} at a time "
                           "from now on")

    def _next_ready(self) -> tuple[_JobState, int]:
        """The oldest ready run that can start at once (``prefer``: it shares an active
        sandbox, or a slot is free), else the oldest: a worker never sits waiting for
        a slot while a run that needs none is queued behind it."""
        if self.prefer is not None:
            for position, (js, index) in enumerate(itertools.islice(self._ready, LOOK_AHEAD)):
                if self.prefer(js.job, js.job.runs[index]):
                    del self._ready[position]
                    return js, index
        return self._ready.popleft()

    def _worker(self, js: _JobState, index: int) -> None:
        """Run ``js``'s run ``index``, then each run handed over, until told to leave."""
        item: tuple[_JobState, int] | None = (js, index)
        while item is not None and self._work(*item):
            item = self._handed.get()

    def _work(self, js: _JobState, index: int) -> bool:
        """Run one run; ``False`` when its result was handed over by another thread
        (this worker is no longer counted: it leaves)."""
        try:
            result = self.run_fn(js.job, js.job.runs[index])
        except BaseException as exc:  # a bug must not hang the scheduler
            plan = js.job.runs[index]
            result = RunResult(job=js.job.name, repo=plan.repo, outcome="error",
                               message=f"internal error: {exc!r}", exit_code=1)
            self._report_crash(js.job, plan, exc)
        if result is None:
            return False
        self._done.put((js, index, result, True))
        return True

    def _report_crash(self, job: ResolvedJob, plan: RunPlan, exc: BaseException) -> None:
        """A bug keeps its traceback (STYLE): the run's result only says "internal error"."""
        if self.on_crash is None:
            return
        with contextlib.suppress(Exception):  # reporting it must not hang the scheduler
            self.on_crash(job, plan, "".join(traceback.format_exception(exc)).rstrip())

    def _record(self, js: _JobState, index: int, result: RunResult) -> None:
        js.results[index] = result
        self.finished.append(result)
        if result.outcome not in ("success", DETACHED) and not self.keep_going:
            self._halted = True
        if len(js.results) == len(js.job.runs):
            self._finish_job(js)

    def _skip_job(self, js: _JobState, reason: str) -> None:
        js.state = "running"
        for index, plan in enumerate(js.job.runs):
            self._record(js, index, self.skip_fn(js.job, plan, reason))
        if not js.job.runs:
            self._finish_job(js)

    def _finish_job(self, js: _JobState) -> None:
        results = tuple(js.results[i] for i in sorted(js.results))
        js.outcome = job_outcome(results) if results else "skipped"
        js.state = "done"
        self._left -= 1
        passed = js.outcome in ("success", DETACHED)
        for dep in self._dependents[js.job.name]:
            dep.waiting -= 1
            if dep.waiting == 0 or not passed:
                self._candidates.append(dep)
        self.on_job_done(js.job, results, js.outcome)


class NeedsClock(Observer):
    """Tells the scheduler when each run ends at the latest (its timeout, from its
    202), or that it is to start (again): what a job waiting on it can say of
    its wait's end."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def run_pending(self, track: RunTrack) -> None:
        self.scheduler.run_bound(track.job.name, track.label, None)

    def run_started(self, track: RunTrack) -> None:
        left = track.deadline() - time.monotonic()
        self.scheduler.run_bound(track.job.name, track.label, time.time() + left)


def _latest_end(needs: Sequence[_JobState]) -> float | None:
    """When the last of ``needs`` ends at the latest: known once every run of each
    that has not ended has started (its timeout counts from its 202); ``None`` while
    one is still to start (its start may wait for its own needs, the start limit or
    a sandbox slot, and a capacity refusal starts it again)."""
    ends = []
    for need in needs:
        if need.state != "running":
            return None
        for index, plan in enumerate(need.job.runs):
            if index in need.results:
                continue
            end = need.ends.get(plan.label)
            if end is None:
                return None
            ends.append(end)
    return max(ends, default=None)


def needs_wait(job: str, needs: Sequence[ResolvedJob], ends_at: float | None = None) -> Wait:
    """The wait of ``job`` for the jobs it needs that are not done, with the one
    bound there is: each needed job's timeout, counted from its start's 202. Until
    every needed run has started that gives no end (a start may itself wait), and
    the wait says so; then ``ends_at`` is when the last of them times out."""
    names = ", ".join(need.name for need in needs)
    limits = ", ".join(f"{need.name} {format_duration(need.timeout)}" for need in needs)
    one = len(needs) == 1 and len(needs[0].runs) == 1  # one run: "it", not "each"
    if ends_at is not None:
        started = "started: it ends" if one else "all started: each ends"
        return Wait(WaitKind.NEEDS, f"waiting for {names}; {started} by its timeout at the "
                    f"latest ({limits})", ends_at=ends_at, job=job)
    return Wait(WaitKind.NEEDS, f"waiting for {names}; no end is known yet: "
                f"{'it' if one else 'each'} may run up to its timeout once started ({limits})",
                job=job)
