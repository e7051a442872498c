"""Unit tests of the follower's dedup, ordering, cap notice, deadline and stop,
against an in-memory event source (the HTTP path is proven end to end)."""

from __future__ import annotations

import threading

import pytest

from mogrun.engine.follower import (
    CAP_NOTICE,
    EVENT_LIMIT,
    GAP_NOTICE,
    STREAMING_CAP_NOTICE,
    Follower,
    Pace,
)
from mogrun.runs import Event, RunState


def ev(n: int, kind: str = "log") -> Event:
    return Event(id=f"e{n}", type=kind, created_at="2026-01-01T00:00:00Z", message=f"m{n}")


class Script:
    """Answers get_events from a list of (status, event numbers) responses; with
    ``skips_known``, leaves out the events whose ids it is told were seen, as
    the HTTP client does."""

    def __init__(self, responses, skips_known=False):
        self.responses = list(responses)
        self.calls = 0
        self.skips_known = skips_known
        self.answered: list[int] = []  # how many events each answer held

    def get_events(self, run_id, *, limit=200, job=None, deadline=None, stop=None, known=(),
                   run=None):
        self.calls += 1
        status, numbers = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        state = RunState(run_id=run_id, status=status, updated_at=str(len(numbers)))
        # a negative number: the run's own end event ("finished"), numbered -n
        events = [ev(n) if n >= 0 else ev(-n, "finished") for n in numbers]
        if self.skips_known:
            events = [e for e in events if e.id not in known]
        self.answered.append(len(events))
        return state, events


class Sink:
    def __init__(self, watch_reason=None):
        self.events, self.statuses, self.notices = [], [], []
        self.watch_reason = watch_reason
        self.unchanged = []
        self.waits = []

    def event(self, event):
        self.events.append(event.id)

    def status(self, old, state):
        self.statuses.append((old, state.status))

    def notice(self, message, level="info"):
        self.notices.append((message, level))

    def watch(self, state, unchanged_for):
        self.unchanged.append(unchanged_for)
        return self.watch_reason

    def wait(self, wait):
        self.waits.append(wait)


def follow(responses, *, sink=None, deadline=None, stop=None, clock=None, status="pending",
           skips_known=False):
    source = Script(responses, skips_known)
    sink = sink or Sink()
    kwargs = {"clock": clock} if clock else {}
    follower = Follower(source, None, RunState(run_id="r_1", status=status), sink,
                        interval=lambda: Pace(0.0), deadline=deadline, stop=stop, **kwargs)
    return follower.follow(), sink, source


def test_each_event_once_in_order_across_repeated_lists():
    outcome, sink, _ = follow([
        ("streaming", [1, 2]), ("streaming", [1, 2, 3]), ("streaming", [1, 2, 3]),
        ("success", [1, 2, 3, 4, 5]),
    ])
    assert sink.events == ["e1", "e2", "e3", "e4", "e5"]
    assert [e.id for e in outcome.events] == sink.events
    assert outcome.reason == "terminal"
    assert sink.statuses == [("pending", "streaming"), ("streaming", "success")]


@pytest.mark.parametrize("skips_known", [False, True])
def test_cap_notice_said_once_and_status_still_followed(skips_known):
    """Said while it runs too: a poll past the cap that brings nothing new is what
    the contract's server answers whatever the run does (it was silent until the
    run's end, and at a timeout or Ctrl-C, for good)."""
    full = list(range(EVENT_LIMIT))
    outcome, sink, source = follow([("streaming", full), ("streaming", full),
                                   ("failed", full)], skips_known=skips_known)
    assert sink.notices == [(STREAMING_CAP_NOTICE.format(limit=EVENT_LIMIT), "warning"),
                            (CAP_NOTICE.format(limit=EVENT_LIMIT), "warning")]
    assert len(sink.events) == EVENT_LIMIT
    assert outcome.state.status == "failed"
    assert source.calls == 3


@pytest.mark.parametrize("skips_known", [False, True])
def test_the_cap_notice_comes_when_the_limit_is_reached_over_several_polls(skips_known):
    """Past the first poll a source that skips seen events answers with fewer
    than the limit even when the run holds that many: the notice counts what
    was seen."""
    first, full = list(range(EVENT_LIMIT - 10)), list(range(EVENT_LIMIT))
    _, sink, source = follow([("streaming", first), ("streaming", first),
                              ("success", full)], skips_known=skips_known)
    assert sink.notices == [(CAP_NOTICE.format(limit=EVENT_LIMIT), "warning")]
    assert sink.events == [f"e{n}" for n in range(EVENT_LIMIT)]
    assert source.answered == ([EVENT_LIMIT - 10, 0, 10] if skips_known
                               else [EVENT_LIMIT - 10, EVENT_LIMIT - 10, EVENT_LIMIT])


@pytest.mark.parametrize("skips_known", [False, True])
def test_a_server_that_answers_the_latest_events_still_shows_new_ones(skips_known):
    """The newest server returns the latest ``limit`` events, not the first: past
    the cap, each new event still reaches the sink, once and in order, and nothing
    is said to be missing (it said "some may not be shown" of every long run)."""
    window = list(range(EVENT_LIMIT))
    later = list(range(3, EVENT_LIMIT + 3))
    ended = [*range(5, EVENT_LIMIT + 4), -(EVENT_LIMIT + 4)]  # its end event last
    outcome, sink, _ = follow([("streaming", window), ("streaming", later),
                               ("success", ended)], skips_known=skips_known)
    assert sink.notices == []
    assert sink.events == [f"e{n}" for n in range(EVENT_LIMIT + 5)]
    assert outcome.state.status == "success"


@pytest.mark.parametrize("skips_known", [False, True])
def test_more_than_the_cap_between_two_polls_is_said_once(skips_known):
    """From a server answering the latest events, a poll whose every event is new
    (after some were seen) may have skipped some between the two windows."""
    first = list(range(10))
    jumped = list(range(500, 500 + EVENT_LIMIT))
    _, sink, _ = follow([("streaming", first), ("streaming", jumped),
                         ("success", [*jumped[1:], -1000])], skips_known=skips_known)
    assert sink.notices == [(GAP_NOTICE.format(limit=EVENT_LIMIT), "warning")]


def test_no_cap_notice_below_the_limit():
    _, sink, _ = follow([("success", list(range(EVENT_LIMIT - 1)))])
    assert sink.notices == []


def test_deadline_stops_following_with_timeout():
    now = [0.0]

    def clock():
        now[0] += 1.0
        return now[0]

    outcome, _, source = follow([("streaming", [1])], deadline=5.0, clock=clock)
    assert outcome.reason == "timeout"
    assert source.calls >= 1


def test_stop_event_interrupts_before_the_first_poll():
    stop = threading.Event()
    stop.set()
    outcome, _, source = follow([("streaming", [])], stop=stop)
    assert outcome.reason == "interrupted"
    assert source.calls == 0


def test_terminal_run_is_polled_at_once_for_its_events():
    outcome, sink, source = follow([("success", [1, 2])], status="success")
    assert outcome.reason == "terminal"
    assert sink.events == ["e1", "e2"]
    assert source.calls == 1


def test_watch_reason_ends_following_and_unchanged_time_grows():
    now = [0.0]

    def clock():
        now[0] += 1.0
        return now[0]

    source_responses = [("streaming", [1])] * 3

    class Stopper(Sink):
        def watch(self, state, unchanged_for):
            self.unchanged.append(unchanged_for)
            return "stalled" if len(self.unchanged) == 3 else None

    outcome, stopper, _ = follow(source_responses, sink=Stopper(), clock=clock)
    assert outcome.reason == "watch"
    assert outcome.detail == "stalled"
    assert stopper.unchanged[0] < stopper.unchanged[1] < stopper.unchanged[2]


def test_events_without_ids_are_told_apart_by_content():
    class NoIds(Script):
        def get_events(self, run_id, *, limit=200, job=None, deadline=None, stop=None,
                       known=(), run=None):
            state, events = super().get_events(run_id, limit=limit, job=job, known=known)
            return state, [Event(id="", type=e.type, created_at=e.created_at,
                                 message=e.message) for e in events]

    sink = Sink()
    follower = Follower(NoIds([("streaming", [1, 2]), ("success", [1, 2, 3])]), None,
                        RunState(run_id="r", status="pending"), sink, interval=lambda: Pace(0.0))
    follower.follow()
    assert len(sink.events) == 3


class FakeTime:
    """A clock, and a stop event whose waits pass that clock's time (never set)."""

    def __init__(self) -> None:
        self.now, self.waits = 0.0, []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(round(seconds, 6))
        self.now += seconds
        return False

    def is_set(self) -> bool:
        return False


def test_polls_keep_their_cadence_when_a_poll_is_slow():
    # A poll that waits 0.4 s (for the budget, or the server) is not added to the gap:
    # polls begin one interval apart, so the time to notice stays what the budget allows.
    time = FakeTime()
    source, began = Script([("streaming", [1]), ("streaming", [1]), ("success", [1])]), []

    def slow(run_id, **kwargs):
        began.append(time.now)
        time.now += 0.4
        return Script.get_events(source, run_id, **kwargs)

    source.get_events = slow
    follower = Follower(source, None, RunState(run_id="r_1", status="queued"), Sink(),
                        interval=lambda: Pace(1.0), stop=time, clock=time)
    assert follower.follow().reason == "terminal"
    assert began == [1.0, 2.0, 3.0]
    assert time.waits == [1.0, 0.6, 0.6]


class Instant:
    """A stop event that is never set and whose waits return at once (recorded)."""

    def __init__(self):
        self.waited = []

    def is_set(self):
        return False

    def wait(self, seconds=None):
        self.waited.append(seconds)
        return False


def test_a_long_pause_between_polls_is_said_once_while_it_stays_and_each_time_past_30s():
    """A small request budget made the first poll wait a minute with nothing said."""
    from mogrun.engine.follower import SLOW_POLL_REASON
    from mogrun.waits import WaitKind

    pauses = [5.0, 12.0, 12.0, 14.0, 40.0, 40.0, 16.0]  # before each poll
    source, sink, time = Script([("streaming", [])] * 6 + [("success", [])]), Sink(), FakeTime()
    follower = Follower(source, None, RunState(run_id="r_1", status="pending"), sink,
                        interval=lambda: Pace(pauses[source.calls]), stop=time, clock=time)
    assert follower.follow().reason == "terminal"
    # (a long pause is asked again every 10 s: the same pace, the same end)
    assert time.waits == [5.0, 10.0, 2.0, 10.0, 2.0, 10.0, 4.0, 10.0, 10.0, 10.0, 10.0,
                          10.0, 10.0, 10.0, 10.0, 10.0, 6.0]
    assert [w.kind for w in sink.waits] == [WaitKind.REQUEST_BUDGET] * 4
    assert {w.reason for w in sink.waits} == {SLOW_POLL_REASON}
    assert [round(w.remaining() or 0) for w in sink.waits] == [12, 40, 40, 16]


def test_a_long_pause_set_in_a_start_burst_shortens_as_the_budget_frees():
    """A fan-out's starts filled a 6/min window, so each run's first pause was set to
    minutes (one poll a minute each) and kept, though the starts left the window
    within it: runs that had ended were noticed up to three minutes late."""
    time, sink = FakeTime(), Sink()
    source = Script([("streaming", []), ("success", [])])

    def pace():  # minutes while the burst is in the window, 30 s once it has left it
        return Pace(183.0 if time.now < 60.0 else 30.0)

    follower = Follower(source, None, RunState(run_id="r_1", status="pending"), sink,
                        interval=pace, stop=time, clock=time)
    assert follower.follow().reason == "terminal"
    # asked every 10 s: once the window has freed (at 60 s) the first poll, due 30 s
    # after the start, is overdue and goes at once (not at 183 s); the next 30 s later
    assert time.waits == [10.0] * 6 + [0.0] + [10.0] * 3 and time.now == 90.0
    assert [round(w.remaining() or 0) for w in sink.waits] == [183, 30]


def test_a_poll_failing_just_before_the_deadline_times_out_at_the_deadline():
    """A poll that failed 0.6 s before the deadline (its retry's pause would pass it)
    ended the follow at once: the run was cancelled early, said as "timed out after
    3s" at 2.4 s. It now ends at the deadline; a signal meanwhile is an interrupt."""
    from mogrun.errors import TransportError

    time = FakeTime()

    class Failing(Script):
        def get_events(self, run_id, **kwargs):
            time.now = 2.4
            raise TransportError("connection reset by the server")

    follower = Follower(Failing([]), None, RunState(run_id="r", status="streaming"), Sink(),
                        interval=lambda: Pace(1.0), deadline=3.0, stop=time, clock=time)
    assert follower.follow().reason == "timeout"
    assert time.now == pytest.approx(3.0)
    assert time.waits[-1] == pytest.approx(0.6)

    stop = threading.Event()
    stop.set()
    follower = Follower(Failing([]), None, RunState(run_id="r", status="streaming"), Sink(),
                        interval=lambda: Pace(0.0), deadline=1e9, stop=stop,
                        clock=lambda: 1e9 - 0.5)
    assert follower._time_up().reason == "interrupted"
