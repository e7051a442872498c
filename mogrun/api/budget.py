"""The request budget shared by everything one invocation does with one token.

The API allows 60 requests per 60 s per token and run starts at 10/min,
30/h, 150/day; a 429 costs a Retry-After pause, so mogrun paces itself
instead of finding the limits. Every request (polls, starts, cancels, repo
look-ups) calls ``acquire`` just before it is sent; the bookkeeping is a
sliding window of send times, like the server's, with a small safety margin
for the time between our clock reading and the server's.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from mogrun.errors import RateLimitedError, TaskFileError

DEFAULT_STARTS: tuple[tuple[int, float], ...] = ((10, 60.0), (30, 3600.0), (150, 86400.0))
MIN_POLL_INTERVAL = 1.5

_SETTING_WINDOWS = (
    ("starts_per_minute", 60.0),
    ("starts_per_hour", 3600.0),
    ("starts_per_day", 86400.0),
)


class _Window:
    """At most ``limit`` events in any ``span`` seconds."""

    def __init__(self, limit: int, span: float) -> None:
        self.limit = limit
        self.span = span
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        while self.times and self.times[0] <= now - self.span:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        return self.times[len(self.times) - self.limit] + self.span - now


class RequestBudget:
    """Paces requests and starts so the server never has to say 429.

    Thread-safe: the engine polls from many threads. ``acquire`` sleeps
    outside the lock and re-checks, so a ``pause`` from a 429 seen by one
    thread holds back every other.
    """

    def __init__(
        self,
        *,
        requests_per_minute: int = 60,
        starts: tuple[tuple[int, float], ...] = DEFAULT_STARTS,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin: float | None = None,
    ) -> None:
        if requests_per_minute < 1 or any(limit < 1 for limit, _ in starts):
            raise ValueError("budget limits must be positive")
        self.requests_per_minute = requests_per_minute
        self.window = window
        self.clock = clock
        self.sleep = sleep
        # Pad each window: our send time precedes the server's receive time.
        self.margin = (0.1 + 0.01 * window) if margin is None else margin
        self._requests = _Window(requests_per_minute, window + self.margin)
        self._starts = [_Window(limit, span + self.margin) for limit, span in starts]
        self._paused_until = -math.inf
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None, **kwargs: Any) -> RequestBudget:
        """A budget from the task file's ``[mogplex]`` table (tokens with other limits)."""
        settings = settings or {}
        rpm = _positive_int(settings, "requests_per_minute", 60)
        starts = tuple(
            (_positive_int(settings, key, default), span)
            for (key, span), (default, _) in zip(_SETTING_WINDOWS, DEFAULT_STARTS, strict=True)
        )
        return cls(requests_per_minute=rpm, starts=starts, **kwargs)

    def acquire(self, kind: str = "request", *, deadline: float | None = None) -> None:
        """Block until one more request (and, for ``"start"``, a start) fits.

        Raises ``RateLimitedError`` at once when it could only fit after
        ``deadline`` (a time of ``clock``).
        """
        while True:
            with self._lock:
                now = self.clock()
                wait = self._wait(kind, now)
                if wait <= 0:
                    self._record(kind, now)
                    return
            if deadline is not None and now + wait > deadline:
                raise RateLimitedError(
                    f"the request budget has no room for this {kind} until "
                    f"{wait:.1f} s from now, past its deadline",
                    status=429, code="RATE_LIMITED", retry_after=wait,
                    context=["mogrun paces itself to the API's limits "
                             "(see [mogplex] requests_per_minute / starts_per_*)."],
                )
            self.sleep(wait)

    def _wait(self, kind: str, now: float) -> float:
        windows = [self._requests, *(self._starts if kind == "start" else ())]
        return max([self._paused_until - now, *(w.wait(now) for w in windows)])

    def _record(self, kind: str, now: float) -> None:
        self._requests.times.append(now)
        if kind == "start":
            for window in self._starts:
                window.times.append(now)

    def pause(self, seconds: float | None) -> None:
        """After a 429: every caller waits until ``seconds`` from now have passed."""
        if seconds is None or seconds <= 0:
            return
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock() + seconds)

    def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        with self._lock:
            return max(0.0, self._paused_until - self.clock())

    def poll_interval(self, active_runs: int) -> float:
        """How often each of ``active_runs`` runs may poll.

        Polls get the per-window budget minus a reserve (a fifth, at least 2)
        for starts, cancels and retries; never faster than 1.5 s.
        """
        runs = max(1, active_runs)
        reserve = max(2, math.ceil(self.requests_per_minute * 0.2))
        usable = max(1, self.requests_per_minute - reserve)
        return max(MIN_POLL_INTERVAL, (self.window + self.margin) * runs / usable)


def _positive_int(settings: Mapping[str, Any], key: str, default: int) -> int:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TaskFileError(
            f"[mogplex] {key} must be a positive integer, got {value!r}", key=key
        )
    return value
