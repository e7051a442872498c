"""The emulator's HTTP/1.1 server on loopback (stdlib ``http.server``).

Keep-alive works as urllib3 expects: every answer carries an exact
Content-Length, request bodies are read (one too large or of a length that
cannot be made out is left unread for the API to answer, and its connection
closed), and ``close_connections()`` closes the pooled connections so a
stopped emulator really is gone.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from mogrun.emulator.replies import Reply, Request
from mogrun.threads import start_without_signals


class Answerer(Protocol):
    def _answer(self, request: Request) -> Reply: ...


# A 100,000-character prompt, JSON-escaped, stays far below this.
MAX_REQUEST_BODY = 4 * 2**20


class _TooLarge(Exception):
    """A request body longer than MAX_REQUEST_BODY: never read into memory."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mogplex-emulator"
    timeout = 60  # an idle keep-alive connection is closed after a minute
    disable_nagle_algorithm = True  # headers and body leave at once: no 40 ms delayed-ACK stall
    server: Server

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

    def __getattr__(self, name: str) -> Any:
        """Any other method (``BREW``) is the API's to answer (as Next.js does: a
        bare 400), not the standard library's HTML 501 page."""
        if name.startswith("do_"):
            return self.do_GET
        raise AttributeError(name)

    def _serve(self) -> None:
        body, unread = self._read_body()
        url = urlsplit(self.path)
        request = Request(self.command, url.path, parse_qs(url.query, keep_blank_values=True),
                          {k.lower(): v for k, v in self.headers.items()}, body, url.query,
                          unread)
        self._send(self.server.answer(request))

    def _read_body(self) -> tuple[bytes, str | None]:
        """The body, or why it was left unread (the handler that reads it answers
        that, after the token check). Then the connection closes: what is left
        of the body is still on it."""
        try:
            body = self._body()
        except _TooLarge:
            problem = "Request body too large"
        else:
            if body is not None:
                return body, None
            problem = "Unreadable request body"
        self.close_connection = True
        return b"", problem

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
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"x", 16)
            except ValueError:
                return None
            if size < 0:  # int() reads "-5": no chunk is that long
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
        if self.command != "HEAD":  # its answer's headers only, as HTTP says
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log is the record (see ``Emulator.requests``)."""


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: Answerer) -> None:
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


def shutdown(server: Server) -> None:
    """``server.shutdown()`` without waiting out the poll interval: connect to the
    listening socket until the serving loop has noticed (keeps tests fast)."""
    stopper = start_without_signals(server.shutdown, "mogplex-emulator-stop")
    while stopper.is_alive():
        host, port = server.server_address[:2]
        with contextlib.suppress(OSError), socket.create_connection(
                (str(host), int(port)), timeout=0.5):
            pass
        stopper.join(0.005)
