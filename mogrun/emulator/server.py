"""The emulator as a real HTTP/1.1 server on loopback (stdlib ``http.server``),
and ``Emulator``, the object tests and ``mogrun emulator`` drive.

Keep-alive works as urllib3 expects: every answer carries an exact
Content-Length, request bodies are always read, and ``stop()`` closes the
pooled connections so a stopped emulator really is gone.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mogrun.emulator.app import API_PREFIX, CONTROL_PREFIX, Api, Reply, Request, json_reply
from mogrun.emulator.control import handle_control
from mogrun.emulator.directives import Script
from mogrun.emulator.faults import Fault
from mogrun.emulator.limits import Limits
from mogrun.emulator.state import RequestRecord, State
from mogrun.loopback import is_loopback_host

DEFAULT_REPOS = ("acme/api", "acme/web", "acme/worker")
# A 100,000-character prompt, JSON-escaped, stays far below this.
MAX_REQUEST_BODY = 4 * 2**20


class _TooLarge(Exception):
    """A request body longer than MAX_REQUEST_BODY: refused before it is read."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mogplex-emulator"
    timeout = 60  # an idle keep-alive connection is closed after a minute
    disable_nagle_algorithm = True  # headers and body leave at once: no 40 ms delayed-ACK stall
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _serve(self) -> None:
        try:
            body = self._body()
        except _TooLarge:
            body, problem = None, "Request body too large"
        else:
            problem = "Unreadable request body"
        if body is None:
            self.close_connection = True
            self._send(json_reply(400, {"ok": False, "error": {
                "code": "BAD_REQUEST", "message": problem}}))
            return
        url = urlsplit(self.path)
        request = Request(self.command, url.path, parse_qs(url.query, keep_blank_values=True),
                          {k.lower(): v for k, v in self.headers.items()}, body, url.query)
        self._send(self.server.answer(request))

    def _body(self) -> bytes | None:
        """The request body (Content-Length or chunked); None if malformed."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if length < 0:
            return None
        if length > MAX_REQUEST_BODY:
            raise _TooLarge
        return self.rfile.read(length) if length else b""

    def _chunked(self) -> bytes | None:
        chunks, total = [], 0
        while True:
            try:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"x", 16)
            except ValueError:
                return None
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_REQUEST_BODY:
                raise _TooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, reply: Reply) -> None:
        if reply.action == "drop":
            self.close_connection = True
            self.wfile.flush()
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log is the record (see ``Emulator.requests``)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def answer(self, request: Request) -> Reply:
        return self.emulator._answer(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (or a stop mid-answer) is not worth a traceback."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def _api_path(path: str | None) -> str | None:
    if path is None or path.startswith(("/api/", "/_")):
        return path
    return API_PREFIX + "/" + path.lstrip("/")


def _shutdown(server: _Server) -> None:
    """``server.shutdown()`` without waiting out the poll interval: connect to the
    listening socket until the serving loop has noticed (keeps tests fast)."""
    stopper = threading.Thread(target=server.shutdown, daemon=True)
    stopper.start()
    while stopper.is_alive():
        with contextlib.suppress(OSError), socket.create_connection(
                server.server_address[:2], timeout=0.5):
            pass
        stopper.join(0.005)


class Emulator:
    """A Mogplex API emulator on loopback. ``limits=None`` lifts the rate limits.

    >>> with Emulator() as emu:  # doctest: +SKIP
    ...     os.environ["MOGPLEX_URL"], os.environ["MOGPLEX_API_KEY"] = emu.url, emu.write_token
    """

    def __init__(self, *, repos: Iterable[str] = DEFAULT_REPOS, limits: Limits | None = None,
                 host: str = "127.0.0.1", port: int = 0, default_duration: float = 3.0,
                 default_events: int = 8,
                 on_request: Callable[[RequestRecord], None] | None = None) -> None:
        if not is_loopback_host(host):
            raise ValueError(f"the emulator serves loopback only, not {host!r}")
        if isinstance(repos, str):
            repos = [repos]
        script = Script(duration=default_duration, events=max(3, default_events))
        self._state = State(repos, limits, script)
        self._api = Api(self._state, lambda: self.api_url, on_record=on_request)
        self._host, self._port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        with self._state.lock:
            self.write_token = self._state.new_token("emuw", ("read", "write"))
            self.read_token = self._state.new_token("emur", ("read",))

    # ---- life cycle --------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind (port 0 = any free port) and serve on a daemon thread."""
        if self._server is not None:
            return self
        self._server = _Server((self._host, self._port), self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.5},
                                        name=f"mogplex-emulator:{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close open connections (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        _shutdown(server)
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Block until ``stop()`` is called from elsewhere (e.g. a signal handler)."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(timeout=0.2)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- addresses ---------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The base URL, as ``MOGPLEX_URL`` wants it."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    # ---- tokens, repos, limits, faults -------------------------------------------

    def add_token(self, token: str, scopes: Iterable[str] = ("read", "write"),
                  *, user: str | None = None) -> None:
        """Accept ``token`` with ``scopes`` (a subset of read, write)."""
        with self._state.lock:
            if user is None:
                self._state.add_token(token, scopes)
            else:
                self._state.add_token(token, scopes, user)

    def revoke(self, token: str) -> None:
        """Refuse ``token`` from now on (401)."""
        with self._state.lock:
            self._state.tokens.pop(token, None)

    def add_repo(self, full_name: str) -> dict[str, Any]:
        """Add ``owner/name`` (or ``owner/name@branch``); returns its repo entry."""
        with self._state.lock:
            return dict(self._state.add_repo(full_name))

    @property
    def repos(self) -> list[dict[str, Any]]:
        with self._state.lock:
            return [dict(r) for r in self._state.repos.values()]

    def repo_id(self, full_name: str) -> str:
        """The id of ``owner/name`` (case-insensitive); KeyError if absent."""
        for repo in self.repos:
            if repo["full_name"].lower() == full_name.lower():
                return str(repo["id"])
        raise KeyError(full_name)

    @property
    def limits(self) -> Limits | None:
        """The limits in force (None: lifted)."""
        with self._state.lock:
            return self._state.limiter.limits

    def set_limits(self, limits: Limits | None) -> None:
        """Replace the limits (and forget the counts so far); None lifts them."""
        with self._state.lock:
            self._state.set_limits(limits)

    def add_fault(self, endpoint: str, kind: str, count: int = 1, *,
                  retry_after: float | None = None, delay: float | None = None) -> None:
        """Make the next ``count`` requests to ``endpoint`` fail as ``kind``."""
        fault = Fault(endpoint, kind, count, retry_after, delay)
        with self._state.lock:
            self._state.faults.add(fault)

    def clear_faults(self) -> None:
        with self._state.lock:
            self._state.faults.clear()

    # ---- what happened -------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every API request answered so far, oldest first (never a token)."""
        with self._state.lock:
            return list(self._state.log)

    def clear_requests(self) -> None:
        with self._state.lock:
            self._state.log.clear()

    def count(self, method: str | None = None, path_prefix: str | None = None,
              status: int | None = None, *, path: str | None = None) -> int:
        """How many logged requests match. A ``path_prefix`` or ``path`` not
        starting with ``/api/`` or ``/_`` is relative to the API prefix;
        ``path`` must match exactly (``path="/runs"`` counts starts only, while
        the prefix ``"/runs"`` also matches ``/runs/{id}/cancel``)."""
        prefix, exact = _api_path(path_prefix), _api_path(path)
        return sum(
            1 for r in self.requests
            if (method is None or r.method == method.upper())
            and (prefix is None or r.path.startswith(prefix))
            and (exact is None or r.path == exact)
            and (status is None or r.status == status)
        )

    @property
    def runs(self) -> list[str]:
        """Ids of the runs created on the server, in creation order."""
        with self._state.lock:
            return list(self._state.runs)

    def run_detail(self, run_id: str) -> dict[str, Any]:
        """A run's RunDetail as the API would return it now; KeyError if unknown."""
        import time

        with self._state.lock:
            return self._state.runs[run_id].detail(time.time())

    # ---- serving ---------------------------------------------------------------------

    def _answer(self, request: Request) -> Reply:
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            return handle_control(self._state, request)
        return self._api.handle(request)
