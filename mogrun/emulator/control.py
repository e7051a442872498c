"""``/_emulator/*``: the emulator's own control endpoints (no token, never logged):
read the request log, inject faults, list runs. Plain JSON, not the envelope.
Only this machine's clients may use them: a web page's request (a foreign
``Origin``) or a DNS-rebound name (a foreign ``Host``) is refused."""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from typing import Any
from urllib.parse import urlsplit

from mogrun.emulator.automation_seed import (
    AutomationSpec,
    add_automation,
    parse_automations,
    seed_keys,
)
from mogrun.emulator.durations import MAX_SECONDS, parse_seconds
from mogrun.emulator.faults import Fault, parse_faults
from mogrun.emulator.occupants import Occupants, occupy, parse_occupants, release
from mogrun.emulator.replies import Reply, Request, json_reply
from mogrun.emulator.state import State
from mogrun.emulator.validation import Invalid, parse_json_body
from mogrun.loopback import is_loopback_host


def handle_control(state: State, request: Request) -> Reply:
    """Answer a control request; unknown ones get 404 with the list of known ones."""
    refusal = foreign_caller(request)
    if refusal is not None:
        return json_reply(403, {"error": refusal})
    name = request.path.rstrip("/").split("/_emulator/", 1)[-1]  # one segment: no a/faults
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
    except (ValueError, OverflowError) as exc:  # OverflowError: a number past a double
        return json_reply(400, {"error": str(exc)})
    except (TypeError, AttributeError, KeyError) as exc:  # a field of the wrong type
        return json_reply(400, {"error": f"a field has the wrong type ({exc})"})


def foreign_caller(request: Request) -> str | None:
    """Why a control request comes from no client of this machine, or None. A
    browser sends ``Origin`` with a cross-site POST (a page's no-cors ``fetch``
    needs no preflight) and the page's own name as ``Host`` after DNS
    rebinding; a client of this machine sends neither so. A dotless ``Host``
    (``Host: x``, from raw sockets) passes: a rebinding needs a name in public
    DNS, which always has a dot."""
    origin = request.headers.get("origin")
    if origin is not None and not is_loopback_host(_host_name(origin, "")):
        return (f"refused: Origin {origin!r} is not loopback (the control endpoints "
                "take requests from this machine only)")
    host = request.headers.get("host")
    name = _host_name(host, "//") if host is not None else ""
    if host is not None and ("." in name or ":" in name) and not is_loopback_host(name):
        return (f"refused: Host {host!r} is not loopback (the control endpoints "
                "take requests from this machine only)")
    return None


def _host_name(text: str, prefix: str) -> str:
    """The host of an origin (``http://127.0.0.1:8765``) or of a ``Host`` value
    (``prefix`` ``//``); "" when it has none (``Origin: null``)."""
    try:
        return urlsplit(prefix + text).hostname or ""
    except ValueError:  # an unbalanced "[" or the like: no host at all
        return ""


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
        faults = parse_faults(_spec(body, "start:503x2"))
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
    """The body as the API reads one (nested past Python's parser, or an int of
    thousands of digits, included); ValueError when it is no JSON."""
    try:
        return parse_json_body(request.body)
    except Invalid as exc:
        raise ValueError(f"body must be JSON ({exc.message})") from None


def _spec(body: dict[str, Any], example: str) -> str:
    """A body's ``spec``: a string with at least one item, as the command line
    refuses an empty one (``str()`` made ``null`` an automation named "None")."""
    spec = body["spec"]
    if not isinstance(spec, str) or not spec.replace(",", " ").strip():
        raise ValueError(f'"spec" must be a non-empty string, such as "{example}"')
    return spec


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
        wanted = parse_occupants(_spec(body, "2@30s"))
    elif isinstance(body, dict):
        wanted = [Occupants.from_json(body)]
    elif isinstance(body, list) and all(isinstance(item, dict) for item in body):
        wanted = [Occupants.from_json(item) for item in body]
    else:
        raise ValueError('expected {"count", "busy", "repo"}, a list of them, or {"spec": "..."}')
    for occupants in wanted:  # all or nothing: every repo is checked first
        state.repo_named(occupants.repo)
    for occupants in wanted:
        occupy(state, occupants, time.time())
    return _sandboxes(state, request)


def _release(state: State, request: Request) -> list[dict[str, Any]]:
    release(state, time.time())
    return _sandboxes(state, request)


DEFAULT_PAUSING = 5.0  # seconds of ``pausing``: the server's lasts as its provider's stop


def _pause(state: State, request: Request) -> list[dict[str, Any]]:
    """Body: ``{"id": "<sandbox record id>", "pausing"?: seconds or "5s"}``."""
    body = _json(request)
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or (
            set(body) - {"id", "pausing"}):
        raise ValueError('expected {"id": "<sandbox record id>", "pausing"?: "5s"}')
    seconds = parse_seconds(body.get("pausing", DEFAULT_PAUSING))
    state.sandboxes.pause(body["id"], time.time(), seconds)
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
        wanted = parse_automations(_spec(body, "triage,draft:unpublished"))
    elif isinstance(body, dict):
        wanted = [AutomationSpec.from_json(body)]
    elif isinstance(body, list) and all(isinstance(item, dict) for item in body):
        wanted = [AutomationSpec.from_json(item) for item in body]
    else:
        raise ValueError('expected an automation object, a list of them, or {"spec": "..."}')
    for spec in wanted:  # all or nothing: every repo is checked first
        state.repo_named(spec.repo)
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
    made = seed_keys(state, keys, repo)  # all or nothing
    return [{"key": key, "jobRunId": run.id} for key, run in zip(keys, made, strict=True)]


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
    if not all(_job_cap(v) for v in body.values()):
        raise ValueError(f"job caps are finite numbers from 0 to {MAX_JOB_CAP:,} "
                         "(a year in seconds)")
    state.automations.caps = replace(state.automations.caps, **body)
    return asdict(state.automations.caps)


MAX_JOB_CAP = int(MAX_SECONDS)  # past any count or repair delay a test wants


def _job_cap(value: Any) -> bool:
    """A cap the emulator can count and date with: not inf (1e400, which JSON
    could not carry back), nor an int of 400 digits (a repair that far ahead
    overflowed the next trigger's date)."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and 0 <= value <= MAX_JOB_CAP)


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
    ("POST", "pause"): _pause,
    ("GET", "automations"): _automations,
    ("POST", "automations"): _add_automations,
    ("POST", "job-keys"): _take_job_keys,
    ("GET", "job-runs"): _job_runs,
    ("POST", "job-caps"): _job_caps,
}
