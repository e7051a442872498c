"""The Mogplex v1 API client: envelope, typed errors, budget and retries.

Every request goes through one loop (``_call``): take room in the shared
``RequestBudget``, send through the transport, unwrap the envelope, and on a
retryable failure ask the retry policy (the plugin host's ``retry_delay``)
whether and when to try again. A retried start reuses its Idempotency-Key
and body, so a lost answer can never start a second run.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from mogrun.api import failures
from mogrun.api.budget import RequestBudget, Ticket
from mogrun.api.envelope import unwrap
from mogrun.api.failures import short_cause, source_words
from mogrun.api.repos import (
    RepoCache,
    find_repos,
    like_literal,
    listed_id,
    repo_id_of,
    secret_parts,
)
from mogrun.api.text import escape_text
from mogrun.api.trace import Tracer
from mogrun.api.transport import Response, Transport
from mogrun.api.waiting import WaitChannel
from mogrun.durations import format_duration
from mogrun.errors import (
    ConnectError,
    Interrupted,
    MogrunError,
    NotFoundError,
    RateLimitedError,
    RequestInfo,
    RequestRefusedError,
    ServiceUnavailableError,
    TransportError,
    UsageError,
    honoured_retry_after,
    is_retryable,
)
from mogrun.masking import mask, masked_error, with_wire_forms
from mogrun.models import ResolvedJob, StartRequest
from mogrun.reponames import is_full_name, repo_key
from mogrun.runs import Event, RunState
from mogrun.waits import Wait, WaitKind, clock_in

RetryPolicy = Callable[..., "float | bool | None"]


MIN_REQUEST_TIMEOUT = 0.5  # seconds: a request near its deadline still gets a chance
CANCEL_TRIES = 3  # sends of one cancel the server asks to retry ("Run state changed")
# Pauses between reads of a run whose cancel lost the race to its end ("Run is no
# longer active"): the server updates the run's row after the agent's call ends.
SETTLE_PAUSES = (0.2, 0.4, 0.8, 1.6)
OWN_PAUSE = 0.5  # seconds before ``own_pause``'s first retry (then doubled)


def own_pause(*, error: MogrunError, attempt: int, retry_after: float | None = None,
              **_: Any) -> float:
    """mogrun's own retry pause, asking no plugin: the server's Retry-After, else
    ``OWN_PAUSE`` doubled at each attempt (the request's deadline ends the retries;
    a proxy's sub-second Retry-After is no reason to retry sooner). Every request a
    rescue sends (``MogplexClient.own_pauses``): the plugins hear nothing more of the
    run it ends, and their retry policy, hanging, would hold that rescue too."""
    honoured = honoured_retry_after(retry_after)
    if honoured is not None:
        return honoured
    return OWN_PAUSE * 2.0 ** min(attempt - 1, 10)


class DueStop(threading.Event):
    """A stop event that will be set by a known time (``due``: monotonic, and how to
    say it) once that is known: a start in flight at a signal is given up a grace
    after it, and the wait for its answer says so, not its read timeout."""

    def __init__(self) -> None:
        super().__init__()
        self.due: tuple[float, str] | None = None

    def set_by(self, when: float, said: str) -> None:
        self.due = (when, said)


class EitherStop(threading.Event):
    """Set once either of two stops is: a run's start ends at the signal's ``give_up``
    (whose ``due`` it says) or once a rescue ended that run without its worker
    (``RunTrack.released``). Only ``is_set`` is asked of it, as the client and the
    transport ask a request's stop; it is never set itself."""

    def __init__(self, first: threading.Event, second: threading.Event) -> None:
        super().__init__()
        self.stops = (first, second)

    def is_set(self) -> bool:
        return any(stop.is_set() for stop in self.stops)

    @property
    def due(self) -> tuple[float, str] | None:
        return next((stop.due for stop in self.stops if isinstance(stop, DueStop)
                     and stop.due is not None), None)


@dataclass(frozen=True)
class StartOutcome:
    """What a start answered. ``attached``: the run predates this invocation
    (the first attempt that could have reached the server was a replay).
    ``request``: the one the server took, which names a fresh repo id when the
    cached one was stale."""

    state: RunState
    replayed: bool
    attached: bool
    attempts: int
    request: StartRequest


@dataclass(frozen=True)
class CancelOutcome:
    """What a cancel answered; ``already_terminal`` when the run had ended."""

    state: RunState
    already_terminal: bool


@dataclass(frozen=True)
class Answer:
    """The ``data`` of a request's envelope, and the attempts it took."""

    data: Any
    attempts: int
    first_sent: int  # the first attempt that may have reached the server
    info: RequestInfo  # the request (its URL, for errors about the payload)
    # What the request masked in its errors (the token and its job's secrets, in their
    # wire forms): what a caller masks in server text it shows from ``data``.
    masks: tuple[str, ...] = ()


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
        url_source: str = "default",
        repo_cache: RepoCache | None = None,
    ) -> None:
        self.repo_cache = repo_cache
        self._ids_from_cache: set[str] = set()
        self._roots: dict[str, str | None] = {}  # repo id -> its own root directory
        # repo id -> its default branch, as GET /repos gave it this invocation (not kept
        # in the cache: a repo found there has none known, and is judged without it)
        self._default_branches: dict[str, str] = {}
        self._sending: set[str] = set()  # Idempotency-Keys of requests on the wire
        self._sending_lock = threading.Lock()
        self.api_url = api_url.rstrip("/")
        self.url_source = url_source  # --url, MOGPLEX_URL, the task file: for messages
        self._token = token
        self.transport = transport
        self.budget = budget
        self._retry = retry
        self._own = threading.local()  # ``own_pauses``: this thread's requests' policy
        self._tracer = Tracer(trace, token) if trace else None
        self.timeout = timeout or float(getattr(transport, "read_timeout", 30.0))

    # --- endpoints ---------------------------------------------------------------

    def list_repos(
        self, query: str | None = None, limit: int = 200, *, job: ResolvedJob | None = None,
        secrets: Iterable[str] = (), stop: threading.Event | None = None,
    ) -> list[dict[str, Any]]:
        """The account's repos whose owner/name contains ``query`` (``secrets``: what
        to mask in traces and errors, as the query may be a repo named from env.*;
        ``stop``: given up, ``Interrupted``, once it is set)."""
        params: dict[str, Any] = {"limit": max(1, min(200, limit))}
        if query:
            params = {"q": like_literal(query), **params}
            secrets = (*secrets, *secret_parts(query, secrets))
        answer = self._call("GET", "/repos", params=params, job=job, secrets=secrets, stop=stop)
        repos = failures.payload_field(answer.data, "repos", list, answer.info)
        return [repo for repo in repos if isinstance(repo, dict)]

    def resolve_repos(self, names: Iterable[str], *, secrets: Iterable[str] = (),
                      stop: threading.Event | None = None) -> dict[str, str]:
        """``{owner/name: repo id}`` for every owner/name of ``names`` (other values are
        ids already and are left out), from the cache of ids seen before, else in as
        few ``GET /repos`` as the API allows (see ``mogrun.api.repos``). Given up,
        ``Interrupted``, once ``stop`` is set (a signal before any run started)."""
        found = self._find(names, tuple(secrets), stop)
        return {name: repo["id"] for name, repo in found.items()}

    def default_root(self, repo_id: str) -> str | None:
        """The root directory a run of ``repo_id`` works in when its request names
        none: the repo's own setting, as ``GET /repos`` (or the cache) gave it;
        ``None`` for the repo root, or when the repo was never listed."""
        return self._roots.get(repo_id)

    def default_branch(self, repo_id: str) -> str | None:
        """The default branch of ``repo_id`` as ``GET /repos`` gave it this invocation,
        or ``None`` when not known: a start naming it works in the sandbox of one
        naming no branch (the server's triple takes the base branch then)."""
        return self._default_branches.get(repo_id)

    def repo_name(self, repo_id: str, *, deadline: float | None = None) -> str | None:
        """The owner/name of the repo ``repo_id`` (``GET /repos?id=``), or ``None``
        when the server does not list it: for messages about sandboxes the account's
        other work holds, which the task file does not name."""
        answer = self._call("GET", "/repos", params={"id": repo_id, "limit": 1},
                            deadline=deadline)
        repos = failures.payload_field(answer.data, "repos", list, answer.info)
        for repo in repos:
            if isinstance(repo, dict) and repo_id_of(repo) == repo_id:
                name = repo.get("full_name")
                return escape_text(name, 200) if isinstance(name, str) and name else None
        return None

    def list_sandboxes(self, *, limit: int = 200, job: ResolvedJob | None = None,
                       deadline: float | None = None,
                       stop: threading.Event | None = None) -> list[dict[str, Any]]:
        """``GET /sandboxes``: the account's sandboxes, newest ``last_active_at`` first
        (given up, ``Interrupted``, once ``stop`` is set: a start waits for it)."""
        params = {"limit": max(1, min(200, limit))}
        answer = self._call("GET", "/sandboxes", params=params, job=job, deadline=deadline,
                            stop=stop)
        boxes = failures.payload_field(answer.data, "sandboxes", list, answer.info)
        return [box for box in boxes if isinstance(box, dict)]

    def resolve_repo(self, name: str, *, job: ResolvedJob | None = None) -> dict[str, Any]:
        """The repo whose full name is ``name`` (case-insensitive); an id passes through."""
        if not is_full_name(name):
            return {"id": name}
        return self._find([name], tuple(job.secrets) if job is not None else ())[name]

    def _find(self, names: Iterable[str], secrets: tuple[str, ...],
              stop: threading.Event | None = None) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(n for n in names if is_full_name(n)))
        repos = {name: {"id": cached, "full_name": name} for name in wanted
                 if (cached := self._cached_id(name)) is not None}
        missing = [name for name in wanted if name not in repos]
        if missing:
            found, listed = find_repos(
                missing, lambda query: self.list_repos(query, limit=200, secrets=secrets,
                                                       stop=stop))
            for name in missing:
                repo_id = listed_id(name, found, listed, secrets)
                repos[name] = {**found[repo_key(name)], "id": repo_id}
                root = repos[name].get("root_directory")
                if root is None or isinstance(root, str):
                    self._roots[repo_id] = root or None
                branch = repos[name].get("default_branch")
                if isinstance(branch, str) and branch:
                    self._default_branches[repo_id] = branch
            if self.repo_cache is not None:
                self.repo_cache.remember({name: repos[name]["id"] for name in missing},
                                         {repos[name]["id"]: self._roots.get(repos[name]["id"])
                                          for name in missing})
        return repos

    def _cached_id(self, name: str) -> str | None:
        if self.repo_cache is None:
            return None
        repo_id = self.repo_cache.get(name)
        if repo_id is not None:
            self._ids_from_cache.add(repo_id)
            known, root = self.repo_cache.root(repo_id)
            if known:
                self._roots[repo_id] = root
        return repo_id

    def start_run(
        self, request: StartRequest, *, job: ResolvedJob | None = None,
        deadline: float | None = None, stop: threading.Event | None = None,
        run: str | None = None, retry: bool = True,
    ) -> StartOutcome:
        """``POST /runs``; every attempt sends the same Idempotency-Key and body
        (``retry=False``: one attempt, as a signal's last look for the run). Given
        up once ``stop`` is set (``StartInterrupted``: the run may exist). A 404 for a
        repo id from the cache is the cache's mistake, not the user's: the name is
        looked up again and the start sent once more (the server checks the repo
        before it stores the key, so the key is still free). An answer accepting the
        start without naming its run is ``UnconfirmedStartError``, never sent again."""
        while True:
            body = json.dumps(request.body(), separators=(",", ":")).encode("utf-8")
            try:
                answer = self._call("POST", "/runs", body=body, key=request.idempotency_key,
                                    kind="start", job=job, deadline=deadline, stop=stop,
                                    run=run, retry=retry)
                break
            except RequestRefusedError as error:
                fresh = self._stale_repo(error, request, job)
                if fresh is None:
                    raise
                request = dataclasses.replace(request, repo_id=fresh)
        run_id = answer.data.get("runId") if isinstance(answer.data, dict) else None
        if isinstance(run_id, bool) or not isinstance(run_id, str | int) or run_id == "":
            raise failures.unconfirmed_start(answer.info)  # accepted: the run may exist
        replayed = answer.data.get("replayed") is True  # the API says a bool: "false" is not
        attached = replayed and answer.attempts == answer.first_sent
        return StartOutcome(RunState.from_api(answer.data), replayed, attached, answer.attempts,
                            request)

    def get_run(
        self, run_id: str, *, job: ResolvedJob | None = None, deadline: float | None = None,
        run: str | None = None,
    ) -> RunState:
        """``GET /runs/{id}``: the run's current state."""
        path = f"/runs/{_segment(run_id)}"
        answer = self._call("GET", path, job=job, deadline=deadline, run=run)
        return RunState.from_api(failures.run_detail(answer.data, run_id, answer.info))

    def get_events(
        self, run_id: str, *, limit: int = 200, job: ResolvedJob | None = None,
        deadline: float | None = None, stop: threading.Event | None = None,
        known: Collection[str] = (), run: str | None = None,
    ) -> tuple[RunState, list[Event]]:
        """``GET /runs/{id}/events``: the run's state and its first ``limit`` events
        (a follower's poll: given up, ``Interrupted``, once ``stop`` is set), but
        for those whose id is in ``known``: a poll answers with every event so
        far, and a long run's would otherwise read them all again each time."""
        path = f"/runs/{_segment(run_id)}/events"
        params = {"limit": max(1, min(200, limit))}
        answer = self._call("GET", path, params=params, kind="poll", job=job, deadline=deadline,
                            stop=stop, run=run)
        detail = failures.run_detail(answer.data, run_id, answer.info)
        events = failures.payload_field(answer.data, "events", list, answer.info)
        return RunState.from_api(detail), [Event.from_api(e) for e in events if isinstance(e, dict)
                                           and not _known(e.get("id"), known)]

    def cancel_run(
        self, run_id: str, *, job: ResolvedJob | None = None, deadline: float | None = None,
        run: str | None = None, stop: threading.Event | None = None,
    ) -> CancelOutcome:
        """``POST /runs/{id}/cancel``. A 409 is a race with the run's end (read it
        again) unless the run is still going: the server also answers 409 when it
        could not reach the sandbox ("Sandbox is not ready"), and then the cancel
        did not get through and the error is raised. A run whose cancel lost the
        race ("Run is no longer active") may read as active for a moment: it is
        read again a few times before that error is raised. The newest server's
        409 "Run state changed; retry cancellation" (its update lost to another
        write) is what it says: the cancel is sent again, a few times. Once ``stop``
        is set it is sent no more (``Interrupted``)."""
        path = f"/runs/{_segment(run_id)}/cancel"
        for attempt in range(1, CANCEL_TRIES + 1):
            try:
                answer = self._call("POST", path, job=job, deadline=deadline, run=run,
                                    stop=stop)
                break
            except RequestRefusedError as error:
                if error.status != 409 or error.code != "CONFLICT":
                    raise
                state = self._settled(run_id, error, job=job, deadline=deadline, run=run)
                if state.terminal:
                    return CancelOutcome(state, True)
                if attempt == CANCEL_TRIES or "retry cancellation" not in error.message:
                    raise
        detail = failures.run_detail(answer.data, run_id, answer.info)
        return CancelOutcome(RunState.from_api(detail), answer.data.get("alreadyTerminal") is True)

    def _settled(self, run_id: str, error: RequestRefusedError, *, job: ResolvedJob | None,
                 deadline: float | None, run: str | None) -> RunState:
        """The run after a 409 to its cancel: read again while it still reads as
        active after the server said it is not (its row is updated after the
        agent's call ends), pausing ``SETTLE_PAUSES`` and never past ``deadline``."""
        state = self.get_run(run_id, job=job, deadline=deadline, run=run)
        if "no longer active" not in error.message:
            return state
        for pause in SETTLE_PAUSES:
            if state.terminal or (deadline is not None
                                  and self.budget.clock() + pause >= deadline):
                break
            self.budget.sleep(pause)
            state = self.get_run(run_id, job=job, deadline=deadline, run=run)
        return state

    def _stale_repo(self, error: RequestRefusedError, request: StartRequest,
                    job: ResolvedJob | None) -> str | None:
        """The repo's id now, when ``error`` is a 404 for an id taken from the cache
        (the repo was removed and added again under a new id): the stale id is
        forgotten and the name looked up again (``RepoNotFoundError`` if it is gone
        for good). ``None``: the 404 is the server's word on a fresh id."""
        repo_id = request.repo_id
        if not isinstance(error, NotFoundError) or repo_id is None \
                or repo_id not in self._ids_from_cache:
            return None
        self._ids_from_cache.discard(repo_id)
        if self.repo_cache is not None:
            self.repo_cache.forget(repo_id)
        secrets = tuple(job.secrets) if job is not None else ()
        fresh = str(self._find([request.repo], secrets)[request.repo]["id"])
        return None if fresh == repo_id else fresh

    def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
        json_body: Any = None, key: str | None = None, job: ResolvedJob | None = None,
        deadline: float | None = None, kind: str = "request",
        stop: threading.Event | None = None, run: str | None = None, retry: bool = True,
    ) -> Answer:
        """Any endpoint through the same budget, retries and masking (the
        automation calls of ``mogrun.api.automations`` use it); ``kind`` and
        ``stop`` as for ``get_events`` when it is a follower's poll; ``retry`` as
        for ``start_run``."""
        body = (None if json_body is None else
                json.dumps(json_body, separators=(",", ":")).encode("utf-8"))
        return self._call(method, path, params=params, body=body, key=key, job=job,
                          deadline=deadline, kind=kind, stop=stop, run=run, retry=retry)

    # --- the request loop --------------------------------------------------------

    @property
    def waits(self) -> WaitChannel:
        """Every wait the budget or a retry makes (subscribe to show them)."""
        return self.budget.waits

    def _call(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
        body: bytes | None = None, key: str | None = None, kind: str = "request",
        job: ResolvedJob | None = None, deadline: float | None = None,
        secrets: Iterable[str] = (), stop: threading.Event | None = None,
        run: str | None = None, retry: bool = True,
    ) -> Answer:
        """One request through the budget, the transport and the retry policy
        (``retry=False``: one attempt; within ``own_pauses``, mogrun's own).
        ``job`` and ``run`` (the run's label) are what
        the request is for: each wait it announces (a 429, a retry, a slow answer)
        names them."""
        info = self._info(method, path, params, key=key)
        secrets = with_wire_forms((self._token, *(job.secrets if job is not None else ()),
                                   *secrets))
        attempt, first_sent, sent = 0, 1, False  # sent: an attempt may have reached it
        try:
            while True:
                attempt += 1
                try:
                    ticket = self.budget.reserve(kind, deadline=deadline)  # may raise
                    self._on_wire(info.idempotency_key, True)
                    timeout = self._timeout(deadline)
                    unsent = stop is not None and stop.is_set()  # the transport sends nothing
                    try:
                        return Answer(self._send(info, body, secrets, timeout, stop,
                                                 self._slow_notice(info, job, run, timeout,
                                                                   stop)),
                                      attempt, first_sent, info, secrets)
                    except Interrupted:  # given up at a signal: never retried
                        sent = sent or not unsent  # though it may have reached the server
                        raise
                    except MogrunError as error:
                        failure = error
                        self._uncount(ticket, error, kind)
                    finally:
                        self.budget.settle(ticket)
                    if failures.never_processed(failure) and first_sent == attempt:
                        first_sent = attempt + 1
                    sent = sent or attempt >= first_sent
                    # Until it is answered, a start that may have reached the server stays
                    # "on the wire" through the pause before its retry: its run may exist
                    # (a 500 after the server stored it), so a signal then waits for it.
                    self._on_wire(info.idempotency_key, sent)
                    at = _Attempt(attempt, kind, job, info, deadline, secrets, run)
                    try:
                        if not retry:
                            raise self._gave_up(failure, at, "")
                        self._wait_or_raise(failure, at, self._policy(), stop)
                    except Interrupted:
                        raise
                    except MogrunError as given_up:
                        unsettled = failures.unanswered(given_up, info, sent)
                        if unsettled is given_up:
                            raise
                        raise unsettled from given_up
                except Interrupted as stop:
                    raise failures.interrupted(stop, info, sent) from stop
        finally:
            self._on_wire(info.idempotency_key, False)

    def _uncount(self, ticket: Ticket, error: MogrunError, kind: str) -> None:
        """Take a refused request out of the windows the server did not count it in
        (it counts only what it lets through): a 429 out of the limit's that refused
        it; a start the limiter could not count (its 503) out of the start windows; a
        request that never reached the server (``ConnectError``) out of every one.
        Counted, each held the next start back up to a minute for nothing."""
        if isinstance(error, RateLimitedError):
            self.budget.refused(ticket, starts_only=_start_limit(error, kind))
        elif isinstance(error, ConnectError):
            self.budget.refused(ticket, starts_only=False)
        elif isinstance(error, ServiceUnavailableError) and kind == "start":
            self.budget.refused(ticket, starts_only=True)

    @contextmanager
    def own_pauses(self) -> Iterator[None]:
        """Meanwhile every request this thread sends is retried on ``own_pause``, the
        plugins' retry policy not asked: a rescue's (``engine.rescue``), which ends a
        run its worker's hook holds (that policy may be the hook)."""
        before = getattr(self._own, "policy", None)
        self._own.policy = own_pause
        try:
            yield
        finally:
            self._own.policy = before

    def _policy(self) -> RetryPolicy | None:
        """The retry policy of a request sent now, on this thread (``own_pauses``)."""
        return getattr(self._own, "policy", None) or self._retry

    def sending_keys(self) -> frozenset[str]:
        """The Idempotency-Keys of requests sent and not yet answered: a start whose
        run may exist (not one still waiting for the request budget, unless an earlier
        attempt of it may have reached the server)."""
        with self._sending_lock:
            return frozenset(self._sending)

    def _on_wire(self, key: str | None, sent: bool) -> None:
        if key is not None:
            with self._sending_lock:
                (self._sending.add if sent else self._sending.discard)(key)

    def _timeout(self, deadline: float | None) -> float:
        """A request never outlives its deadline (a job's timeout, a bounded
        cancel): a stalled server is given up on then, not at the read timeout."""
        if deadline is None:
            return self.timeout
        return max(MIN_REQUEST_TIMEOUT, min(self.timeout, deadline - self.budget.clock()))

    def _slow_notice(self, info: RequestInfo, job: ResolvedJob | None, run: str | None,
                     timeout: float, stop: threading.Event | None = None) -> Callable[[], None]:
        """What says that ``info`` is still unanswered a while after it was sent (the
        transport's ``SLOW_ANSWER``): a stalled server held a poll for 30 s with
        nothing on screen. A ``DueStop`` due sooner ends the wait then."""
        sent = time.monotonic()

        def say() -> None:
            now = time.monotonic()
            waited, due = now - sent, getattr(stop, "due", None)  # a DueStop's, an EitherStop's
            left, until = timeout - waited, f"{format_duration(timeout)} after it was sent"
            if due is not None and due[0] - now < left:
                left, until = due[0] - now, due[1]
            self.waits.emit(Wait.for_seconds(
                WaitKind.ANSWER, f"{self._endpoint(info)}: no answer yet after "
                f"{format_duration(round(waited))}; waiting for it (given up {until})", left,
                job=job.name if job is not None else None, run=run))
        return say

    def _send(self, info: RequestInfo, body: bytes | None, secrets: tuple[str, ...],
              timeout: float | None = None, stop: threading.Event | None = None,
              on_slow: Callable[[], None] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if info.idempotency_key is not None:
            headers["Idempotency-Key"] = info.idempotency_key
        tracer = self._tracer
        started = tracer.request(info, secrets) if tracer else 0.0
        try:
            response: Response = self.transport.send(
                info.method, info.url, headers=headers, body=body,
                timeout=self.timeout if timeout is None else timeout, stop=stop, on_slow=on_slow)
        except TransportError as error:
            if tracer:
                tracer.failure(info, started, error, secrets)
            raise masked_error(error, secrets, request=info) from error
        if tracer:
            tracer.response(info, started, response, secrets)
        try:
            return unwrap(response, info, secrets)
        except MogrunError as error:
            raise masked_error(error, secrets) from error

    def _wait_or_raise(self, error: MogrunError, at: _Attempt, policy: RetryPolicy | None,
                       stop: threading.Event | None = None) -> None:
        """Sleep before the next attempt, or raise ``error`` (completed) to give up.

        A Retry-After the policy will not wait (past ``max_delay``, or past the
        job's deadline) gives this request up at once and pauses nothing: the
        other jobs go on and meet the server's answer themselves. A request whose
        ``stop`` is set (before the policy answers, or while it decides: a plugin's hook
        held it past a signal) is neither retried nor said to be (``Interrupted``)."""
        retry_after = getattr(error, "retry_after", None)
        if not is_retryable(error) or policy is None:
            raise self._gave_up(error, at, "")
        _unless_stopped(stop)
        delay = policy(error=error, attempt=at.number, job=at.job, request=at.info,
                       retry_after=retry_after)
        _unless_stopped(stop)
        if delay is None or delay is False:
            raise self._gave_up(error, at, "")
        wait = max(0.0 if delay is True else float(delay), retry_after or 0.0)
        if at.deadline is not None and self.budget.clock() + wait > at.deadline:
            raise self._gave_up(error, at, f"waiting {wait:.1f} s would pass the deadline")
        # What the wait says is what set it: the server's Retry-After, or the policy's
        # backoff (which a proxy's sub-second Retry-After leaves to it).
        self._announce(error, at, wait, honoured=bool(retry_after) and wait == retry_after)
        if isinstance(error, RateLimitedError):
            self.budget.pause(wait, starts_only=_start_limit(error, at.kind))
        if wait > 0:
            self.budget.sleep(wait)

    def _announce(self, error: MogrunError, at: _Attempt, wait: float, *,
                  honoured: bool) -> None:
        if self._tracer:
            self._tracer.note(f"retrying {at.info} in {wait:.1f} s (attempt {at.number + 1})",
                              at.secrets)
        # No job's request (the repo look-up, the sandbox listing) says which it is.
        what = "" if at.job is not None else f"{self._endpoint(at.info)}: "
        if isinstance(error, RateLimitedError):
            limit = "start limit" if _start_limit(error, at.kind) else "request limit"
            said = " after its Retry-After" if honoured else ""
            notice = Wait.for_seconds(
                WaitKind.RATE_LIMITED, f"{what}the API answered 429 ({limit}); retry "
                f"{at.number}{said}", wait, job=at.job_name, run=at.run)
        else:
            cause = mask(short_cause(error), at.secrets)
            notice = Wait.for_seconds(
                WaitKind.RETRY, f"{what}{cause}; retry {at.number}", wait, job=at.job_name,
                run=at.run)
        self.waits.emit(notice)

    def _endpoint(self, info: RequestInfo) -> str:
        """``GET /repos``: the request's method and path under the API, without its
        query (which may hold a repo name from ``env.*``)."""
        path = info.url.removeprefix(self.api_url).split("?", 1)[0]
        return f"{info.method} {path}"

    def _gave_up(self, error: MogrunError, at: _Attempt, why: str) -> MogrunError:
        """``error`` completed: what was tried, and what the user can check (issue 10:
        a network error names the URL and where it came from; a 429 says when to
        try again). The message carries the essential part: it is what a job's
        result line shows."""
        lines, message = list(error.context), error.message
        if is_retryable(error) and self._retry is not None:
            lines.append(f"Gave up after {at.number} attempt{'s' if at.number > 1 else ''}.")
        if why:  # in the message: a job's result line shows no context, and said only
            message += f"; not retried: {why}"  # "Service unavailable", it looked like an end
        if isinstance(error, TransportError):
            if isinstance(error, ConnectError):
                message += f" (the URL comes from {source_words(self.url_source)})"
            lines.append(f"The API URL is {self.api_url} (from {source_words(self.url_source)}); "
                         "check it and that the server is reachable.")
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None and (isinstance(error, RateLimitedError)
                                        or retry_after >= LONG_RETRY_AFTER):
            # A 503 asking for an hour was given up at once, without a word of it.
            message += (f"; try again after {clock_in(retry_after)} "
                        f"(in {format_duration(math.ceil(retry_after))})")
        return error.evolve(message=message, context=tuple(lines))

    def _info(
        self, method: str, path: str, params: Mapping[str, Any] | None = None,
        *, key: str | None = None,
    ) -> RequestInfo:
        url = self.api_url + path + (f"?{_query(params)}" if params else "")
        return RequestInfo(method, url, key)


# A Retry-After this long on an answer other than a 429 (a 503's, a proxy's) is said
# when the request is given up: no retry policy waits it, and it says when to come back.
LONG_RETRY_AFTER = 60.0


@dataclass(frozen=True)
class _Attempt:
    """One attempt of one request, as the retry decision needs it."""

    number: int
    kind: str
    job: ResolvedJob | None
    info: RequestInfo
    deadline: float | None
    secrets: tuple[str, ...]
    run: str | None = None  # the label of the run it is for, if any (for its waits)

    @property
    def job_name(self) -> str | None:
        return self.job.name if self.job is not None else None


def _unless_stopped(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Interrupted(130, "interrupted before a retry")


def _segment(run_id: str) -> str:
    if not run_id or not isinstance(run_id, str):
        raise UsageError("a run id is required")
    return _quoted(run_id)


@functools.lru_cache(maxsize=4096)
def _quoted(run_id: str) -> str:
    """A run id as a path segment (each run's polls repeat it)."""
    return quote(run_id, safe="")


def _query(params: Mapping[str, Any]) -> str:
    """``params`` as a query string; the same few (a poll's ``limit``) are remembered.
    Only strings and whole numbers are: ``True``, ``1`` and ``1.0`` are one cache key
    but three query strings."""
    items = tuple(params.items())
    for _, value in items:  # a loop, not all(<generator>): every poll asks
        if type(value) is not str and type(value) is not int:
            return urlencode(items)
    return _cached_query(items)


@functools.lru_cache(maxsize=256)
def _cached_query(items: tuple[tuple[str, Any], ...]) -> str:
    return urlencode(items)


def _known(event_id: object, known: Collection[str]) -> bool:
    """An event id in ``known`` (only a string can be: any other id is read)."""
    return type(event_id) is str and event_id in known


def _start_limit(error: MogrunError, kind: str) -> bool:
    """Whether a 429 is the run-start limit (it holds back starts only) rather than
    the token's request limit (it holds back every request). A start meets both:
    the server checks the request limit first, and says which in its message
    ("External Mogplex run rate limit exceeded", "Daily external Mogplex run quota
    exceeded"; the request limit's is "Rate limit exceeded. Retry after 60s.")."""
    return kind == "start" and "external mogplex run" in error.message.casefold()
