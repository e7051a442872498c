"""The emulator's HTTP/1.1 server on loopback (stdlib ``http.server``).

Keep-alive works as urllib3 expects: every answer but a 204 carries an exact
Content-Length, request bodies are read (one too large or of a length that
cannot be made out is left unread for the API to answer, and its connection
closed, said with ``Connection: close``), and ``close_connections()`` closes
the pooled connections so a stopped emulator really is gone. The wire is read
as Node reads it for the server: framing Node refuses is an unreadable body,
header values lose their outer whitespace, and what the HTTP layer itself
refuses is a status line with the API's envelope, never an HTML page.
"""

from __future__ import annotations

import contextlib
import re
import socket
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from mogrun.emulator.replies import Reply, Request, error, uncaught
from mogrun.textsafety import escape_agent_text
from mogrun.threads import start_without_signals


class Answerer(Protocol):
    def _answer(self, request: Request) -> Reply: ...


# A 100,000-character prompt, JSON-escaped, stays far below this.
MAX_REQUEST_BODY = 4 * 2**20


class _TooLarge(Exception):
    """A request body longer than MAX_REQUEST_BODY: never read into memory."""


# What is read and dropped, at most, of a body left unread before the socket
# closes: closing with unread input resets the connection, and a client still
# sending (a 12 MB POST without ``Expect``) lost the answer with it.
MAX_DISCARD = 8 * MAX_REQUEST_BODY
DISCARD_SECONDS = 2.0

_DIGITS = re.compile(r"[0-9]+")  # a Content-Length as Node reads one: no sign, "_" or spaces
_HEX = re.compile(rb"[0-9A-Fa-f]+")  # a chunk size: no sign, "_" or "0x"
# Node keeps the first of these when a request repeats one, and joins any other
# header's values with ", " (``cookie`` with "; "): IncomingMessage's rule.
_FIRST_WINS = frozenset({
    "age", "authorization", "content-length", "content-type", "etag", "expires", "from",
    "host", "if-modified-since", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "proxy-authorization", "referer", "retry-after", "server",
    "user-agent"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mogplex-emulator"
    timeout = 60  # an idle keep-alive connection is closed after a minute
    disable_nagle_algorithm = True  # headers and body leave at once: no 40 ms delayed-ACK stall
    server: Server
    _input_left = False  # the client's input was not all read: drop it before closing

    def version_string(self) -> str:
        """``Server: mogplex-emulator``: no Python version on the wire."""
        return self.server_version

    def handle(self) -> None:
        super().handle()
        if self._input_left:
            self._discard_input()

    def _discard_input(self) -> None:
        """Half-close, then read and drop what the client still sends (bounded in
        bytes and time), so the answer reaches it before the socket closes."""
        deadline, left = time.monotonic() + DISCARD_SECONDS, MAX_DISCARD
        with contextlib.suppress(OSError, ValueError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(DISCARD_SECONDS)
            while left > 0 and time.monotonic() < deadline:
                chunk = self.rfile.read1(min(left, 65536))
                if not chunk:
                    return
                left -= len(chunk)

    def parse_request(self) -> bool:
        """As the standard library parses it, except a request line without a
        version (``GET /path``, HTTP/0.9), which is refused (400), not served
        without a status line: Node does not speak HTTP/0.9 either."""
        line = str(self.raw_requestline, "iso-8859-1")
        if len(line.split()) == 2:
            self.command = ""  # not the last request's HEAD: this answer has a body
            self.requestline = line.rstrip("\r\n")
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad request syntax: no HTTP version")
            return False
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """What the HTTP layer itself refuses (a request line or header it cannot
        read, or too long): a status line, ``Connection: close`` and the API's
        envelope, as Node answers these before any route; not the standard
        library's HTML page, which had no status line for a garbled request."""
        self.request_version = self.protocol_version  # HTTP/0.9 would omit the status line
        self.close_connection = True
        self._input_left = True
        text = message or self.responses.get(code, ("Bad request",))[0]
        self._send(error(code, "INTERNAL_ERROR" if code == 500 else "BAD_REQUEST", text))

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
        try:
            url = urlsplit(self.path)
            reply = self.server.answer(Request(
                self.command, url.path, parse_qs(url.query, keep_blank_values=True),
                self._headers(), body, url.query, unread))
        except Exception as exc:  # a bug of the emulator's: the client still gets an answer,
            report_error(exc, f"{self.command} {self.path} -> 500")  # the server's to a throw
            self.close_connection = True
            reply = uncaught()
        self._send(reply)

    def _headers(self) -> dict[str, str]:
        """The headers as Node hands them to the server: names in lower case,
        values without outer spaces and tabs (RFC 9110's OWS), a repeated one
        kept first (``Authorization``) or joined (``Idempotency-Key: a, b``)."""
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            name, value = name.lower(), value.strip(" \t")
            if name not in headers:
                headers[name] = value
            elif name not in _FIRST_WINS:
                headers[name] += ("; " if name == "cookie" else ", ") + value
        return headers

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
        self._input_left = True
        return b"", problem

    def _body(self) -> bytes | None:
        """The request body (Content-Length or chunked); None where Node's parser
        refuses the framing: a length of other than digits (``+63``, ``6_3``),
        two that differ, or a length beside ``Transfer-Encoding`` (the shape of
        request smuggling)."""
        lengths = {value.strip(" \t") for value in self.headers.get_all("Content-Length", [])}
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None if lengths else self._chunked()
        if len(lengths) > 1:
            return None
        text = lengths.pop() if lengths else "0"
        if not _DIGITS.fullmatch(text):
            return None
        digits = text.lstrip("0") or "0"
        if len(digits) > len(str(MAX_REQUEST_BODY)):  # int() refuses past 4,300 digits
            raise _TooLarge
        length = int(digits)
        if length > MAX_REQUEST_BODY:
            raise _TooLarge
        return self.rfile.read(length) if length else b""

    def _chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            written = self.rfile.readline().split(b";")[0].strip(b" \t\r\n")
            if not _HEX.fullmatch(written):
                return None
            size = int(written, 16)
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
            self._input_left = False
            self.wfile.flush()
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:  # HTTP/1.1 says so: the client opens a new one
            self.send_header("Connection", "close")
        if reply.status != 204:  # RFC 9110: a 204 carries none (Next.js sends none)
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":  # its answer's headers only, as HTTP says
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log is the record (see ``Emulator.requests``)."""


def report_error(exc: BaseException, where: str) -> None:
    """One line on stderr for an error the emulator did not expect: whoever
    develops it sees what and where, without a traceback per request. Never
    fatal itself (stderr closed, full or a closed pipe)."""
    import logging

    frames = traceback.extract_tb(exc.__traceback__)
    at = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    line = escape_agent_text(f"{where}  internal error: {type(exc).__name__}: {exc}{at}")
    # Through logging, not print: the emulator is a library too (tests, --local), and
    # only the CLI writes to the streams; unconfigured, logging's last resort says it
    # on stderr, and it never raises for a stream that is closed or full.
    logging.getLogger("mogrun.emulator").error("%s", line)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog: the standard library's 5 let a burst of connections
    # stall a second per SYN retransmit, or time out (Node's default is 511).
    request_queue_size = 512

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
        """A client that went away (or a stop mid-answer) is not worth a word;
        anything else is one line (the handlers answer their own errors 500)."""
        exc = sys.exc_info()[1]
        if exc is None or isinstance(exc, OSError):
            return
        report_error(exc, f"a request from {client_address[0]}:{client_address[1]}")

    def process_request(self, request: Any, client_address: Any) -> None:
        """Each connection is known from its accept, on the serving loop: registered
        by its own thread, one accepted just before a stop escaped
        ``close_connections`` and was answered by the stopped emulator."""
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread to forget it (none to be had)
            self._forget(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._forget(request)

    def _forget(self, request: Any) -> None:
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
