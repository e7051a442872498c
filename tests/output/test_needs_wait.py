"""A job waiting for the jobs it needs says so with the one bound there is (each
needed job's timeout, once started) and plainly that its end is not known yet."""

from __future__ import annotations

import json

TASKS = """\
# a deploy after its two checks
[jobs.build]
repo = "acme/api"
prompt = "Build it."
timeout = "10m"

[jobs.lint]
repo = "acme/web"
prompt = "Lint it."

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
    (said,) = [wait for wait in waits if wait["kind"] == "needs"]
    assert said["job"] == "deploy" and said["ends_at"] is None, said
    assert said["reason"] == ("waiting for build, lint; no end is known yet: each may run "
                              "up to its timeout once started (build 10m, lint 30m)"), said
