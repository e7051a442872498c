"""Property tests: the template engine and the duration parser."""

from __future__ import annotations

import datetime
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mogrun.durations import LONGEST, LONGEST_TIMEOUT, format_duration, parse_duration
from mogrun.errors import TemplateError
from mogrun.taskfile.templates import Scope, TemplateClock, render, template_names

CLOCK = TemplateClock.at(datetime.datetime(2024, 12, 30, 23, 59, 59, tzinfo=datetime.UTC))
NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: n not in ("job", "repo", "date", "week", "now"))
PLAIN = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=30)


def scope(variables=None, env=None) -> Scope:
    return Scope(job="j", clock=CLOCK, vars=variables or {}, env=env or {}, repo="acme/api")


@given(PLAIN)
def test_text_without_braces_is_unchanged(text: str) -> None:
    assert render(text, scope(), "prompt").text == text


@given(st.dictionaries(NAMES, PLAIN, min_size=1, max_size=4), st.data())
def test_each_name_is_replaced_by_its_value(variables: dict[str, str], data) -> None:
    parts = data.draw(st.lists(st.tuples(PLAIN, st.sampled_from(sorted(variables))),
                               min_size=1, max_size=5))
    spacing = data.draw(st.sampled_from(["", " ", "  "]))
    template = "".join(f"{text}{{{{{spacing}{name}{spacing}}}}}" for text, name in parts)
    expected = "".join(text + variables[name] for text, name in parts)
    assert render(template, scope(variables), "prompt").text == expected
    assert template_names(template) == [name for _, name in parts]


@given(PLAIN, PLAIN)
def test_quadruple_brace_is_a_literal_double_brace(before: str, after: str) -> None:
    rendered = render(before + "{{{{" + after, scope(), "prompt").text
    assert rendered == before + "{{" + after


@given(NAMES)
def test_unknown_names_always_fail_naming_job_and_key(name: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render("a {{ " + name + " }}", scope(), "branch")
    assert caught.value.message.startswith(f'job "j", key "branch": unknown template name "{name}"')


# Text an environment can hold: a lone surrogate is bytes the locale could not decode.
TEXT = st.text(alphabet=st.characters(blacklist_characters="{}",
                                      blacklist_categories=("Cs",)), max_size=30)


@given(st.from_regex(r"[A-Z][A-Z0-9_]{0,10}", fullmatch=True), TEXT.filter(bool))
def test_env_values_render_and_are_reported_as_secrets(name: str, value: str) -> None:
    env = {name: value}
    if name == "MOGPLEX_API_KEY":
        return
    out = render("x{{ env." + name + " }}", scope(env=env), "prompt")
    assert (out.text, out.secrets) == ("x" + value, frozenset({value}))


@given(st.from_regex(r"[A-Z][A-Z0-9_]{0,10}", fullmatch=True),
       st.text(max_size=5).map(lambda t: t + "\udcff"))
def test_an_env_value_that_is_not_text_is_a_template_error(name: str, value: str) -> None:
    if name == "MOGPLEX_API_KEY":
        return
    with pytest.raises(TemplateError) as caught:
        render("x{{ env." + name + " }}", scope(env={name: value}), "prompt")
    assert "is not valid UTF-8 text" in caught.value.message
    assert value not in caught.value.message  # the value, a secret, is not quoted


@given(st.datetimes(min_value=datetime.datetime(1970, 1, 1), timezones=st.just(datetime.UTC)))
def test_clock_names_are_fixed_formats(moment: datetime.datetime) -> None:
    clock = TemplateClock.at(moment)
    text = render("{{date}}|{{week}}|{{now}}", Scope("j", clock, {}, {}), "k").text
    date, week, now = text.split("|")
    assert date == moment.strftime("%Y-%m-%d")
    year, number, _ = moment.isocalendar()
    assert week == f"{year}-W{number:02d}"
    assert now == moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@given(st.integers(min_value=0, max_value=10**7),
       st.sampled_from([("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]))
def test_duration_units(count: int, unit: tuple[str, float]) -> None:
    suffix, size = unit
    assert parse_duration(f"{count}{suffix}", longest=math.inf) == pytest.approx(count * size)


@given(st.floats(min_value=0, max_value=LONGEST, allow_nan=False) | st.integers(0, int(LONGEST)))
def test_numbers_are_seconds(value: float) -> None:
    assert parse_duration(value) == float(value)


@given(st.integers(min_value=1, max_value=int(LONGEST)))
def test_format_then_parse_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.floats(min_value=LONGEST, exclude_min=True, allow_infinity=False)
       | st.integers(int(LONGEST) + 1).map(lambda n: n if n < 10**30 else str(n))
       | st.integers(LONGEST // 3600 + 1, 10**12).map(lambda n: f"{n}h"),
       st.sampled_from([LONGEST, LONGEST_TIMEOUT]))
def test_a_duration_longer_than_the_bound_is_refused_naming_it(value, longest: float) -> None:
    # 1e300 or "99999999h" was taken as a wait: for ever, and past every deadline.
    with pytest.raises(ValueError) as caught:
        parse_duration(value, longest=longest)
    said = "7 days" if longest == LONGEST else "24h"
    assert str(caught.value).endswith(f": longer than the longest allowed ({said})")
    assert str(caught.value).startswith("invalid duration ")


@settings(max_examples=300)
@given(st.text(max_size=12) | st.booleans() | st.floats())
def test_anything_else_is_a_clear_value_error(value) -> None:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        assert str(exc).startswith("invalid duration")
    else:
        assert isinstance(seconds, float) and math.isfinite(seconds) and seconds >= 0
        assert not isinstance(value, bool)


@pytest.mark.parametrize("value", ["", "-1s", "1d", "1 minute", "ms", "1.5.2s", "5 s s", ".5",
                                   "5.", "1e3", "0x10", "٣"])
def test_rejected_durations(value: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


@pytest.mark.parametrize(("value", "seconds"), [
    ("60", 60.0), ("1.5", 1.5), (" 90 ", 90.0), ("0", 0.0), ("007", 7.0), ("1800\r\n", 1800.0)])
def test_a_bare_number_string_is_seconds(value: str, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["-5", "-1.5", "-0.5s", "inf", "-inf", "Infinity", "nan", "NaN",
                                   -5, float("inf"), float("nan")])
def test_a_negative_or_endless_duration_says_so(value: str | float) -> None:
    with pytest.raises(ValueError, match="must be a finite, non-negative time"):
        parse_duration(value)


@given(st.decimals(min_value=0, max_value=int(LONGEST), places=3, allow_nan=False,
                   allow_infinity=False))
def test_a_number_written_as_a_string_is_the_same_number(value) -> None:
    text = format(value, "f")
    assert parse_duration(text) == pytest.approx(float(text))
