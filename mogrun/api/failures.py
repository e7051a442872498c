"""Completing an API error for the user: secrets masked, and what to check.

Helpers of the client's request loop, kept apart so the loop stays short.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mogrun.errors import ConnectError, MogrunError
from mogrun.masking import mask


def masked(error: MogrunError, secrets: tuple[str, ...], **changes: Any) -> MogrunError:
    """The token and the job's secrets (env.* values, say) never reach a message,
    whatever the server echoed."""
    return error.evolve(message=mask(error.message, secrets),
                        context=tuple(mask(line, secrets) for line in error.context), **changes)


def source_words(source: str) -> str:
    return {"task file": "the task file's [mogplex] url", "default": "the default"}.get(
        source, source)


def clock_in(seconds: float) -> str:
    """The UTC wall-clock time ``seconds`` from now, as waits show it."""
    try:
        when = datetime.now(UTC) + timedelta(seconds=seconds)
    except OverflowError:
        return "a time too far away to show"
    return when.strftime("%H:%M:%SZ") if seconds < 86400 else when.strftime("%Y-%m-%d %H:%M:%SZ")


def short_cause(error: MogrunError) -> str:
    """``connection refused`` rather than the whole message, for a retry line."""
    text = error.message
    if isinstance(error, ConnectError) and ": " in text:
        return text.rsplit(": ", 1)[1].lower()
    return text
