"""`check` lists every problem in one go, inside a key too: the sub-keys of the
plugin tables (retry, gates, notify), every cron expression of a schedule,
every value of an automation's input. Each plugin-table problem is located at
its own sub-key, which a dotted key writes on a line of its own."""

from __future__ import annotations

import re

import pytest

from .styles import STYLES, write
from .test_errors import check


def located(err: str) -> list[tuple[str, str]]:
    """(first line of each error, its ``line:column``)."""
    return re.findall(r"^(Error: .*)\n  --> \S+?:(\d+:\d+)$", err, re.MULTILINE)


def test_every_sub_key_problem_of_the_plugin_tables_at_once(project) -> None:
    err = check(project, """
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        retry = { attempts = 0, max_delay = "bad" }
        gates = { status = ["sucess"], max_duration = "zz" }
        notify = [{ webhook = "http://x", on = ["nope"] }, { slack = 3 }]
    """)
    found = [(message.split(": ", 2)[2][:30], where) for message, where in located(err)]
    assert found == [
        ("retry.attempts must be a whole", "4:11"),
        ("retry.max_delay: invalid durat", "4:25"),
        ('gates.status: unknown value "s', "5:21"),  # at the value, as needs is
        ("gates.max_duration: invalid du", "5:32"),
        # A list of tables: each problem at its item's own sub-key (it was at the
        # key, "6:1", for all three: the positions knew only the first item's).
        ("notify[1].webhook must use htt", "6:13"),
        ('notify[1].on: unknown value "n', "6:41"),
        ("notify[2].slack must be an htt", "6:54"),
    ]
    assert err.endswith("7 problems in " + str(project.path.resolve()) + "\n")


def test_a_dotted_sub_key_is_located_on_its_own_line(project) -> None:
    err = check(project, """
        [jobs.x]
        repo = "acme/api"
        prompt = "x"
        gates.status = ["success"]
        gates.max_duration = "bad"
        retry.attempts = 2
        retry.stall_timeout = "0s"
    """)
    assert [where for _, where in located(err)] == ["5:7", "7:7"]
    assert '  5 | gates.max_duration = "bad"' in err
    assert '  7 | retry.stall_timeout = "0s"' in err


def test_a_problem_of_a_defaults_table_is_located_at_its_sub_key(project) -> None:
    err = check(project, """
        [defaults]
        gates.status = ["success"]
        gates.max_duration = "bad"

        [jobs.x]
        repo = "acme/api"
        prompt = "x"
    """)
    assert [where for _, where in located(err)] == ["3:7"]


def test_every_bad_cron_expression_of_a_schedule_at_once(project) -> None:
    err = check(project, """
        [jobs.s]
        repo = "acme/api"
        prompt = "x"
        schedule = ["43 2 * * 1-5", "*/2 * * * *", "0 0 30 2 *"]
    """)
    assert '"*/2 * * * *", which runs every 2 minutes' in err
    assert '"0 0 30 2 *", which never runs' in err


def test_every_problem_of_an_automation_input_at_once(project) -> None:
    err = check(project, """
        [jobs.t]
        repo = "acme/api"
        automation = "issue-triage"
        input.when = 2024-01-01
        input.f = nan
        input.source = "x"
    """)
    assert "sets 'source', which the server reserves" in err
    assert "holds a date at when" in err
    assert "holds nan at f" in err


def test_a_problem_of_a_later_item_of_a_list_is_not_put_on_the_first_items_line(project):
    """notify[2]'s problem was located at notify[1]'s 'on', a line that was right."""
    err = check(project, """
        [jobs.a]
        repo = "acme/api"
        prompt = "x"

        [[jobs.a.notify]]
        webhook = "https://ok.example"
        on = ["failed"]

        [[jobs.a.notify]]
        webhook = "https://ok2.example"
        on = ["zzz"]
    """)
    (where,) = [where for _, where in located(err)]
    assert not where.startswith(("6:", "7:")), err  # not the first item's lines


@pytest.mark.parametrize("style", STYLES)
def test_a_problem_of_one_element_of_a_multi_line_array_is_located_at_it(
        project, style: str) -> None:
    # Both were located at the array's key ("8:1", "12:1"), lines away from the element;
    # the notify one then at its "on" key, not at the value.
    write(project, '[defaults]\nrepo = "acme/api"\nprompt = "Do {{ job }}."\n\n'
                   '[jobs.build]\n\n[jobs.docs]\nneeds = [\n  "build",  # first\n\t"lint",\n]\n'
                   'notify = [\n  { webhook = "https://example.com/a" },\n'
                   '  { webhook = "https://example.com/b", on = ["faild"] },\n]\n\n'
                   '[jobs.x]\nneeds = ["docs", "y"]\n[jobs.y]\nneeds = ["x"]\n', style)
    result = project.run("check")
    assert result.code == 2, result
    assert [(message[:40], where) for message, where in located(result.err)] == [
        ('Error: job "docs" needs unknown job "lin', "10:2"),
        ('Error: job "docs", key "notify": notify[', "14:46"),  # at "faild" itself
        ("Error: needs cycle: x -> y -> x", "18:18"),
    ]
    assert '  10 |  "lint",' in result.err


@pytest.mark.parametrize("style", STYLES)
def test_every_wrong_value_of_a_multi_line_notify_on_is_located_at_it(
        project, style: str) -> None:
    # All were said as one problem at "on = [" (the first wrong value alone), while
    # a wrong element of needs is located at the element.
    write(project, '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n\n[[jobs.a.notify]]\n'
                   'slack = "https://hooks.slack.com/services/T/B/x"\non = [\n'
                   '  "failure",  # as in CI\n\t"success",\n  3,\n]\n\n', style)
    result = project.run("check")
    assert result.code == 2, result
    assert [(message.split(": ", 2)[2][:40], where)
            for message, where in located(result.err)] == [
        ('notify[1].on: unknown value "failure" (d', "8:3"),
        ("notify[1].on[3] must be a string, not an", "10:3"),
    ]
    assert '  10 |   3,' in result.err


URL_AFTER_A_JOB = ('# the team\'s jobs\r\n[jobs.a]\r\nrepo = "acme/api"\r\npromt = "x"\r\n\r\n'
                   '[mogplex]\r\nurl = "http://example.com"  # a staging host\r\n\r\n')


@pytest.mark.parametrize("argv", [("show", "a"), ("run", "a"), ("check",)])
def test_show_and_run_say_first_what_comes_first_in_the_file(project, argv) -> None:
    """`show a` stopped at a refused [mogplex] url before the problem of job a
    above it, which `check` lists first."""
    project.write(URL_AFTER_A_JOB)
    result = project.run(*argv)
    assert result.code == 2, result
    assert located(result.err)[0] == (
        'Error: job "a" has no prompt: set prompt, prompt_file or automation', "2:7")


def test_a_refused_url_before_the_jobs_is_still_said_first(project) -> None:
    project.write('[mogplex]\nurl = "http://example.com"\n\n[jobs.a]\nrepo = "acme/api"\n'
                  'promt = "x"\n')
    result = project.run("show", "a")
    assert result.code == 2, result
    assert located(result.err)[0][0].startswith("Error: [mogplex] url 'http://example.com' is")
