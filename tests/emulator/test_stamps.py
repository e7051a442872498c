"""Every time the emulator answers is written as the server writes it: a Postgres
``timestamptz`` through PostgREST (``+00:00``, to the microsecond, the
fraction's trailing zeros dropped), never JavaScript's ``toISOString``."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mogrun.emulator.stamps import stored, timestamptz

from .test_basics import TIMESTAMPTZ

WHOLE = 1_774_726_200  # 2026-03-28T19:30:00 UTC


@pytest.mark.parametrize(("epoch", "written"), [
    (WHOLE, "2026-03-28T19:30:00+00:00"),                        # a whole second: no fraction
    (WHOLE + 0.1, "2026-03-28T19:30:00.1+00:00"),
    (WHOLE + 0.12, "2026-03-28T19:30:00.12+00:00"),
    (WHOLE + 0.123456, "2026-03-28T19:30:00.123456+00:00"),
    (WHOLE + 0.0000004, "2026-03-28T19:30:00+00:00"),            # below the microsecond
    (WHOLE + 0.9999996, "2026-03-28T19:30:01+00:00"),            # rounds up to the next second
    (WHOLE + 0.000_01, "2026-03-28T19:30:00.00001+00:00"),
])
def test_a_timestamptz_is_written_as_postgrest_writes_it(epoch, written):
    assert timestamptz(epoch) == written
    assert stored(epoch) == pytest.approx(round(epoch, 6), abs=1e-7)


def _stamps(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every ``..._at`` / ``...At`` string in a JSON answer, with where it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            if isinstance(item, str) and (key.endswith("_at") or key.endswith("At")):
                yield where, item
            else:
                yield from _stamps(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _stamps(item, f"{path}[{i}]")


def _assert_all_timestamptz(*answers: Any) -> int:
    found = [stamp for answer in answers for stamp in _stamps(answer)]
    wrong = [(where, stamp) for where, stamp in found if not re.fullmatch(TIMESTAMPTZ, stamp)]
    assert not wrong, wrong
    return len(found)


def test_runs_events_and_sandboxes_answer_timestamptz(api):
    started = api.start("@emulator duration=0.3s tools=edit").data
    run_id = started["runId"]
    deadline = time.monotonic() + 10
    while api.call("GET", f"/runs/{run_id}").data["run"]["status"] != "success":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    run = api.call("GET", f"/runs/{run_id}").data
    events = api.call("GET", f"/runs/{run_id}/events").data
    sandboxes = api.call("GET", "/sandboxes").data
    cancelled = api.call("POST", f"/runs/{run_id}/cancel").json
    launched = api.call("POST", "/sandboxes", {"repoId": api.emulator.repo_id("acme/web")},
                        key="launch-1").json
    assert _assert_all_timestamptz(started, run, events, sandboxes, cancelled, launched) >= 10


@pytest.mark.mogrun_emulator(automations=["triage"])
def test_automations_their_runs_and_cursors_answer_timestamptz(api, mogrun_emulator):
    triage = mogrun_emulator.automations[0]["id"]
    for i in range(3):
        mogrun_emulator.add_automation(f"a{i}")
    note = "@emulator duration=0.3s nodes=3 tokens=10"
    job = api.call("POST", f"/automations/{triage}/trigger",
                   {"repoId": api.emulator.repo_id("acme/api"), "input": {"note": note}},
                   key="t-1").data["run"]["jobRunId"]
    deadline = time.monotonic() + 10
    while (detail := api.call("GET", f"/automations/{triage}/runs/{job}").data["run"])[
            "status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    listed = api.call("GET", "/automations?limit=2").data
    cursor = json.loads(base64.urlsafe_b64decode(listed["nextCursor"] + "=="))
    assert cursor["createdAt"] == listed["automations"][-1]["createdAt"]  # the row's own
    runs = api.call("GET", f"/automations/{triage}/runs").data
    automation = api.call("GET", f"/automations/{triage}").data
    assert _assert_all_timestamptz(listed, cursor, runs, automation, detail) >= 20
