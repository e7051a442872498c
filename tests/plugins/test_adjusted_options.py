"""Job options a `mogrun_adjust_job` returns are judged as the task file's are.

A webhook URL a plugin set showed unmasked in `mogrun show`, and a wrong
`notify` entry passed, to crash later in the bundled notify plugin, which took
the blame for the plugin that returned it."""

from __future__ import annotations

import json

import pytest
from plugtest_helpers import Receiver

from mogrun.testing import write_taskfile

TEAM = """\
# routes every job's failures to the team's hook
import copy
import dataclasses
import pathlib

from mogrun.plugin import hookimpl


@hookimpl
def mogrun_adjust_job(job):
\toptions = copy.deepcopy(dict(job.options))
\toptions["notify"] = json.loads(pathlib.Path(__file__).with_name("team.json").read_text())
\treturn dataclasses.replace(job, options=options)


import json  # late, as people do


"""

TASKS = (
    "# nightly work\r\n"
    "[mogplex]\r\n"
    'plugins = ["./team.py"]\r\n'
    "\r\n"
    "[jobs.fix]\r\n"
    'repo = "acme/api"\t# the API\r\n'
    'prompt = "@emulator status=failed duration=0.3s"\r\n'
    'gates = { status = ["success"] }\r\n'
    "\r\n"
)
TOKEN = "T0KEN-sekrit-42"


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.close()


@pytest.fixture
def team(tmp_path):
    write_taskfile(tmp_path, TASKS)
    (tmp_path / "team.py").write_text(TEAM)
    return tmp_path


def notify(root, *targets) -> dict[str, str]:
    """What the team's plugin sets (a file beside it); the environment of the run."""
    (root / "team.json").write_text(json.dumps(list(targets)))
    return {"MOGRUN_POLL_INTERVAL": "0.2"}


@pytest.mark.parametrize("json_out", [False, True])
def test_a_webhook_url_set_in_adjust_job_is_masked_in_show(team, mogrun_cli, receiver,
                                                           json_out):
    url = receiver.url(f"/hooks/{TOKEN}")
    result = mogrun_cli(*(["--json"] if json_out else []), "show", "fix", cwd=team,
                        env=notify(team, {"webhook": url, "on": ["failed"]}))
    assert result.exit_code == 0, result
    assert TOKEN not in result.output
    if json_out:
        assert json.loads(result.stdout)["options"]["notify"] == [
            {"webhook": "***", "on": ["failed"]}]
    else:
        assert '  notify: [{"webhook": "***", "on": ["failed"]}]' in result.stdout.splitlines()


def test_a_webhook_set_in_adjust_job_is_delivered_and_never_shown(team, mogrun_cli,
                                                                  mogrun_emulator, receiver):
    url = receiver.url(f"/hooks/{TOKEN}")
    result = mogrun_cli("--json", "run", "fix", cwd=team,
                        env=notify(team, {"webhook": url, "on": ["failed"]}))
    assert result.exit_code == 1, result
    assert [r["path"] for r in receiver.received] == [f"/hooks/{TOKEN}"]
    assert TOKEN not in result.output
    history = mogrun_cli("--json", "history", cwd=team)
    assert history.exit_code == 0 and TOKEN not in history.output


@pytest.mark.parametrize(("target", "said"), [
    ({"webhook": f"ftp://hooks.example.com/{TOKEN}", "on": ["nope"]},
     'notify[1].on: unknown value "nope"; valid: timeout, failed, cancelled, gate_failed, '
     "skipped, success, always; notify[1].webhook must be an http(s) URL"),
    ({"webhook": f"https://hooks.example.com/{TOKEN}", "slack": "https://x.example"},
     "notify[1] needs exactly one of webhook = URL or slack = URL"),
])
def test_a_wrong_notify_from_adjust_job_is_that_plugins_error(team, mogrun_cli,
                                                              mogrun_emulator, target, said):
    for command in ("show", "run"):
        result = mogrun_cli(command, "fix", cwd=team, env=notify(team, target))
        assert result.exit_code == 2, result
        assert result.stderr.splitlines()[0] == (
            'Error: plugin "team" failed in mogrun_adjust_job: it returned a job whose '
            f"notify is wrong: {said}")
        assert ('Job key "notify" is declared by plugin "notify"; a value set in '
                "mogrun_adjust_job is checked as the task file's is.") in result.stderr
        assert TOKEN not in result.output and "Traceback" not in result.output
    assert mogrun_emulator.runs == []  # refused before any run started
