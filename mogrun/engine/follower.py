"""Following one run to its end through ``GET /runs/{id}/events``.

One request returns both the run's status and its events, and the list has
no cursor: it holds at most ``limit`` events, the first ``limit`` (the
contract's server) or the latest (the newest server's). So the follower keeps
the ids it has seen and passes on only new ones, in the server's order,
across retries and reconnects, and says what it could not show only when it
knows: a run that ended without its own end event among the ``limit`` seen
(the first ``limit`` only: the rest are not shown), or a poll whose every
event was new after some were seen (more than ``limit`` came between two
polls). Which server it is cannot be told before then.

Every poll answers with every event so far, so the source is told the ids
already seen and may leave those events unread: a long run's poll then costs
its new events, not all of them again.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from mogrun.durations import parse_moment
from mogrun.errors import Interrupted, MogrunError
from mogrun.models import ResolvedJob
from mogrun.outcomes import RunStatus
from mogrun.runs import Event, RunState
from mogrun.waits import Wait, WaitKind

EVENT_LIMIT = 200
AWAITING_INPUT = "awaiting_input"  # a FollowOutcome reason
# Why a run awaiting input fails its job (``run``) and ``logs --follow`` (its result).
AWAITING_INPUT_WHY = "awaiting input: the agent stopped to ask a question the API cannot answer"
DEADLINE_SLACK = 1.0  # seconds: a poll that fails this close to the deadline is the timeout
CAP_NOTICE = (
    "this run had more than {limit} events, the most the API returns at once, and the "
    "server returned its first {limit}: the later ones are not shown"
)
STREAMING_CAP_NOTICE = (
    "this run has reached {limit} events, the most the API returns at once, and the last "
    "poll brought no new one: a server that returns a run's first {limit} shows no later "
    "ones, so they may not be shown (its status is still followed)"
)
GAP_NOTICE = (
    "more than {limit} events came between two polls, the most the API returns at once: "
    "some of them are not shown"
)
END_EVENTS = frozenset({"finished", "failed", "cancelled"})  # the last event of an ended run
# A pause between two polls this long is said (a small request budget shared by
# many runs sets it): the run may end meanwhile, and the screen must not go quiet.
# Said once while it stays about the same, and every time from RESAY_PAUSE on.
SLOW_POLL, RESAY_PAUSE = 10.0, 30.0
RECHECK_PACE = 10.0  # a pause longer than this is asked again this often (``_pause``)
SLOW_POLL_REASON = ("the next poll of this run waits for the request budget ([mogplex] "
                    "requests_per_minute, shared by every run followed)")


@dataclass(frozen=True)
class Pace:
    """The time between two polls of a run, and what sets it: the wait said when
    it is long names that (the request budget, or a poll interval the environment
    set), not the budget whatever it is."""

    seconds: float
    kind: WaitKind = WaitKind.REQUEST_BUDGET
    reason: str = SLOW_POLL_REASON


class EventSource(Protocol):
    """The part of ``MogplexClient`` a follower needs."""

    def get_events(
        self, run_id: str, *, limit: int = EVENT_LIMIT, job: ResolvedJob | None = None,
        deadline: float | None = None, stop: threading.Event | None = None,
        known: Collection[str] = (), run: str | None = None,
    ) -> tuple[RunState, list[Event]]: ...


class FollowSink(Protocol):
    """Where a follower reports what it sees (the session: hooks, reporter, history)."""

    def event(self, event: Event) -> None: ...
    def status(self, old: str | None, state: RunState) -> None: ...
    def notice(self, message: str, level: str = "info") -> None: ...
    def watch(self, state: RunState, unchanged_for: float) -> str | None: ...
    def wait(self, wait: Wait) -> None: ...


@dataclass(frozen=True)
class FollowOutcome:
    """Why following stopped: ``terminal``, ``awaiting_input`` (the run waits for a
    person: following it further only waits for the timeout), ``timeout``,
    ``watch`` or ``interrupted``."""

    state: RunState
    events: tuple[Event, ...]
    reason: str
    detail: str = ""


class Follower:
    """Follows one run until it is terminal, its deadline passes, a watch
    hook gives up on it, or ``stop`` is set (an interrupt)."""

    def __init__(
        self,
        source: EventSource,
        job: ResolvedJob | None,
        state: RunState,
        sink: FollowSink,
        *,
        interval: Callable[[], Pace],
        deadline: float | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        label: str | None = None,
        ended: bool = False,
    ) -> None:
        self.source = source
        self.ended = ended  # known to have ended (recorded so): its first poll waits for nothing
        self.job = job
        self.label = label  # the run's label (``job:owner/name``): its polls' waits name it
        self.state = state
        self.sink = sink
        self.interval = interval
        self.deadline = deadline
        self.stop = stop or threading.Event()
        self.clock = clock
        self.events: list[Event] = []
        self._seen: set[str] = set()
        self._said_missing = False  # the one notice of events not shown, once said
        self._said_unseen = False  # that later events may not be shown, said while it runs
        self._fingerprint = self._print_of(state)
        self._unchanged_since = clock()
        self._polled_at = clock()  # when the last poll began (at first: the run's start)
        self._said_pause = 0.0  # the last long pause said (``_say_pause``)

    def follow(self) -> FollowOutcome:
        """Poll until done; the first poll waits one interval unless the run
        is already terminal, or ``ended`` (an attached, finished run still shows
        its events; ``logs --follow`` of a run history recorded ended)."""
        if not (self.state.terminal or self.ended):
            stopped = self._pause()
            if stopped is not None:
                return stopped
        while True:
            self._polled_at = self.clock()
            try:
                self.poll_once()
            except MogrunError as error:
                if isinstance(error, Interrupted) or not self._out_of_time():
                    raise
                return self._time_up()  # a poll stalled, or failed too close to the end
            if self.state.terminal:
                self.say_if_capped()
                return self._outcome("terminal")
            if self.state.status == RunStatus.AWAITING_INPUT:
                return self._outcome(AWAITING_INPUT)
            reason = self.sink.watch(self.state, self.clock() - self._unchanged_since)
            if reason:
                return self._outcome("watch", reason)
            stopped = self._pause()
            if stopped is not None:
                return stopped

    def poll_once(self) -> None:
        """One request: pass on new events, the cap notice and a status change,
        in the order they happened: a status change goes after the events the
        server had recorded by its ``updatedAt`` and before later ones."""
        state, events = self._fetch()
        if state.run_id != self.state.run_id:  # an answer naming none (the client refuses
            # one that names another run): the run asked for
            state = dataclasses.replace(state, run_id=self.state.run_id)
        seen_before = len(self._seen)
        fresh = self._fresh(events)
        old = self.state.status
        split = _split(fresh, state.updated_at) if state.status != old else len(fresh)
        if seen_before and len(fresh) >= EVENT_LIMIT:  # the latest window moved past ours
            self._say_once(GAP_NOTICE)
        for event in fresh[:split]:
            self.sink.event(event)
        self.state = state
        if state.status != old:
            self.sink.status(old, state)
        for event in fresh[split:]:
            self.sink.event(event)
        if not fresh and not state.terminal and len(self._seen) >= EVENT_LIMIT \
                and not self._said_unseen:
            # The contract's server answers a run's first events only: past them, it
            # stays quiet whatever the run does (the newest one's window moves on).
            self._said_unseen = True
            self.sink.notice(STREAMING_CAP_NOTICE.format(limit=EVENT_LIMIT), "warning")
        fingerprint = self._print_of(state)
        if fingerprint != self._fingerprint:
            self._fingerprint = fingerprint
            self._unchanged_since = self.clock()

    def say_if_capped(self) -> None:
        if capped(self.events):
            self._say_once(CAP_NOTICE)

    def _say_once(self, notice: str) -> None:
        if not self._said_missing:
            self._said_missing = True
            self.sink.notice(notice.format(limit=EVENT_LIMIT), "warning")

    def _fetch(self) -> tuple[RunState, list[Event]]:
        """One events request, made on this thread and given up (``Interrupted``)
        once ``stop`` is set: a request a stalled server holds (up to the read
        timeout) must not hold Ctrl-C's cancel back."""
        return self.source.get_events(self.state.run_id, limit=EVENT_LIMIT, job=self.job,
                                      deadline=self.deadline, stop=self.stop, known=self._seen,
                                      run=self.label)

    def _fresh(self, events: list[Event]) -> list[Event]:
        """The events not passed on before, in the server's order, now remembered."""
        fresh = []
        for event in events:
            key = event_identity(event)
            if key not in self._seen:
                self._seen.add(key)
                self.events.append(event)
                fresh.append(event)
        return fresh

    def _print_of(self, state: RunState) -> tuple[str, int, str | None]:
        return (state.status, len(self.events), state.updated_at)

    def _out_of_time(self) -> bool:
        """The deadline has passed (or is too close for another attempt): each
        poll's request is bounded by it, so a stalled server ends here."""
        return self.deadline is not None and self.clock() >= self.deadline - DEADLINE_SLACK

    def _time_up(self) -> FollowOutcome:
        """A timeout at the deadline, not before it: a poll that failed within
        ``DEADLINE_SLACK`` of it (its retry's pause would pass it) cancelled the run
        up to a second early, said as "timed out after 3s" at 2.1 s."""
        assert self.deadline is not None  # ``_out_of_time`` held
        left = self.deadline - self.clock()
        if left > 0 and self.stop.wait(left):
            return self._outcome("interrupted")
        return self._outcome("timeout")

    def _pause(self) -> FollowOutcome | None:
        """Wait until one interval after the last poll began (cut short by the
        deadline or an interrupt): the time a poll spent waiting for the budget
        or the server is not added to the gap between two polls. A long pause is
        asked again every ``RECHECK_PACE``: the budget frees as a start burst
        ages out of its window, and a pace set during the burst (one poll a
        minute each) would keep every run's end unseen for minutes."""
        said_end: float | None = None
        while True:
            now = self.clock()
            pace = self.interval()
            wait = max(0.0, pace.seconds - (now - self._polled_at))
            if self.deadline is not None:
                remaining = self.deadline - now
                if remaining <= 0:
                    return self._outcome("timeout")
                wait = min(wait, remaining)
            if said_end is None:
                self._say_pause(wait, pace)
            elif said_end - (now + wait) >= SLOW_POLL and wait >= SLOW_POLL:
                self._said_pause = 0.0  # sooner than said: said again, with its end
                self._say_pause(wait, pace)
            said_end = now + wait if said_end is None else min(said_end, now + wait)
            step = min(wait, RECHECK_PACE)
            if self.stop.wait(step):
                return self._outcome("interrupted")
            if self.deadline is not None and self.clock() >= self.deadline:
                return self._outcome("timeout")
            if step >= wait:
                return None

    def _say_pause(self, wait: float, pace: Pace) -> None:
        """Say a long pause before the next poll, as what sets it (``pace``)."""
        if wait < SLOW_POLL or (wait < RESAY_PAUSE and self._said_pause
                                and abs(wait - self._said_pause) <= self._said_pause / 4):
            return
        self._said_pause = wait
        self.sink.wait(Wait.for_seconds(pace.kind, pace.reason, wait))

    def _outcome(self, reason: str, detail: str = "") -> FollowOutcome:
        return FollowOutcome(self.state, tuple(self.events), reason, detail)


def capped(events: Sequence[Event]) -> bool:
    """Whether an ended run, of which ``events`` were seen, was shown only its first
    ``EVENT_LIMIT``: its end event is not among the full list (a server answering
    the latest ones always ends the list with it)."""
    return len(events) >= EVENT_LIMIT and events[-1].type not in END_EVENTS


def _split(events: list[Event], changed: str | None) -> int:
    """How many of ``events`` happened by the status change at ``changed``
    (all of them when a timestamp is unreadable: the status then goes last)."""
    at = parse_moment(changed)
    if at is None:
        return len(events)
    for index, event in enumerate(events):
        moment = parse_moment(event.created_at)
        if moment is not None and moment > at:
            return index
    return len(events)


def event_identity(event: Event) -> str:
    """The event's id; an event without one is told apart by what it says (the
    follower's dedup, and the runner's when it catches up after a cancel)."""
    if event.id:
        return event.id
    fields = (event.created_at, event.type, event.tool_name, event.message, event.payload)
    return "\0".join("" if value is None else str(value) for value in fields)
