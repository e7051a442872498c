"""``status``, ``logs`` and ``cancel`` of an automation's job run this checkout's
history never recorded (another checkout, or CI, started it): the API reads such
a run only through its automation, so the task file's automations are asked
once ``GET /runs/{id}`` says 404 (they failed with "Run not found")."""

from __future__ import annotations

import json

import pytest

from mogrun.testing import MogrunProject

pytestmark = pytest.mark.mogrun_emulator(automations=["triage", "issue-triage"],
                                         repos=["acme/api"])

# Two automations: the run's is the second asked. Written as people write files.
TASK_FILE = ("[mogplex]\r\nrequests_per_minute = 600\r\n\r\n"
             '[jobs.weekly]\t# the old one\r\nrepo = "acme/api"\r\nautomation = "triage"\r\n\r\n'
             "# the team's own\r\n"
             '[jobs.nightly]\r\nrepo = "acme/api"\r\nautomation = "issue-triage"\r\n'
             'input = { note = "@emulator duration=20s" }\r\n\r\n')


@pytest.fixture
def started(mogrun_project, mogrun_emulator, tmp_path):
    """(a second checkout with an empty history, the run id the first one started)."""
    mogrun_project.env["MOGRUN_POLL_INTERVAL"] = "0.1"
    mogrun_project.write(TASK_FILE)
    assert mogrun_project.run("run", "--detach", "nightly").exit_code == 0
    [run_id] = mogrun_emulator.job_runs()
    other = MogrunProject(tmp_path / "ci-checkout", env=mogrun_project.env)
    other.root.mkdir()
    other.write(TASK_FILE)
    return other, run_id


def test_status_of_an_unrecorded_automation_run_reads_it_through_its_automation(
        started, mogrun_emulator):
    other, run_id = started
    result = other.run("--json", "status", run_id)
    assert result.exit_code == 0, result
    [row] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (row["run_id"], row["status"]) == (run_id, "running")
    # its repo by name and the automation it was read through ("repo": null and
    # "automation": null before, where a run's said its repo's id)
    assert row["repo"] == "acme/api", row
    [issue_triage] = [a["id"] for a in mogrun_emulator.automations
                      if a["name"] == "issue-triage"]
    assert row["automation"] == issue_triage, row


def test_logs_of_an_unrecorded_automation_run_shows_its_events(started):
    other, run_id = started
    result = other.run("logs", run_id)
    assert result.exit_code == 0, result
    assert "node_" in result.stdout or "enqueue_queued" in result.stdout, result


def test_cancel_of_an_unrecorded_automation_run_says_it_has_no_cancel(started):
    other, run_id = started
    result = other.run("cancel", run_id)
    assert result.exit_code == 1, result
    assert "the Mogplex API has no cancel for automation runs" in result.stderr, result


def test_a_run_no_automation_has_keeps_the_not_found_error(started, mogrun_emulator):
    other, _ = started
    unknown = "0b8f5c1e-2d3a-4b6c-9e7f-8a1b2c3d4e5f"
    result = other.run("status", unknown)
    assert result.exit_code != 0, result
    assert "Run not found" in result.stderr, result
    assert "none this task file names has it" in result.stderr, result
    # One listing, then each automation asked once: inside the budget, never looping.
    assert mogrun_emulator.count("GET", f"/runs/{unknown}") == 1
    assert sum(r.path.endswith(f"/runs/{unknown}") and "/automations/" in r.path
               for r in mogrun_emulator.requests) == 2



def test_cancel_of_an_unrecorded_automation_run_names_it_once(started, mogrun_emulator):
    """It said "ID (ID) is a run of automation ...": the label of a bare id is the id."""
    other, run_id = started
    [automation] = [a["id"] for a in mogrun_emulator.automations if a["name"] == "issue-triage"]
    result = other.run("cancel", run_id)
    assert result.stderr.splitlines()[0] == (
        f"Error: {run_id} is a run of automation {automation!r}: the Mogplex API has no "
        "cancel for automation runs; it is left going"), result


@pytest.mark.mogrun_emulator(automations=["triage", "triage"], repos=["acme/api"])
def test_a_name_two_automations_share_still_finds_the_run(mogrun_project, mogrun_emulator,
                                                          tmp_path):
    """A name two automations share cannot be triggered, but it names both: status of
    a run of either said "none this task file names has it" (the look-up skipped the
    name as ambiguous)."""
    mogrun_project.env["MOGRUN_POLL_INTERVAL"] = "0.1"
    second = sorted(a["id"] for a in mogrun_emulator.automations)[1]
    mogrun_project.write(f'[jobs.weekly]\nrepo = "acme/api"\nautomation = "{second}"\n'
                         'input = { note = "@emulator duration=20s" }\n')
    assert mogrun_project.run("run", "--detach", "weekly").exit_code == 0
    [run_id] = mogrun_emulator.job_runs()
    other = MogrunProject(tmp_path / "ci-checkout", env=mogrun_project.env)
    other.root.mkdir()
    other.write('[jobs.weekly]\nrepo = "acme/api"\nautomation = "triage"\n')
    result = other.run("--json", "status", run_id)
    assert result.exit_code == 0, result
    [row] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (row["run_id"], row["automation"]) == (run_id, second), row


def test_an_automation_named_from_env_is_asked_as_it_renders(started, mogrun_emulator):
    """CI names its automation from a secret ({{ env.NAME }}, as the docs suggest):
    status of the run it started said "none this task file names has it" with the
    variable set here, as a name made of a template was never asked."""
    other, run_id = started
    other.write('[jobs.nightly]\nrepo = "acme/api"\nautomation = "{{ env.AUTOMATION }}"\n')
    other.env["AUTOMATION"] = "issue-triage"
    result = other.run("--json", "status", run_id)
    assert result.exit_code == 0, result
    [row] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (row["run_id"], row["status"]) == (run_id, "running"), row
    del other.env["AUTOMATION"]
    unset = other.run("status", run_id)
    assert unset.exit_code == 1, unset
    assert "one using an env.* variable that is not set here is not asked" in unset.stderr
