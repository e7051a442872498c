"""One run from start to result: veto hook, start, follow, timeout, gates.

Each run executes on one of the scheduler's worker threads (at most ``-j``)
with one ``RunTrack`` (what the run knows). Whatever it learns is emitted
once on the lifecycle channel, which the reporter, the history and the
plugins all observe. What is started — an agent run today — is the job's
``JobKind``; this module only sequences it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from mogrun.api.client import EitherStop
from mogrun.durations import format_duration
from mogrun.engine.capacity import NoSlot, capacity_wait_said, joined_unready
from mogrun.engine.context import SessionDeps, SessionProgress
from mogrun.engine.follower import (
    AWAITING_INPUT,
    AWAITING_INPUT_WHY,
    CAP_NOTICE,
    EVENT_LIMIT,
    Follower,
    FollowOutcome,
    capped,
    event_identity,
)
from mogrun.engine.kinds import Cancelled, JobKind, kind_of
from mogrun.engine.outcome import gated_outcome, judged_message
from mogrun.engine.recorder import conflict_hint
from mogrun.engine.signals import CANCEL_GRACE
from mogrun.engine.track import RunTrack, TakenOver
from mogrun.errors import (
    GateError,
    IdempotencyConflictError,
    Interrupted,
    MogrunError,
    StartInterrupted,
    UnansweredStartError,
    UnconfirmedStartError,
)
from mogrun.masking import mask
from mogrun.models import ResolvedJob, RunPlan
from mogrun.outcomes import Outcome, RunStatus, awaiting_input_way_on, refused_message
from mogrun.runs import Event, GateVerdict, RunResult, RunState
from mogrun.waits import Wait

INTERRUPT_STOP = "interrupted"
NEVER_STARTED = "interrupted before it started"
MAYBE_STARTED = "interrupted while its start was unanswered: it may have made a run"
UNCONFIRMED = "its start was accepted without a run id: it may have made a run"
UNANSWERED = "its start was given up on unanswered: it may have made a run"
# A cancelled run's last events are worth a moment, not the exit: a stalled events
# endpoint must not add CANCEL_GRACE to every timeout and Ctrl-C.
TAIL_GRACE = 2.0
SAID_WAIT = 1.0  # the longest a cancel's line waits for the first signal's


def may_have_started(message: str | None) -> bool:
    """Whether a run without a run id was recorded as a start that may have made a run
    (``MAYBE_STARTED``, ``UNCONFIRMED``, ``UNANSWERED``): its next attempt sends the
    same key."""
    return message in (MAYBE_STARTED, UNCONFIRMED, UNANSWERED)


class _TrackSink:
    """Where a follower's findings go: the lifecycle channel (and the watch hook)."""

    def __init__(self, deps: SessionDeps, track: RunTrack) -> None:
        self.deps, self.track = deps, track

    def event(self, event: Event) -> None:
        self.deps.channel.event(self.track, event)
        self.track.shown.append(event)  # after: one a hook holds is caught up on, shown

    def status(self, old: str | None, state: RunState) -> None:
        self.track.state = state
        self.deps.channel.status(self.track, old, state)

    def notice(self, message: str, level: str = "info") -> None:
        self.deps.channel.notice(message, track=self.track, level=level)

    def watch(self, state: RunState, unchanged_for: float) -> str | None:
        reason = self.deps.hooks.watch(job=self.track.job, run=self.track.plan, state=state,
                                       unchanged_for=unchanged_for)
        self.track.let_go()
        return reason

    def wait(self, wait: Wait) -> None:
        self.deps.channel.wait(dataclasses.replace(wait, job=self.track.job.name,
                                                   run=self.track.label), self.track)


class Busy(NamedTuple):
    """A worker's run: what a rescue needs to end it when a plugin holds the worker."""

    track: RunTrack
    kind: JobKind


class RunExecutor:
    """``execute(job, plan) -> RunResult`` for the scheduler's workers.

    ``attempts`` maps a run label to the attempt it starts at and why
    (``mogrun rerun`` continues after the attempts already made).
    """

    def __init__(self, deps: SessionDeps, progress: SessionProgress,
                 kinds: tuple[JobKind, ...],
                 attempts: Mapping[str, tuple[int, str]] | None = None) -> None:
        self.deps, self.progress, self.kinds = deps, progress, kinds
        self.attempts = dict(attempts or {})
        self._busy: dict[int, Busy] = {}  # worker thread -> its run (``busy``)

    def execute(self, job: ResolvedJob, plan: RunPlan) -> RunResult | None:
        """The run's result; ``None`` when a rescue ended it while a plugin's hook
        held this worker (the rescue handed its result over)."""
        track, kind = RunTrack.of(job, plan, *self.attempts.get(plan.label, (1, ""))), \
            kind_of(job, self.kinds)
        track.detached = job.name in self.deps.detach_jobs
        thread = threading.get_ident()
        self._busy[thread] = Busy(track, kind)
        try:
            return self._run(track, kind)
        except TakenOver:
            return None
        except Exception as exc:  # a bug: the scheduler reports it; history still closes
            self._finish(track, Outcome.ERROR, message=f"internal error: {exc!r}", exit_code=1)
            raise
        finally:
            self._busy.pop(thread, None)

    def busy(self) -> dict[int, Busy]:
        """Worker thread -> the run it works on now."""
        return dict(self._busy)  # a copy in C: no thread changes it midway

    def start_sent(self, track: RunTrack) -> bool | None:
        """``None`` when ``track``'s start is not in flight, else whether an attempt of
        it may have reached the server (its run may exist)."""
        return self.progress.start_sent(_shown(track), self.deps.client.sending_keys())

    def take_over(self, busy: Busy, held: str, why: str) -> RunResult | None:
        """End ``busy``'s run on this thread, its worker held by a plugin's hook
        (``held`` names it): at a signal (``why`` ``"signal"``) it is cancelled like
        every run started here, at its timeout as its timeout says. ``"start"``: a
        signal came while its start was unanswered (a ``mogrun_retry_delay`` holds
        the retry): it ends as a signal in a plain retry pause ends it (``_recover``).
        ``"cancel"``: the signal's cancel of its run failed and the hook holds its retry:
        it is sent again, within the signal's grace. ``"timeout cancel"``: the same of
        its timeout's cancel, within that cancel's grace (``timeout_cancel``). Every
        request sent here retries on mogrun's own pause (``client.own_pauses``): the
        plugins hear nothing more of the run, and their retry policy may be the very
        hook that holds its worker.
        ``"slot"``: a signal came while it waited for a sandbox slot (a retry hook holds
        the account's listing): nothing was sent, and it is skipped.
        ``None``: its worker claimed its end first (it is ending it), or answered its
        cancel meanwhile."""
        track, kind = busy
        if not (self.progress.take_cancel(track) if why in ("cancel", "timeout cancel")
                else self.progress.claim(track)):
            return None
        track.released.set()
        if len(track.shown) > len(track.events):  # its worker is held mid-follow
            track.events = tuple(track.shown)
        sent = why == "start" and bool(self.start_sent(track))
        when = "at the run's timeout" if why.startswith("timeout") else "after the signal"
        self.deps.channel.notice(mask(f"{held} is still running {when}; "
                                      f"{_taking(track, why, sent)}", track.secrets),
                                 track=track, level="warning")
        if self.deps.slots is not None:
            self.deps.slots.release(track)
        with self.deps.client.own_pauses():
            return self._end_held(track, kind, why, sent)

    def _end_held(self, track: RunTrack, kind: JobKind, why: str, sent: bool) -> RunResult:
        """``take_over``'s end of the run, as ``why`` says."""
        try:
            if why == "start":  # sent: its run may exist, and is found by its key
                return self._recover(track, kind, by=self.deps.give_up.due) if sent \
                    else self._skip(track, NEVER_STARTED)
            if why == "slot":
                return self._skip(track, NEVER_STARTED)
            if why == "cancel":
                return self._interrupted(track, kind, by=self.deps.give_up.due)
            if why == "signal":
                return self._interrupted(track, kind)
            if why == "timeout cancel":
                assert track.timeout_cancel is not None
                return self._cancel_timed_out(track, kind, *track.timeout_cancel)
            assert track.state is not None
            return self._timed_out(track, kind, FollowOutcome(track.state, track.events,
                                                              "timeout"))
        except Exception as exc:  # a bug: said and recorded; the session goes on
            return self._finish(track, Outcome.ERROR, message=f"internal error: {exc!r}",
                                exit_code=1)

    def _own(self, track: RunTrack) -> None:
        """Claim the end of the run for this worker; leave if a rescue holds it."""
        if not self.progress.claim(track):
            raise TakenOver()

    def _mine(self, track: RunTrack) -> None:
        """Leave if a rescue ended the run (a start's retry hook let this worker go
        after the signal's rescue resolved that start). Unlike ``_own`` it claims
        nothing: a rescue may still be due later (a hook holding the run's follow)."""
        if track.ender is not None and track.ender != threading.get_ident():
            raise TakenOver()

    def _run(self, track: RunTrack, kind: JobKind) -> RunResult:
        try:
            track.rebase(self.deps.hooks.start_request(track.job, track.plan, track.base))
        except MogrunError as exc:  # a GateError is a veto; anything else a plugin fault
            self.deps.channel.run_pending(track)
            return self._refused(track, exc, Outcome.FAILED if isinstance(exc, GateError)
                                 else Outcome.ERROR)
        self.deps.channel.run_pending(track)
        if self.deps.stop.is_set():
            return self._skip(track, NEVER_STARTED)
        return self._start(track, kind)

    def _start(self, track: RunTrack, kind: JobKind) -> RunResult:
        """Attempts until one is not refused for capacity (each under its own key),
        waiting for a sandbox slot before each, within the job's ``capacity_wait``."""
        slot_deadline = time.monotonic() + track.job.capacity_wait
        while True:
            result, refused, sent = None, None, True
            try:
                result = self._attempt(track, kind, slot_deadline)
                if result is None:  # refused: no sandbox made (its error says why)
                    assert track.state is not None
                    refused = _error_text(track.state)
                else:  # not sent: no run, and none may exist (a 4xx, a 429 given up)
                    sent = bool(track.run_id) or may_have_started(result.message)
            finally:
                if self.deps.slots is not None:
                    self.deps.slots.release(track, refused=refused, sent=sent)
            if result is not None:
                return result
            self._next_attempt(track)

    def _attempt(self, track: RunTrack, kind: JobKind, slot_deadline: float) -> RunResult | None:
        """One attempt: its result, or ``None`` when the server refused it for capacity."""
        deps = self.deps
        try:
            with deps.armed():
                self._wait_for_slot(track, kind, slot_deadline)
                if deps.stop.is_set():  # a signal during the wait: nothing is sent now
                    raise Interrupted(deps.interrupt_code(), NEVER_STARTED)
                # Unanswered after a signal, a start is waited for until ``give_up``: its
                # answer names the run to cancel (or, with no cancel, to leave going). A
                # rescue that ended the run (``released``) ends its retries at once.
                key = kind.sent_key(track)
                with self.progress.start_in_flight(_shown(track), key, mask(key, track.secrets),
                                                   cancellable=kind.cancellable):
                    try:
                        started = kind.start(track, stop=EitherStop(deps.give_up,
                                                                    track.released))
                    finally:  # a retry's hook held this worker past a signal: a rescue
                        self._mine(track)  # ended the run (``take_over``), as said
        except StartInterrupted:
            return self._recover(track, kind)
        except Interrupted:
            return self._skip(track, NEVER_STARTED)
        except IdempotencyConflictError as exc:
            earlier = deps.recall(mask(track.key, track.secrets))
            rerun = deps.rerun_hint(track.job.name)
            return self._refused(track, exc.evolve(
                message=f"{exc.message}: {conflict_hint(track, earlier, rerun)}"), Outcome.ERROR)
        except UnconfirmedStartError as exc:
            return self._unconfirmed(track, exc, UNCONFIRMED, kind.sent_key(track))
        except UnansweredStartError as exc:
            return self._unconfirmed(track, exc, UNANSWERED, kind.sent_key(track))
        except MogrunError as exc:
            return self._refused(track, exc, Outcome.FAILED if isinstance(exc, NoSlot)
                                 else Outcome.ERROR)
        track.started(started.state, started.attached, started.repo_id)
        self.progress.run_going(track.run_id, _shown(track), track.attached, kind.cancellable)
        deps.channel.run_started(track)
        if track.attached:
            deps.channel.notice(_attached_text(track, kind, deps.rerun_hint(track.job.name)),
                                track=track)
        # An attached run that had already ended is no run to leave going: it is judged
        # (detached, a failed one was "passed" to rerun, and --detach said exit 0).
        ended = track.state is not None and track.state.terminal
        if track.job.name in deps.detach_jobs and not ended:
            if deps.stop.is_set():  # answered after a signal: cancelled, not handed over
                return self._interrupted(track, kind)
            return self._detached(track)
        try:
            followed = self._follow(track, kind)
            if followed.reason == "terminal" and kind.refusal(followed.state) is not None:
                return None
            return self._conclude(track, kind, followed)
        except MogrunError as exc:  # following failed
            return self._lost(track, exc)

    def _recover(self, track: RunTrack, kind: JobKind,
                 by: tuple[float, str] | None = None) -> RunResult:
        """A signal while the start was unanswered or retried after a lost answer: the
        run may exist though its id is unknown. The same key finds it (a replay), and
        it is cancelled like every run this invocation started. A start given up on
        after ``CANCEL_GRACE`` unanswered is not sent again: that server is not
        answering, and the exit must not wait for it once more. ``by``: when the look
        is given up at the latest (``give_up.due``: a rescue's, its worker held past
        the signal, keeps to the wait the signal's line said)."""
        deps = self.deps
        try:
            if deps.give_up.is_set():
                raise MogrunError(f"no answer within {CANCEL_GRACE:g}s of the signal")
            # Sent once more, not retried: one look for a run an earlier attempt made.
            started = kind.start(track, deadline=_grace(by), retry=False)
        except MogrunError as exc:
            deps.channel.notice(mask(
                f"interrupted while its start was unanswered; whether the run exists is "
                f"unknown ({exc.message}): look for Idempotency-Key {kind.sent_key(track)}",
                track.secrets), track=track, level="error")
            return self._skip(track, MAYBE_STARTED)
        track.started(started.state, False, started.repo_id)  # our own, whatever replayed says
        self.progress.run_going(track.run_id, _shown(track), cancellable=kind.cancellable)
        deps.channel.run_started(track)
        deps.channel.notice(mask(f"interrupted while its start was unanswered: the start "
                                 f"(Idempotency-Key {kind.sent_key(track)}) is run "
                                 f"{track.run_id}",
                                 track.secrets), track=track, level="warning")
        return self._interrupted(track, kind)

    def _wait_for_slot(self, track: RunTrack, kind: JobKind, deadline: float) -> None:
        """A slot for a start that may boot a sandbox. Not for a key an earlier
        invocation already sent: the start replays (attaches to) that run, and
        needs no sandbox (a {{ date }} key's CI retry of a job done today)."""
        slots, want = self.deps.slots, kind.sandbox(track)
        if slots is not None and want is not None and not self.deps.sent_before(
                mask(track.key, track.secrets)):
            track.slot_wait = True  # a rescue gives it up past a signal (``take_over``)
            try:
                slots.acquire(track, want, deadline, lambda w: self.deps.channel.wait(w, track),
                              label=track.label, job=track.job)
            finally:
                track.slot_wait = False

    def _next_attempt(self, track: RunTrack) -> None:
        """The server refused the run for capacity: not a failure of the job. The
        attempt is recorded as refused, and the next one waits for a slot."""
        deps, state = self.deps, track.state
        assert state is not None
        self._own(track)
        reason = _error_text(state)
        self.progress.run_ended(track.run_id)
        deps.channel.run_finished(track, track.result(
            Outcome.REFUSED, message=refused_message(reason, track.attempt + 1)))
        if deps.slots is not None and not track.attached:  # a replay says nothing of today
            with deps.armed():
                learnt = deps.slots.refused(track.job, reason, sent_at=track.began)
            if learnt is not None:
                deps.channel.notice(learnt, track=track, level="warning")
        deps.channel.notice(_refused_text(track, reason), track=track)
        track.next_attempt("capacity")
        deps.channel.run_pending(track)

    def _follow(self, track: RunTrack, kind: JobKind) -> FollowOutcome:
        deps, progress = self.deps, self.progress
        assert track.state is not None
        follower = Follower(kind, track.job, track.state, _TrackSink(deps, track),
                            interval=lambda: progress.follow_interval(deps),
                            deadline=track.deadline(), stop=deps.stop, label=track.label)
        with progress.following():
            try:
                with deps.armed():
                    followed = follower.follow()
            except Interrupted:
                followed = FollowOutcome(follower.state, tuple(follower.events), INTERRUPT_STOP)
        track.state, track.events = followed.state, followed.events
        track.shown = []  # ``events`` has them all now
        return followed

    def _conclude(self, track: RunTrack, kind: JobKind, followed: FollowOutcome) -> RunResult:
        self._own(track)
        if followed.reason == "terminal":
            return self._judge(track)
        if followed.reason == INTERRUPT_STOP:
            return self._interrupted(track, kind)
        if followed.reason == AWAITING_INPUT:
            return self._awaiting_input(track)
        return self._timed_out(track, kind, followed)

    def _awaiting_input(self, track: RunTrack) -> RunResult:
        """The agent's pass ended at a checkpoint, asking a person something. No API
        call answers it, so following on would only wait for the timeout, then
        cancel a run someone may still answer: it is left going, and fails the job
        (it did not finish its work)."""
        why = AWAITING_INPUT_WHY
        hint = (self.deps.resume_hint(track.run_id) if self.deps.local else
                awaiting_input_way_on(self.deps.cancel_hint(track.run_id)))
        self.deps.channel.notice(f"{why}; left going — {hint}", track=track, level="warning")
        return self._finish(track, Outcome.FAILED, message=why, going=True)

    def _judge(self, track: RunTrack) -> RunResult:
        """Gates run only for runs that reached a terminal status. The run is no longer
        going while they judge it (a slow gate): a signal then has nothing to cancel,
        and a second one records the status it ended with, never "left going"."""
        assert track.state is not None
        state = track.state
        self.progress.run_ended(track.run_id, state.status)
        draft = track.result(gated_outcome(state.status, ()))
        verdicts = self.deps.hooks.gates(job=track.job, run=track.plan, result=draft,
                                         state=state, events=track.events)
        outcome = gated_outcome(state.status, verdicts)
        return self._finish(track, outcome, verdicts=verdicts,
                            message=judged_message(state, outcome))

    def _timed_out(self, track: RunTrack, kind: JobKind, followed: FollowOutcome) -> RunResult:
        deps = self.deps
        why = followed.detail or f"timed out after {format_duration(track.job.timeout)}"
        if self._ended_after_all(track, kind):  # ended since its last poll: no timeout
            return self._judge(track)
        if track.job.on_timeout == "detach" or track.attached:
            left = "left running" if not track.attached else (
                "left running (this invocation only attached to it)")
            deps.channel.notice(f"{why}; {left} — {deps.resume_hint(track.run_id)}",
                                track=track, level="warning")
            return self._finish(track, Outcome.TIMEOUT, message=why, going=True)
        if kind.cancellable:  # said before the cancel: a stalled server holds it a while
            deps.channel.notice(f"{why}; cancelling run {track.run_id} (waiting up to "
                                f"{CANCEL_GRACE:g}s for its cancel)", track=track)
        grace = time.monotonic() + CANCEL_GRACE  # as Ctrl-C's: a stalled server must not
        track.timeout_cancel = (why, grace)  # hold the exit for minutes (retries included)
        return self._cancel_timed_out(track, kind, why, grace)

    def _cancel_timed_out(self, track: RunTrack, kind: JobKind, why: str,
                          grace: float) -> RunResult:
        """The timeout's cancel, given up at ``grace``: by the worker, or by a rescue
        once a retry hook holds it (``take_over``)."""
        deps = self.deps
        try:
            cancel = self._cancel(track, kind, grace)
        except MogrunError as exc:
            deps.channel.notice(_cancel_failed(deps, track, exc, why), track=track, level="error")
            return self._finish(track, Outcome.TIMEOUT, going=True,
                                message=f"{why}; the cancel did not get through")
        if cancel is None:
            deps.channel.notice(f"{why}; this kind of run cannot be cancelled, left running — "
                                f"{deps.resume_hint(track.run_id)}", track=track,
                                level="warning")
            return self._finish(track, Outcome.TIMEOUT, message=why, going=True)
        if cancel.already_terminal and not _cancelled(cancel.state):
            # it ended on its own just as time ran out (cancelled: an earlier send of
            # this cancel got through, its answer lost): judged as it ended, with its
            # last events read within what is left of the cancel's grace
            self._catch_up(track, kind, cancel.state, max(grace, time.monotonic() + TAIL_GRACE))
            return self._judge(track)
        deps.channel.notice(f"{why}; cancelled run {track.run_id}", track=track,
                            level="warning")
        self._catch_up(track, kind, cancel.state, time.monotonic() + TAIL_GRACE)
        return self._finish(track, Outcome.TIMEOUT, message=why)

    def _ended_after_all(self, track: RunTrack, kind: JobKind) -> bool:
        """Whether a run at its timeout has ended: polled at the request budget's
        pace (a 30-repo fan-out: every half minute), a run that ended since its
        last poll was said "left running" and failed its job, its dependents
        skipped, or said "timed out; cancelling" and sent a cancel it no longer
        needed. One more read says (its last events taken in); a read that fails
        leaves it as it was: going, and cancelled if the job says so."""
        try:
            state, events = kind.get_events(track.run_id, job=track.job,
                                            deadline=time.monotonic() + TAIL_GRACE,
                                            run=track.label)
        except MogrunError:
            return False
        if not state.terminal:
            return False
        self.progress.run_ended(track.run_id, state.status)
        self._take_in(track, events)
        self._announce(track, state)
        self._say_if_capped(track)
        return True

    def _take_in(self, track: RunTrack, events: Sequence[Event]) -> None:
        """``events`` not seen before, passed on and kept, in the server's order."""
        seen = {event_identity(e) for e in track.events}
        fresh = [e for e in events if event_identity(e) not in seen]
        for event in fresh:
            self.deps.channel.event(track, event)
        track.events = (*track.events, *fresh)

    def _catch_up(self, track: RunTrack, kind: JobKind, final: RunState,
                  deadline: float | None = None) -> None:
        """The run's last events, shown once its end is known: a run that ended just
        as its cancel went out is judged with them (a ``finished`` event a gate
        requires may be among them), and a cancelled one shows what it did since the
        last poll and the cancel's own events (its history and ``logs`` keep them)."""
        self.progress.run_ended(track.run_id, final.status)  # a second Ctrl-C leaves it out
        try:
            state, events = kind.get_events(track.run_id, job=track.job, deadline=deadline,
                                            run=track.label)
        except MogrunError:
            state, events = final, []
        self._take_in(track, events)
        self._announce(track, state if state.terminal else final)
        self._say_if_capped(track)

    def _say_if_capped(self, track: RunTrack) -> None:
        """What the follower says of a run it saw end (``Follower.say_if_capped``),
        for one ended at its timeout or at a signal: its later events not shown."""
        if capped(track.events):
            self.deps.channel.notice(CAP_NOTICE.format(limit=EVENT_LIMIT), track=track,
                                     level="warning")

    def _interrupted(self, track: RunTrack, kind: JobKind,
                     by: tuple[float, str] | None = None) -> RunResult:
        """Cancel runs this invocation started; leave attached ones going. What the
        first signal does is said before any run's cancel is (it is said on the main
        thread as this worker wakes: a cancel refused at once came first). ``by``: a
        rescue's (``take_over``), the cancel's latest end."""
        self._own(track)
        deps, code = self.deps, self.deps.interrupt_code()
        deps.said.wait(SAID_WAIT)
        if track.attached:
            deps.channel.notice(f"interrupted; run {track.run_id} was not started by this "
                                "invocation and is left running", track=track)
            return self._finish(track, Outcome.ERROR, exit_code=code, going=True,
                                message="interrupted (attached run left running)")
        try:  # bounded: a stalled server must not hold the exit for minutes
            cancel = self._cancel(track, kind, _grace(by))
        except MogrunError as exc:
            deps.channel.notice(_cancel_failed(deps, track, exc), track=track, level="error")
            return self._finish(track, Outcome.ERROR, exit_code=code, going=True,
                                message="interrupted; the cancel did not get through")
        if cancel is None:
            deps.channel.notice(f"interrupted; run {track.run_id} cannot be cancelled and is "
                                "left running", track=track, level="warning")
            return self._finish(track, Outcome.ERROR, message="interrupted", exit_code=code,
                                going=True)
        if cancel.already_terminal:  # it ended on its own before the cancel: judge it
            deps.channel.notice(f"run {track.run_id} had already ended "
                                f"({cancel.state.status}); judged as it ended", track=track)
            self._catch_up(track, kind, cancel.state, time.monotonic() + CANCEL_GRACE)
            return self._judge(track)
        deps.channel.notice(f"cancel of run {track.run_id} got through", track=track)
        self._catch_up(track, kind, cancel.state, time.monotonic() + TAIL_GRACE)
        return self._finish(track, Outcome.CANCELLED, message="interrupted", exit_code=code)

    def _cancel(self, track: RunTrack, kind: JobKind, deadline: float) -> Cancelled | None:
        """``kind.cancel``, known to be in flight (a second signal says so). Its worker
        held in a retry hook past a signal, a rescue takes the cancel over (``take_over``):
        the worker, once let go, sends it no more (``released``) and leaves."""
        stop = None if track.rescued else track.released  # a rescue's own is sent
        try:
            with self.progress.cancel_in_flight(track.run_id):
                return kind.cancel(track, deadline=deadline, stop=stop)
        finally:  # after ``cancel_in_flight``: a rescue takes a cancel only while in it
            self._mine(track)

    def _announce(self, track: RunTrack, new: RunState) -> None:
        old = track.state.status if track.state is not None else None
        track.state = new
        if new.status != old:
            self.deps.channel.status(track, old, new)

    def _detached(self, track: RunTrack) -> RunResult:
        self.deps.channel.notice(f"started run {track.run_id}; "
                                 f"{self.deps.resume_hint(track.run_id, 'follow')}", track=track)
        return self._finish(track, Outcome.DETACHED, going=True)

    def _lost(self, track: RunTrack, exc: MogrunError) -> RunResult:
        """Following failed (the server, the network): the run may still be going. A
        refused token (401) stops every start; a 403 is about this run's read (its
        repo left the token's reach), and the other jobs still start: a start the
        token's scope refuses says so itself (``_refused``)."""
        if exc.exit_code == 64:
            self.deps.abort.set()
        self.deps.channel.notice(
            mask(f"{exc.message}; run {track.run_id} may still be going — "
                 f"{self.deps.resume_hint(track.run_id)}", track.secrets),
            track=track, level="error")
        return self._finish(track, Outcome.ERROR, message=exc.message, exit_code=exc.exit_code,
                            lost=True)

    def _finish(self, track: RunTrack, outcome: str, *, verdicts: tuple[GateVerdict, ...] = (),
                message: str = "", exit_code: int | None = None,
                going: bool = False, lost: bool = False) -> RunResult:
        """``going``: left going on purpose (not ended here); ``lost``: following
        failed, so it may be going too. A failing run left so is ``left_going``."""
        self._own(track)
        result = track.result(outcome, verdicts=verdicts, message=message, exit_code=exit_code)
        if (going or lost) and Outcome(outcome).failing and not self.deps.local \
                and track.state is not None and not track.state.terminal:
            result = dataclasses.replace(result, left_going=True)
        if not going and track.state is not None:
            self.progress.run_ended(track.run_id)
        elif going and track.run_id:
            self.progress.run_left(track.run_id)
        self.deps.channel.run_finished(track, result)
        return result

    def _refused(self, track: RunTrack, exc: MogrunError, outcome: str) -> RunResult:
        """A veto or a start the server refused (or gave up on): the run never began."""
        message = mask(exc.message, track.secrets)
        self.deps.channel.notice(f"could not start: {message}", track=track, level="error")
        if exc.exit_code in (64, 65):
            self.deps.abort.set()
        return self._finish(track, outcome, message=message, exit_code=exc.exit_code)

    def _unconfirmed(self, track: RunTrack, exc: MogrunError, recorded: str,
                     key: str) -> RunResult:
        """The server accepted the start but named no run (``UNCONFIRMED``), or the start
        was given up on after an attempt that may have reached it (``UNANSWERED``): the
        run may exist, so it is neither said nor recorded as one that could not start
        (a rerun sends its key again, which the server answers with such a run). ``key``:
        the one sent (a trigger's is a digest of the job's), which the server knows."""
        deps, job = self.deps, track.job.name
        said = exc.message if recorded == UNCONFIRMED else (
            f"its start was given up on unanswered ({exc.message}): the run may have started")
        deps.channel.notice(mask(
            f"{said}; not sent again. Check with {deps.command} status {job} (or the "
            f"API) before starting it again: {deps.rerun_hint(job)} sends its "
            f"Idempotency-Key {key} again, which finds such a run instead of "
            "starting a second", track.secrets), track=track, level="error")
        return self._finish(track, Outcome.ERROR, message=recorded, exit_code=exc.exit_code)

    def skipped(self, job: ResolvedJob, plan: RunPlan, reason: str) -> RunResult:
        """A run never started (a need failed, an earlier failure, an interrupt): it is
        still recorded, so ``status JOB`` shows this invocation, not an older one."""
        track = RunTrack.of(job, plan, *self.attempts.get(plan.label, (1, "")))
        self.deps.channel.run_pending(track)
        return self._skip(track, reason)

    def left_alone(self, job: ResolvedJob, plan: RunPlan, state: RunState,
                   reason: str) -> RunResult:
        """A run an earlier invocation left going that still goes (``rerun`` does not
        start it again): recorded in this invocation with its run, as it stands and as
        left going, so ``status`` shows it and the next rerun reads it again."""
        track = RunTrack.of(job, plan, *self.attempts.get(plan.label, (1, "")))
        track.state = state
        self.deps.channel.run_pending(track)
        return self._finish(track, Outcome.ERROR, message=reason, exit_code=1, going=True)

    def _skip(self, track: RunTrack, reason: str) -> RunResult:
        code = self.deps.interrupt_code() if self.deps.stop.is_set() else 1
        return self._finish(track, Outcome.SKIPPED, message=reason, exit_code=code)


def _shown(track: RunTrack) -> str:
    """The run's label as a second Ctrl-C prints it (outside any reporter), as every
    other line names it: the job alone unless it fans out; a repo named from
    ``env.*`` is a secret."""
    return mask(track.job.label_of(track.plan), track.secrets)


def _grace(by: tuple[float, str] | None) -> float:
    """When a request made at a signal is given up: ``CANCEL_GRACE`` from now, or at
    ``by`` if sooner (``give_up.due``: a rescue keeps to the wait the signal said)."""
    deadline = time.monotonic() + CANCEL_GRACE
    return deadline if by is None else min(deadline, by[0])


def _taking(track: RunTrack, why: str, sent: bool) -> str:
    """What a rescue does with a run whose worker a plugin's hook holds: it ends the
    run, or sends its cancel once more (its retry held), or, its start unanswered at
    the signal, sends that start once more under its key (``sent``: an attempt may
    have reached the server) or gives it up (none did: no run of it exists)."""
    if why in ("cancel", "timeout cancel"):
        return f"sending the cancel of run {track.run_id} once more without waiting for it"
    if why == "slot":
        return ("giving its start up without waiting for it (it was waiting for a sandbox "
                "slot: nothing was sent)")
    if why != "start":
        return f"ending run {track.run_id} without waiting for it"
    if sent:
        return ("sending its start once more without waiting for it, to find the run its "
                f"Idempotency-Key {track.key} made")
    return ("giving its start up without waiting for it (no attempt reached the server: "
            "it made no run)")


def _cancelled(state: RunState) -> bool:
    return state.status == RunStatus.CANCELLED


def _cancel_failed(deps: SessionDeps, track: RunTrack, exc: MogrunError, why: str = "") -> str:
    """A cancel (at the timeout, ``why``, or at a signal) that did not get through."""
    text = (f"the cancel did not get through ({exc.message}); run {track.run_id} may still "
            "be going — " + (deps.resume_hint(track.run_id) if deps.local else
                             f"cancel it with: {deps.cancel_hint(track.run_id)}"))
    return mask(f"{why}; {text}" if why else text, track.secrets)


def _refused_text(track: RunTrack, reason: str) -> str:
    """What a refused attempt says: why, in the server's words, and when the next
    starts."""
    within = f"within the job's {capacity_wait_said(track.job)}"
    if joined_unready(reason):
        return (f"run {track.run_id} joined its sandbox while that was still booting, and "
                f"failed having done nothing ({reason}); attempt {track.attempt + 1} starts "
                f"once that sandbox has booted, {within}")
    return (f"run {track.run_id} was refused for capacity ({reason}); attempt "
            f"{track.attempt + 1} starts if a sandbox can boot {within}")


def _error_text(state: RunState) -> str:
    from mogrun.engine.run_kind import error_text

    return error_text(state)


def _attached_text(track: RunTrack, kind: JobKind, rerun: str) -> str:
    """An earlier invocation's run under this key: said, and if it had already
    failed (a replay fails for ever), how to try again (``rerun``): unless it was
    refused for capacity, which the next attempt, under a new key, answers by itself."""
    state = track.state
    text = f"attached to existing run {track.run_id}"
    if state is not None and state.terminal and kind.refusal(state) is not None:
        return text + f", which the server had refused for capacity ({_error_text(state)})"
    if state is not None and state.terminal and Outcome.of_status(state.status).failing:
        text += (f", which had already ended {state.status} (its key was used before); "
                 f"start a fresh attempt with: {rerun}")
    return text
