"""The AI calls and dispatch events of a job run, computed from wall-clock time.
AI calls come back raw, as on the server: unlike run events they are not
sanitised, so a scripted ``message`` reaches the client as written."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, TypeVar

from mogrun.emulator.stamps import timestamptz

if TYPE_CHECKING:
    from mogrun.emulator.jobruns import JobRun

N = TypeVar("N", int, float)

DEFERRED = "INSTALLATION_CONCURRENCY_LIMIT"  # the reason of a start the installation deferred


def _share(total: N, parts: int, k: int) -> N:
    """Part ``k`` (1..parts) of ``total`` split evenly, the last taking the rest, so
    the parts add up to it; a whole ``total`` in whole parts (each share rounded on
    its own made a script's tokens=7 come back 8 over two calls)."""
    each = total // parts if isinstance(total, int) else total / parts
    return total - each * (parts - 1) if k == parts else each


def ai_call(job: JobRun, k: int, now: float) -> dict[str, Any]:
    """The AI call of agent node ``k``: streaming, then done with usage and cost."""
    begin, end = job._node_times(k)
    calls = job.script.nodes - 1
    done = end is not None and now >= end
    state = job._step_status(k, now, end) if done else "streaming"
    total = _share(round(job.script.tokens), calls, k) if done else None
    call_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{job.id}/ai/{k}"))
    usage = _usage(total, _share(job.script.cost, calls, k))
    return {
        "id": call_id, "type": "agent", "model": job.script.model, "status": state,
        "error": job.script.error if state == "failed" else None,
        "control_state": "cancelled" if state == "cancelled" else "active",
        "cancel_requested_at": None, "job_run_id": job.id, "repo_id": job.repo["id"],
        "conversation_id": None, "metadata": {"node_id": f"agent-{k}"},
        "started_at": timestamptz(begin),
        "completed_at": timestamptz(end) if done and end else None,
        "duration_ms": round((end - begin) * 1000) if done and end else None,
        "tool_calls_count": 1 if _past(begin, end, now, 2 / 3) else 0,
        "tool_calls": [{"name": "edit_file", "input_preview": job.script.message or "edit"}]
        if _past(begin, end, now, 2 / 3) else [],
        **(usage if done else dict.fromkeys(usage)),
        "cost_source": "gateway" if done else None, "gateway_generation_id": None,
        "events": _events(job, call_id, begin, end, now, state),
    }


def _usage(total: int | None, cost: float) -> dict[str, Any]:
    tokens = total or 0
    return {"input_tokens": tokens * 3 // 4, "output_tokens": tokens - tokens * 3 // 4,
            "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0,
            "reasoning_tokens": 0, "total_tokens": tokens, "cost_usd": round(cost, 6)}


def _past(begin: float, end: float | None, now: float, fraction: float) -> bool:
    span = (end - begin) if end is not None else 1.0
    return now >= begin + span * fraction


def _events(job: JobRun, call_id: str, begin: float, end: float | None, now: float,
            state: str) -> list[dict[str, Any]]:
    steps = [(0.0, "started", None, "AI call started"),
             (1 / 3, "tool_started", "edit_file", "Running edit_file"),
             (1 / 2, "log", None, job.script.message or "Editing files"),
             (2 / 3, "tool_finished", "edit_file", "edit_file finished")]
    span = (end - begin) if end is not None else 1.0
    events = []
    for i, (fraction, kind, tool, message) in enumerate(steps):
        if now >= begin + span * fraction:
            events.append(_event(job, call_id, i, begin + span * fraction, kind, tool, message))
    if end is not None and now >= end:
        kind = {"success": "finished", "failed": "failed", "cancelled": "cancelled"}[state]
        events.append(_event(job, call_id, len(steps), end, kind, None, f"AI call {state}"))
    return events


def _event(job: JobRun, call_id: str, i: int, at: float, kind: str, tool: str | None,
           message: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{call_id}/{i}")), "ai_call_id": call_id,
            "user_id": job.user, "conversation_id": None, "repo_id": job.repo["id"],
            "event_type": kind, "tool_name": tool, "message": message,
            "payload": {"tool": tool} if tool else {}, "created_at": timestamptz(at)}


def dispatch_events(job: JobRun, now: float) -> list[dict[str, Any]]:
    """``enqueue``/``start``/``control`` events so far, oldest first, key reuses included."""
    found: list[tuple[float, str, str, str | None, dict[str, Any]]] = [
        (job.created, "enqueue", "queued", None, job.metadata)]
    if job.start_error is not None:
        outcome = "deferred" if job.start_source == "queue_release" else "start_failed"
        reason: str | None = DEFERRED if outcome == "deferred" else job.start_error
        found.append((job.created, "start", outcome, reason, {"start_source": "api"}))
    if job.start is not None and now >= job.start:
        found.append((job.start, "start", "started", None, {"start_source": job.start_source}))
    end = job.end()
    if end is not None and now >= end:
        outcome = {"success": "completed", "failed": "failed",
                   "cancelled": "cancelled"}[job.script.status]
        found.append((end, "control", outcome,
                      job.script.error if outcome == "failed" else None, {}))
    found += [(at, "enqueue", "suppressed", "IDEMPOTENT_DUPLICATE", {})
              for at in job.duplicates if at <= now]
    found.sort(key=lambda item: item[0])
    return [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{job.id}/dispatch/{i}/{e[1]}{e[2]}")),
             "event_kind": e[1], "outcome": e[2], "reason": e[3], "metadata": e[4],
             "created_at": timestamptz(e[0])} for i, e in enumerate(found)]
