"""What the generated workflow runs: one GitHub job (a "leg group") per
scheduled mogrun job, its triggers, its command and its time bound.

Each scheduled job J becomes a GitHub job that runs ``mogrun run J`` (J's
needs run first inside that one invocation, as they do locally). With
``--shards N``, a job whose fan-out has at least 2N repos becomes a matrix of
N legs, each ``mogrun run J --no-deps --shard i/N``; its needs (if any) run
once before the matrix as their own GitHub job, since a leg cannot wait for
the other legs (see ``mogrun.ci.shard``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from mogrun.ci.schedules import job_schedules
from mogrun.ci.shard import SHARED_LIMITS
from mogrun.durations import parse_duration
from mogrun.taskfile.graph import job_order, needs_of
from mogrun.taskfile.parse import TaskFile
from mogrun.taskfile.schema import DEFAULT_TIMEOUT

DEFAULT_PARALLEL = 4  # `mogrun run`'s -j default: runs at once per invocation
DEFAULT_CAPACITY_WAIT = 1800.0  # the SPEC's default wait for a sandbox slot
SETUP_MINUTES = 10  # checkout, setup-python, pip install, resolving repos
GITHUB_MAX_MINUTES = 360  # a job on a GitHub-hosted runner is stopped at 6 hours
_START_WINDOWS = (("starts_per_minute", 60.0), ("starts_per_hour", 3600.0),
                  ("starts_per_day", 86400.0))
_JOB_ID = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class GitHubJob:
    """One job of the workflow."""

    id: str
    name: str
    command: tuple[str, ...]  # `mogrun run ...` arguments after "mogrun"
    job: str  # the scheduled mogrun job this GitHub job serves
    schedules: tuple[str, ...]  # the crons that start it (not those that start a dependant)
    timeout_minutes: int
    shards: int = 1
    needs: tuple[str, ...] = ()
    group: str = ""
    in_all: bool = True  # a dispatch of "all" starts it (False: a dependant runs it)
    runs: tuple[str, ...] = ()  # the mogrun jobs its command runs, needs first
    env: tuple[str, ...] = ()  # the env names its run step is given (besides the token's)


@dataclass(frozen=True)
class Plan:
    jobs: tuple[GitHubJob, ...]
    schedules: tuple[str, ...]  # every cron once, sorted
    dispatchable: tuple[str, ...]  # the scheduled mogrun jobs, file order
    warnings: tuple[str, ...] = ()


def plan(taskfile: TaskFile, shards: int = 1) -> Plan:
    """The workflow's jobs for the file's scheduled jobs, in file order."""
    scheduled = [name for name in taskfile.jobs if job_schedules(taskfile, name)]
    taken: set[str] = set()
    jobs: list[GitHubJob] = []
    warnings: list[str] = []
    for name in scheduled:
        found = _github_jobs(taskfile, name, shards, taken, warnings)
        jobs += [_uncovered(taskfile, job, scheduled) for job in found]
    crons = sorted({c for name in scheduled for c in job_schedules(taskfile, name)})
    return Plan(tuple(jobs), tuple(crons), tuple(scheduled), tuple(warnings))


def _github_jobs(taskfile: TaskFile, name: str, shards: int, taken: set[str],
                 warnings: list[str]) -> list[GitHubJob]:
    crons = tuple(job_schedules(taskfile, name))
    base = _unique_id(name, taken)
    sharded = shards > 1 and len(_repos(taskfile, name)) >= 2 * shards
    if not sharded:
        minutes = _bounded(name, bound_minutes(taskfile, name), warnings)
        return [GitHubJob(base, name, ("run", name), name, crons, minutes, group=name,
                          runs=tuple(job_order(taskfile, [name])))]
    direct = needs_of(taskfile, name)
    found: list[GitHubJob] = []
    if direct:
        needs_id = _unique_id(f"{base}-needs", taken)
        minutes = _bounded(name, _path_minutes(taskfile, direct), warnings)
        found.append(GitHubJob(needs_id, f"{name} (needs)", ("run", *direct), name, crons,
                               minutes, group=f"{name}/needs",
                               runs=tuple(job_order(taskfile, direct))))
    minutes = _bounded(name, _job_seconds_minutes(taskfile, name, shards), warnings)
    command = ("run", name, *(["--no-deps"] if direct else []),
               "--shard", f"${{{{ matrix.shard }}}}/{shards}")
    found.append(GitHubJob(base, name, command, name, crons, minutes, shards=shards,
                           needs=tuple(j.id for j in found), group=name, runs=(name,)))
    return found


def _uncovered(taskfile: TaskFile, job: GitHubJob, scheduled: list[str]) -> GitHubJob:
    """A scheduled job that another scheduled job needs already runs inside that
    job's invocation when both fire: its own GitHub job leaves out those crons
    (and a dispatch of "all"), so one firing never runs it twice."""
    dependants = [k for k in scheduled if k != job.job and job.job in _closure(taskfile, k)]
    if not dependants:
        return job
    covered = {c for k in dependants for c in job_schedules(taskfile, k)}
    return replace(job, schedules=tuple(c for c in job.schedules if c not in covered),
                   in_all=False)


def _closure(taskfile: TaskFile, name: str) -> set[str]:
    """Every job ``name`` needs, directly or not."""
    found: set[str] = set()
    pending = list(needs_of(taskfile, name))
    while pending:
        need = pending.pop()
        if need not in found and need in taskfile.jobs:
            found.add(need)
            pending += needs_of(taskfile, need)
    return found


def _unique_id(name: str, taken: set[str]) -> str:
    """A GitHub job id (letters, digits, ``-``, ``_``; not starting with a digit
    or ``-``) for a mogrun job name, distinct from the ids already taken."""
    base = _JOB_ID.sub("_", name)
    if not base[:1].isalpha() and base[:1] != "_":
        base = f"job_{base}"
    candidate, count = base, 1
    while candidate.casefold() in taken:
        count += 1
        candidate = f"{base}_{count}"
    taken.add(candidate.casefold())
    return candidate


def _repos(taskfile: TaskFile, name: str) -> list[Any]:
    repo = taskfile.job_keys(name).get("repo", [])
    return repo if isinstance(repo, list) else [repo]


def _seconds(value: Any, default: float) -> float:
    try:
        return parse_duration(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _job_seconds(taskfile: TaskFile, name: str, shards: int = 1) -> float:
    """One job's bound: its runs go ``-j`` at a time, each up to ``timeout``; one
    ``capacity_wait`` for a sandbox slot (a later wave mostly waits for slots its
    own earlier runs free, inside their timeouts); and the wait before the last
    start fits the start windows (starts are paced, never sent into a 429)."""
    merged = taskfile.job_keys(name)
    runs = math.ceil(len(_repos(taskfile, name)) / shards)
    waves = math.ceil(runs / DEFAULT_PARALLEL)
    return (waves * _seconds(merged.get("timeout"), DEFAULT_TIMEOUT)
            + _seconds(merged.get("capacity_wait"), DEFAULT_CAPACITY_WAIT)
            + start_pacing(taskfile.settings, runs, shards))


def start_pacing(settings: Mapping[str, Any], runs: int, shards: int = 1) -> float:
    """Seconds before the last of ``runs`` starts may be sent, at 1/``shards`` of
    the token's start limits."""
    limits = dict(SHARED_LIMITS)
    waits = []
    for key, span in _START_WINDOWS:
        value = settings.get(key, limits[key])
        limit = max(1, (value if isinstance(value, int) else limits[key]) // shards)
        waits.append((math.ceil(runs / limit) - 1) * span)
    return max(waits, default=0.0)


def _path_minutes(taskfile: TaskFile, names: list[str]) -> int:
    """The longest chain of needs ending at one of ``names`` (the critical path),
    in minutes with set-up; in needs-first order, so no chain is too long."""
    path: dict[str, float] = {}
    for name in job_order(taskfile, names):
        before = [path[n] for n in needs_of(taskfile, name) if n in path]
        path[name] = max(before, default=0.0) + _job_seconds(taskfile, name)
    return _minutes(max(path[n] for n in names))


def _job_seconds_minutes(taskfile: TaskFile, name: str, shards: int) -> int:
    return _minutes(_job_seconds(taskfile, name, shards))


def bound_minutes(taskfile: TaskFile, name: str) -> int:
    """``timeout-minutes`` for ``mogrun run NAME``: its critical path plus set-up."""
    return _path_minutes(taskfile, [name])


def _minutes(seconds: float) -> int:
    return math.ceil(seconds / 60) + SETUP_MINUTES


def _bounded(name: str, minutes: int, warnings: list[str]) -> int:
    if minutes <= GITHUB_MAX_MINUTES:
        return minutes
    warnings.append(f'job "{name}" may need {minutes} minutes, more than the '
                    f"{GITHUB_MAX_MINUTES} a GitHub-hosted runner allows; the workflow uses "
                    f"{GITHUB_MAX_MINUTES} (shorten its timeouts, or shard it)")
    return GITHUB_MAX_MINUTES
