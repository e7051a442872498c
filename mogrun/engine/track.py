"""What one run knows as it goes: the ``RunTrack``.

A run of a job is started, maybe started again (a new *attempt* after the
server refused it for capacity, or by ``mogrun rerun``), followed, judged and
recorded. Every one of those steps needs the same handful of facts — the job,
its plan, the request of the current attempt, the state the server last
reported, whether this invocation only attached to it, when its timeout clock
started — so they live on one object handed from step to step instead of
travelling as six loose arguments.

Attempt keys: attempt 1 sends the job's own Idempotency-Key; attempt ``n``
sends a key derived from it and ``n`` alone, so a lost answer to attempt 2 is
retried (and replayed) as attempt 2 and can never start a third run.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from mogrun.engine.outcome import server_duration
from mogrun.errors import LeaveNow
from mogrun.masking import mask
from mogrun.models import ResolvedJob, RunPlan, StartRequest, fitted_key
from mogrun.outcomes import Outcome
from mogrun.runs import Event, RunResult, RunState


class TakenOver(LeaveNow):
    """Raised on a run's worker as a plugin's hook lets it go, after another thread
    ended that run without it (``engine.rescue``): the worker leaves, saying nothing
    more of the run. Not an ``Exception``: no ``except Exception`` on the way stops it."""


def attempt_key(base: str, attempt: int) -> str:
    """The Idempotency-Key of ``attempt`` (1 is ``base`` itself), within the server's
    limit (``fitted_key``: two long keys that share a prefix still differ)."""
    return base if attempt <= 1 else fitted_key(base, f"~attempt-{attempt}")


@dataclass(eq=False)
class RunTrack:
    """One run of one job, from before its start to its result (mutable progress).

    ``why`` says why the current attempt exists: ``""`` for a first attempt,
    ``"capacity"`` after a refusal for want of a sandbox, ``"rerun"``.
    ``began`` is the monotonic time of the start's 202: the timeout counts from
    there, never from waits for needs, the start budget or a sandbox slot.
    ``refused`` is the run of the latest attempt the server refused for capacity:
    while the current attempt has made no run, the result names that one, the
    run that exists (its id was in the refusal's notice), not none at all.
    """

    job: ResolvedJob
    plan: RunPlan
    base: StartRequest  # attempt 1's request (after the start-request hook)
    request: StartRequest  # the current attempt's: ``base`` under the attempt's key
    attempt: int = 1
    why: str = ""
    state: RunState | None = None
    attached: bool = False
    began: float | None = None
    events: tuple[Event, ...] = ()
    # The events of the current attempt passed on while it is followed (``events`` is
    # set when following ends): a rescue that ends the run while a plugin's hook holds
    # its worker starts from them, so none is shown twice.
    shown: list[Event] = field(default_factory=list)
    request_changed: bool = False  # sent with a fresh repo id: the history's copy is stale
    automation_id: str | None = None  # an automation job's, once its start resolved it
    detached: bool = False  # --detach: left going once started, followed by no one
    refused: RunState | None = None
    # The thread ending the current attempt (its cancel, its result): the worker, or a
    # rescue when a plugin's hook holds the worker (``SessionProgress.claim``).
    ender: int | None = None
    slot_wait: bool = False  # waiting for a sandbox slot: nothing of it sent yet
    # At its timeout, once its cancel is sent: why it timed out, and when that cancel is
    # given up (a rescue taking the cancel from a retry hook keeps to both).
    timeout_cancel: tuple[str, float] | None = None
    # Set once a rescue ends the run (``rescued``): the plugins hear nothing more of it,
    # and a request its worker would still send for it (a cancel's retry) is not sent.
    released: threading.Event = field(default_factory=threading.Event)

    @property
    def rescued(self) -> bool:
        """Whether a rescue ended the run without its worker (``engine.rescue``)."""
        return self.released.is_set()

    def let_go(self) -> None:
        """After a plugin's hook returns on this run's worker: leave if the run was
        ended without it meanwhile (the rescue never calls the hooks of its run)."""
        if self.rescued:
            raise TakenOver()

    @classmethod
    def of(cls, job: ResolvedJob, plan: RunPlan, attempt: int = 1, why: str = "") -> RunTrack:
        track = cls(job.for_run(plan), plan, plan.request, plan.request, attempt, why)
        track.rebase(plan.request)
        return track

    def rebase(self, request: StartRequest) -> None:
        """Attempt 1's request is ``request`` (what the hook made of the plan's);
        the current attempt sends it under the attempt's key."""
        self.base = request
        key = attempt_key(request.idempotency_key, self.attempt)
        self.request = request if key == request.idempotency_key else dataclasses.replace(
            request, idempotency_key=key)

    @property
    def label(self) -> str:
        return self.plan.label

    @property
    def secrets(self) -> frozenset[str]:
        return self.job.secrets

    @property
    def key(self) -> str:
        return self.request.idempotency_key

    @property
    def base_key(self) -> str:
        return self.base.idempotency_key

    @property
    def run_id(self) -> str:
        return self.state.run_id if self.state is not None else ""

    def deadline(self) -> float:
        """When the job's timeout runs out (counted from the 202)."""
        began = time.monotonic() if self.began is None else self.began
        return began + self.job.timeout

    def started(self, state: RunState, attached: bool, repo_id: str | None = None) -> None:
        """The start's answer; ``repo_id``: the repo's fresh id, when the request's was
        stale (this and every later attempt send it, and the history keeps it)."""
        self.state, self.attached, self.began = state, attached, time.monotonic()
        if repo_id is not None:
            self.rebase(dataclasses.replace(self.base, repo_id=repo_id))
            self.request_changed = True

    def next_attempt(self, why: str) -> None:
        """Forget the refused run; the next start sends the next attempt's key."""
        self.attempt, self.why = self.attempt + 1, why
        self.refused = self.state or self.refused
        self.rebase(self.base)
        self.state, self.attached, self.began, self.events = None, False, None, ()
        self.shown = []
        self.ender = None  # the next attempt's end is claimed afresh
        self.request_changed = False  # the next attempt's row is written from ``base``

    def result(self, outcome: str, *, verdicts: tuple[Any, ...] = (), message: str = "",
               exit_code: int | None = None) -> RunResult:
        """The run's result; its duration by the server's clock once it is terminal.
        An attempt that made no run after a refused one names the refused run."""
        state = self.state
        code = Outcome(outcome).exit_code if exit_code is None else exit_code
        message = mask(message, self.secrets)
        if state is None:
            earlier = self.refused
            return RunResult(job=self.job.name, repo=self.plan.repo, outcome=outcome,
                             message=message, exit_code=code,
                             run_id=earlier.run_id if earlier is not None else None,
                             status=earlier.status if earlier is not None else None)
        duration = server_duration(state) if state.terminal else None
        if duration is None and self.began is not None and outcome != Outcome.DETACHED:
            duration = time.monotonic() - self.began  # how long it was followed
        # (--detach follows nothing: its "1ms" read as how long a pending run took.)
        return RunResult(job=self.job.name, repo=self.plan.repo, outcome=outcome,
                         run_id=state.run_id, status=state.status, attached=self.attached,
                         started_at=state.created_at,
                         finished_at=state.updated_at if state.terminal else None,
                         duration=duration, gates=tuple(verdicts), message=message,
                         exit_code=code, branch=state.own_branch,
                         usage=state.raw.get("usage"))
