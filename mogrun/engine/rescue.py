"""A run whose worker a plugin's hook holds still ends on time.

Hooks run on the run's own worker thread, and mogrun cannot cut one short: a
``mogrun_run_started`` or ``mogrun_event`` that sleeps held its run's timeout
and a first Ctrl-C's cancel (sent from that worker) until a second signal left
the run going on the server. ``Rescue`` looks at the hook calls going on
(``pluginguard.running_hooks``) every ``slowhooks.LOOK_EVERY``; a worker still inside one
``HOOK_GRACE`` after a signal, or past its run's timeout, has its run ended on
another thread (``RunExecutor.take_over``: the cancel, the history row, the
result handed to the scheduler). Exactly one of the two ends a run
(``SessionProgress.claim``); the worker, once the hook lets it go, leaves
(``RunTrack.let_go``), and the plugins hear nothing more of that run.
A worker held in a hook after a signal while its start is unanswered (a
``mogrun_retry_delay`` deciding its retry's pause) has that start settled on
another thread as a plain retry pause settles it (``RunExecutor._recover``);
one held so while the signal's cancel of its run is unanswered (that cancel failed,
the hook decides its retry's pause) has that cancel sent again on another thread,
within the signal's grace; one held so while it waits for a sandbox slot has its
run skipped (nothing of it was sent). Without a signal, a worker held so
``HOOK_GRACE`` while its timeout's cancel is unanswered has that cancel sent
again on another thread, within the grace the timeout gave it. Whatever a rescue
retries (a cancel, a read of the last events; a start's look is one attempt) waits
mogrun's own pause (``client.own_pauses``), never the plugins' ``mogrun_retry_delay``:
they hear nothing more of that run, and that hook, hanging, would hold the rescue
as it holds the worker.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from mogrun.engine.context import SessionDeps, SessionProgress
from mogrun.engine.runner import Busy, RunExecutor
from mogrun.engine.slowhooks import HookWatch
from mogrun.models import ResolvedJob, RunPlan
from mogrun.runs import RunResult
from mogrun.threads import NoThread, start_without_signals

HOOK_GRACE = 2.0  # seconds a worker may stay in a hook after a signal before its run is ended

HandOver = Callable[[ResolvedJob, RunPlan, RunResult], None]


class Rescue(HookWatch):
    """While open, a daemon thread ends the runs whose workers plugins hold."""

    thread_name = "mogrun-rescue"

    def __init__(self, running: Callable[[], list[Any]] | None, executor: RunExecutor,
                 hand_over: HandOver, deps: SessionDeps, progress: SessionProgress) -> None:
        super().__init__(running)
        self.executor, self.hand_over = executor, hand_over
        self.deps, self.progress = deps, progress
        self._signalled: float | None = None  # when the look first saw the stop
        self._taken: set[int] = set()  # id() of each track a rescue was started for

    def look(self, now: float) -> None:
        """Start a rescue for each run due one (``due``), once per run."""
        assert self.running is not None
        if self.deps.stop.is_set() and self._signalled is None:
            self._signalled = now
        busy = self.executor.busy()
        for call in self.running():
            work = busy.get(call.thread)
            why = None if work is None else self.due(work, now, now - call.since)
            if work is None or why is None or id(work.track) in self._taken:
                continue
            self._taken.add(id(work.track))
            held = f"plugin {call.plugin}'s {call.hook}"
            rescue = functools.partial(self._rescue, work, held, why)
            try:
                start_without_signals(rescue, "mogrun-rescue-run")
            except NoThread:  # none to be had: on this thread, the later looks wait
                rescue()

    def due(self, work: Busy, now: float, held: float = 0.0) -> str | None:
        """Why ``work``'s run must end without its worker: ``"signal"`` (``HOOK_GRACE``
        after one), ``"start"`` (as long after one, its start unanswered: the hook
        holds its retry), ``"cancel"`` (as long after one, the signal's cancel of its
        run unanswered: the hook holds that cancel's retry), ``"slot"`` (as long after
        one, waiting for a sandbox slot: nothing sent, nothing to cancel), ``"timeout"``
        (its timeout has run out), ``"timeout cancel"`` (its timeout's cancel unanswered,
        the hook ``held`` it ``HOOK_GRACE``: it holds that cancel's retry), else ``None``
        (not started, already ending, or nothing is due)."""
        track = work.track
        signalled = self._signalled is not None and now - self._signalled >= HOOK_GRACE
        if track.ender is None and track.state is None and signalled and \
                self.executor.start_sent(track) is not None:
            return "start"
        if track.ender is None and track.state is None and signalled and track.slot_wait:
            return "slot"
        cancelling = not track.rescued and bool(track.run_id) \
            and track.run_id in self.progress.cancels_in_flight()
        if signalled and cancelling:
            return "cancel"
        if cancelling and track.timeout_cancel is not None and held >= HOOK_GRACE:
            return "timeout cancel"
        if (track.ender is not None or track.state is None or track.state.terminal
                or track.run_id not in self.progress.still_going()):
            return None
        if signalled:
            return "signal"
        if track.began is not None and now >= track.deadline():
            return "timeout"
        return None

    def _rescue(self, work: Busy, held: str, why: str) -> None:
        result = self.executor.take_over(work, held, why)
        if result is not None:
            self.hand_over(work.track.job, work.track.plan, result)
