"""A run's duration (the summary's, the result's) reads the server's timestamps
by ``mogrun.durations``' one rule: "2026-12-05T03:45:50" beside an aware
createdAt was a duration of ``-``, and an updatedAt before createdAt ``0s``."""

from __future__ import annotations

import pytest

from mogrun.durations import format_duration
from mogrun.engine.outcome import server_duration
from mogrun.runs import RunState


@pytest.mark.parametrize(("created", "updated", "shown"), [
    ("2026-12-05T03:40:00Z", "2026-12-05T03:45:50", "5m50s"),     # no offset: UTC
    ("2026-12-05T03:40:00", "2026-12-05T05:45:50+02:00", "5m50s"),
    ("2026-12-05T03:45:50Z", "2026-12-05T03:40:00Z", "-"),        # backwards: unknown, not 0s
    ("2026-12-05T03:40:00Z", None, "-"),
])
def test_the_summary_duration_reads_server_timestamps_by_the_one_rule(created, updated,
                                                                      shown) -> None:
    state = RunState(run_id="r", status="success", created_at=created, updated_at=updated)
    assert format_duration(server_duration(state)) == shown
