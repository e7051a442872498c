"""A run as mogrun sees it once started: its state and events as the API gives
them (``RunState``, ``Event``), and how it ended (``RunResult`` with its gates'
``GateVerdict``s). Frozen values that the engine, outputs, history and plugins
share; kept apart from ``mogrun.models`` so that ``list``, ``check`` and ``show``,
which start nothing, do not pay for creating them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mogrun.outcomes import RunStatus


@dataclass(frozen=True)
class Event:
    """One event of a run, as ``GET /runs/{id}/events`` returns it."""

    id: str
    type: str
    created_at: str
    tool_name: str | None = None
    message: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Event:
        return cls(
            id=str(data.get("id") or ""),  # a null id is no id (not the id "None")
            type=str(data.get("type") or ""),
            created_at=str(data.get("createdAt") or ""),
            tool_name=data.get("toolName"),
            message=data.get("message"),
            payload=data.get("payload") or {},
        )


@dataclass(frozen=True)
class RunState:
    """A run's RunDetail as last seen; ``raw`` keeps every field, known or not."""

    run_id: str
    status: str
    created_at: str | None = None
    updated_at: str | None = None
    error: Any = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        """Unknown statuses are not terminal: a newer server may add some."""
        return RunStatus.is_terminal(self.status)

    @property
    def working_branch(self) -> str | None:
        """The branch the run works on (RunDetail ``branch.working``), if the server said."""
        return self._branch("working")

    @property
    def own_branch(self) -> str | None:
        """The working branch when it is the run's own, not its base branch: what
        the summary, ``--json`` and ``$GITHUB_OUTPUT`` name as where its changes are
        (the server fills ``branch.working`` with the base branch when none was
        asked for)."""
        working = self.working_branch
        return working if working != self._branch("base") else None

    def _branch(self, which: str) -> str | None:
        branch = self.raw.get("branch")
        name = branch.get(which) if isinstance(branch, Mapping) else None
        return name if isinstance(name, str) and name else None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> RunState:
        return cls(
            run_id=str(data.get("runId") or ""),  # null is unknown, not the string "None"
            status=str(data.get("status") or ""),
            created_at=data.get("createdAt"),
            updated_at=data.get("updatedAt"),
            error=data.get("error"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class GateVerdict:
    """One gate's judgement of a finished run."""

    gate: str
    passed: bool
    reason: str = ""


@dataclass(frozen=True)
class RunResult:
    """How one run ended, as gates, notifiers, reports and history see it.

    ``outcome`` is one of ``OUTCOMES``; ``status`` is the server's last status
    (``None`` when the run never started, e.g. skipped).
    """

    job: str
    repo: str
    outcome: str
    run_id: str | None = None
    status: str | None = None
    attached: bool = False
    started_at: str | None = None
    finished_at: str | None = None
    duration: float | None = None
    gates: tuple[GateVerdict, ...] = ()
    message: str = ""
    exit_code: int = 0
    branch: str | None = None  # the run's working branch (RunDetail branch.working)
    usage: Mapping[str, Any] | None = None  # an automation run's tokens and cost
    # Not judged to its end and left going on the server (a timeout with on_timeout =
    # "detach", following given up, a cancel that did not get through): follow it, do not
    # rerun it. Never under --local, whose emulator (and its runs) ends with mogrun.
    left_going: bool = False

    @property
    def passed(self) -> bool:
        return self.outcome == "success"

    @property
    def why(self) -> str:
        """Why the run ended as it did: its own message (a failed run's error), then
        each failed gate with its reason (``""``: nothing to say). The one wording of
        the terminal's result line, the summary, ``logs`` and a Slack message: the
        gates alone would hide the error (a failed run fails the default status gate)."""
        reasons = [f"gate {g.gate}: {g.reason}" if g.reason else f"gate {g.gate} failed"
                   for g in self.gates if not g.passed]
        return "; ".join([m for m in [self.message, *reasons] if m])

    @property
    def label(self) -> str:
        """``job:owner/name``: its run's ``RunPlan.label``."""
        return f"{self.job}:{self.repo}"
