"""HTTP for plugins (webhooks, chat notifications) over mogrun's own transport.

``post_json`` shares the transport's rules (no redirects followed, plain
``http://`` only to loopback, a ``mogrun/<version>`` User-Agent) but never
sends the API token and never spends the API's request budget: a webhook is
not a Mogplex request. Errors name only the URL's scheme and host, because a
webhook URL is itself a secret.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mogrun.errors import RequestInfo, TransportError

if TYPE_CHECKING:
    from mogrun.api.transport import Urllib3Transport

_lock = threading.Lock()
_transport: Urllib3Transport | None = None


def _shared_transport() -> Urllib3Transport:
    global _transport
    with _lock:
        if _transport is None:
            from mogrun.api.transport import Urllib3Transport

            _transport = Urllib3Transport(connect_timeout=5.0, read_timeout=10.0)
        return _transport


def post_json(
    url: str, payload: Any, *, timeout: float = 5.0, headers: Mapping[str, str] | None = None
) -> int:
    """POST ``payload`` as JSON to ``url``; returns the HTTP status (3xx included,
    never followed). Raises ``TransportError`` when no answer came, and
    ``UsageError`` for a URL mogrun refuses (non-loopback ``http://``)."""
    import json  # here: mogrun.plugin re-exports this, and check and show import that

    try:
        body = json.dumps(payload, default=str).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TransportError(f"the payload is not JSON-serialisable: {exc}") from exc
    sent = {"Content-Type": "application/json", "Accept": "*/*"}
    for name, value in (headers or {}).items():
        if name.lower() != "authorization" or "mog_" not in value:
            sent[name] = value
    try:
        response = _shared_transport().send("POST", url, headers=sent, body=body, timeout=timeout)
    except TransportError as error:
        from mogrun.api.transport import origin_of

        # the full URL is a secret: the error names only its scheme and host
        raise error.evolve(request=RequestInfo("POST", origin_of(url))) from error
    return response.status
