"""The API's JSON envelope, and the typed error each answer maps to.

Every answer is ``{"ok": true, "data": ...}`` or ``{"ok": false, "error":
{"code", "message"}}``. Anything else (an HTML error page from a proxy, an
empty or truncated body, JSON without ``ok``) shows the HTTP status and the
first bytes, and its status decides what it is (``_unenveloped``): a 4xx is
the error an envelope of that status would be (401 ``UnauthorizedError``, 403
``ForbiddenError``, 429 ``RateLimitedError``, any other 4xx
``RequestRefusedError``), but for a 404, which is not the API's (only its
``NOT_FOUND`` envelope, ``NotFoundError``, says that a run does not exist): a
``ProtocolError`` naming where it came from. A 408 (the Request Timeout of a
proxy), like anything else, is a ``TransportError``, retried like a 5xx.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import chain, compress
from typing import Any

from mogrun.api.failures import scope_hint
from mogrun.api.proxies import CREDENTIALS_FORM
from mogrun.api.text import escape_text, preview
from mogrun.api.transport import Response, origin_of
from mogrun.errors import (
    ApiError,
    ForbiddenError,
    IdempotencyConflictError,
    MogrunError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RequestInfo,
    RequestRefusedError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    UnauthorizedError,
)

_BY_CODE: dict[str, type[ApiError]] = {
    "BAD_REQUEST": RequestRefusedError,
    "NOT_FOUND": NotFoundError,
    "CONFLICT": RequestRefusedError,
    "IDEMPOTENCY_CONFLICT": IdempotencyConflictError,
    "INTERNAL_ERROR": ServerError,
    "UNAUTHORIZED": UnauthorizedError,
    "FORBIDDEN": ForbiddenError,
    "RATE_LIMITED": RateLimitedError,
    "SERVICE_UNAVAILABLE": ServiceUnavailableError,
}
_BY_STATUS: dict[int, type[ApiError]] = {
    401: UnauthorizedError,
    403: ForbiddenError,
    429: RateLimitedError,
    503: ServiceUnavailableError,
}
_HINTS: dict[type[ApiError], str] = {
    UnauthorizedError: "Check MOGPLEX_API_KEY: the token is missing, invalid, expired or revoked.",
    ForbiddenError: "The token lacks the scope this needs (starting or cancelling needs 'write').",
}


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` in seconds, from delta-seconds or an HTTP-date (any of its
    three forms, RFC 9110: IMF-fixdate, RFC 850's and asctime's, all GMT)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when: datetime = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # asctime's form, or "-0000": an HTTP-date is GMT
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


def unwrap(response: Response, request: RequestInfo, secrets: Sequence[str] = ()) -> Any:
    """The payload of a successful answer; else raise the matching error (what it
    quotes of the answer cut after ``secrets`` are masked: an echoed token cut in
    two would escape the masking the message gets later)."""
    status = response.status
    if 300 <= status < 400:
        raise redirect_error(response, request, secrets)
    document = _decode(response, request, secrets)
    if document.get("ok") is True and 200 <= status < 300:
        return document.get("data")
    raise api_error(response, document, request, secrets)


def _decode(response: Response, request: RequestInfo,
            secrets: Sequence[str] = ()) -> dict[str, Any]:
    body = response.body
    try:
        document = sanitised(json.loads(body.decode("utf-8")), body)
    except (RecursionError, TooDeep):
        reason = f"JSON nested more than {MAX_DEPTH} levels deep"
        document = None
    except (UnicodeDecodeError, ValueError):
        reason = "an empty body" if not body else "a body that is not valid JSON"
        document = None
    else:
        reason = "JSON without the envelope's 'ok' field"
    if not isinstance(document, dict) or not isinstance(document.get("ok"), bool):
        raise _unenveloped(response, request, f"{reason}: {preview(body, secrets)}")
    return document


# A 4xx without the envelope that asks to be sent again: a proxy's Request Timeout
# (it waited too long for the request) is a timeout like any other. (A 429 is one
# too, but has its own error: ``RateLimitedError``, which pauses the budget.)
_TRANSIENT_4XX = frozenset({408})


def _unenveloped(response: Response, request: RequestInfo, carried: str) -> MogrunError:
    """The error an answer without the envelope is (``carried``: what its body was,
    and its first bytes): see the module's docstring."""
    status = response.status
    # A proxy's error page may still say when to come back; honour it.
    retry_after = parse_retry_after(response.header("retry-after"))
    context = [f"request: {request}"]
    if status == 404:  # no "no such run": the API says that with NOT_FOUND
        return ProtocolError(
            f"HTTP 404 from {origin_of(request.url)} is not the Mogplex API's answer: "
            f"{request.method} {_path(request)} carried {carried}", request=request,
            status=status, context=[*context, "Only the API's own NOT_FOUND answer says that "
                                    "something does not exist; this one came from elsewhere "
                                    "(a proxy, or a URL that is not the API's)."])
    if status == 407:  # Proxy Authentication Required: a proxy's, never the API's
        return ProtocolError(
            f"HTTP 407 from {origin_of(request.url)}: a proxy between here and the API asks "
            f"for credentials ({request.method} {_path(request)} carried {carried})",
            request=request, status=status,
            context=[*context, "Give the proxy's address and credentials in https_proxy: "
                     f"https_proxy={CREDENTIALS_FORM} (percent-encoded)."])
    message = f"HTTP {status} from {request.method} {_path(request)} carried {carried}"
    if 400 <= status < 500 and status not in _TRANSIENT_4XX:  # a 401 is a 401
        return _by_status(status, message, request, retry_after)
    return TransportError(message, request=request, status=status, retry_after=retry_after,
                          context=context)


class TooDeep(ValueError):
    """A document nested deeper than any answer of the API (a broken proxy, a hostile
    server): refused whole, before anything recursive (masking, output) meets it."""


def sanitised(document: Any, body: bytes) -> Any:
    """``document`` with lone UTF-16 surrogates (valid JSON: what a JavaScript server
    sends when it cuts a string mid-emoji) replaced by U+FFFD, so no later print,
    history write or XML report fails on them; deeper than ``MAX_DEPTH``: ``TooDeep``.

    Each check walks the document only when the raw body could need it, and the
    depth check visits only its lists and objects: a listing of 200 sandboxes has
    more brackets than ``MAX_DEPTH`` but is three levels deep, and is read every
    poll interval of a fan-out."""
    if _SURROGATE.search(body) is not None:
        return _walk(document, 0)
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH:
        _check_depth(document)
    return document


MAX_DEPTH = 32  # the API's answers are at most about 6 levels deep
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _walk(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _whole(value)
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise TooDeep(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        return {_whole(k): _walk(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, depth + 1) for v in value]
    return value


def _check_depth(document: Any) -> None:
    """``TooDeep`` where ``_walk`` would raise it, without copying anything.

    Level by level, the children of a level's lists and objects are gathered and
    sorted in C (``chain``, ``compress``): every events answer of a fan-out comes
    through here, and a long run's holds hundreds of objects."""
    level = [document] if type(document) in _CONTAINERS else []
    for _ in range(MAX_DEPTH):
        if not level:
            return
        objects = [value for value in level if type(value) is dict]
        children = list(chain.from_iterable(map(dict.values, objects)))
        if len(objects) < len(level):
            children.extend(chain.from_iterable(v for v in level if type(v) is list))
        level = list(compress(children, map(_CONTAINERS.__contains__, map(type, children))))
    if level:
        raise TooDeep(f"nested more than {MAX_DEPTH} levels deep")


_CONTAINERS = frozenset((dict, list))  # what json.loads builds nested values of


def _whole(text: str) -> str:
    return text if text.isascii() else _LONE.sub("\ufffd", text)


_LONE = re.compile("[\ud800-\udfff]")  # a valid pair is decoded into one character


def api_error(response: Response, document: dict[str, Any], request: RequestInfo,
              secrets: Sequence[str] = ()) -> ApiError:
    """The typed error for an error envelope (code first, then HTTP status)."""
    status = response.status
    raw_error = document.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    code = str(error.get("code") or f"HTTP_{status}")
    message = escape_text(str(error.get("message") or "no message"), 500, secrets)
    cls = _BY_CODE.get(code) or _status_class(status)
    retry_after = parse_retry_after(response.header("retry-after"))
    return _typed(cls, f"{message} ({code}, HTTP {status})", status, code, request, retry_after)


def _status_class(status: int) -> type[ApiError]:
    """The error an answer of ``status`` is when no code says otherwise."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 or status < 400 else RequestRefusedError
    return cls


def _by_status(status: int, message: str, request: RequestInfo,
               retry_after: float | None) -> ApiError:
    """A 4xx whose body is not the envelope (a proxy's or an auth gateway's page):
    the error its status means, as an envelope without a code would be, so a
    401 exits 64, a 403 65, a 429 is retried after its Retry-After and a 400 is
    never retried (it is not a transport failure: an answer came)."""
    return _typed(_status_class(status), message, status, f"HTTP_{status}", request,
                  retry_after)


def _typed(cls: type[ApiError], message: str, status: int, code: str, request: RequestInfo,
           retry_after: float | None) -> ApiError:
    context = [f"request: {request}"]
    if cls in _HINTS:  # a 403's names the scope its message names, when it names one
        context.append((scope_hint(message) if cls is ForbiddenError else None) or _HINTS[cls])
    if request.idempotency_key and cls is IdempotencyConflictError:
        context.append(f"Idempotency-Key {request.idempotency_key!r} was used before with a "
                       "different request; use --rerun or another idempotency_key.")
    return cls(message, status=status, code=code, request=request, retry_after=retry_after,
               context=context)


def redirect_error(response: Response, request: RequestInfo,
                   secrets: Sequence[str] = ()) -> ApiError:
    """A 3xx is never followed: the token must only go to the configured host."""
    location = escape_text(response.header("location") or "(no Location)", 200, secrets)
    return ApiError(
        f"the server answered HTTP {response.status} redirecting to {location}; "
        "mogrun does not follow redirects",
        status=response.status, code="REDIRECT", request=request,
        context=[f"request: {request}",
                 "Point --url / MOGPLEX_URL at the final address (an https:// URL)."],
    )


def _path(request: RequestInfo) -> str:
    marker = "/api/v1/mogplex"
    return request.url.split(marker, 1)[1] if marker in request.url else request.url
