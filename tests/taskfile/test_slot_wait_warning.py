"""``check`` warns of a fan-out wider than the account's sandbox slots whose
``capacity_wait`` ends before a slot can free: on the real server a slot frees
35-40 min after a run ends (30m idle, then the reaper), so with the default 30m
every run past the cap failed half an hour in, and nothing said so before."""

from __future__ import annotations

import json

import pytest

from .styles import STYLES, write

FIVE = ('# nightly fan-out\n[jobs.fan]\t# five repos\nrepo = ["acme/a", "acme/b", "acme/c",'
        ' "acme/d", "acme/e"]  # one sandbox each\nprompt = "Fix the lint."\n')


def warnings_of(project) -> list[str]:
    result = project.run("check")
    assert result.code == 0, result
    assert result.out.endswith(": ok (1 job)\n"), result
    return [line for line in result.err.splitlines() if "sandboxes and the account" in line]


@pytest.mark.parametrize("style", STYLES)
def test_a_fan_out_past_the_cap_that_would_give_up_is_warned_at_its_repo(project, style):
    write(project, FIVE, style)
    [warning] = warnings_of(project)
    assert warning == (
        f'warning: {project.path.resolve()}:3:1: job "fan" needs 5 sandboxes and the account '
        "has 3 ([mogplex] sandboxes): its other 2 runs wait for a slot, which frees 35-40 min "
        "after a run ends by default (the idle timeout, 30m, then the reaper), later than its "
        'capacity_wait 30m; set capacity_wait = "1h" or more (a bound: a slot that frees '
        "sooner is taken at once)")


@pytest.mark.parametrize(("setting", "said"), [
    ('capacity_wait = "39m"', "39m"),  # short of the 40 minutes a slot may take
    ('capacity_wait = "40m"', None),
    ('capacity_wait = "1h"', None),
])
def test_a_capacity_wait_that_outlasts_a_slots_freeing_is_not_warned(project, setting, said):
    write(project, FIVE + setting + "  # long enough?\n", "crlf")
    found = warnings_of(project)
    if said is None:
        assert found == []
    else:  # pointed at the capacity_wait the job sets, the one to change
        [warning] = found
        assert "mogplex.toml:5:1: job " in warning and f"capacity_wait {said};" in warning


@pytest.mark.parametrize(("slots", "said"), [
    (4, "its other 1 run waits for a slot"), (5, None), (50, None)])
def test_the_cap_is_the_accounts_as_the_task_file_sets_it(project, slots, said):
    write(project, f"[mogplex]\nsandboxes = {slots}\n\n" + FIVE, "trailing-blank-lines")
    found = warnings_of(project)
    assert (found == []) if said is None else (said in found[0])


def test_a_capacity_wait_from_defaults_is_judged_in_each_job_and_said_at_its_repo(project):
    write(project, '[defaults]\ncapacity_wait = "20m"\n\n' + FIVE + '\n[jobs.one]\n'
          'repo = "acme/a"\nprompt = "x"\n', "lf")
    result = project.run("--json", "check")
    assert result.code == 0, result
    [warning] = json.loads(result.out)["warnings"]
    assert warning["line"] == 6 and "capacity_wait 20m;" in warning["message"]


def test_an_automation_job_is_not_warned(project):
    write(project, '[jobs.fan]\nautomation = "nightly"\nrepo = ["acme/a", "acme/b", '
          '"acme/c", "acme/d"]\n', "bom")
    assert warnings_of(project) == []


@pytest.mark.parametrize(("file_slots", "env_slots", "said"), [
    (None, "10", None),  # a bigger plan for this environment: no warning
    ("10", "2", "has 2 (MOGRUN_SANDBOXES)"),  # the environment's fewer slots bind
    (None, "", "has 3 ([mogplex] sandboxes)"),  # empty: unset, as for run
    (None, "lots", "has 3 ([mogplex] sandboxes)"),  # run refuses it; check judges the file
])
def test_the_slots_are_those_run_counts_on_mogrun_sandboxes_first(project, file_slots,
                                                                  env_slots, said):
    """check read only [mogplex] sandboxes, though MOGRUN_SANDBOXES wins for run:
    a false warning where CI sets a bigger plan, none where it sets fewer slots."""
    header = f"[mogplex]\nsandboxes = {file_slots}\n\n" if file_slots else ""
    write(project, header + FIVE, "lf")
    result = project.run("check", env={"MOGRUN_SANDBOXES": env_slots})
    assert result.code == 0, result
    found = [line for line in result.err.splitlines() if "sandboxes and the account" in line]
    assert (found == []) if said is None else (len(found) == 1 and said in found[0]), result


@pytest.mark.parametrize("value", ["0", '"2"', "true", "2000000"])
def test_a_wrong_sandboxes_value_is_its_own_error_with_no_count_beside_it(project, value):
    """It was an error, then a warning that "the account has 3": a count the file
    does not say, beside the error that says its value is wrong (second read)."""
    write(project, f"[mogplex]\nsandboxes = {value}\n\n" + FIVE, "crlf")
    result = project.run("check")
    assert result.code == 2, result
    assert "sandboxes and the account" not in result.err, result
