"""A bug inside mogrun is shown as an internal error with its traceback on
stderr, the run still ends with exit code 1 and its history row closed."""

from __future__ import annotations

import pytest

from mogrun.engine.runner import RunExecutor
from mogrun.engine.scheduler import Scheduler

from .conftest import history_rows, json_lines
from .test_scheduler import Recorder, job


def test_a_crashing_worker_hands_its_traceback_to_on_crash():
    def run(j, plan):
        raise RuntimeError("worker bug")

    crashes = []
    rec = Recorder()
    results = Scheduler([job("a")], run_fn=run, skip_fn=rec.skip, on_job_done=rec.job_done,
                        on_crash=lambda j, plan, text: crashes.append((j.name, text))).run()
    assert [(r.outcome, r.exit_code) for r in results] == [("error", 1)]
    assert len(crashes) == 1
    name, text = crashes[0]
    assert name == "a"
    assert text.startswith("Traceback (most recent call last):")
    assert "in run" in text and text.endswith("RuntimeError: worker bug")


@pytest.mark.parametrize("mode", ["-q", "--json"])
def test_internal_error_in_a_run_shows_its_traceback_on_stderr(project, mogrun, monkeypatch,
                                                               mode):
    project("""
        [jobs.hello]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s events=3"
    """)

    def broken(self, track, kind, followed):
        raise RuntimeError("engine bug")

    monkeypatch.setattr(RunExecutor, "_conclude", broken)
    result = mogrun(mode, "hello")
    assert result.exit_code == 1, result
    assert "internal error" in result.stderr
    assert "Traceback (most recent call last):" in result.stderr
    assert "RuntimeError: engine bug" in result.stderr
    assert "Traceback" not in result.stdout
    if mode == "--json":
        assert json_lines(result.stdout)[-1]["type"] == "summary"
    (row,) = history_rows(mogrun)  # closed, not left open with no outcome
    assert (row["outcome"], row["exit_code"]) == ("error", 1)
    assert row["message"] == "internal error: RuntimeError('engine bug')"
