"""How a trigger's answer is read: both servers' words for a key used before.
(The emulator answers as the contract does, ``suppressed``/``duplicate``; the
newest server answers ``replayed``; tests/automations/test_automation_jobs.py
follows the first end to end.)"""

from __future__ import annotations

import pytest

from mogrun.api.automations import TriggerAnswer

RUN = {"automationId": "a1", "jobRunId": "jr1", "started": False}


@pytest.mark.parametrize(("answer", "duplicate", "capped"), [
    ({"outcome": "suppressed", "reason": "IDEMPOTENT_DUPLICATE", "status": "running"}, True,
     False),
    ({"outcome": "replayed", "replayed": True, "status": "success"}, True, False),
    ({"outcome": "replayed", "status": "running"}, True, False),
    ({"outcome": "queued", "replayed": True, "status": "running"}, True, False),
    ({"outcome": "suppressed", "reason": "REPO_PENDING_CAP"}, False, True),
    ({"outcome": "started", "replayed": False, "status": "running"}, False, False),
    ({"outcome": "started", "replayed": "yes", "status": "running"}, False, False),
])
def test_a_replay_is_a_duplicate_in_either_servers_words(answer, duplicate, capped):
    read = TriggerAnswer.from_api({**RUN, **answer})
    assert (read.duplicate, read.capped) == (duplicate, capped)
