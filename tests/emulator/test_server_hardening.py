"""The emulator's HTTP layer under what a careless or hostile client sends: every
request gets a status line and a JSON answer (never an HTML page, an empty
reply or a traceback), the framing and header rules are Node's, and a burst
of connections is served at once."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from mogrun.emulator import Emulator

from .conftest import Answer

RUNS = "/api/v1/mogplex/runs"
REPOS = "/api/v1/mogplex/repos"


def _raw(emulator: Emulator, data: bytes, timeout: float = 5) -> Answer:
    """``data`` sent as is; the whole answer, read until the emulator closes."""
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=timeout) as conn:
        conn.sendall(data)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    assert status_line.startswith("HTTP/1.1 "), answer[:200]
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return Answer(int(status_line.split()[1]), headers, body)


def _request(method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _envelope(code: str, message: str) -> dict:
    return {"ok": False, "error": {"code": code, "message": message}}


# ---- 1: an unexpected error is a 500, traced in one line --------------------------------


def test_an_unexpected_error_in_a_handler_is_a_bare_500_and_one_line(
        mogrun_emulator, monkeypatch, caplog):
    """It printed a traceback and the client got an empty reply. Now one line,
    through logging (only the CLI writes to the streams; unconfigured, logging's
    last resort writes it to stderr)."""
    def broken(request):
        raise RecursionError("maximum recursion depth exceeded \x1b[2J")

    monkeypatch.setattr(mogrun_emulator, "_answer", broken)
    answer = _raw(mogrun_emulator, _request("GET", REPOS))
    assert (answer.status, answer.body) == (500, b"")  # as Next.js answers a handler's throw
    assert answer.headers["connection"] == "close"
    [line] = [record.getMessage() for record in caplog.records
              if record.name == "mogrun.emulator"]
    assert line.startswith(f"GET {REPOS} -> 500  internal error: RecursionError: ")
    assert "\\x1b[2J" in line and "\x1b" not in line  # escaped, as the trace is


# ---- 3: a burst of connections ----------------------------------------------------------


def test_a_burst_of_connections_is_answered_at_once(mogrun_emulator):
    """With the standard library's backlog of 5, a burst lost SYNs: a second or
    more per retransmit, or a timeout."""
    count, timings, failures = 150, [], []
    barrier = threading.Barrier(count)

    def client() -> None:
        barrier.wait()
        began = time.monotonic()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", mogrun_emulator.port, timeout=10)
            conn.request("GET", "/api/v1/mogplex/repos",
                         headers={"Authorization": f"Bearer {mogrun_emulator.write_token}"})
            assert conn.getresponse().status == 200
            conn.close()
        except Exception as exc:  # counted, then asserted
            failures.append(exc)
        timings.append(time.monotonic() - began)

    threads = [threading.Thread(target=client) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert max(timings) < 2.5  # a dropped SYN is retransmitted after 1 s, then 3 s


# ---- 5: Connection: close when the emulator closes --------------------------------------


def test_an_unreadable_body_is_answered_with_connection_close(mogrun_emulator):
    """The 400 said nothing, then the connection closed: a keep-alive client's next
    request on it failed (RemoteDisconnected)."""
    conn = http.client.HTTPConnection("127.0.0.1", mogrun_emulator.port, timeout=10)
    auth = {"Authorization": f"Bearer {mogrun_emulator.write_token}"}
    conn.putrequest("POST", RUNS)
    for name, value in {**auth, "Idempotency-Key": "k", "Transfer-Encoding": "chunked"}.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(b"zz\r\n{}\r\n0\r\n\r\n")  # a chunk size that is no hex
    first = conn.getresponse()
    assert (first.status, first.getheader("Connection")) == (400, "close")
    assert json.loads(first.read()) == _envelope("BAD_REQUEST", "Unreadable request body")
    conn.request("GET", REPOS, headers=auth)  # http.client opens a new connection
    assert conn.getresponse().status == 200
    conn.close()


def test_a_body_too_large_sent_whole_still_gets_its_400(mogrun_emulator):
    """A client that sends the whole body before reading (no ``Expect``) had its
    connection reset under it: BrokenPipeError, the 400 never seen."""
    conn = http.client.HTTPConnection("127.0.0.1", mogrun_emulator.port, timeout=10)
    conn.request("POST", RUNS, body=b"a" * 12_000_000,
                 headers={"Authorization": f"Bearer {mogrun_emulator.write_token}",
                          "Idempotency-Key": "big"})
    answer = conn.getresponse()
    assert (answer.status, answer.getheader("Connection")) == (400, "close")
    assert json.loads(answer.read()) == _envelope("BAD_REQUEST", "Request body too large")
    conn.close()


# ---- 6: protocol errors: a status line and the envelope ---------------------------------


@pytest.mark.parametrize(("data", "status", "message"), [
    (b"GARBAGE\r\n\r\n", 400, "Bad request syntax ('GARBAGE')"),
    (b"GET /api/v1/mogplex/repos HTTP/2.0\r\n\r\n", 505, "Invalid HTTP version (2.0)"),
    (b"GET /api/v1/mogplex/repos\r\n\r\n", 400, "Bad request syntax: no HTTP version"),
    (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "Request-URI Too Long"),
    (b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", 431, "Line too long"),
    (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431, "Too many headers"),
])
def test_what_the_http_layer_refuses_is_a_status_line_and_the_envelope(
        mogrun_emulator, data, status, message):
    """It was the standard library's HTML page, without a status line for a
    garbled request line; a request line without a version was served as HTTP/0.9."""
    answer = _raw(mogrun_emulator, data)
    assert (answer.status, answer.json) == (status, _envelope("BAD_REQUEST", message))
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"


def test_the_server_header_names_no_python_version(mogrun_emulator):
    answer = _raw(mogrun_emulator, _request("GET", REPOS))
    assert answer.headers["server"] == "mogplex-emulator"


# ---- 7: header values and repeated headers as Node reads them ---------------------------


def test_a_header_value_loses_its_outer_whitespace(mogrun_emulator):
    token = mogrun_emulator.write_token
    answer = _raw(mogrun_emulator, _request("GET", REPOS, f"Authorization: Bearer {token} \t"))
    assert answer.status == 200


def test_a_repeated_authorization_keeps_the_first(mogrun_emulator):
    good, bad = f"Bearer {mogrun_emulator.write_token}", "Bearer mog_nope"
    assert _raw(mogrun_emulator, _request("GET", REPOS, f"Authorization: {good}",
                                          f"Authorization: {bad}")).status == 200
    assert _raw(mogrun_emulator, _request("GET", REPOS, f"Authorization: {bad}",
                                          f"Authorization: {good}")).status == 401


def test_another_repeated_header_is_joined(mogrun_emulator):
    body = json.dumps({"repoId": mogrun_emulator.repo_id("acme/api"), "prompt": "x"}).encode()
    answer = _raw(mogrun_emulator, _request(
        "POST", RUNS, f"Authorization: Bearer {mogrun_emulator.write_token}",
        "Idempotency-Key: a", "Idempotency-Key: b", f"Content-Length: {len(body)}", body=body))
    assert answer.status == 202
    assert mogrun_emulator.requests[-1].idempotency_key == "a, b"


# ---- 8: framing Node refuses ------------------------------------------------------------


@pytest.mark.parametrize("framing", [
    "Content-Length: +{n}\r\n\r\n{body}",
    "Content-Length: {n_}\r\n\r\n{body}",
    "Content-Length: {n}\r\nContent-Length: 5\r\n\r\n{body}",
    "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n{hex}\r\n{body}\r\n0\r\n\r\n",
    "Transfer-Encoding: chunked\r\n\r\n0x{hex}\r\n{body}\r\n0\r\n\r\n",
])
def test_framing_node_refuses_is_a_400_and_a_closed_connection(mogrun_emulator, framing):
    """Each was read with Python's int() (a sign, "_", "0x"), or by the first
    of two lengths, and started a run."""
    body = json.dumps({"repoId": mogrun_emulator.repo_id("acme/api"), "prompt": "hi"})
    n = len(body)
    head = (f"POST {RUNS} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {mogrun_emulator.write_token}\r\nIdempotency-Key: k\r\n")
    tail = framing.format(n=n, n_=f"{str(n)[0]}_{str(n)[1:]}", hex=f"{n:x}", body=body)
    answer = _raw(mogrun_emulator, (head + tail).encode())
    assert (answer.status, answer.json) == (400, _envelope("BAD_REQUEST",
                                                          "Unreadable request body"))
    assert answer.headers["connection"] == "close"
    assert mogrun_emulator.runs == []


def test_identical_repeated_lengths_and_plain_chunks_still_serve(mogrun_emulator):
    body = json.dumps({"repoId": mogrun_emulator.repo_id("acme/api"), "prompt": "hi"})
    auth = f"Authorization: Bearer {mogrun_emulator.write_token}"
    same = _raw(mogrun_emulator, _request("POST", RUNS, auth, "Idempotency-Key: a",
                                          f"Content-Length: {len(body)}",
                                          f"Content-Length: {len(body)}", body=body.encode()))
    chunked = _raw(mogrun_emulator, _request(
        "POST", RUNS, auth, "Idempotency-Key: b", "Transfer-Encoding: chunked",
        body=f"{len(body):X}\r\n{body}\r\n0\r\n\r\n".encode()))
    assert (same.status, chunked.status) == (202, 202)


# ---- 12: a 204 carries no Content-Length ------------------------------------------------


def test_a_204_has_no_content_length_and_keeps_the_connection(mogrun_emulator):
    """RFC 9110 forbids it on a 204, and Next.js's ``new Response(null, {status:
    204})`` sends none; the emulator sent ``Content-Length: 0``."""
    conn = http.client.HTTPConnection("127.0.0.1", mogrun_emulator.port, timeout=10)
    conn.request("OPTIONS", REPOS)
    options = conn.getresponse()
    assert (options.status, options.getheader("Content-Length"), options.read()) == (
        204, None, b"")
    conn.request("GET", REPOS, headers={"Authorization": f"Bearer {mogrun_emulator.write_token}"})
    assert conn.getresponse().status == 200  # the same connection serves on
    conn.close()
