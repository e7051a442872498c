"""The request budget shared by everything one invocation does with one token.

The API allows 60 requests per 60 s per token and run starts at 10/min,
30/h, 150/day; a 429 costs a Retry-After pause, so mogrun paces itself
instead of finding the limits. Every request (polls, starts, cancels, repo
look-ups) calls ``reserve`` just before it is sent; the bookkeeping is a
sliding window like the server's. A request counts from the moment it is
sent until its answer comes; it then stays in the window for a full window
from the time of its answer (the latest moment the server can have counted
it), plus a small margin, so delays between our clock and the server's can
never make the server see more than the limit.

The server keeps the two limits apart, and so does the budget: a start-limit
429 pauses starts only (following goes on), a request-limit 429 pauses
every request. Every wait longer than a moment is announced as a ``Wait``
through ``waits`` (the engine subscribes its lifecycle channel), so a user
never sits at a silent terminal.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mogrun.api.waiting import WaitChannel
from mogrun.errors import RateLimitedError, TaskFileError
from mogrun.waits import ANNOUNCE_AFTER, Wait, WaitKind

DEFAULT_STARTS: tuple[tuple[int, float], ...] = ((10, 60.0), (30, 3600.0), (150, 86400.0))
# Polls of all active runs together stay under this rate even with the limits
# lifted: past it, polling costs more CPU than the latency it saves.
MAX_POLLS_PER_SECOND = 250.0
MIN_POLL_INTERVAL = 0.05  # a floor for one run alone on a lifted budget
# Requests one command keeps in flight together when it asks many things at once
# (repo listings, status's going runs). The budget still paces them: at the API's
# 60/min it lets one request a second through once its first window is spent, and
# 8 in flight keep up that rate against a server taking up to 8 s an answer; more
# would only queue behind the budget, and the server asks not to be hammered.
AT_ONCE = 8
# A start that must wait says so only this long after it joined the queue, so the
# starts that came with it (a fan-out's workers, all at once) are in the count:
# "1 run queued" was said when a second came a millisecond later.
START_GATHER = 0.25  # seconds; a start-limit wait is a second or more

_SETTING_WINDOWS = (
    ("starts_per_minute", 60.0),
    ("starts_per_hour", 3600.0),
    ("starts_per_day", 86400.0),
)
_SPAN_NAMES = {60.0: "min", 3600.0: "h", 86400.0: "day"}


class Ticket:
    """One request's place in the windows. While the request is in flight its
    time is +inf (it cannot leave a window); ``settle`` stamps the time its
    answer came, the latest moment the server can have counted it. ``poll``:
    a follower's read (the poll interval shares out what the others leave)."""

    __slots__ = ("poll", "time")

    def __init__(self, time: float = math.inf, poll: bool = False) -> None:
        self.time = time
        self.poll = poll


class _Window:
    """At most ``limit`` requests in any ``span`` seconds."""

    def __init__(self, limit: int, span: float, name: str) -> None:
        self.limit = limit
        self.span = span
        self.name = name  # "10/min", for wait reasons
        self.tickets: deque[Ticket] = deque()
        self.other_tickets: deque[Ticket] = deque()  # the same, polls left out

    def add(self, ticket: Ticket) -> None:
        self.tickets.append(ticket)
        if not ticket.poll:
            self.other_tickets.append(ticket)

    def discard(self, ticket: Ticket) -> None:
        """Count ``ticket`` no more (a request the server refused)."""
        for tickets in (self.tickets, self.other_tickets):
            with contextlib.suppress(ValueError):
                tickets.remove(ticket)

    def others(self, now: float) -> int:
        """Requests other than polls still counted (in flight or answered within
        the span; one in flight at the head keeps later ones counted a little longer)."""
        return len(self._aged_out(self.other_tickets, now))

    def counted(self, now: float) -> int:
        """Requests still counted, polls included."""
        return len(self._aged_out(self.tickets, now))

    def _aged_out(self, tickets: deque[Ticket], now: float) -> deque[Ticket]:
        """``tickets`` without those at the head answered a span ago or more.
        Tickets are kept in send order, so the common case costs O(1) even with a
        lifted limit."""
        cutoff = now - self.span
        while tickets and tickets[0].time <= cutoff:
            tickets.popleft()
        return tickets

    def wait(self, now: float) -> float:
        """Seconds until one more fits (0 now; +inf while only in-flight ones block)."""
        cutoff = now - self.span
        tickets = self._aged_out(self.tickets, now)
        if len(tickets) < self.limit:
            return 0.0
        times = sorted(t.time for t in tickets if t.time > cutoff)
        if len(times) < self.limit:
            return 0.0
        return times[len(times) - self.limit] + self.span - now


class RequestBudget:
    """Paces requests and starts so the server never has to say 429.

    Thread-safe: the engine polls from many threads. ``reserve`` sleeps
    outside the lock and re-checks, so a pause from a 429 seen by one thread
    holds back every other request of the same kind.

    ``shards``: this process is one of N shards sharing one token (CI's
    ``--shard I/N``), so it takes a 1/N share of every per-token limit.
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
        shards: int = 1,
        waits: WaitChannel | None = None,
    ) -> None:
        if requests_per_minute < 1 or any(limit < 1 for limit, _ in starts) or shards < 1:
            raise ValueError("budget limits must be positive")
        self.shards = shards
        self.requests_per_minute = max(1, requests_per_minute // shards)
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self.waits = waits if waits is not None else WaitChannel()
        # Pad each window: our send time precedes the server's receive time.
        self.margin = (0.1 + 0.01 * window) if margin is None else margin
        self._requests = _Window(self.requests_per_minute, window + self.margin,
                                 _rate_name(self.requests_per_minute, window))
        self._starts = [_Window(max(1, limit // shards), span + self.margin,
                                _rate_name(max(1, limit // shards), span))
                        for limit, span in starts]
        self._paused_until = -math.inf  # request-limit 429: every request waits
        self._starts_paused_until = -math.inf  # start-limit 429: only starts wait
        self._start_waiters = 0
        self._blocked = 0  # threads waiting for an answer to free room (``_settled``)
        self._announced: dict[WaitKind, tuple[int, int, float]] = {}
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None, *, time_scale: float = 1.0,
                      **kwargs: Any) -> RequestBudget:
        """A budget from the task file's ``[mogplex]`` table (tokens with other limits).

        ``time_scale`` shrinks every window (tests against an emulator whose
        ``--limits`` count per seconds instead of per minute/hour/day)."""
        rpm, declared = declared_rates(settings)
        starts = tuple((limit, span * time_scale) for limit, span in declared)
        if time_scale != 1.0:
            kwargs.setdefault("window", 60.0 * time_scale)
        return cls(requests_per_minute=rpm, starts=starts, **kwargs)

    # --- taking room -------------------------------------------------------------

    def acquire(self, kind: str = "request", *, deadline: float | None = None) -> None:
        """Block until one more request (and, for ``"start"``, a start) fits,
        and count it as sent now. ``kind``: ``"start"``, ``"poll"`` (a
        follower's read) or ``"request"`` (anything else).

        Raises ``RateLimitedError`` at once when it could only fit after
        ``deadline`` (a time of ``clock``).
        """
        self.settle(self.reserve(kind, deadline=deadline))

    def reserve(self, kind: str = "request", *, deadline: float | None = None) -> Ticket:
        """Like ``acquire``, but the request stays counted as in flight (it never
        leaves a window) until ``settle(ticket)`` stamps when its answer came."""
        starting = kind == "start"
        with self._lock:
            if self._wait(starting, self.clock()) <= 0:  # room now: every request, mostly
                return self._record(starting, poll=kind == "poll")
            self._start_waiters += starting
        gathered = not starting  # a start's first wait lets the starts beside it join
        try:
            while True:
                with self._lock:
                    now = self.clock()
                    wait = self._wait(starting, now)
                    if wait <= 0:
                        return self._record(starting, poll=kind == "poll")
                    if deadline is not None and now + self._eventual(starting, now) > deadline:
                        raise self._too_late(kind, wait)
                    blocked = math.isinf(wait)  # by requests in flight: wait for an answer
                    if blocked:
                        self._blocked += 1
                        try:
                            self._settled.wait(timeout=0.05)
                        finally:
                            self._blocked -= 1
                    elif gathered:
                        wait_notice = self._notice(starting, now, wait)
                if blocked:
                    # A signal ends this wait too (sleep is interruptible when armed): a
                    # poll no longer runs on a thread its follower can walk away from.
                    self.sleep(0)
                    continue
                if not gathered:
                    gathered = True
                    self.sleep(min(wait, START_GATHER))
                    continue
                if wait_notice is not None:
                    self.waits.emit(wait_notice)
                self.sleep(wait)
        finally:
            with self._lock:
                self._start_waiters -= starting

    @contextlib.contextmanager
    def slot(self, kind: str = "request", *, deadline: float | None = None) -> Iterator[None]:
        """``with budget.slot("start"):`` send one request inside the budget."""
        ticket = self.reserve(kind, deadline=deadline)
        try:
            yield
        finally:
            self.settle(ticket)

    def settle(self, ticket: Ticket) -> None:
        """The request's answer (or failure) came now. The stamp needs no lock (one
        float stored; the windows read it under theirs); the lock is taken only to
        wake requests blocked by those in flight (which look again every 50 ms)."""
        ticket.time = self.clock()
        if self._blocked:
            with self._lock:
                self._settled.notify_all()

    def refused(self, ticket: Ticket, *, starts_only: bool) -> None:
        """The server refused ``ticket``'s request (a 429, or it never saw it: see
        ``MogplexClient._uncount``): it counts only what it let through, so the request
        is taken out of the windows that refused it (a start refused by the start limit
        still passed the request limit). Counted, each refused start held the next
        start back up to a minute more."""
        with self._lock:
            for window in self._starts if starts_only else self._windows(True):
                window.discard(ticket)
            if self._blocked:
                self._settled.notify_all()

    def _windows(self, starting: bool) -> list[_Window]:
        return [self._requests, *self._starts] if starting else [self._requests]

    def _pauses(self, starting: bool) -> list[float]:
        return [self._paused_until, self._starts_paused_until] if starting else [
            self._paused_until]

    def _wait(self, starting: bool, now: float) -> float:
        """Seconds until one more request (a start: and one more start) fits."""
        wait = max(self._paused_until - now, self._requests.wait(now))
        if starting:
            wait = max(wait, self._starts_paused_until - now,
                       *[window.wait(now) for window in self._starts])
        return wait

    def _eventual(self, starting: bool, now: float) -> float:
        """The wait if every request in flight were answered now (for deadlines)."""
        waits = [p - now for p in self._pauses(starting)]
        for window in self._windows(starting):
            times = sorted(min(t.time, now) for t in window.tickets)
            if len(times) >= window.limit:
                waits.append(times[len(times) - window.limit] + window.span - now)
        return max(waits)

    def _record(self, starting: bool, poll: bool = False) -> Ticket:
        ticket = Ticket(poll=poll)
        self._requests.add(ticket)
        if starting:
            for window in self._starts:
                window.add(ticket)
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

    # --- announcing waits --------------------------------------------------------

    def _notice(self, starting: bool, now: float, wait: float) -> Wait | None:
        """The ``Wait`` to announce before sleeping ``wait`` (lock held), or ``None``
        when it is too short or already announced (many threads share one wait)."""
        if wait < ANNOUNCE_AFTER:
            return None
        kind, reason = self._why(starting, now, wait)
        waiting = self._start_waiters if kind is WaitKind.START_LIMIT else 0
        ends = round(now + wait)
        last = self._announced.get(kind)
        if last is not None and last[1] == ends and (last[0] == waiting or now - last[2] < 2.0):
            return None
        self._announced[kind] = (waiting, ends, now)
        return Wait.for_seconds(kind, reason, wait)

    def _why(self, starting: bool, now: float, wait: float) -> tuple[WaitKind, str]:
        if self._paused_until - now >= wait:
            return WaitKind.RATE_LIMITED, "the API answered 429 (request limit); requests resume"
        if starting and self._starts_paused_until - now >= wait:
            return WaitKind.RATE_LIMITED, "the API answered 429 (start limit); starts resume"
        if starting:
            binding = max(self._starts, key=lambda w: w.wait(now))
            if binding.wait(now) >= wait:
                queued = self._start_waiters
                runs = "1 run" if queued == 1 else f"{queued} runs"
                return WaitKind.START_LIMIT, f"{runs} queued for the start limit ({binding.name})"
        return WaitKind.REQUEST_BUDGET, (
            f"requests paced to the API's limit ({self._requests.name})")

    # --- 429s --------------------------------------------------------------------

    def pause(self, seconds: float | None, *, starts_only: bool = False) -> None:
        """After a 429: requests (or, for the start limit, starts only) wait until
        ``seconds`` from now have passed. A shorter pause never shortens a longer one."""
        if seconds is None or not seconds > 0 or math.isinf(seconds):
            return
        with self._lock:
            until = self.clock() + seconds
            if starts_only:
                self._starts_paused_until = max(self._starts_paused_until, until)
            else:
                self._paused_until = max(self._paused_until, until)

    def paused_for(self, *, starts: bool = False) -> float:
        """Seconds left of the current pause of requests (or of starts)."""
        with self._lock:
            until = max(self._paused_until, self._starts_paused_until) if starts else (
                self._paused_until)
            return max(0.0, until - self.clock())

    # --- following ---------------------------------------------------------------

    def used(self) -> float:
        """The share of the request window now taken (0 to 1 or more)."""
        with self._lock:
            return self._requests.counted(self.clock()) / self.requests_per_minute

    def poll_interval(self, active_runs: int) -> float:
        """How often each of ``active_runs`` runs may poll.

        Polls share out what the other requests leave of the window: the
        starts, look-ups and cancels still counted in it, or, while a start
        waits, a fifth of it (at least 2), whichever is more. So with nothing
        else going on the time to notice a run's end is what the limit allows
        (about N seconds for N runs at 60/min), and polls never queue behind
        the requests of the minute before (a queue that would not drain while
        polls alone fill the window). With the limits lifted, all polls
        together stay under ``MAX_POLLS_PER_SECOND``.
        """
        runs = max(1, active_runs)
        with self._lock:
            starts_waiting = self._start_waiters > 0
            others = self._requests.others(self.clock())
        rpm = self.requests_per_minute
        reserve = max(2, math.ceil(rpm * 0.2)) if starts_waiting else 0
        usable = max(1, rpm - max(reserve, others))
        by_budget = (self.window + self.margin) * runs / usable
        return max(MIN_POLL_INTERVAL, by_budget, runs / MAX_POLLS_PER_SECOND)


def declared_rates(settings: Mapping[str, Any] | None
                   ) -> tuple[int, tuple[tuple[int, float], ...]]:
    """The token's request limit per minute and its start windows (count, seconds)
    as the task file's ``[mogplex]`` table declares them, the server's where it
    is silent (``TaskFileError`` for a value that is not a positive integer)."""
    settings = settings or {}
    return _positive_int(settings, "requests_per_minute", 60), tuple(
        (_positive_int(settings, key, default), span)
        for (key, span), (default, _) in zip(_SETTING_WINDOWS, DEFAULT_STARTS, strict=True))


def _rate_name(limit: int, span: float) -> str:
    unit = _SPAN_NAMES.get(span)
    return f"{limit}/{unit}" if unit else f"{limit} per {span:g} s"


def _positive_int(settings: Mapping[str, Any], key: str, default: int) -> int:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TaskFileError(
            f"[mogplex] {key} must be a positive integer, got {value!r}", key=key
        )
    return value
