"""The ``schedule`` job key: cron expressions as GitHub Actions runs them.

GitHub's ``on.schedule`` takes five-field POSIX cron in UTC, runs a schedule
at most every 5 minutes, and delays (or drops) runs under load, most of all
at the top of the hour. ``check`` refuses what GitHub would reject or
silently run differently, and warns about minute 0. croniter parses the
fields; it is imported only when a file has a schedule (``mogrun list`` of a
file without one never loads it).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

FIELDS = ("minute", "hour", "day of month", "month", "day of week")
MIN_INTERVAL = 5  # minutes: GitHub's shortest schedule
_FIELD = re.compile(r"[0-9A-Za-z*,/-]+")
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
# A field's names in the order of their numbers (from the field's lowest one).
_NAMES = {
    3: ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
    4: ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"),
}


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
    if isinstance(value, str):
        return expression_problem(value)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        return "must be a cron expression (UTC) or a non-empty list of them"
    problems = [problem for problem in map(expression_problem, value) if problem]
    if not problems and len({normalize(v) for v in value}) != len(value):
        return "lists a cron expression twice"
    return "; ".join(problems) or None  # every one at once: fixing one shows no next


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
    expression = " ".join(fields)
    expanded = _expanded(expression)
    if expanded is None:
        return "which is not a valid cron expression"
    gap = shortest_gap(expanded)
    if gap < MIN_INTERVAL:
        return (f"which runs every {gap} minute{'s' * (gap != 1)}; GitHub runs a schedule "
                f"at most every {MIN_INTERVAL} minutes")
    if next_run(expression, datetime(2000, 1, 1, tzinfo=UTC)) is None:
        return "which never runs (no such date)"
    return None


def _field_problem(index: int, field: str) -> str | None:
    if not _FIELD.fullmatch(field):
        return "may only use digits, names, * , - and /"
    for word in re.findall(r"[A-Za-z]+", field):
        if word.upper() not in _NAMES.get(index, ()):
            return f"has an unknown name {word!r}"
    low, high = _RANGES[index]
    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdecimal() and int(step) > 0):
            return f"has a bad step {step!r}"
        if any(not low <= int(n) <= high for n in base.split("-") if n.isdecimal()):
            return f"is out of range {low}-{high}"
        problem = _reversed_range(index, base)
        if problem:
            return problem
    return None


def _reversed_range(index: int, base: str) -> str | None:
    """GitHub refuses a range that starts after it ends (``6-0``, ``SAT-SUN``),
    where croniter would wrap it around."""
    ends = base.split("-")
    if len(ends) != 2:
        return None
    start, end = _number(index, ends[0]), _number(index, ends[1])
    if start is None or end is None or start <= end:
        return None
    shown = f"{start}-{end}"
    spelled = shown if base == shown else f"{base} ({shown})"
    return f"has the range {spelled}, which starts after it ends"


def _number(index: int, end: str) -> int | None:
    """One end of a range as its number (``None``: not a number or a name)."""
    if end.isdecimal():
        return int(end)
    names = _NAMES.get(index, ())
    return names.index(end.upper()) + _RANGES[index][0] if end.upper() in names else None


def _expanded(expression: str) -> list[list[Any]] | None:
    """croniter's expansion of the fields (``None``: it cannot parse them; names,
    ranges and steps were checked before, so what is left is structure)."""
    from croniter import croniter  # type: ignore[import-untyped]

    try:
        return list(croniter(expression).expanded)
    except (ValueError, KeyError, TypeError):  # croniter's errors are ValueErrors
        return None


def shortest_gap(expanded: list[list[Any]]) -> int:
    """The fewest minutes between two runs of the expanded fields.

    Within an hour it is the smallest step between listed minutes; across an
    hour boundary it counts only when two consecutive hours can both run, and
    across midnight only when two consecutive days can too (``"1,58 0,23 * * 1"``
    runs on Mondays only: Monday 23:58 is not followed by Tuesday 00:01).
    """
    minutes = sorted(m for m in expanded[0] if isinstance(m, int))
    if expanded[0] == ["*"]:
        return 1
    gaps = [b - a for a, b in itertools.pairwise(minutes)]
    wrap = minutes[0] + 60 - minutes[-1] if minutes else 60
    hours = set(range(24)) if expanded[1] == ["*"] else set(expanded[1])
    if any(h + 1 in hours for h in hours) or ({0, 23} <= hours and wrap < min(gaps, default=60)
                                               and _consecutive_days(expanded)):
        gaps.append(wrap)
    return min(gaps, default=60)


def _consecutive_days(expanded: list[list[Any]]) -> bool:
    """Whether the schedule runs on two days in a row, over a 28-year span (every
    way weekdays fall on dates, leap days included). Cron's day fields take a day
    by its month and its day of month or day of week (either, when both are given)."""
    import datetime

    months, dates, weekdays = (None if field == ["*"] else set(field)
                               for field in (expanded[3], expanded[2], expanded[4]))
    if weekdays is not None:
        weekdays = {d % 7 for d in weekdays}  # 7 is Sunday too
    either = dates is not None and weekdays is not None

    def runs_on(day: datetime.date) -> bool:
        if months is not None and day.month not in months:
            return False
        by_date = dates is None or day.day in dates
        by_weekday = weekdays is None or (day.weekday() + 1) % 7 in weekdays
        return (by_date or by_weekday) if either else (by_date and by_weekday)

    day, one, ran = datetime.date(2001, 1, 1), datetime.timedelta(days=1), False
    for _ in range(28 * 366):
        runs = runs_on(day)
        if ran and runs:
            return True
        ran, day = runs, day + one
    return False


def at_minute_zero(expression: str) -> bool:
    """Whether a (valid) expression runs at minute 0 of an hour."""
    minute = normalize(expression).split(" ")[0]
    if minute == "*":
        return True
    from croniter import croniter  # type: ignore[import-untyped]

    return 0 in croniter(normalize(expression)).expanded[0]


def next_run(expression: str, after: datetime) -> datetime | None:
    """The first run strictly after ``after`` (UTC), or ``None`` if it never runs."""
    from croniter import croniter  # type: ignore[import-untyped]

    try:
        found = croniter(normalize(expression), after).get_next(datetime)
    except (ValueError, KeyError, TypeError):  # bad expression, or no date within 50 years
        return None
    return found.astimezone(UTC) if isinstance(found, datetime) else None


def earliest(expressions: Iterable[str], after: datetime) -> datetime | None:
    """The soonest next run of several schedules."""
    times = [t for t in (next_run(e, after) for e in expressions) if t is not None]
    return min(times, default=None)


def minute_zero_warning(job: str, expression: str) -> str:
    """``check``'s warning for a schedule on the hour."""
    return (f'job "{job}", key "schedule": "{normalize(expression)}" runs at minute 0, when '
            "GitHub's scheduled workflows are most often delayed or dropped under load; "
            "pick another minute (e.g. 17)")
