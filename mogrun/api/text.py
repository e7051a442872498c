"""Text that came from the network, made safe to show in one line of a message."""

from __future__ import annotations

from collections.abc import Sequence

from mogrun.textsafety import escape_agent_text

PREVIEW_BYTES = 80


def escape_text(text: str, limit: int | None = None, secrets: Sequence[str] = ()) -> str:
    """Text from the network made safe to print, cut to ``limit`` characters, with
    ``secrets`` masked first: a token the server echoes, cut in two by the limit,
    is no longer found by the masking every message gets later."""
    if limit is not None:
        text = _masked(text[:limit + _longest(secrets)], secrets)[:limit]
    return escape_agent_text(text)


def preview(body: bytes, secrets: Sequence[str] = ()) -> str:
    """The first bytes of a body, escaped, for an error message (``secrets`` masked
    before the cut, as ``escape_text`` masks them)."""
    if not body:
        return "(empty body)"
    window = body[:PREVIEW_BYTES + 4 * _longest(secrets)].decode("utf-8", "backslashreplace")
    head = _masked(window, secrets)[:PREVIEW_BYTES]
    more = f" ... ({len(body)} bytes)" if len(body) > PREVIEW_BYTES else ""
    return f'"{escape_text(head)}"{more}'


def _longest(secrets: Sequence[str]) -> int:
    return max((len(secret) for secret in secrets), default=0)


def _masked(text: str, secrets: Sequence[str]) -> str:
    from mogrun.masking import mask

    return mask(text, secrets)
