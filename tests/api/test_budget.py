"""Budget arithmetic with a fake clock (the burst against the emulator is in
test_budget_http.py)."""

from __future__ import annotations

import threading

import pytest

from mogrun.api.budget import RequestBudget
from mogrun.errors import RateLimitedError, TaskFileError

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


def test_poll_interval_keeps_all_runs_under_the_budget_with_headroom():
    budget = RequestBudget(margin=0.0)
    assert budget.poll_interval(1) == 1.5  # floor
    assert budget.poll_interval(0) == 1.5
    # 60/min minus 12 reserved: 4 runs poll every 5 s -> 48 polls a minute.
    assert budget.poll_interval(4) == pytest.approx(5.0)
    assert budget.poll_interval(50) == pytest.approx(62.5)
    for runs in (1, 3, 10, 50):
        per_minute = runs * 60.0 / budget.poll_interval(runs)
        assert per_minute <= 48.0 + 1e-9


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
    assert clock.sleeps == [10.0]  # a full window after the answer
    budget.settle(second)


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
