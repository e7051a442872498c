"""A job run of an automation: its state, node runs, AI calls and dispatch events
are computed from wall-clock time (see automations.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from mogrun.emulator.aicalls import ai_call, dispatch_events
from mogrun.emulator.automations import TERMINAL, JobScript
from mogrun.emulator.runs import trigger_run_id
from mogrun.emulator.stamps import timestamptz

DEFERRED_TEXT = "Installation concurrency limit reached"
START_FAILED = "Trigger.dev runtime is not configured"
REPAIRABLE_AFTER = 120.0  # the repair cron restarts pending jobs at least 2 minutes old


@dataclass
class JobRun:
    """One ``job_runs`` row. ``start`` is when it starts running (None: never);
    ``start_source`` says who started it: api, queue_release or repair."""

    automation_id: str
    version_id: str | None
    user: str
    repo: dict[str, Any]
    key: str
    metadata: dict[str, Any]
    script: JobScript
    created: float
    start: float | None
    start_source: str = "api"
    start_error: str | None = None  # a deferred or failed first start attempt
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    runtime_id: str = field(default_factory=trigger_run_id)
    duplicates: list[float] = field(default_factory=list)  # times the key was reused

    # ---- time line -----------------------------------------------------------------

    def end(self) -> float | None:
        if self.start is None or self.script.duration is None:
            return None
        return self.start + self.script.duration

    def status(self, now: float) -> str:
        end = self.end()
        if end is not None and now >= end:
            return self.script.status
        return "running" if self.start is not None and now >= self.start else "pending"

    def active(self, now: float) -> bool:
        return self.status(now) not in TERMINAL

    def _span(self) -> float:
        return (self.script.duration or float(self.script.nodes)) / self.script.nodes

    def _node_times(self, k: int) -> tuple[float, float | None]:
        assert self.start is not None
        begin = self.start + k * self._span()
        last = k == self.script.nodes - 1
        return begin, (self.end() if last else begin + self._span())

    # ---- views -----------------------------------------------------------------------

    def summary(self, now: float) -> dict[str, Any]:
        """AutomationRunSummary, as the runs list shows it."""
        state = self.status(now)
        return {
            "id": self.id, "assignment_id": None, "trigger_id": None,
            "flow_id": self.automation_id, "flow_version_id": self.version_id,
            **self._timing(now, state), **self._start_fields(now), **self._ending(state),
            "retry_of_job_run_id": None, "status": state, "metadata": self.metadata,
            "source_kind": "flow", "source_type": self.metadata.get("source_type", "flow"),
            "repo": {"id": self.repo["id"], "full_name": self.repo["full_name"]},
            "agent": {"id": None, "name": None, "slug": None}, "cost_usd": None,
            "latest_ai_call": None,
            "repairable": state == "pending" and now - self.created >= REPAIRABLE_AFTER,
            "requeueable": state == "failed",
            "cancelable": state in ("pending", "running"), "active_wait_count": 0,
            "latest_dispatch_event": next(reversed(self.dispatch_events(now)), None),
            "node_runs": self.node_runs(now),
        }

    def _timing(self, now: float, state: str) -> dict[str, Any]:
        """Times, duration and token totals (written on success only, as on the server)."""
        end, start = self.end(), self.start
        done = state in TERMINAL and end is not None and start is not None
        calls = self.ai_calls(now) if state == "success" else []
        return {
            "created_at": timestamptz(self.created),
            "started_at": timestamptz(start) if start is not None and now >= start else None,
            "completed_at": timestamptz(end) if done and end is not None else None,
            "duration_ms": round((end - start) * 1000)
            if done and end is not None and start is not None else None,
            "input_tokens": _total(calls, "input_tokens") if state == "success" else None,
            "output_tokens": _total(calls, "output_tokens") if state == "success" else None,
        }

    def _start_fields(self, now: float) -> dict[str, Any]:
        """Who started it, how often, and why an attempt did not start it."""
        started = self.start is not None and now >= self.start
        attempt = self.start if started and self.start is not None \
            and self.start_source != "queue_release" else self.created
        return {
            "runtime_provider": "trigger" if started else None,
            "runtime_run_id": self.runtime_id if started else None, "workflow_run_id": None,
            "start_attempts": 1 + (self.start_source == "repair" and started),
            "last_start_attempt_at": timestamptz(attempt),
            "last_start_error": None if started else self.start_error,
            "last_start_source": self.start_source if started else "api",
        }

    def _ending(self, state: str) -> dict[str, Any]:
        end = self.end()
        cancelled = state == "cancelled" and end is not None
        return {
            "error": (self.script.error or "AGENT_FAILED") if state == "failed" else None,
            "cancel_requested_at": timestamptz(end) if cancelled and end is not None else None,
            "cancelled_at": timestamptz(end) if cancelled and end is not None else None,
            "cancel_reason": "USER_REQUESTED" if cancelled else None, "cancel_error": None,
        }

    def detail(self, now: float) -> dict[str, Any]:
        """AutomationRunDetail, as ``GET /automations/{id}/runs/{runId}`` returns it."""
        calls = self.ai_calls(now)
        latest = max(calls, key=lambda c: c["started_at"], default=None)
        return {**self.summary(now), "dispatch_events": self.dispatch_events(now),
                "ai_calls": calls, "review_findings": [], "waits": [],
                "latest_ai_call": None if latest is None else {
                    k: latest[k] for k in ("id", "status", "model", "total_tokens",
                                           "tool_calls_count", "started_at")}}

    def node_runs(self, now: float) -> list[dict[str, Any]]:
        runs = []
        for k in range(self.script.nodes if self.start is not None else 0):
            begin, end = self._node_times(k)
            if now < begin:
                break
            state = self._step_status(k, now, end)
            runs.append({
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.id}/node/{k}")),
                "user_id": self.user, "job_run_id": self.id, "flow_id": self.automation_id,
                "flow_version_id": self.version_id, "node_id": "start" if k == 0 else f"agent-{k}",
                "node_type": "start" if k == 0 else "agent",
                "node_label": "Start" if k == 0 else f"Agent step {k}", "status": state,
                "started_at": timestamptz(begin),
                "completed_at": timestamptz(end)
                if state != "running" and end is not None else None,
                "duration_ms": round((end - begin) * 1000)
                if state != "running" and end is not None else None,
                "error": self.script.error if state == "failed" else None,
                "output": {"ok": state == "success"} if state != "running" else None,
                "created_at": timestamptz(begin)})
        return runs

    def _step_status(self, k: int, now: float, end: float | None) -> str:
        if end is None or now < end:
            return "running"
        last = k == self.script.nodes - 1
        return self.script.status if last else "success"

    def ai_calls(self, now: float) -> list[dict[str, Any]]:
        """One AI call per agent node, with usage and cost once it has ended."""
        return [ai_call(self, k, now) for k in range(1, self.script.nodes)
                if self.start is not None and now >= self._node_times(k)[0]]

    def dispatch_events(self, now: float) -> list[dict[str, Any]]:
        return dispatch_events(self, now)


def _total(calls: list[dict[str, Any]], name: str) -> int:
    return sum(call[name] or 0 for call in calls)
