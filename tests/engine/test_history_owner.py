"""Which process a history row's owner (``host:pid``) names: a row with no outcome
waits for the mogrun that wrote it only while that very process lives. A killed
mogrun's pid taken by another process (one that only mentions mogrun, a mogrun
begun after the row, this very process) made ``status`` show the row waiting for
ever and ``rerun`` and ``cancel`` name an unrelated process. Real processes."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mogrun.engine.history import History
from mogrun.engine.history_owner import owner
from mogrun.engine.history_row import HistoryRow, iso_of

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

SLEEP = "import time; time.sleep(60)"


@contextlib.contextmanager
def process(*argv: str) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen([sys.executable, *argv])
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/proc/{proc.pid}/cmdline").read_bytes().endswith(
                argv[-1].encode() + b"\0"):  # the child's own argv, not the fork's
            assert time.monotonic() < deadline
            time.sleep(0.01)
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def row_owned_by(tmp_path: Path, pid: int, written: float) -> HistoryRow:
    """A row still to start (no outcome, no run) that process ``pid`` wrote at ``written``."""
    path = tmp_path / "history.db"
    history = History(path, "http://127.0.0.1:1")
    history.record_planned("inv", [("job", "acme/api", "")])
    history.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        host = owner().rpartition(":")[0]
        db.execute("UPDATE runs SET owner = ?, started_at = ?", (f"{host}:{pid}", iso_of(written)))
        db.commit()
    history = History(path, "http://127.0.0.1:1")
    try:
        (row,) = history.recent()
    finally:
        history.close()
    return row


def test_a_live_mogrun_that_wrote_the_row_is_its_owner(tmp_path):
    with process("-c", SLEEP, "-m", "mogrun") as proc:  # runs as `python ... -m mogrun`
        row = row_owned_by(tmp_path, proc.pid, time.time() + 60)  # written after it began
        assert row.live_owner == proc.pid and row.waiting


def test_a_process_that_only_mentions_mogrun_is_not_its_owner(tmp_path):
    with process("-c", SLEEP, "mogrun-notes.log") as proc:  # as `tail -f mogrun-notes.log`
        row = row_owned_by(tmp_path, proc.pid, time.time() + 60)
        assert row.live_owner is None and not row.waiting


def test_a_mogrun_begun_after_the_row_took_a_dead_ones_pid(tmp_path):
    with process("-c", SLEEP, "-m", "mogrun") as proc:
        row = row_owned_by(tmp_path, proc.pid, time.time() - 600)  # before it began
        assert row.live_owner is None and not row.waiting


def test_this_process_is_never_the_other_mogrun(tmp_path):
    # A container with a fixed hostname gives a rerun the pid the killed mogrun had: a
    # process run as mogrun finds its own pid on the row.
    check = ("import os, sys, time; sys.path[:0] = [sys.argv[1]]; "
             "from test_history_owner import row_owned_by; from pathlib import Path; "
             "row = row_owned_by(Path(sys.argv[2]), os.getpid(), time.time() + 60); "
             "print(row.live_owner, row.waiting)")
    done = subprocess.run([sys.executable, "-c", check, str(Path(__file__).parent),
                           str(tmp_path), "-m", "mogrun"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.stdout.split() == ["None", "False"], done
