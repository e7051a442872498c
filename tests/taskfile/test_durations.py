"""Durations as people write them, everywhere mogrun reads one: a digits-only
(or decimal) string is a number of seconds, like the bare TOML number."""

from __future__ import annotations

import json

import pytest

from mogrun.taskfile import TemplateClock, load_task_file, resolve_jobs


def write_crlf(project, text: str) -> None:
    """The file as a Windows editor saves it: CRLF line ends, a blank line at the end."""
    project.path.write_bytes(text.strip("\n").replace("\n", "\r\n").encode() + b"\r\n\r\n")


def show_json(project, *args: str) -> dict:
    result = project.run("--json", "-n", *args, "x", plugins=True)
    assert result.code == 0, result
    return json.loads(result.out)


def test_task_file_durations_may_be_bare_number_strings(project) -> None:
    write_crlf(project, """
        # seconds, quoted as people often do
        [defaults]
        capacity_wait = "45"   # a sandbox wait of 45 s

        [jobs.x]
        repo = "acme/api"
        prompt = "Tidy up."
        timeout = "60"
        gates = { status = ["success"], max_duration = "90" }
        retry = { attempts = 2, max_delay = "1.5" }
    """.replace("\n        ", "\n"))
    assert project.run("check", plugins=True).code == 0
    shown = show_json(project)
    assert shown["timeout_seconds"] == 60.0
    assert shown["timeout"] == "1m"
    assert shown["options"]["gates"]["max_duration"] == 90.0
    assert shown["options"]["retry"]["max_delay"] == 1.5
    taskfile = load_task_file(project.path)
    for plugin_key in ("gates", "retry"):
        del taskfile.jobs["x"][plugin_key]
    [job] = resolve_jobs(taskfile, ["x"], key_specs={}, sets={}, env={},
                         clock=TemplateClock.now())
    assert (job.timeout, job.capacity_wait) == (60.0, 45.0)


def test_a_decimal_string_timeout_in_the_file(project) -> None:
    write_crlf(project, '[jobs.x]\nrepo = "acme/api"\nprompt = "p"\ntimeout = "1.5"\n')
    assert show_json(project)["timeout_seconds"] == 1.5


@pytest.mark.parametrize(("value", "seconds"), [("60", 60.0), ("1.5", 1.5), (" 90 ", 90.0)])
def test_timeout_option_takes_seconds(project, value: str, seconds: float) -> None:
    write_crlf(project, '[jobs.x]\nrepo = "acme/api"\nprompt = "p"\n')
    assert show_json(project, "--timeout", value)["timeout_seconds"] == seconds
    dry = project.run("-n", "--timeout", value, "x")
    assert dry.code == 0, dry


@pytest.mark.parametrize(("value", "message"), [
    ("0", "Error: --timeout must be longer than zero, got '0'"),
    # "non-negative" let 0 through, which the line above refuses
    ("-5", "Error: --timeout must be longer than zero, got '-5'"),
    (" -5m", "Error: --timeout must be longer than zero, got ' -5m'"),
    ("nan", "Error: --timeout: invalid duration 'nan': must be a finite, non-negative time"),
    ("inf", "Error: --timeout: invalid duration 'inf': must be a finite, non-negative time"),
])
def test_timeout_option_still_refuses_what_is_no_wait(project, value: str, message: str) -> None:
    write_crlf(project, '[jobs.x]\nrepo = "acme/api"\nprompt = "p"\n')
    result = project.run("-n", "--timeout", value, "x")
    assert result.code == 2
    assert result.err.splitlines()[0] == message


@pytest.mark.parametrize(("value", "message"), [
    ('"0"', 'Error: job "x", key "timeout" must be longer than zero'),
    # Below zero as zero is: "non-negative" let 0 through, which the line above refuses.
    ('"-60"', 'Error: job "x", key "timeout" must be longer than zero'),
    ("-5", 'Error: job "x", key "timeout" must be longer than zero'),
    ('"nan"', "Error: job \"x\", key \"timeout\" is an invalid duration 'nan': must be a finite, "
              "non-negative time"),
    # A unit twice or out of order is a slip: it read as one sum ("30m30m" was 1h).
    ('"30m30m"', "Error: job \"x\", key \"timeout\" is an invalid duration '30m30m': write each "
                 'unit once, largest first ("1h30m", not "30m1h" or "30m30m")'),
    ('"1s1h"', "Error: job \"x\", key \"timeout\" is an invalid duration '1s1h': write each "
               'unit once, largest first ("1h30m", not "30m1h" or "30m30m")'),
])
def test_task_file_still_refuses_what_is_no_wait(project, value: str, message: str) -> None:
    write_crlf(project, f'[jobs.x]\nrepo = "acme/api"\nprompt = "p"\ntimeout = {value}\n')
    result = project.run("check")
    assert result.code == 2
    assert result.errors == [message]


def test_an_absurd_duration_is_refused_naming_the_longest_allowed(project) -> None:
    # capacity_wait = 1e12 or timeout = 1e300 was accepted: a wait for ever, and a
    # deadline past any clock.
    write_crlf(project, """
        [defaults]
        capacity_wait = 1e12\t# a typo for 1e2?

        [jobs.x]
        repo = "acme/api"
        prompt = "Tidy up."
        timeout = 1e300
        gates = { max_duration = "200h" }   # 8 days and more

        [jobs.y]
        repo = "acme/api"
        prompt = "Tidy up."
        timeout = "99999999h"
        capacity_wait = "168h"  # a week: the longest allowed
        retry = { max_delay = 604801, stall_timeout = "24h" }

        [jobs.z]
        repo = "acme/api"
        prompt = "Tidy up."
        timeout = "24h"  # the longest allowed
        capacity_wait = "1m"
    """.replace("\n        ", "\n"))
    result = project.run("check", plugins=True)
    assert result.code == 2, result
    assert result.errors == [
        'Error: [defaults] key "capacity_wait" is an invalid duration 1e12: longer than the '
        "longest allowed (7 days)",
        'Error: job "x", key "timeout" is an invalid duration 1e300: longer than the longest '
        "allowed (24h)",
        "Error: job \"x\", key \"gates\": gates.max_duration: invalid duration '200h': longer "
        "than the longest allowed (7 days)",
        "Error: job \"y\", key \"timeout\" is an invalid duration '99999999h': longer than the "
        "longest allowed (24h)",
        'Error: job "y", key "retry": retry.max_delay: invalid duration 604801: longer than the '
        "longest allowed (7 days)",
    ], result
    assert [line for line in result.err.splitlines() if line.startswith("  --> ")] == [
        f"  --> {project.path.resolve()}:{n}" for n in ("2:1", "7:1", "8:11", "13:1", "15:11")]
    shown = project.run("show", "z", plugins=True)  # show and run refuse the file too
    assert shown.code == 2 and shown.errors == result.errors[:1], shown
    write_crlf(project, '[jobs.x]\nrepo = "acme/api"\nprompt = "p"\ntimeout = "24h"\n'
                        'capacity_wait = "168h"\n')
    assert show_json(project)["timeout_seconds"] == 86400.0


@pytest.mark.parametrize("value", ["25h", "86401", "1e300", "99999999h"])
def test_timeout_option_refuses_more_than_a_day(project, value: str) -> None:
    write_crlf(project, '[jobs.x]\nrepo = "acme/api"\nprompt = "p"\n')
    result = project.run("-n", "--timeout", value, "x")
    assert result.code == 2, result
    assert result.errors == [f"Error: --timeout: invalid duration '{value}': "
                             + ("longer than the longest allowed (24h)" if value != "1e300" else
                                'use a number of seconds or a string like "500ms", "90s", "25m",'
                                ' "1h30m" or "2h"')], result
