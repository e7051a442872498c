"""Messages quote a value as the task file spells it (TOML), never as Python's
repr: ``true`` not ``True``, ``{}``, a date as TOML writes one, not
``datetime.datetime(...)``; every spelling reads back as the same value."""

from __future__ import annotations

import datetime
import math
import re
import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from mogrun.tomltext import toml_repr

from .styles import STYLES, write

SCALARS = (st.booleans() | st.integers(-10**20, 10**20) | st.text(max_size=12)
           | st.floats(allow_nan=False)
           | st.datetimes(timezones=st.just(datetime.UTC)) | st.dates()
           | st.times().map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000)))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_a_value_spelled_for_a_message_reads_back_as_the_same_toml_value(value) -> None:
    assert tomllib.loads(f"v = {toml_repr(value)}\n")["v"] == value


def test_what_python_spells_its_own_way() -> None:
    assert [toml_repr(v) for v in (True, ["cancel"], {}, math.inf, -math.inf, "it's\n",
                                   "C:\\p", {"a b": [1.5, False]})] == [
        "true", "['cancel']", "{}", "inf", "-inf", '"it\'s\\n"', "'C:\\p'",
        "{ 'a b' = [1.5, false] }"]
    assert toml_repr(math.nan) == "nan"
    # Without the file's text at hand: UTC as TOML's examples write it, no padded zeros.
    assert toml_repr(datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)) == "2026-01-01T00:00:00Z"
    assert toml_repr(datetime.time(7, 32, 0, 500000)) == "07:32:00.5"


def test_check_quotes_wrong_values_as_toml(project) -> None:
    for style in STYLES:
        write(project, '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n'
                       "harness = 2026-01-01T00:00:00Z  # a date\n"
                       "retry = { attempts = true }\non_timeout = [\"cancel\"]\n"
                       'timeout = "soon"\n\n[jobs.b]\nrepo = "acme/api"\nprompt = "x"\n'
                       "harness = {}\nretry = { max_delay = [1] }\n\n", style)
        result = project.run("check")
        assert result.code == 2, result
        assert result.errors == [
            'Error: job "a", key "harness" must be one of \'codex\', \'claude-code\', not '
            "2026-01-01T00:00:00Z",
            'Error: job "a", key "retry": retry.attempts must be a whole number >= 1, not true',
            'Error: job "a", key "on_timeout" must be one of \'cancel\', \'detach\', not '
            "['cancel']",
            'Error: job "a", key "timeout" is an invalid duration \'soon\': use a number of '
            'seconds or a string like "500ms", "90s", "25m", "1h30m" or "2h"',
            'Error: job "b", key "harness" must be one of \'codex\', \'claude-code\', not {}',
            'Error: job "b", key "retry": retry.max_delay: invalid duration [1]: use a number '
            'of seconds or a string like "500ms", "90s", "25m", "1h30m" or "2h"',
        ], style


WRITTEN = ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00", "2026-01-01 00:00:00z",
           "1979-05-27T00:32:00.50-07:00", "07:32:00.250", "2026-01-01", "1e300", "+1_000.0",
           "-0.5e1", "2026-01-01t00:00:00"]


def test_a_number_or_date_is_quoted_as_the_file_wrote_it(project) -> None:
    # tomllib reads "Z" and "+00:00" alike, and 1e300 as 1e+300: the message showed
    # Python's spelling, not the file's (it said +00:00 where the file said Z).
    for style in STYLES:
        jobs = "".join(f'[jobs.j{n}]\nrepo = "acme/api"\nprompt = "x"\t# job {n}\n'
                       f"harness = {value}   # wrong\n\n" for n, value in enumerate(WRITTEN))
        write(project, jobs + '[jobs.k]\nrepo = "acme/api"\nprompt = "x"\n'
                       "timeout = 1.50e6\nretry = { max_delay = -2E1 }\n", style)
        result = project.run("check")
        assert result.code == 2, result
        shown = [re.sub(r"^Error: job \"j\d+\", key \"harness\" must be one of 'codex', "
                        "'claude-code', not ", "", line) for line in result.errors]
        assert shown == [*WRITTEN, *shown[len(WRITTEN):]], (style, result)
        assert result.errors[len(WRITTEN):] == [
            "Error: job \"k\", key \"timeout\" is an invalid duration 1.50e6: longer than the "
            "longest allowed (24h)",
            'Error: job "k", key "retry": retry.max_delay: invalid duration -2E1: must be a '
            "finite, non-negative time"], style
        write(project, '[jobs.j]  # one\nrepo = "acme/api"\nprompt = "x"\non_timeout = '
                       "2026-01-01T00:00:00+00:00\n", style)
        shown = project.run("show", "j")  # show and run say it the same way
        assert shown.errors == ['Error: job "j", key "on_timeout" must be one of \'cancel\', '
                                "'detach', not 2026-01-01T00:00:00+00:00"], (style, shown)
