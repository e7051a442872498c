"""What the run history records: every outcome, vetoed and skipped runs
included (so `status` shows the latest invocation); a history that fails mid-run
is one warning, not a lost result; a repo named from env is stored masked."""

from __future__ import annotations

import pytest

from .conftest import history_rows, json_lines

VETO_PLUGIN = """
from mogrun.errors import GateError
from mogrun.hookspecs import hookimpl


@hookimpl
def mogrun_start_request(job, run, request):
    if job.name == "frozen":
        raise GateError("frozen this week")
"""


def test_vetoed_and_skipped_runs_are_recorded_and_status_shows_them(project, mogrun,
                                                                    mogrun_emulator, tmp_path):
    project("""
        [jobs.frozen]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s"

        [jobs.after]
        repo = "acme/web"
        prompt = "@emulator duration=0.2s"
        needs = ["frozen"]
    """)
    assert mogrun("after").exit_code == 0  # both pass once: history has their runs
    (tmp_path / "veto.py").write_text(VETO_PLUGIN)
    result = mogrun("run", "-p", str(tmp_path / "veto.py"), "after")
    assert result.exit_code == 1, result
    assert len(mogrun_emulator.runs) == 2  # nothing new was sent
    latest = history_rows(mogrun, "-n", "2")
    assert sorted((r["job"], r["run_id"], r["outcome"], r["exit_code"]) for r in latest) == [
        ("after", None, "skipped", 1), ("frozen", None, "failed", 1)]
    assert latest[0]["invocation"] == latest[1]["invocation"]
    status = json_lines(mogrun("--json", "status", "after").stdout)
    assert [(s["run_id"], s["outcome"]) for s in status] == [(None, "skipped")]


def test_history_that_fails_mid_run_is_a_warning_not_a_lost_result(project, mogrun,
                                                                   monkeypatch):
    from mogrun.engine.history import History
    from mogrun.errors import MogrunError

    project("""
        [jobs.hello]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s events=3"
    """)

    def full_disk(self, row_id, **fields):
        raise MogrunError(f"cannot write run history {self.path}: database or disk is full")

    monkeypatch.setattr(History, "update", full_disk)
    result = mogrun("--json", "hello")
    assert result.exit_code == 0, result
    assert json_lines(result.stdout)[-1]["results"][0]["outcome"] == "success"
    assert result.stderr.count("database or disk is full; runs are no longer recorded") == 1
    assert "internal error" not in result.output


def test_a_repo_named_from_env_is_stored_masked_and_still_found(project, mogrun):
    project("""
        [jobs.fan]
        repo = ["acme/api", "acme/{{ env.SECRET_REPO }}"]
        prompt = "@emulator duration=0.2s"
    """)
    env = {"SECRET_REPO": "worker"}
    assert mogrun("fan", env=env).exit_code == 0
    rows = history_rows(mogrun)
    assert sorted(r["repo"] for r in rows) == ["acme/***", "acme/api"]
    assert "worker" not in mogrun("--json", "history", env=env).stdout
    status = mogrun("--json", "status", "fan:acme/worker", env=env)
    assert status.exit_code == 0, status
    assert [r["repo"] for r in json_lines(status.stdout)] == ["acme/***"]


def test_the_token_pasted_into_a_prompt_is_masked_everywhere(project, mogrun,
                                                               mogrun_emulator):
    """SPEC: the token is never printed, logged or written to history; pasted into
    a prompt (or echoed by an agent) it was, by run, logs, show and history."""
    import sqlite3

    token = mogrun_emulator.write_token
    root = project(f"""
        [jobs.leak]
        repo = "acme/api"
        prompt = "key={token}\\n@emulator duration=0.2s message='key={token}'"
    """)
    shown = [mogrun("leak"), mogrun("logs", "leak"), mogrun("--json", "logs", "leak"),
             mogrun("show", "leak"), mogrun("--json", "history")]
    assert all(result.exit_code == 0 for result in shown), shown
    assert all(token not in result.output for result in shown), shown
    assert "key=***" in shown[0].output and "key=***" in shown[3].output
    with sqlite3.connect(root / ".mogrun" / "history.db") as db:
        stored = " ".join(str(value) for row in db.execute("SELECT * FROM runs")
                          for value in row)
    assert token not in stored


@pytest.mark.parametrize("secret", ['pa"ssSecret123', "back\\slash99", "p\u00e4ssw\u00f6rd",
                                    'hunter2"XYZ\n'])
def test_a_secret_json_writes_escaped_is_masked_in_the_stored_request(project, mogrun, secret):
    """The request was masked as JSON text: a secret holding a quote, a backslash
    or a non-ASCII letter reads escaped there (pa\\"ss, p\\u00e4ss), was not found,
    and was kept in history.db and shown by history --json. An automation's
    input is stored the same way."""
    import json
    import sqlite3

    root = project("""
        [jobs.leak]
        repo = "acme/api"
        prompt = "token {{ env.MY_SECRET }}\\n@emulator duration=0.2s"
    """)
    env = {"MY_SECRET": secret}
    assert mogrun("leak", env=env).exit_code == 0
    [row] = history_rows(mogrun)
    assert json.loads(row["request"])["prompt"].startswith("token ***")
    with sqlite3.connect(root / ".mogrun" / "history.db") as db:
        stored = " ".join(str(value) for row in db.execute("SELECT * FROM runs")
                          for value in row)
    assert secret not in stored and json.dumps(secret)[1:-1] not in stored, stored


def test_a_finished_run_keeps_its_terminal_status_with_its_result(project, mogrun):
    # The terminal status is written with the result (one commit per run fewer
    # than writing it as a status change first): it must still be there.
    project("""
        [jobs.good]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s"

        [jobs.bad]
        repo = "acme/web"
        prompt = "@emulator duration=0.2s status=failed"
    """)
    assert mogrun("run", "--keep-going", "good", "bad").exit_code == 1
    rows = {r["job"]: r for r in history_rows(mogrun, "-n", "2")}
    assert (rows["good"]["status"], rows["good"]["outcome"]) == ("success", "success")
    assert (rows["bad"]["status"], rows["bad"]["outcome"]) == ("failed", "failed")


REMOVER_PLUGIN = """
import shutil
from mogrun.hookspecs import hookimpl


@hookimpl
def mogrun_run_started(job, run, state, attached):
    shutil.rmtree(FOLDER)  # as `rm -rf .mogrun` in another terminal
"""


def test_a_history_deleted_while_runs_go_on_is_said_and_the_run_still_ends(project, mogrun,
                                                                           tmp_path):
    """sqlite goes on writing to the deleted file without a word: the rows are
    gone, `rerun` would find nothing. It is said once, and the result stands."""
    project("""
        [jobs.hello]
        repo = "acme/api"
        prompt = "@emulator status=failed duration=0.2s"
    """)
    remover = REMOVER_PLUGIN.replace("FOLDER", repr(str(tmp_path / ".mogrun")))
    (tmp_path / "remover.py").write_text(remover)
    result = mogrun("run", "-p", str(tmp_path / "remover.py"), "hello")
    assert result.exit_code == 1, result
    assert result.output.count("was deleted or replaced while the runs went on: this "
                               "invocation's runs are not in it") == 1, result
    # Nothing to rerun from: the hint gives the command that starts the job again.
    assert "mogrun rerun" not in result.output, result
    assert "internal error" not in result.output


MOVER_PLUGIN = """
import os
from mogrun.hookspecs import hookimpl


@hookimpl
def mogrun_run_started(job, run, state, attached):
    os.rename(FROM, TO)  # as `mv proj proj2` in another terminal
"""


def test_a_project_moved_while_runs_go_on_keeps_recording_where_it_went(tmp_path):
    """`mv proj proj2` mid-run was said "deleted or replaced ...: this invocation's
    runs are not in it", and the rows still to write were dropped: the moved file
    held the run as streaming, with no result. A moved file still has a name."""
    import json
    import os
    import subprocess
    import sys

    proj, moved = tmp_path / "proj", tmp_path / "proj2"
    proj.mkdir()
    (proj / "mogplex.toml").write_text('[jobs.hello]\r\nrepo = "acme/api"\r\n'
                                       'prompt = "@emulator duration=0.5s"\r\n')
    (tmp_path / "mover.py").write_text(MOVER_PLUGIN.replace("FROM", repr(str(proj)))
                                       .replace("TO", repr(str(moved))))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    env["MOGRUN_POLL_INTERVAL"] = "0.1"
    ran = subprocess.run([sys.executable, "-m", "mogrun", "--local", "run", "-p",
                          str(tmp_path / "mover.py"), "hello"], cwd=proj, env=env,
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran
    assert "deleted or replaced" not in ran.stderr, ran.stderr
    shown = subprocess.run([sys.executable, "-m", "mogrun", "--local", "--json", "history"],
                           cwd=moved, env=env, capture_output=True, text=True, timeout=60)
    (row,) = [json.loads(line) for line in shown.stdout.splitlines()]
    assert (row["status"], row["outcome"], row["exit_code"]) == ("success", "success", 0), row
