"""One run from start to result: veto hook, start, follow, timeout, gates, history.

Each run executes in its own worker thread. Everything it learns goes three
ways at once: to the plugin hooks, to the reporter and to the history row,
so a crash or a second Ctrl-C loses nothing already known.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from mogrun.durations import format_duration
from mogrun.engine.follower import Follower, FollowOutcome
from mogrun.engine.history import History, gates_json, now_iso
from mogrun.engine.outcome import (
    DETACHED,
    gated_outcome,
    outcome_exit_code,
    server_duration,
)
from mogrun.engine.signals import CANCEL_GRACE
from mogrun.errors import GateError, Interrupted, MogrunError
from mogrun.masking import mask
from mogrun.models import (
    Event,
    GateVerdict,
    ResolvedJob,
    RunPlan,
    RunResult,
    RunState,
    StartRequest,
)

INTERRUPT_STOP = "interrupted"


@dataclass
class SessionContext:
    """What every run of one invocation shares."""

    client: Any
    host: Any
    reporter: Any
    history: History | None
    invocation: str
    stop: threading.Event
    interval: Callable[[int], float]
    detach_jobs: frozenset[str] = frozenset()
    interrupt_code: Callable[[], int] = lambda: 130
    abort: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    active: int = 0
    going: dict[str, str] = field(default_factory=dict)  # run id -> label, not yet finished
    attached: set[str] = field(default_factory=set)  # run ids this invocation did not start
    rows: dict[str, int] = field(default_factory=dict)  # run id -> its history row
    sleeper: Any = None  # signals.InterruptibleSleep installed on the client's budget
    local: bool = False  # --local: the emulator, and every run on it, ends with this process

    def resume_hint(self, run_id: str, verb: str = "resume") -> str:
        """How to pick a run up later; a ``--local`` run cannot be (its emulator is gone)."""
        if self.local:
            return "the --local emulator stops when mogrun exits, and the run with it"
        return f"{verb} with: mogrun logs --follow {run_id}"

    def armed(self) -> AbstractContextManager[None]:
        """Budget waits inside this block end at the first signal."""
        return self.sleeper.armed() if self.sleeper is not None else nullcontext()

    def history_failed(self, exc: MogrunError) -> None:
        """A history that stops being writable mid-session is a warning, never a lost
        result: recording stops, the runs go on."""
        with self.lock:
            if self.history is None:
                return
            self.history = None
        self.reporter.notice(f"{exc.message}; runs are no longer recorded", level="warning")

    def follow_interval(self) -> float:
        with self.lock:
            active = self.active
        return self.interval(active)


class _Sink:
    """Where a follower's findings go: hooks, reporter, history."""

    def __init__(self, ctx: SessionContext, job: ResolvedJob, plan: RunPlan, row: int | None):
        self.ctx, self.job, self.plan, self.row = ctx, job, plan, row

    def event(self, event: Event) -> None:
        self.ctx.reporter.event(self.job, self.plan, event)
        self.ctx.host.event(job=self.job, run=self.plan, event=event)

    def status(self, old: str | None, state: RunState) -> None:
        self.ctx.reporter.status(self.job, self.plan, old, state)
        self.ctx.host.status_changed(job=self.job, run=self.plan, old=old, state=state)
        _update(self.ctx, self.row, status=state.status)

    def notice(self, message: str, level: str = "info") -> None:
        self.ctx.reporter.notice(message, job=self.job, run=self.plan, level=level)

    def watch(self, state: RunState, unchanged_for: float) -> str | None:
        reason: str | None = self.ctx.host.watch(job=self.job, run=self.plan, state=state,
                                                 unchanged_for=unchanged_for)
        return reason


def record_left_going(ctx: SessionContext, exit_code: int) -> dict[str, str]:
    """At a second signal: the runs still going (run id -> label), each history row
    closed as interrupted, since no worker will finish it."""
    with ctx.lock:
        going = dict(ctx.going)
        rows = {run_id: ctx.rows.get(run_id) for run_id in going}
    for row in rows.values():
        _update(ctx, row, outcome="error", exit_code=exit_code, finished_at=now_iso(),
                message="interrupted again; left going")
    return going


def _update(ctx: SessionContext, row: int | None, **fields: Any) -> None:
    history = ctx.history
    if history is not None and row is not None:
        try:
            history.update(row, **fields)
        except MogrunError as exc:
            ctx.history_failed(exc)


class RunExecutor:
    """``execute(job, plan) -> RunResult`` for the scheduler's workers."""

    def __init__(self, ctx: SessionContext) -> None:
        self.ctx = ctx

    def execute(self, job: ResolvedJob, plan: RunPlan) -> RunResult:
        ctx = self.ctx
        try:
            request = ctx.host.start_request(job, plan, plan.request)
        except MogrunError as exc:  # a GateError is a veto; anything else a plugin fault
            return self._refused(job, plan, exc, "failed" if isinstance(exc, GateError)
                                 else "error", self._record(job, plan))
        if ctx.stop.is_set():
            return self.skipped(job, plan, "interrupted before it started")
        row = self._record(job, plan, request.idempotency_key)
        try:
            return self._start(job, plan, request, row)
        except Exception as exc:  # a bug: the scheduler reports it; history still closes
            _update(ctx, row, outcome="error", exit_code=1, finished_at=now_iso(),
                    message=mask(f"internal error: {exc!r}", job.secrets))
            raise

    def _start(self, job: ResolvedJob, plan: RunPlan, request: StartRequest,
               row: int | None) -> RunResult:
        ctx = self.ctx
        try:
            with ctx.armed():
                started = ctx.client.start_run(request, job=job)
        except Interrupted:
            return self.skipped(job, plan, "interrupted before it started", row)
        except MogrunError as exc:
            return self._refused(job, plan, exc, "error", row)
        return self._after_start(job, plan, row, started.state, bool(started.attached))

    def _after_start(self, job: ResolvedJob, plan: RunPlan, row: int | None,
                     state: RunState, attached: bool) -> RunResult:
        ctx = self.ctx
        began = time.monotonic()
        with ctx.lock:
            ctx.going[state.run_id] = plan.label
            if attached:
                ctx.attached.add(state.run_id)
            if row is not None:
                ctx.rows[state.run_id] = row
        _update(ctx, row, run_id=state.run_id, status=state.status, attached=attached)
        ctx.reporter.job_started(job, plan, state, attached)
        if attached:
            ctx.reporter.notice(f"attached to existing run {state.run_id}", job=job, run=plan)
        ctx.host.run_started(job=job, run=plan, state=state, attached=attached)
        if job.name in ctx.detach_jobs:
            return self._detached(job, plan, row, state, attached)
        try:
            followed = self._follow(job, plan, row, state, began + job.timeout)
            return self._conclude(job, plan, row, followed, attached, began)
        except MogrunError as exc:
            if exc.exit_code in (64, 65):
                ctx.abort.set()
            ctx.reporter.notice(
                mask(f"{exc.message}; run {state.run_id} may still be going — "
                     f"{ctx.resume_hint(state.run_id)}", job.secrets),
                job=job, run=plan, level="error")
            return self._finish(job, plan, row, state, "error", attached, began,
                                message=exc.message, exit_code=exc.exit_code)

    def _follow(self, job: ResolvedJob, plan: RunPlan, row: int | None, state: RunState,
                deadline: float) -> FollowOutcome:
        ctx = self.ctx
        follower = Follower(ctx.client, job, state, _Sink(ctx, job, plan, row),
                            interval=ctx.follow_interval, deadline=deadline, stop=ctx.stop)
        with ctx.lock:
            ctx.active += 1
        try:
            with ctx.armed():
                return follower.follow()
        except Interrupted:
            return FollowOutcome(follower.state, tuple(follower.events), INTERRUPT_STOP)
        finally:
            with ctx.lock:
                ctx.active -= 1

    def _conclude(self, job: ResolvedJob, plan: RunPlan, row: int | None,
                  followed: FollowOutcome, attached: bool, began: float) -> RunResult:
        if followed.reason == "terminal":
            return self._judge(job, plan, row, followed.state, followed.events, attached, began)
        if followed.reason == INTERRUPT_STOP:
            return self._interrupted(job, plan, row, followed.state, attached, began)
        return self._timed_out(job, plan, row, followed, attached, began)

    def _judge(self, job: ResolvedJob, plan: RunPlan, row: int | None, state: RunState,
               events: tuple[Event, ...], attached: bool, began: float) -> RunResult:
        """Gates run only for runs that reached a terminal status."""
        draft = self._result(job, plan, state, gated_outcome(state.status, ()), attached, began)
        verdicts = self.ctx.host.gates(job=job, run=plan, result=draft, state=state,
                                       events=events)
        outcome = gated_outcome(state.status, verdicts)
        message = _error_text(state) if outcome != "success" else ""
        return self._finish(job, plan, row, state, outcome, attached, began,
                            verdicts=verdicts, message=message)

    def _timed_out(self, job: ResolvedJob, plan: RunPlan, row: int | None,
                   followed: FollowOutcome, attached: bool, began: float) -> RunResult:
        ctx, state = self.ctx, followed.state
        why = followed.detail or f"timed out after {format_duration(job.timeout)}"
        if job.on_timeout == "detach":
            ctx.reporter.notice(f"{why}; left running — {ctx.resume_hint(state.run_id)}",
                                job=job, run=plan, level="warning")
            return self._finish(job, plan, row, state, "timeout", attached, began, message=why,
                                still_going=True)
        cancel = self._cancel(job, state)
        if cancel.already_terminal:  # it ended on its own just as time ran out
            return self._judge(job, plan, row, cancel.state, followed.events, attached, began)
        ctx.reporter.notice(f"{why}; cancelled run {state.run_id}", job=job, run=plan,
                            level="warning")
        self._announce(job, plan, row, state, cancel.state)
        return self._finish(job, plan, row, cancel.state, "timeout", attached, began,
                            message=why)

    def _interrupted(self, job: ResolvedJob, plan: RunPlan, row: int | None, state: RunState,
                     attached: bool, began: float) -> RunResult:
        """Cancel runs this invocation started; leave attached ones going."""
        ctx, code = self.ctx, self.ctx.interrupt_code()
        if attached:
            ctx.reporter.notice(f"interrupted; run {state.run_id} was not started by this "
                                "invocation and is left running", job=job, run=plan)
            return self._finish(job, plan, row, state, "error", attached, began,
                                message="interrupted (attached run left running)",
                                exit_code=code, still_going=True)
        try:  # bounded: a stalled server must not hold the exit for minutes
            cancel = self._cancel(job, state, deadline=time.monotonic() + CANCEL_GRACE)
        except MogrunError as exc:
            ctx.reporter.notice(mask(f"the cancel did not get through ({exc.message}); run "
                                     f"{state.run_id} may still be going — cancel it with: "
                                     f"mogrun cancel {state.run_id}", job.secrets),
                                job=job, run=plan, level="error")
            return self._finish(job, plan, row, state, "error", attached, began,
                                message="interrupted; the cancel did not get through",
                                exit_code=code, still_going=True)
        ctx.reporter.notice(f"cancel of run {state.run_id} got through", job=job, run=plan)
        self._announce(job, plan, row, state, cancel.state)
        outcome = "cancelled" if not cancel.already_terminal else gated_outcome(
            cancel.state.status, ())
        return self._finish(job, plan, row, cancel.state, outcome, attached, began,
                            message="interrupted", exit_code=code)

    def _cancel(self, job: ResolvedJob, state: RunState, deadline: float | None = None) -> Any:
        """Cancel the run; its answer is about this run whatever runId it carries."""
        cancel = self.ctx.client.cancel_run(state.run_id, job=job, deadline=deadline)
        if cancel.state.run_id == state.run_id:
            return cancel
        return dataclasses.replace(cancel, state=dataclasses.replace(cancel.state,
                                                                     run_id=state.run_id))

    def _announce(self, job: ResolvedJob, plan: RunPlan, row: int | None, old: RunState,
                  new: RunState) -> None:
        if new.status != old.status:
            _Sink(self.ctx, job, plan, row).status(old.status, new)

    def _detached(self, job: ResolvedJob, plan: RunPlan, row: int | None, state: RunState,
                  attached: bool) -> RunResult:
        self.ctx.reporter.notice(f"started run {state.run_id}; "
                                 f"{self.ctx.resume_hint(state.run_id, 'follow')}",
                                 job=job, run=plan)
        return self._finish(job, plan, row, state, DETACHED, attached, time.monotonic(),
                            still_going=True)

    def _result(self, job: ResolvedJob, plan: RunPlan, state: RunState, outcome: str,
                attached: bool, began: float, **extra: Any) -> RunResult:
        duration = server_duration(state) if state.terminal else None
        if duration is None:
            duration = time.monotonic() - began
        return RunResult(job=job.name, repo=plan.repo, outcome=outcome, run_id=state.run_id,
                         status=state.status, attached=attached, started_at=state.created_at,
                         finished_at=state.updated_at if state.terminal else None,
                         duration=duration, branch=state.working_branch, **extra)

    def _finish(self, job: ResolvedJob, plan: RunPlan, row: int | None, state: RunState,
                outcome: str, attached: bool, began: float, *,
                verdicts: tuple[GateVerdict, ...] = (),
                message: str = "", exit_code: int | None = None,
                still_going: bool = False) -> RunResult:
        message = mask(message, job.secrets)
        code = outcome_exit_code(outcome) if exit_code is None else exit_code
        result = self._result(job, plan, state, outcome, attached, began, gates=tuple(verdicts),
                              message=message, exit_code=code)
        if not still_going:
            with self.ctx.lock:
                self.ctx.going.pop(state.run_id, None)
        _update(self.ctx, row, status=state.status, outcome=outcome, exit_code=code,
                finished_at=now_iso(), gates=gates_json(verdicts, job.secrets), message=message)
        return result

    def _refused(self, job: ResolvedJob, plan: RunPlan, exc: MogrunError, outcome: str,
                 row: int | None = None) -> RunResult:
        """A veto or a start the server refused (or gave up on): the run never began."""
        message = mask(exc.message, job.secrets)
        self.ctx.reporter.notice(f"could not start: {message}", job=job, run=plan, level="error")
        if exc.exit_code in (64, 65):
            self.ctx.abort.set()
        _update(self.ctx, row, outcome=outcome, exit_code=exc.exit_code, finished_at=now_iso(),
                message=message)
        return RunResult(job=job.name, repo=plan.repo, outcome=outcome, message=message,
                         exit_code=exc.exit_code)

    def skipped(self, job: ResolvedJob, plan: RunPlan, reason: str,
                row: int | None = None) -> RunResult:
        """A run never started (a need failed, an earlier failure, an interrupt): it is
        still recorded, so ``status JOB`` shows this invocation, not an older one."""
        code = self.ctx.interrupt_code() if self.ctx.stop.is_set() else 1
        if row is None:
            row = self._record(job, plan)
        _update(self.ctx, row, outcome="skipped", exit_code=code, finished_at=now_iso(),
                message=mask(reason, job.secrets))
        return RunResult(job=job.name, repo=plan.repo, outcome="skipped", message=reason,
                         exit_code=code)

    def _record(self, job: ResolvedJob, plan: RunPlan, key: str | None = None) -> int | None:
        """The history row of a run about to start (or that never will)."""
        history = self.ctx.history
        if history is None:
            return None
        key = plan.request.idempotency_key if key is None else key
        try:
            return history.record_start(self.ctx.invocation, job.name,
                                        mask(plan.repo, job.secrets), mask(key, job.secrets))
        except MogrunError as exc:
            self.ctx.history_failed(exc)
            return None


def _error_text(state: RunState) -> str:
    error = state.error
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "")
    return str(error) if error else ""
