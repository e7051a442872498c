"""Mogplex automations as a client sees them: list, resolve, trigger, read a job run.

The trigger endpoint is not ``POST /runs``: its idempotency keys are global
across every user of the server, a reused key answers ``suppressed /
IDEMPOTENT_DUPLICATE`` with the earlier job run's id whatever body was sent
(never a 409), caps answer 202 ``suppressed`` with no job run, and the
installation's concurrency limit answers ``queued`` but deferred. This module
turns those answers into values (``TriggerAnswer``, ``AutomationRun``) and
leaves the decisions to the automation job kind.

Job-run detail payloads are not sanitised by the server (raw AI-call rows,
tool inputs, resume tokens): only the fields listed here are kept, and
event text is escaped and masked by the reporters like any agent text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mogrun.api.failures import payload_field, run_detail
from mogrun.api.text import escape_text
from mogrun.errors import RequestInfo, TransportError, UsageError
from mogrun.masking import mask
from mogrun.models import ResolvedJob
from mogrun.runs import Event, RunState

if TYPE_CHECKING:
    import threading

PAGE_LIMIT = 100  # the list endpoint clamps to 1..100
# Pages read at most (100,000 automations; at 60 requests a minute, 17 minutes): a
# server whose pages never end is an error past it, not a partial list.
MAX_PAGES = 1_000
DUPLICATE = "IDEMPOTENT_DUPLICATE"
PENDING_CAPS = frozenset({"REPO_PENDING_LIMIT", "INSTALLATION_PENDING_LIMIT"})
DEFERRED = "INSTALLATION_CONCURRENCY_LIMIT"
TERMINAL = frozenset({"success", "failed", "cancelled"})


class Answer(Protocol):
    """A request's answer: the envelope's ``data``, and how many attempts it took
    (``first_sent``: the first attempt that may have reached the server)."""

    @property
    def data(self) -> Any: ...

    @property
    def attempts(self) -> int: ...

    @property
    def first_sent(self) -> int: ...

    @property
    def masks(self) -> tuple[str, ...]: ...  # what server text shown from ``data`` masks


class Caller(Protocol):
    """The one method of the API client this module needs: a budgeted, retried
    request (retries reuse the Idempotency-Key)."""

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, key: str | None = None, job: ResolvedJob | None = None,
                deadline: float | None = None, kind: str = "request",
                stop: threading.Event | None = None, run: str | None = None,
                retry: bool = True) -> Answer: ...


@dataclass(frozen=True)
class Automation:
    """One row of ``GET /automations``."""

    id: str
    name: str
    status: str
    published: bool
    description: str = ""

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Automation:
        return cls(id=_text(data.get("id")), name=_text(data.get("name")),
                   status=_text(data.get("status")),
                   published=bool(data.get("publishedVersionId")),
                   description=_text(data.get("description")))


@dataclass(frozen=True)
class TriggerAnswer:
    """What ``POST /automations/{id}/trigger`` answered (202, ``data.run``)."""

    automation_id: str
    job_run_id: str | None
    outcome: str
    reason: str | None
    started: bool
    status: str | None
    retried: bool = False  # an earlier attempt of this trigger may have reached the server
    replayed: bool = False  # the newest server's word for a duplicate key

    @property
    def duplicate(self) -> bool:
        """The key was used before — by us, or by anyone else on the server. Newer
        servers answer it ``outcome: "replayed"``, ``replayed: true``."""
        return (self.outcome == "suppressed" and self.reason == DUPLICATE) or (
            self.replayed or self.outcome == "replayed")

    @property
    def capped(self) -> bool:
        """Suppressed by a pending cap: nothing was created, the key is still free."""
        return self.outcome == "suppressed" and not self.duplicate

    @property
    def deferred(self) -> bool:
        """Created but waiting for the installation's concurrency limit."""
        return self.outcome == "queued" and self.reason == DEFERRED

    @classmethod
    def from_api(cls, data: Mapping[str, Any], retried: bool = False) -> TriggerAnswer:
        run_id = data.get("jobRunId")
        return cls(automation_id=_text(data.get("automationId")),
                   job_run_id=run_id if isinstance(run_id, str) and run_id else None,
                   outcome=_text(data.get("outcome")),
                   reason=data.get("reason") if isinstance(data.get("reason"), str) else None,
                   started=data.get("started") is True,
                   status=data.get("status") if isinstance(data.get("status"), str) else None,
                   retried=retried, replayed=data.get("replayed") is True)


@dataclass(frozen=True)
class Usage:
    """Tokens and cost of a job run, summed from its AI calls (the job-level
    ``cost_usd`` is never filled by the server)."""

    ai_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float | None = None

    @classmethod
    def of_calls(cls, calls: Sequence[Mapping[str, Any]]) -> Usage:
        costs = [_number(c.get("cost_usd")) for c in calls]
        known = [c for c in costs if c is not None]
        return cls(ai_calls=len(calls),
                   input_tokens=sum(_whole(c.get("input_tokens")) for c in calls),
                   output_tokens=sum(_whole(c.get("output_tokens")) for c in calls),
                   total_tokens=sum(_whole(c.get("total_tokens")) for c in calls),
                   cost_usd=round(sum(known), 6) if known else None)

    def as_json(self) -> dict[str, Any]:
        return {"ai_calls": self.ai_calls, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "total_tokens": self.total_tokens,
                "cost_usd": self.cost_usd}

    def describe(self) -> str:
        cost = "cost unknown" if self.cost_usd is None else f"${self.cost_usd:.4f}"
        return f"{self.total_tokens} tokens, {cost}"


@dataclass(frozen=True)
class AutomationRun:
    """A job run read back: its state as a ``RunState`` (so gates, history
    and reporters treat it like a run), its events in order, and its usage."""

    automation_id: str
    state: RunState
    events: tuple[Event, ...]
    usage: Usage
    # A pending run whose last start failed on the server: (why, when it was tried).
    # The server's repair restarts it later; a follower says so, never silent.
    start_failed: tuple[str, str] | None = None
    # A pending run the installation's concurrency limit deferred: when (its newest
    # start event). It starts when a job of the installation ends; said, never silent.
    deferred_at: str | None = None
    # Its job metadata: the trigger's input, with the keys the server set over it.
    metadata: Mapping[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        return self.state.status in TERMINAL


def run_from_api(data: Mapping[str, Any], masks: Iterable[str] = ()) -> AutomationRun:
    """``{run: AutomationRunDetail}``'s run, reduced to what mogrun shows (``masks``:
    its request's, the token and the job's secrets, masked in what is cut here
    before it is shown)."""
    calls = [c for c in _list(data.get("ai_calls")) if isinstance(c, dict)]
    usage = Usage.of_calls(calls)
    repo = data.get("repo")
    raw = {"runId": _text(data.get("id")), "status": _text(data.get("status")),
           # its repo's owner/name, said where no history has it (status RUN_ID)
           "repoName": _text(repo.get("full_name")) or None if isinstance(repo, dict) else None,
           "createdAt": data.get("created_at"),
           "updatedAt": data.get("completed_at") or data.get("started_at"),
           "error": data.get("error") or data.get("last_start_error"),
           "startedAt": data.get("started_at"), "completedAt": data.get("completed_at"),
           "usage": usage.as_json()}
    state = RunState.from_api(raw)
    metadata = data.get("metadata")
    return AutomationRun(automation_id=_text(data.get("flow_id")), state=state,
                         events=tuple(_events(data, calls)), usage=usage,
                         start_failed=_start_failed(data, masks),
                         deferred_at=_deferred_at(data),
                         metadata=metadata if isinstance(metadata, dict) else None)


def _newest_start(data: Mapping[str, Any], outcome: str) -> Mapping[str, Any] | None:
    """The newest start event of a pending run, if its outcome is ``outcome``."""
    if _text(data.get("status")) != "pending":
        return None
    starts = [e for e in _dicts(data.get("dispatch_events")) if e.get("event_kind") == "start"]
    last = max(starts, key=lambda e: _text(e.get("created_at")), default=None)
    return last if last is not None and last.get("outcome") == outcome else None


def _deferred_at(data: Mapping[str, Any]) -> str | None:
    """When a pending run was deferred by the installation's concurrency limit (its
    newest start event ``deferred``), or ``None``."""
    last = _newest_start(data, "deferred")
    return None if last is None else _text(last.get("created_at"))


def _start_failed(data: Mapping[str, Any], masks: Iterable[str]) -> tuple[str, str] | None:
    """(why, when) of a pending run whose newest start event is ``start_failed``.
    The server's reason is masked before it is cut: a secret cut in two is masked
    by neither half."""
    last = _newest_start(data, "start_failed")
    if last is None:
        return None
    why = _text(last.get("reason")) or _text(data.get("last_start_error")) or "no reason given"
    why = mask(why, masks)  # the trigger's input may hold env.* values; the server, the token
    if len(why) > 200:  # the server's text, in a wait line: one line, not a page
        why = why[:199] + "…"
    return why, _text(data.get("last_start_attempt_at")) or _text(last.get("created_at"))


def _events(data: Mapping[str, Any], calls: Sequence[Mapping[str, Any]]) -> Iterator[Event]:
    """Dispatch events, node runs and AI-call events as one time-ordered stream.

    Each gets an id that changes when its meaning does (a node's status is in
    its id), so the follower's de-duplication shows each step once."""
    found: list[Event] = []
    for item in _dicts(data.get("dispatch_events")):
        kind, outcome = _text(item.get("event_kind")), _text(item.get("outcome"))
        found.append(Event(id=f"dispatch:{_text(item.get('id'))}", type=f"{kind}_{outcome}",
                           created_at=_text(item.get("created_at")),
                           message=_text(item.get("reason")) or None))
    for node in _dicts(data.get("node_runs")):
        status = _text(node.get("status"))
        when = node.get("completed_at") or node.get("started_at") or node.get("created_at")
        found.append(Event(id=f"node:{_text(node.get('id'))}:{status}", type=f"node_{status}",
                           created_at=_text(when), tool_name=_text(node.get("node_label")) or
                           _text(node.get("node_type")) or None,
                           message=_text(node.get("error")) or None))
    for call in calls:
        for item in _dicts(call.get("events")):
            tool = item.get("tool_name")
            found.append(Event(id=f"ai:{_text(item.get('id'))}",
                               type=_text(item.get("event_type")),
                               created_at=_text(item.get("created_at")),
                               tool_name=tool if isinstance(tool, str) else None,
                               message=_text(item.get("message")) or None))
    found.sort(key=lambda event: event.created_at)
    return iter(found)


# --- calls ---------------------------------------------------------------------


def list_automations(api: Caller, query: str | None = None, **options: Any) -> list[Automation]:
    """Every automation of the account (following the cursor), optionally those
    whose name or id contains ``query`` (case-insensitive)."""
    found: list[Automation] = []
    cursor: str | None = None
    seen: set[str] = set()  # the cursors given
    ids: set[str] = set()  # the automations read
    info = RequestInfo("GET", "/automations")
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"limit": PAGE_LIMIT, **({"cursor": cursor} if cursor else {})}
        data = api.request("GET", "/automations", params=params, **options).data
        rows = payload_field(data, "automations", list, info)
        page = [Automation.from_api(row) for row in rows if isinstance(row, dict)]
        repeated = bool(page) and all(automation.id in ids for automation in page)
        found.extend(page)
        ids.update(automation.id for automation in page)
        cursor = data.get("nextCursor")
        if not isinstance(cursor, str) or not cursor:
            return _matching_query(found, query)
        if cursor in seen or repeated:
            # The same page again, under its cursor or another: paging on would never end.
            raise TransportError(
                "GET /automations answered a nextCursor it gave before, or the same "
                f"automations again ({escape_text(cursor, 80)}): its list cannot be read "
                "to the end", request=info)
        seen.add(cursor)
    raise TransportError(f"GET /automations gave a next page after {MAX_PAGES} pages "
                         f"({MAX_PAGES * PAGE_LIMIT} automations): its list cannot be read "
                         "to the end", request=info)


def _matching_query(found: list[Automation], query: str | None) -> list[Automation]:
    """``found``, or those whose name or id contains ``query`` (case-insensitive)."""
    if query:
        folded = query.casefold()
        found = [a for a in found if folded in a.name.casefold() or folded in a.id.casefold()]
    return found


def resolve_automation(api: Caller, wanted: str, **options: Any) -> Automation:
    """The automation whose id is ``wanted`` (in any case), else whose name is
    (case-insensitively); an unknown or ambiguous name is a usage error naming the
    close ones, unless the name is a secret (``job.automation_secret``): then it is
    never quoted, and no close name hints at it."""
    every = list_automations(api, **options)
    found, named = _matching(every, wanted)
    if found is not None:
        return found
    job = options.get("job")
    secret = job is not None and job.automation_secret
    shown = "'***'" if secret else repr(wanted)
    asking = "" if job is None else f", for job {job.name!r}"  # which of the file's jobs
    if named:
        ids = ", ".join(a.id for a in named)
        raise UsageError(f"automation name {shown} is ambiguous ({ids}){asking}",
                         context=["Name the automation by its id instead."])
    from mogrun.reponames import is_uuid

    if is_uuid(wanted) and not secret:  # an id (a rerun's, or as written): no close name
        raise UsageError(f"no automation with id {shown} on this account (deleted, or "
                         f"another account's){asking}", context=[_LIST_THEM])
    raise UsageError(f"no automation named {shown} on this account{asking}",
                     context=[_close_names(wanted, every) if not secret else _LIST_THEM])


def automations_named(every: Sequence[Automation], wanted: str) -> list[Automation]:
    """Every automation ``wanted`` may mean: the one it names, else each that shares
    the name (a run is read through any of them; only a trigger needs one)."""
    found, named = _matching(every, wanted)
    return [found] if found is not None else named


def _matching(every: Sequence[Automation], wanted: str
              ) -> tuple[Automation | None, list[Automation]]:
    """(the one ``wanted`` names, or ``None``; every automation with that name). An
    id matches in any case, as the server's UUID cast takes it; a name in any case
    too, but one spelled exactly as written wins (``Triage`` beside ``triage``)."""
    folded = wanted.casefold()
    for automation in every:
        if automation.id.casefold() == folded:
            return automation, [automation]
    named = [a for a in every if a.name.casefold() == folded]
    named = [a for a in named if a.name == wanted] or named
    return (named[0] if len(named) == 1 else None), named


_LIST_THEM = "Run `mogrun automations` to list this token's automations."


def _close_names(wanted: str, every: Sequence[Automation]) -> str:
    import difflib  # the not-found path only: `show` imports this module

    names = list(dict.fromkeys(a.name for a in every))  # each name once
    close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.5)
    if not close:
        return _LIST_THEM
    # A name several automations share is ambiguous as written: their ids are meant.
    said = [repr(name) if len(ids := [a.id for a in every if a.name == name]) == 1
            else f"{name!r} (the name of {len(ids)}: by id, {' or '.join(ids)})"
            for name in close]
    return f"Did you mean {', '.join(said)}?"


def trigger_body(repo_id: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What a trigger sends (and the history keeps of it): the repo, and the input."""
    body: dict[str, Any] = {"repoId": repo_id}
    if inputs:
        body["input"] = dict(inputs)
    return body


def trigger(api: Caller, automation_id: str, repo_id: str, inputs: Mapping[str, Any],
            key: str, **options: Any) -> TriggerAnswer:
    """``POST /automations/{id}/trigger`` with ``key``; retries reuse the key."""
    body = trigger_body(repo_id, inputs)
    path = f"/automations/{_segment(automation_id)}/trigger"
    answer = api.request("POST", path, json_body=body, key=key, **options)
    run = payload_field(answer.data, "run", dict, RequestInfo("POST", path, key))
    return TriggerAnswer.from_api(run, retried=answer.attempts > answer.first_sent)


def read_run(api: Caller, automation_id: str, job_run_id: str, **options: Any) -> AutomationRun:
    """``GET /automations/{id}/runs/{jobRunId}``: 404 when the run is not this
    automation's (which is how a foreign duplicate key is recognised)."""
    path = f"/automations/{_segment(automation_id)}/runs/{_segment(job_run_id)}"
    answer = api.request("GET", path, **options)
    return run_from_api(run_detail(answer.data, job_run_id, RequestInfo("GET", path), "id"),
                        answer.masks)


# --- small readers ---------------------------------------------------------------


def _segment(value: str) -> str:
    if not value:
        raise UsageError("an automation or run id is required")
    from urllib.parse import quote  # when a request is made: `show` imports this module

    return quote(value, safe="")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in _list(value) if isinstance(item, dict)]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _whole(value: Any) -> int:
    number = _number(value)
    return int(number) if number is not None and number >= 0 else 0
