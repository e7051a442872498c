"""The @emulator directive: parsing, defaults, and runs that never end."""

from __future__ import annotations

import threading
import time

import pytest

from mogrun.emulator.directives import DEFAULT_TOOLS, DirectiveError, Script, parse_script

DEFAULT = Script(duration=3.0, events=8)


def test_no_directive_keeps_the_defaults():
    assert parse_script("Fix the tests.\nemulator status=failed", DEFAULT) == DEFAULT


def test_every_key():
    script = parse_script(
        'Do it.\n  @emulator status=failed duration=5s pending=500ms events=250 '
        'tools=edit_file,run_tests message="::error::boom here" error=\'red tests\'\n',
        DEFAULT)
    assert script == Script(status="failed", duration=5.0, pending=0.5, events=250,
                            tools=("edit_file", "run_tests"), message="::error::boom here",
                            error="red tests")


def test_lines_apply_in_order_and_values_convert():
    script = parse_script("@emulator duration=never interval=0.1s\n@emulator tools=none\n"
                          "@emulator events=1", DEFAULT)
    assert script.duration is None and script.end_time is None
    assert script.interval == 0.1
    assert script.tools == ()
    assert script.events == 3  # at least started, status_changed and the terminal event
    assert parse_script("@emulator duration=2", DEFAULT).duration == 2.0


def test_pending_defaults_to_a_tenth_capped():
    assert Script(duration=1.0).pending_time == pytest.approx(0.1)
    assert Script(duration=60.0).pending_time == 0.5
    assert Script(duration=0.2, pending=1.0).end_time == 1.0
    assert Script().tools == DEFAULT_TOOLS


@pytest.mark.parametrize(("line", "message"), [
    ("@emulator status=maybe", "status must be one of success, failed, cancelled"),
    ("@emulator duration=soon", "not a duration: 'soon'"),
    ("@emulator events=many", "events must be a whole number"),
    ("@emulator interval=0s", "interval must be positive"),
    ("@emulator fast", "expected key=value, got 'fast'"),
    ('@emulator message="unclosed', "No closing quotation"),
    ("@emulator colour=red", "unknown key 'colour'"),
])
def test_bad_directives(line, message):
    with pytest.raises(DirectiveError, match=message):
        parse_script(line, DEFAULT)


def test_a_never_ending_run_streams_until_cancelled(api):
    run_id = api.start("@emulator duration=never pending=0s interval=0.02s").data["runId"]
    time.sleep(0.15)
    data = api.call("GET", f"/runs/{run_id}/events?limit=200").data
    assert data["run"]["status"] == "streaming"
    assert len(data["events"]) >= 5
    time.sleep(0.1)
    later = api.call("GET", f"/runs/{run_id}/events?limit=200").data["events"]
    assert len(later) > len(data["events"])
    assert api.call("POST", f"/runs/{run_id}/cancel").data["status"] == "cancelled"


def test_never_ending_run_is_capped_too(api):
    run_id = api.start("@emulator duration=never pending=0s interval=0.001s").data["runId"]
    time.sleep(0.3)
    events = api.call("GET", f"/runs/{run_id}/events?limit=200").data["events"]
    assert len(events) == 200
    # oldest first (ids are UUIDs, as on the server: they do not sort)
    assert [e["createdAt"] for e in events] == sorted(e["createdAt"] for e in events)
    assert len({e["id"] for e in events}) == 200


def test_concurrent_starts_with_one_key_make_one_run(api, mogrun_emulator):
    answers = []

    def start() -> None:
        answers.append(api.start("same", key="race"))

    threads = [threading.Thread(target=start) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(mogrun_emulator.runs) == 1
    assert sorted(a.data["replayed"] for a in answers) == [False] + [True] * 11
    assert {a.data["runId"] for a in answers} == set(mogrun_emulator.runs)
