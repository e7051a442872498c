"""A job waiting for the jobs it needs says so with the one bound there is (each
needed job's timeout, once started) and plainly that its end is not known yet;
once every needed run has started, it says that end."""

from __future__ import annotations

import json
import re

TASKS = """\
# a deploy after its two checks
[jobs.build]
repo = "acme/api"
prompt = '''Build it.
@emulator duration=1s
'''
timeout = "10m"

[jobs.lint]
repo = "acme/web"
prompt = "Lint it.\\n@emulator duration=1s"	# a check of its own

[jobs.deploy]
repo = "acme/api"
prompt = "Deploy it."
needs = ["build", "lint"]
"""


def test_a_needs_wait_names_each_needed_jobs_timeout_and_no_end(
        tmp_path, mogrun_emulator, mogrun_cli):
    from mogrun.testing import write_taskfile

    write_taskfile(tmp_path, TASKS)
    result = mogrun_cli("--json", "run", "build", "lint", "deploy", cwd=tmp_path)
    assert result.exit_code == 0, result
    waits = [json.loads(line) for line in result.stdout.splitlines()
             if '"type": "wait"' in line]
    said, known = [wait for wait in waits if wait["kind"] == "needs"]
    assert said["job"] == "deploy" and said["ends_at"] is None, said
    assert said["reason"] == ("waiting for build, lint; no end is known yet: each may run "
                              "up to its timeout once started (build 10m, lint 30m)"), said
    # both started: lint's 30m from its start is the latest either can end
    assert known["job"] == "deploy" and known["ends_at"] is not None, known
    assert known["reason"] == ("waiting for build, lint; all started: each ends by its "
                               "timeout at the latest (build 10m, lint 30m)"), known
    assert 1790 < known["seconds"] <= 1800, known


def test_a_needs_wait_line_says_its_end_once_every_needed_run_started(
        tmp_path, mogrun_emulator, mogrun_cli):
    from mogrun.testing import write_taskfile

    write_taskfile(tmp_path, TASKS)
    result = mogrun_cli("run", "build", "lint", "deploy", cwd=tmp_path)
    assert result.exit_code == 0, result
    lines = [line for line in result.stdout.splitlines() if "  wait  needs  " in line]
    assert len(lines) == 2, result.stdout
    assert lines[0].endswith("(build 10m, lint 30m)"), lines  # no end known yet
    # lint's 30m from its start (a moment ago) is the latest either can end
    assert re.search(r"; all started: each ends by its timeout at the latest \(build 10m, "
                     r"lint 30m\); ends in (30m|29m[45]\ds) \(\d\d:\d\d:\d\dZ\)$",
                     lines[1]), lines
