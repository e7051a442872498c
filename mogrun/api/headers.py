"""An answer's header block, read as ``http.client`` reads it, in a quarter of its time.

``http.client`` hands every header block to the ``email`` package's feed parser:
about 230 Python calls an answer (a fifth of a fan-out's, ``bench/calls.py``),
spent on the API's few plain ``Name: value`` lines. A block made only of such
lines is read here into the ``HTTPMessage`` the feed parser would build from
it, the same in every attribute; any other block (a folded line, a line that is no
header, a line the answer's end cut off, a multipart or message content type,
which the feed parser reads a body for, a block longer than ``LONGEST_PLAIN``)
still goes to the feed parser, so its defects and oddities stay
``http.client``'s own.

Only the answers of mogrun's own connections are read this way
(``QuickHeadersResponse``, the ``response_class`` of the transport's pools):
``http.client`` itself is never changed for the rest of the process.
"""

from __future__ import annotations

import http.client
import re
import types
from email.parser import Parser
from typing import Any, BinaryIO

# A header line the feed parser reads as ``(name, value)`` and nothing more, from
# the start of a line: a name of printable ASCII but ":" (its ``headerRE``), the
# value past its leading blanks, no CR or LF but the line's own end (the feed
# parser splits at each). The value starts at its first non-blank, so no blank
# can go to either side: a line of 60,000 blanks before a lone CR took 27 s to
# refuse with ``[ \t]*([^\r\n]*)``, and takes a few milliseconds.
_FIELDS = re.compile(r"^([!-9;-~]+):[ \t]*((?:[^ \t\r\n][^\r\n]*)?)\r?\n", re.MULTILINE)
# The main types of a content type the feed parser reads a body for (parts, an
# enclosed message): its defects, not a header's, would differ.
_BODY_TYPES = ("multipart", "message")
# The longest block read here: the API's are a few hundred bytes. A longer one
# goes to the feed parser, so no block, however odd, costs much more than it
# costs there (the regular expression tries every position of a line that
# fails; at http.client's limits, 6.5 MB, that was 0.3 s against 18 ms).
LONGEST_PLAIN = 8192


def parse_headers(fp: BinaryIO, _class: type[http.client.HTTPMessage] = http.client.HTTPMessage
                  ) -> http.client.HTTPMessage:
    """``http.client.parse_headers``: the header lines up to the blank one (its
    limits on their length and number), as an ``HTTPMessage``."""
    lines = http.client._read_headers(fp)  # type: ignore[attr-defined]
    message = _plain(lines, _class)
    if message is None:
        return Parser(_class=_class).parsestr(b"".join(lines).decode("iso-8859-1"))
    return message


def _plain(lines: list[bytes], cls: type[http.client.HTTPMessage]
           ) -> http.client.HTTPMessage | None:
    """The message the feed parser makes of ``lines`` (the last: the blank line or
    the end of the answer), or ``None`` unless every header line is plain and
    whole. The block is read whole, not line by line: a line costs no Python call
    of its own."""
    raw = b"".join(lines[:-1])
    if len(raw) > LONGEST_PLAIN or (raw and not raw.endswith(b"\n")):
        return None  # (a line the end of the answer cut off keeps its own reading)
    block = raw.decode("iso-8859-1")
    fields = _FIELDS.findall(block)  # each a whole line: every line is one unless fewer
    if len(fields) != block.count("\n"):
        return None
    message = cls()
    for name, value in fields:  # as the feed parser stores each line
        message.set_raw(name, value)
    lowered = block.lower()  # (a word test first: the feed parser's own test is slower)
    if ("multipart" in lowered or "message" in lowered) and (
            message.get_content_maintype() in _BODY_TYPES):
        return None
    message.set_payload("")  # the feed parser's: no line after the blank one
    return message


def _rebound(function: Any, **names: Any) -> Any:
    """``function``'s own code, with ``names`` in place of its module's globals of
    those names: the running Python's ``HTTPResponse.begin``, whatever its version,
    reading headers with ``parse_headers`` above."""
    rebound = types.FunctionType(function.__code__, {**function.__globals__, **names},
                                 function.__name__, function.__defaults__,
                                 function.__closure__)
    rebound.__kwdefaults__ = function.__kwdefaults__
    rebound.__qualname__ = function.__qualname__
    rebound.__doc__ = function.__doc__
    return rebound


def _reads_headers_as_expected() -> bool:
    """Whether this Python's ``begin`` reads its headers through the module's
    ``parse_headers``, which reads them with ``_read_headers`` (3.11 to 3.13 do):
    else its own code is left as it is."""
    return (hasattr(http.client, "_read_headers")
            and "parse_headers" in http.client.HTTPResponse.begin.__code__.co_names)


class QuickHeadersResponse(http.client.HTTPResponse):
    """``http.client``'s answer, its header block read by ``parse_headers``."""

    if _reads_headers_as_expected():
        begin = _rebound(http.client.HTTPResponse.begin, parse_headers=parse_headers)
