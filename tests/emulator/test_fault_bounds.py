"""Faults and durations the emulator cannot honour (infinite, absurdly long,
fractional counts) are a 400 at the control endpoint, never a crash of the
server thread when a request later meets them."""

from __future__ import annotations

import pytest

from mogrun.emulator.durations import parse_seconds


@pytest.mark.parametrize("raw", [
    b'{"endpoint": "repos", "kind": "delay", "delay": 1e999}',
    b'{"endpoint": "repos", "kind": "delay", "delay": 1e300}',
    b'{"endpoint": "repos", "kind": "429", "retry_after": NaN}',
    b'{"endpoint": "repos", "kind": "500", "count": 1e999}',
    b'{"endpoint": "repos", "kind": "500", "count": 2.7}',
    b'{"endpoint": "repos", "kind": "500", "count": true}',
])
def test_unusable_fault_numbers_are_400(api, raw):
    answer = api.call("POST", "/_emulator/faults", raw=raw, api=False)
    assert answer.status == 400
    assert answer.json["error"]
    assert api.call("GET", "/_emulator/faults", api=False).json == []
    assert api.call("GET", "/repos").status == 200


@pytest.mark.parametrize("text", ["9" * 400, "9" * 400 + "d", "400d", float("inf"), float("nan")])
def test_durations_must_be_finite_and_at_most_a_year(text):
    with pytest.raises(ValueError):
        parse_seconds(text)


def test_add_fault_refuses_an_infinite_delay(mogrun_emulator):
    with pytest.raises(ValueError, match="delay: a duration must be at most a year"):
        mogrun_emulator.add_fault("repos", "delay", delay=float("inf"))


@pytest.mark.parametrize("text", ["２０s", "１s", "20\u00a0s"])
def test_a_duration_takes_ascii_digits_only_as_every_count_does(text):
    """--limits idle=２０s and @emulator duration=１s were taken (as 20 s and 1 s),
    where --limits ５/1s and events=０ are refused: one rule for every number."""
    with pytest.raises(ValueError):
        parse_seconds(text)


def test_an_occupant_count_takes_ascii_digits_only():
    from mogrun.emulator.occupants import parse_occupants

    assert parse_occupants("1@2s")[0].count == 1
    with pytest.raises(ValueError):
        parse_occupants("１@２s")
