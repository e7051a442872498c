"""`mogrun emulator`'s request trace shows what clients sent escaped: a path or
an Idempotency-Key holding terminal escape sequences cannot drive the
terminal of whoever watches the emulator."""

from __future__ import annotations

import signal
import socket
from urllib.parse import urlsplit

from .test_cli import _serve


def test_trace_escapes_control_characters_from_the_client():
    process, seen = _serve()
    try:
        url = urlsplit(seen["MOGPLEX_URL"])
        with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
            conn.sendall(b"POST /api/v1/mogplex/runs\x1b]0;owned\x07 HTTP/1.1\r\nHost: x\r\n"
                         b"Idempotency-Key: k\x1b[2J\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            while conn.recv(65536):
                pass
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=10)
    assert "\x1b" not in err and "\x07" not in err
    assert "POST /api/v1/mogplex/runs\\x1b]0;owned\\x07 -> 404  key=k\\x1b[2J" in err
