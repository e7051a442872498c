"""A write lock on the history held by another process past the writes' patience:
the session's rows are kept and written once it is let go, and any never written
are named. Patience is shortened (``LOCK_PATIENCE``) so a test waits seconds."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from mogrun.engine import history
from mogrun.engine.history import History
from mogrun.testing import MogrunProject

from .conftest import as_older_mogrun_left, disk_full, subprocess_env

TASKS = ('# one run that outlives a short lock\r\n[jobs.ok]\r\nrepo = "acme/api"\r\n'
         'prompt = "@emulator duration=3s events=4"\r\n\r\n')


def _project(tmp_path: Path) -> MogrunProject:
    project = MogrunProject(tmp_path)
    project.write(TASKS.replace("duration=3s", "duration=0.2s"))
    assert project.run("--local", "-q", "ok").exit_code == 0  # the history exists
    project.write(TASKS)
    return project


def _hold(path: Path, seconds: float, *, exclusive: bool = False) -> threading.Thread:
    """Another connection's write lock, as a sqlite shell mid-transaction holds it;
    ``exclusive``: the whole file, no read let in (``PRAGMA locking_mode=EXCLUSIVE``
    and ``BEGIN EXCLUSIVE``)."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    if exclusive:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE" if exclusive else "BEGIN IMMEDIATE")
    holder.execute("UPDATE runs SET message = message WHERE id = 1")

    def let_go() -> None:
        time.sleep(seconds)
        holder.execute("ROLLBACK")
        holder.close()

    thread = threading.Thread(target=let_go, daemon=True)
    thread.start()
    return thread


def _latest(project: MogrunProject) -> dict[str, object]:
    shown = project.run("--local", "--json", "history", "-n", "3")
    assert shown.exit_code == 0, shown
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert len(rows) == 2, rows
    return rows[0]


def test_a_lock_let_go_mid_run_loses_none_of_its_rows(tmp_path, monkeypatch):
    """Held past the patience: mogrun said "runs are no longer recorded" and the run
    (real, paid for) never reached the history though the file was free for most of
    it."""
    monkeypatch.setattr(history, "LOCK_PATIENCE", 1.0)
    project = _project(tmp_path)
    _hold(tmp_path / ".mogrun" / "history.db", 2.0)
    result = project.run("--local", "ok")
    assert result.exit_code == 0, result
    assert "no longer recorded" not in result.stderr, result
    assert ("database is locked (waited 1 s); the runs' rows are kept and written once it "
            "is let go") in result.stderr, result
    assert "not recorded in the run history" not in result.stderr, result
    row = _latest(project)
    assert row["outcome"] == "success" and row["status"] == "success", row
    assert str(row["run_id"]).strip() and row["idempotency_key"], row
    assert row["exit_code"] == 0 and row["finished_at"], row


def test_a_lock_held_past_the_runs_is_waited_for_at_the_end(tmp_path, monkeypatch):
    """The session's end waits, said, for the lock to be let go and then writes it all."""
    monkeypatch.setattr(history, "LOCK_PATIENCE", 0.5)
    project = _project(tmp_path)
    began = time.monotonic()
    _hold(tmp_path / ".mogrun" / "history.db", 10.0)
    result = project.run("--local", "ok")
    assert time.monotonic() - began >= 10.0
    assert result.exit_code == 0, result
    assert ("write(s) of this session's runs wait for the run history "
            in result.stderr), result
    assert "(Ctrl-C to stop: the runs not recorded are then named)" in result.stderr
    assert "not recorded in the run history" not in result.stderr, result
    assert _latest(project)["outcome"] == "success"


def test_ctrl_c_at_the_end_wait_names_the_runs_not_recorded(tmp_path):
    """A lock never let go: the summary did not say which runs the history lacks."""
    _project(tmp_path)
    db = tmp_path / ".mogrun" / "history.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    env = subprocess_env()
    code = ("import sys; from mogrun.engine import history; history.LOCK_PATIENCE = 0.5; "
            "from mogrun.cli.app import main; sys.argv = ['mogrun', '--local', 'ok']; main()")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said = ""
        while "wait for the run history" not in said:  # the end's wait is said
            line = proc.stderr.readline()
            assert line, (said, proc.stdout.read())
            said += line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        holder.execute("ROLLBACK")
    said += err
    assert "no longer recorded" not in said, said
    named = [line for line in said.splitlines() if "not recorded in the run history" in line]
    assert len(named) == 1, said
    assert f"not recorded in the run history {db} (status and rerun cannot see them): " \
           "ok:acme/api (run " in named[0], named
    assert ", key mogrun-ok-" in named[0], named
    assert "Traceback" not in said + out


def test_a_history_that_breaks_names_the_runs_it_lost(tmp_path, monkeypatch):
    """A non-lock error stops recording (as before) and the end names the runs."""
    project = _project(tmp_path)
    real = history.History.update

    def broken(self, row_id, **fields):
        if "run_id" in fields:
            raise history.MogrunError(f"cannot write run history {self.path}: disk I/O error")
        return real(self, row_id, **fields)

    monkeypatch.setattr(history.History, "update", broken)
    result = project.run("--local", "ok")
    assert result.exit_code == 0, result
    assert "disk I/O error; runs are no longer recorded" in result.stderr, result
    assert "not recorded in the run history" in result.stderr, result
    assert "ok:acme/api (run " in result.stderr, result



def _indexes_and_columns(db: Path) -> tuple[set[str], set[str]]:
    with sqlite3.connect(db) as upgraded:
        return ({name for _, name, *_ in upgraded.execute("PRAGMA index_list(runs)")},
                {column[1] for column in upgraded.execute("PRAGMA table_info(runs)")})


def test_an_older_file_locked_at_open_is_upgraded_at_the_first_write_said(tmp_path):
    """An older file (two indexes short) met another process's lock at open: mogrun
    waited 10 s saying nothing, then fell back to a read-only copy of the file and
    lost every row of the session. The indexes now wait for the first write, as
    long as a write waits, and it says so."""
    project = _project(tmp_path)
    db = tmp_path / ".mogrun" / "history.db"
    as_older_mogrun_left(db)
    _hold(db, 3.0)
    result = project.run("--local", "ok")
    assert result.exit_code == 0, result
    assert "is locked by another process; waiting up to 60 s to record the runs" \
        in result.stderr, result
    assert "not recorded" not in result.stderr and "cannot" not in result.stderr, result
    row = _latest(project)
    assert row["outcome"] == "success" and row["run_id"], row
    assert {"runs_by_invocation", "runs_by_recency"} <= _indexes_and_columns(db)[0]


def test_what_reads_need_of_an_upgrade_is_waited_for_at_open(tmp_path):
    """Put off to the first write, the upgrade left an older file's rows under their
    old URL spelling (and without the columns queries name) for commands that never
    write: under a 3 s lock, ``status`` said "No runs recorded yet" and to make a
    writable file writable. What reads need is waited for at open, as before."""
    db = tmp_path / "history.db"
    url = "http://127.0.0.1:9"
    History(db, url, "mogplex.toml").record_start("inv", "ok", "acme/api", "k1", request="{}")
    as_older_mogrun_left(db, "UPDATE runs SET base_url = 'HTTP://127.0.0.1:9/';"
               "ALTER TABLE runs DROP COLUMN owner;")
    _hold(db, 3.0)
    history = History(db, url, "mogplex.toml")
    assert [row.idempotency_key for row in history.latest_invocation_of("ok")] == ["k1"]
    assert history.keys_sent_before({"k1"}, "another") == frozenset({"k1"})
    indexes, columns = _indexes_and_columns(db)
    assert {"runs_by_invocation", "runs_by_recency"} <= indexes and "owner" in columns


def test_indexes_put_off_by_a_lock_and_then_without_room_do_not_hold_the_rows(tmp_path):
    """Put off by a lock at open, the indexes were tried again before each write: with
    the disk then too full for them (not for a row), no row was written."""
    db = tmp_path / "history.db"
    History(db, "u", "f").record_start("i0", "ok", "acme/api", "k0")
    as_older_mogrun_left(db, "VACUUM;")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a lock at open: the indexes wait for a write
    history = History(db, "u", "f")
    holder.execute("ROLLBACK")
    holder.close()
    assert history._upgrade_due
    disk_full(history._db, room=1)  # a row's room, no more
    history.record_start("i1", "ok", "acme/api", "k1")
    assert [row.idempotency_key for row in history.recent(5)] == ["k1", "k0"]


def test_a_history_held_exclusively_at_open_is_waited_for_said(tmp_path):
    """`history` and `status` sat silent while another process held the file: each
    of a hundred tries to open it waited sqlite's 10 s (a quarter of an hour, for a
    lock held that long). The wait is said after a second, and bounded."""
    project = _project(tmp_path)
    db = tmp_path / ".mogrun" / "history.db"
    holder = _hold(db, 3.0, exclusive=True)
    began = time.monotonic()
    shown = project.run("--local", "history")
    took = time.monotonic() - began
    holder.join()
    assert shown.exit_code == 0, shown
    assert f"the run history {db} is locked by another process; waiting up to 60 s to " \
        "open it" in shown.stderr, shown
    assert took < 30, took
    assert "ok" in shown.stdout, shown


def test_a_history_held_exclusively_past_the_open_names_the_lock(tmp_path, monkeypatch):
    """A lock held past the open's wait left the history read-only for the session,
    and the warning blamed the file: "attempt to write a readonly database" (a
    user then looked at permissions, not at the sqlite shell holding it)."""
    monkeypatch.setattr(history, "LOCK_PATIENCE", 0.5)
    project = _project(tmp_path)
    project.write(TASKS.replace("duration=3s", "duration=0.2s"))
    db = tmp_path / ".mogrun" / "history.db"
    holder = _hold(db, 1.5, exclusive=True)
    result = project.run("--local", "ok")
    holder.join()
    assert result.exit_code == 0, result
    assert "readonly database" not in result.stderr, result
    assert (f"cannot write run history {db}: another process held it locked past the wait "
            "as it was opened, so it was opened read-only") in result.stderr, result
