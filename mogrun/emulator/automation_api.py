"""The automation endpoints a client uses: list (cursor), get, trigger, runs
list and run detail — with the server's checks in the server's order, its
error mapping, and faults (``trigger:500_after_commit``: the job run exists)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mogrun.emulator.automations import Automation, script_for
from mogrun.emulator.directives import DirectiveError
from mogrun.emulator.faults import Fault
from mogrun.emulator.replies import (
    Reply,
    Request,
    as_javascript_keeps,
    error,
    js_trim,
    list_limit,
    ok,
)
from mogrun.emulator.stamps import stored
from mogrun.emulator.state import Token
from mogrun.emulator.validation import (
    UUID,
    Invalid,
    idempotency_key,
    parse_json_body,
    require_uuid,
)

if TYPE_CHECKING:
    from mogrun.emulator.app import Api

RESERVED = ("source", "source_type", "dispatch_source", "flow_id", "flow_version_id",
            "repo_id", "repo_full_name", "installation_id", "default_branch")


def _owned(api: Api, automation_id: str, token: Token, fallback: str) -> Automation:
    """The caller's automation, loaded as the server loads it (``loadOwnedFlow``,
    which repairs its row first). A non-UUID id fails the Postgres cast: 500; a
    UUID in capitals is the same UUID (the column gives it back in lower case)."""
    require_uuid(automation_id, fallback)
    automation = api.state.automations.automations.get(automation_id.lower())
    if automation is None or automation.user != token.user:
        raise Invalid(404, "NOT_FOUND", "Automation not found")
    automation.repair(api.clock())
    return automation


def list_automations(api: Api, request: Request, parts: list[str], token: Token,
                     fault: Fault | None) -> Reply:
    """``created_at DESC, id DESC``; ``nextCursor`` only when more rows exist."""
    limit = list_limit(request, default=50, most=100)
    rows = sorted((a for a in api.state.automations.automations.values()
                   if a.user == token.user), key=_place, reverse=True)
    after = _cursor(request)
    if after is not None:
        rows = [a for a in rows if _place(a) < after]
    page, more = rows[:limit], len(rows) > limit
    cursor = _encode(page[-1]) if more and page else None
    return ok({"automations": [a.summary() for a in page], "nextCursor": cursor})


def _place(automation: Automation) -> tuple[float, str]:
    """Where an automation sorts: its ``created_at`` as the column keeps it (to
    the microsecond, as listed and as a cursor carries it), then its id. By the
    exact time instead, a row whose time rounds up to the cursor's microsecond
    sorted before its own cursor and came again on the next page."""
    return stored(automation.created), automation.id


def _encode(automation: Automation) -> str:
    text = json.dumps({"createdAt": automation.summary()["createdAt"], "id": automation.id})
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# automations.types.ts: ISO_CURSOR_DATE_PATTERN (its \d is ASCII, and $ is the end).
_CURSOR_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                          r"(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/_-]")


def _cursor(request: Request) -> tuple[float, str] | None:
    """``parseMogplexApiAutomationCursor`` on the raw parameter (never trimmed: a
    blank one is no first page but a cursor that decodes to nothing, 400).
    ``Buffer.from(raw, "base64url")`` skips what is not of the alphabet (spaces
    included); the JSON must hold a ``createdAt`` of the ISO pattern that
    JavaScript's Date reads, and a UUID ``id``."""
    values = request.query.get("cursor")
    raw = values[0] if values else ""
    if not raw:
        return None
    text = _NOT_BASE64.sub("", raw)
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
                          .decode("utf-8", "replace"), parse_constant=_not_json)
        created, found = data["createdAt"], data["id"]
        if not isinstance(found, str) or not UUID.fullmatch(found):
            raise ValueError("not a uuid")
        moment = _cursor_moment(created)
    # RecursionError: JSON nested deeper than Python's parser goes (a cursor of "[[[...")
    except (ValueError, KeyError, TypeError, IndexError, RecursionError, binascii.Error):
        raise Invalid(400, "BAD_REQUEST", "Invalid cursor") from None
    return moment, found.lower()  # Postgres compares UUIDs, not their text


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # JSON.parse has no NaN or Infinity


def _cursor_moment(stamp: Any) -> float:
    """The cursor's ``createdAt``: ValueError unless it matches the server's pattern
    (ASCII digits, a zone) and is a real moment (a February 31 is refused as the
    cursor, a guess at the server's outcome: its Date and Postgres disagree there)."""
    if not isinstance(stamp, str) or _CURSOR_DATE.fullmatch(stamp) is None:
        raise ValueError("not an ISO date")
    return datetime.fromisoformat(stamp).timestamp()


def get_automation(api: Api, request: Request, parts: list[str], token: Token,
                   fault: Fault | None) -> Reply:
    automation = _owned(api, parts[1], token, "Failed to load automation")
    return ok({"automation": automation.detail()})


def trigger(api: Api, request: Request, parts: list[str], token: Token,
            fault: Fault | None) -> Reply:
    """Checks 3-11 of the trigger handler, in order; 202 with the TriggerResult."""
    key, body = idempotency_key(request.headers.get("idempotency-key")), _body(request)
    job_input = body.get("input", {})
    if not isinstance(job_input, dict):
        raise Invalid(400, "BAD_REQUEST", "input must be an object")
    automation = _owned(api, parts[1], token, "Failed to trigger automation")
    if not automation.published:
        raise Invalid(409, "CONFLICT", "Publish the automation before triggering it")
    if not automation.active:
        raise Invalid(409, "CONFLICT", "Activate the automation before triggering it")
    # The repos query casts repoId to a UUID: any other string fails it in Postgres,
    # and the handler answers its 500 (a UUID in capitals is the same UUID).
    repo_id = js_trim(str(body["repoId"]))
    require_uuid(repo_id, "Failed to trigger automation")
    repo = api.state.repos.get(repo_id.lower())
    if repo is None:
        raise Invalid(404, "NOT_FOUND", "Repository not found")
    if repo["installation_id"] != automation.installation_id:
        raise Invalid(400, "BAD_REQUEST",
                      "Repository is outside this automation's GitHub installation")
    try:
        script = script_for(automation.script, job_input, api.state.job_script)
    except DirectiveError as exc:
        raise Invalid(400, "BAD_REQUEST", str(exc)) from exc
    failing = fault is not None and fault.kind == "500_after_commit"
    done = api.state.automations.enqueue(automation, repo, key, _metadata(job_input, automation,
                                         repo), script, token.user, api.clock(),
                                         fail_start=failing)
    if done.failed_start:
        return error(500, "INTERNAL_ERROR", "Failed to trigger automation")
    return ok({"run": _result(automation, done, api.clock())}, 202)


def _body(request: Request) -> dict[str, Any]:
    try:  # ``await request.json().catch(() => null)``: POST /runs's reader, failure as null
        body = parse_json_body(request.body)
    except Invalid:
        body = None
    repo_id = body.get("repoId") if isinstance(body, dict) else None
    if not isinstance(repo_id, str) or not js_trim(repo_id):
        raise Invalid(400, "BAD_REQUEST", "repoId is required")
    assert isinstance(body, dict)
    return body


def _metadata(job_input: dict[str, Any], automation: Automation,
              repo: dict[str, Any]) -> dict[str, Any]:
    """The input (its numbers as JavaScript keeps them), then the keys the server
    sets over any caller value."""
    return {**as_javascript_keeps(job_input), "source": "mcp", "source_type": "flow",
            "dispatch_source": "mcp",
            "flow_id": automation.id, "flow_version_id": automation.version_id,
            "repo_id": repo["id"], "repo_full_name": repo["full_name"],
            "installation_id": repo["installation_id"],
            "default_branch": repo["default_branch"]}


def _result(automation: Automation, done: Any, now: float) -> dict[str, Any]:
    job = done.job
    result = {"automationId": automation.id, "jobRunId": job.id if job else None,
              "outcome": done.outcome, "reason": done.reason, "started": False,
              "status": "suppressed", "runtime": None}
    if done.outcome == "queued":
        started = job.status(now) == "running"
        result.update(started=started, status="running" if started else "pending",
                      runtime={"provider": "trigger" if started else None,
                               "runId": job.runtime_id if started else None})
    return result


def list_runs(api: Api, request: Request, parts: list[str], token: Token,
              fault: Fault | None) -> Reply:
    automation = _owned(api, parts[1], token, "Failed to list automation runs")
    now = api.clock()
    jobs = sorted((j for j in api.state.automations.jobs.values()
                   if j.automation_id == automation.id), key=lambda j: j.created, reverse=True)
    limit = list_limit(request, default=20, most=50)
    return ok({"runs": [j.summary(now) for j in jobs[:limit]]})


def get_run(api: Api, request: Request, parts: list[str], token: Token,
            fault: Fault | None) -> Reply:
    automation = _owned(api, parts[1], token, "Failed to load automation run logs")
    require_uuid(parts[3], "Failed to load automation run logs")
    job = api.state.automations.jobs.get(parts[3].lower())
    if job is None or job.automation_id != automation.id:
        raise Invalid(404, "NOT_FOUND", "Run not found")
    return ok({"run": job.detail(api.clock())})
