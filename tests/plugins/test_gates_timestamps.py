"""max_duration with server timestamps that cannot be compared (one with a
zone, one without) falls back to the local duration instead of crashing."""

from __future__ import annotations

from mogrun_plugins import gates
from plugtest_helpers import make_job, make_result, make_state

from mogrun.pluginhost import PluginHost
from mogrun.runs import GateVerdict


def test_naive_and_aware_timestamps_fall_back_to_the_local_duration():
    host = PluginHost.bundled_only()
    job = make_job(options={"gates": gates.validate({"max_duration": "20m"})})
    state = make_state(created="2026-01-01T10:00:00", updated="2026-01-01T10:05:00Z")
    verdicts = host.gates(job=job, run=job.runs[0], result=make_result(duration=90.0),
                          state=state, events=())
    assert verdicts[1] == GateVerdict("max_duration", True, "took 1m30s (max 20m)")
