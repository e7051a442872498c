"""A request announcing an absurd body is refused with a 400, not read into
memory (a MemoryError traceback and a dropped connection before)."""

from __future__ import annotations

import json
import socket

import pytest


def _raw(emulator, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as conn:
        conn.sendall(head)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("head", [
    b"Content-Length: 1000000000000\r\n\r\n{}",
    b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n{}",
])
def test_an_oversized_body_is_a_400(mogrun_emulator, head):
    answer = _raw(mogrun_emulator, b"POST /api/v1/mogplex/runs HTTP/1.1\r\nHost: x\r\n" + head)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 400 Bad Request"
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert body == {"ok": False, "error": {"code": "BAD_REQUEST",
                                           "message": "Request body too large"}}
