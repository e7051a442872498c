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
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mogrun.engine.history_file import (
    BUSY_STEP_MS,
    DISTINCT_BASE_URLS,
    IN_MEMORY,
    OPEN_PATIENCE_MS,
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
from mogrun.engine.history_owner import owner
from mogrun.engine.history_reads import HistoryReads, rows_of
from mogrun.engine.history_row import (
    COLUMNS,
    HistoryRow,
    ended_fields,
    now_iso,
)
from mogrun.errors import MogrunError

if TYPE_CHECKING:
    import sqlite3

LOCK_PATIENCE = 60.0  # seconds a write waits for another process's write lock
T = TypeVar("T")
FOREVER = float("inf")  # a patience that waits until the lock is let go (or ``stop``)
_IN_CHUNK = 500  # keys in one ``IN (...)``: well under sqlite's 32,766 parameters
# A key's row an earlier start wrote: another invocation's (its one parameter), with
# the body it sent (a planned row not yet claimed has none): recorded just before the
# start went out, or before a sandbox slot was waited for.
_SENT_ELSEWHERE = "invocation != ? AND request != ''"
# ... that made a run, or may have (no end recorded: its mogrun was killed; or an end
# that says so, one of ``runner.may_have_started``'s; the three parameters after the
# invocation, ``_made_params``). A start given up before it was sent (its
# capacity_wait spent, a 429) made none: its key replays nothing, and the next start
# with it needs a sandbox slot like any.
_MADE_ELSEWHERE = (f"{_SENT_ELSEWHERE} AND (run_id IS NOT NULL OR outcome IS NULL "
                   "OR message IN (?, ?, ?))")
_UPDATABLE = frozenset({"run_id", "status", "outcome", "attached", "finished_at", "exit_code",
                        "gates", "message", "request", "automation"})


class History(HistoryReads):
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
        try:
            self._db = open_file(self.path, self.on_busy, LOCK_PATIENCE)
            self._upgrade_or_defer()
        except (OSError, sqlite3.Error) as exc:
            self._db = self._read_only(exc)
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

    # --- reading: what else rows say (the project's own reads: HistoryReads) ---

    def _select(self, where: str = "", params: Sequence[Any] = (), limit: int | None = None
                ) -> list[HistoryRow]:
        """Rows of every task file, newest first: for the server's truth (a run id,
        a key sent before), not for what this project did."""
        return self._query(where, params, limit)

    def is_fan_out(self, row: HistoryRow) -> bool:
        """Whether ``row``'s job was a fan-out: as its row says (the job's repos in the
        task file it ran from), or, for a row recorded before rows said so, whether
        it ran more than one run in that invocation. A ``--shard`` leg or a rerun that
        held one of a fan-out's runs is still the fan-out's. The one rule of a run's
        label (``job:owner/name``) and of ``repo_dropped``; counted once per invocation
        and job (an invocation plans every run's row as it begins): reading the job's
        rows again for each of 1,000 runs took ``logs``, ``cancel`` and ``rerun`` 10
        to 46 seconds."""
        if row.fan_out:
            return True
        asked = (row.invocation, row.job, row.task_file)
        known = self._fan_outs.get(asked)
        if known is None:
            sql = ("SELECT COUNT(DISTINCT repo) FROM runs WHERE base_url = ? AND invocation = ?"
                   " AND job = ?")
            params: tuple[Any, ...] = (self.base_url, row.invocation, row.job)
            if row.task_file is not None and self._files_known:  # one task file's
                sql, params = sql + " AND task_file = ?", (*params, row.task_file)
            known = self._fan_outs[asked] = self._read(sql, params)[0][0] > 1
        return known

    def earlier_start(self, key: str, invocation: str) -> HistoryRow | None:
        """The latest row of another invocation that sent ``key`` with a body."""
        rows = self._select(f"idempotency_key = ? AND {_SENT_ELSEWHERE}", (key, invocation),
                            limit=1)
        return rows[0] if rows else None

    def keys_sent_before(self, keys: Collection[str], invocation: str) -> frozenset[str]:
        """Those of ``keys`` another invocation sent and made a run with, or may have
        (``_MADE_ELSEWHERE``): a start with one replays that run and needs no sandbox
        slot. Looked up by key (``_by_keys``): a fan-out asks once for all its runs,
        not once before each start."""
        return frozenset(values[0] for values in self._by_keys(
            "SELECT DISTINCT idempotency_key", keys, f"AND {_MADE_ELSEWHERE}",
            _made_params(invocation)))

    def rows_keyed(self, job: str, keys: Collection[str]) -> list[HistoryRow]:
        """The rows of ``job`` in this history's scope (``_scoped``'s) whose key is one
        of ``keys``, looked up by key (``_by_keys``): ``rerun`` read every row the job
        ever had for this, 3.5 s on a year's history of a million rows."""
        if self.unreadable is not None:
            raise self.unreadable
        files = (set(self._task_files()) if self.task_file is not None and self._files_known
                 else None)
        before = self._before_files() if files is not None and "" in files else 0
        found = rows_of(self._by_keys(f"SELECT {self._read_columns}", keys, "AND job = ?",
                                        (job,)))
        return [row for row in found if files is None or (
            row.task_file in files and (row.task_file != "" or row.id < before))]

    def _by_keys(self, select: str, keys: Collection[str], where: str,
                 params: Sequence[Any]) -> Iterator[Any]:
        """``select ... FROM runs`` of this API's rows whose key is one of ``keys`` and
        that meet ``where`` (``params``), through ``runs_by_key``, ``_IN_CHUNK`` keys a
        query (sqlite caps a statement's parameters)."""
        wanted = sorted(keys)
        for at in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[at:at + _IN_CHUNK]
            yield from self._read(
                f"{select} FROM runs WHERE base_url = ? AND idempotency_key IN"
                f" ({', '.join('?' * len(chunk))}) {where}", (self.base_url, *chunk, *params))

    def by_run_id(self, run_id: str) -> HistoryRow | None:
        rows = self._select("run_id = ?", (run_id,), limit=1)
        return rows[0] if rows else None

    def run_ids_starting(self, prefix: str, limit: int = 3) -> list[str]:
        """The run ids recorded here that begin with ``prefix`` (hex digits and
        dashes only), newest first: what a pasted short id meant."""
        if self.unreadable is not None or not all(c in "0123456789abcdef-" for c in prefix):
            return []
        found = self._read("SELECT run_id FROM runs WHERE base_url = ? AND run_id LIKE ? "
                           "ORDER BY id DESC", (self.base_url, prefix + "%"))
        return list(dict.fromkeys(values[0] for values in found))[:limit]

    def recorded_under(self, run_id: str) -> str | None:
        """The other API base URL (``"local"``, another URL) ``run_id`` was recorded
        under, if any: where to point a run id this base URL has no row of."""
        if self.unreadable is not None:
            return None
        # One seek of runs_by_run_id for each other base URL (a handful), where
        # ``base_url != ?`` read the whole table: 0.09 s at a million rows, warm.
        last = {str(url): found[0][0] for (url,) in self._read(DISTINCT_BASE_URLS, ())
                if url != self.base_url and (found := self._read(
                    "SELECT MAX(id) FROM runs WHERE base_url = ? AND run_id = ?",
                    (url, run_id)))[0][0] is not None}
        return max(last, key=last.__getitem__) if last else None

    def also_of_run(self, row: HistoryRow) -> list[HistoryRow]:
        """The other rows of ``row``'s run (a rerun that left it alone while it went
        recorded it again, in its own invocation), newest first: what is learnt of
        the run is true of each."""
        return self._others_of_run(row.run_id, row.id)

    def _others_of_run(self, run_id: str | None, row_id: int) -> list[HistoryRow]:
        if not run_id:
            return []
        return self._select("run_id = ? AND id != ?", (run_id, row_id))

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

    def elsewhere(self, job: str | None = None,
                  repo: str | None = None) -> list[tuple[str, int]]:
        """The other API base URLs (``"local"`` among them) this task file recorded runs
        under (of ``job``, and of its ``repo`` as stored), each with how many, the
        latest first: what to point at when this base URL has none. Asked only then,
        so a scan of the table is fine."""
        if self.unreadable is not None:
            raise self.unreadable
        sql = "SELECT base_url, COUNT(*) FROM runs WHERE base_url != ?"
        params: list[Any] = [self.base_url]
        if self.task_file is not None and self._files_known:
            sql += " AND task_file IN (?, '')"
            params.append(self.task_file)
        for column, value in (("job", job), ("repo", repo)):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        sql += " GROUP BY base_url ORDER BY MAX(id) DESC"
        return [(str(url), int(count)) for url, count in self._read(sql, params)]


def _made_params(invocation: str) -> tuple[str, ...]:
    """``_MADE_ELSEWHERE``'s parameters (the runner's words for a start that may have
    made a run; imported when asked, as only a run asks)."""
    from mogrun.engine.runner import MAYBE_STARTED, UNANSWERED, UNCONFIRMED

    return invocation, MAYBE_STARTED, UNCONFIRMED, UNANSWERED
