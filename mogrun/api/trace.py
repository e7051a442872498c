"""The ``-v`` HTTP trace: one line per request and per response.

Lines name the method, URL, status, milliseconds and Idempotency-Key; the
token is shown masked (``mog_***``) and masked again in every line, so a
server echoing it back cannot leak it into a CI log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from mogrun.api.text import escape_text
from mogrun.api.transport import Response
from mogrun.errors import MogrunError, RequestInfo
from mogrun.masking import mask, mask_token


class Tracer:
    """Formats trace lines and hands them to ``write`` (the CLI's stderr)."""

    def __init__(self, write: Callable[[str], None], token: str) -> None:
        self._write = write
        self._token = token

    def _emit(self, line: str, secrets: Iterable[str] = ()) -> None:
        self._write(mask(escape_text(line), [self._token, *secrets]))

    def request(self, info: RequestInfo, secrets: Iterable[str] = ()) -> float:
        """Trace a request about to be sent; returns its start time. ``secrets``
        (the job's env.* values, say) are masked like the token."""
        self._emit(f"> {info.method} {info.url}{_key(info)} "
                   f"[Authorization: Bearer {mask_token(self._token)}]", secrets)
        return time.perf_counter()

    def response(self, info: RequestInfo, started: float, response: Response,
                 secrets: Iterable[str] = ()) -> None:
        retry_after = response.header("retry-after")
        extra = f" Retry-After: {retry_after}" if retry_after else ""
        self._emit(f"< {response.status} {info.method} {info.url} "
                   f"{_ms(started)} ms{_key(info)}{extra}", secrets)

    def failure(self, info: RequestInfo, started: float, error: MogrunError,
                secrets: Iterable[str] = ()) -> None:
        self._emit(f"< --- {info.method} {info.url} {_ms(started)} ms{_key(info)} "
                   f"({error.message})", secrets)

    def note(self, text: str, secrets: Iterable[str] = ()) -> None:
        self._emit(f"* {text}", secrets)


def _key(info: RequestInfo) -> str:
    return f" Idempotency-Key: {info.idempotency_key}" if info.idempotency_key else ""


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
