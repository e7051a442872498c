"""Completing an API error for the user: secrets masked, and what to check.

Helpers of the client's request loop, kept apart so the loop stays short.
"""

from __future__ import annotations

import re
from typing import Any

from mogrun.errors import (
    ConnectError,
    Interrupted,
    MogrunError,
    ProtocolError,
    RateLimitedError,
    RequestInfo,
    ServiceUnavailableError,
    StartInterrupted,
    TransportError,
    UnansweredStartError,
    UnconfirmedStartError,
    is_retryable,
)


def source_words(source: str) -> str:
    return {"task file": "the task file's [mogplex] url", "default": "the default"}.get(
        source, source)


# The scope a 403's message names: "Missing required scope: read." (the server's),
# "scope 'read'", "the 'read' scope". A name is a word (read, write, runs:read).
_SCOPE_NAMED = re.compile(
    r"\bscope:\s*[\"'`]?(?P<a>\w[\w:.-]{0,39})"
    r"|\bscope\s+[\"'`](?P<b>\w[\w:.-]{0,39})[\"'`]"
    r"|[\"'`](?P<c>\w[\w:.-]{0,39})[\"'`]\s+scope\b", re.IGNORECASE)


def scope_hint(message: str) -> str | None:
    """What a 403 asks of the token when the server's ``message`` names the scope
    (``Missing required scope: read.``); None when it names none (the envelope's
    hint then says what starts and cancels need)."""
    found = _SCOPE_NAMED.search(message)
    if found is None:
        return None
    scope = (found.group("a") or found.group("b") or found.group("c")).rstrip(".:-")
    return f"The token lacks the '{scope}' scope this needs."


def short_cause(error: MogrunError) -> str:
    """``connection refused`` rather than the whole message, for a retry line."""
    text = error.message
    if isinstance(error, ConnectError) and ": " in text:
        return text.rsplit(": ", 1)[1].lower()
    return text


def interrupted(stop: Interrupted, info: RequestInfo, sent: bool) -> Interrupted:
    """A signal while a start (a request with an Idempotency-Key: a run's, an
    automation's trigger) was unanswered or retried after an attempt that may have
    reached the server: say so (the engine finds the run with the same key)."""
    if info.idempotency_key is None or not sent or isinstance(stop, StartInterrupted):
        return stop
    return StartInterrupted(stop.exit_code, "interrupted while a start was unanswered")


def never_processed(error: MogrunError) -> bool:
    """The server surely did not act on this attempt (refused at the door): no
    connection, a 429, or a 503 (the server's limit service down, which it asks
    before a run is made; a proxy's 503 has no server behind it). A signal while
    only such attempts were made leaves no run to find: none is started then."""
    return isinstance(error, ConnectError | RateLimitedError | ServiceUnavailableError)


def unanswered(error: MogrunError, info: RequestInfo, sent: bool) -> MogrunError:
    """A start (a request with an Idempotency-Key) given up on: when an attempt may
    have reached the server (``sent``) and the last answer does not settle it (a
    dropped connection, a timeout, a 5xx, a 429: the start limit is checked before
    the key's replay), its run may exist (``UnansweredStartError``); else ``error``."""
    if info.idempotency_key is None or not sent or not is_retryable(error):
        return error
    return UnansweredStartError(error)


def payload_field(data: Any, name: str, kind: type, info: RequestInfo) -> Any:
    if not isinstance(data, dict) or not isinstance(data.get(name), kind):
        raise bad_payload(info, f"'{name}'")
    return data[name]


def run_detail(data: Any, run_id: str, info: RequestInfo, id_field: str = "runId") -> Any:
    """The answer's ``run``, which must be the run asked for: one whose ``id_field``
    names another (a cache or a balancer that mixed two answers up) is a
    ``ProtocolError``, never taken for this run's state, which had a failing run
    judged by another's success. One that names none is this run's (a server that
    leaves the id out)."""
    detail = payload_field(data, "run", dict, info)
    named = detail.get(id_field)
    if named == run_id:  # nearly every answer: no case to fold
        return detail
    if isinstance(named, str) and named and named.casefold() != run_id.casefold():
        raise ProtocolError(
            f"the answer to {info.method} {info.url} is about run {named!r}, not run "
            f"{run_id!r}", request=info,
            context=["A proxy or cache between mogrun and the API mixed two answers up; "
                     "the run's state is not known."])
    return detail


def bad_payload(info: RequestInfo, wanted: str) -> TransportError:
    return TransportError(
        f"the answer to {info.method} {info.url} lacks {wanted}",
        request=info, context=["The server's payload does not match the Mogplex v1 API."],
    )


def unconfirmed_start(info: RequestInfo) -> UnconfirmedStartError:
    """A start the server accepted (2xx) without naming its run: not one that could
    not start, as it may have made a run; sent again under a new key, it could make
    a second."""
    return UnconfirmedStartError(
        f"the server accepted the start ({info.method} {info.url}) but named no run (its "
        "answer has no runId): the run may have started", request=info,
        context=["The server's payload does not match the Mogplex v1 API.",
                 "Check for the run before starting it again: under a new Idempotency-Key, "
                 "a second run could start."])
