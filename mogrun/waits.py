"""Waits: every moment an invocation holds something back, said out loud.

A ``Wait`` is a value the engine, the API budget and the client emit
whenever a run or a start waits (for the start limit, a 429's Retry-After,
a sandbox slot, needs, a retry after a transport error, an automation's
deferral). It flows through the one lifecycle channel to every reporter
(terminal, plain, GitHub, NDJSON ``{"type": "wait"}``), the history and
the ``mogrun_wait`` hook, so the user is never left at a silent terminal.
Stdlib only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from mogrun.durations import format_duration


class WaitKind(StrEnum):
    START_LIMIT = "start_limit"  # pacing starts inside the run-start budget
    RATE_LIMITED = "rate_limited"  # a 429's Retry-After
    REQUEST_BUDGET = "request_budget"  # pacing requests inside 60/min
    POLL_INTERVAL = "poll_interval"  # a poll interval set by MOGRUN_POLL_INTERVAL
    CAPACITY = "capacity"  # no free sandbox slot on the account
    NEEDS = "needs"  # needs not yet done
    RETRY = "retry"  # a retry after a transport error or a 5xx
    ANSWER = "answer"  # a request the server has not answered for a while
    DEFERRED = "deferred"  # an automation trigger deferred or suppressed by the server
    PLUGINS = "plugins"  # plugins finishing their end-of-session work (notifications)

    @property
    def holds_requests(self) -> bool:
        """Whether it holds requests (a started run's polls too), not only starts."""
        return self in (WaitKind.RATE_LIMITED, WaitKind.REQUEST_BUDGET, WaitKind.POLL_INTERVAL,
                        WaitKind.RETRY, WaitKind.ANSWER)


ANNOUNCE_AFTER = 1.0  # waits shorter than this are not worth a line


@dataclass(frozen=True)
class Wait:
    """One wait: what waits, why, and when it ends (``None``: not known).

    ``ends_at`` is epoch seconds (``time.time()`` clock) so every output can
    show both a countdown and the wall-clock time; ``job`` and ``run`` are
    the job name and run label (``job:owner/name``) it holds back, if any.
    """

    kind: WaitKind
    reason: str
    ends_at: float | None = None
    job: str | None = None
    run: str | None = None

    @classmethod
    def for_seconds(cls, kind: WaitKind, reason: str, seconds: float | None,
                    **where: str | None) -> Wait:
        ends = None if seconds is None else time.time() + max(0.0, seconds)
        return cls(kind=kind, reason=reason, ends_at=ends, **where)

    def remaining(self, now: float | None = None) -> float | None:
        if self.ends_at is None:
            return None
        return max(0.0, self.ends_at - (time.time() if now is None else now))

    def describe(self, now: float | None = None) -> str:
        """``reason; ends in 43s (17:52:31Z)`` — the one way a wait is written.

        The countdown rounds up, as countdowns do: a wait still going never
        reads "ends in 0s". A wait of a day or more names the date too (a
        plugin's retry delay can be that long)."""
        left = self.remaining(now)
        if left is None:
            return self.reason
        clock = wall_clock(self._end(), left)
        return f"{self.reason}; ends in {format_duration(math.ceil(left))} ({clock})"

    def as_json(self, now: float | None = None) -> dict[str, object]:
        """``ends_at`` is ``null`` for an end no calendar holds (a plugin's delay of
        1e12 s, a ``capacity_wait`` as long): ``seconds`` still says it."""
        moment = self._end()
        ends = moment.isoformat().replace("+00:00", "Z") if moment else None
        return {"kind": str(self.kind), "reason": self.reason, "ends_at": ends,
                "seconds": self.remaining(now), "job": self.job, "run": self.run}

    def _end(self) -> datetime | None:
        """``ends_at`` as a UTC time; ``None`` when unknown or past year 9999."""
        return None if self.ends_at is None else _utc(self.ends_at)


def clock_in(seconds: float) -> str:
    """The UTC wall-clock time ``seconds`` from now, as a wait shows its end (a
    retry's "try again after", a capacity wait's end)."""
    return wall_clock(_utc(time.time() + seconds), seconds)


def wall_clock(moment: datetime | None, left: float) -> str:
    """The one way a wait's end is shown: ``17:52:31Z``, with the date when it is a
    day or more away (a plugin's retry delay can be that long); an end no calendar
    holds (``None``) said so."""
    if moment is None:
        return "a time past any calendar"
    return moment.strftime("%H:%M:%SZ" if left < 86400 else "%Y-%m-%d %H:%M:%SZ")


def _utc(epoch: float) -> datetime | None:
    """``epoch`` as a UTC time; ``None`` past year 9999 (or before year 1)."""
    try:
        return datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):
        return None
