"""Answers of the wrong type from the hooks whose answer the engine acts on."""

from __future__ import annotations

import pytest
from plugtest_helpers import make_job, make_state

from mogrun.hookspecs import hookimpl
from mogrun.pluginhost import PluginHost


@pytest.mark.parametrize("answer", [False, "", 0, ["bored"]])
def test_watch_answer_that_is_not_a_reason_is_ignored_with_a_warning(answer):
    class Wrong:
        @hookimpl
        def mogrun_watch(self):
            return answer

    host = PluginHost.from_plugins(("wrong", Wrong()))
    job = make_job()
    reason = host.watch(job=job, run=job.runs[0], state=make_state("streaming"),
                        unchanged_for=1.0)
    assert reason is None  # a run is never stopped for "False"
    assert host.warnings == [f'plugin "wrong" returned {answer!r} from mogrun_watch; '
                             "ignored (expected a reason string or None)"]
