"""A request announcing an absurd body (or a length that cannot be read) is
never read into memory (a MemoryError traceback and a dropped connection
before), yet it is checked, answered and recorded like any other: the token
first, as the server's handlers check it before they read a body."""

from __future__ import annotations

import json
import socket

import pytest

HUGE = [b"Content-Length: 5000000\r\n\r\n{}",
        b"Content-Length: 1000000000000\r\n\r\n{}",
        b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n{}"]
BAD_LENGTH = [b"Content-Length: twelve\r\n\r\n{}", b"Content-Length: -5\r\n\r\n{}",
              b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}"]


def _raw(emulator, head: bytes) -> tuple[int, dict]:
    """Send ``head`` as is; the status and JSON body of the answer (the emulator
    closes the connection: the rest of the announced body is never read)."""
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as conn:
        conn.sendall(head)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.split(b"\r\n\r\n", 1)[1])


def _post(path: str, *headers: str) -> bytes:
    lines = [f"POST /api/v1/mogplex{path} HTTP/1.1", "Host: x", *headers]
    return ("\r\n".join(lines) + "\r\n").encode()


def _error(code: str, message: str) -> dict:
    return {"ok": False, "error": {"code": code, "message": message}}


@pytest.mark.parametrize("body", HUGE + BAD_LENGTH)
def test_a_bad_token_with_an_unread_body_is_401_and_recorded(mogrun_emulator, body):
    status, answer = _raw(mogrun_emulator, _post("/runs", "Authorization: Bearer mog_nope",
                                                 "Idempotency-Key: k") + body)
    assert (status, answer) == (401, _error("UNAUTHORIZED", "Unauthorized"))
    assert [(r.method, r.path, r.status) for r in mogrun_emulator.requests] == [
        ("POST", "/api/v1/mogplex/runs", 401)]


@pytest.mark.parametrize(("body", "message"), [(b, "Request body too large") for b in HUGE]
                         + [(b, "Unreadable request body") for b in BAD_LENGTH])
def test_an_authorised_start_is_400_where_its_body_is_read(mogrun_emulator, body, message):
    auth = f"Authorization: Bearer {mogrun_emulator.write_token}"
    status, answer = _raw(mogrun_emulator, _post("/runs", auth, "Idempotency-Key: k") + body)
    assert (status, answer) == (400, _error("BAD_REQUEST", message))
    # The server's handler checks the key before it reads the body.
    status, answer = _raw(mogrun_emulator, _post("/runs", auth) + body)
    assert (status, answer) == (400, _error("BAD_REQUEST", "Idempotency-Key is required"))
    launch = _raw(mogrun_emulator, _post("/sandboxes", auth) + body)
    assert launch == (400, _error("BAD_REQUEST", message))
    assert [r.status for r in mogrun_emulator.requests] == [400, 400, 400]
    assert mogrun_emulator.runs == []


def test_a_read_only_token_is_refused_before_the_body(mogrun_emulator):
    auth = f"Authorization: Bearer {mogrun_emulator.read_token}"
    status, answer = _raw(mogrun_emulator, _post("/runs", auth, "Idempotency-Key: k") + HUGE[0])
    assert (status, answer["error"]["code"]) == (403, "FORBIDDEN")


def test_a_handler_that_reads_no_body_answers_as_usual(mogrun_emulator):
    auth = f"Authorization: Bearer {mogrun_emulator.read_token}"
    head = f"GET /api/v1/mogplex/repos HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode()
    status, answer = _raw(mogrun_emulator, head + HUGE[0])
    assert status == 200 and answer["ok"] is True


def test_a_control_request_with_an_unread_body_is_400(mogrun_emulator):
    head = b"POST /_emulator/faults HTTP/1.1\r\nHost: x\r\n" + HUGE[0]
    assert _raw(mogrun_emulator, head) == (400, {"error": "Request body too large"})
    assert mogrun_emulator.requests == []
