"""History is per task file: two task files in one folder (``mogrun -f
nightly.toml ...`` and plain ``mogrun ...``) share ``.mogrun/history.db`` but not
their latest invocation, end to end against the emulator over loopback. Rows
recorded before the history knew its task files stay visible to every one."""

from __future__ import annotations

import sqlite3
import textwrap

from .conftest import HEADER, history_rows, json_lines

MAIN = """
    [jobs.lint]
    repo = "acme/api"
    prompt = "@emulator duration=0.2s"

    [jobs.shared]
    repo = "acme/api"
    prompt = "@emulator duration=0.2s"
"""

NIGHTLY = """
    [jobs.sweep]
    repo = "acme/web"
    prompt = "@emulator duration=0.2s status=failed"

    [jobs.shared]
    repo = "acme/web"
    prompt = "@emulator duration=0.2s status=failed"
"""

# The schema of the release before rows knew their task file.
OLD_SCHEMA = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invocation TEXT NOT NULL,
    base_url TEXT NOT NULL,
    job TEXT NOT NULL,
    repo TEXT NOT NULL,
    run_id TEXT,
    idempotency_key TEXT,
    status TEXT,
    outcome TEXT,
    attached INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    exit_code INTEGER,
    gates TEXT NOT NULL DEFAULT '[]',
    message TEXT NOT NULL DEFAULT '',
    attempt INTEGER NOT NULL DEFAULT 1,
    why TEXT NOT NULL DEFAULT '',
    request TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_job ON runs (base_url, job, id);
CREATE INDEX runs_by_run_id ON runs (base_url, run_id);
CREATE INDEX runs_by_key ON runs (base_url, idempotency_key);
"""
OLD_RUN = "0b7e2c4a-5d1f-4e8a-9c3b-2f6a8d1e7c90"


def _nightly(project) -> None:
    root = project(MAIN)
    (root / "nightly.toml").write_text(HEADER + textwrap.dedent(NIGHTLY), encoding="utf-8")


def test_each_task_file_has_its_own_latest_invocation(project, mogrun, mogrun_emulator):
    _nightly(project)
    assert mogrun("lint", "shared").exit_code == 0
    failed = mogrun("-f", "nightly.toml", "-k", "sweep", "shared")
    assert failed.exit_code == 1, failed
    nightly_runs = set(mogrun_emulator.runs[2:])
    assert len(nightly_runs) == 2
    started = len(mogrun_emulator.runs)

    # plain mogrun: mogplex.toml's runs only, all of which passed
    rerun = mogrun("rerun")
    assert rerun.exit_code == 0, rerun
    assert "nothing to rerun: every run of the latest invocation passed" in rerun.stderr
    shared = mogrun("rerun", "shared")  # the same job name in the other file failed
    assert shared.exit_code == 0, shared
    assert len(mogrun_emulator.runs) == started
    rows = history_rows(mogrun)
    assert sorted((r["job"], r["repo"], r["task_file"]) for r in rows) == [
        ("lint", "acme/api", "mogplex.toml"), ("shared", "acme/api", "mogplex.toml")]
    status = mogrun("status", "--exit-status")
    assert status.exit_code == 0, status
    assert not nightly_runs & set(status.stdout.split())
    assert mogrun("status", "shared", "--exit-status").exit_code == 0
    assert mogrun("status", "sweep").exit_code == 2  # not a job of mogplex.toml, never run by it
    assert mogrun("history", "--job", "sweep").exit_code == 2
    logs = mogrun("--json", "logs")
    assert logs.exit_code == 0, logs
    assert {e.get("run_id") for e in json_lines(logs.stdout)} & nightly_runs == set()
    # a run id is unique: any task file's status finds it
    by_id = mogrun("--json", "status", sorted(nightly_runs)[0])
    assert by_id.exit_code == 0, by_id
    assert json_lines(by_id.stdout)[0]["job"] in {"sweep", "shared"}

    # -f nightly.toml: its own runs, which failed
    assert sorted((r["job"], r["repo"], r["task_file"])
                  for r in history_rows(mogrun, "-f", "nightly.toml")) == [
        ("shared", "acme/web", "nightly.toml"), ("sweep", "acme/web", "nightly.toml")]
    assert mogrun("-f", "nightly.toml", "status", "--exit-status").exit_code == 1
    preview = mogrun("-f", "nightly.toml", "rerun", "-n")
    assert preview.exit_code == 0, preview
    assert "sweep:acme/web (attempt 2)" in preview.stdout
    assert "shared:acme/web (attempt 2)" in preview.stdout
    again = mogrun("-f", "nightly.toml", "rerun")
    assert again.exit_code == 1, again
    assert len(mogrun_emulator.runs) == started + 2
    assert mogrun("rerun").exit_code == 0  # still nothing for mogplex.toml
    assert len(mogrun_emulator.runs) == started + 2


def test_a_history_from_before_task_files_keeps_its_rows_for_every_file(
        project, mogrun, mogrun_emulator, tmp_path):
    _nightly(project)
    path = tmp_path / ".mogrun" / "history.db"
    path.parent.mkdir()
    with sqlite3.connect(path) as old:
        old.executescript(OLD_SCHEMA)
        old.execute(
            "INSERT INTO runs (invocation, base_url, job, repo, run_id, idempotency_key,"
            " status, outcome, started_at, finished_at, exit_code)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("20260101T000000-0ld0ld00", mogrun_emulator.url.rstrip("/"), "sweep", "acme/web",
             OLD_RUN, "sweep-key", "failed", "failed", "2026-01-01T00:00:00+00:00",
             "2026-01-01T00:01:00+00:00", 1))
    old.close()

    for args in ((), ("-f", "nightly.toml")):
        (row,) = history_rows(mogrun, *args)
        assert (row["run_id"], row["job"], row["task_file"]) == (OLD_RUN, "sweep", "")
    preview = mogrun("-f", "nightly.toml", "rerun", "-n")  # its latest invocation: the old one
    assert preview.exit_code == 0, preview
    assert "sweep:acme/web (attempt 2)" in preview.stdout

    assert mogrun("lint").exit_code == 0
    assert [(r["job"], r["task_file"]) for r in history_rows(mogrun)] == [
        ("lint", "mogplex.toml"), ("sweep", "")]
    assert [r["job"] for r in history_rows(mogrun, "-f", "nightly.toml")] == ["sweep"]
    rerun = mogrun("rerun")  # mogplex.toml's latest invocation is now its own, which passed
    assert rerun.exit_code == 0, rerun
    assert "nothing to rerun" in rerun.stderr
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT task_file FROM runs ORDER BY id").fetchall() == [
            ("",), ("mogplex.toml",)]
