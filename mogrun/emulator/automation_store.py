"""What the server remembers about automations: the automations, their job runs,
the global job-run idempotency keys and the job caps — and the enqueue that
applies them in the server's order (key, repo cap, installation cap, create,
start or defer)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mogrun.emulator.aicalls import DEFERRED
from mogrun.emulator.automations import Automation, JobScript, new_id
from mogrun.emulator.jobruns import DEFERRED_TEXT, START_FAILED, JobRun

FOREIGN_USER = "user_someone_else"


@dataclass(frozen=True)
class JobCaps:
    """The server's job caps: pending+running jobs per repo (25) and per
    installation (100), running jobs per installation (8); and how long after
    a failed start the repair cron starts the job (2 minutes)."""

    repo_pending: int = 25
    installation_pending: int = 100
    installation_running: int = 8
    repair: float = 120.0


@dataclass
class Enqueued:
    """The trigger's answer: ``outcome``, ``reason`` and the job (None if suppressed
    by a cap); ``failed_start`` when the start attempt threw after the row existed."""

    outcome: str
    reason: str | None
    job: JobRun | None
    failed_start: bool = False


@dataclass
class AutomationStore:
    """Caller holds the emulator's lock around every method."""

    caps: JobCaps = field(default_factory=JobCaps)
    automations: dict[str, Automation] = field(default_factory=dict)
    jobs: dict[str, JobRun] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # idempotency key -> job run id

    def installation_of(self, job: JobRun) -> int:
        return int(job.repo["installation_id"])

    def enqueue(self, automation: Automation, repo: dict[str, Any], key: str,
                metadata: dict[str, Any], script: JobScript, user: str, now: float,
                *, fail_start: bool = False) -> Enqueued:
        """The enqueue RPC, then the start attempt, as the server runs them."""
        known = self.keys.get(key)
        if known is not None:
            self.jobs[known].duplicates.append(now)
            return Enqueued("suppressed", "IDEMPOTENT_DUPLICATE", self.jobs[known])
        live = [j for j in self.jobs.values() if j.active(now)]
        if sum(j.repo["id"] == repo["id"] for j in live) >= self.caps.repo_pending:
            return Enqueued("suppressed", "REPO_PENDING_LIMIT", None)
        installation = int(repo["installation_id"])
        if sum(self.installation_of(j) == installation for j in live) \
                >= self.caps.installation_pending:
            return Enqueued("suppressed", "INSTALLATION_PENDING_LIMIT", None)
        job = JobRun(automation.id, automation.version_id, user, repo, key, metadata, script,
                     now, None)
        self._schedule(job, now, fail_start)
        self.jobs[job.id] = job
        self.keys[key] = job.id
        deferred = job.start_source == "queue_release"
        return Enqueued("queued", DEFERRED if deferred else None, job,
                        failed_start=fail_start)

    def _schedule(self, job: JobRun, now: float, fail_start: bool) -> None:
        if fail_start:
            job.start, job.start_source, job.start_error = now + self.caps.repair, "repair", \
                START_FAILED
            return
        start = self.free_slot(int(job.repo["installation_id"]), now)
        if start > now:
            job.start_source, job.start_error = "queue_release", DEFERRED_TEXT
        job.start = None if math.isinf(start) else start

    def free_slot(self, installation: int, now: float) -> float:
        """The first moment from ``now`` at which the installation runs fewer than
        its cap of jobs (queue release: a slot frees when a running job ends)."""
        spans = [(j.start, j.end() or math.inf) for j in self.jobs.values()
                 if self.installation_of(j) == installation and j.start is not None]
        for moment in sorted({now, *(end for _, end in spans if end > now)}):
            running = sum(start <= moment < end for start, end in spans)
            if running < self.caps.installation_running:
                return moment
        return math.inf

    def seed_key(self, key: str, now: float, repo: dict[str, Any]) -> JobRun:
        """Make ``key`` taken by another user's job run (of an automation of theirs)."""
        other = Automation(new_id(), FOREIGN_USER, "someone else's automation",
                           int(repo["installation_id"]), now)
        job = JobRun(other.id, other.version_id, FOREIGN_USER, repo, key, {}, JobScript(),
                     now, now)
        self.jobs[job.id] = job
        self.keys[key] = job.id
        return job
