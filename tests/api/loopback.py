"""Tiny loopback servers of our own, for answers the emulator never gives
(redirects, bodies cut off or framed oddly) and for webhooks."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorder:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    received: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""
    by_method: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # POST: (202, b"")
    queued: list[tuple[int, bytes]] = field(default_factory=list)  # the next answers, in turn

    def answer_for(self, method: str) -> tuple[int, bytes]:
        if self.queued:
            return self.queued.pop(0)
        return self.by_method.get(method, (self.status, self.body))


@contextmanager
def loopback_server(status: int = 200, headers: dict[str, str] | None = None,
                    body: bytes = b"") -> Iterator[Recorder]:
    recorder = Recorder(status, dict(headers or {}), body)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else b""
            recorder.received.append(
                (self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, data))
            status, body = recorder.answer_for(self.command)
            self.send_response(status)
            for name, value in recorder.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def raw_server(answer: bytes, *, close_after: bool = True,
               reset: bool = False) -> Iterator[str]:
    """A loopback server that reads one request head and writes ``answer`` as is
    (then closes the connection; ``reset``: with an RST, as a load balancer that
    drops it does): answers no well-behaved server would give."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    more = conn.recv(65536)
                    if not more:
                        break
                    data += more
                conn.sendall(answer)
                if reset:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                elif close_after:
                    with suppress(OSError):  # the client may have left first
                        conn.shutdown(socket.SHUT_RDWR)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1/mogplex/runs"
    finally:
        listener.close()
