"""Reading an answer's body over real HTTP: whole, cut off, or too large — with
and without a Content-Length (a server that streams sends none)."""

from __future__ import annotations

import pytest

from mogrun.api import transport as transport_module
from mogrun.api.transport import Urllib3Transport
from mogrun.errors import TransportError

from .loopback import raw_server


def head(*lines: str) -> bytes:
    return ("\r\n".join(["HTTP/1.1 200 OK", "Content-Type: application/json", *lines])
            + "\r\n\r\n").encode()


def chunked(body: bytes, size: int = 7) -> bytes:
    parts = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def send(url: str) -> bytes:
    transport = Urllib3Transport()
    try:
        return transport.send("GET", url, headers={}, body=None, timeout=5.0).body
    finally:
        transport.close()


BODY = b'{"ok":true,"data":{"runs":[1,2,3]}}'


@pytest.mark.parametrize("answer", [
    head(f"Content-Length: {len(BODY)}") + BODY,
    head("Transfer-Encoding: chunked") + chunked(BODY),
    head("Connection: close") + BODY,  # neither: the body ends with the connection
], ids=["content-length", "chunked", "until-close"])
def test_a_whole_body_is_read_whatever_its_framing(answer: bytes) -> None:
    with raw_server(answer) as url:
        assert send(url) == BODY


@pytest.mark.parametrize("answer", [
    head("Content-Length: 500") + BODY,
    head("Transfer-Encoding: chunked") + chunked(BODY)[:-5],  # no last chunk
], ids=["content-length", "chunked"])
def test_a_cut_off_body_is_a_transport_error_showing_its_first_bytes(answer: bytes) -> None:
    with raw_server(answer) as url, pytest.raises(TransportError) as caught:
        send(url)
    message = caught.value.message
    assert "HTTP 200 answer from http://127.0.0.1" in message
    assert "was cut off after" in message
    assert '{"ok":true' in message  # what came is shown, not lost
    assert caught.value.status == 200


def test_a_body_cut_off_by_a_reset_says_so() -> None:
    """A reset mid-body was "cut off after 0 bytes: (empty body)", its cause dropped
    (the bytes that came are lost with the error: none is said to have come)."""
    with raw_server(head("Content-Length: 500") + BODY, reset=True) as url, \
            pytest.raises(TransportError) as caught:
        send(url)
    message = caught.value.message
    assert message.startswith("HTTP 200 answer from http://127.0.0.1"), message
    assert "was cut off" in message and "reset by peer" in message, message
    assert "after 0 bytes" not in message


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_larger_than_the_limit_is_refused(framing: str, monkeypatch) -> None:
    monkeypatch.setattr(transport_module, "MAX_BODY", 1024)
    body = b'{"ok":true,"data":"' + b"x" * 4000 + b'"}'
    answer = (head(f"Content-Length: {len(body)}") + body if framing == "content-length"
              else head("Transfer-Encoding: chunked") + chunked(body, 512))
    with raw_server(answer) as url, pytest.raises(TransportError) as caught:
        send(url)
    assert "is larger than" in caught.value.message
    assert '{"ok":true,"data":"xxx' in caught.value.message


def test_a_compressed_body_is_held_to_the_limit_once_inflated(monkeypatch) -> None:
    import gzip

    monkeypatch.setattr(transport_module, "MAX_BODY", 1024)
    body = gzip.compress(b'{"ok":true,"data":"' + b"x" * 100_000 + b'"}')
    assert len(body) < 1024  # small on the wire, far larger once inflated
    answer = head(f"Content-Length: {len(body)}", "Content-Encoding: gzip") + body
    with raw_server(answer) as url, pytest.raises(TransportError) as caught:
        send(url)
    assert "is larger than" in caught.value.message


def test_a_repeated_header_is_its_last_value_not_a_joined_one() -> None:
    """A proxy may repeat Retry-After: ``header`` gives one value, as a dict
    of the answer's headers would (urllib3 joins them into "5, 5")."""
    answer = head(f"Content-Length: {len(BODY)}", "Retry-After: 7", "Retry-After: 5") + BODY
    transport = Urllib3Transport()
    with raw_server(answer) as url:
        try:
            response = transport.send("GET", url, headers={}, body=None, timeout=5.0)
        finally:
            transport.close()
    assert response.header("retry-after") == "5"
    assert response.header("RETRY-AFTER") == "5"
    assert response.header("x-missing") is None
