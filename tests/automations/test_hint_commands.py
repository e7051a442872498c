"""Every command a run's output suggests works as printed: a project whose task
file is not mogplex.toml is found through the same ``-f`` the rerun line has
(``mogrun logs --follow ID`` alone exited 2: no mogplex.toml)."""

from __future__ import annotations

import re
import shlex

import pytest

pytestmark = pytest.mark.mogrun_emulator(automations=["triage"], repos=["acme/api"])

# As a person writes it: a comment, CRLF, a tab, trailing blank lines.
NIGHT = ("# the nightly jobs\r\n"
         '[jobs.a]\r\nrepo = "acme/api"\r\nautomation = "triage"\r\ntimeout = "1s"\r\n'
         'input = { note = "@emulator duration=3s" }\r\n\r\n'
         '[jobs.b]\t# a run left going at its timeout\r\nrepo = "acme/api"\r\n'
         'prompt = "@emulator duration=3s"\r\ntimeout = "1s"\r\non_timeout = "detach"\r\n\r\n')
SUGGESTED = re.compile(r"(mogrun [^;\n]*?(?:logs --follow|cancel|status) [0-9a-f-]{36})")


@pytest.fixture
def project(mogrun_project, mogrun_emulator):
    mogrun_project.env["MOGRUN_POLL_INTERVAL"] = "0.1"
    mogrun_project.write(NIGHT, name="night.toml")  # and no mogplex.toml
    return mogrun_project


@pytest.mark.parametrize("job", ["a", "b"])
def test_the_follow_hints_name_the_task_file(project, job):
    result = project.run("-f", "night.toml", job)
    assert result.exit_code == 1, result
    hints = SUGGESTED.findall(result.output)
    assert len(hints) == 2, result  # the timeout's warning and the summary's still-going line
    for hint in hints:
        assert hint.startswith("mogrun -f night.toml logs --follow "), result
    followed = project.run(*shlex.split(hints[0])[1:])
    assert followed.exit_code == 0, followed  # it ended well, after the timeout
