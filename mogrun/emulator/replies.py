"""The API's plain values: a ``Request`` in, a ``Reply`` out, the envelope, and
the query parameters read as the server reads them."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class UnreadBody(ValueError):
    """A body the HTTP layer left unread (too large, or a length it could not
    make out), met where a handler reads it: 400 with this message."""


@dataclass(frozen=True)
class Request:
    """One request. ``unread`` says why its body was not read: the request is
    routed, authorised and recorded like any other (the server's handlers check
    the token before they read a body), and reading ``body`` raises ``UnreadBody``."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    raw_body: bytes = b""
    raw_query: str = ""
    unread: str | None = None

    @property
    def body(self) -> bytes:
        if self.unread is not None:
            raise UnreadBody(self.unread)
        return self.raw_body


@dataclass(frozen=True)
class Reply:
    """What to send. ``action`` "drop" closes the socket without an answer."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    action: str | None = None
    fault: str | None = None


def json_reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
    try:
        text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a caller's Infinity (JSON.parse reads 1e400 so) kept in a value
        text = json.dumps(as_javascript_keeps(payload), separators=(",", ":"))
    return Reply(status, text.encode("utf-8"),
                 {"Content-Type": "application/json", **(headers or {})})


def as_javascript_keeps(value: Any) -> Any:
    """A parsed JSON value as the server hands it back after ``JSON.parse`` and
    ``JSON.stringify``: every number is a double, so ``1.0`` comes back ``1``, an
    integer past 2**53 rounded, and one past a double's range ``null``."""
    if isinstance(value, dict):
        return {key: as_javascript_keeps(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_javascript_keeps(item) for item in value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    try:
        double = float(value)
    except OverflowError:  # an integer past a double's range: Infinity
        return None
    if not math.isfinite(double):  # JSON.stringify writes Infinity and NaN null
        return None
    # JSON.stringify writes a whole double below 1e21 in digits, without ".0".
    return int(double) if double.is_integer() and abs(double) < 1e21 else double


def ok(payload: Any, status: int = 200) -> Reply:
    return json_reply(status, {"ok": True, "data": payload})


def error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Reply:
    return json_reply(status, {"ok": False, "error": {"code": code, "message": message}}, headers)


# Next.js's own page for a path no route matches (its app router renders the
# not-found page, HTML, for /api paths too): no API envelope, which is how a
# client tells a wrong base URL from the API's own NOT_FOUND.
NOT_FOUND_PAGE = (b'<!DOCTYPE html><html><head><meta charSet="utf-8"/>'
                  b"<title>404: This page could not be found.</title></head><body>"
                  b"<h1>404</h1><h2>This page could not be found.</h2></body></html>")


def no_route() -> Reply:
    """A path that is no route of the server's."""
    return Reply(404, NOT_FOUND_PAGE, {"Content-Type": "text/html; charset=utf-8"})


def uncaught() -> Reply:
    """What Next.js sends when a route handler throws (its
    ``handleInternalServerErrorResponse``): a bare 500, no envelope, no body."""
    return Reply(500)


# What JavaScript's String.prototype.trim takes off: its WhiteSpace and
# LineTerminator characters. Python's str.strip() also takes U+001C..U+001F and
# U+0085, and leaves U+FEFF.
JS_WHITESPACE = ("\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                 "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff")


def js_trim(text: str) -> str:
    """``text.trim()`` as the server's JavaScript trims it."""
    return text.strip(JS_WHITESPACE)


def param(request: Request, name: str) -> str | None:
    """A query parameter, trimmed; None when absent or blank (as the server reads them)."""
    values = request.query.get(name)
    value = js_trim(values[0]) if values else ""
    return value or None


# JavaScript's parseInt(value, 10) after its own leading trim (which is js_trim's):
# ASCII digits only (Python's \d also takes full-width and Arabic-Indic ones).
_LEADING_INT = re.compile(r"[+-]?[0-9]+")


def list_limit(request: Request, default: int = 100, most: int = 200) -> int:
    """``limit`` as the server's ``Number.parseInt(value, 10)`` reads it: leading
    ASCII digits count ("12abc" is 12), no number — or one too long for a double,
    which parseInt makes Infinity — gives the default, the rest is clamped to 1..most."""
    match = _LEADING_INT.match(param(request, "limit") or "")
    number = float(match.group()) if match else math.inf  # a double, as JavaScript's
    return min(most, max(1, int(number))) if math.isfinite(number) else default
