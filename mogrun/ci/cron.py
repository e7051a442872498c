"""The ``schedule`` job key: cron expressions as GitHub Actions runs them.

GitHub's ``on.schedule`` takes five-field POSIX cron in UTC, runs a schedule
at most every 5 minutes, and delays (or drops) runs under load, most of all
at the top of the hour. ``check`` refuses what GitHub would reject or
silently run differently, and warns about minute 0. What an expression
means (its minutes, hours and days) is ``mogrun.ci.cronmeaning``'s.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from mogrun.ci import cronmeaning
from mogrun.ci.cronmeaning import CYCLE_DAYS, NAMES, RANGES, Meaning, meaning, number
from mogrun.envnumbers import whole_number

FIELDS = ("minute", "hour", "day of month", "month", "day of week")
MIN_INTERVAL = 5  # minutes: GitHub's shortest schedule
_FIELD = re.compile(r"[0-9A-Za-z*,/-]+")


def schedules(value: Any) -> list[str]:
    """The key's expressions as a list (a single string is one)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def normalize(expression: str) -> str:
    """The spelling written into the workflow: fields separated by one space, names
    in capitals, numbers without leading zeros.

    ``github.event.schedule`` repeats the workflow's string, so the jobs'
    conditions compare against exactly this; and GitHub compares strings
    ignoring case, so ``mon`` and ``MON`` (or ``06`` and ``6``) spelled apart
    would be two schedules firing at once, each running both jobs."""
    return " ".join(_LEADING_ZEROS.sub(r"\1", field.upper()) for field in expression.split())


_LEADING_ZEROS = re.compile(r"\b0+(\d)")


def key_problem(value: Any) -> str | None:
    """Why a ``schedule`` value is wrong (``None`` when it is right), worded to
    follow ``key "schedule"``."""
    return "; ".join(problem for _, problem in key_problems(value)) or None


def key_problems(value: Any) -> list[tuple[str, str]]:
    """``key_problem``'s problems, each with where it is written: ``""`` the value
    as a whole, ``"2"`` the third expression of a list (``check`` points at it)."""
    if isinstance(value, str):
        problem = expression_problem(value)
        return [("", problem)] if problem else []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [("", "must be a cron expression (UTC) or a list of them ([] for none: a job's "
                     "way out of the [defaults] schedule)")]
    # every one at once: fixing one shows no next
    problems = [(str(index), problem) for index, expression in enumerate(value)
                if (problem := expression_problem(expression))]
    return problems or _listed_twice(value)


def _listed_twice(expressions: list[str]) -> list[tuple[str, str]]:
    """Each expression that runs at the same moments as one before it, however
    spelled (``1`` and ``MON``, ``*/5`` and ``0-55/5``), by its index: GitHub
    would start the job twice at each."""
    seen: dict[Meaning | None, int] = {}
    found = []
    for index, written in enumerate(expressions):
        earlier = seen.setdefault(meaning(normalize(written)), index)
        if earlier == index:  # the first to run at these moments
            continue
        first = expressions[earlier]
        found.append((str(index), f'lists "{written}" twice' if first == written else
                      f'lists a cron expression twice: "{first}" and "{written}" run at '
                      "the same moments"))
    return found


def overlaps(expressions: list[str]) -> list[tuple[str, str, Meaning]]:
    """The pairs of (valid, distinct) expressions that run at some same moment,
    with those moments: a job listing both is started twice at each."""
    readings = [(e, meaning(e)) for e in map(normalize, expressions)]
    found = []
    for (one, a), (other, b) in itertools.combinations(readings, 2):
        shared = a.shared(b) if a is not None and b is not None else None
        if shared is not None:
            found.append((one, other, shared))
    return found


def _whose(job: str | None) -> str:
    """Whose ``schedule`` a warning is about: a job's, or (``None``) ``[defaults]``',
    which every job without its own takes, said once rather than once for each."""
    return '[defaults] key "schedule"' if job is None else f'job "{job}", key "schedule"'


def overlap_warning(job: str | None, one: str, other: str, shared: Meaning,
                    now: datetime) -> str:
    """``check``'s warning for two of a job's (``None``: ``[defaults]``') schedules
    that run at the same moments."""
    starts = "the job" if job is not None else "each job that takes it"
    return (f'{_whose(job)}: "{one}" and "{other}" both run at {_moments(shared, now)}: '
            f"GitHub starts {starts} twice at each; take those moments out of one of them")


def shared_run_warning(first: tuple[str, str], second: tuple[str, str], runs: list[str],
                       shared: Meaning, now: datetime) -> str:
    """``check``'s warning for two jobs (each ``(job, cron)``) whose schedules differ
    but run at some same moments, and that both run ``runs`` (one needs the other,
    or both need them): two workflow runs start then, and each runs those jobs."""
    named = ", ".join(f'"{r}"' for r in runs[:3]) + (
        f" and {len(runs) - 3} more" if len(runs) > 3 else "")
    return (f'job "{first[0]}" ("{first[1]}") and job "{second[0]}" ("{second[1]}") both run '
            f"at {_moments(shared, now)}, and both run {named}: GitHub starts two workflow "
            f"runs then, each running {'it' if len(runs) == 1 else 'them'}; give both jobs "
            "one schedule, or take those moments out of one of them")


def _moments(shared: Meaning, now: datetime) -> str:
    """``17:06 UTC on some of the same days (next: Mon 2026-12-07 06:17)``."""
    times = [t.strftime("%H:%M") for t in shared.times()]
    shown = ", ".join(times[:3]) + (f" and {len(times) - 3} more times" if len(times) > 3 else "")
    following = shared.next_after(now)
    when = f" (next: {following:%a %Y-%m-%d %H:%M})" if following else ""
    return f"{shown} UTC on some of the same days{when}"


@functools.lru_cache(maxsize=4096)
def expression_problem(expression: str) -> str | None:
    """Why one cron expression cannot be a GitHub schedule: ``is "...", which ...``."""
    shown = " ".join(expression.split()) or expression  # as written, spaces tidied
    detail = _detail(expression.split())
    return f'is "{shown}", {detail}' if detail else None


def _detail(fields: list[str]) -> str | None:
    if len(fields) != 5:
        return (f"which has {len(fields)} field{'s' * (len(fields) != 1)}; a schedule has "
                "five: minute hour day-of-month month day-of-week (UTC)")
    for index, field in enumerate(fields):
        problem = _field_problem(index, field)
        if problem:
            return f"whose {FIELDS[index]} field {field!r} {problem}"
    reading = meaning(normalize(" ".join(fields)))
    if reading is None:
        return "which is not a valid cron expression"
    gap = shortest_gap(reading)
    if gap < MIN_INTERVAL:
        return (f"which runs every {gap} minute{'s' * (gap != 1)}; GitHub runs a schedule "
                f"at most every {MIN_INTERVAL} minutes")
    if not reading.days:
        return "which never runs (no such date)"
    return None


def _field_problem(index: int, field: str) -> str | None:
    if not _FIELD.fullmatch(field):
        return "may only use digits, names, * , - and /"
    for word in re.findall(r"[A-Za-z]+", field):
        if word.upper() not in NAMES.get(index, ()):
            return f"has an unknown name {word!r}"
    low, high = RANGES[index]
    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and (not step.isdecimal() or whole_number(step) == 0):
            return f"has a bad step {step!r}"
        if step and not _within(step, 1, high):  # GitHub holds a step to its field's range
            return f"has a step {step!r} past its range {low}-{high}, which GitHub refuses"
        if any(not _within(n, low, high) for n in base.split("-") if n.isdecimal()):
            return f"is out of range {low}-{high}"
        problem = _reversed_range(index, base)
        if problem:
            return problem
    return None


def _within(digits: str, low: int, high: int) -> bool:
    """Whether ``digits`` name a value from ``low`` to ``high``: thousands of them
    (past what ``int()`` reads, a traceback in check, list and ci github) name none."""
    value = whole_number(digits)
    return value is not None and low <= value <= high


def _reversed_range(index: int, base: str) -> str | None:
    """GitHub refuses a range that starts after it ends (``6-0``, ``SAT-SUN``),
    where some cron readers wrap it around."""
    ends = base.split("-")
    if len(ends) != 2:
        return None
    start, end = number(index, ends[0]), number(index, ends[1])
    if start is None or end is None or start <= end:
        return None
    shown = f"{start}-{end}"
    spelled = shown if base == shown else f"{base} ({shown})"
    return f"has the range {spelled}, which starts after it ends"


def shortest_gap(reading: Meaning) -> int:
    """The fewest minutes between two runs.

    Within an hour it is the smallest step between listed minutes; across an
    hour boundary it counts only when two consecutive hours can both run, and
    across midnight only when two consecutive days can too (``"1,58 0,23 * * 1"``
    runs on Mondays only: Monday 23:58 is not followed by Tuesday 00:01).
    """
    minutes, hours = reading.minutes, set(reading.hours)
    gaps = [b - a for a, b in itertools.pairwise(minutes)]
    wrap = minutes[0] + 60 - minutes[-1]
    if any(h + 1 in hours for h in hours) or ({0, 23} <= hours and wrap < min(gaps, default=60)
                                               and _consecutive_days(reading)):
        gaps.append(wrap)
    return min(gaps, default=60)


def _consecutive_days(reading: Meaning) -> bool:
    """Whether the schedule runs on two days in a row, over a 28-year span (every
    way weekdays fall on dates, leap days included)."""
    day, one, ran = date(2001, 1, 1), timedelta(days=1), False
    for _ in range(CYCLE_DAYS):
        runs = reading.runs_on(day)
        if ran and runs:
            return True
        ran, day = runs, day + one
    return False


def at_minute_zero(expression: str) -> bool:
    """Whether a (valid) expression runs at minute 0 of an hour."""
    reading = meaning(normalize(expression))
    return reading is not None and 0 in reading.minutes


def next_run(expression: str, after: datetime) -> datetime | None:
    """The first run strictly after ``after`` (UTC), or ``None`` if it never runs."""
    return cronmeaning.next_run(normalize(expression), after)


def earliest(expressions: Iterable[str], after: datetime) -> datetime | None:
    """The soonest next run of several schedules."""
    times = [t for t in (next_run(e, after) for e in expressions) if t is not None]
    return min(times, default=None)


def either_day(expression: str) -> bool:
    """Whether both day fields restrict the days (``"17 9 1-7 * 1"``): cron then runs
    on each day either names, not only on days both do: the 1st to the 7th and
    every Monday, where "the first Monday", which cron cannot say, was most likely
    meant (``cronmeaning._days`` reads it so). Not when a day field starts with
    "*" (``*/2``): Vixie cron reads that one as no restriction, other readers not."""
    fields = expression.split()
    if len(fields) != 5 or fields[2].startswith("*") or fields[4].startswith("*"):
        return False
    dates, weekdays = cronmeaning.field_values(2, fields[2]), cronmeaning.field_values(4, fields[4])
    return dates is not None and weekdays is not None and cronmeaning.either_day(dates, weekdays)


def either_day_warning(job: str | None, expression: str) -> str:
    """``check``'s warning for a schedule whose two day fields both restrict it."""
    fields = normalize(expression).split()
    return (f'{_whose(job)}: "{" ".join(fields)}" runs on every day of the month '
            f'"{fields[2]}" names and on every day of the week "{fields[4]}" names, not only '
            "on days both name: cron (and GitHub) reads the two day fields as either; "
            'a day that must be both (e.g. "the first Monday") cannot be written in cron')


def minute_zero_warning(job: str | None, expression: str) -> str:
    """``check``'s warning for a schedule on the hour (``job``: ``None`` for ``[defaults]``')."""
    return (f'{_whose(job)}: "{normalize(expression)}" runs at minute 0, when '
            "GitHub's scheduled workflows are most often delayed or dropped under load; "
            "pick another minute (e.g. 17)")
