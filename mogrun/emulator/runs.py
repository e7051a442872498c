"""A run whose state is a pure function of wall-clock time since its creation:
pending -> streaming (events) -> its scripted terminal status. Cancelling or
ending it early only records a time; everything else is computed on read."""

from __future__ import annotations

import bisect
import hashlib
import math
import uuid
from dataclasses import dataclass
from typing import Any

from mogrun.emulator.directives import Script
from mogrun.emulator.stamps import timestamptz

TERMINAL_EVENT = {"success": "finished", "failed": "failed", "cancelled": "cancelled"}


def trigger_run_id() -> str:
    """The id Trigger.dev gives a task the server queues: a run's, a job run's."""
    return "run_" + uuid.uuid4().hex[:20]


@dataclass(frozen=True)
class StartSpec:
    """A validated, normalised start request (defaults applied): what is hashed.
    ``conversation_id``, ``workspace_session_id`` and ``mode`` only count for
    idempotency: the server stores them, and no answer shows them.

    ``repo_id`` is the repo's id as stored (a UUID column gives it back in lower
    case): it places the run and every answer shows it. ``sent_repo_id`` is the
    ``repoId`` as sent, trimmed, which the server hashes (None: the same)."""

    repo_id: str
    prompt: str
    harness: str
    base_branch: str
    working_branch: str | None
    create_branch: bool
    root_directory: str | None
    conversation_id: str | None = None
    workspace_session_id: str | None = None
    mode: str | None = None
    sent_repo_id: str | None = None


class Run:
    """One run on the emulator. Mutated only under the emulator's lock."""

    def __init__(self, spec: StartSpec, script: Script, user: str, created: float,
                 api_url: str) -> None:
        self.id = str(uuid.uuid4())  # the server's runs table keys runs by UUID
        self.spec = spec
        self.script = script
        self.user = user
        self.created = created
        self.api_url = api_url
        self.cancelled_at: float | None = None
        self.ended_at: float | None = None
        self._suffix = uuid.uuid4().hex[:12]
        self.ai_call_id = str(uuid.uuid4())  # the server's ai_calls table keys by UUID
        self.runtime_id = trigger_run_id()
        self.sandbox: Any = None  # its Sandbox (see sandboxes.py), once acquired
        self.reused = False  # True when that sandbox was already active at the start

    # ---- time line -------------------------------------------------------------

    def end(self) -> float | None:
        """Absolute time of the terminal status, if it has one: what its sandbox's
        idle clock counts from (a run paused at a checkpoint has none yet)."""
        return self._pass_end() if self._ends_for_good() else None

    def _pass_end(self) -> float | None:
        """Absolute time of the status the run ends its pass with, if it has one:
        terminal, or ``awaiting_input``."""
        if self.cancelled_at is not None:
            return self.cancelled_at
        if self.ended_at is not None:
            return self.ended_at
        rel = self.script.end_time
        return None if rel is None else self.created + rel

    def status(self, now: float) -> str:
        end = self._pass_end()
        if end is not None and now >= end:
            return "cancelled" if self.cancelled_at is not None else self.script.status
        return "streaming" if now >= self.created + self.script.pending_time else "pending"

    def is_terminal(self, now: float) -> bool:
        return self.status(now) in TERMINAL_EVENT

    def _ends_for_good(self) -> bool:
        """Whether the scripted end is terminal: a pass that pauses at a checkpoint
        (``awaiting_input``) goes on holding its sandbox until it is cancelled."""
        return self.cancelled_at is not None or self.script.status in TERMINAL_EVENT

    def cancel(self, now: float) -> None:
        """Stop an active run now; its events gain cancel_requested, cancelled."""
        self.cancelled_at = now
        self._moved_end()

    def end_by(self, when: float) -> None:
        """End an active run with its scripted status by ``when`` (a cancel lost the
        race to the run's own end, which its row shows only from then on)."""
        scripted = self._pass_end()
        self.ended_at = when if scripted is None else min(when, scripted)
        self._moved_end()

    def _moved_end(self) -> None:
        """Its sandbox's idle clock follows its end."""
        if self.sandbox is not None:
            self.sandbox.changed()

    def _middle_count(self) -> int | None:
        return None if self.script.duration is None else self.script.events - 3

    def _time(self, k: int) -> float:
        """Relative time of the k-th non-terminal event."""
        pending = self.script.pending_time
        if k == 0:
            return 0.0
        if k == 1:
            return pending
        middle = self._middle_count()
        if middle is None:
            return pending + self.script.interval * (k - 1)
        span = (self.script.end_time or pending) - pending
        return pending + span * (k - 1) / (middle + 1)

    def _count(self, until: float) -> int:
        """How many non-terminal events happened at or before absolute ``until``."""
        rel = until - self.created
        middle = self._middle_count()
        if middle is None:
            if rel < self.script.pending_time:
                return 1 if rel >= 0 else 0
            return 2 + math.floor((rel - self.script.pending_time) / self.script.interval)
        return bisect.bisect_right(range(middle + 2), rel, key=self._time)  # times ascend

    # ---- views ---------------------------------------------------------------

    def events(self, now: float, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` events visible at ``now``, oldest first."""
        end = self._pass_end()
        done = end is not None and now >= end
        cut = end if done and end is not None else now
        count = self._count(cut)
        events = [self._event(k) for k in range(min(count, limit))]
        if done and len(events) < limit and end is not None and self._ends_for_good():
            events += self._tail(count, end)  # a pause at a checkpoint appends no event
        return events[:limit]

    def _tail(self, index: int, at: float) -> list[dict[str, Any]]:
        if self.cancelled_at is not None:
            # The server's cancel (run-control.ts) appends both, naming the run.
            control = {"external_run_id": self.id, "runtime_command_id": self._command()}
            return [
                self._make(index, at, "cancel_requested", None, "Cancellation requested",
                           control),
                self._make(index + 1, at, "cancelled", None, "External Mogplex run cancelled",
                           dict(control)),
            ]
        status = self.script.status
        message = {"success": "Run finished", "failed": self._error_text(),
                   "cancelled": "Run cancelled"}[status]
        return [self._make(index, at, TERMINAL_EVENT[status], None, message, {"status": status})]

    def _event(self, k: int) -> dict[str, Any]:
        at = self.created + self._time(k)
        if k == 0:
            return self.accepted()
        if k == 1:
            return self._make(k, at, "status_changed", None, "Status changed to streaming",
                              {"from": "pending", "to": "streaming"})
        return self._middle(k, at, k - 2)

    def _middle(self, k: int, at: float, j: int) -> dict[str, Any]:
        tools = self.script.tools
        step = j // 3 + 1 if tools else j + 1
        text = self.script.message
        if not tools or j % 3 == 2:
            tool = tools[(j // 3) % len(tools)] if tools else None
            done = f"Step {step}: {tool} done" if tool else f"Step {step}"
            return self._make(k, at, "log", None, text if text is not None else done,
                              {"level": "info", "step": step})
        tool = tools[(j // 3) % len(tools)]
        if j % 3 == 0:
            return self._make(k, at, "tool_started", tool, f"Running {tool}",
                              {"tool": tool, "step": step})
        return self._make(k, at, "tool_finished", tool, f"{tool} finished",
                          {"tool": tool, "step": step, "ok": True})

    def accepted(self) -> dict[str, Any]:
        """The event the server appends as it creates a run (appendExternalRunAcceptedEvent)."""
        return self._make(0, self.created, "started", None, "External Mogplex run accepted",
                          {"external_run_id": self.id, "harness_id": self.spec.harness,
                           "working_branch": self.spec.working_branch})

    def _command(self) -> str | None:
        """The runtime command a cancel kills: the run's, once it streams."""
        return "cmd_" + self._suffix if self.cancelled_at is not None and (
            self.cancelled_at >= self.created + self.script.pending_time) else None

    def _make(self, k: int, at: float, kind: str, tool: str | None, message: str | None,
              payload: dict[str, Any]) -> dict[str, Any]:
        return {"id": self._event_id(k), "type": kind, "toolName": tool,
                "message": message, "payload": payload, "createdAt": timestamptz(at)}

    def _event_id(self, k: int) -> str:
        """The k-th event's id: a UUID, as the server's events table keys them, and
        the same on every read (events are computed, not stored)."""
        digest = hashlib.sha256(f"{self.id}/event/{k}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def _error_text(self) -> str:
        return self.script.error or "The agent run failed"

    def _updated(self, now: float) -> float:
        """When the server last wrote the run's row: its creation (and queueing, a
        few milliseconds later), the moment it went streaming, then its end. Its
        events live in another table, so they never move it
        (``executeExternalAgentRun`` updates the row only at those points)."""
        end = self._pass_end()
        if end is not None and now >= end:
            return end
        streaming = self.created + self.script.pending_time
        return streaming if now >= streaming else self.created

    def detail(self, now: float) -> dict[str, Any]:
        """The RunDetail object as the API returns it."""
        status = self.status(now)
        end = self._pass_end()
        seen = min(now, end) if end is not None else now
        started = seen >= self.created + self.script.pending_time
        placed = self.sandbox is not None and (started or self.reused)
        url = f"/api/v1/mogplex/runs/{self.id}"  # the server's are paths, not URLs
        return {
            "runId": self.id,
            "aiCallId": self.ai_call_id,
            "sandboxRecordId": self.sandbox.id if placed else None,
            "sandboxId": self.sandbox.provider_id if placed else None,
            "repoId": self.spec.repo_id,
            "harness": self.spec.harness,
            "status": status,
            "branch": {"base": self.spec.base_branch, "working": self.spec.working_branch,
                       "createBranch": self.spec.create_branch},
            "rootDirectory": self.spec.root_directory,
            "eventsUrl": url + "/events",
            "cancelUrl": url + "/cancel",
            "createdAt": timestamptz(self.created),
            "updatedAt": timestamptz(self._updated(now)),
            "error": self._error_text() if status == "failed" else None,
            # The server queues the run on Trigger.dev and records the handle
            # before it answers the 202: the runtime is known from the start.
            "runtime": {"provider": "trigger", "runId": self.runtime_id},
        }


REFUSAL_DELAY = 0.2  # "moments later": how long a refused run stays pending


class RefusedRun(Run):
    """A run whose sandbox could not boot: accepted (202), then ``failed`` with
    the refusal as its error, exactly as the server does it — a ``started``
    event ("External Mogplex run accepted"), then a ``failed`` one. It was
    queued like any run (its ``runtime`` is set): the queued task's sandbox
    launch is what is refused."""

    def __init__(self, spec: StartSpec, script: Script, user: str, created: float,
                 api_url: str, refusal: str) -> None:
        super().__init__(spec, script, user, created, api_url)
        self.refusal = refusal

    def _pass_end(self) -> float | None:
        if self.cancelled_at is not None:
            return self.cancelled_at
        return self.created + REFUSAL_DELAY

    def _ends_for_good(self) -> bool:
        return True  # it fails, whatever its prompt scripted

    def status(self, now: float) -> str:
        end = self.end()
        if end is not None and now >= end:
            return "cancelled" if self.cancelled_at is not None else "failed"
        return "pending"

    def events(self, now: float, limit: int) -> list[dict[str, Any]]:
        accepted = self.accepted()
        end = self.end()
        if end is None or now < end:
            return [accepted][:limit]
        if self.cancelled_at is not None:
            return ([accepted, *self._tail(1, end)])[:limit]
        failed = self._make(1, end, "failed", None, "External Mogplex run failed",
                            {"error": self.refusal})
        return [accepted, failed][:limit]

    def _error_text(self) -> str:
        return self.refusal

    def detail(self, now: float) -> dict[str, Any]:
        detail = super().detail(now)
        end = self.end()
        done = end is not None and now >= end
        return {**detail, "sandboxRecordId": None, "sandboxId": None,
                "updatedAt": timestamptz(end if done and end is not None else self.created)}


NOT_READY = "Sandbox is not ready"  # the harness route's 409 for a sandbox still booting


class NotReadyRun(RefusedRun):
    """A run that joined its triple's sandbox while that one was still booting
    (``sandbox_id`` ``"pending"``): accepted (202) bound to it, then ``failed``
    moments later with ``Sandbox is not ready``. The server's sandbox launch hands
    a booting sandbox back at once rather than waiting for it, and the harness
    route refuses one whose ``sandbox_id`` is still ``"pending"``; the run's task
    then marks it failed (``executeExternalAgentRun``). It never ran: it is no
    work in the sandbox here (the server leaves its AI call pending, which keeps
    the sandbox from idling out for hours: not modelled). The row names the
    sandbox as the start found it, ``"pending"``."""

    def __init__(self, spec: StartSpec, script: Script, user: str, created: float,
                 api_url: str, sandbox: Any) -> None:
        super().__init__(spec, script, user, created, api_url, NOT_READY)
        self.joined = sandbox

    def detail(self, now: float) -> dict[str, Any]:
        return {**super().detail(now), "sandboxRecordId": self.joined.id,
                "sandboxId": "pending"}


QUEUE_FAILURE = "Trigger.dev runtime is not configured"  # queueExternalAgentRun's first throw


class UnqueuedRun(Run):
    """A run the server stored, then could not queue (``start:500_after_commit``).

    ``startMogplexApiRun`` inserts the run, appends its accepted event, then asks
    Trigger.dev to queue it; when that throws, ``markExternalAgentRunFailed`` sets
    ``status`` failed and ``error`` to the thrown error's message, and the error
    goes on to the route's 500. The update appends no event, so the accepted one
    stays the only one; the run never reached a runtime (``runtime`` stays null)
    and no sandbox was launched for it. The row still names the active sandbox the
    server found for it before the insert, if there was one: that sandbox is only
    named, never used, so it does not keep it busy.

    ``updatedAt`` is its creation time: the server's update trigger stamps the
    failure a few milliseconds later, in the same request."""

    def __init__(self, spec: StartSpec, script: Script, user: str, created: float,
                 api_url: str, found: tuple[str, str] | None = None) -> None:
        super().__init__(spec, script, user, created, api_url)
        # (id, sandbox_id) of the sandbox findActiveSandbox returned, as the row
        # copied them at the insert ("pending" while it was creating), or None.
        self.found = found

    def _pass_end(self) -> float | None:
        return self.created

    def _ends_for_good(self) -> bool:
        return True  # failed before its prompt could script anything

    def status(self, now: float) -> str:
        return "failed"  # terminal from the start: a cancel finds it alreadyTerminal

    def events(self, now: float, limit: int) -> list[dict[str, Any]]:
        return [self.accepted()][:limit]

    def _error_text(self) -> str:
        return QUEUE_FAILURE

    def detail(self, now: float) -> dict[str, Any]:
        detail = super().detail(now)
        record_id, sandbox_id = self.found or (None, None)
        return {**detail, "sandboxRecordId": record_id, "sandboxId": sandbox_id,
                "updatedAt": timestamptz(self.created),
                "runtime": {"provider": None, "runId": None}}  # markRunQueued never ran
