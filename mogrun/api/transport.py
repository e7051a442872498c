"""The one module of mogrun that imports urllib3.

A transport sends one HTTP request and returns the raw answer; it knows
nothing about the Mogplex envelope, retries or budgets (the client does).
``Urllib3Transport`` never follows redirects and never retries on its own:
mogrun retries through its retry policy so every retry is counted, paced and
shown. Failures to get any answer become ``TransportError`` with urllib3's
real cause (``MaxRetryError.reason``) unwrapped.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import SplitResult, urlsplit

from mogrun import __version__
from mogrun.api.text import preview
from mogrun.errors import ConnectError, RequestInfo, TransportError, UsageError
from mogrun.loopback import NOT_HTTP, url_refusal

if TYPE_CHECKING:
    import urllib3


@dataclass(frozen=True)
class Response:
    """One HTTP answer. Header names are lower-cased."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name, or ``None``."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


class Transport(Protocol):
    """What the client needs from HTTP: one request in, one answer out."""

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,
    ) -> Response: ...


MAX_BODY = 32 * 2**20  # no API answer comes near this; a misbehaving server might


def refuse_insecure_url(url: str) -> None:
    """Refuse, before any socket, a URL mogrun must not send to.

    Only http(s) is spoken, and plain ``http://`` only to loopback: tokens and
    webhook URLs travel over HTTPS. Both parsers (the stdlib's and urllib3's, which
    connects) must agree. Each ends the host part at the first ``/`` after
    ``//``, so the verdict is the one for the URL cut there, remembered: a
    fan-out sends thousands of requests to one origin.
    """
    start = url.find("//")
    cut = url.find("/", start + 2) if start >= 0 else -1
    _check_origin(url if cut < 0 else url[:cut])


@functools.lru_cache(maxsize=32)
def _check_origin(url: str) -> None:
    """``UsageError`` for a URL mogrun must not send to (only answers are cached)."""
    parts = urlsplit(url)
    _refuse(url_refusal(parts.scheme, parts.hostname), url, parts.hostname)
    _refuse_by_urllib3(url)


def _refuse_by_urllib3(url: str) -> None:
    """The same rule for the host urllib3 will really connect to: its parser and
    the stdlib's disagree on odd URLs (``http://10.0.0.1\\@127.0.0.1/``)."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parsed = parse_url(url)
    except LocationParseError as exc:
        raise UsageError(f"not a valid URL: {origin_of(url)!r}") from exc
    _refuse(url_refusal(parsed.scheme, parsed.host), url, parsed.host)


def _refuse(refusal: str | None, url: str, host: str | None) -> None:
    if refusal == NOT_HTTP:
        raise UsageError(f"not an http(s) URL: {origin_of(url)!r}")
    if refusal is not None:
        raise UsageError(f"refusing plain http:// to {host}: only loopback may use http",
                         context=["Use an https:// URL."])


def origin_of(url: str) -> str:
    """Scheme and host of a URL, for messages (paths may hold secrets)."""
    parts = urlsplit(url)
    if parts.scheme and parts.hostname:
        port = f":{parts.port}" if _safe_port(parts) else ""
        return f"{parts.scheme}://{parts.hostname}{port}"
    return url[:40]


def _safe_port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


class Urllib3Transport:
    """A shared urllib3 PoolManager: timeouts, User-Agent, no redirects, no retries.

    ``maxsize`` keeps enough connections per host for ``-j 50`` runs polling
    at once; the manager is built on first use so importing this module (and
    constructing a transport) stays cheap.
    """

    def __init__(
        self,
        user_agent: str = f"mogrun/{__version__}",
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        *,
        maxsize: int = 64,
    ) -> None:
        self.user_agent = user_agent
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._maxsize = maxsize
        self._pool: urllib3.PoolManager | None = None
        self._lock = threading.Lock()

    def _manager(self) -> urllib3.PoolManager:
        with self._lock:
            if self._pool is None:
                import urllib3

                self._pool = urllib3.PoolManager(
                    num_pools=16, maxsize=self._maxsize, block=False, retries=False
                )
            return self._pool

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,
    ) -> Response:
        """Send one request; any answer (even 3xx/5xx) is returned, never followed."""
        refuse_insecure_url(url)
        import urllib3

        all_headers = {"User-Agent": self.user_agent, **headers}
        deadline = time.monotonic() + timeout
        limits = urllib3.Timeout(connect=min(self.connect_timeout, timeout), read=timeout)
        try:
            raw = self._manager().request(
                method, url, body=body, headers=all_headers, timeout=limits,
                retries=False, redirect=False, preload_content=False,
            )
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise translate_error(exc, method, url, timeout) from exc
        names = {k.lower(): v for k, v in raw.headers.items()}
        return Response(status=raw.status, headers=names,
                        body=_read_body(raw, RequestInfo(method, url), timeout, deadline))

    def close(self) -> None:
        """Close pooled connections (tests; long-lived processes)."""
        with self._lock:
            if self._pool is not None:
                self._pool.clear()


def _read_body(raw: urllib3.BaseHTTPResponse, request: RequestInfo, timeout: float,
               deadline: float) -> bytes:
    """The whole body; a cut-off answer still shows its status and first bytes.

    The read timeout only bounds each read, so a server sending a byte at a
    time could hold us for ever: a watchdog shuts the socket at ``deadline``.
    """
    import urllib3

    chunks: list[bytes] = []
    size = 0
    watchdog = _WATCHDOGS.watch(raw, deadline)
    try:
        for chunk in raw.stream(65536):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY:
                raise TransportError(
                    f"HTTP {raw.status} answer from {origin_of(request.url)} is larger than "
                    f"{MAX_BODY // 2**20} MiB: {preview(b''.join(chunks))}",
                    request=request, status=raw.status)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        if watchdog.fired or isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
            raise translate_error(TimeoutError(), request.method, request.url, timeout) from exc
        raise TransportError(
            f"HTTP {raw.status} answer from {origin_of(request.url)} was cut off after "
            f"{size} bytes: {preview(b''.join(chunks))}",
            request=request, status=raw.status) from exc
    finally:
        watchdog.cancel()
        raw.release_conn()
    if watchdog.fired:  # the shut socket may have looked like the body's end
        raise translate_error(TimeoutError(), request.method, request.url, timeout)
    return b"".join(chunks)


class _Watch:
    """One response's deadline; ``fire`` shuts its socket unless cancelled first."""

    __slots__ = ("_done", "_lock", "_raw", "deadline", "fired")

    def __init__(self, raw: urllib3.BaseHTTPResponse, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self._raw: urllib3.BaseHTTPResponse | None = raw
        self._lock = threading.Lock()
        self._done = False

    def __lt__(self, other: _Watch) -> bool:
        return self.deadline < other.deadline

    @property
    def done(self) -> bool:
        return self._done

    def fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            self._done = True
            sock = getattr(getattr(self._raw, "connection", None), "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        with self._lock:
            self._done = True
            self._raw = None


class _Watchdogs:
    """One daemon thread keeps every response's deadline (a thread per request
    cost 18% of the GIL's samples in a 200-run fan-out). Cancelled watches stay
    in the heap until they reach its top: cancelling costs nothing."""

    def __init__(self) -> None:
        self._heap: list[_Watch] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, raw: urllib3.BaseHTTPResponse, deadline: float) -> _Watch:
        entry = _Watch(raw, deadline)
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mogrun-watchdog",
                                                daemon=True)
                self._thread.start()
            if self._heap[0] is entry:
                self._cond.notify()
        return entry

    def _run(self) -> None:
        with self._cond:
            while True:
                heap = self._heap
                while heap and heap[0].done:
                    heapq.heappop(heap)
                if not heap:
                    self._cond.wait()
                    continue
                left = heap[0].deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(heap).fire()


_WATCHDOGS = _Watchdogs()


def translate_error(exc: BaseException, method: str, url: str, timeout: float) -> TransportError:
    """urllib3's error as a TransportError naming the real cause."""
    from urllib3 import exceptions as u3

    cause = exc
    while isinstance(cause, u3.MaxRetryError) and cause.reason is not None:
        cause = cause.reason
    where = origin_of(url)
    request = RequestInfo(method, url)
    if isinstance(cause, u3.NewConnectionError | u3.ConnectTimeoutError):
        reason = _reason_text(cause)
        if isinstance(cause, u3.NameResolutionError):
            reason = "the host name does not resolve"
        elif not isinstance(cause, u3.NewConnectionError):
            reason = "connect timed out"
        return ConnectError(f"cannot connect to {where}: {reason}", request=request)
    if isinstance(cause, u3.ReadTimeoutError | TimeoutError):
        return TransportError(
            f"no answer from {where} within {timeout:g} s (read timed out)", request=request
        )
    if isinstance(cause, u3.SSLError):
        return TransportError(f"TLS failure talking to {where}: {_reason_text(cause)}",
                              request=request)
    if isinstance(cause, u3.ProtocolError):
        return TransportError(
            f"the connection to {where} was dropped before a complete answer: "
            f"{_reason_text(cause)}", request=request)
    return TransportError(f"HTTP request to {where} failed: {_reason_text(cause)}",
                          request=request)


def _reason_text(exc: BaseException) -> str:
    """The innermost useful description of a network error."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    args = getattr(exc, "args", ())
    for arg in reversed(args):
        if isinstance(arg, BaseException):
            return _reason_text(arg)
    text = str(exc) or type(exc).__name__
    # urllib3 prefixes messages with the connection object's repr.
    if text.startswith("<") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return text
