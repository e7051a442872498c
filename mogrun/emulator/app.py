"""The API's behaviour, independent of the socket: a ``Request`` in, a ``Reply``
out. Order of checks follows the server: route, token, rate limit, scope, then
each handler's own (``POST /runs``: key, JSON, start limit, body, idempotency;
``POST /sandboxes``: body, repo, branches and root, reuse, boot limits). A body
the HTTP layer left unread is 400 where the handler reads it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from mogrun.emulator import automation_api
from mogrun.emulator.directives import DirectiveError, parse_script
from mogrun.emulator.faults import Fault, endpoint_of
from mogrun.emulator.limits import retry_after_header
from mogrun.emulator.placement import create_run, create_unqueued_run, place
from mogrun.emulator.replies import (
    Reply,
    Request,
    UnreadBody,
    error,
    js_trim,
    list_limit,
    no_route,
    ok,
    param,
    uncaught,
)
from mogrun.emulator.runs import NOT_READY, Run, StartSpec
from mogrun.emulator.state import RequestRecord, State, Token
from mogrun.emulator.validation import (
    UUID,
    Invalid,
    derived_branch,
    idempotency_key,
    is_valid_ref,
    launch_body,
    launch_failure,
    launch_target,
    parse_json_body,
    request_hash,
    require_uuid,
    start_spec,
)

API_PREFIX = "/api/v1/mogplex"
CONTROL_PREFIX = "/_emulator"
MCP_RESOURCE_METADATA = "/.well-known/oauth-protected-resource/api/v1/mogplex/mcp"
# The methods a Next.js route module can export (its HTTP_METHODS).
NEXT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH"})


class Api:
    """Routes and answers API requests against a ``State``."""

    def __init__(self, state: State, api_url: Callable[[], str],
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 on_record: Callable[[RequestRecord], None] | None = None) -> None:
        self.state = state
        self.on_record = on_record
        self.api_url = api_url
        self.clock = clock
        self.sleep = sleep

    def handle(self, request: Request) -> Reply:
        """Answer one API request and record it in the log."""
        now = self.clock()
        parts = request.path[len(API_PREFIX):].strip("/").split("/")
        fault: Fault | None = None
        if request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/"):
            with self.state.lock:
                fault = self.state.faults.take(endpoint_of(request.method, parts))
            reply = self._faulted(request, parts, fault)
        else:
            reply = no_route()
        if fault is not None:
            reply = replace(reply, fault=fault.kind)
        self._record(request, reply, now)
        return reply

    def _faulted(self, request: Request, parts: list[str], fault: Fault | None) -> Reply:
        if fault is None:
            return self._route(request, parts, None)
        if fault.kind == "delay":
            self.sleep(1.0 if fault.delay is None else fault.delay)
            return _with_retry_after(self._route(request, parts, None), fault)
        if fault.kind in ("drop_after_commit", "conflict", "not_ready", "changed",
                          "500_after_commit") or (
                fault.kind in START_ROUTE_FAULTS
                and endpoint_of(request.method, parts) == "start"):
            reply = self._route(request, parts, fault)
            return replace(reply, action="drop") if fault.kind == "drop_after_commit" else reply
        return fault_reply(fault)

    def _record(self, request: Request, reply: Reply, now: float) -> None:
        key = request.headers.get("idempotency-key")
        status = 0 if reply.action == "drop" else reply.status
        record = RequestRecord(request.method, request.path, status, now,
                               js_trim(key) if key is not None else None,
                               request.raw_query, reply.fault)
        with self.state.lock:
            self.state.log.append(record)
        if self.on_record is not None:
            self.on_record(record)

    def _route(self, request: Request, parts: list[str], fault: Fault | None) -> Reply:
        target = _ROUTES.get(_shape(parts))
        if target is None:
            return no_route()
        allow = _allowed(target)
        handler = target.get(request.method)
        if handler is None and "GET" in target:  # what Next.js implements for a route
            if request.method == "OPTIONS":      # module: before any check, no token needed
                return Reply(204, headers={"Allow": allow})
            if request.method == "HEAD":  # the GET handler itself; the wire drops the body
                handler = target["GET"]
        if handler is None:
            # Next.js answers these itself, before any code of the route: a method the
            # route does not export with a bare 405 (no body, no Allow), one that is
            # no HTTP method it knows (BREW) with a bare 400.
            return Reply(405 if request.method in NEXT_METHODS else 400)
        scope, method = handler
        with self.state.lock:
            token_or_reply = self._authorise(request, scope)
            if isinstance(token_or_reply, Reply):
                return token_or_reply
            try:
                return method(self, request, parts, token_or_reply, fault)
            except Invalid as exc:
                return error(exc.status, exc.code, exc.message)
            except UnreadBody as exc:  # the emulator's own limit (the server's code has none)
                return error(400, "BAD_REQUEST", str(exc))

    def _authorise(self, request: Request, scope: str | None) -> Token | Reply:
        """The server's ``resolveMogplexApiUser``: ``Bearer mog_...`` exactly (the
        rest is an OAuth token, which the emulator has none of), one 401 for every
        refusal (with the OAuth challenge), and the per-key limit after the token is
        known: its 429 always says to retry after the window, as the server's does."""
        header = request.headers.get("authorization", "")
        secret = header[len("Bearer "):] if header.startswith("Bearer mog_") else ""
        token = self.state.tokens.get(secret) if secret else None
        if token is None:
            return error(401, "UNAUTHORIZED", "Unauthorized",
                         {"WWW-Authenticate": self._bearer_challenge()})
        window = self.state.limiter.request_window(secret, self.clock())
        if window is not None:
            return error(429, "RATE_LIMITED", f"Rate limit exceeded. Retry after {window}s.",
                         {"Retry-After": window})
        if scope is not None and scope not in token.scopes:
            return error(403, "FORBIDDEN", f"Missing required scope: {scope}. Issue a new "
                         f"token with the '{scope}' scope at /settings/api-keys.")
        return token

    def _bearer_challenge(self) -> str:
        """The server's ``buildMogplexMcpBearerChallenge``: where an OAuth client
        finds the MCP resource's metadata, on the app's own origin (here, the
        emulator's; the emulator does not serve that document)."""
        origin = self.api_url().removesuffix(API_PREFIX)
        return f'Bearer resource_metadata="{origin}{MCP_RESOURCE_METADATA}"'

    # ---- endpoints (called with the lock held) ---------------------------------

    def list_repos(self, request: Request, parts: list[str], token: Token,
                   fault: Fault | None) -> Reply:
        """``?id=`` selects one repo exactly (and wins over ``q``), as on the server."""
        q, wanted = param(request, "q"), param(request, "id")
        repos = sorted(self.state.repos.values(), key=lambda r: r["full_name"])
        if wanted is not None:
            repos = [r for r in repos if r["id"] == wanted.lower()]  # UUIDs, in any case
        elif q is not None:
            pattern = ilike_contains(q)
            if pattern is None:  # Postgres refuses the pattern; the handler answers 500
                return error(500, "INTERNAL_ERROR", "Failed to list repos")
            repos = [r for r in repos if pattern.search(r["full_name"])]
        return ok({"repos": [dict(r) for r in repos[:list_limit(request)]]})

    def list_sandboxes(self, request: Request, parts: list[str], token: Token,
                       fault: Fault | None) -> Reply:
        """``repo_id`` filters on the server's UUID column: in any case, and any
        other string fails the query (its 500: the route does not guard it, as
        the repos route does)."""
        repo_id = param(request, "repo_id")
        if repo_id is not None:
            require_uuid(repo_id, "Failed to list sandboxes")
        return ok({"sandboxes": self.state.sandboxes.listing(
            token.user, self.clock(), repo_id=repo_id and repo_id.lower(),
            status=param(request, "status"), limit=list_limit(request))})

    def launch_sandbox(self, request: Request, parts: list[str], token: Token,
                       fault: Fault | None) -> Reply:
        """The public route reads the body (400 ``repoId is required``), then hands
        it to the server's sandbox launch: repo (404), branches and root (400),
        the newest active sandbox of the triple if there is one, else a boot if
        the cap and boot windows allow (else 429, without ``Retry-After``: the
        route passes on only the launch's status and text). 202 ``{"sandbox"}``.

        The server answers a boot only once the launch's event stream has ended,
        with the sandbox ``running``; the emulator boots it at once (no wait)."""
        triple, base = launch_target(launch_body(request.body), self.state.repos)
        now = self.clock()
        placed = place(self.state, token.user, triple, base, now, boot=0.0)
        if isinstance(placed, str):
            raise launch_failure(429, placed)
        return ok({"sandbox": self.state.sandboxes.row(placed.sandbox, now)}, 202)

    def start_run(self, request: Request, parts: list[str], token: Token,
                  fault: Fault | None) -> Reply:
        """The handler's order: key (400), JSON (400), start limit (429; its slot is
        not refunded), body (400/404), idempotency (409 or replay), create. The limit
        is asked with the body's repoId cast to a UUID: a string that is not one fails
        that query, and the handler answers 503 (its "limit unavailable").

        Any JSON value passes the JSON check. The handler reads ``body.repoId`` off
        it: a ``null`` body throws there (Next.js's bare 500, before the limit); on
        an array, a string, a number or a boolean it is undefined, so such a body
        takes a start slot and is then 400 ``repoId is required``.

        ``500_after_commit`` (the queue throws) changes only the last step: the run
        is stored failed with its key, and the answer is the route's 500. Every
        earlier answer, a replay included, is as without it (the fault is used up)."""
        key = idempotency_key(request.headers.get("idempotency-key"))
        parsed = parse_json_body(request.body)
        if parsed is None:
            return uncaught()
        body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        repo_id = body.get("repoId")
        if isinstance(repo_id, str) and not UUID.fullmatch(js_trim(repo_id)):
            return error(503, "SERVICE_UNAVAILABLE", "External Mogplex run rate limit unavailable",
                         {"Retry-After": "60"})
        now = self.clock()
        if fault is not None and fault.kind in ("503", "429"):
            return _start_fault(fault)  # the route's own answer, and no slot taken
        wait, window = self.state.limiter.take_start(f"{token.user}:{_secret(request)}", now)
        if wait > 0:
            return _start_refused(wait, window)
        if fault is not None and fault.kind == "500":
            return _with_retry_after(_queue_failed(), fault)  # it threw, nothing stored
        spec = normalised(start_spec(body, self.state.repos), key)
        digest = request_hash(spec)
        known = self.state.keys.get((token.user, key))
        if known is not None:
            if known[0] != digest:
                raise Invalid(409, "IDEMPOTENCY_CONFLICT",
                              "Idempotency key already used for a different request")
            run = self.state.runs[known[1]]
            return ok({**run.detail(now), "replayed": True}, 202)
        try:
            script = parse_script(spec.prompt, self.state.default_script)
        except DirectiveError as exc:
            raise Invalid(400, "BAD_REQUEST", str(exc)) from exc
        unqueued = fault is not None and fault.kind == "500_after_commit"
        create = create_unqueued_run if unqueued else create_run
        run = create(self.state, spec, script, token.user, now, self.api_url())
        self.state.keys[(token.user, key)] = (digest, run.id)
        if unqueued:
            return _queue_failed()
        return ok({**run.detail(now), "replayed": False}, 202)

    def _run(self, parts: list[str], token: Token, failed: str) -> Run:
        """The token's run; 404 when there is none. An id that is not a UUID fails
        the server's query on its UUID column: the handler answers 500 ``failed``."""
        require_uuid(parts[1], failed)
        run = self.state.runs.get(parts[1].lower())
        if run is None or run.user != token.user:
            raise Invalid(404, "NOT_FOUND", "Run not found")
        return run

    def get_run(self, request: Request, parts: list[str], token: Token,
                fault: Fault | None) -> Reply:
        return ok({"run": self._run(parts, token, "Failed to load run").detail(self.clock())})

    def get_events(self, request: Request, parts: list[str], token: Token,
                   fault: Fault | None) -> Reply:
        run = self._run(parts, token, "Failed to list events")
        limit, now = list_limit(request), self.clock()
        return ok({"run": run.detail(now), "events": run.events(now, limit)})

    def cancel_run(self, request: Request, parts: list[str], token: Token,
                   fault: Fault | None) -> Reply:
        run, now = self._run(parts, token, "Failed to cancel run"), self.clock()
        if fault is not None and fault.kind == "conflict":
            # The agent's call ended between the server's read and its update; the
            # run's row is brought up to date a moment later (the cancel does not).
            if not run.is_terminal(now):
                run.end_by(now + CONFLICT_ROW_LAG)
            return error(409, "CONFLICT", "Run is no longer active")
        if fault is not None and fault.kind == "not_ready" and not run.is_terminal(now):
            # The server asked for the cancel, then could not reach the sandbox to kill
            # the agent's command: the run goes on.
            return error(409, "CONFLICT", NOT_READY)
        if fault is not None and fault.kind == "changed" and not run.is_terminal(now):
            # The newest server's compare-and-set lost to another write: nothing done.
            return error(409, "CONFLICT", "Run state changed; retry cancellation")
        terminal = run.is_terminal(now)
        if not terminal:
            run.cancel(now)
        detail = run.detail(now)
        return ok({"run": detail, "status": detail["status"], "alreadyTerminal": terminal})


# Seconds a run that won the race with a cancel (the ``conflict`` fault) still
# reads as active: the server ends the agent's call first and updates the run's row
# after it (``finalizeHarnessPass``), and the cancel's 409 path does not sync it.
CONFLICT_ROW_LAG = 0.4


# Injected into POST /runs where the route answers them itself, after the token,
# scope, Idempotency-Key and JSON checks: its limiter unavailable (503), refusing
# (429), or the start throwing (500).
START_ROUTE_FAULTS = ("503", "429", "500")


def _start_fault(fault: Fault) -> Reply:
    """The route's ``toRateLimitUnavailableResponse`` (503) word for word, or
    ``toRateLimitResponse`` (429; its message says it was injected, which a client's
    tests read, as for every other injected 429). ``Retry-After`` is the fault's
    (default 1 s, so tests stay quick; the route's 503 says 60: ``start:503@60``)."""
    retry = _seconds(fault.retry_after if fault.retry_after is not None else 1.0)
    if fault.kind == "503":
        return error(503, "SERVICE_UNAVAILABLE", "External Mogplex run rate limit unavailable",
                     {"Retry-After": retry})
    return error(429, "RATE_LIMITED", _FAULT_ERRORS["429"][2], {"Retry-After": retry})


def _queue_failed() -> Reply:
    """The route's answer when ``startMogplexApiRun`` throws a plain error (here,
    the queue's, after the run was stored and failed): ``toRunErrorResponse``
    hides it behind one 500, so the client learns the run's fate only by asking
    again with the same key (the replay of the failed run)."""
    return error(500, "INTERNAL_ERROR", "Failed to start run")


def _start_refused(wait: float, window: float) -> Reply:
    """The server's 429 for a start: the daily window has its own message."""
    message = ("Daily external Mogplex run quota exceeded" if window >= 86400
               else "External Mogplex run rate limit exceeded")
    return error(429, "RATE_LIMITED", message, {"Retry-After": retry_after_header(wait)})


def normalised(spec: StartSpec, key: str) -> StartSpec:
    """The working branch filled in as the server does: the one sent, else with
    ``createBranch`` one derived from the key and the rest of the request, else
    the base branch; then checked (400)."""
    working = spec.working_branch
    if working is None:
        working = (derived_branch(key, request_hash(spec)) if spec.create_branch
                   else spec.base_branch)
    if not is_valid_ref(working):
        raise Invalid(400, "BAD_REQUEST", "Invalid working branch")
    if spec.create_branch and working == spec.base_branch:
        raise Invalid(400, "BAD_REQUEST",
                      "Working branch must differ from base branch when createBranch is true")
    return replace(spec, working_branch=working)


def _secret(request: Request) -> str:
    """The bearer token of an authorised request (never logged)."""
    return request.headers.get("authorization", "").partition(" ")[2].strip()


def _shape(parts: list[str]) -> tuple[str, ...]:
    """The route pattern of a path: run, automation and job run ids become ``{id}``."""
    shape = list(parts)
    if len(parts) >= 2 and parts[0] in ("runs", "automations") and parts[1]:
        shape[1] = "{id}"
    if len(parts) == 4 and parts[0] == "automations" and parts[2] == "runs" and parts[3]:
        shape[3] = "{id}"
    return tuple(shape)


def _allowed(target: Mapping[str, object]) -> str:
    """A route's ``Allow``: its methods, and where it has GET, the HEAD and OPTIONS
    Next.js answers for it (HEAD by the GET handler, OPTIONS with a 204)."""
    extra = {"HEAD", "OPTIONS"} if "GET" in target else set()
    return ", ".join(sorted({*target, *extra}))


_ROUTES: dict[tuple[str, ...], dict[str, tuple[str | None, Callable[..., Reply]]]] = {
    # The server's repos, sandboxes and run GETs check no scope; its automation GETs do.
    ("repos",): {"GET": (None, Api.list_repos)},
    ("sandboxes",): {"GET": (None, Api.list_sandboxes), "POST": ("write", Api.launch_sandbox)},
    ("runs",): {"POST": ("write", Api.start_run)},
    ("runs", "{id}"): {"GET": (None, Api.get_run)},
    ("runs", "{id}", "events"): {"GET": (None, Api.get_events)},
    ("runs", "{id}", "cancel"): {"POST": ("write", Api.cancel_run)},
    ("automations",): {"GET": ("read", automation_api.list_automations)},
    ("automations", "{id}"): {"GET": ("read", automation_api.get_automation)},
    ("automations", "{id}", "trigger"): {"POST": ("write", automation_api.trigger)},
    ("automations", "{id}", "runs"): {"GET": ("read", automation_api.list_runs)},
    ("automations", "{id}", "runs", "{id}"): {"GET": ("read", automation_api.get_run)},
}


def _with_retry_after(reply: Reply, fault: Fault) -> Reply:
    if fault.retry_after is None:
        return reply
    return replace(reply, headers={**reply.headers, "Retry-After": _seconds(fault.retry_after)})


def _seconds(value: float) -> str:
    return retry_after_header(value) if value > 0 else "0"


_FAULT_ERRORS = {
    "500": (500, "INTERNAL_ERROR", "Internal server error (injected)"),
    "502": (502, "BAD_GATEWAY", "Bad gateway (injected)"),
    "503": (503, "SERVICE_UNAVAILABLE", "Service unavailable (injected)"),
    "504": (504, "GATEWAY_TIMEOUT", "Gateway timeout (injected)"),
    "429": (429, "RATE_LIMITED", "Too many requests (injected)"),
}
HTML_PAGE = (b"<html><head><title>502 Bad Gateway</title></head><body>"
             b"<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>"
             b"</body></html>\n")


def fault_reply(fault: Fault) -> Reply:
    """The answer an injected fault gives instead of the API's."""
    if fault.kind in _FAULT_ERRORS:
        status, code, message = _FAULT_ERRORS[fault.kind]
        retry = fault.retry_after if fault.retry_after is not None else (
            1.0 if fault.kind in ("429", "503") else None)
        headers = {"Retry-After": _seconds(retry)} if retry is not None else {}
        return error(status, code, message, headers)
    if fault.kind == "html":
        return _with_retry_after(Reply(502, HTML_PAGE, {"Content-Type": "text/html"}), fault)
    if fault.kind == "empty":
        return _with_retry_after(Reply(200, b"", {"Content-Type": "application/json"}), fault)
    if fault.kind == "truncated":
        body = ok({"note": "this body is cut in half", "padding": "x" * 40}).body
        return _with_retry_after(
            Reply(200, body[: len(body) // 2], {"Content-Type": "application/json"}), fault)
    return Reply(0, action="drop")  # "drop"


def ilike_contains(q: str) -> re.Pattern[str] | None:
    """The server's ``full_name ILIKE '%q%'`` with ``q`` unescaped, as a regex:
    ``%`` (and ``*``, PostgREST's alias for it) matches any run of characters,
    ``_`` any one, a backslash makes the next one literal, case is ignored.
    ``None`` for a pattern ending in a lone backslash, which Postgres refuses."""
    parts, chars = [], iter(q.replace("*", "%"))
    for char in chars:
        if char == "\\":
            literal = next(chars, None)
            if literal is None:
                return None
            parts.append(re.escape(literal))
        else:
            parts.append({"%": ".*", "_": "."}.get(char) or re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)

