"""How the API writes a moment, in one place.

Every time the emulated routes answer is a Postgres ``timestamptz`` column the
server reads through supabase-js (PostgREST) and passes on unchanged: a run's
``createdAt``/``updatedAt``, its events', a sandbox's ``created_at`` and
``last_active_at``, an automation's, a job run's and its node runs', AI calls'
and dispatch events'; an automation list's ``nextCursor`` carries its last
row's ``created_at`` the same way. Postgres writes such a value in JSON as UTC
with ``+00:00``, to the microsecond with the fraction's trailing zeros dropped,
and no fraction at all on a whole second:
``2026-03-28T19:30:00.123456+00:00``, ``...00.12+00:00``, ``...00+00:00``.
(JavaScript's ``toISOString``, milliseconds and ``Z``, is what the server writes
into some of those columns, never what it answers.)
"""

from __future__ import annotations

from datetime import UTC, datetime


def timestamptz(epoch: float) -> str:
    """``epoch`` as the API answers a ``timestamptz`` (the column keeps the
    microsecond: what is below it was never stored)."""
    moment = datetime.fromtimestamp(epoch, UTC)  # rounds to the microsecond
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + "+00:00"


def stored(epoch: float) -> float:
    """``epoch`` as the column keeps it, to the microsecond: what the database
    compares and sorts by, as the client reads it back from ``timestamptz``."""
    return datetime.fromisoformat(timestamptz(epoch)).timestamp()
