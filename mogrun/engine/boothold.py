"""The boot hold: no new sandbox for a while after a boot window was spent.

The server refuses a boot for its hourly boot rate or its daily quota without
saying when the window frees (it frees as its oldest boots age out), and every
try costs a start and a failed run. So after such a refusal, starts that need
a new sandbox are held back ``BOOT_HOLD``, doubling at each such refusal up to
``BOOT_HOLD_MAX``; a boot that succeeds after it shows the window has room
again, and the next refusal starts from ``BOOT_HOLD``. Not thread-safe: its
owner (``SandboxSlots``) calls it under its own lock. Times are monotonic.
"""

from __future__ import annotations

import math

from mogrun.durations import format_duration

BOOT_HOLD = 60.0
BOOT_HOLD_MAX = 900.0


class BootHold:
    """When new sandboxes may boot again, and why they may not before."""

    def __init__(self) -> None:
        self.until = 0.0  # no new sandbox before this time
        self.seconds = 0.0  # the last hold, doubled at the next refusal
        self.since = -math.inf  # when the last boot-window refusal came
        self.why: tuple[str, str] | None = None  # (the limit, the server's error)

    def refused(self, limit: str, error: str, now: float, sent_at: float | None = None) -> float:
        """A boot refused for ``limit`` (``error``, the server's) of a start sent at
        ``sent_at``: the hold begins (or grows); returns what is left of it. A start
        sent before the last refusal came says nothing new (a burst of starts refused
        together): the hold stands, not doubled for each of them (six refused at
        once held the next boot 8 minutes for a window free again in one)."""
        if sent_at is not None and sent_at < self.since and now < self.until:
            return self.until - now
        self.seconds = min(BOOT_HOLD_MAX, max(BOOT_HOLD, 2 * self.seconds))
        self.until, self.since, self.why = now + self.seconds, now, (limit, error)
        return self.seconds

    def booted(self, claimed_at: float) -> None:
        """A sandbox claimed at ``claimed_at`` booted. Claimed after the last refusal,
        its boot shows the window has room again: the next refusal holds ``BOOT_HOLD``,
        not double the last hold. (One claimed before it says nothing: its boot may
        have come before the refusal.)"""
        if claimed_at >= self.since:
            self.seconds = 0.0

    def held(self, now: float) -> bool:
        return now < self.until

    def outlasts(self, deadline: float) -> bool:
        """Whether the hold still runs at ``deadline`` (a wait's end)."""
        return self.until > deadline

    def reason(self, now: float) -> tuple[str, str] | None:
        """While held: ``the server's boot rate limit was reached (...)`` and the time
        left, as a duration."""
        left = self.until - now
        if self.why is None or left <= 0:
            return None
        limit, error = self.why
        return f"the server's {limit} was reached ({error})", format_duration(left)
