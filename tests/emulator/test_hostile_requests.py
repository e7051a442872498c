"""What a careless or hostile client sends the emulator is answered, never a
dropped connection or a stalled server: the real API answers everything with
its JSON envelope, and a test's emulator must not die under one bad request."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from mogrun.emulator.limits import Limits


@pytest.mark.parametrize(("path", "raw"), [
    ("/_emulator/sandboxes", b'{"busy": [1]}'),
    ("/_emulator/sandboxes", b'{"busy": {}}'),
    ("/_emulator/job-keys", b'{"keys": ["a"], "repo": 5}'),
    ("/_emulator/automations", b'{"name": "x", "repo": {}}'),
])
def test_a_control_field_of_the_wrong_type_is_a_400(api, path, raw):
    answer = api.call("POST", path, raw=raw, api=False)
    assert answer.status == 400, answer
    assert "wrong type" in answer.json["error"]
    assert api.call("GET", "/repos").status == 200  # and the emulator still serves


@pytest.mark.parametrize("directive", ["events=99999999999999999999", "events=100001"])
def test_an_event_count_no_run_could_have_is_a_400_and_creates_nothing(api, mogrun_emulator,
                                                                         directive):
    answer = api.start(f"x\n@emulator {directive}", key="k-huge")
    assert answer.status == 400 and "events must be a whole number" in answer.message
    assert mogrun_emulator.runs == []


@pytest.mark.mogrun_emulator(automations=["triage"])
@pytest.mark.parametrize("directive", ["nodes=2000000", "tokens=1" + "0" * 400, "cost=inf",
                                       "cost=1e400", "cost=nan"])
def test_an_automation_directive_past_bounds_is_a_400(api, mogrun_emulator, directive):
    """nodes=2000000 built its records under the emulator's lock: every client
    stalled; a huge tokens crashed each read; cost=inf was answered as Infinity,
    which no JSON parser reads."""
    [automation] = mogrun_emulator.automations
    answer = api.call("POST", f"/automations/{automation['id']}/trigger",
                      {"repoId": mogrun_emulator.repo_id("acme/api"),
                       "input": {"note": f"@emulator {directive} duration=0.1s"}}, key="k-1")
    assert answer.status == 400, answer.body
    assert "bad @emulator directive" in answer.message


def test_a_method_it_does_not_know_is_a_bare_400_as_nextjs_sends_it(api):
    """Next.js resolves only the methods it knows; any other is its bare 400."""
    answer = api.call("BREW", "/repos")
    assert (answer.status, answer.body) == (400, b"")
    head = api.call("HEAD", "/runs")  # POST only: no HEAD either
    assert head.status == 405 and head.body == b""


def test_a_negative_chunk_size_is_a_400(mogrun_emulator):
    url = urlsplit(mogrun_emulator.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        auth = f"Authorization: Bearer {mogrun_emulator.write_token}\r\n".encode()
        conn.sendall(b"POST /api/v1/mogplex/runs HTTP/1.1\r\nHost: x\r\n" + auth +
                     b"Idempotency-Key: k\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n0\r\n\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("spec", ["idle=0", "idle=0s", "starts=0/1m", "boots=0/1h",
                                  "0/60s"])
def test_a_limit_that_could_only_divide_by_zero_is_refused(spec):
    with pytest.raises(ValueError):
        Limits.parse(spec)


@pytest.mark.parametrize("raw", [b'{"repo_pending": 1e400}', b'{"repo_pending": -1}'])
def test_a_job_cap_json_cannot_carry_back_is_a_400(api, raw):
    """1e400 was taken as inf and answered as 'Infinity', which no JSON parser reads."""
    answer = api.call("POST", "/_emulator/job-caps", raw=raw, api=False)
    assert answer.status == 400 and "finite" in answer.json["error"]


@pytest.mark.parametrize(("path", "raw", "listing", "field"), [
    ("/_emulator/automations", b'[{"name": "first"}, {"name": "second", "repo": "no/such"}]',
     "/_emulator/automations", "name"),
    ("/_emulator/sandboxes", b'{"spec": "1@never,no/such:1"}', "/_emulator/sandboxes",
     "working_branch"),
    ("/_emulator/job-keys", b'{"keys": ["k-a", "k-a"]}', "/_emulator/job-runs", "key"),
])
def test_a_refused_control_request_changes_nothing(api, path, raw, listing, field):
    """Its first items were kept though the answer was 400: a script that fixed its
    request and sent it again got a second automation, an extra sandbox occupant that
    counts against the cap for ever, or 'already taken'."""
    before = [item[field] for item in api.call("GET", listing, api=False).json]
    answer = api.call("POST", path, raw=raw, api=False)
    assert answer.status == 400, answer
    assert [item[field] for item in api.call("GET", listing, api=False).json] == before


@pytest.mark.parametrize("path", ["/_emulator/nope/faults", "/_emulator/a/b/runs"])
def test_a_control_path_of_several_segments_is_unknown(api, path):
    """Only the last segment was read: /_emulator/nope/faults answered the faults."""
    answer = api.call("GET", path, api=False)
    assert answer.status == 404, answer
    assert "unknown control endpoint" in answer.json["error"]
