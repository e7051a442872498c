"""A history row's values are read as their columns promise, whatever the file
holds: sqlite keeps any value in any column (a hand edit, another tool), and a
bad value is never a traceback, nor an attempt that replays the original run."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from .conftest import history_rows

JOBS = """
    # the one job: it fails, so rerun has something to start
    [jobs.failing]
    repo = "acme/web"
    prompt = \"\"\"
    fail
    @emulator status=failed duration=0.2s
    \"\"\"
    idempotency_key = "fail-key"

"""


def _set(root: Path, column: str, value: str) -> None:
    """Every row's ``column`` set to the SQL literal ``value``, as a hand edit would."""
    with contextlib.closing(sqlite3.connect(root / ".mogrun" / "history.db")) as db, db:
        db.execute(f"UPDATE runs SET {column} = {value}")


@pytest.mark.parametrize("value", ["'x'", "-5", "0", "X'0a'", "2.5"])
def test_an_attempt_that_is_not_a_number_from_1_reads_as_attempt_1(
        project, mogrun, mogrun_emulator, value) -> None:
    """``attempt = 'x'`` was a TypeError traceback in ``rerun``; ``-5`` planned
    "attempt -4" under the base key, which replays the original failed run."""
    root = project(JOBS)
    assert mogrun("failing").exit_code == 1
    _set(root, "attempt", value)

    preview = mogrun("rerun", "-n")
    assert preview.exit_code == 0, preview
    assert "Traceback" not in preview.output
    assert "  run failing:acme/web (attempt 2)" in preview.stdout, preview
    assert "Idempotency-Key: fail-key~attempt-2" in preview.stdout, preview

    assert mogrun("rerun").exit_code == 1  # it fails again: a fresh run, not a replay
    assert len(mogrun_emulator.runs) == 2
    latest = history_rows(mogrun, "-n", "1")[0]
    assert (latest["attempt"], latest["idempotency_key"]) == (2, "fail-key~attempt-2")


@pytest.mark.parametrize(("column", "value"), [
    ("exit_code", "'x'"), ("exit_code", "X'00ff'"), ("exit_code", "-5"), ("exit_code", "2.5"),
    ("attached", "'yes'"), ("attached", "X'01'"),
    ("gates", "-5"), ("gates", "2.5"), ("gates", "'\"text\"'"), ("gates", "'[1, \"a\"]'"),
    ("gates", "'{}'"), ("gates", "X'5b5d'"),
    ("started_at", "X'00ff'"), ("finished_at", "42"), ("status", "X'00ff'"),
    ("outcome", "7"), ("run_id", "X'00ff'"), ("message", "X'ff'"), ("job", "X'ff'"),
])
def test_an_odd_value_in_any_column_is_read_without_a_traceback(
        project, mogrun, column, value) -> None:
    root = project(JOBS)
    assert mogrun("failing").exit_code == 1
    _set(root, column, value)

    for command in (("history",), ("--json", "history"), ("status",), ("rerun", "-n")):
        result = mogrun(*command)
        assert "Traceback" not in result.output, (command, result)
        assert result.exit_code in (0, 1, 2, 64, 66), (command, result)
    [row] = [json.loads(line) for line in mogrun("--json", "history").stdout.splitlines()]
    assert isinstance(row["attempt"], int) and row["attempt"] >= 1
    assert row["exit_code"] is None or isinstance(row["exit_code"], int)
    assert isinstance(row["attached"], bool)
    assert all(isinstance(gate, dict) for gate in row["gates"])
    assert isinstance(row["started_at"], str) and isinstance(row["message"], str)


def test_a_key_mogrun_could_not_have_sent_is_not_derived_from(project, mogrun) -> None:
    """An edited key (not printable ASCII) was sent as the rerun's base and failed
    as an HTTP error; the task file's key is used instead."""
    root = project(JOBS)
    assert mogrun("failing").exit_code == 1
    _set(root, "idempotency_key", "X'00ff'")

    preview = mogrun("rerun", "-n")
    assert preview.exit_code == 0, preview
    assert "Idempotency-Key: fail-key~attempt-2" in preview.stdout, preview


@pytest.mark.parametrize("column", ["message", "repo", "invocation"])
def test_a_row_with_bytes_that_are_not_utf8_reads_with_them_replaced(
        project, mogrun, column) -> None:
    """sqlite's own decode raised (``Could not decode to UTF-8 column``) before
    ``_row`` saw the value: one bad byte made the whole history unreadable to
    ``history``, ``status`` and ``rerun``. The row reads with U+FFFD, the rest as kept."""
    root = project(JOBS)
    assert mogrun("failing").exit_code == 1
    assert mogrun("failing").exit_code == 1
    with contextlib.closing(sqlite3.connect(root / ".mogrun" / "history.db")) as db, db:
        first = db.execute("SELECT MIN(id) FROM runs").fetchone()[0]
        db.execute(f"UPDATE runs SET {column} = CAST(X'6261649f6279746573' AS TEXT)"
                   " WHERE id = ?", (first,))

    older, newer = reversed(history_rows(mogrun))
    assert older[column] == "bad\ufffdbytes", older
    assert newer["repo"] == "acme/web" and newer["outcome"] == "failed", newer
    for command in (["history"], ["status"], ["status", "failing"], ["rerun", "-n"]):
        result = mogrun(*command)
        assert result.exit_code in (0, 1), (command, result)
        assert "Traceback" not in result.output and "decode" not in result.output, result
