"""The Mogplex v1 API client: envelope, typed errors, budget and retries.

Every request goes through one loop (``_call``): take room in the shared
``RequestBudget``, send through the transport, unwrap the envelope, and on a
retryable failure ask the retry policy (the plugin host's ``retry_delay``)
whether and when to try again. A retried start reuses its Idempotency-Key
and body, so a lost answer can never start a second run.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from mogrun.api.budget import RequestBudget
from mogrun.api.envelope import unwrap
from mogrun.api.text import escape_text
from mogrun.api.trace import Tracer
from mogrun.api.transport import Response, Transport
from mogrun.errors import (
    ConnectError,
    MogrunError,
    RateLimitedError,
    RepoNotFoundError,
    RequestInfo,
    RequestRefusedError,
    TransportError,
    UsageError,
    is_retryable,
)
from mogrun.masking import mask
from mogrun.models import Event, ResolvedJob, RunState, StartRequest

RetryPolicy = Callable[..., "float | bool | None"]


@dataclass(frozen=True)
class StartOutcome:
    """What a start answered. ``attached``: the run predates this invocation
    (the first attempt that could have reached the server was a replay)."""

    state: RunState
    replayed: bool
    attached: bool
    attempts: int


@dataclass(frozen=True)
class CancelOutcome:
    """What a cancel answered; ``already_terminal`` when the run had ended."""

    state: RunState
    already_terminal: bool


@dataclass(frozen=True)
class _Answer:
    data: Any
    attempts: int
    first_sent: int  # the first attempt that may have reached the server


class MogplexClient:
    """Typed calls to the API over an injected transport, budget and retry policy."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        transport: Transport,
        budget: RequestBudget,
        retry: RetryPolicy | None = None,
        trace: Callable[[str], None] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self.transport = transport
        self.budget = budget
        self._retry = retry
        self._tracer = Tracer(trace, token) if trace else None
        self.timeout = timeout or float(getattr(transport, "read_timeout", 30.0))

    # --- endpoints ---------------------------------------------------------------

    def list_repos(
        self, query: str | None = None, limit: int = 200, *, job: ResolvedJob | None = None
    ) -> list[dict[str, Any]]:
        """The account's repos whose owner/name contains ``query``."""
        params: dict[str, Any] = {"limit": max(1, min(200, limit))}
        if query:
            params = {"q": query, **params}
        data = self._call("GET", "/repos", params=params, job=job).data
        repos = _field(data, "repos", list, self._info("GET", "/repos", params))
        return [repo for repo in repos if isinstance(repo, dict)]

    def resolve_repo(self, name: str, *, job: ResolvedJob | None = None) -> dict[str, Any]:
        """The repo whose full name is ``name`` (case-insensitive); an id passes through."""
        owner, sep, repo = name.partition("/")
        if not sep or not owner or not repo or "/" in repo:
            return {"id": name}
        wanted = name.casefold()
        for found in self.list_repos(name, job=job):
            if str(found.get("full_name", "")).casefold() == wanted:
                return found
        names = [str(r.get("full_name", "")) for r in self.list_repos(None, job=job)]
        raise _repo_not_found(name, names)

    def start_run(
        self, request: StartRequest, *, job: ResolvedJob | None = None,
        deadline: float | None = None,
    ) -> StartOutcome:
        """``POST /runs``; every attempt sends the same Idempotency-Key and body."""
        body = json.dumps(request.body(), separators=(",", ":")).encode("utf-8")
        answer = self._call("POST", "/runs", body=body, key=request.idempotency_key,
                            kind="start", job=job, deadline=deadline)
        info = self._info("POST", "/runs", key=request.idempotency_key)
        run_id = answer.data.get("runId") if isinstance(answer.data, dict) else None
        if isinstance(run_id, bool) or not isinstance(run_id, str | int) or run_id == "":
            raise _bad_payload(info, "a RunDetail with runId")  # not a run to follow
        replayed = bool(answer.data.get("replayed"))
        attached = replayed and answer.attempts == answer.first_sent
        return StartOutcome(RunState.from_api(answer.data), replayed, attached, answer.attempts)

    def get_run(
        self, run_id: str, *, job: ResolvedJob | None = None, deadline: float | None = None
    ) -> RunState:
        """``GET /runs/{id}``: the run's current state."""
        path = f"/runs/{_segment(run_id)}"
        data = self._call("GET", path, job=job, deadline=deadline).data
        return RunState.from_api(_field(data, "run", dict, self._info("GET", path)))

    def get_events(
        self, run_id: str, *, limit: int = 200, job: ResolvedJob | None = None,
        deadline: float | None = None,
    ) -> tuple[RunState, list[Event]]:
        """``GET /runs/{id}/events``: the run's state and its first ``limit`` events."""
        path = f"/runs/{_segment(run_id)}/events"
        params = {"limit": max(1, min(200, limit))}
        data = self._call("GET", path, params=params, job=job, deadline=deadline).data
        info = self._info("GET", path, params)
        run = _field(data, "run", dict, info)
        events = _field(data, "events", list, info)
        return RunState.from_api(run), [Event.from_api(e) for e in events if isinstance(e, dict)]

    def cancel_run(
        self, run_id: str, *, job: ResolvedJob | None = None, deadline: float | None = None
    ) -> CancelOutcome:
        """``POST /runs/{id}/cancel``; a 409 race with the run's end reads it again."""
        path = f"/runs/{_segment(run_id)}/cancel"
        try:
            data = self._call("POST", path, job=job, deadline=deadline).data
        except RequestRefusedError as error:
            if error.status != 409 or error.code != "CONFLICT":
                raise
            return CancelOutcome(self.get_run(run_id, job=job, deadline=deadline), True)
        run = _field(data, "run", dict, self._info("POST", path))
        return CancelOutcome(RunState.from_api(run), bool(data.get("alreadyTerminal")))

    # --- the request loop --------------------------------------------------------

    def _call(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
        body: bytes | None = None, key: str | None = None, kind: str = "request",
        job: ResolvedJob | None = None, deadline: float | None = None,
    ) -> _Answer:
        info = self._info(method, path, params, key=key)
        secrets = (self._token, *(job.secrets if job is not None else ()))
        attempt, first_sent = 0, 1
        while True:
            attempt += 1
            ticket = self.budget.reserve(kind, deadline=deadline)  # may raise: no request
            try:
                return _Answer(self._send(info, body, secrets), attempt, first_sent)
            except MogrunError as error:
                failure = error
            finally:
                self.budget.settle(ticket)
            if _never_processed(failure) and first_sent == attempt:
                first_sent = attempt + 1
            self._wait_or_raise(failure, attempt, job, info, deadline, secrets)

    def _send(self, info: RequestInfo, body: bytes | None, secrets: tuple[str, ...]) -> Any:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if info.idempotency_key is not None:
            headers["Idempotency-Key"] = info.idempotency_key
        tracer = self._tracer
        started = tracer.request(info, secrets) if tracer else 0.0
        try:
            response: Response = self.transport.send(
                info.method, info.url, headers=headers, body=body, timeout=self.timeout)
        except TransportError as error:
            if tracer:
                tracer.failure(info, started, error, secrets)
            self._scrub(error, info, secrets)
            raise
        if tracer:
            tracer.response(info, started, response, secrets)
        try:
            return unwrap(response, info)
        except MogrunError as error:
            self._scrub(error, info, secrets)
            raise

    def _wait_or_raise(
        self, error: MogrunError, attempt: int, job: ResolvedJob | None,
        info: RequestInfo, deadline: float | None, secrets: tuple[str, ...] = (),
    ) -> None:
        """Sleep before the next attempt, or re-raise ``error`` to give up."""
        retry_after = getattr(error, "retry_after", None)
        if isinstance(error, RateLimitedError):
            self.budget.pause(retry_after)
        if not is_retryable(error) or self._retry is None:
            raise error
        delay = self._retry(error=error, attempt=attempt, job=job, request=info,
                            retry_after=retry_after)
        if delay is None or delay is False:
            raise _gave_up(error, attempt)
        wait = max(0.0 if delay is True else float(delay), retry_after or 0.0)
        if deadline is not None and self.budget.clock() + wait > deadline:
            raise _gave_up(error, attempt, f"waiting {wait:.1f} s would pass the deadline")
        if self._tracer:
            self._tracer.note(f"retrying {info} in {wait:.1f} s (attempt {attempt + 1})",
                              secrets)
        if wait > 0:
            self.budget.sleep(wait)

    def _scrub(self, error: MogrunError, info: RequestInfo, secrets: tuple[str, ...]) -> None:
        """The token and the job's secrets (env.* values in a key, say) never
        reach a message, whatever the server echoed."""
        error.message = mask(error.message, secrets)
        error.args = (error.message,)
        error.context = tuple(mask(line, secrets) for line in error.context)
        if getattr(error, "request", None) is None or isinstance(error, TransportError):
            error.request = info  # type: ignore[attr-defined]

    def _info(
        self, method: str, path: str, params: Mapping[str, Any] | None = None,
        *, key: str | None = None,
    ) -> RequestInfo:
        url = self.api_url + path + (f"?{urlencode(params)}" if params else "")
        return RequestInfo(method, url, key)


def _gave_up(error: MogrunError, attempts: int, why: str = "") -> MogrunError:
    """``error`` with a line saying how many attempts were made, and why we stopped."""
    note = f"Gave up after {attempts} attempt{'s' if attempts > 1 else ''}"
    error.context = (*error.context, f"{note}: {why}." if why else f"{note}.")
    return error


def _never_processed(error: MogrunError) -> bool:
    """The server surely did not act on this attempt (refused at the door)."""
    return isinstance(error, ConnectError | RateLimitedError)


def _segment(run_id: str) -> str:
    if not run_id or not isinstance(run_id, str):
        raise UsageError("a run id is required")
    return quote(run_id, safe="")


def _field(data: Any, name: str, kind: type, info: RequestInfo) -> Any:
    if not isinstance(data, dict) or not isinstance(data.get(name), kind):
        raise _bad_payload(info, f"'{name}'")
    return data[name]


def _bad_payload(info: RequestInfo, wanted: str) -> TransportError:
    return TransportError(
        f"the answer to {info.method} {info.url} lacks {wanted}",
        request=info, context=["The server's payload does not match the Mogplex v1 API."],
    )


def _repo_not_found(name: str, names: list[str]) -> RepoNotFoundError:
    by_folded = {n.casefold(): n for n in names if n}
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=3, cutoff=0.5)
    context = [f"Closest names: {', '.join(by_folded[c] for c in close)}"] if close else [
        "Run `mogrun repos` to list the repos this token can use."]
    return RepoNotFoundError(
        f"repo {escape_text(name)!r} is not one of this token's repos", context=context)
