"""Budget arithmetic with a fake clock (the burst against the emulator is in
test_budget_http.py)."""

from __future__ import annotations

import threading
import time

import pytest

from mogrun.api.budget import MAX_POLLS_PER_SECOND, RequestBudget
from mogrun.errors import RateLimitedError, TaskFileError
from mogrun.waits import Wait, WaitKind

from .fakes import FakeClock


def make(clock: FakeClock, **kwargs) -> RequestBudget:
    return RequestBudget(clock=clock, sleep=clock.sleep, margin=0.0, **kwargs)


def test_requests_fit_the_window_then_wait_for_the_oldest_to_leave():
    clock = FakeClock()
    budget = make(clock, requests_per_minute=3, window=10.0)
    for _ in range(3):
        budget.acquire()
    assert clock.sleeps == []
    budget.acquire()
    assert clock.sleeps == [10.0]
    assert clock.now == 1010.0


def test_sliding_window_counts_each_send_time():
    clock = FakeClock()
    budget = make(clock, requests_per_minute=2, window=10.0)
    budget.acquire()
    clock.now += 4
    budget.acquire()
    budget.acquire()  # must wait for the first (t=1000) to leave: t=1010
    assert clock.now == pytest.approx(1010.0)
    budget.acquire()  # then for the second (t=1004): t=1014
    assert clock.now == pytest.approx(1014.0)


def test_starts_are_paced_by_every_start_window():
    clock = FakeClock()
    budget = make(clock, requests_per_minute=100, starts=((2, 60.0), (3, 3600.0)))
    for _ in range(2):
        budget.acquire("start")
    budget.acquire("start")
    assert clock.now == pytest.approx(1060.0)  # per-minute window
    budget.acquire("start")
    assert clock.now == pytest.approx(4600.0)  # per-hour window: 1000 + 3600
    budget.acquire("request")  # plain requests are not held back by start windows
    assert clock.now == pytest.approx(4600.0)


def test_a_refused_start_is_counted_by_no_window_that_refused_it():
    """The server counts only what it let through: a start the start limit refused
    still passed the request limit; a request-limit 429 passed neither."""
    clock = FakeClock()
    budget = make(clock, requests_per_minute=2, window=10.0, starts=((1, 60.0),))
    refused = budget.reserve("start")
    budget.refused(refused, starts_only=True)
    budget.settle(refused)
    budget.acquire("start")  # the refused one left the start window: no wait
    assert clock.sleeps == []
    budget.acquire()  # but both stayed in the request window (2/10 s): wait for the first
    assert clock.now == pytest.approx(1010.0)
    refused = budget.reserve()
    budget.refused(refused, starts_only=False)
    budget.settle(refused)
    budget.acquire()  # the refused request left the request window too
    assert clock.now == pytest.approx(1010.0)


def test_a_start_also_counts_as_a_request():
    clock = FakeClock()
    budget = make(clock, requests_per_minute=2, window=10.0, starts=((100, 60.0),))
    budget.acquire("start")
    budget.acquire("request")
    budget.acquire("request")
    assert clock.now == pytest.approx(1010.0)


def test_deadline_gives_up_at_once_with_rate_limited():
    clock = FakeClock()
    budget = make(clock, requests_per_minute=10, starts=((1, 60.0),))
    budget.acquire("start")
    with pytest.raises(RateLimitedError) as caught:
        budget.acquire("start", deadline=clock.now + 30)
    assert caught.value.exit_code == 75
    assert caught.value.retry_after == pytest.approx(60.0)
    assert clock.sleeps == []  # gave up without waiting


def test_pause_holds_every_caller_until_it_has_passed():
    clock = FakeClock()
    budget = make(clock)
    budget.pause(7.5)
    assert budget.paused_for() == pytest.approx(7.5)
    budget.acquire()
    assert clock.now == pytest.approx(1007.5)
    budget.pause(2.0)
    budget.pause(1.0)  # a shorter pause never shortens a longer one
    budget.acquire()
    assert clock.now == pytest.approx(1009.5)


def test_with_no_start_waiting_followers_use_the_whole_budget():
    budget = RequestBudget(margin=0.0)
    # 60/min shared by N runs: each notices its end within about N seconds.
    assert budget.poll_interval(1) == pytest.approx(1.0)
    assert budget.poll_interval(0) == pytest.approx(1.0)
    assert budget.poll_interval(30) == pytest.approx(30.0)
    for runs in (1, 3, 10, 50):
        assert runs * 60.0 / budget.poll_interval(runs) <= 60.0 + 1e-9


def test_while_a_start_waits_a_fifth_of_the_budget_is_kept_for_it():
    clock = FakeClock()
    budget = make(clock, starts=((1, 60.0),))
    budget.acquire("start")
    intervals: list[float] = []
    budget.sleep = lambda seconds: intervals.append(budget.poll_interval(4)) or clock.sleep(
        seconds)
    budget.acquire("start")  # waits for the start window, asking the interval meanwhile
    # 60/min minus 12 reserved: 4 runs poll every 5 s -> 48 polls a minute (asked at
    # each sleep: the moment other starts may join the queue, then the wait).
    assert intervals == [pytest.approx(5.0)] * 2
    # Nobody waits any more; the second start still counts in the window for a minute.
    assert budget.poll_interval(4) == pytest.approx(4 * 60.0 / 59)
    clock.sleep(60.0)
    assert budget.poll_interval(4) == pytest.approx(4.0)


def test_polls_share_what_the_other_requests_leave_of_the_window():
    clock = FakeClock()
    budget = make(clock)
    for _ in range(6):  # a repo look-up, a sandbox listing, four starts...
        budget.acquire()
    # ...count until they leave the window: 5 runs get 54 of 60, not 60, so their
    # polls never queue behind them (a queue that would not drain at the full rate).
    assert budget.poll_interval(5) == pytest.approx(5 * 60.0 / 54)
    for _ in range(20):
        budget.acquire("poll")
    assert budget.poll_interval(5) == pytest.approx(5 * 60.0 / 54)  # polls are the share
    clock.sleep(30.0)
    ticket = budget.reserve()  # in flight: it counts until answered, and a minute after
    assert budget.poll_interval(5) == pytest.approx(5 * 60.0 / 53)
    clock.sleep(31.0)
    assert budget.poll_interval(5) == pytest.approx(5 * 60.0 / 59)
    budget.settle(ticket)
    clock.sleep(60.0)
    assert budget.poll_interval(5) == pytest.approx(5.0)


def test_a_lifted_budget_has_no_fixed_floor_but_bounds_the_total_poll_rate():
    budget = RequestBudget(requests_per_minute=1_000_000, margin=0.0)
    assert budget.poll_interval(1) < 0.1  # no 1.5 s floor when the limits allow
    assert budget.poll_interval(200) == pytest.approx(200 / MAX_POLLS_PER_SECOND)


def test_from_settings_reads_the_mogplex_table():
    clock = FakeClock()
    budget = RequestBudget.from_settings(
        {"requests_per_minute": 120, "starts_per_minute": 1, "starts_per_hour": 5,
         "starts_per_day": 9}, clock=clock, sleep=clock.sleep, margin=0.0)
    assert budget.requests_per_minute == 120
    budget.acquire("start")
    budget.acquire("start")
    assert clock.now == pytest.approx(1060.0)


@pytest.mark.parametrize("value", [0, -1, "60", 1.5, True])
def test_from_settings_refuses_bad_numbers(value):
    with pytest.raises(TaskFileError) as caught:
        RequestBudget.from_settings({"starts_per_hour": value})
    assert caught.value.exit_code == 2
    assert "[mogplex] starts_per_hour must be a positive integer" in caught.value.message


def test_threads_share_one_budget_without_overbooking():
    sent: list[float] = []

    class Recording(RequestBudget):
        def settle(self, ticket) -> None:  # the time each request counts from
            super().settle(ticket)
            sent.append(ticket.time)

    budget = Recording(requests_per_minute=5, window=0.4, margin=0.0)

    def worker() -> None:
        for _ in range(3):
            budget.acquire()

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    sent.sort()
    assert len(sent) == 15
    for i in range(len(sent) - 5):  # any 6 consecutive sends span at least one window
        assert sent[i + 5] - sent[i] >= 0.4
    assert sent[-1] - sent[0] >= 0.8  # 15 requests at 5 per window need two more windows


def test_a_request_in_flight_holds_its_place_until_answered():
    clock = FakeClock()
    budget = make(clock, requests_per_minute=2, window=10.0)
    first = budget.reserve()
    second = budget.reserve()
    clock.now += 30  # far past a window: in-flight requests still count
    done = threading.Event()

    def third() -> None:
        budget.acquire()
        done.set()

    waiter = threading.Thread(target=third)
    waiter.start()
    assert not done.wait(0.2)
    budget.settle(first)  # answered at t=1030: it may have reached the server just now
    waiter.join(5)
    assert done.is_set()
    assert [s for s in clock.sleeps if s] == [10.0]  # a full window after the answer
    budget.settle(second)


def test_a_wait_for_requests_in_flight_ends_at_a_signal():
    # A poll runs on its follower's thread: a budget blocked only by requests in
    # flight (unanswered, so with no end in sight) must still end at Ctrl-C.
    from mogrun.engine.signals import InterruptibleSleep
    from mogrun.errors import Interrupted

    stop = threading.Event()
    sleeper = InterruptibleSleep(stop, time.sleep)
    budget = RequestBudget(requests_per_minute=1, window=10.0, sleep=sleeper)
    budget.reserve()  # in flight, never answered
    threading.Timer(0.2, stop.set).start()
    began = time.monotonic()
    with sleeper.armed(), pytest.raises(Interrupted):
        budget.reserve("poll")
    assert time.monotonic() - began < 2.0


def test_a_deadline_counts_requests_in_flight_as_answered_now():
    clock = FakeClock()
    budget = make(clock, requests_per_minute=1, window=10.0)
    ticket = budget.reserve()
    with pytest.raises(RateLimitedError):
        budget.acquire(deadline=clock.now + 5)  # even if answered now: 10 s away
    budget.settle(ticket)


def test_slot_settles_even_when_the_request_fails():
    clock = FakeClock()
    budget = make(clock, requests_per_minute=1, window=10.0)
    with pytest.raises(OSError), budget.slot():
        clock.now += 2
        raise OSError("boom")
    budget.acquire()
    assert clock.now == pytest.approx(1012.0)  # 10 s after the failure's time


def test_a_start_limit_pause_holds_starts_and_lets_requests_through():
    clock = FakeClock()
    budget = make(clock)
    budget.pause(30.0, starts_only=True)
    budget.acquire("request")
    assert clock.now == 1000.0  # following goes on
    assert budget.paused_for() == 0.0 and budget.paused_for(starts=True) == pytest.approx(30.0)
    budget.acquire("start")
    assert clock.now == pytest.approx(1030.0)


def test_a_request_limit_pause_holds_starts_too():
    clock = FakeClock()
    budget = make(clock)
    budget.pause(5.0)
    budget.acquire("start")
    assert clock.now == pytest.approx(1005.0)


@pytest.mark.parametrize("seconds", [None, 0.0, -1.0, float("inf"), float("nan")])
def test_a_pause_of_nothing_or_for_ever_is_ignored(seconds):
    budget = make(FakeClock())
    budget.pause(seconds)
    assert budget.paused_for() == 0.0


def waits_of(budget: RequestBudget) -> list[Wait]:
    seen: list[Wait] = []
    budget.waits.subscribe(seen.append)
    return seen


def test_a_start_waiting_for_the_start_limit_is_announced_with_its_window():
    clock = FakeClock()
    budget = make(clock, starts=((10, 60.0), (30, 3600.0)))
    seen = waits_of(budget)
    for _ in range(10):
        budget.acquire("start")
    assert seen == []
    budget.acquire("start")
    (wait,) = seen
    assert wait.kind is WaitKind.START_LIMIT
    assert wait.reason == "1 run queued for the start limit (10/min)"
    assert wait.remaining(wait.ends_at - 60.0) == pytest.approx(60.0, abs=1.0)


def test_a_request_waiting_for_a_429_pause_is_announced_as_rate_limited():
    clock = FakeClock()
    budget = make(clock)
    seen = waits_of(budget)
    budget.pause(12.0)
    budget.acquire()
    assert [(w.kind, w.reason) for w in seen] == [
        (WaitKind.RATE_LIMITED, "the API answered 429 (request limit); requests resume")]


def test_short_waits_are_not_announced():
    clock = FakeClock()
    budget = make(clock)
    seen = waits_of(budget)
    budget.pause(0.5)
    budget.acquire()
    assert seen == [] and clock.sleeps == [0.5]


def test_a_shard_takes_its_share_of_every_limit():
    clock = FakeClock()
    budget = make(clock, requests_per_minute=60, starts=((10, 60.0), (30, 3600.0)), shards=4)
    assert budget.requests_per_minute == 15
    for _ in range(2):  # 10 // 4 starts a minute
        budget.acquire("start")
    budget.acquire("start")
    assert clock.now == pytest.approx(1060.0)
    clock.sleep(60.0)  # the last start leaves the window
    assert budget.poll_interval(1) == pytest.approx(4.0)  # 15 requests a minute


def test_a_share_never_rounds_a_limit_down_to_nothing():
    budget = RequestBudget(requests_per_minute=3, starts=((1, 60.0),), shards=8)
    assert budget.requests_per_minute == 1
