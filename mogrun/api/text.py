"""Text that came from the network, made safe to show in one line of a message."""

from __future__ import annotations

PREVIEW_BYTES = 80


def escape_text(text: str, limit: int | None = None) -> str:
    """Text from the network made safe to print: control characters escaped."""
    if limit is not None:
        text = text[:limit]
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def preview(body: bytes) -> str:
    """The first bytes of a body, escaped, for an error message."""
    if not body:
        return "(empty body)"
    head = body[:PREVIEW_BYTES].decode("utf-8", "backslashreplace")
    more = f" ... ({len(body)} bytes)" if len(body) > PREVIEW_BYTES else ""
    return f'"{escape_text(head)}"{more}'
