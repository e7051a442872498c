"""The task file's schedules: which jobs have one, ``check``'s warnings about
them and ``list``'s next run times. Nothing here loads the cron reader unless
a job has a ``schedule``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mogrun.ci.cronmeaning import Meaning
    from mogrun.ci.plan import Closures
    from mogrun.errors import Location
    from mogrun.taskfile.checking import CheckWarning
    from mogrun.taskfile.parse import TaskFile


def raw_schedule(taskfile: TaskFile, job: str) -> Any:
    """The job's ``schedule`` value, ``[defaults]`` applied (``None``: unscheduled,
    also when the job writes ``schedule = []``, its way out of the default's, as
    ``notify = []`` is)."""
    table = taskfile.jobs.get(job, {})
    value = table["schedule"] if "schedule" in table else taskfile.defaults.get("schedule")
    return None if value == [] else value


def job_schedules(taskfile: TaskFile, job: str) -> list[str]:
    """The job's cron expressions, spelled as the workflow writes them (one it
    refuses as written: ``list`` shows ``@daily``, not ``@DAILY``, beside its
    ``invalid``); ``[]`` when it has none (or the value is not a string or list
    of them)."""
    value = raw_schedule(taskfile, job)
    if value is None:
        return []
    from mogrun.ci.cron import expression_problem, normalize, schedules

    return [e if expression_problem(e) else normalize(e) for e in schedules(value)]


def scheduled_jobs(taskfile: TaskFile) -> list[str]:
    """The jobs with a schedule (their own, or ``[defaults]``'), file order."""
    return [job for job in taskfile.jobs if job_schedules(taskfile, job)]


def workflow_schedules(taskfile: TaskFile) -> dict[str, list[str]]:
    """Each scheduled job's crons as the workflow writes them, file order. GitHub
    starts one workflow run per ``on.schedule`` entry that fires, so expressions
    that run at the same moments (``"17 6 * * 1"`` and ``"17 6 * * MON"``, in two
    jobs) must be one entry: each is spelled as the first of them in the file."""
    from mogrun.ci.cronmeaning import meaning

    spelled: dict[object, str] = {}
    found: dict[str, list[str]] = {}
    for job in taskfile.jobs:
        crons = [spelled.setdefault(meaning(e) or e, e) for e in job_schedules(taskfile, job)]
        if crons:
            found[job] = list(dict.fromkeys(crons))
    return found


def where(taskfile: TaskFile, job: str) -> tuple[str, ...]:
    """The key path of the job's ``schedule`` (its own, or the default it takes)."""
    return ("jobs", job, "schedule") if "schedule" in taskfile.jobs.get(job, {}) else (
        "defaults", "schedule")


def schedule_warnings(taskfile: TaskFile, now: datetime | None = None) -> list[CheckWarning]:
    """``check``'s warnings: valid schedules that run at minute 0 of an hour, and
    two schedules of one job that run at some same moment (``"17 7 * * 1"`` and
    ``"17 7 * * 1-5"``: GitHub starts the job twice on Mondays); each at the
    ``schedule`` it is about. A ``[defaults]`` schedule's are said once, of it, as
    its errors are: a file of 300 jobs said each of them 300 times."""
    from mogrun.taskfile.checking import CheckWarning

    found: list[CheckWarning] = []
    defaults_said = False
    for job in taskfile.jobs:
        value = raw_schedule(taskfile, job)
        if value is None:
            continue
        from mogrun.ci import cron

        if cron.key_problem(value) is not None:
            continue  # reported as an error
        whose: str | None = job
        if where(taskfile, job)[0] == "defaults":
            if defaults_said:
                continue
            whose, defaults_said = None, True
        expressions = job_schedules(taskfile, job)  # one for one with a list's entries
        found += [CheckWarning(cron.minute_zero_warning(whose, e), _at(taskfile, job, value, i))
                  for i, e in enumerate(expressions) if cron.at_minute_zero(e)]
        found += [CheckWarning(cron.either_day_warning(whose, e), _at(taskfile, job, value, i))
                  for i, e in enumerate(expressions) if cron.either_day(e)]
        found += [CheckWarning(cron.overlap_warning(whose, *pair, now or datetime.now(UTC)),
                               _at(taskfile, job, value, _last_index(expressions, pair[1])))
                  for pair in cron.overlaps(expressions)]
    return found + shared_run_warnings(taskfile, now or datetime.now(UTC))


def _at(taskfile: TaskFile, job: str, value: Any, index: int) -> Location:
    """Where the job's schedule entry ``index`` is written (the key, when it holds
    one string): a warning points at the entry it is about, as an error does."""
    return taskfile.location(*where(taskfile, job), *([index] if isinstance(value, list) else []))


def _last_index(items: list[str], item: str) -> int:
    """Where ``item`` is last in ``items``: an overlap is said at its later entry."""
    return len(items) - 1 - items[::-1].index(item)


# Warnings of schedules that start a job twice said one by one; the rest are counted
# (a needs chain of 1,200 scheduled jobs printed 21,560 of them, 8 MB, in CI's log;
# two jobs of 80 schedules each, 5,880).
MAX_SHARED_RUN_WARNINGS = 20


def shared_run_warnings(taskfile: TaskFile, now: datetime) -> list[CheckWarning]:
    """Two jobs with schedules that differ but run at some same moment start two
    workflow runs then (the workflow merges only one schedule's jobs): a job both
    run, one needing the other or both needing it, runs twice at that moment."""
    import itertools

    from mogrun.ci import cron
    from mogrun.ci.plan import Closures
    from mogrun.taskfile.checking import CheckWarning

    own = workflow_schedules(taskfile)
    if len({cron for crons in own.values() for cron in crons}) < 2:
        return []  # one schedule (a [defaults] one, say): one entry, needs run once
    closures = Closures(taskfile)
    order = {job: k for k, job in enumerate(taskfile.jobs)}
    means = _meanings(own)
    warnings: list[CheckWarning] = []
    unsaid = 0  # pairs past MAX_SHARED_RUN_WARNINGS, counted
    for first, second in _sharing_pairs(sorted(own, key=order.__getitem__), closures):
        found = [(one, other, shared) for (one, a), (other, b)
                 in itertools.product(means[first], means[second])
                 if (shared := a.shared(b)) is not None and a != b]
        if not found:
            continue
        room = MAX_SHARED_RUN_WARNINGS - len(warnings)  # lines, not pairs of jobs: two
        unsaid += max(0, len(found) - room)  # jobs of long schedule lists make many
        found = found[:max(0, room)]
        if not found:
            continue
        # The jobs both run: only for a pair that warns (a needs chain of N scheduled
        # jobs is N*N/2 pairs, each closure up to N jobs long).
        both = ({first} | closures(first)) & ({second} | closures(second))
        runs = sorted(both, key=order.__getitem__)  # file order
        location = taskfile.location(*where(taskfile, second))
        warnings += [CheckWarning(cron.shared_run_warning((first, one), (second, other), runs,
                                                          shared, now), location)
                     for one, other, shared in found]
    if unsaid:
        warnings.append(CheckWarning(
            f"and {unsaid:,} more pair{'s' * (unsaid != 1)} of schedules of jobs that run a "
            "job in common run at some same moment, not said one by one: give the jobs "
            "that share their needs one schedule"))
    return warnings


def _sharing_pairs(scheduled: list[str], closures: Closures) -> Iterator[tuple[str, str]]:
    """Each pair of ``scheduled`` jobs (in that order, the earlier first) whose runs
    hold a job in common: one needs the other, or both need a third. A set of the
    jobs is an int's bits, so a needs chain of N scheduled jobs (every pair shares)
    costs N*N/2 pairs, not the N**3/6 a list of each job's runners gave."""
    index = {job: i for i, job in enumerate(scheduled)}
    holders: dict[str, int] = {}  # a job -> the scheduled jobs whose runs hold it
    for job in scheduled:
        bit = 1 << index[job]
        for ran in (job, *closures(job)):
            holders[ran] = holders.get(ran, 0) | bit
    for at, job in enumerate(scheduled):
        sharing = 0
        for ran in (job, *closures(job)):
            sharing |= holders[ran]
        bits = bin(sharing >> (at + 1))[:1:-1]  # the later ones, lowest bit first
        found = bits.find("1")
        while found >= 0:
            yield job, scheduled[at + 1 + found]
            found = bits.find("1", found + 1)


def _meanings(own: dict[str, list[str]]) -> dict[str, list[tuple[str, Meaning]]]:
    """Each scheduled job's schedules with what they mean, each found once
    (``meaning``'s cache holds 1,024: a file of more schedules would find them again
    for every pair of jobs); one that means nothing (an error) is left out."""
    from mogrun.ci.cronmeaning import meaning

    found = {cron: meaning(cron) for crons in own.values() for cron in crons}
    return {job: [(cron, means) for cron in crons if (means := found[cron]) is not None]
            for job, crons in own.items()}


def next_run_field(taskfile: TaskFile, job: str, now: datetime | None = None) -> str | None:
    """The job's next run as ``2026-12-07T06:17:00Z`` (UTC); ``None`` when it has
    no schedule, and ``"invalid"`` when its schedule cannot run (``check`` says why)."""
    value = raw_schedule(taskfile, job)
    if value is None:
        return None
    from mogrun.ci.cron import earliest, key_problem

    if key_problem(value) is not None:
        return "invalid"
    moment = earliest(job_schedules(taskfile, job), now or datetime.now(UTC))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "invalid"
