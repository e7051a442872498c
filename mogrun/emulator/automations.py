"""Automations and their job runs, as the server keeps them.

An automation is published (or not) and active (or not) on one GitHub
installation. A trigger creates a job run whose life, like a run's, is a pure
function of wall-clock time: ``pending`` until it starts (at once, or when a
running slot of its installation frees, or when the repair cron restarts it
after a failed start), then ``running`` through its node runs — each agent node
making one AI call — then its scripted terminal status.

Scripted by ``@emulator`` lines in the automation's script or in any string of
the trigger's ``input`` (the input's lines win)::

    @emulator status=failed duration=2s nodes=4 tokens=9000 cost=0.42 error=MISSING_CONFIG
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mogrun.emulator.directives import (
    DirectiveError,
    apply_directives,
    duration,
    status,
    whole,
)
from mogrun.emulator.stamps import timestamptz

TERMINAL = frozenset({"success", "failed", "cancelled"})


@dataclass(frozen=True)
class JobScript:
    """How a job run behaves once running. ``duration`` None: it never ends."""

    status: str = "success"
    duration: float | None = 3.0
    nodes: int = 3
    tokens: int = 1200
    cost: float = 0.012
    model: str = "gpt-5-mini"
    error: str | None = None
    message: str | None = None


MAX_NODES = 1_000  # each is a record built under the emulator's lock: more stalls it
MAX_TOKENS = 10**12


def _nodes(value: str) -> int:
    nodes = whole(value, 2, MAX_NODES)
    if nodes is None:
        raise ValueError(f"nodes must be a whole number from 2 (a start and an agent) to "
                         f"{MAX_NODES:,}")
    return nodes


def _tokens(value: str) -> int:
    tokens = whole(value, 0, MAX_TOKENS)
    if tokens is None:
        raise ValueError(f"tokens must be a whole number of at most {MAX_TOKENS:,}")
    return tokens


def _cost(value: str) -> float:
    import math

    cost = float(value)
    if not math.isfinite(cost) or cost < 0:  # JSON has no inf or nan to answer with
        raise ValueError("cost must be a finite number of dollars, at least 0")
    return cost


PARSERS: dict[str, Callable[[str], object]] = {
    "status": status, "duration": duration, "nodes": _nodes, "tokens": _tokens, "cost": _cost,
    "model": str, "error": str, "message": str}


def script_for(definition: str, job_input: dict[str, Any], default: JobScript) -> JobScript:
    """The automation's script, then every ``@emulator`` line in the input's strings;
    DirectiveError for a malformed one."""
    script = apply_directives(definition, default, PARSERS)
    for value in job_input.values():
        if isinstance(value, str):
            script = apply_directives(value, script, PARSERS)
    return script


def check_script(text: str) -> None:
    """ValueError now for an automation script that could never be applied."""
    try:
        apply_directives(text, JobScript(), PARSERS)
    except DirectiveError as exc:
        raise ValueError(str(exc)) from exc


@dataclass
class Automation:
    """One automation (a ``flows`` row) of ``user``."""

    id: str
    user: str
    name: str
    installation_id: int
    created: float
    published: bool = True
    active: bool = True
    description: str | None = None
    script: str = ""
    updated: float | None = None  # when its row was last written (None: at creation)

    def repair(self, now: float) -> None:
        """The server's ``repairFlowPublicationConsistency``, run by every read that
        loads the automation (get, trigger, its runs and run detail; never the
        list): an ``active`` row with no published version gets the latest version
        attached or, having none, is set ``inactive``. On the emulator an
        unpublished automation has no version at all, so it goes ``inactive``."""
        if self.active and not self.published:
            self.active, self.updated = False, now

    def summary(self) -> dict[str, Any]:
        """As ``GET /automations`` lists it."""
        return {"id": self.id, "installationId": self.installation_id, "name": self.name,
                "description": self.description,
                "status": "active" if self.active else "inactive",
                "publishedVersionId": self.version_id if self.published else None,
                "createdAt": timestamptz(self.created),
                "updatedAt": timestamptz(self.created if self.updated is None else self.updated)}

    @property
    def version_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, self.id))

    def detail(self) -> dict[str, Any]:
        """As ``GET /automations/{id}`` returns it (``runSummary`` empty, as on the server)."""
        graph = {"nodes": [{"id": "start", "type": "start"}, {"id": "agent", "type": "agent"}],
                 "edges": [{"source": "start", "target": "agent"}]}
        version = {"id": self.version_id, "versionNumber": 1, "graph": graph,
                   "createdAt": timestamptz(self.created)} if self.published else None
        summary = self.summary()
        del summary["publishedVersionId"]
        return {**summary, "notes": None, "draftGraph": graph, "publishedVersion": version,
                "runSummary": {"lastRunId": None, "lastRunStatus": None, "runningCount": 0,
                               "pendingCount": 0, "failed24h": 0}}


def new_id() -> str:
    return str(uuid.uuid4())
