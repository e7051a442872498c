"""What the generated workflow runs: its GitHub jobs, their triggers, their
commands and their time bounds.

A firing (one cron, or a dispatch of ``all`` or of one job) selects scheduled
jobs. A selected job that another selected job needs is left to that one's
run (``mogrun run`` runs needs first); the others are the firing's targets.
Targets whose runs share a job (a common need) form one group, run by one
invocation, ``mogrun run X Y``, which runs each shared need once; a target
that shares nothing is a group of its own, ``mogrun run J``. Each group of
any firing is one GitHub job, started by exactly the firings that form it:
so a firing's GitHub jobs run disjoint sets of jobs, and each job once.

With ``--shards N``, a target whose fan-out has at least 2N repos becomes a
matrix of N legs, each ``mogrun run J --no-deps --shard i/N``. A leg cannot
wait for the other legs (see ``mogrun.ci.shard``), so its group's needs run
first, once, as their own GitHub job (``J-needs``), which the legs and the
group's other targets (``mogrun run Y --no-deps``) wait for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mogrun.ci.names import DISPATCH_ALL, github_name, same_name_key
from mogrun.ci.schedules import workflow_schedules
from mogrun.ci.shard import SHARED_LIMITS, Shard
from mogrun.durations import parse_duration
from mogrun.reponames import repo_key
from mogrun.taskfile.graph import job_order, needs_of
from mogrun.taskfile.limits import account_slots, server_root
from mogrun.taskfile.parse import TaskFile
from mogrun.taskfile.schema import (
    DEFAULT_CAPACITY_WAIT,
    DEFAULT_SANDBOXES,
    DEFAULT_TIMEOUT,
    LONGEST,
)

DEFAULT_PARALLEL = 4  # `mogrun run`'s -j default: runs at once per invocation
SETUP_MINUTES = 10  # checkout, setup-python, pip install, resolving repos
GITHUB_MAX_MINUTES = 360  # a job on a GitHub-hosted runner is stopped at 6 hours
_START_WINDOWS = (("starts_per_minute", 60.0), ("starts_per_hour", 3600.0),
                  ("starts_per_day", 86400.0))


@dataclass(frozen=True)
class GitHubJob:
    """One job of the workflow."""

    id: str
    name: str
    command: tuple[str, ...]  # `mogrun run ...` arguments after "mogrun"
    job: str  # the scheduled mogrun job(s) it serves ("x + y"), for warnings
    schedules: tuple[str, ...]  # the crons that start it
    timeout_minutes: int
    shards: int = 1
    needs: tuple[str, ...] = ()  # jobs that must pass first
    # Jobs it runs after, whatever their result: a sharded group's jobs run one after
    # another, so its legs (1/N of the limits each) are never joined by others.
    after: tuple[str, ...] = ()
    group: str = ""
    dispatch: tuple[str, ...] = ()  # the workflow_dispatch choices that start it
    runs: tuple[str, ...] = ()  # the mogrun jobs its command runs, needs first
    env: tuple[str, ...] = ()  # the env names its run step is given (besides the token's)


@dataclass(frozen=True)
class Plan:
    jobs: tuple[GitHubJob, ...]
    schedules: tuple[str, ...]  # every cron once, sorted
    dispatchable: tuple[str, ...]  # the scheduled mogrun jobs, file order
    warnings: tuple[str, ...] = ()


@dataclass
class _Triggers:
    crons: list[str]
    dispatch: list[str]


def plan(taskfile: TaskFile, shards: int = 1) -> Plan:
    """The workflow's jobs for the file's scheduled jobs: the groups, ordered by
    their first job in the file (a lone job before the groups it is in)."""
    own = workflow_schedules(taskfile)
    scheduled = list(own)
    crons = sorted({c for name in scheduled for c in own[name]})
    closures = Closures(taskfile)
    triggers: dict[tuple[str, ...], _Triggers] = {}
    firings: list[tuple[str | None, str | None, list[str]]] = [
        *((cron, None, [n for n in scheduled if cron in own[n]]) for cron in crons),
        (None, DISPATCH_ALL, scheduled), *((None, name, [name]) for name in scheduled)]
    side_by_side: list[str] = []
    for cron, choice, selected in firings:
        groups = _groups(selected, closures)
        if cron is not None and len(groups) > 1:
            side_by_side.append(_side_by_side(cron, groups))
        for group in groups:
            found = triggers.setdefault(group, _Triggers([], []))
            if cron is not None:
                found.crons.append(cron)
            if choice is not None:
                found.dispatch.append(choice)
    position = {name: k for k, name in enumerate(taskfile.jobs)}
    groups = sorted(triggers, key=lambda g: [position[n] for n in g])
    taken: set[str] = set()
    warnings: list[str] = []
    built: dict[tuple[str, ...], list[GitHubJob]] = {}
    # Every group's own id before any derived one ("x-needs", "x_y-x"), lone jobs
    # first: neither a group's id nor a needs job's ever takes a job's own name.
    ids = {group: _unique_id("+".join(group), taken) for group in sorted(groups, key=len)}
    for group in groups:
        listed = [c for name in group for c in own[name]]
        found = triggers[group]
        built[group] = _github_jobs(taskfile, group, ids[group], shards, taken, warnings,
                                    tuple(sorted(found.crons, key=listed.index)),
                                    tuple(found.dispatch))
    jobs = [job for group in groups for job in built[group]]
    return Plan(tuple(jobs), tuple(crons), tuple(scheduled), (*side_by_side, *warnings))


def _side_by_side(cron: str, groups: list[tuple[str, ...]]) -> str:
    """What runs side by side at one firing: GitHub jobs that each pace their
    requests and starts to the token's whole limits, which together they can pass
    (429s, then exit 75) where one invocation would share them."""
    named = ", ".join(" + ".join(group) for group in groups)
    return (f"schedule {cron!r} starts {len(groups)} GitHub jobs side by side ({named}), "
            "each paced to the token's whole limits, which together they can exceed (429s); "
            "give them schedules some minutes apart")


class Closures:
    """Every job a job needs, directly or not, each job's computed once."""

    def __init__(self, taskfile: TaskFile) -> None:
        self.taskfile = taskfile
        self._found: dict[str, frozenset[str]] = {}

    def __call__(self, name: str) -> frozenset[str]:
        if name not in self._found:
            found: set[str] = set()
            pending = list(needs_of(self.taskfile, name))
            while pending:
                need = pending.pop()
                if need not in found and need in self.taskfile.jobs:
                    found.add(need)
                    pending += needs_of(self.taskfile, need)
            self._found[name] = frozenset(found)
        return self._found[name]


def _groups(selected: list[str], closures: Closures) -> list[tuple[str, ...]]:
    """A firing's groups: its targets (the selected jobs no other selected job
    needs), those whose runs overlap joined; each in ``selected``'s order."""
    targets = [n for n in selected if not any(n in closures(k) for k in selected if k != n)]
    groups: list[tuple[list[str], set[str]]] = []
    for name in targets:
        runs = {name} | closures(name)
        overlapping = [g for g in groups if g[1] & runs]
        joined = [n for g in overlapping for n in g[0]] + [name]
        groups = [g for g in groups if g not in overlapping]
        groups.append((joined, runs.union(*(g[1] for g in overlapping))))
    return [tuple(n for n in targets if n in names) for names, _ in groups]


def _github_jobs(taskfile: TaskFile, group: tuple[str, ...], base: str, shards: int,
                 taken: set[str], warnings: list[str], crons: tuple[str, ...],
                 dispatch: tuple[str, ...]) -> list[GitHubJob]:
    label = " + ".join(group)
    key = "+".join(group)  # "+" is in no job name: no group's key is a job's

    def github_job(job_id: str, name: str, command: tuple[str, ...], **rest: Any) -> GitHubJob:
        rest.setdefault("job", label)
        return GitHubJob(job_id, name, command, schedules=crons, dispatch=dispatch, **rest)

    sharded = [n for n in group if shards > 1 and is_sharded(taskfile, n, shards)]
    if not sharded:
        minutes = _bounded(label, _path_minutes(taskfile, list(group)), warnings,
                           _splittable(taskfile, group, shards))
        return [github_job(base, label, ("run", *group), timeout_minutes=minutes, group=key,
                           runs=tuple(job_order(taskfile, list(group))))]
    needs = list(dict.fromkeys(n for name in group for n in needs_of(taskfile, name)))
    found: list[GitHubJob] = []
    if needs:
        # named as GitHub shows it: the group's own name is its legs'
        minutes = _bounded(f"{label} (needs)", _path_minutes(taskfile, needs), warnings,
                           splittable=False)  # needs run whole, never as legs
        found.append(github_job(_unique_id(f"{base}-needs", taken), f"{label} (needs)",
                                ("run", *needs), timeout_minutes=minutes,
                                group=f"{key}/needs", runs=tuple(job_order(taskfile, needs))))
    waits = tuple(j.id for j in found)
    for name in group:
        after = (found[-1].id,) if len(found) > len(waits) else ()  # the sibling before it
        lone = len(group) == 1
        job_id = base if lone else _unique_id(f"{base}-{name}", taken)
        shown = name if lone else f"{label}: {name}"
        job_group = key if lone else f"{key}/job/{name}"
        no_deps = ["--no-deps"] if needs_of(taskfile, name) else []
        if name in sharded:
            # named as GitHub shows its first leg (each leg has the same bound)
            minutes = _bounded(f"{shown} (shard 1/{shards})",
                               _job_seconds_minutes(taskfile, name, shards), warnings,
                               _splittable(taskfile, [name], shards))
            command = ("run", name, *no_deps, "--shard", f"${{{{ matrix.shard }}}}/{shards}")
            found.append(github_job(job_id, shown, command, job=name, timeout_minutes=minutes,
                                    shards=shards, needs=waits, after=after, group=job_group,
                                    runs=(name,)))
        else:
            minutes = _bounded(shown, _job_seconds_minutes(taskfile, name, 1), warnings,
                               _splittable(taskfile, [name], shards))
            found.append(github_job(job_id, shown, ("run", name, *no_deps), job=name,
                                    timeout_minutes=minutes, needs=waits, after=after,
                                    group=job_group, runs=(name,)))
    return found


# A group's id joins its jobs' names: kept short, as GitHub shows ids (a YAML key past
# 1,024 characters is no plain key to a YAML 1.2 reader).
MAX_ID = 100


def _unique_id(name: str, taken: set[str]) -> str:
    """A GitHub job id (letters, digits, ``-``, ``_``; not starting with a digit
    or ``-``; at most ``MAX_ID`` long) for a mogrun job name, distinct from the ids
    already taken. A longer one keeps its start and a digest of the whole."""
    base = github_name(name, prefix="job_")
    if len(base) > MAX_ID:
        import hashlib

        digest = hashlib.sha256(base.encode()).hexdigest()[:10]
        base = f"{base[:MAX_ID - 20]}_{digest}"  # room left for a _N that keeps it unique
    candidate, count = base, 1
    while same_name_key(candidate) in taken:
        count += 1
        candidate = f"{base}_{count}"
    taken.add(same_name_key(candidate))
    return candidate


def is_sharded(taskfile: TaskFile, name: str, shards: int) -> bool:
    """Whether ``--shards N`` makes job ``name`` a matrix of N legs: its fan-out has
    at least 2N repos (fewer stay one job)."""
    return len(_repos(taskfile, name)) >= 2 * shards


def _repos(taskfile: TaskFile, name: str) -> list[Any]:
    repo = taskfile.job_keys(name).get("repo", [])
    return repo if isinstance(repo, list) else [repo]


def _seconds(value: Any, default: float, longest: float) -> float:
    try:
        return parse_duration(value, longest=longest) if value is not None else default
    except (TypeError, ValueError):
        return default


def _timeout(keys: Mapping[str, Any]) -> float:
    """A job's ``timeout`` (its keys, ``[defaults]`` applied) in seconds."""
    return _seconds(keys.get("timeout"), DEFAULT_TIMEOUT, LONGEST["timeout"])


def _capacity_wait(keys: Mapping[str, Any]) -> float:
    """A job's ``capacity_wait`` in seconds."""
    return _seconds(keys.get("capacity_wait"), DEFAULT_CAPACITY_WAIT, LONGEST["capacity_wait"])


def _phase_seconds(taskfile: TaskFile, names: list[str], shards: int = 1) -> float:
    """The bound of a phase in which the runs of ``names`` (a job, and those that
    may run alongside it in its invocation) share the pool: they go ``-j`` at a
    time, each up to the longest of their ``timeout``s; the wait before the last
    start fits the start windows (starts are paced, never sent into a 429); and
    the wait for sandbox slots. While the runs need no more slots than the
    account has (1/``shards`` of them for a leg), that is one ``capacity_wait``
    (the longest), for slots others hold. With more, a later run waits for a slot
    an earlier run frees 35-40 min after it ends (the idle timeout, then the
    reaper): not inside the earlier runs' timeouts, so every round of ``-j`` runs
    may wait its ``capacity_wait``. An automation job's triggers take neither a
    sandbox slot nor a run start: none of its runs counts for the pacing or the
    waves of slot waits. But a trigger the server's pending caps suppress is sent
    again for up to the job's ``capacity_wait`` before its timeout counts (from
    the 202), so its ``capacity_wait`` is the one wait's too."""
    keys = [taskfile.job_keys(name) for name in names]
    legs = [math.ceil(len(_repos(taskfile, name)) / shards) for name in names]
    runs = sum(legs)
    starts = sum(n for n, k in zip(legs, keys, strict=True) if "automation" not in k)
    waves = math.ceil(runs / DEFAULT_PARALLEL)
    timeout, wait = max(map(_timeout, keys)), max(map(_capacity_wait, keys))
    waits = waves if _sandboxes(taskfile, names, shards) > leg_slots(taskfile.settings, shards) \
        else 1
    return waves * timeout + waits * wait + start_pacing(taskfile.settings, starts, shards)


def _sandboxes(taskfile: TaskFile, names: list[str], shards: int = 1) -> int:
    """The sandboxes the runs of ``names`` need (with ``shards``, the first leg's, the
    largest): the server runs each in the sandbox of its repo, working branch and
    root, reused by every run of those three; ``create_branch`` without a ``branch``
    gives each run a branch, and so a sandbox, of its own. Read from the keys as
    written: a templated branch or root is taken as the job's own."""
    needed: set[tuple[str, ...]] = set()
    for name in names:
        keys = taskfile.job_keys(name)
        if "automation" in keys:
            continue
        branch = keys.get("branch")
        own = branch is None and keys.get("create_branch") is True
        if branch is None:
            branch = keys.get("base_branch")
        root = keys.get("root")
        where: tuple[str, ...] = (str(branch), str(server_root(root) if isinstance(root, str)
                                                   else root))
        if any("{{" in part for part in where):
            where = (*where, name)
        first = Shard(1, shards)  # the largest leg (unsharded: every run)
        for k, repo in enumerate(_repos(taskfile, name)):
            if first.owns(k):
                needed.add((name, str(k)) if own else (repo_key(str(repo)), *where))
    return len(needed)


def leg_slots(settings: Mapping[str, Any], shards: int = 1) -> int:
    """The sandbox slots the workflow's runner counts on (the task file's, not this
    shell's ``MOGRUN_SANDBOXES``), 1/``shards`` of them for a leg, as ``run --shard``
    takes its share."""
    return max(1, (account_slots(settings, {}) or DEFAULT_SANDBOXES) // shards)


def start_pacing(settings: Mapping[str, Any], runs: int, shards: int = 1) -> float:
    """Seconds before the last of ``runs`` starts may be sent, at 1/``shards`` of
    the token's start limits."""
    if runs <= 0:  # (an automation job's triggers: no run start)
        return 0.0
    limits = dict(SHARED_LIMITS)
    waits = []
    for key, span in _START_WINDOWS:
        value = settings.get(key, limits[key])
        limit = max(1, (value if isinstance(value, int) else limits[key]) // shards)
        waits.append((math.ceil(runs / limit) - 1) * span)
    return max(waits, default=0.0)


def _path_minutes(taskfile: TaskFile, names: list[str]) -> int:
    """``timeout-minutes`` for ``mogrun run NAMES`` (needs included), with set-up:
    the longest chain of needs ending at one of ``names`` (the critical path),
    each job on it a phase shared with the jobs that may run alongside it (one
    ``-j`` pool for the whole invocation). In needs-first order, so no chain is
    too long."""
    order = job_order(taskfile, names)
    alongside = _alongside(taskfile, order)
    path: dict[str, float] = {}
    for name in order:
        before = [path[n] for n in needs_of(taskfile, name) if n in path]
        path[name] = max(before, default=0.0) + _phase_seconds(taskfile, [name, *alongside[name]])
    return _minutes(max(path[n] for n in names))


def _alongside(taskfile: TaskFile, order: list[str]) -> dict[str, list[str]]:
    """For each job of an invocation (``order``: needs first), the others that may
    run at the same time: neither needed by it nor needing it, directly or not.
    Sets of jobs are bit masks, so a long chain costs no quadratic sets."""
    index = {name: k for k, name in enumerate(order)}
    below = {name: 0 for name in order}  # what each job needs, directly or not
    above = {name: 0 for name in order}  # what needs it
    for name in order:
        for need in needs_of(taskfile, name):
            if need in index:
                below[name] |= below[need] | 1 << index[need]
    for name in reversed(order):
        for need in needs_of(taskfile, name):
            if need in index:
                above[need] |= above[name] | 1 << index[name]
    every = (1 << len(order)) - 1
    found = {}
    for k, name in enumerate(order):
        others = every & ~below[name] & ~above[name] & ~(1 << k)
        found[name] = [order[j] for j in range(others.bit_length()) if others >> j & 1]
    return found


def _job_seconds_minutes(taskfile: TaskFile, name: str, shards: int) -> int:
    """A job run alone (``--no-deps``; a matrix leg), at 1/``shards`` of the limits."""
    return _minutes(_phase_seconds(taskfile, [name], shards))


def _minutes(seconds: float) -> int:
    return math.ceil(seconds / 60) + SETUP_MINUTES


def _bounded(name: str, minutes: int, warnings: list[str], splittable: bool) -> int:
    """``minutes``, at most GitHub's; a warning when capped, which says to shard only
    when ``splittable`` (more legs could split the job's runs)."""
    if minutes <= GITHUB_MAX_MINUTES:
        return minutes
    warnings.append(f'job "{name}" may need {minutes} minutes, more than the '
                    f"{GITHUB_MAX_MINUTES} a GitHub-hosted runner allows; the workflow uses "
                    f"{GITHUB_MAX_MINUTES} (shorten its timeouts"
                    + (", or shard it)" if splittable else ")"))
    return GITHUB_MAX_MINUTES


def _splittable(taskfile: TaskFile, names: Sequence[str], shards: int) -> bool:
    """Whether a ``--shards`` count could split the runs of a job of ``names`` over
    more legs than now (as many as the token's limits allow), each of which would
    fit one run: "or shard it" was said of a one-repo job with a 6-hour timeout, of
    a matrix's needs, which run whole, and of a matrix of the most legs there are."""
    from mogrun.ci.shard import most_legs

    for name in names:
        keys = taskfile.job_keys(name)
        more = (shards if is_sharded(taskfile, name, shards) else 1) + 1
        most = most_legs(taskfile.settings, runs="automation" not in keys)
        one = _timeout(keys) + _capacity_wait(keys)
        if (most is None or more <= most) and is_sharded(taskfile, name, more) \
                and _minutes(one) <= GITHUB_MAX_MINUTES:
            return True
    return False
