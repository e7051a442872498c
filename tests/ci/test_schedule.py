"""The ``schedule`` job key: ``check``'s errors and warnings, ``list``'s next run."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from mogrun.ci.cron import expression_problem, next_run

JOB = 'repo = "acme/api"\nprompt = "x"\n'


def scheduled(value: str) -> str:
    return f"[jobs.nightly]\n{JOB}schedule = {value}\n"


@pytest.mark.parametrize(("value", "message"), [
    ('"* * * *"', 'is "* * * *", which has 4 fields; a schedule has five: minute hour '
                  "day-of-month month day-of-week (UTC)"),
    ('"@daily"', 'is "@daily", which has 1 field; a schedule has five: minute hour '
                 "day-of-month month day-of-week (UTC)"),
    ('"17 6 * * * 2026"', 'is "17 6 * * * 2026", which has 6 fields; a schedule has five: '
                          "minute hour day-of-month month day-of-week (UTC)"),
    ('"*/2 * * * *"', 'is "*/2 * * * *", which runs every 2 minutes; GitHub runs a schedule '
                      "at most every 5 minutes"),
    ('"1-3 6 * * *"', 'is "1-3 6 * * *", which runs every 1 minute; GitHub runs a schedule '
                      "at most every 5 minutes"),
    # 23:58 and 00:01 the next day: three minutes apart across midnight.
    ('"1,58 0,23 * * *"', 'is "1,58 0,23 * * *", which runs every 3 minutes; GitHub runs a '
                          "schedule at most every 5 minutes"),
    # Monday the 29th 23:58, then the 30th 00:01: either day field lets a day run.
    ('"1,58 0,23 30 * 1"', 'is "1,58 0,23 30 * 1", which runs every 3 minutes; GitHub runs '
                           "a schedule at most every 5 minutes"),
    ('"1,58 0,23 1,31 * *"', 'is "1,58 0,23 1,31 * *", which runs every 3 minutes; GitHub '
                             "runs a schedule at most every 5 minutes"),  # the 31st, then the 1st
    ('"61 * * * *"', "is \"61 * * * *\", whose minute field '61' is out of range 0-59"),
    ('"5 24 * * *"', "is \"5 24 * * *\", whose hour field '24' is out of range 0-23"),
    ('"5 4 * * 7"', "is \"5 4 * * 7\", whose day of week field '7' is out of range 0-6"),
    ('"5 4 * * FUN"', "is \"5 4 * * FUN\", whose day of week field 'FUN' has an unknown name "
                      "'FUN'"),
    ('"5 4 L * *"', "is \"5 4 L * *\", whose day of month field 'L' has an unknown name 'L'"),
    ('"5 4 * * ?"', "is \"5 4 * * ?\", whose day of week field '?' may only use digits, "
                    "names, * , - and /"),
    ('"*/0 4 * * *"', "is \"*/0 4 * * *\", whose minute field '*/0' has a bad step '0'"),
    # GitHub's parser holds a step to its field's range (some crons wrap it, or read 1).
    ('"*/60 * * * *"', "is \"*/60 * * * *\", whose minute field '*/60' has a step '60' past "
                       "its range 0-59, which GitHub refuses"),
    ('"17 */25 * * *"', "is \"17 */25 * * *\", whose hour field '*/25' has a step '25' past "
                        "its range 0-23, which GitHub refuses"),
    ('"17 6 1-9/32 * *"', "is \"17 6 1-9/32 * *\", whose day of month field '1-9/32' has a "
                          "step '32' past its range 1-31, which GitHub refuses"),
    ('"17 6 * */13 *"', "is \"17 6 * */13 *\", whose month field '*/13' has a step '13' past "
                        "its range 1-12, which GitHub refuses"),
    ('"17 6 * * 1,*/7"', "is \"17 6 * * 1,*/7\", whose day of week field '1,*/7' has a step "
                         "'7' past its range 0-6, which GitHub refuses"),
    # GitHub refuses a range whose start is after its end (croniter would wrap it).
    ('"5-3 4 * * *"', "is \"5-3 4 * * *\", whose minute field '5-3' has the range 5-3, which "
                      "starts after it ends"),
    ('"7 22-2 * * *"', "is \"7 22-2 * * *\", whose hour field '22-2' has the range 22-2, "
                       "which starts after it ends"),
    ('"7 4 31-1 * *"', "is \"7 4 31-1 * *\", whose day of month field '31-1' has the range "
                       "31-1, which starts after it ends"),
    ('"7 4 * 12-1 *"', "is \"7 4 * 12-1 *\", whose month field '12-1' has the range 12-1, "
                       "which starts after it ends"),
    ('"7 4 * DEC-JAN *"', "is \"7 4 * DEC-JAN *\", whose month field 'DEC-JAN' has the range "
                          "DEC-JAN (12-1), which starts after it ends"),
    ('"7 4 * * 6-0"', "is \"7 4 * * 6-0\", whose day of week field '6-0' has the range 6-0, "
                      "which starts after it ends"),
    ('"7 4 * * SAT-SUN"', "is \"7 4 * * SAT-SUN\", whose day of week field 'SAT-SUN' has the "
                          "range SAT-SUN (6-0), which starts after it ends"),
    ('"7 4 * * 1,fri-Mon/2"', "is \"7 4 * * 1,fri-Mon/2\", whose day of week field "
                              "'1,fri-Mon/2' has the range fri-Mon (5-1), which starts after "
                              "it ends"),
    ('"5,, 4 * * *"', 'is "5,, 4 * * *", which is not a valid cron expression'),
    ('"0 0 30 2 *"', 'is "0 0 30 2 *", which never runs (no such date)'),
    ("17", "must be a cron expression (UTC) or a list of them ([] for none: a job's way out "
           "of the [defaults] schedule)"),
    ('["17 6 * * 1", 5]', "must be a cron expression (UTC) or a list of them ([] for none: a "
                          "job's way out of the [defaults] schedule)"),
])
def test_check_refuses_bad_schedules_at_their_line(project, value, message) -> None:
    project.write("# team jobs\n\n" + scheduled(value), raw=True)
    result = project.run("check")
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert lines[0] == f'Error: job "nightly", key "schedule" {message}'
    assert lines[1] == f"  --> {project.root / 'mogplex.toml'}:6:1"


def test_an_empty_schedule_takes_a_job_out_of_the_defaults_schedule(project) -> None:
    """A [defaults] schedule runs every job, needs-only helpers too; ``schedule = []``
    (as ``notify = []`` for notifications) was refused, leaving no way out."""
    project.write('[defaults]\r\nschedule = "17 6 * * 1"  # weekly\r\n\r\n'
                  '[jobs.prep]\r\nrepo = "acme/api"\r\nprompt = "x"\r\nschedule = []\r\n\r\n'
                  '[jobs.weekly]\r\nrepo = "acme/api"\r\nprompt = "y"\r\nneeds = ["prep"]\r\n\r\n',
                  raw=True)
    assert project.run("check").code == 0
    listed = {row["job"]: row for row in map(json.loads,
                                             project.run("--json", "list").out.splitlines())}
    assert (listed["prep"]["schedule"], listed["prep"]["next_run"]) == ([], None)
    assert listed["weekly"]["schedule"] == ["17 6 * * 1"] and listed["weekly"]["next_run"]
    workflow = project.run("ci", "github", "-o", "-")
    assert workflow.code == 0, workflow
    assert 'cron: "17 6 * * 1"' in workflow.out and "mogrun run weekly" in workflow.out
    assert "mogrun run prep" not in workflow.out  # it runs as weekly's need, not on its own


@pytest.mark.parametrize(("field", "problem"), [
    ("9" * 5000, "is out of range 0-6"),
    ("1-" + "9" * 5000, "is out of range 0-6"),
    ("*/" + "9" * 5000, f"has a step '{'9' * 5000}' past its range 0-6, which GitHub refuses"),
])
def test_a_number_of_thousands_of_digits_is_out_of_range(project, field, problem) -> None:
    """Past the 4,300 digits int() reads, check, list and ci github each ended in a
    traceback (ValueError), exit 1."""
    project.write(scheduled(f'"17 6 * * {field}"'))
    for command in (("check",), ("ci", "github", "-o", "-")):
        result = project.run(*command)
        assert result.code == 2, result
        assert result.err.splitlines()[0] == (f'Error: job "nightly", key "schedule" is "17 6 * '
                                              f"* {field}\", whose day of week field "
                                              f"'{field}' {problem}")
    listed = project.run("--json", "list")
    assert listed.code == 0, listed
    assert json.loads(listed.out)["next_run"] == "invalid"


def test_an_expression_of_a_list_is_refused_at_its_own_line(project) -> None:
    """A wrong or repeated expression of a list written one per line was pointed
    at the ``schedule = [`` line, not at the one to fix."""
    project.write('[jobs.nightly]\r\nrepo = "acme/api"\r\nprompt = "x"\r\nschedule = [\r\n'
                  '  "17 3 * * *",  # nightly\r\n\t"61 3 * * *",\r\n  "17 6 * * 1",\r\n'
                  '  "17  6 * * MON",\r\n  "17 3 * * *",\r\n]\r\n\r\n', raw=True)
    result = project.run("check")
    assert result.code == 2, result
    path = project.root / "mogplex.toml"
    assert [line for line in result.err.splitlines() if line.startswith(("Error", "  -->"))] == [
        'Error: job "nightly", key "schedule" is "61 3 * * *", whose minute field \'61\' is out '
        "of range 0-59",
        f"  --> {path}:6:2",
    ]
    path.write_bytes(path.read_bytes().replace(b"61 3", b"16 3"))
    result = project.run("check")
    assert result.code == 2, result
    assert [line for line in result.err.splitlines() if line.startswith(("Error", "  -->"))] == [
        'Error: job "nightly", key "schedule" lists a cron expression twice: "17 6 * * 1" and '
        '"17  6 * * MON" run at the same moments',
        f"  --> {path}:8:3",
        'Error: job "nightly", key "schedule" lists "17 3 * * *" twice',
        f"  --> {path}:9:3",
    ]


def test_schedule_as_people_write_it_crlf_bom_tabs_comments(project) -> None:
    text = ("\ufeff[jobs.nightly]\r\nrepo = \"acme/api\"\r\nprompt = \"x\"\r\n"
            "schedule = [\t\"17\t6 * * 1-5\",  # weekdays\r\n  \"43 */6 * * *\",\r\n]\r\n\r\n")
    project.write(text, raw=True)
    result = project.run("check")
    assert result.code == 0, result
    assert result.err == ""
    rows = json.loads(project.run("--json", "list").out)
    assert rows["schedule"] == ["17 6 * * 1-5", "43 */6 * * *"]


def test_minute_zero_is_a_warning_at_its_entry(project) -> None:
    """It pointed at the key (4:1) whichever entry it was about; an error in the
    same list is pointed at its entry."""
    line = 'schedule = ["0 6 * * 1", "30 */2 * * *", "0,30 13 * * *"]'
    project.write(scheduled(line[len("schedule = "):]))
    result = project.run("check")
    assert result.code == 0, result
    file = project.root / "mogplex.toml"
    tail = ("runs at minute 0, when GitHub's scheduled workflows are most often delayed or "
            "dropped under load; pick another minute (e.g. 17)")
    first, third = line.index('"0 6') + 1, line.index('"0,30') + 1
    assert result.err.splitlines() == [
        f'warning: {file}:4:{first}: job "nightly", key "schedule": "0 6 * * 1" {tail}',
        f'warning: {file}:4:{third}: job "nightly", key "schedule": "0,30 13 * * *" {tail}',
    ]


def test_both_day_fields_restricting_a_schedule_is_a_warning(project) -> None:
    """"17 9 1-7 * 1" was taken silently; GitHub runs it on the 1st to the 7th AND every
    Monday (cron reads the two day fields as either), where the first Monday was
    meant. A day field that names every day restricts nothing, and one that starts
    with "*" is no restriction to Vixie cron (readers differ): no warning."""
    project.write('[jobs.nightly]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n'
                  'schedule = [\r\n\t"17 9 1-7 * mon",  # first Monday?\r\n'
                  '  "23 4 */2 * 1-5", "29 5 1,15 * 0-6",\r\n]\r\n\r\n', raw=True)
    result = project.run("check")
    assert result.code == 0, result
    file = project.root / "mogplex.toml"
    assert result.err.splitlines() == [
        f'warning: {file}:5:2: job "nightly", key "schedule": "17 9 1-7 * MON" runs on every '
        'day of the month "1-7" names and on every day of the week "MON" names, not only on '
        "days both name: cron (and GitHub) reads the two day fields as either; a day that "
        'must be both (e.g. "the first Monday") cannot be written in cron'], result.err


def test_schedule_warnings_point_at_their_entries_in_a_list_as_people_write_it(
        project) -> None:
    project.write('[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\nschedule = [\r\n'
                  '  "17 3 * * *",\r\n\t"0 4 * * *",   # nightly\r\n  "17 3 * * 1",\r\n]\r\n\r\n',
                  raw=True)
    result = project.run("--json", "check")
    assert result.code == 0, result
    warnings = json.loads(result.out)["warnings"]
    assert [(w["line"], w["column"]) for w in warnings] == [(6, 2), (7, 3)], warnings
    assert "minute 0" in warnings[0]["message"] and "both run" in warnings[1]["message"]


def test_a_default_schedule_applies_to_every_job(project) -> None:
    project.write(f'[defaults]\nschedule = "0 3 * * *"\n[jobs.a]\n{JOB}[jobs.b]\n{JOB}'
                  'schedule = "23 4 * * *"\n')
    result = project.run("check")
    assert result.code == 0, result
    assert [line.split(": ", 2)[2][:26] for line in result.err.splitlines()] == [
        '[defaults] key "schedule":']
    assert ":2:1: " in result.err  # the warning points at [defaults]


def test_a_default_schedules_warnings_are_said_once_of_it(project) -> None:
    """Each job taking the [defaults] schedule said its warnings again, all at the
    [defaults] line: 3 jobs, 9 warnings (300 jobs, 900); its errors are said once,
    of [defaults], and so are its warnings now. A job's own schedule is its own."""
    project.write('[defaults]\nschedule = ["0 6 * * 1", "0 6 * * 1-5"]\n'
                  + "".join(f"[jobs.{name}]\n{JOB}" for name in "abc")
                  + 'schedule = "0 7 * * 1"\n')
    result = project.run("check")
    assert result.code == 0, result
    file = project.root / "mogplex.toml"
    said = [line.removeprefix(f"warning: {file}:").split(": ", 1)
            for line in result.err.splitlines()]
    assert [where for where, _ in said] == ["2:13", "2:26", "2:26", "12:1"], said
    assert [what[:32] for _, what in said] == [
        '[defaults] key "schedule": "0 6 ', '[defaults] key "schedule": "0 6 ',
        '[defaults] key "schedule": "0 6 ', 'job "c", key "schedule": "0 7 * ']
    assert "GitHub starts each job that takes it twice at each" in said[2][1]


def test_list_shows_the_next_run_in_utc(project) -> None:
    project.write(scheduled('["17 6 * * 1", "43 2 * * *"]') + f"[jobs.adhoc]\n{JOB}")

    def expected() -> str:
        now = datetime.now(UTC)
        return min(next_run("17 6 * * 1", now), next_run("43 2 * * *", now)).strftime(
            "%Y-%m-%dT%H:%M:%SZ")

    before = expected()
    result = project.run("list")
    after = expected()  # a run time may pass in between: the shown one is one of the two
    assert result.code == 0, result
    header, _, nightly, adhoc = result.out.splitlines()
    assert header.split()[-4:] == ["needs", "next", "run", "(UTC)"]
    assert nightly.split()[-1] in {before, after}
    assert adhoc.split()[-1] == "-"


def test_list_json_has_schedule_and_next_run_only_for_scheduled_jobs(project) -> None:
    project.write(scheduled('"17 6 * * 1"') + f"[jobs.adhoc]\n{JOB}"
                  + '[jobs.broken]\nrepo = "acme/api"\nprompt = "x"\nschedule = "*/1 * * * *"\n')
    rows = [json.loads(line) for line in project.run("--json", "list").out.splitlines()]
    assert rows[0]["schedule"] == ["17 6 * * 1"]
    moment = datetime.strptime(rows[0]["next_run"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert (moment.weekday(), moment.hour, moment.minute) == (0, 6, 17)
    assert "next_run" not in rows[1] and "schedule" not in rows[1]
    assert rows[2]["next_run"] == "invalid"


def test_list_json_shows_a_refused_schedule_as_written(project) -> None:
    """``@daily`` was listed as ``@DAILY`` and a ``CRON_TZ=`` prefix upper-cased:
    the workflow's spelling (capitals) is for expressions it writes, and a refused
    one is quoted as ``check`` quotes it; a good one beside it is still spelled."""
    project.write('[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n'
                  'schedule = [\r\n  "CRON_TZ=Europe/Paris 17 6 * * *",  # local time\r\n'
                  '  "@daily",\r\n  "17  06 * * mon",\r\n]\r\n\r\n')
    row = json.loads(project.run("--json", "list").out)
    assert row["schedule"] == ["CRON_TZ=Europe/Paris 17 6 * * *", "@daily", "17 6 * * MON"]
    assert row["next_run"] == "invalid"


@pytest.mark.parametrize("value", ["5", '["17 7 * * 1", 5]', '{cron = "17 6 * * 1"}'])
def test_list_json_gives_a_schedule_of_the_wrong_type_as_null(project, value) -> None:
    """A value that is no cron expression nor a list of them was listed as ``[]``
    (no schedule) or as the strings among it (``["17 7 * * 1"]`` for ``["17 7 *
    * 1", 5]``): a script read a schedule the file does not have. As for every
    key ``list`` shows, a value of the wrong type is ``null``."""
    project.write(scheduled(value))
    row = json.loads(project.run("--json", "list").out)
    assert (row["schedule"], row["next_run"]) == (None, "invalid")


def test_next_run_is_utc_and_strictly_after() -> None:
    at = datetime(2026, 12, 7, 6, 17, tzinfo=UTC)  # a Monday, exactly at the run
    assert next_run("17 6 * * 1", at) == datetime(2026, 12, 14, 6, 17, tzinfo=UTC)
    assert next_run("17 6 * * MON-FRI", at) == datetime(2026, 12, 8, 6, 17, tzinfo=UTC)
    assert expression_problem("17 6 * JAN-DEC SUN-SAT") is None
    assert expression_problem("17 6 1-1 * 3-3") is None
    assert expression_problem(" 17  6 * * 1 ") is None


def test_list_without_schedules_does_not_import_the_cron_reader(tmp_path) -> None:
    (tmp_path / "mogplex.toml").write_text(f"[jobs.a]\n{JOB}")
    code = ("import sys; from mogrun.cli.main import run_cli; run_cli(['list']); "
            "sys.stderr.write(str('mogrun.ci.cron' in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, check=True)
    assert done.stderr.strip().endswith("False")


@pytest.mark.parametrize("value", ['"1,58 0,23 * * 1"', '"1,58 0,23 1 * *"',
                                   '"1,58 0,23 29 2 *"'])
def test_midnight_counts_only_between_two_days_that_both_run(project, value) -> None:
    """Mondays only: Monday 23:58 is not followed by Tuesday 00:01, so no two runs
    are 3 minutes apart (this was refused as "every 3 minutes")."""
    project.write(scheduled(value), raw=True)
    result = project.run("check")
    assert (result.code, result.err) == (0, ""), result


@pytest.mark.parametrize(("expression", "after", "expected"), [
    # croniter read each of these single-value ranges as "*".
    ("5 6-6 * * *", datetime(2026, 12, 7, 7, 0), datetime(2026, 12, 8, 6, 5)),
    ("5 6 * * 3-3", datetime(2026, 12, 7, 7, 0), datetime(2026, 12, 9, 6, 5)),  # a Wednesday
    ("5 6 1-1 * *", datetime(2026, 12, 7, 7, 0), datetime(2027, 1, 1, 6, 5)),
    ("5 6 * JUN-jun *", datetime(2026, 12, 7, 7, 0), datetime(2027, 6, 1, 6, 5)),
    ("17-17 6 * * *", datetime(2026, 12, 7, 6, 17), datetime(2026, 12, 8, 6, 17)),
    # ...and these as "*/5" and "*/2".
    ("30-30/5 6 * * *", datetime(2026, 12, 7, 6, 31), datetime(2026, 12, 8, 6, 30)),
    ("5 6-6/2,9 * * *", datetime(2026, 12, 7, 6, 6), datetime(2026, 12, 7, 9, 5)),
])
def test_single_value_ranges_mean_their_value(expression, after, expected) -> None:
    assert expression_problem(expression) is None
    assert next_run(expression, after.replace(tzinfo=UTC)) == expected.replace(tzinfo=UTC)


def test_check_refuses_a_single_value_range_of_no_date_and_allows_a_single_minute(
        project) -> None:
    project.write(scheduled('["17 6 30-30 2 *", "17-17 6 * * *"]'))
    result = project.run("check")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == (
        'Error: job "nightly", key "schedule" is "17 6 30-30 2 *", which never runs '
        "(no such date)")


def test_list_shows_a_single_value_range_s_next_run(project) -> None:
    project.write(scheduled('"5 6-6 * * 3-3"'))
    row = json.loads(project.run("--json", "list").out)
    moment = datetime.strptime(row["next_run"], "%Y-%m-%dT%H:%M:%SZ")
    assert (moment.isoweekday(), moment.hour, moment.minute) == (3, 6, 5)  # Wednesday 06:05
