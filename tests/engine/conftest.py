"""Helpers for end-to-end tests of the run engine: a project directory with a
task file, run through the CLI in-process against the emulator over loopback."""

from __future__ import annotations

import json
import os
import sqlite3
import textwrap
from pathlib import Path

import pytest

from mogrun.testing import MogrunProject

# Short emulated runs are followed every 0.1 s (test-only floor; the default stays 1.5 s).
FAST = {"MOGRUN_POLL_INTERVAL": "0.1", "GITHUB_ACTIONS": None, "NO_COLOR": None}

HEADER = """\
[mogplex]
requests_per_minute = 600
starts_per_minute = 100
"""
# A fan-out whose runs never end (each prompt names its repo): for status, logs and
# cancel while runs are going.
FAN_GOING = """
    [jobs.fan]
    repo = ["acme/api", "acme/web"]
    prompt = "{{ repo }}\\n@emulator duration=never interval=0.2s"
"""


@pytest.fixture
def project(mogrun_project: MogrunProject):
    """``project(jobs_toml) -> Path``: writes mogplex.toml (budget lifted) and returns the dir."""

    def write(jobs: str, header: str = HEADER) -> Path:
        mogrun_project.path.write_text(header + textwrap.dedent(jobs), encoding="utf-8")
        return mogrun_project.root

    return write


@pytest.fixture
def mogrun(mogrun_project: MogrunProject, mogrun_emulator):
    """``mogrun(*args, env=None) -> MogrunResult`` in the project dir, against the emulator."""

    def run(*args: str, env: dict | None = None):
        return mogrun_project.run(*args, env={**FAST, **(env or {})})

    return run


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def history_rows(mogrun, *args: str) -> list[dict]:
    result = mogrun("--json", "history", *args)
    assert result.exit_code == 0, result
    return json_lines(result.stdout)


def subprocess_env(emulator=None, **extra: str) -> dict[str, str]:
    """The environment of a mogrun started as another process: this machine's, less
    what a test must not inherit (``MOGRUN_*``, ``GITHUB_*``), aimed at ``emulator``
    (polled every 0.1 s) when one is given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    if emulator is not None:
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token,
                   MOGRUN_POLL_INTERVAL="0.1")
    return {**env, **extra}


def runs_by_repo(emulator, *repos: str) -> tuple[str, ...]:
    """The emulator's run ids in the order of ``repos``: a fan-out starts its runs in
    parallel, so creation order says nothing about which repo a run is for."""
    by_id = {emulator.run_detail(run)["repoId"]: run for run in emulator.runs}
    return tuple(by_id[emulator.repo_id(repo)] for repo in repos)


# sqlite's own max_page_count: a history file with no limit but the disk's.
NO_PAGE_LIMIT = 1073741823


def disk_full(db: sqlite3.Connection, room: int = 0) -> None:
    """``db``'s disk full, but for ``room`` more pages: sqlite's page limit, which
    fails a write as ENOSPC does (``SQLITE_FULL``). ``room_again`` lifts it."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages + room}")


def room_again(db: sqlite3.Connection) -> None:
    db.execute(f"PRAGMA max_page_count = {NO_PAGE_LIMIT}")


def as_older_mogrun_left(db: Path, sql: str = "") -> None:
    """The history file ``db`` without the indexes mogrun added after 58ea817 (and
    ``sql`` made of it): as the mogrun before them left it."""
    older = sqlite3.connect(db, isolation_level=None)
    older.executescript(f"DROP INDEX runs_by_invocation; DROP INDEX runs_by_recency; {sql}")
    older.close()
