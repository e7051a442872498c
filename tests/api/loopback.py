"""A tiny loopback HTTP server of our own, for answers the emulator never
gives (redirects) and for webhooks; it records what it received."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
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

    def answer_for(self, method: str) -> tuple[int, bytes]:
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
