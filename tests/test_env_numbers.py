"""The numbers mogrun reads from its environment (``MOGRUN_SANDBOXES``,
``MOGRUN_POLL_INTERVAL``, ``MOGRUN_LIMIT_WINDOW_SCALE``): one rule for a blank
value, one message for a bad one, through the real CLI; and no text at all
that ends in anything but a number within bounds or a ``UsageError``."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mogrun.cli.connect import _limit_window_scale
from mogrun.engine.session import poll_override
from mogrun.errors import UsageError
from mogrun.taskfile.limits import sandboxes_override
from mogrun.testing import job, task_file

JOBS = task_file(job("lint"), job("fan", repo=["acme/api", "acme/web"]))
SANDBOXES, POLL, SCALE = "MOGRUN_SANDBOXES", "MOGRUN_POLL_INTERVAL", "MOGRUN_LIMIT_WINDOW_SCALE"
ACCEPTS = {
    SANDBOXES: "a whole number from 1 to 1000000 (digits 0-9)",
    POLL: "a number of seconds over 0 and at most 60 (such as 0.5)",
    SCALE: "a number over 0 and at most 1 (such as 0.5)",
}
HUGE = "9" * 5000  # past int()'s 4300-digit limit: that ValueError was a traceback


def run_lint(project, name: str, value: str):
    """``mogrun --local -q lint`` with ``name=value`` (polls fast unless that is
    the variable under test)."""
    project.write(JOBS)
    env = {SANDBOXES: None, SCALE: None, POLL: "0.1", name: value}
    return project.run("--local", "-q", "lint", env=env)


@pytest.mark.parametrize(("name", "value"), [
    *((name, blank) for name in (SANDBOXES, POLL, SCALE) for blank in (" ", "\r\n")),
    (SANDBOXES, "10\r\n"), (SANDBOXES, " 4 "), (SANDBOXES, "1000000"), (SANDBOXES, "007"),
    (POLL, "0.1\r\n"), (POLL, " .1 "), (POLL, "1e-1"),
    (SCALE, "1\n"), (SCALE, "0.5"), (SCALE, "5e-1"),
])
def test_a_value_people_type_runs(mogrun_project, name, value) -> None:
    """A blank value (an undefined CI variable, ``X=`` in a .env) is unset for each
    of them: MOGRUN_POLL_INTERVAL and MOGRUN_LIMIT_WINDOW_SCALE refused " "; a CR
    or newline around the number is not part of it."""
    result = run_lint(mogrun_project, name, value)
    assert result.exit_code == 0, result
    assert "1 passed, 0 failed" in result.stdout


@pytest.mark.parametrize(("name", "value", "shown"), [
    *((SANDBOXES, v, repr(v)) for v in (
        "10.0", "1e3", "inf", "nan", "-1", "0", "+3", "٣", "0x10", "1_0", "1000001", "\u200b3")),
    *((POLL, v, repr(v)) for v in (
        "inf", "nan", "1e3", "1e9", "-1", "0", "٣", "0x10", "1_0", "abc", "0.1s")),
    *((SCALE, v, repr(v)) for v in ("2", "0", "inf", "nan", "-1", "١", "0x10", "1e3", "abc")),
    *((name, HUGE, repr("9" * 40) + "...") for name in (SANDBOXES, POLL, SCALE)),
])
def test_a_bad_value_is_one_line_naming_it(mogrun_project, name, value, shown) -> None:
    """Exit 2 and one line: the variable, the value as given (repr: an invisible
    character shows), what is accepted. Python's int() and float() take "٣" and
    "1_0", and took 5000 digits as a traceback; an inf poll interval once had a
    3-second job print nothing until killed."""
    result = run_lint(mogrun_project, name, value)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines() == [f"Error: {name} must be {ACCEPTS[name]}, got {shown}"]


def test_a_sandbox_count_with_a_crlf_is_the_count(mogrun_project) -> None:
    """``MOGRUN_SANDBOXES`` from a CRLF .env is still the account's slots: one slot
    holds the second repo's run back."""
    mogrun_project.write(JOBS)
    result = mogrun_project.run("--local", "-q", "fan", "-j", "2",
                                env={SANDBOXES: " 1\r\n", POLL: "0.1"})
    assert result.exit_code == 0, result
    assert "waiting for a sandbox slot: 1 of 1 busy" in result.stderr


# Each variable's own reader, the type it gives and its bounds (an int's are both
# inclusive; a float's lower one is not).
READERS: dict[str, tuple[Callable[[Mapping[str, str]], float | None], type, float, float]] = {
    SANDBOXES: (sandboxes_override, int, 1, 1_000_000),
    POLL: (poll_override, float, 0.0, 60.0),
    SCALE: (_limit_window_scale, float, 0.0, 1.0),
}


# Any text, lone surrogates too (bytes of an environment that are not UTF-8), and
# text near a number: signs, exponents, underscores, hex, padding.
@given(name=st.sampled_from(sorted(READERS)), value=st.text(
    st.characters(exclude_categories=())) | st.from_regex(
    r"\s*[+-]?[0-9_.eExXa-f]{0,12}\s*", fullmatch=True))
def test_any_text_is_a_number_in_bounds_or_a_usage_error(name, value) -> None:
    read, kind, low, high = READERS[name]
    try:
        got = read({name: value})
    except UsageError as exc:
        assert name in exc.message and "\n" not in exc.message, exc.message
        return
    if not value.strip():  # unset: the default (the scale's is 1)
        assert got == (1.0 if name == SCALE else None)
        return
    assert type(got) is kind and math.isfinite(got)
    assert (low <= got if kind is int else low < got) and got <= high


def test_a_byte_the_locale_could_not_read_is_shown_as_typed() -> None:
    """``MOGRUN_SANDBOXES=$'x\\xff'`` was said as 'x\\udcff', Python's stand-in for the
    byte, where every other variable shows 'x\\xff'."""
    with pytest.raises(UsageError) as caught:
        sandboxes_override({"MOGRUN_SANDBOXES": "x\udcff"})
    assert caught.value.message.endswith("got 'x\\xff'"), caught.value.message
