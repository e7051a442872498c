"""The budget against the emulator's real limits (scaled windows keep it fast)."""

from __future__ import annotations

import threading
import time

import pytest

from mogrun.api.budget import RequestBudget
from mogrun.emulator import Limits
from mogrun.models import StartRequest


def burst(client, calls: int, threads: int, call) -> list[BaseException]:
    errors: list[BaseException] = []
    per_thread = calls // threads

    def worker() -> None:
        for _ in range(per_thread):
            try:
                call(client)
            except BaseException as exc:  # collected, asserted below
                errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(30)
    return errors


@pytest.mark.mogrun_emulator(limits=Limits(requests=25, window=0.5, starts=()))
def test_a_burst_of_100_requests_is_spread_with_no_429(make_client, mogrun_emulator):
    budget = RequestBudget(requests_per_minute=25, window=0.5)
    client = make_client(budget=budget)  # no retry policy: a single 429 would fail
    started = time.monotonic()
    errors = burst(client, 100, 10, lambda c: c.list_repos(limit=1))
    elapsed = time.monotonic() - started
    assert errors == []
    assert mogrun_emulator.count(status=200) == 100
    assert mogrun_emulator.count(status=429) == 0
    assert elapsed >= 3 * 0.5  # 100 requests at 25 per window need 3 more windows


@pytest.mark.mogrun_emulator(limits=Limits(requests=25, window=0.5, starts=()))
def test_without_the_budget_the_same_burst_meets_429s(make_client, mogrun_emulator):
    """The control experiment: the emulator's limit is real, so pacing matters."""
    client = make_client(budget=RequestBudget(requests_per_minute=100_000))
    errors = burst(client, 50, 10, lambda c: c.list_repos(limit=1))
    assert mogrun_emulator.count(status=429) == len(errors) > 0


@pytest.mark.mogrun_emulator(limits=Limits(requests=1000, window=1.0, starts=((3, 0.5),)))
def test_starts_are_paced_to_the_start_limit(make_client, mogrun_emulator):
    budget = RequestBudget(requests_per_minute=1000, window=1.0, starts=((3, 0.5),))
    client = make_client(budget=budget)
    repo_id = mogrun_emulator.repo_id("acme/api")
    counter = iter(range(1000))

    def start(c) -> None:
        c.start_run(StartRequest(repo="acme/api", repo_id=repo_id, prompt="p",
                                 idempotency_key=f"k-{next(counter)}"))

    errors = burst(client, 8, 4, start)
    assert errors == []
    assert len(mogrun_emulator.runs) == 8
    assert mogrun_emulator.count(status=429) == 0


@pytest.mark.mogrun_emulator(limits=Limits(requests=1000, window=1.0, starts=()))
def test_a_429_pauses_every_thread_until_retry_after(make_client, mogrun_emulator):
    from .conftest import QuickRetry

    budget = RequestBudget(requests_per_minute=1000, window=1.0)
    client = make_client(budget=budget, retry=QuickRetry(delay=0.0))
    mogrun_emulator.add_fault("repos", "429", retry_after=1)
    client.list_repos()  # meets the 429, pauses the budget, retries after 1 s
    limited = next(r for r in mogrun_emulator.requests if r.status == 429)
    errors = burst(client, 4, 4, lambda c: c.list_repos(limit=1))
    assert errors == []
    assert all(r.time - limited.time >= 1.0 for r in mogrun_emulator.requests if r.status == 200)
