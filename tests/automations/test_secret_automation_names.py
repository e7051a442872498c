"""An automation named from ``{{ env.NAME }}`` is a secret however short: no
message, output mode, ``show`` or history row spells it (masking itself skips
values under 4 characters, so "was it masked" cannot be the test)."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.mogrun_emulator(
    automations=["triage", "issue-triage", "off:inactive", "zoq"], repos=["acme/api"])

# The task file as a person writes it: a comment, a tab, CRLF, a trailing blank line.
TASK_FILE = ("# nightly triage, the automation's name is the team's secret\r\n"
             "[mogplex]\r\nrequests_per_minute = 600\r\n\r\n"
             '[jobs.nightly]\r\nrepo = "acme/api"\r\n'
             'automation = "{{ env.AUTO }}"\t# from CI\r\n'
             'input = { note = "@emulator duration=20s" }\r\n\r\n')
MODES = ((), ("--json",), ("-v",))


@pytest.fixture
def project(mogrun_project, mogrun_emulator):
    mogrun_project.env["MOGRUN_POLL_INTERVAL"] = "0.1"
    mogrun_project.write(TASK_FILE)
    mogrun_emulator.add_automation("dup")
    mogrun_emulator.add_automation("dup")
    return mogrun_project


def spelled(value: str, text: str) -> bool:
    """``value`` appears in ``text`` as a word (ids are hex: a name with a letter
    past f cannot hide in one)."""
    return re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text) is not None


@pytest.mark.parametrize(("value", "said"), [
    ("dup", "automation name '***' is ambiguous"),
    ("xyz", "no automation named '***' on this account"),
    ("tri", "no automation named '***' on this account"),  # close to triage
    ("off", "of job 'nightly' is inactive: activate it"),
])
def test_a_short_secret_name_is_never_spelled_in_an_error(project, value, said):
    for mode in MODES:
        result = project.run(*mode, "run", "nightly", env={"AUTO": value})
        assert result.exit_code == 2, (mode, result)
        assert said in result.output, (mode, result)
        assert not spelled(value, result.output), (mode, result)
        assert "Did you mean" not in result.output, (mode, result)  # it hints at the value
    history = project.run("--json", "history").stdout
    assert history and not spelled(value, history), history


def test_a_literal_name_keeps_its_quote_and_hint(project):
    project.write(TASK_FILE.replace("{{ env.AUTO }}", "tri"))
    result = project.run("run", "nightly")
    assert result.exit_code == 2, result
    assert result.stderr == ("Error: no automation named 'tri' on this account, for job "
                             "'nightly'\n"
                             "Did you mean 'triage'?\n")


def test_a_run_of_a_short_secret_name_is_recorded_by_id(project, mogrun_emulator):
    env = {"AUTO": "zoq"}
    [zoq] = [a["id"] for a in mogrun_emulator.automations if a["name"] == "zoq"]
    show = project.run("show", "nightly", env=env)
    assert show.exit_code == 0 and "automation: ***" in show.stdout, show
    assert not spelled("zoq", project.run("--json", "show", "nightly", env=env).output)
    started = project.run("run", "--detach", "nightly", env=env)
    assert started.exit_code == 0, started
    [run_id] = mogrun_emulator.job_runs(zoq)
    [row] = [json.loads(line) for line in project.run("--json", "history").stdout.splitlines()]
    assert (row["run_id"], row["automation"]) == (run_id, zoq)
    for mode in MODES:
        for command in (("status",), ("logs",), ("cancel", "nightly"), ("history",)):
            result = project.run(*mode, *command, env=env)
            assert not spelled("zoq", result.output), (mode, command, result)
        refused = project.run(*mode, "cancel", "nightly", env=env)
        assert refused.exit_code == 1 and f"automation '{zoq}'" in refused.output, refused
