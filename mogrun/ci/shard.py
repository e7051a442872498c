"""``--shard I/N``: the I-th of N deterministic slices of an invocation's runs,
with 1/N of every per-token limit, so N legs (a CI matrix) running at once
stay inside the token's limits with no coordination between them.

Slicing: run k of a job (k counts from 0 in the order the task file lists the
job's repos) belongs to leg ``k % N + 1``. It depends only on the file, so
every machine computes the same slices; each run is in exactly one leg; a
fan-out's repos are spread evenly (leg sizes differ by at most one); and the
k-th repo of two jobs lands in the same leg.

Needs: a leg cannot see the other legs, so it cannot know that a need passed
everywhere. A sharded invocation therefore refuses to include both a job and
a job it needs; run the needs first (unsharded, or as their own matrix) and
the dependants with ``--no-deps`` (the generated workflow does exactly that).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from mogrun.envnumbers import whole_number
from mogrun.errors import UsageError

if TYPE_CHECKING:
    from mogrun.models import ResolvedJob

# The per-token limits a leg gets 1/N of: the task file's [mogplex] keys and the
# API's defaults (60 requests a minute; starts 10 a minute, 30 an hour, 150 a day;
# 3 sandbox slots).
SHARED_LIMITS: tuple[tuple[str, int], ...] = (
    ("requests_per_minute", 60), ("starts_per_minute", 10), ("starts_per_hour", 30),
    ("starts_per_day", 150), ("sandboxes", 3),
)


@dataclass(frozen=True)
class Shard:
    """Leg ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, position: int) -> bool:
        """Whether the run at ``position`` (0-based, within its job) is this leg's."""
        return position % self.count == self.index - 1


def parse_shard(text: str) -> Shard:
    """``"2/3"`` -> ``Shard(2, 3)``; anything else is a usage error (exit 2)."""
    index, sep, count = text.strip().partition("/")
    leg, legs = whole_number(index), whole_number(count)  # ASCII digits, as the matrix writes
    if not sep or leg is None or legs is None:  # (None too for thousands of them)
        raise UsageError(f"--shard takes I/N (e.g. 2/3), not {text!r}")
    shard = Shard(leg, legs)
    if shard.count < 1 or not 1 <= shard.index <= shard.count:
        raise UsageError(f"--shard {text.strip()}: I must be between 1 and N (N at least 1)")
    return shard


def shared_settings(settings: Mapping[str, Any], count: int, *,
                    runs: bool = True) -> dict[str, Any]:
    """``[mogplex]`` with every per-token limit divided by ``count`` (rounded
    down, so N legs together never exceed the token's limits): what each leg
    gets. The request budget applies the same division (``shards``); this is
    where too many legs are refused, by the limit that cannot be split (``runs``:
    whether the legs start agent runs, as ``too_many_legs`` takes it)."""
    problem = too_many_legs(settings, count, runs=runs)
    if problem is not None:
        raise UsageError(f"--shard .../{count}: {problem.reason}; use at most {problem.most} "
                         "shards")
    limits = _limits(settings)
    shared = dict(settings)
    for name, value in limits.items():
        if name in settings or count > 1:
            shared[name] = value // count
    return shared


class TooManyLegs(NamedTuple):
    reason: str  # the limit that cannot be split, and its value
    most: int  # legs there can be
    limit: str  # the [mogplex] key of that limit


def too_many_legs(settings: Mapping[str, Any], count: int, *,
                  runs: bool = True) -> TooManyLegs | None:
    """Why ``count`` legs are too many (the limit that cannot be split), and the
    most legs there can be; ``None`` when they fit. The smallest limit binds:
    the maximum suggested is one every limit accepts. ``runs=False``: the legs
    only trigger automations, which take no sandbox slot and no run start, so
    only the request budget is split."""
    limits = _limits(settings, runs=runs)
    binding = min(limits, key=limits.__getitem__, default=None)
    if binding is None or limits[binding] >= count:
        return None
    value = limits[binding]
    what = ("the account's sandbox slots" if binding == "sandboxes"
            else f"the token's {binding.replace('_', ' ')}")
    return TooManyLegs(f"{what} ({value}) cannot be split {count} ways", value, binding)


def _limits(settings: Mapping[str, Any], *, runs: bool = True) -> dict[str, int]:
    limits = {}
    for name, default in SHARED_LIMITS:
        if not runs and name != "requests_per_minute":  # triggers: requests, not starts
            continue
        value = settings.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            continue  # a bad value is the task file's error, reported where it is read
        limits[name] = value
    return limits


def most_legs(settings: Mapping[str, Any], *, runs: bool = True) -> int | None:
    """The most legs the token's limits can be split into (``None``: no limit)."""
    return min(_limits(settings, runs=runs).values(), default=None)


# How the refusal of a leg with needs spells its two commands: the needs' run, and
# the leg's own once they passed (``mogrun run JOB --no-deps --shard I/N``).
Spelling = Callable[[Sequence[str]], str]


def leg_jobs(jobs: Sequence[ResolvedJob], settings: Mapping[str, Any], shard: Shard, *,
             needs_run: Spelling | None = None, then: Spelling | None = None
             ) -> list[ResolvedJob]:
    """``--shard I/N``: the jobs with only this leg's runs, as ``run`` and its dry run
    both take them: more legs than a limit of the token can be split into is exit 2
    for either, so the dry run says what the run would. ``needs_run`` and ``then``
    spell the commands a leg with needs is told to use (the invocation's own
    options, ``rerun``'s verb)."""
    # refuses too many legs; an automation job's runs take no slot and no start
    shared_settings(settings, shard.count, runs=any(job.automation is None for job in jobs))
    return slice_jobs(jobs, shard, needs_run=needs_run, then=then)


def slice_jobs(jobs: Sequence[ResolvedJob], shard: Shard, *, needs_run: Spelling | None = None,
               then: Spelling | None = None) -> list[ResolvedJob]:
    """Each job with only this leg's runs; jobs left with no run are dropped."""
    _refuse_needs(jobs, shard, needs_run or (lambda names: f"mogrun run {' '.join(names)}"),
                  then or (lambda names: f"mogrun run {' '.join(names)} --no-deps "
                                         f"--shard {shard}"))
    sliced = [replace(job, runs=tuple(run for k, run in enumerate(job.runs) if shard.owns(k)))
              for job in jobs]
    return [job for job in sliced if job.runs]


def _refuse_needs(jobs: Sequence[ResolvedJob], shard: Shard, needs_run: Spelling,
                  then: Spelling) -> None:
    """A leg of jobs with their needs, refused with the two commands that do it: the
    needs of the jobs asked for (those no other job here needs: ``c`` of ``a -> b ->
    c``, not ``b``, whose ``then`` would never run ``c``), then those jobs."""
    if shard.count <= 1:
        return
    names = {job.name for job in jobs}
    needed = {n for job in jobs for n in job.needs if n in names}
    asked = [job for job in jobs if job.name not in needed]
    first = [n for n in dict.fromkeys(n for job in asked for n in job.needs) if n in names]
    if not first:
        return
    job = next(job for job in asked if any(n in names for n in job.needs))
    need = next(n for n in job.needs if n in names)
    raise UsageError(
        f'--shard {shard}: job "{job.name}" needs "{need}", and a leg cannot wait for the '
        "other legs' runs of it",
        context=[f"Run the needs first ({needs_run(first)}), then "
                 f"{then([job.name for job in asked])}."])
