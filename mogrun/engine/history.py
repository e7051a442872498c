"""Local run history in ``.mogrun/history.db`` beside the task file.

Written as things happen (a row when a run starts, updated at each status
change and at the end) so a crash loses nothing already known; a burst of
updates from many runs is one transaction (``together``). One
connection guarded by a lock serves every worker thread; WAL mode lets a
second mogrun read while this one writes. Rows are keyed by API base URL
(``"local"`` for ``--local``) so emulator runs never mix with real ones, and
record the task file they came from (its name: ``mogplex.toml``,
``nightly.toml``), so two task files in one folder are two projects: what a
project did (its latest invocation, its runs) is read from its own rows and
from those recorded before rows knew their task file (``''``). What is the
server's truth is read from every row: a run id, and an idempotency key sent
before (keys are per account). Nothing secret is stored: callers mask job
secrets, and no token or webhook URL is ever passed in.

``History`` opens the file (``history_file``) and writes it; what the project
did is read back by its base ``HistoryReads`` (``history_reads``), a run id's
or a key's rows by ``HistoryLookups`` (``history_lookups``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mogrun.engine.history_file import (
    BUSY_STEP_MS,
    IN_MEMORY,
    OPEN_PATIENCE_MS,
    STOPPED_TRY_MS,
    HistoryFull,
    HistoryLocked,
    file_identity,
    history_path,
    hold,
    no_room,
    open_file,
    open_read_only,
    reads_need_upgrade,
    upgrade,
)
from mogrun.engine.history_lookups import HistoryLookups
from mogrun.engine.history_owner import owner
from mogrun.engine.history_row import COLUMNS, ended_fields, now_iso
from mogrun.errors import MogrunError

if TYPE_CHECKING:
    import sqlite3

LOCK_PATIENCE = 60.0  # seconds a write waits for another process's write lock
T = TypeVar("T")
FOREVER = float("inf")  # a patience that waits until the lock is let go (or ``stop``)
_UPDATABLE = frozenset({"run_id", "status", "outcome", "attached", "finished_at", "exit_code",
                        "gates", "message", "request", "automation"})


class History(HistoryLookups):
    """The history database of one project, shared by every worker thread.

    ``task_file`` (the task file's path relative to the project folder) is
    recorded on every row written, and scopes what the project did (``recent``,
    ``latest_invocation``, ``latest_invocation_of``, ``latest_per_job``) to that
    file's rows and to rows recorded before rows knew their file. ``None`` (a
    history opened without a task file) records ``''`` and reads every row."""

    def __init__(self, path: Path | str, base_url: str, task_file: str | None = None,
                 on_busy: Callable[[str], None] | None = None) -> None:
        import sqlite3

        self.path = Path(path)
        self.base_url = base_url
        self.task_file = task_file
        self.shard = ""  # the ``--shard I/N`` leg this invocation is: every row written says it
        # The jobs of this invocation that are fan-outs: every row of theirs says it.
        self.fan_outs: frozenset[str] = frozenset()
        # A stand-in's: the error opening the project's history, which it stands in for.
        self.unreadable: MogrunError | None = None
        # told once when opening the file or a write waits for another process's lock
        self.on_busy: Callable[[str], None] | None = on_busy
        self.stop: threading.Event | None = None  # set: a write stops waiting for a lock
        self._lock = threading.Lock()
        self._grouping: int | None = None  # the thread whose ``together`` holds a transaction
        self._read_columns = ", ".join(COLUMNS)  # what a read selects (``_read_only``)
        # Whether rows know their task file: not in a read-only history older than the
        # column (``_read_only``), whose rows are then every task file's.
        self._files_known = True
        self._fan_outs: dict[tuple[str, str, str | None], bool] = {}  # ``is_fan_out``'s
        self._legacy_end: int | None = None  # ``_before_files``'s, once known
        self._upgrade_due = False  # held back by another process's lock: at the first write
        self._busy_ms = BUSY_STEP_MS  # the connection's busy timeout: what one try waits
        # Opened read-only because another process's lock outlasted the open: a write
        # says so, not sqlite's "attempt to write a readonly database".
        self._locked_at_open = False
        try:
            self._db = open_file(self.path, self.on_busy, LOCK_PATIENCE)
            self._upgrade_or_defer()
        except (OSError, sqlite3.Error) as exc:
            self._db = self._read_only(exc)
            self._locked_at_open = "locked" in str(exc)
        self._file = file_identity(self.path)  # the file opened (``still_on_disk``)
        self._held = hold(self.path, self._file)  # a descriptor of it: moved is not deleted

    def _upgrade_or_defer(self) -> None:
        """Bring an older file up to this mogrun's columns, indexes and URL spellings.
        While another process holds its write lock (or the disk has no room for the
        indexes), what reads need (the columns, the spellings: an older mogrun's, from
        before either) is waited for as an open always did; the indexes alone wait
        for the first write (``_committed``), which waits for that lock as long as
        any write does and says so. With no room for the indexes, the session goes
        on without them (its rows still fit: an older mogrun made none) and the next
        open tries again. Waited for here, a lock or a full disk on a file that only
        lacked the indexes lost every row of the session to a read-only stand-in."""
        import sqlite3

        try:
            self._upgrade()
        except sqlite3.OperationalError as exc:
            full = no_room(exc)
            if "locked" not in str(exc) and not full:
                raise
            if not reads_need_upgrade(self._db):
                self._upgrade_due = not full
                return
            self._db.execute(f"PRAGMA busy_timeout = {OPEN_PATIENCE_MS}")
            try:
                self._upgrade()  # still refused: the read-only stand-in, as before
            finally:
                self._db.execute(f"PRAGMA busy_timeout = {BUSY_STEP_MS}")

    def _try_wait(self, patience: float, began: float) -> int:
        """Milliseconds one try of a write may wait in sqlite for another process's
        lock: a step (``BUSY_STEP_MS``: a long wait is said, and ``stop`` looked at,
        between steps), never past what is left of ``patience``. Once ``stop`` is set,
        ``STOPPED_TRY_MS``: time for another mogrun's write to commit, none for a lock
        held on (a write tried once waited a whole step in sqlite all the same: four
        such writes held a Ctrl-C 4 s; with no wait at all, a write that met another's
        commit was refused and the run's end went unrecorded)."""
        import time

        if self.stop is not None and self.stop.is_set():
            return STOPPED_TRY_MS
        left_ms = (patience - (time.monotonic() - began)) * 1000
        return BUSY_STEP_MS if left_ms >= BUSY_STEP_MS else max(0, int(left_ms))

    def _wait_at_most(self, busy_ms: int) -> None:
        """The connection's busy timeout set to ``busy_ms`` (``_lock`` held), when it is
        another: nearly every write keeps the step, and pays no statement for it."""
        if busy_ms != self._busy_ms:
            self._db.execute(f"PRAGMA busy_timeout = {busy_ms}")
            self._busy_ms = busy_ms

    def _upgrade(self) -> None:
        """``upgrade``, then none is due."""
        upgrade(self._db)
        self._upgrade_due = False

    def _upgrade_now(self) -> None:
        """The indexes an open put off, made before a write: with no room for them,
        the write is made without them (``_upgrade_or_defer``)."""
        import sqlite3

        try:
            self._upgrade()
        except sqlite3.OperationalError as exc:
            if not no_room(exc):
                raise
            self._upgrade_due = False  # the next open's

    def still_on_disk(self) -> bool:
        """Whether the file opened is still the one at ``path``: a history deleted
        (``rm -rf .mogrun``) or replaced while runs go on takes the rows written
        since with it, and sqlite says nothing. One moved with its project (``mv
        proj proj2`` mid-run) still has a name: the rows go on landing in it, where
        the project now is (it was said "deleted or replaced", and its last rows
        were dropped)."""
        if self._file is None or file_identity(self.path) == self._file:
            return True
        try:
            return self._held is not None and os.fstat(self._held).st_nlink > 0
        except OSError:
            return False

    def _read_only(self, failed: Exception) -> sqlite3.Connection:
        """The history as it is, where it cannot be written (a read-only folder or
        file, a CI cache): ``history`` and ``status`` still read it, and a write is
        then the error run's recorder warns of. Else the error opening it."""
        import sqlite3

        with contextlib.suppress(AttributeError, sqlite3.Error):  # the one that failed
            self._db.close()
        db, self._read_columns, self._files_known = open_read_only(self.path, failed)
        return db

    @classmethod
    def in_memory(cls, base_url: str, task_file: str | None = None) -> History:
        """An empty history that keeps nothing: for a command that can act on a run
        id without the project's history (which cannot be opened)."""
        return cls(IN_MEMORY, base_url, task_file)

    @classmethod
    def stand_in(cls, path: Path | str, error: MogrunError, base_url: str,
                 task_file: str | None = None) -> History:
        """``in_memory``, for a command that can act on a run id without the project's
        history at ``path``, which cannot be opened (``error``). Where that file is
        there (text, a truncated database, a directory), what the project did is not
        known: asking is ``error`` again (``unreadable``), never "no runs", and the
        history is named by its path, never sqlite's ``:memory:``."""
        history = cls.in_memory(base_url, task_file)
        history.path = Path(path)
        if os.path.lexists(path):
            history.unreadable = error
        return history

    def go_on_without(self, error: MogrunError) -> None:
        """Become ``stand_in`` (``error``: why this file cannot be read), for a
        command acting on a run id, after a read found the file damaged past what
        opening it checks (a page overwritten): the run is then read from the API,
        as where the file cannot be opened, and nothing more is asked of the file."""
        stand_in = History.stand_in(self.path, error, self.base_url, self.task_file)
        with self._lock:
            damaged, self._db = self._db, stand_in._db
            self.unreadable = error
            self._fan_outs.clear()
            self._legacy_end = None
        with contextlib.suppress(Exception):
            damaged.close()

    @classmethod
    def for_project(cls, project_dir: Path | str, base_url: str,
                    task_file: str | None = None,
                    on_busy: Callable[[str], None] | None = None) -> History:
        return cls(history_path(project_dir), base_url, task_file, on_busy)

    def close(self) -> None:
        with self._lock:
            self._db.close()
            held, self._held = getattr(self, "_held", None), None
            if held is not None:
                os.close(held)

    # --- writing ----------------------------------------------------------

    def record_start(self, invocation: str, job: str, repo: str, key: str | None, *,
                     attempt: int = 1, why: str = "", request: str = "",
                     automation: str = "", patience: float | None = None) -> int:
        """A row for a run (or an attempt of it) about to start; returns its row id."""
        return self._write(
            "INSERT INTO runs (invocation, base_url, job, repo, idempotency_key, started_at,"
            " attempt, why, request, task_file, automation, owner, shard, fan_out)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (invocation, self.base_url, job, repo, key, now_iso(), attempt, why, request,
             self.task_file or "", automation, owner(), self.shard, job in self.fan_outs),
            patience,
        )

    def record_planned(self, invocation: str, runs: Sequence[tuple[str, str, str]],
                       patience: float | None = None) -> list[int]:
        """A row for each run (job, repo, automation) the invocation will start,
        before any starts: one still waiting for its needs when mogrun is killed
        is then recorded (``rerun`` starts it). The first attempt's
        ``record_start`` fills it in (``claim``). Row ids, in order."""

        stamp, by = now_iso(), owner()

        def insert(db: sqlite3.Connection) -> list[int]:
            if not db.in_transaction:  # ``together``'s, when grouped
                db.execute("BEGIN")  # every row or none, in one commit
            return [int(db.execute(
                "INSERT INTO runs (invocation, base_url, job, repo, started_at, task_file,"
                " automation, owner, shard, fan_out) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (invocation, self.base_url, job, repo, stamp, self.task_file or "",
                 automation, by, self.shard, job in self.fan_outs)).lastrowid or 0)
                for job, repo, automation in runs]

        return self._committed(insert, patience)

    def claim(self, row_id: int, key: str | None, *, attempt: int = 1, why: str = "",
              request: str = "", patience: float | None = None) -> None:
        """A planned row's run is about to start: what ``record_start`` records."""
        self._write("UPDATE runs SET idempotency_key = ?, started_at = ?, attempt = ?, why = ?,"
                    " request = ? WHERE id = ?",
                    (key, now_iso(), attempt, why, request, row_id), patience)

    def update(self, row_id: int, *, patience: float | None = None, **fields: Any) -> None:
        """Change some columns of one row (run_id, status, outcome, ...)."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not history columns: {sorted(unknown)}")
        if not fields:
            return
        names = sorted(fields)
        values = [int(v) if isinstance(v, bool) else v for v in map(fields.__getitem__, names)]
        sets = " = ?, ".join(names)
        self._write(f"UPDATE runs SET {sets} = ? WHERE id = ?", (*values, row_id), patience)

    def together(self, writes: Sequence[Callable[[], object]],
                 patience: float | None = None) -> None:
        """``writes`` (calls of this history's writing methods, made on this thread)
        in one transaction, every one or none: the status changes of many runs that
        came while one was being written cost one commit, not one each (and let go
        of the GIL once, not at every statement)."""
        if len(writes) == 1:
            writes[0]()
            return

        def work(db: sqlite3.Connection) -> None:
            db.execute("BEGIN")
            self._grouping = threading.get_ident()
            try:
                for write in writes:
                    write()
            finally:
                self._grouping = None

        self._committed(work, patience)

    def adopt(self, row_id: int, run_id: str, key: str, patience: float | None = None) -> None:
        """Row ``row_id``'s run (``run_id``), attached to under its Idempotency-Key
        ``key``, is also the run of the rows of that key that a killed mogrun left with
        no run id and no end (``unconfirmed``): each learns it, and its end with
        ``also_ended``. A row with an outcome keeps what its invocation said."""
        self._write("UPDATE runs SET run_id = ? WHERE idempotency_key = ? AND base_url = ?"
                    " AND run_id IS NULL AND outcome IS NULL AND id != ?",
                    (run_id, key, self.base_url, row_id), patience)

    def also_ended(self, row_id: int, run_id: str, status: str, outcome: str,
                   patience: float | None = None) -> None:
        """The end of ``run_id`` (``status``, judged ``outcome``) that row ``row_id``
        recorded, written to the run's other rows not yet seen to end
        (``also_of_run``'s): one whose mogrun was killed while it followed the run,
        which another invocation then attached to, read as going for ever. Made as
        part of the write it follows (in ``together``, one transaction); an indexed
        read that finds no row for nearly every run."""
        from mogrun.outcomes import RunStatus

        stamp = now_iso()
        for other in self._others_of_run(run_id, row_id):
            if not RunStatus.is_terminal(other.status):
                self.update(other.id, patience=patience,
                            **ended_fields(other, status, outcome, stamp))

    def _write(self, sql: str, params: Sequence[Any], patience: float | None = None) -> int:
        return self._committed(lambda db: int(db.execute(sql, params).lastrowid or 0),
                               patience)

    def _committed(self, work: Callable[[sqlite3.Connection], T],
                   patience: float | None = None) -> T:
        """``work`` done and committed. Another process holding the write lock (a
        mogrun in another terminal mid-write, a sqlite shell left in a transaction)
        is waited for, ``patience`` at most (``FOREVER``: until it is let go; in
        either case until ``stop`` is set: Ctrl-C), and the wait is said once
        through ``on_busy`` after the first second. A wait given up on is
        ``HistoryLocked``: the caller keeps the write for later (``recorder``), so
        nothing is lost to a lock that is let go."""
        if self._grouping == threading.get_ident():  # in ``together``: its lock and commit
            return work(self._db)
        import sqlite3
        import time

        patience = LOCK_PATIENCE if patience is None else patience
        began = time.monotonic()
        said = False
        while True:
            with self._lock:
                try:
                    self._wait_at_most(self._try_wait(patience, began))
                    if self._upgrade_due:  # (its lock is waited for as this write's)
                        self._upgrade_now()
                    result = work(self._db)
                    self._db.commit()  # a transaction ``work`` began; nothing after one statement
                    return result
                except sqlite3.Error as exc:
                    with contextlib.suppress(sqlite3.Error):  # a broken file may refuse it too
                        self._db.rollback()
                    waited = time.monotonic() - began
                    stopped = self.stop is not None and self.stop.is_set()
                    if no_room(exc):
                        raise HistoryFull(f"cannot write run history {self.path}: {exc}") \
                            from exc
                    locked = "locked" in str(exc)
                    if self._locked_at_open:
                        raise MogrunError(
                            f"cannot write run history {self.path}: another process held "
                            "it locked past the wait as it was opened, so it was opened "
                            "read-only") from exc
                    if not locked or waited >= patience or stopped:
                        raise (HistoryLocked if locked else MogrunError)(
                            f"cannot write run history {self.path}: {exc}"
                            + (f" (waited {waited:.0f} s)" if waited >= 1 else "")) from exc
                except BaseException:  # not sqlite's (a bad column in ``together``):
                    with contextlib.suppress(sqlite3.Error):  # no transaction left open
                        self._db.rollback()
                    raise
            if not said and self.on_busy is not None:
                said = True
                up_to = "" if patience == FOREVER else f" up to {patience:.0f} s"
                self.on_busy(f"the run history {self.path} is locked by another process; "
                             f"waiting{up_to} to record the runs")
            time.sleep(0.05)
