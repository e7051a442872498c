"""The request budget shared by everything one invocation does with one token.

The API allows 60 requests per 60 s per token and run starts at 10/min,
30/h, 150/day; a 429 costs a Retry-After pause, so mogrun paces itself
instead of finding the limits. Every request (polls, starts, cancels, repo
look-ups) calls ``acquire`` just before it is sent; the bookkeeping is a
sliding window like the server's. A request counts from the moment it is
sent until its answer comes; it then stays in the window for a full window
from the time of its answer (the latest moment the server can have counted
it), plus a small margin, so delays between our clock and the server's can
never make the server see more than the limit.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mogrun.errors import RateLimitedError, TaskFileError

DEFAULT_STARTS: tuple[tuple[int, float], ...] = ((10, 60.0), (30, 3600.0), (150, 86400.0))
MIN_POLL_INTERVAL = 1.5

_SETTING_WINDOWS = (
    ("starts_per_minute", 60.0),
    ("starts_per_hour", 3600.0),
    ("starts_per_day", 86400.0),
)


class Ticket:
    """One request's place in the windows. While the request is in flight its
    time is +inf (it cannot leave a window); ``settle`` stamps the time its
    answer came, the latest moment the server can have counted it."""

    __slots__ = ("time",)

    def __init__(self, time: float = math.inf) -> None:
        self.time = time


class _Window:
    """At most ``limit`` requests in any ``span`` seconds."""

    def __init__(self, limit: int, span: float) -> None:
        self.limit = limit
        self.span = span
        self.tickets: list[Ticket] = []

    def wait(self, now: float) -> float:
        """Seconds until one more fits (0 now; +inf while only in-flight ones block)."""
        self.tickets = [t for t in self.tickets if t.time > now - self.span]
        if len(self.tickets) < self.limit:
            return 0.0
        times = sorted(t.time for t in self.tickets)
        return times[len(times) - self.limit] + self.span - now


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
        self._settled = threading.Condition(self._lock)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None, *, time_scale: float = 1.0,
                      **kwargs: Any) -> RequestBudget:
        """A budget from the task file's ``[mogplex]`` table (tokens with other limits).

        ``time_scale`` shrinks every window (tests against an emulator whose
        ``--limits`` count per seconds instead of per minute/hour/day)."""
        settings = settings or {}
        rpm = _positive_int(settings, "requests_per_minute", 60)
        starts = tuple(
            (_positive_int(settings, key, default), span * time_scale)
            for (key, span), (default, _) in zip(_SETTING_WINDOWS, DEFAULT_STARTS, strict=True)
        )
        if time_scale != 1.0:
            kwargs.setdefault("window", 60.0 * time_scale)
        return cls(requests_per_minute=rpm, starts=starts, **kwargs)

    def acquire(self, kind: str = "request", *, deadline: float | None = None) -> None:
        """Block until one more request (and, for ``"start"``, a start) fits,
        and count it as sent now.

        Raises ``RateLimitedError`` at once when it could only fit after
        ``deadline`` (a time of ``clock``).
        """
        self.settle(self.reserve(kind, deadline=deadline))

    def reserve(self, kind: str = "request", *, deadline: float | None = None) -> Ticket:
        """Like ``acquire``, but the request stays counted as in flight (it never
        leaves a window) until ``settle(ticket)`` stamps when its answer came."""
        while True:
            with self._lock:
                now = self.clock()
                wait = self._wait(kind, now)
                if wait <= 0:
                    return self._record(kind)
                if deadline is not None and now + self._eventual(kind, now) > deadline:
                    raise self._too_late(kind, wait)
                if math.isinf(wait):  # blocked by requests in flight: wait for an answer
                    self._settled.wait(timeout=0.05)
                    continue
            self.sleep(wait)

    @contextlib.contextmanager
    def slot(self, kind: str = "request", *, deadline: float | None = None) -> Iterator[None]:
        """``with budget.slot("start"):`` send one request inside the budget."""
        ticket = self.reserve(kind, deadline=deadline)
        try:
            yield
        finally:
            self.settle(ticket)

    def settle(self, ticket: Ticket) -> None:
        """The request's answer (or failure) came now."""
        with self._lock:
            ticket.time = self.clock()
            self._settled.notify_all()

    def _wait(self, kind: str, now: float) -> float:
        windows = [self._requests, *(self._starts if kind == "start" else ())]
        return max([self._paused_until - now, *(w.wait(now) for w in windows)])

    def _eventual(self, kind: str, now: float) -> float:
        """The wait if every request in flight were answered now (for deadlines)."""
        windows = [self._requests, *(self._starts if kind == "start" else ())]
        waits = [self._paused_until - now]
        for window in windows:
            times = sorted(min(t.time, now) for t in window.tickets)
            if len(times) >= window.limit:
                waits.append(times[len(times) - window.limit] + window.span - now)
        return max(waits)

    def _record(self, kind: str) -> Ticket:
        ticket = Ticket()
        self._requests.tickets.append(ticket)
        if kind == "start":
            for window in self._starts:
                window.tickets.append(ticket)
        return ticket

    def _too_late(self, kind: str, wait: float) -> RateLimitedError:
        shown = "until requests in flight are answered" if math.isinf(wait) else (
            f"until {wait:.1f} s from now")
        return RateLimitedError(
            f"the request budget has no room for this {kind} {shown}, past its deadline",
            status=429, code="RATE_LIMITED", retry_after=None if math.isinf(wait) else wait,
            context=["mogrun paces itself to the API's limits "
                     "(see [mogplex] requests_per_minute / starts_per_*)."],
        )

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
