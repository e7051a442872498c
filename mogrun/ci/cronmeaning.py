"""What a five-field cron expression means: the minutes, hours and days it
runs at, read by mogrun itself.

croniter read single-value ranges wrong (``6-6``, ``3-3``, ``30-30/5`` came
out as ``*`` or ``*/5``), so ``check``, ``list`` and the workflow disagreed
with GitHub about when a schedule runs. Here every field is expanded to the
set of values it names, and two expressions that expand alike are one
schedule however they are spelled (``MON`` and ``1``, ``*/5`` and
``0-55/5``).

Days follow cron's rule: when both day fields are restricted (neither
names every day), a day runs if it matches either; otherwise it must match
both. A field that names every value of its range (``*``, ``1-31``) is not
a restriction.
"""

from __future__ import annotations

import calendar
import datetime
import functools
from dataclasses import dataclass

from mogrun.envnumbers import whole_number

RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
# A field's names in the order of their numbers (from the field's lowest one).
NAMES = {
    3: ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
    4: ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"),
}
# Every way weekdays fall on dates, leap days included, repeats within 28 years.
CYCLE_DAYS = 28 * 366


@dataclass(frozen=True)
class Meaning:
    """The moments an expression runs at. Equal meanings run at the same moments."""

    minutes: tuple[int, ...]  # sorted
    hours: tuple[int, ...]  # sorted
    # (month, day of month, day of week with 0 for Sunday) of the real dates it runs on
    days: frozenset[tuple[int, int, int]]
    # How the two day fields are spelled where cron readers disagree on whether a
    # field restricts the day (each: exactly "*", starts with "*"): Vixie/cronie
    # take "*/2" as no restriction, Go's robfig/cron only "*", this reader a field
    # naming every day. Equal only with equal spellings (unless either is exactly
    # "*", which every reader takes alike): "17 6 1 * 0-6" is never one entry with
    # "17 6 1 * *", which some readers run every day.
    day_spelling: tuple[bool, ...] = ()

    def runs_on(self, day: datetime.date) -> bool:
        return (day.month, day.day, weekday(day)) in self.days

    def times(self) -> list[datetime.time]:
        """The times of day it runs at, in order."""
        return [datetime.time(h, m) for h in self.hours for m in self.minutes]

    def shared(self, other: Meaning) -> Meaning | None:
        """The moments both run at (``None``: none). ``check`` asks this of every
        pair of scheduled jobs that run a job in common (a needs chain of a thousand
        is half a million pairs): minutes and hours are compared as bits first, and
        the days (years of them) only for two that share a time of day."""
        if not (self._bits & other._bits) or not (self._hour_bits & other._hour_bits):
            return None
        days = self.days & other.days
        if not days:
            return None
        return Meaning(tuple(m for m in self.minutes if m in other.minutes),
                       tuple(h for h in self.hours if h in other.hours), days)

    @functools.cached_property
    def _bits(self) -> int:
        """The minutes, as the bits of an int."""
        return sum(1 << minute for minute in self.minutes)

    @functools.cached_property
    def _hour_bits(self) -> int:
        return sum(1 << hour for hour in self.hours)

    def next_after(self, after: datetime.datetime) -> datetime.datetime | None:
        """The first run strictly after ``after`` (UTC; a naive time is taken as UTC),
        or ``None`` if it never runs."""
        utc = datetime.UTC
        after = after.replace(tzinfo=utc) if after.tzinfo is None else after.astimezone(utc)
        day = after.date()
        for _ in range(CYCLE_DAYS + 1 if self.days else 0):
            if self.runs_on(day):
                for time in self.times():
                    moment = datetime.datetime.combine(day, time, tzinfo=utc)
                    if moment > after:
                        return moment
            day += datetime.timedelta(days=1)
        return None


def weekday(day: datetime.date) -> int:
    """Cron's day of week: 0 is Sunday."""
    return (day.weekday() + 1) % 7


def number(index: int, word: str) -> int | None:
    """A field's value as its number (``None``: not a number or a name of the field,
    or digits past what ``int()`` reads, which no field's range holds)."""
    value = whole_number(word)
    if value is not None:
        return value
    names = NAMES.get(index, ())
    return names.index(word.upper()) + RANGES[index][0] if word.upper() in names else None


def field_values(index: int, field: str) -> frozenset[int] | None:
    """The values field ``index`` (0: minute ... 4: day of week) names; ``None``
    when it is not a list of ``*``, values and ``a-b`` ranges in range, each
    with an optional ``/step`` (a value with a step runs to the range's end)."""
    low, high = RANGES[index]
    found: set[int] = set()
    for part in field.split(","):
        base, slash, step_text = part.partition("/")
        step = whole_number(step_text) if slash else 1
        start_text, dash, end_text = base.partition("-")
        start: int | None = low if base == "*" else number(index, start_text)
        end: int | None = high if base == "*" or (slash and not dash) else (
            number(index, end_text) if dash else start)
        if start is None or end is None or not step or not low <= start <= end <= high:
            return None
        found.update(range(start, end + 1, step))
    return frozenset(found)


@functools.lru_cache(maxsize=1024)
def meaning(expression: str) -> Meaning | None:
    """What ``expression`` means; ``None`` when it is not five valid fields."""
    fields = expression.split()
    if len(fields) != 5:
        return None
    values = [field_values(index, field) for index, field in enumerate(fields)]
    if any(v is None for v in values):
        return None
    minutes, hours, dates, months, weekdays = (v or frozenset() for v in values)
    days_spelled = fields[2:5:2]  # with either exactly "*", every reader ANDs the two
    spelling = () if "*" in days_spelled else tuple(
        flag for field in days_spelled for flag in (field == "*", field.startswith("*")))
    return Meaning(tuple(sorted(minutes)), tuple(sorted(hours)),
                   _days(months, dates, weekdays), spelling)


@functools.lru_cache(maxsize=256)
def _days(months: frozenset[int], dates: frozenset[int],
          weekdays: frozenset[int]) -> frozenset[tuple[int, int, int]]:
    """The (month, date, weekday) triples of real dates that run: either day field
    lets a day run when both restrict it, else both must. Remembered by the day
    fields, which schedules share far more than whole expressions (2,400 of a
    big file's schedules had 8 sets of days; each set made afresh was half its
    check's 15 s), and shared by the meanings that have them."""
    either = either_day(dates, weekdays)

    def runs(date: int, day: int) -> bool:
        by_date, by_weekday = date in dates, day in weekdays
        return (by_date or by_weekday) if either else (by_date and by_weekday)

    return frozenset((month, date, day) for month in months
                     for date in range(1, _longest(month) + 1) for day in range(7)
                     if runs(date, day))


def either_day(dates: frozenset[int], weekdays: frozenset[int]) -> bool:
    """Whether a day runs when either day field names it (both restrict the days:
    POSIX cron, as GitHub reads it), rather than only when both do."""
    return len(dates) < RANGES[2][1] and len(weekdays) < len(NAMES[4])


def _longest(month: int) -> int:
    return calendar.monthrange(2000, month)[1]  # a leap year: February has 29 days


def next_run(expression: str, after: datetime.datetime) -> datetime.datetime | None:
    """The first run strictly after ``after`` (UTC; a naive time is taken as UTC),
    or ``None`` if it never runs (or is not a valid expression)."""
    found = meaning(expression)
    return found.next_after(after) if found is not None else None
