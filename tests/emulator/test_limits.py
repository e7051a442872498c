"""Rate limits: per-token request windows, per-user start windows, Retry-After."""

from __future__ import annotations

import time

import pytest

from mogrun.emulator import Limits
from mogrun.emulator.limits import Limiter, SlidingWindow, retry_after_header

SMALL = Limits(requests=5, window=0.4, starts=())


@pytest.mark.mogrun_emulator(limits=SMALL)
def test_sixth_request_in_the_window_is_429_with_retry_after(api, mogrun_emulator):
    for _ in range(5):
        assert api.call("GET", "/repos").status == 200
    limited = api.call("GET", "/repos")
    assert (limited.status, limited.code) == (429, "RATE_LIMITED")
    assert limited.headers["retry-after"] == "1"
    assert mogrun_emulator.count(status=429) == 1
    time.sleep(0.45)
    assert api.call("GET", "/repos").status == 200


@pytest.mark.mogrun_emulator(limits=SMALL)
def test_request_limit_is_per_token_and_counts_every_endpoint(api, mogrun_emulator):
    api.start(key="a")  # POST /runs counts like any request
    for _ in range(4):
        api.call("GET", "/repos")
    assert api.call("GET", f"/runs/{mogrun_emulator.runs[0]}").status == 429
    api.token = mogrun_emulator.read_token
    assert api.call("GET", "/repos").status == 200


@pytest.mark.mogrun_emulator(limits=Limits(requests=2, window=2.5, starts=()))
def test_retry_after_is_whole_seconds_rounded_up(api):
    api.call("GET", "/repos")
    api.call("GET", "/repos")
    assert api.call("GET", "/repos").headers["retry-after"] == "3"


@pytest.mark.mogrun_emulator(limits=Limits(requests=2, window=8.0, starts=()))
def test_the_request_limits_429_asks_for_the_whole_window_as_the_server_does(api):
    # The server sends Retry-After: 60 (its window), however soon a slot frees.
    api.call("GET", "/repos")
    time.sleep(1.2)
    api.call("GET", "/repos")
    limited = api.call("GET", "/repos")  # the first slot frees in about 6.8 s
    assert limited.headers["retry-after"] == "8"
    assert limited.message == "Rate limit exceeded. Retry after 8s."


@pytest.mark.mogrun_emulator(limits=SMALL)
def test_unauthenticated_requests_do_not_use_the_budget(api):
    for _ in range(8):
        assert api.call("GET", "/repos", token=None).status == 401
    assert api.call("GET", "/repos").status == 200


@pytest.mark.mogrun_emulator(limits=Limits(requests=100, window=60, starts=((2, 2.0), (3, 60))))
def test_start_windows_count_replays_too(api, mogrun_emulator):
    """The start limit is checked before the idempotency lookup: a replay costs a
    slot, and a replay can be refused with 429."""
    assert api.start(key="a").status == 202
    assert api.start(key="b").status == 202
    limited = api.start(key="a")  # same key, same body: would replay, but no slot
    assert (limited.status, limited.code) == (429, "RATE_LIMITED")
    assert limited.message == "External Mogplex run rate limit exceeded"
    assert limited.headers["retry-after"] in ("1", "2")
    assert len(mogrun_emulator.runs) == 2
    time.sleep(2.05)
    assert api.start(key="a").data["replayed"] is True  # the 3rd slot of the 60 s window
    hourly = api.start(key="c")
    assert hourly.status == 429
    assert 55 <= int(hourly.headers["retry-after"]) <= 60  # the 3/60 s window is full
    assert len(mogrun_emulator.runs) == 2


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=((1, 60), (5, 86400))))
def test_a_bad_start_after_the_limit_still_costs_a_slot(api):
    """Body validation comes after the limit: a 400 uses the slot up."""
    assert api.call("POST", "/runs", {"prompt": "no repo"}, key="k").code == "BAD_REQUEST"
    assert api.start(key="k2").code == "RATE_LIMITED"


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=((2, 60),)))
def test_a_body_that_is_not_an_object_costs_a_start_as_on_the_server(api):
    """The handler checks the start limit after request.json() and before it reads
    the body's fields: an array (or any JSON value that is not an object) takes a
    slot, is 400 'repoId is required', and is answered 429 once the window is full.
    What request.json() refuses, and a null body, never reach the limit."""
    statuses = [api.call("POST", "/runs", raw=raw, key="free").status
                for raw in (b"{not json", b"", b"null")]
    assert statuses == [400, 400, 500]
    assert api.call("POST", "/runs", raw=b"[1, 2]", key="a").message == "repoId is required"
    assert api.call("POST", "/runs", raw=b'"x"', key="b").message == "repoId is required"
    limited = api.call("POST", "/runs", raw=b"[]", key="c")
    assert (limited.status, limited.code) == (429, "RATE_LIMITED")
    assert api.start(key="d").code == "RATE_LIMITED"


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=((1, 86400),)))
def test_the_daily_window_has_its_own_message(api):
    api.start(key="a")
    assert api.start(key="b").message == "Daily external Mogplex run quota exceeded"


def test_limits_are_lifted_by_default_in_the_fixture(api):
    for _ in range(70):
        assert api.call("GET", "/repos", token=None).status == 401
    assert all(api.start(key=f"k{i}").status == 202 for i in range(12))


def test_real_limits():
    real = Limits.real()
    assert (real.requests, real.window) == (60, 60.0)
    assert real.starts == ((10, 60.0), (30, 3600.0), (150, 86400.0))


def test_limits_parse_and_describe():
    parsed = Limits.parse("5/1s,starts=2/500ms,starts=30/1h")
    assert parsed == Limits(5, 1.0, ((2, 0.5), (30, 3600.0)))
    assert Limits.parse(parsed.describe()) == parsed
    assert Limits.parse("requests=7/2m") == Limits(7, 120.0)
    assert Limits.parse("10/10,starts=none").starts == ()


@pytest.mark.parametrize("spec", ["5", "x/1s", "5/0s", "5/soon", "burst=5/1s"])
def test_limits_parse_rejects(spec):
    with pytest.raises(ValueError):
        Limits.parse(spec)


def test_sliding_window_arithmetic():
    window = SlidingWindow(2, 10.0)
    window.record("t", 0.0)
    window.record("t", 4.0)
    assert window.wait("t", 5.0) == pytest.approx(5.0)
    assert window.wait("t", 10.0) == 0.0  # the first slot freed at 10
    assert window.wait("other", 5.0) == 0.0
    assert retry_after_header(0.2) == "1"
    assert retry_after_header(2.0) == "2"
    assert retry_after_header(2.01) == "3"


def test_limiter_none_is_unlimited():
    limiter = Limiter(None)
    assert all(limiter.take_request("t", 0.0) == 0 for _ in range(1000))
    assert all(limiter.take_start("u", 0.0) == (0.0, 0.0) for _ in range(1000))


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=((1, 60),), sandboxes=0))
def test_start_limits_count_per_token_as_on_the_server(api, mogrun_emulator):
    """Two tokens of one user each get their own start windows."""
    assert api.start(key="a").status == 202
    assert api.start(key="b").code == "RATE_LIMITED"
    mogrun_emulator.add_token("mog_second_token")  # same user, another token
    api.token = "mog_second_token"
    assert api.start(key="b").status == 202


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=((1, 5), (1, 60)), sandboxes=0))
def test_the_first_full_window_answers(api):
    api.start(key="a")
    refused = api.start(key="b")
    assert int(refused.headers["retry-after"]) <= 5  # the 5 s window, checked first
