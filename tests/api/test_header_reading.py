"""An answer's header block is read as ``http.client`` reads it, whatever it holds:
the quick reading of plain ``Name: value`` lines (``mogrun.api.headers``) gives
the very message the email package's feed parser gives, and anything else goes
to that parser. Proved against the stdlib on generated blocks, and over real
HTTP through the transport."""

from __future__ import annotations

import http.client
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mogrun.api import headers
from mogrun.api.transport import Urllib3Transport

from .loopback import raw_server


def state(message: http.client.HTTPMessage) -> dict[str, object]:
    """Everything a message holds, its defects by kind and text (two equal defects
    are two exception objects, never equal)."""
    found = dict(vars(message))
    found["defects"] = [(type(d), str(d)) for d in message.defects]
    found["type"] = type(message)
    if isinstance(message._payload, list):  # an enclosed message's or the parts'
        found["_payload"] = [state(part) for part in message._payload]
    return found


def both(block: bytes) -> tuple[dict[str, object], dict[str, object], int, int]:
    """The stdlib's reading of ``block`` and the quick one, and where each left the
    stream (the body starts there)."""
    stdlib, quick = io.BytesIO(block), io.BytesIO(block)
    expected = state(http.client.parse_headers(stdlib))
    got = state(headers.parse_headers(quick))
    return expected, got, stdlib.tell(), quick.tell()


def plain_lines(block: bytes) -> bool:
    """Whether the quick reading took ``block`` itself (not the feed parser)."""
    lines = http.client._read_headers(io.BytesIO(block))  # type: ignore[attr-defined]
    return headers._plain(lines, http.client.HTTPMessage) is not None


SERVER_HEAD = (b"Server: BaseHTTP/0.6 Python/3.11.7\r\nDate: Sat, 05 Dec 2026 23:59:59 GMT\r\n"
               b"Content-Type: application/json\r\nContent-Length: 42\r\n"
               b"X-RateLimit-Remaining: 599\r\n\r\n")


@pytest.mark.parametrize(("block", "quick"), [
    (SERVER_HEAD, True),
    (b"X:  padded both sides  \n\n", True),  # leading blanks go, trailing ones stay
    (b"X:\r\nY:\t\r\n\r\n", True),  # empty values
    (b"Retry-After: 7\r\nRetry-After: 5\r\n\r\n", True),  # repeated: both kept, in order
    (b"X: a\x0bb\x0cc\x1cd\x85e\xffz\r\n\r\n", True),  # no line break to the feed parser
    (b"X: y\r\n", True),  # the answer ended before the blank line
    (b"\r\n", True),  # no headers at all
    (b"X: a\r\n \tfolded\r\n\r\n", False),
    (b"X: a\rb\r\n\r\n", False),  # a lone CR ends a line for the feed parser
    (b":no name\r\n\r\n", False),
    (b"no colon at all\r\nX: y\r\n\r\n", False),
    (b"From someone\r\n\r\n", False),
    (b" first line folded\r\nX: y\r\n\r\n", False),
    (b"Content-Type: multipart/mixed; boundary=z\r\n\r\n", False),
    (b"content-type:  Message/rfc822\r\n\r\n", False),
    (b"Na\xe9me: v\r\n\r\n", False),
    (b"A: 1\r\nX: y", False),  # the answer ended inside a header line
    (b"X: a\r\n b", False),
    (b"Content-Type: \x0cmultipart/mixed; boundary=b\r\n\r\n", False),  # str.strip()'s
    (b"Content-Type: \xa0message/delivery-status\r\n\r\n", False),
    (b"Content-Type: text/plain\r\nContent-Type: multipart/x\r\n\r\n", True),  # the first
    (b"X-Note: a message, not a type\r\n\r\n", True),
    (b"X: " + b"y" * 9000 + b"\r\n\r\n", False),  # longer than LONGEST_PLAIN
], ids=lambda value: value if isinstance(value, bool) else repr(value[:24]))
def test_a_header_block_reads_as_the_stdlib_reads_it(block: bytes, quick: bool) -> None:
    expected, got, stdlib_at, quick_at = both(block)
    assert got == expected
    assert quick_at == stdlib_at
    assert plain_lines(block) is quick


NAME = st.text(st.sampled_from("Content-Type:Xx-Ab \t\x7f\xe9;\r"), min_size=0, max_size=14)
VALUE = st.text(st.sampled_from("ab ;/\t=\r\n\x0b\x0c\x1c\x85\xa0\xff\x00multipartMESSAGE:"),
                max_size=20)
ENDS = st.sampled_from(["\r\n", "\n"])
# What str.strip() takes off a content type's value, as the feed parser reads it.
BLANKS = st.text(st.sampled_from(" \t\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0"), max_size=3)
LINE = st.one_of(
    st.builds(lambda n, v, end: f"{n}:{v}{end}", NAME, VALUE, ENDS),
    st.builds(lambda v, end: f"{v}{end}", VALUE, ENDS),
    st.builds(lambda name, blanks, kind, end: f"{name}:{blanks}{kind}/x{end}",
              st.sampled_from(["Content-Type", "content-TYPE", "Content-Types"]), BLANKS,
              st.sampled_from(["multipart", "MESSAGE", "message/delivery-status;", "text"]),
              ENDS),
    st.sampled_from(["From x\r\n", " cont\r\n", "\tcont\n", "X: y\r\n"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(LINE, max_size=8), st.sampled_from(["\r\n", "\n", "", "cut"]),
       st.binary(max_size=8))
def test_any_header_block_reads_as_the_stdlib_reads_it(lines: list[str], end: str,
                                                       body: bytes) -> None:
    """``cut``: the answer ends inside its last header line (the connection closed)."""
    if end == "cut":
        lines, end = [*lines[:-1], lines[-1].rstrip("\r\n")] if lines else lines, ""
    block = ("".join(lines) + end).encode("latin-1") + (body if end else b"")
    expected, got, stdlib_at, quick_at = both(block)
    assert got == expected
    assert quick_at == stdlib_at


LONG_ODD_LINES = pytest.mark.parametrize("line", [
    b"X:" + b" " * 60000 + b"\rY\r\n",  # blanks, then a lone CR: not a plain line
    b"X:" + b" \t" * 30000 + b"\r\n",
    b"X: " + b"a" * 60000 + b"\rb\r\n",
    b"X" * 60000 + b"\r\n",  # no colon
], ids=["blanks-cr", "blanks", "value-cr", "no-colon"])


@LONG_ODD_LINES
def test_a_long_odd_line_reads_as_the_stdlib_reads_it(line: bytes) -> None:
    """Lines as long as http.client allows (65,536 bytes): read as the stdlib reads
    them, by the feed parser itself (a block over ``LONGEST_PLAIN`` goes there)."""
    expected, got, _, _ = both(line + b"\r\n")
    assert got == expected
    assert not plain_lines(line + b"\r\n")


@LONG_ODD_LINES
def test_the_field_pattern_never_backtracks_over_a_long_line(line: bytes) -> None:
    """The pattern itself, on such a line (``LONGEST_PLAIN`` keeps it from lines this
    long; its own cost must not depend on that): a value pattern that let a line's
    leading blanks go to either side took 27 s on the first of these, a server's
    one header line holding a poll. Each is now a few milliseconds; the bound is a
    hang's, three orders of magnitude above that."""
    import time

    began = time.monotonic()
    headers._FIELDS.findall(line.decode("iso-8859-1"))
    assert time.monotonic() - began < 5.0


def test_too_many_header_lines_fail_as_the_stdlib_fails() -> None:
    block = b"X: y\r\n" * 101 + b"\r\n"
    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        headers.parse_headers(io.BytesIO(block))
    with pytest.raises(http.client.LineTooLong):
        headers.parse_headers(io.BytesIO(b"X: " + b"y" * 70000 + b"\r\n\r\n"))


def test_the_transport_reads_its_answers_quickly() -> None:
    """The pools' connections make ``QuickHeadersResponse``s, whose ``begin`` is
    this Python's own, reading headers with the quick reader."""
    from mogrun.api.transport import _watched_pools

    for pool in _watched_pools().values():
        assert pool.ConnectionCls.response_class is headers.QuickHeadersResponse
    begin = headers.QuickHeadersResponse.begin
    assert begin is not http.client.HTTPResponse.begin
    assert begin.__code__ is http.client.HTTPResponse.begin.__code__
    assert begin.__globals__["parse_headers"] is headers.parse_headers
    assert http.client.parse_headers is not headers.parse_headers  # the stdlib untouched


BODY = b'{"ok":true,"data":{}}'


def through(answer: bytes, send) -> tuple[object, ...]:
    """What ``send(url)`` made of ``answer``: status, header items and body, or
    the kind of error."""
    with raw_server(answer) as url:
        try:
            status, headers_, body = send(url)
        except Exception as exc:  # (its kind is the result)
            return ("error", type(exc).__name__)
    return status, list(headers_.items()), body


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30",
    b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nRetry-After: 30",
    b"HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 5",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
], ids=["429-retry-after", "503-retry-after", "content-length", "chunked"])
def test_an_answer_cut_off_inside_its_headers_reads_as_before(answer: bytes) -> None:
    """The connection closed inside the last header line: that line is read as
    http.client reads it (a 429's Retry-After kept, a length or chunking that
    promises a body not met), as urllib3 reads it on a pool of its own."""
    import urllib3

    transport, plain = Urllib3Transport(), urllib3.PoolManager(retries=False)

    def ours(url: str) -> tuple[object, ...]:
        response = transport.send("GET", url, headers={}, body=None, timeout=5.0)
        return response.status, response.headers, response.body

    def theirs(url: str) -> tuple[object, ...]:
        response = plain.request("GET", url)
        return response.status, response.headers, response.data

    try:
        got, expected = through(answer, ours), through(answer, theirs)
    finally:
        transport.close()
        plain.clear()
    if expected[0] == "error":
        assert got[0] == "error"  # (mogrun's own error for it: a TransportError)
    else:
        assert got == expected


@pytest.mark.parametrize("head", [
    b"Content-Type: application/json\r\nRetry-After: 3\r\n",
    b"Content-Type: application/json\r\nX-Note: a\r\n folded\r\nRetry-After: 3\r\n",
    b"Content-Type: multipart/mixed; boundary=q\r\nRetry-After: 3\r\n",  # feed parser
], ids=["plain", "folded", "multipart"])
def test_an_answer_over_http_keeps_its_headers_and_body(head: bytes) -> None:
    """The headers urllib3 hands over are the ones it hands a pool of its own."""
    import urllib3

    answer = (b"HTTP/1.1 200 OK\r\n" + head + b"Content-Length: %d\r\n\r\n" % len(BODY)
              + BODY)
    transport, plain = Urllib3Transport(), urllib3.PoolManager(retries=False)
    with raw_server(answer) as url:
        try:
            response = transport.send("GET", url, headers={}, body=None, timeout=5.0)
            expected = plain.request("GET", url)
        finally:
            transport.close()
            plain.clear()
    assert (response.status, response.body) == (200, BODY) == (expected.status, expected.data)
    assert list(response.headers.items()) == list(expected.headers.items())
    assert response.header("retry-after") == "3"
