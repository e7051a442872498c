"""HTTP for plugins (webhooks, chat notifications) over mogrun's own transport.

``post_json`` (and ``post_json_answer``, which also gives the answer's
``Retry-After``) shares the transport's rules (no redirects followed, plain
``http://`` only to loopback, a ``mogrun/<version>`` User-Agent) but never
sends the API token and never spends the API's request budget: a webhook is
not a Mogplex request. Errors name only the URL's scheme and host, because a
webhook URL is itself a secret; so does the ``-v`` trace of each post
(``trace_posts``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from mogrun.errors import RequestInfo, TransportError

if TYPE_CHECKING:
    from mogrun.api.proxies import Proxies
    from mogrun.api.trace import Tracer
    from mogrun.api.transport import Urllib3Transport

_lock = threading.Lock()
_transport: Urllib3Transport | None = None
_tracer: Tracer | None = None  # where each post is traced (-v); None: not traced
_proxies: Proxies | None = None  # what posts go through (the invocation's environment)


def _shared_transport() -> Urllib3Transport:
    global _transport
    with _lock:
        if _transport is None:
            from mogrun.api.transport import Urllib3Transport

            _transport = Urllib3Transport(connect_timeout=5.0, read_timeout=10.0,
                                          proxies=_proxies)
        return _transport


def use_proxies(proxies: Proxies) -> None:
    """Posts go through ``proxies`` (``https_proxy`` & co.), as the API's requests do:
    a webhook behind a mandatory proxy was never delivered, every run, said only as a
    warning. Another invocation in this process with other ones gets its own transport."""
    global _transport, _proxies
    with _lock:
        if proxies != _proxies:
            _proxies, _transport = proxies, None


def trace_posts(write: Callable[[str], None] | None) -> None:
    """Trace each post through ``write`` as the API's requests are traced (``-v``),
    or no more (``None``): a plugin's post is a request of the invocation too."""
    global _tracer
    from mogrun.api.trace import Tracer

    _tracer = None if write is None else Tracer(write, token="")  # no token is sent


class PostAnswer(NamedTuple):
    """What a post got: its HTTP status, and the seconds its ``Retry-After`` asks
    for (a 429's, a 503's), ``None`` without one: a webhook that is rate-limited
    says when to come back, and a retry sooner is refused again."""

    status: int
    retry_after: float | None


def post_json(
    url: str, payload: Any, *, timeout: float = 5.0, headers: Mapping[str, str] | None = None
) -> int:
    """POST ``payload`` as JSON to ``url``; returns the HTTP status as soon as it
    came (3xx included, never followed). The body is not read: a post that got a
    status was delivered, and a body that is huge, cut off or slow must not make
    it look undelivered (and be posted again). Raises ``TransportError`` when no
    status came within ``timeout``, and ``UsageError`` for a URL mogrun refuses
    (non-loopback ``http://``)."""
    return post_json_answer(url, payload, timeout=timeout, headers=headers).status


def post_json_answer(
    url: str, payload: Any, *, timeout: float = 5.0, headers: Mapping[str, str] | None = None
) -> PostAnswer:
    """``post_json``, with the answer's ``Retry-After`` too (``PostAnswer``)."""
    import json  # here: mogrun.plugin re-exports this, and check and show import that

    from mogrun.api.transport import origin_of

    try:
        body = json.dumps(payload, default=str).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TransportError(f"the payload is not JSON-serialisable: {exc}") from exc
    sent = {"Content-Type": "application/json", "Accept": "*/*"}
    for name, value in (headers or {}).items():
        if name.lower() != "authorization" or "mog_" not in value:
            sent[name] = value
    shown = RequestInfo("POST", origin_of(url))  # the full URL is a secret: never shown
    tracer, started = _tracer, time.perf_counter()
    try:
        response = _shared_transport().send("POST", url, headers=sent, body=body,
                                            timeout=timeout, read_body=False)
    except TransportError as error:
        failed = error.evolve(request=shown)
        if tracer is not None:
            tracer.failure(shown, started, failed)
        raise failed from error
    if tracer is not None:
        tracer.response(shown, started, response)
    from mogrun.api.envelope import parse_retry_after

    return PostAnswer(response.status, parse_retry_after(response.header("Retry-After")))
