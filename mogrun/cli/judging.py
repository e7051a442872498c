"""Judging a recorded run that ended while no ``run`` followed it (detached, left
going, followed by ``logs --follow``, found ended by ``status`` or ``rerun``) by
its job's gates, as ``run`` judges the runs it follows: a run that ended
``success`` but took longer than ``max_duration`` is ``gate_failed`` whichever
command first sees it end — unless that command loads none of the plugins the
task file names (``status`` runs no code from the repository): their gates may
fail the run, so its judgement is not the run's, and the run is left for one
that loads them (``logs --follow``, ``rerun``) to judge and record.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Any

from mogrun.cli.state import CliState
from mogrun.errors import MogrunError
from mogrun.runs import RunResult


class GateJudge:
    """The gates of some jobs, loaded once (plugins included) on first use; a job
    that no longer resolves (removed, an unset ``env.NAME``) is judged by its
    status, with a warning."""

    def __init__(self, state: CliState, names: Sequence[str]) -> None:
        self.state = state
        self.names = sorted(set(names))
        self.jobs: dict[str, Any] | None = None
        self.host: Any = None
        self._lock = threading.Lock()  # ``logs --follow`` judges from a thread per run

    def load(self) -> dict[str, Any]:
        """The jobs by name (loaded on first call: call it on the main thread)."""
        with self._lock:
            if self.jobs is None:
                self.jobs = self._jobs()
            return self.jobs

    def _jobs(self) -> dict[str, Any]:
        if not self.names:
            return {}
        from mogrun.cli.loading import load_session

        try:
            loaded = load_session(self.state, command="logs", names=self.names,
                                  with_needs=False)
        except MogrunError as exc:
            self.state.warn(f"gates not applied ({exc.message}); judging runs by their status")
            return {}
        self.host = loaded.host
        return {job.name: job for job in loaded.jobs}

    def verdict(self, row: Any, run: Any, events: Sequence[Any],
                taskfile: Any) -> RunResult | None:
        """``result``, or ``None`` where it would not be the run's: the task file
        names plugins (repository code, whose gates may fail the run) and this
        command does not load them. Such a run is left unjudged (``awaits_judgement``)."""
        if taskfile.plugin_entries and not self.state.repository_code:
            return None
        return self.result(row, run, events)

    def secrets_of(self, row: Any) -> frozenset[str]:
        """The secrets of ``row``'s job (masked in what its record keeps of a gate's
        reason); none for a job that no longer resolves."""
        job = self.load().get(row.job) if row is not None else None
        return job.secrets if job is not None else frozenset()

    def result(self, row: Any, run: Any, events: Sequence[Any]) -> RunResult:
        """``row``'s ended ``run`` as ``run`` would have finished it: its outcome after
        the job's gates, with their verdicts, so a failed gate says which and why (no
        ``row``, a run id history never recorded: judged by its status)."""
        from mogrun.engine.outcome import gated_outcome, judged_message, server_duration
        from mogrun.outcomes import Outcome

        job = self.load().get(row.job) if row is not None else None
        plan = next((p for p in job.runs if p.repo == row.repo), None) if job else None
        draft = RunResult(job=row.job if row is not None else "",
                          repo=row.repo if row is not None else "",
                          outcome=gated_outcome(run.status, ()), run_id=run.run_id,
                          status=run.status, attached=bool(row and row.attached),
                          started_at=run.created_at, finished_at=run.updated_at,
                          duration=server_duration(run), branch=run.own_branch,
                          usage=run.raw.get("usage"))
        verdicts = () if job is None or plan is None else self._verdicts(job, plan, draft,
                                                                          run, events)
        outcome = gated_outcome(run.status, verdicts)
        return dataclasses.replace(draft, outcome=outcome, gates=verdicts,
                                   message=judged_message(run, outcome),
                                   exit_code=Outcome(outcome).exit_code)

    def _verdicts(self, job: Any, plan: Any, draft: RunResult, run: Any,
                  events: Sequence[Any]) -> tuple[Any, ...]:
        """Every gate's verdicts; a gate still at work after a moment is said on
        stderr, as ``run`` says it, not left as a silent terminal."""
        from mogrun.engine.slowhooks import said_when_slow
        from mogrun.pluginguard import GATE_HOOK

        with said_when_slow(self.state.say_wait, GATE_HOOK):
            return tuple(self.host.gates(job=job, run=plan, result=draft, state=run,
                                         events=tuple(events)))


def awaits_judgement(row: Any) -> bool:
    """Whether ``row``'s run is seen to have ended but not judged yet (left to a
    command that loads the task file's plugins): not passed, as far as is known."""
    from mogrun.outcomes import Outcome, RunStatus

    return RunStatus.is_terminal(row.status) and row.outcome in (None, Outcome.DETACHED)
