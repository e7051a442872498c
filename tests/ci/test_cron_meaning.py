"""What a cron expression means: mogrun's reading of its fields, against an
independent one (a predicate per value, not an expansion), and the moments
``check`` and ``list`` derive from it."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mogrun.ci.cron import next_run
from mogrun.ci.cronmeaning import field_values, meaning

RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]
NAMES = {3: {calendar.month_abbr[m].upper(): m for m in range(1, 13)},
         4: {calendar.day_abbr[(d - 1) % 7].upper(): d for d in range(7)}}  # SUN is 0


def reference_matches(index: int, field: str, value: int) -> bool:
    """Whether ``value`` is one the field names: each part asks the question
    directly (in its range, on its step) instead of listing values."""
    low, high = RANGES[index]

    def read(word: str) -> int:
        return NAMES[index][word.upper()] if word.isalpha() else int(word)

    for part in field.split(","):
        base, _, step = part.partition("/")
        every = int(step) if step else 1
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first, last = map(read, base.split("-"))
        else:
            first = read(base)
            last = high if step else first
        if first <= value <= last and (value - first) % every == 0:
            return True
    return False


def values(index: int) -> st.SearchStrategy[str]:
    low, high = RANGES[index]
    numbers = st.integers(low, high).map(str)
    if index in NAMES:
        numbers = st.one_of(numbers, st.sampled_from(sorted(NAMES[index])))
    return numbers


@st.composite
def fields(draw: st.DrawFn, index: int) -> str:
    """A valid field as people write it: parts of *, values and ranges (single
    values too: 6-6), some with steps, names in any case."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["*", "value", "range"]))
        if kind == "*":
            base = "*"
        elif kind == "value":
            base = draw(values(index))
        else:
            ends = sorted([draw(values(index)), draw(values(index))],
                          key=lambda w: reference_number(index, w))
            base = "-".join(ends if draw(st.booleans()) else [ends[0], ends[0]])
        base = base.lower() if draw(st.booleans()) else base
        step = draw(st.one_of(st.just(""), st.integers(1, 40).map(lambda n: f"/{n}")))
        parts.append(base + step)
    return ",".join(parts)


def reference_number(index: int, word: str) -> int:
    return NAMES[index][word.upper()] if word.isalpha() else int(word)


@given(st.integers(0, 4).flatmap(lambda i: st.tuples(st.just(i), fields(i))))
def test_each_field_names_the_values_an_independent_reading_finds(case) -> None:
    index, field = case
    low, high = RANGES[index]
    expected = {v for v in range(low, high + 1) if reference_matches(index, field, v)}
    assert field_values(index, field) == expected, field


@st.composite
def expressions(draw: st.DrawFn) -> str:
    return " ".join(draw(fields(i)) for i in range(5))


def reference_runs_at(expression: str, moment: datetime) -> bool:
    """Cron's rule, spelled out: the day fields are OR-ed when both restrict."""
    minute, hour, date, month, weekday = expression.split()
    every_date = all(reference_matches(2, date, d) for d in range(1, 32))
    every_weekday = all(reference_matches(4, weekday, d) for d in range(7))
    by_date = reference_matches(2, date, moment.day)
    by_weekday = reference_matches(4, weekday, moment.isoweekday() % 7)
    day = (by_date or by_weekday) if not (every_date or every_weekday) else by_date and by_weekday
    return (reference_matches(0, minute, moment.minute) and reference_matches(1, hour, moment.hour)
            and reference_matches(3, month, moment.month) and day)


moments = st.datetimes(datetime(2000, 1, 1), datetime(2060, 1, 1)).map(
    lambda t: t.replace(second=0, microsecond=0, tzinfo=UTC))


@given(expressions(), moments)
def test_an_expression_runs_at_the_moments_an_independent_reading_finds(expression,
                                                                         moment) -> None:
    found = meaning(expression.upper())
    assert found is not None
    runs = found.runs_on(moment.date()) and moment.time() in found.times()
    assert runs == reference_runs_at(expression, moment), expression


@given(expressions(), moments)
def test_the_next_run_is_a_run_and_comes_after(expression, moment) -> None:
    found = next_run(expression, moment)
    if found is not None:
        assert found > moment and reference_runs_at(expression, found)
        assert found - moment <= timedelta(days=366 * 28)
