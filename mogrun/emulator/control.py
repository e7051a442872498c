"""``/_emulator/*``: the emulator's own control endpoints (no token, never logged):
read the request log, inject faults, list runs. Plain JSON, not the envelope."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, replace
from typing import Any

from mogrun.emulator.automation_seed import (
    AutomationSpec,
    add_automation,
    parse_automations,
    seed_key,
)
from mogrun.emulator.faults import Fault, parse_faults
from mogrun.emulator.occupants import Occupants, occupy, parse_occupants, release
from mogrun.emulator.replies import Reply, Request, json_reply
from mogrun.emulator.state import State


def handle_control(state: State, request: Request) -> Reply:
    """Answer a control request; unknown ones get 404 with the list of known ones."""
    name = request.path.rstrip("/").rsplit("/", 1)[-1]
    route = _ROUTES.get((request.method, name))
    if route is None:
        allowed = sorted(m for m, n in _ROUTES if n == name)
        if allowed:  # a known endpoint, another method: as the API's own routes answer
            allow = ", ".join(allowed)
            return json_reply(405, {"error": f"{request.method} is not allowed here "
                                             f"(allowed: {allow})"}, {"Allow": allow})
        known = ", ".join(f"{m} /_emulator/{n}" for m, n in _ROUTES)
        return json_reply(404, {"error": f"unknown control endpoint; known: {known}"})
    try:
        with state.lock:
            return json_reply(200, route(state, request))
    except ValueError as exc:
        return json_reply(400, {"error": str(exc)})
    except (TypeError, AttributeError, KeyError) as exc:  # a field of the wrong type
        return json_reply(400, {"error": f"a field has the wrong type ({exc})"})


def _requests(state: State, request: Request) -> list[dict[str, Any]]:
    return [record.to_json() for record in state.log]


def _clear_requests(state: State, request: Request) -> list[dict[str, Any]]:
    state.log.clear()
    return []


def _faults(state: State, request: Request) -> list[dict[str, Any]]:
    return state.faults.pending()


def _add_faults(state: State, request: Request) -> list[dict[str, Any]]:
    """Body: a fault object, a list of them, or ``{"spec": "start:503x2,..."}``."""
    body = _json(request)
    if isinstance(body, dict) and set(body) == {"spec"}:
        faults = parse_faults(str(body["spec"]))
    elif isinstance(body, dict):
        faults = [Fault.from_json(body)]
    elif isinstance(body, list) and all(isinstance(item, dict) for item in body):
        faults = [Fault.from_json(item) for item in body]
    else:
        raise ValueError('expected a fault object, a list of them, or {"spec": "..."}')
    for fault in faults:
        state.faults.add(fault)
    return state.faults.pending()


def _json(request: Request) -> Any:
    try:
        return json.loads(request.body.decode("utf-8") or "null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"body must be JSON: {exc}") from exc


def _clear_faults(state: State, request: Request) -> list[dict[str, Any]]:
    state.faults.clear()
    return []


def _runs(state: State, request: Request) -> list[dict[str, Any]]:
    now = time.time()
    return [{"runId": run.id, "status": run.status(now), "repoId": run.spec.repo_id}
            for run in state.runs.values()]


def _sandboxes(state: State, request: Request) -> list[dict[str, Any]]:
    """Every sandbox of every user, with its ``user``."""
    now, sandboxes = time.time(), state.sandboxes
    return [{**s.as_json(now, sandboxes.policy, sandboxes.epoch), "user": s.user}
            for s in sandboxes.all]


def _occupy(state: State, request: Request) -> list[dict[str, Any]]:
    """Body: ``{"spec": "2@30s"}``, or ``{"count"?, "busy"?, "repo"?}``, or a list."""
    body = _json(request)
    if isinstance(body, dict) and set(body) == {"spec"}:
        wanted = parse_occupants(str(body["spec"]))
    elif isinstance(body, dict):
        wanted = [Occupants.from_json(body)]
    elif isinstance(body, list) and all(isinstance(item, dict) for item in body):
        wanted = [Occupants.from_json(item) for item in body]
    else:
        raise ValueError('expected {"count", "busy", "repo"}, a list of them, or {"spec": "..."}')
    for occupants in wanted:
        occupy(state, occupants, time.time())
    return _sandboxes(state, request)


def _release(state: State, request: Request) -> list[dict[str, Any]]:
    release(state, time.time())
    return _sandboxes(state, request)


def _automations(state: State, request: Request) -> list[dict[str, Any]]:
    """Every automation of every user, with its ``user`` and ``published``."""
    return [{**a.summary(), "user": a.user, "published": a.published, "script": a.script}
            for a in state.automations.automations.values()]


def _add_automations(state: State, request: Request) -> list[dict[str, Any]]:
    """Body: ``{"spec": "triage,fix:unpublished"}``, an automation object
    (``{"name", "published"?, "active"?, "script"?, "repo"?, "description"?}``) or a list."""
    body = _json(request)
    if isinstance(body, dict) and set(body) == {"spec"}:
        wanted = parse_automations(str(body["spec"]))
    elif isinstance(body, dict):
        wanted = [AutomationSpec.from_json(body)]
    elif isinstance(body, list) and all(isinstance(item, dict) for item in body):
        wanted = [AutomationSpec.from_json(item) for item in body]
    else:
        raise ValueError('expected an automation object, a list of them, or {"spec": "..."}')
    for spec in wanted:
        add_automation(state, spec)
    return _automations(state, request)


def _take_job_keys(state: State, request: Request) -> list[dict[str, Any]]:
    """Body: ``{"keys": ["k1", ...], "repo"?: "owner/name"}``: someone else uses them."""
    body = _json(request)
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError('expected {"keys": ["...", ...], "repo"?: "owner/name"}')
    repo = body.get("repo") if isinstance(body, dict) else None
    return [{"key": key, "jobRunId": seed_key(state, key, repo).id} for key in keys]


def _job_runs(state: State, request: Request) -> list[dict[str, Any]]:
    now = time.time()
    return [{"id": j.id, "automationId": j.automation_id, "user": j.user, "key": j.key,
             "status": j.status(now), "repoId": j.repo["id"]}
            for j in state.automations.jobs.values()]


def _job_caps(state: State, request: Request) -> dict[str, Any]:
    """Body: any of ``repo_pending``, ``installation_pending``, ``installation_running``,
    ``repair`` (seconds); the others keep their value."""
    body = _json(request)
    if not isinstance(body, dict) or set(body) - set(asdict(state.automations.caps)):
        raise ValueError(f"expected an object with {', '.join(asdict(state.automations.caps))}")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < math.inf
               for v in body.values()):  # nor inf (1e400): JSON could not carry it back
        raise ValueError("job caps are finite numbers, at least 0")
    state.automations.caps = replace(state.automations.caps, **body)
    return asdict(state.automations.caps)


_ROUTES = {
    ("GET", "requests"): _requests,
    ("DELETE", "requests"): _clear_requests,
    ("GET", "faults"): _faults,
    ("POST", "faults"): _add_faults,
    ("DELETE", "faults"): _clear_faults,
    ("GET", "runs"): _runs,
    ("GET", "sandboxes"): _sandboxes,
    ("POST", "sandboxes"): _occupy,
    ("DELETE", "sandboxes"): _release,
    ("GET", "automations"): _automations,
    ("POST", "automations"): _add_automations,
    ("POST", "job-keys"): _take_job_keys,
    ("GET", "job-runs"): _job_runs,
    ("POST", "job-caps"): _job_caps,
}
