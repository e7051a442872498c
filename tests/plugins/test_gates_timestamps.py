"""max_duration reads the server's timestamps by one rule, ``mogrun.durations``'
(``parse_moment``: a timestamp without an offset is UTC). A naive ``updatedAt``
beside an aware ``createdAt`` was "duration unknown: no server timestamps"
though both were there; an ``updatedAt`` before ``createdAt`` was a made-up
``0s`` that passed any max_duration: it is unknown, and unknown fails."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mogrun_plugins import gates
from plugtest_helpers import make_job, make_result, make_state

from mogrun.durations import server_span
from mogrun.pluginhost import PluginHost
from mogrun.runs import GateVerdict
from mogrun.taskfile import TemplateClock, load_task_file, resolve_jobs

# As people write it: comments, CRLF line ends, blank lines at the end.
TASK_FILE = ("# nightly jobs\r\n"
             "[jobs.nightly]\r\n"
             'repo = "acme/api"   # the API\r\n'
             'prompt = "Fix the flaky tests."\r\n'
             'gates = { max_duration = "10m" }  # a run longer than this fails\r\n'
             "\r\n\r\n")


def verdict(tmp_path, created: str | None, updated: str | None,
            local: float | None = None) -> GateVerdict:
    """The max_duration verdict of the task file's job for a run the server
    stamped so (``local``: mogrun's own measure of it, if it has one)."""
    path = tmp_path / "mogplex.toml"
    path.write_bytes(TASK_FILE.encode())
    host = PluginHost.bundled_only()
    [job] = resolve_jobs(load_task_file(path), ["nightly"], key_specs=host.key_specs(),
                         sets={}, env={}, clock=TemplateClock.now())
    state = make_state(created=created, updated=updated)  # type: ignore[arg-type]
    verdicts = host.gates(job=job, run=job.runs[0], result=make_result(duration=local),
                          state=state, events=())
    return next(v for v in verdicts if v.gate == "max_duration")


def test_a_timestamp_without_an_offset_is_utc(tmp_path) -> None:
    # QA's pair: both present, 5m50s apart; was "duration unknown: no server timestamps".
    assert verdict(tmp_path, "2026-12-05T03:40:00Z", "2026-12-05T03:45:50") == GateVerdict(
        "max_duration", True, "took 5m50s (max 10m)")
    assert verdict(tmp_path, "2026-12-05T03:40:00", "2026-12-05T03:55:00+00:00") == GateVerdict(
        "max_duration", False, "took 15m, longer than max_duration 10m")
    # An offset is honoured: 05:45:50+02:00 is 03:45:50 UTC.
    assert verdict(tmp_path, "2026-12-05T03:40:00", "2026-12-05T05:45:50+02:00").passed


def test_an_updated_at_before_created_at_is_unknown_not_zero(tmp_path) -> None:
    failed = verdict(tmp_path, "2026-12-05T03:45:50Z", "2026-12-05T03:40:00Z")
    assert failed == GateVerdict(
        "max_duration", False, "duration unknown: the server's timestamps give none "
        "(createdAt 2026-12-05T03:45:50Z, updatedAt 2026-12-05T03:40:00Z)")
    # mogrun's own measure of the run, when it has one, stands in (as for missing stamps).
    assert verdict(tmp_path, "2026-12-05T03:45:50Z", "2026-12-05T03:40:00Z",
                   local=90.0) == GateVerdict("max_duration", True, "took 1m30s (max 10m)")


def test_missing_timestamps_are_still_said_so(tmp_path) -> None:
    assert verdict(tmp_path, None, None) == GateVerdict(
        "max_duration", False, "duration unknown: no server timestamps")
    assert verdict(tmp_path, "not a time", "2026-12-05T03:40:00Z") == GateVerdict(
        "max_duration", False, "duration unknown: the server's timestamps give none "
        "(createdAt not a time, updatedAt 2026-12-05T03:40:00Z)")


def test_unreadable_timestamps_fall_back_to_the_local_duration() -> None:
    host = PluginHost.bundled_only()
    job = make_job(options={"gates": gates.validate({"max_duration": "20m"})})
    state = make_state(created="yesterday", updated="2026-01-01T10:05:00Z")
    verdicts = host.gates(job=job, run=job.runs[0], result=make_result(duration=90.0),
                          state=state, events=())
    assert verdicts[1] == GateVerdict("max_duration", True, "took 1m30s (max 20m)")


_MOMENTS = st.datetimes(min_value=datetime.datetime(2000, 1, 1),
                        max_value=datetime.datetime(2100, 1, 1))
_ZONES = st.sampled_from([None, datetime.UTC, datetime.timezone(datetime.timedelta(hours=2)),
                          datetime.timezone(datetime.timedelta(hours=-5, minutes=-30))])


def _written(moment: datetime.datetime, zone: datetime.tzinfo | None, z: bool) -> str:
    text = moment.replace(tzinfo=zone).isoformat()
    return text.replace("+00:00", "Z") if z else text


@given(_MOMENTS, _ZONES, st.booleans(), _MOMENTS, _ZONES, st.booleans())
def test_the_gate_reads_timestamps_as_mogrun_durations_does(start, start_zone, start_z,
                                                            end, end_zone, end_z) -> None:
    created, updated = _written(start, start_zone, start_z), _written(end, end_zone, end_z)
    expected = server_span(created, updated)
    assert gates.server_duration(make_state(created=created, updated=updated)) == expected
    if expected is not None:
        assert expected >= 0


@pytest.mark.parametrize(("created", "updated"), [
    ("2026-12-05T03:40:00Z", "2026-12-05T03:45:50"), ("2026-12-05T03:40:00", "2026-12-05"),
    (" 2026-12-05T03:40:00Z ", "2026-12-05T03:40:00.5Z"), ("", "2026-12-05T03:40:00Z"),
    ("2026-12-05T03:45:50Z", "2026-12-05T03:40:00Z"), ("2026-13-05", "2026-12-05"),
])
def test_the_gate_and_the_one_rule_agree_on_written_stamps(created: str, updated: str) -> None:
    assert gates.server_duration(make_state(created=created, updated=updated)) == (
        server_span(created, updated))
