"""A ``mogrun_start_request`` answer that names another repo, through the CLI
against the emulator: ``run`` resolves owner/name to ``repo_id`` before the hook
and sends the id, so a new ``repo`` with the old ``repo_id`` would start the
old repo while ``show`` prints the new one. Both refuse it alike."""

from __future__ import annotations

import pytest

from mogrun.testing import write_taskfile

REPOINT = '''
import dataclasses
from mogrun.plugin import hookimpl

@hookimpl
def mogrun_start_request(request):
    return dataclasses.replace(request, {change})
'''


def project(tmp_path, change: str):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "repoint.py").write_text(REPOINT.format(change=change))
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["plugins/repoint.py"]\n'
                   '[jobs.fix]\nrepo = "acme/api"\nprompt = "@emulator duration=0.2s"\n')
    return tmp_path


def starts(emulator):
    return [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/runs")]


@pytest.mark.parametrize("command", [("run", "fix"), ("show", "fix")])
def test_a_new_repo_with_the_old_repo_id_is_refused_naming_the_plugin(
        tmp_path, mogrun_emulator, mogrun_cli, command):
    root = project(tmp_path, 'repo="acme/web"')
    result = mogrun_cli(*command, cwd=root, env={"MOGRUN_POLL_INTERVAL": "0.2"})
    assert result.exit_code == 1, result
    assert ('plugin "repoint" changed the run\'s repo from acme/api to acme/web in '
            "mogrun_start_request; a run's repo is resolved before this hook: change it "
            "in mogrun_adjust_job") in result.stderr
    assert "Traceback" not in result.output
    assert starts(mogrun_emulator) == []  # the original repo was not started either


@pytest.mark.parametrize(("change", "started"), [
    ('repo="ACME/API"', "acme/api"),  # the same repo, as owner/name resolution sees it
    ('repo="acme/web", repo_id="{web}"', "acme/web"),  # names the id it starts
    ('repo_id="{web}"', "acme/web"),
])
def test_a_request_that_starts_the_repo_it_names_is_sent(tmp_path, mogrun_emulator,
                                                          mogrun_cli, change, started):
    root = project(tmp_path, change.format(web=mogrun_emulator.repo_id("acme/web")))
    env = {"MOGRUN_POLL_INTERVAL": "0.2"}
    assert mogrun_cli("show", "fix", cwd=root, env=env).exit_code == 0
    result = mogrun_cli("run", "fix", cwd=root, env=env)
    assert result.exit_code == 0, result
    (run_id,) = mogrun_emulator.runs
    assert mogrun_emulator.run_detail(run_id)["repoId"] == mogrun_emulator.repo_id(started)


def test_a_cleared_repo_id_is_refused_not_sent_as_a_name(tmp_path, mogrun_emulator, mogrun_cli):
    root = project(tmp_path, "repo_id=None")
    result = mogrun_cli("run", "fix", cwd=root, env={"MOGRUN_POLL_INTERVAL": "0.2"})
    assert result.exit_code == 1, result
    assert ('plugin "repoint" cleared the repo_id of acme/api in mogrun_start_request'
            in result.stderr)
    assert starts(mogrun_emulator) == []  # owner/name as repoId: the server would say 503
    assert mogrun_cli("show", "fix", cwd=root).exit_code == 0  # nothing resolved to clear


def test_an_id_as_the_new_repo_is_the_id_started(tmp_path, mogrun_emulator, mogrun_cli):
    web = mogrun_emulator.repo_id("acme/web")
    root = project(tmp_path, f'repo="{web}", repo_id=None')
    result = mogrun_cli("run", "fix", cwd=root, env={"MOGRUN_POLL_INTERVAL": "0.2"})
    assert result.exit_code == 0, result
    (run_id,) = mogrun_emulator.runs
    assert mogrun_emulator.run_detail(run_id)["repoId"] == web
