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
import itertools
import math
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import SplitResult, urlsplit

from mogrun import __version__
from mogrun.api.proxies import CREDENTIALS_FORM, Proxies
from mogrun.api.settings import shown_url
from mogrun.api.text import preview
from mogrun.durations import format_duration
from mogrun.errors import (
    ConnectError,
    Interrupted,
    MogrunError,
    ProtocolError,
    RequestInfo,
    TransportError,
    UsageError,
)
from mogrun.loopback import DOTTED_LOOPBACK, NOT_HTTP, host_problem, url_refusal
from mogrun.threads import NoThread, start_without_signals

if TYPE_CHECKING:
    import urllib3


@dataclass(frozen=True)
class Response:
    """One HTTP answer. Header names in any case: ``header`` finds them (urllib3's
    own case-insensitive mapping is kept as it is, not copied for every answer)."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name, or ``None``."""
        wanted = name.lower()
        getlist = getattr(self.headers, "getlist", None)
        if getlist is not None:  # urllib3's: a repeated header is the last one, as a dict's
            values = getlist(wanted)
            return values[-1] if values else None
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


class Transport(Protocol):
    """What the client needs from HTTP: one request in, one answer out; a request
    sent with ``stop`` is given up (``Interrupted``) once that event is set.
    ``on_slow`` is called once (from another thread) if no answer has come
    ``SLOW_ANSWER`` seconds after the request was sent: a wait is never silent."""

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,
        stop: threading.Event | None = None,
        on_slow: Callable[[], None] | None = None,
    ) -> Response: ...


MAX_BODY = 32 * 2**20  # no API answer comes near this; a misbehaving server might
STOP_CHECK = 0.1  # seconds between looks at the stop events of requests in flight
# Seconds without an answer before the wait for one is said: past the connect timeout
# (5 s), so an attempt that cannot connect ends (its retry said) before a wait that
# would promise 25 s more.
SLOW_ANSWER = 6.0


def refuse_insecure_url(url: str) -> None:
    """Refuse, before any socket, a URL mogrun must not send to.

    Only http(s) is spoken, and plain ``http://`` only to loopback: tokens and
    webhook URLs travel over HTTPS. Both parsers (the stdlib's and urllib3's, which
    connects) must agree. Each ends the host part at the first ``/`` after
    ``//``, so the verdict is the one for the URL cut there, remembered: a
    fan-out sends thousands of requests to one origin.
    """
    _check_origin(_split_origin(url)[0])


def _split_origin(url: str) -> tuple[str, str]:
    """``url`` cut at the first ``/`` after ``//``: its origin, as both parsers end
    the host part there, and the rest (``/`` when there is none)."""
    start = url.find("//")
    cut = url.find("/", start + 2) if start >= 0 else -1
    return (url, "/") if cut < 0 else (url[:cut], url[cut:])


@functools.lru_cache(maxsize=32)
def _check_origin(url: str) -> None:
    """``UsageError`` for a URL mogrun must not send to (only answers are cached)."""
    parts = urlsplit(url)
    _refuse(url_refusal(parts.scheme, parts.hostname), url, parts.hostname)
    unreadable = host_problem(parts.netloc, parts.hostname)
    if unreadable is not None:
        raise UsageError(f"not a valid URL: {origin_of(url)!r} ({unreadable})")
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
    if refusal == DOTTED_LOOPBACK:
        raise UsageError(f"refusing {origin_of(url)!r}: {refusal}")
    if refusal is not None:
        raise UsageError(f"refusing plain http:// to {host}: only loopback may use http",
                         context=["Use an https:// URL."])


def origin_of(url: str) -> str:
    """Scheme and host of a URL, for messages (paths may hold secrets)."""
    parts = urlsplit(url)
    if parts.scheme and parts.hostname:
        port = _safe_port(parts)
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6
        return f"{parts.scheme}://{host}{'' if port is None else f':{port}'}"
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
        proxies: Proxies | None = None,
    ) -> None:
        self.user_agent = user_agent
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._maxsize = maxsize
        self.proxies = proxies or Proxies()  # https_proxy & co. (``api.proxies``)
        self._managers: dict[str | None, urllib3.PoolManager] = {}  # proxy URL -> its manager
        self._origins: dict[str, urllib3.HTTPConnectionPool] = {}  # origin -> its pool
        self._lock = threading.Lock()

    def _manager(self, proxy: str | None = None) -> urllib3.PoolManager:
        """The pool manager of requests that go direct (``proxy`` ``None``), or through
        the proxy ``proxy``, whose credentials (``user:password@``) it is given."""
        with self._lock:
            manager = self._managers.get(proxy)
            if manager is None:
                import urllib3

                if proxy is None:
                    manager = urllib3.PoolManager(
                        num_pools=16, maxsize=self._maxsize, block=False, retries=False)
                else:
                    auth = urllib3.util.parse_url(proxy).auth  # as written: %40 for "@"
                    manager = urllib3.ProxyManager(
                        proxy, num_pools=16, maxsize=self._maxsize, block=False, retries=False,
                        proxy_headers=_proxy_authorization(auth) if auth else None)
                manager.pool_classes_by_scheme = _watched_pools()
                self._managers[proxy] = manager
            return manager

    def _through(self, url: str) -> str:
        """How a message names the proxy ``url`` goes through (empty: none)."""
        proxy = self.proxies.for_url(url)
        return "" if proxy is None else (
            f" through the proxy {shown_url(proxy)} (from {self.proxies.variable})")

    def _pool_for(self, origin: str, rest: str) -> tuple[urllib3.HTTPConnectionPool, str]:
        """The connection pool of a URL's ``origin`` and the path to ask it for
        (``rest``: the URL after its origin, ``_split_origin``).

        The origin's pool is remembered: the manager's ``request`` would parse
        every URL and rebuild its pool key, a tenth of a fan-out's client CPU
        for the one origin it talks to. The path goes through urllib3's own
        parser (it percent-encodes what a request line may not carry)."""
        pool = self._origins.get(origin)
        if pool is None or pool.pool is None:  # a pool the manager evicted is closed
            # Through a proxy, an https:// request is tunnelled (CONNECT): the pool for the
            # origin still takes the path alone.
            pool = self._manager(self.proxies.for_url(origin)).connection_from_url(origin)
            with self._lock:
                self._origins[origin] = pool
        return pool, _request_uri(rest)

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,
        stop: threading.Event | None = None,
        on_slow: Callable[[], None] | None = None,
        read_body: bool = True,
    ) -> Response:
        """Send one request; any answer (even 3xx/5xx) is returned, never followed.
        ``read_body=False``: returned once its status line and headers came, its body
        not read (a caller that wants only the status: a webhook post is delivered
        then, whatever its body does).

        From the moment a connection is taken, a watch shuts its socket at the
        deadline (a server that trickles bytes would outlast every read timeout)
        or once ``stop`` is set: a poll a stalled server holds must not hold
        Ctrl-C's cancels back, and it is made on the follower's own thread.
        Only connecting has a socket timeout of its own (the watch has no socket
        to shut before there is one): once connected, the socket blocks and the
        watch alone bounds the request, so no send or read first waits in a
        ``poll`` (two system calls, and two turns of the GIL, per request)."""
        origin, rest = _split_origin(url)  # split once: for the check and for the pool
        _check_origin(origin)  # ``refuse_insecure_url``
        if stop is not None and stop.is_set():
            raise Interrupted(130, INTERRUPTED_POLL)
        import urllib3

        all_headers = {"User-Agent": self.user_agent, **headers}
        sent = time.monotonic()
        deadline = sent + timeout
        limits = _timeouts(min(self.connect_timeout, timeout))
        request = RequestInfo(method, url)
        slow = (sent + SLOW_ANSWER, on_slow) if on_slow and timeout > SLOW_ANSWER else None
        watch = _WATCHDOGS.watch(deadline, stop, slow)
        _SENDING.watch = watch
        try:
            try:
                pool, path = self._pool_for(origin, rest)
                raw = pool.urlopen(
                    method, path, body=body, headers=all_headers, timeout=limits,
                    retries=_no_retries(), redirect=False, preload_content=False,
                    assert_same_host=False,
                )
            except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                raise (_cut_short(watch, request, timeout)
                       or translate_error(exc, method, url, timeout,
                                          through=self._through(url),
                                          elapsed=time.monotonic() - deadline + timeout)
                       ) from exc
            if not read_body:
                _hang_up(raw, watch)
                return Response(status=raw.status, headers=raw.headers)
            return Response(status=raw.status, headers=raw.headers,
                            body=_read_body(raw, request, timeout, watch, headers))
        finally:
            _SENDING.watch = None
            watch.cancel()

    def close(self) -> None:
        """Close pooled connections (tests; long-lived processes)."""
        with self._lock:
            self._origins.clear()
            for manager in self._managers.values():
                manager.clear()


def _proxy_authorization(auth: str) -> dict[str, str]:
    """The proxy's Basic credentials from a URL's ``user:password`` as written: the
    bytes its percent-escapes give (UTF-8 for a letter written as it is), as curl
    sends them; urllib3's ``make_headers`` sent Latin-1 (``ü`` went as one byte a
    proxy reading UTF-8 refused, and ``€`` failed every request)."""
    from base64 import b64encode
    from urllib.parse import unquote_to_bytes

    return {"proxy-authorization": f"Basic {b64encode(unquote_to_bytes(auth)).decode()}"}


@functools.lru_cache(maxsize=64)
def _timeouts(connect: float) -> urllib3.Timeout:
    """urllib3's Timeout for a request, built once (the pool clones it for each
    request): a bound on connecting, none on reading (the request's watch bounds
    the whole answer, see ``Urllib3Transport.send``)."""
    import urllib3

    return urllib3.Timeout(connect=connect, read=None)


@functools.cache
def _no_retries() -> urllib3.Retry:
    """What ``retries=False, redirect=False`` makes, built once: urllib3 would build
    a new one for every request. Each attempt is mogrun's own (budget, policy)."""
    import urllib3

    return urllib3.Retry(total=False, redirect=False)


@functools.lru_cache(maxsize=1024)
def _request_uri(rest: str) -> str:
    """The request line's path and query of a URL's part after its origin, as
    urllib3's ``PoolManager`` would send it (remembered: polls repeat theirs)."""
    from urllib3.util import parse_url

    return parse_url("http://origin" + rest).request_uri


def _bearer(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The token the request carries: what a preview of its answer masks before it
    cuts (a server may echo it; cut in two, later masking would not find it)."""
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    return (token,) if scheme == "Bearer" and token else ()


def _read_body(raw: urllib3.BaseHTTPResponse, request: RequestInfo, timeout: float,
               watch: _Watch, headers: Mapping[str, str] | None = None) -> bytes:
    """The whole body; a cut-off answer still shows its status and first bytes.
    ``watch`` bounds the reads (the socket has no timeout of its own); ``headers``,
    the request's, give the token a preview masks. A body whose
    Content-Length is within the limit (nearly every answer) is read in one go;
    any other, in chunks counted against the limit as they are decoded."""
    import urllib3

    chunks: list[bytes] = []
    length = raw.length_remaining
    try:
        if length is not None and length <= MAX_BODY and "content-encoding" not in raw.headers:
            chunks.append(raw.read())  # (a compressed body could inflate past the limit)
        else:
            size = 0
            for chunk in raw.stream(65536):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY:
                    shown = preview(b"".join(chunks), _bearer(headers or {}))
                    raise TransportError(
                        f"HTTP {raw.status} answer from {origin_of(request.url)} is larger "
                        f"than {MAX_BODY // 2**20} MiB: {shown}",
                        request=request, status=raw.status)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        timed_out = isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError)
        came = b"".join(chunks) or _partial(exc)
        raise _cut_short(watch, request, timeout) or (
            translate_error(TimeoutError(), request.method, request.url, timeout) if timed_out
            else TransportError(_cut_off(raw.status, request, came, exc, headers),
                                request=request, status=raw.status)) from exc
    finally:
        watch.cancel()  # the reads are over (the pool lets it go too: ``_let_go``)
        raw.release_conn()
    # A shut socket may look like the body's end (asked only of a watch that fired).
    cut = _cut_short(watch, request, timeout) if watch.fired else None
    if cut is not None:
        raise cut
    return b"".join(chunks)  # one chunk: that bytes object itself, not a copy


def _cut_off(status: int, request: RequestInfo, came: bytes, error: BaseException,
             headers: Mapping[str, str] | None) -> str:
    """An answer whose body was cut off: what came of it, and why (a reset keeps no
    partial body to show: its bytes were read, then lost with the error)."""
    why = _reason_text(error)
    answer = f"HTTP {status} answer from {origin_of(request.url)} was cut off"
    if not came:
        return f"{answer} before its body could be read ({why})"
    return f"{answer} after {len(came)} bytes ({why}): {preview(came, _bearer(headers or {}))}"


def _hang_up(raw: urllib3.BaseHTTPResponse, watch: _Watch) -> None:
    """Close an answer's connection with its body unread (the next request on it
    would read that body), and give its place back to the pool, its watch let go
    first (as ``_read_body`` does: the pool may hand it to another request)."""
    watch.cancel()
    raw.close()
    raw.release_conn()


def _partial(exc: BaseException) -> bytes:
    """The bytes a cut-off read got before it failed (http.client keeps them on
    its ``IncompleteRead``, which urllib3 wraps), else none."""
    import http.client

    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        partial = getattr(item, "partial", None)
        if isinstance(item, http.client.IncompleteRead) and isinstance(partial, bytes):
            return partial
        pending.extend((*item.args, item.__cause__, item.__context__))
    return b""


def _cut_short(watch: _Watch, request: RequestInfo, timeout: float) -> MogrunError | None:
    """Why ``watch`` cut its request short (``stop`` was set, or the deadline
    passed), or ``None`` when it did not. A deadline that came before there was a
    connection (a resolver that hangs) is no read timeout: nothing was sent."""
    if watch.stopped:
        return Interrupted(130, INTERRUPTED_POLL)
    if watch.fired and watch.unconnected:
        return ConnectError(
            f"cannot connect to {origin_of(request.url)}: no connection within "
            f"{format_duration(timeout)} (the host name was still being resolved, or the "
            "connection still opening)", request=request)
    if watch.fired:
        return translate_error(TimeoutError(), request.method, request.url, timeout)
    return None


INTERRUPTED_POLL = "interrupted while a poll waited for the server"


def _watched_pools() -> dict[str, type]:
    """urllib3's pools, each with its own connection class made to bind itself to
    the watch of the request its thread is sending (so the watch can shut its
    socket), its answers' headers read quickly (``api.headers``):
    ``ConnectionCls`` is urllib3's hook for a pool's connections."""
    from urllib3 import HTTPConnectionPool, HTTPSConnectionPool

    from mogrun.api.headers import QuickHeadersResponse

    def watched(base: type[Any]) -> type[Any]:
        def request(self: Any, *args: Any, **kwargs: Any) -> None:
            _bind(self)
            if self.sock is not None:  # connected before: its watch bounds the send
                self.timeout = None
            base.request(self, *args, **kwargs)

        return type(f"Watched{base.__name__}", (base,),
                    {"request": request, "response_class": QuickHeadersResponse,
                     "watch": None})

    def put_back(pool: type[Any]) -> Callable[[Any, Any], None]:
        def _put_conn(self: Any, conn: Any) -> None:
            _let_go(conn)
            pool._put_conn(self, conn)
        return _put_conn

    return {scheme: type(f"Watched{pool.__name__}", (pool,),
                         {"ConnectionCls": watched(pool.ConnectionCls),
                          "_put_conn": put_back(pool)})
            for scheme, pool in (("http", HTTPConnectionPool), ("https", HTTPSConnectionPool))}


_SENDING = threading.local()  # .watch: the request this thread is sending


def _bind(connection: Any) -> None:
    """Bind the watch of the request this thread sends to ``connection``."""
    watch = connection.watch = getattr(_SENDING, "watch", None)
    if watch is not None:
        watch.bind(connection)


def _let_go(connection: Any) -> None:
    """End the watch bound to ``connection`` as it goes back to its pool (urllib3
    puts it back inside the read that ends a body, before the request's own
    ``cancel``): from there another thread's request may take it at once, and a
    watch firing later (its deadline, a Ctrl-C) must not shut that request's
    socket. What the watch did before stays said (``fired``, ``stopped``)."""
    watch = getattr(connection, "watch", None)
    if watch is not None:
        connection.watch = None
        watch.cancel()


class _Watch:
    """One request's stop event (its deadline is its place in the watchdogs'
    heap): ``fire`` shuts the socket of the connection it is bound to, unless
    the request ended first."""

    __slots__ = ("_conn", "_lock", "deadline", "done", "fired", "on_slow", "stop", "stopped",
                 "unconnected")

    def __init__(self, stop: threading.Event | None, deadline: float = math.inf,
                 on_slow: Callable[[], None] | None = None) -> None:
        self.stop = stop
        self.deadline = deadline
        self.on_slow = on_slow  # said once, at its place in the heap before the deadline
        self.fired = False
        self.stopped = False  # fired because ``stop`` was set (else: the deadline)
        self.unconnected = False  # fired before its request had a connected socket
        self._conn: object | None = None
        self._lock = threading.Lock()
        self.done = False

    def bind(self, connection: object) -> None:
        with self._lock:
            if not self.done:
                self._conn = connection
                if self.fired:
                    self._shut()

    def fire(self, *, stopped: bool = False) -> None:
        """Shut the socket (again: a connection still connecting had none yet)."""
        with self._lock:
            if self.done:
                return
            if not self.fired:
                self.fired, self.stopped = True, stopped
                self.unconnected = getattr(self._conn, "sock", None) is None
            self._shut()

    def _shut(self) -> None:
        sock = getattr(self._conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        if self.done:  # each answer ends its watch twice: after its body, and after all
            return
        with self._lock:
            self.done = True
            self._conn = None


class _Watchdogs:
    """One daemon thread keeps every request's deadline (a thread per request
    cost 18% of the GIL's samples in a 200-run fan-out) and, every
    ``STOP_CHECK`` while requests with a stop event are in flight, looks at
    those events. Ended watches stay in the heap until they reach its top:
    ending one costs nothing."""

    def __init__(self) -> None:
        # (deadline, sequence, watch): ordered by tuple comparison, in C, not by a
        # Python ``__lt__`` at each of a push's comparisons.
        self._heap: list[tuple[float, int, _Watch]] = []
        self._made = itertools.count()
        self._stoppable: list[_Watch] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, stop: threading.Event | None = None,
              slow: tuple[float, Callable[[], None]] | None = None) -> _Watch:
        """Keep ``deadline`` (and ``stop``) for one request; ``slow``: (when, what to
        call then if it is still unanswered). One heap entry either way: a watch with
        a slow notice sits at its time first, then goes back in at its deadline."""
        entry = _Watch(stop, deadline, slow[1] if slow else None)
        first = min(deadline, slow[0]) if slow else deadline
        with self._cond:
            heapq.heappush(self._heap, (first, next(self._made), entry))
            if stop is not None:
                self._stoppable.append(entry)
            if self._thread is None:
                self._thread = start_without_signals(self._run, "mogrun-watchdog")
            if self._heap[0][2] is entry or len(self._stoppable) == 1:
                self._cond.notify()
        return entry

    def _run(self) -> None:
        with self._cond:
            while True:
                heap = self._heap
                while heap and heap[0][2].done:
                    heapq.heappop(heap)
                if self._stoppable:
                    self._check_stops()
                if not heap:
                    self._cond.wait()
                    continue
                left = heap[0][0] - time.monotonic()
                if left > 0:
                    self._cond.wait(min(left, STOP_CHECK) if self._stoppable else left)
                    continue
                entry = heapq.heappop(heap)[2]
                if entry.on_slow is None:
                    entry.fire()
                    continue
                said, entry.on_slow = entry.on_slow, None  # once; its deadline comes next
                heapq.heappush(heap, (entry.deadline, next(self._made), entry))
                # On a thread of its own (slow requests are few): the notice prints, and
                # output held up (a paused pager) must never hold up the deadlines. With
                # no thread to be had, the notice is dropped, never the deadlines.
                with contextlib.suppress(NoThread):
                    start_without_signals(_quietly(said, entry), "mogrun-slow-answer")

    def _check_stops(self) -> None:
        self._stoppable = [entry for entry in self._stoppable if not entry.done]
        for entry in self._stoppable:
            if entry.stop is not None and entry.stop.is_set():
                entry.fire(stopped=True)


def _quietly(call: Callable[[], None], watch: _Watch) -> Callable[[], None]:
    """``call`` unless ``watch``'s request has been answered meanwhile (a notice of a
    wait already over would be a stale line), its failure dropped: a notice that
    failed is no request's failure."""
    def run() -> None:
        if watch.done:
            return
        with contextlib.suppress(Exception):
            call()
    return run


_WATCHDOGS = _Watchdogs()


def translate_error(exc: BaseException, method: str, url: str, timeout: float,
                    through: str = "", elapsed: float | None = None) -> TransportError:
    """urllib3's error as a TransportError naming the real cause; ``through``: the
    proxy the request went through, as a message says it (``Urllib3Transport._through``);
    ``elapsed``: how long the attempt took (a timeout well before ``timeout`` is the
    connect timeout's: the connection or its TLS handshake stalled)."""
    from urllib3 import exceptions as u3

    cause = exc
    while isinstance(cause, u3.MaxRetryError) and cause.reason is not None:
        cause = cause.reason
    where = origin_of(url)
    request = RequestInfo(method, url)
    if isinstance(cause, u3.ProxyError):  # the proxy refused, or could not be reached
        reason = _proxy_reason(cause, credentials="@" in through)  # (shown as ***@)
        if reason.startswith(_PROXY_ANSWERED + "4"):  # its refusal: the same if asked again
            return ProtocolError(f"cannot connect to {where}{through}: {reason}",
                                 request=request)  # (a 502, 503: the far side, retried)
        return ConnectError(f"cannot connect to {where}{through}: {reason}", request=request)
    if isinstance(cause, u3.SSLError) and _CERTIFICATE_REFUSED in _reason_text(cause):
        # Not the network's hiccup: the same certificate comes again, so never retried.
        return ProtocolError(
            f"TLS failure talking to {where}{through}: {_reason_text(cause)}", request=request,
            context=["This machine does not trust the server's certificate. Behind a proxy "
                     "that inspects TLS, point SSL_CERT_FILE at its CA certificate (a PEM "
                     "file); Python reads that, not REQUESTS_CA_BUNDLE."])
    if isinstance(cause, u3.SSLError) and _PLAIN_ANSWER in _reason_text(cause):
        # An https:// URL for a server that speaks plain HTTP (the emulator, mostly):
        # the same answer every time, retried five times (11 s) as a network failure.
        return ProtocolError(
            f"TLS failure talking to {where}{through}: {_reason_text(cause)}", request=request,
            context=["The server answered in plain HTTP, not TLS: a local server such as "
                     "mogrun emulator is reached with http://, not https://."])
    if isinstance(cause, u3.NewConnectionError | u3.ConnectTimeoutError):
        reason = _reason_text(cause)
        if isinstance(cause, u3.NameResolutionError):
            reason = "the host name does not resolve"
        elif not isinstance(cause, u3.NewConnectionError):
            reason = "connect timed out"
        return ConnectError(f"cannot connect to {where}{through}: {reason}", request=request)
    if isinstance(cause, u3.ReadTimeoutError | TimeoutError) and elapsed is not None \
            and elapsed < timeout - 1:  # no answer is waited for with a socket timeout
        return ConnectError(
            f"cannot connect to {where}{through}: the connection or its TLS handshake stalled "
            f"(no progress within {format_duration(round(elapsed))})", request=request)
    if isinstance(cause, u3.ReadTimeoutError | TimeoutError):
        return TransportError(
            f"no answer from {where} within {format_duration(timeout)} (read timed out)",
            request=request
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


def _proxy_reason(error: BaseException, *, credentials: bool = False) -> str:
    """Why a proxy did not tunnel: its own answer (``407 Proxy Authentication
    Required``: its credentials go in the variable's URL, or those there are
    refused), or why it was not reached."""
    reason = _reason_text(error)
    answer = reason.removeprefix(_TUNNEL_FAILED)
    if answer == reason:
        return f"the proxy cannot be reached ({reason})"
    if answer.startswith("407") and credentials:
        return (f"{_PROXY_ANSWERED}{answer}: it refused the user name and password its URL "
                "gives (percent-encoded, as a URL writes them)")
    if answer.startswith("407"):
        return (f"{_PROXY_ANSWERED}{answer}: it asks for credentials; give them in its URL, "
                f"{CREDENTIALS_FORM}")
    return f"{_PROXY_ANSWERED}{answer}"


_TUNNEL_FAILED = "Tunnel connection failed: "  # http.client's, for a CONNECT not answered 200
_PROXY_ANSWERED = "the proxy answered "
_CERTIFICATE_REFUSED = "CERTIFICATE_VERIFY_FAILED"  # OpenSSL's, in ssl's message
_PLAIN_ANSWER = "WRONG_VERSION_NUMBER"  # OpenSSL's, for a TLS hello answered in plain HTTP


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
