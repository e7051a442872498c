"""Values past what the emulator can count or date — a cursor nested thousands
deep, a duration of 1e-320 s, an int of hundreds of digits — are a 400 (or
exit 2) where they come in, never a crash later; JSON ints of any length parse
as JavaScript's do; and the control endpoints serve this machine only."""

from __future__ import annotations

import base64
import json

import pytest

from mogrun.emulator import Emulator, Limits
from mogrun.testing import run_mogrun

TINY = "0." + "0" * 319 + "1"  # 1e-320 written as a decimal: "positive", and subnormal
BIG = "1" + "0" * 400  # past a double: float() of it raised OverflowError
HUGE = "1" + "0" * 5000  # past Python's 4,300-digit limit for int()


def _strict(body: bytes) -> object:
    """JSON as any parser reads it: no Infinity or NaN."""
    def refuse(name: str) -> object:
        raise AssertionError(f"{name} is not JSON")
    return json.loads(body, parse_constant=refuse)


# ---- 1: a cursor nested deeper than Python's parser goes ------------------------------


@pytest.mark.mogrun_emulator(automations=["triage"])
def test_a_deeply_nested_cursor_is_an_invalid_cursor(api, mogrun_emulator):
    """It printed a RecursionError traceback and the client got an empty reply."""
    cursor = base64.urlsafe_b64encode(b"[" * 5000).decode()
    answer = api.call("GET", f"/automations?cursor={cursor}", token=mogrun_emulator.read_token)
    assert (answer.status, answer.code, answer.message) == (400, "BAD_REQUEST", "Invalid cursor")
    assert mogrun_emulator.requests[-1].status == 400  # answered, so traced and recorded


# ---- 2: a duration below a millisecond --------------------------------------------------


@pytest.mark.parametrize("directive", [f"duration=never pending=0 interval={TINY}",
                                       "duration=0.5ms", f"pending={TINY}"])
def test_a_run_duration_below_a_millisecond_is_refused(api, mogrun_emulator, directive):
    """interval=1e-320 was accepted: every read of the run's events then crashed
    (float infinity to integer), even after a cancel."""
    answer = api.start(f"x\n@emulator {directive}", key="k-tiny")
    assert answer.status == 400, answer.body
    assert "bad @emulator directive" in answer.message
    assert "at least 1ms" in answer.message
    assert mogrun_emulator.runs == []


@pytest.mark.parametrize("spec", [f"reap={TINY}", "idle=0.1ms", "5/0.5ms"])
def test_a_limit_below_a_millisecond_is_refused(spec):
    with pytest.raises(ValueError, match="at least 1ms"):
        Limits.parse(spec)


def test_the_command_line_refuses_a_reap_below_a_millisecond():
    """--limits reap=1e-320 served, announced reap=1ms, and crashed every start."""
    result = run_mogrun("emulator", "--limits", f"reap={TINY}")
    assert result.exit_code == 2, result
    assert "at least 1ms" in result.stderr


def test_zero_passes_where_it_did_and_a_tiny_default_duration_is_refused():
    """A pending time of 0 is a run that streams at once; 0 is no tiny value."""
    with Emulator() as emu:
        emu.add_fault("repos", "delay", delay=0)
    with pytest.raises(ValueError, match="at least 1ms"):
        Emulator(default_duration=1e-320)


# ---- 4: control bodies no parser or clock can take --------------------------------------


@pytest.mark.parametrize(("path", "raw"), [
    ("/_emulator/faults", b"[" * 5000),
    ("/_emulator/faults", f'{{"endpoint":"run","kind":"delay","delay":{BIG}}}'.encode()),
    ("/_emulator/faults", f'{{"endpoint":"run","kind":"delay","delay":{TINY}}}'.encode()),
    ("/_emulator/sandboxes", f'{{"count":1,"busy":{BIG}}}'.encode()),
    ("/_emulator/sandboxes", f'{{"count":1,"busy":{HUGE}}}'.encode()),
    ("/_emulator/job-caps", f'{{"repair":{BIG}}}'.encode()),
    ("/_emulator/job-caps", f'{{"repo_pending":{HUGE}}}'.encode()),
    ("/_emulator/job-caps", b'{"repair": 31622401}'),
])
def test_a_control_body_past_bounds_is_a_400(api, mogrun_emulator, path, raw):
    """Each was an empty reply and a traceback (RecursionError, OverflowError), or
    (job-caps) accepted, and the next trigger crashed."""
    answer = api.call("POST", path, raw=raw, api=False)
    assert answer.status == 400, answer.body
    assert isinstance(answer.json["error"], str)
    assert mogrun_emulator.sandboxes() == []
    assert api.call("GET", "/_emulator/faults", api=False).json == []


@pytest.mark.mogrun_emulator(automations=["triage"])
def test_a_refused_repair_cap_leaves_the_trigger_working(api, mogrun_emulator):
    assert api.call("POST", "/_emulator/job-caps", raw=f'{{"repair":{BIG}}}'.encode(),
                    api=False).status == 400
    mogrun_emulator.add_fault("trigger", "500_after_commit")
    [automation] = mogrun_emulator.automations
    answer = api.call("POST", f"/automations/{automation['id']}/trigger",
                      {"repoId": mogrun_emulator.repo_id("acme/api")}, key="k-1")
    assert (answer.status, answer.code) == (500, "INTERNAL_ERROR")


def test_a_cap_of_a_year_is_accepted(api):
    answer = api.call("POST", "/_emulator/job-caps", {"repair": 31622400, "repo_pending": 0},
                      api=False)
    assert answer.status == 200 and answer.json["repair"] == 31622400


# ---- 9: JSON ints of any length ---------------------------------------------------------


def test_an_int_of_thousands_of_digits_is_json(api, mogrun_emulator):
    """Python's int() refuses more than 4,300 digits: the body was 400 Invalid JSON."""
    raw = json.dumps({"repoId": mogrun_emulator.repo_id("acme/api"), "prompt": "hi",
                      "extra": 0}).replace("0}", HUGE + "}").encode()
    answer = api.call("POST", "/runs", raw=raw, key="k-huge")
    assert answer.status == 202, answer.body


@pytest.mark.mogrun_emulator(automations=["triage"])
def test_an_infinite_number_kept_in_an_answer_is_written_as_null(api, mogrun_emulator):
    """JSON.parse makes such an int Infinity, and JSON.stringify writes it null;
    Python wrote "Infinity", which no JSON parser reads."""
    [automation] = mogrun_emulator.automations
    repo = mogrun_emulator.repo_id("acme/api")
    raw = f'{{"repoId": "{repo}", "input": {{"n": {HUGE}, "m": -{HUGE}}}}}'.encode()
    started = api.call("POST", f"/automations/{automation['id']}/trigger", raw=raw, key="k-inf")
    assert started.status == 202, started.body
    run_id = started.data["run"]["jobRunId"]
    detail = api.call("GET", f"/automations/{automation['id']}/runs/{run_id}")
    metadata = _strict(detail.body)["data"]["run"]["metadata"]
    assert (metadata["n"], metadata["m"]) == (None, None)


# ---- 11: control endpoints: this machine only; a spec is a non-empty string ---------


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"},
                                     {"Origin": "null"},
                                     {"Host": "evil.example"},
                                     {"Host": "rebound.example:8765"},
                                     {"Host": "10.0.0.5"}])
def test_a_control_request_from_a_web_page_is_refused(api, mogrun_emulator, headers):
    """A page's no-cors fetch (or one after DNS rebinding) injected faults that
    dropped every API request."""
    answer = api.call("POST", "/_emulator/faults", {"spec": "*:dropx1000"}, api=False,
                      headers={"Content-Type": "text/plain", **headers})
    assert answer.status == 403
    assert "refused" in answer.json["error"] and "loopback" in answer.json["error"]
    assert api.call("GET", "/_emulator/faults", api=False).json == []
    assert api.call("GET", "/repos").status == 200


@pytest.mark.parametrize("headers", [{"Origin": "http://127.0.0.1:8765"},
                                     {"Origin": "http://localhost:3000"},
                                     {"Origin": "http://[::1]:8765"},
                                     {"Host": "localhost:8765"}])
def test_a_control_request_from_this_machine_is_served(api, headers):
    answer = api.call("POST", "/_emulator/faults", {"spec": "repos:503"}, api=False,
                      headers=headers)
    assert answer.status == 200 and len(answer.json) == 1


@pytest.mark.parametrize("path", ["/_emulator/faults", "/_emulator/sandboxes",
                                  "/_emulator/automations"])
@pytest.mark.parametrize("spec", [None, 40, "", " , ", ["triage"]])
def test_a_spec_that_is_no_string_or_empty_is_a_400(api, mogrun_emulator, path, spec):
    """null made an automation named "None", 40 occupied 40 sandboxes, and "" was
    taken where the command line refuses an empty spec."""
    answer = api.call("POST", path, {"spec": spec}, api=False)
    assert answer.status == 400, answer.body
    assert '"spec" must be a non-empty string' in answer.json["error"]
    assert (mogrun_emulator.sandboxes(), mogrun_emulator.automations) == ([], [])
    assert api.call("GET", "/_emulator/faults", api=False).json == []
