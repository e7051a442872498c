"""A receiver that answers slowly, byte by byte, cannot hold mogrun past its
timeout: the timeout bounds the whole answer, not each read. Nor can one that
never answers hold a poll past its stop event (Ctrl-C)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.transport import Urllib3Transport
from mogrun.errors import Interrupted, StartInterrupted, TransportError
from mogrun.http import post_json
from mogrun.models import StartRequest


@contextmanager
def trickling_server() -> Iterator[str]:
    """Answers a 200 that promises 60 bytes and sends one every 0.1 s (6 s in all)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n")
                for _ in range(60):
                    if stop.is_set():
                        return
                    conn.sendall(b"x")
                    time.sleep(0.1)
            except OSError:
                pass

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


@contextmanager
def silent_server(first: bytes | None = None) -> Iterator[tuple[str, list[socket.socket]]]:
    """Accepts connections and never answers; yields its URL and the connections it
    accepted. With ``first``: answers the first request of each connection with it
    (the connection kept alive), then reads the next and never answers that."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []

    def answer_once(conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(first or b"")
            conn.recv(65536)  # the next request on it: read, never answered
        except OSError:
            pass

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            if first is not None:
                threading.Thread(target=answer_once, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        listener.close()
        for conn in accepted:
            conn.close()


def test_a_request_held_by_the_server_is_given_up_when_its_stop_is_set():
    transport = Urllib3Transport()
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    with silent_server() as (url, _):
        started = time.monotonic()
        with pytest.raises(Interrupted) as caught:
            transport.send("GET", url + "/runs/r/events", headers={}, body=None, timeout=30.0,
                           stop=stop)
        elapsed = time.monotonic() - started
    transport.close()
    assert 0.3 <= elapsed < 2.0  # not the 30 s timeout
    assert caught.value.exit_code == 130


def test_a_set_stop_sends_nothing_and_other_requests_are_not_stopped():
    transport = Urllib3Transport()
    stop = threading.Event()
    stop.set()
    with silent_server() as (url, accepted):
        with pytest.raises(Interrupted):
            transport.send("GET", url + "/x", headers={}, body=None, timeout=30.0, stop=stop)
        time.sleep(0.2)
        assert accepted == []
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:  # no stop of its own: its timeout
            transport.send("GET", url + "/y", headers={}, body=None, timeout=1.0)
        assert time.monotonic() - started >= 0.9
    transport.close()
    assert "within 1s" in caught.value.message


def test_a_trickled_answer_cannot_outlast_the_transport_timeout():
    transport = Urllib3Transport(read_timeout=0.5)
    with trickling_server() as url:
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            transport.send("GET", url + "/x", headers={}, body=None, timeout=0.5)
        elapsed = time.monotonic() - started
    transport.close()
    assert elapsed < 3.0  # the trickle alone takes 6 s
    assert "within 500ms" in caught.value.message


def test_a_kept_alive_connection_the_server_stops_answering_is_given_up_at_the_timeout():
    # Once connected, a socket has no timeout of its own: the request's watch alone
    # bounds the answer, on a connection used again as on a new one.
    transport = Urllib3Transport()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    with silent_server(first=answer) as (url, accepted):
        assert transport.send("GET", url + "/a", headers={}, body=None, timeout=5.0).body == b"{}"
        [pool] = transport._origins.values()
        [kept] = [conn for conn in pool.pool.queue if conn is not None]  # urllib3's idle ones
        assert kept.sock.gettimeout() is None  # blocking: no poll() before each send and read
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            transport.send("GET", url + "/b", headers={}, body=None, timeout=1.0)
        elapsed = time.monotonic() - started
        assert len(accepted) == 1  # the same connection, used again
    transport.close()
    assert 0.9 <= elapsed < 3.0
    assert "within 1s" in caught.value.message


def test_a_trickling_webhook_cannot_outlast_post_json_timeout():
    # Its 200 came at once: delivered. The body is not read, so it is not waited for.
    with trickling_server() as url:
        started = time.monotonic()
        assert post_json(url + "/hooks/secret-part", {"a": 1}, timeout=0.5) == 200
        elapsed = time.monotonic() - started
    assert elapsed < 0.5  # the trickle alone takes 6 s


def test_a_start_given_up_before_it_was_sent_is_not_one_that_may_have_made_a_run(
        mogrun_emulator):
    """A start whose stop event was set before its first attempt went out was refused
    by the transport unsent, and still taken for one whose run may exist
    (``StartInterrupted``): the job then told the user to look for its key."""
    client = MogplexClient(mogrun_emulator.api_url, mogrun_emulator.write_token,
                           transport=Urllib3Transport(), budget=RequestBudget())
    stop = threading.Event()
    stop.set()
    request = StartRequest(repo="acme/api", repo_id=mogrun_emulator.repo_id("acme/api"),
                           prompt="p", idempotency_key="k-unsent")
    with pytest.raises(Interrupted) as caught:
        client.start_run(request, stop=stop)
    assert not isinstance(caught.value, StartInterrupted)
    assert mogrun_emulator.count("POST", path="/runs") == 0 and mogrun_emulator.runs == []
