"""Text that came from the network, made safe to show in one line of a message."""

from __future__ import annotations

from mogrun.textsafety import escape_agent_text

PREVIEW_BYTES = 80


def escape_text(text: str, limit: int | None = None) -> str:
    """Text from the network made safe to print, cut to ``limit`` characters."""
    return escape_agent_text(text if limit is None else text[:limit])


def preview(body: bytes) -> str:
    """The first bytes of a body, escaped, for an error message."""
    if not body:
        return "(empty body)"
    head = body[:PREVIEW_BYTES].decode("utf-8", "backslashreplace")
    more = f" ... ({len(body)} bytes)" if len(body) > PREVIEW_BYTES else ""
    return f'"{escape_text(head)}"{more}'
