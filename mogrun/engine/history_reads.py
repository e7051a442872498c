"""What a project did, read back from its history: its latest invocation, the
latest attempt of each run, every leg of a ``--shard I/N`` matrix, its recent runs
and its jobs.

A project's rows are its task file's and those recorded before rows knew their
task file (``''``, up to the first row that did: ``_before_files``); each read is a
range or a seek of an index, never every row of a job or a file. ``HistoryReads``
is a base of ``History`` (through ``HistoryLookups``, the reads by run id and key):
the connection, its lock and the scope it reads are set as ``History`` opens the
file. ``_row`` is the one place a row is read: sqlite keeps any value in any
column, and a read never fails on one.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mogrun.engine.history_file import way_out
from mogrun.engine.history_row import COLUMNS, HistoryRow
from mogrun.errors import MogrunError, UsageError
from mogrun.reponames import repo_key

if TYPE_CHECKING:
    import sqlite3

STREAM_BATCH = 1000  # rows a streamed read (``stream_recent``) fetches at a time
SQLITE_MAX_INT = 2**63 - 1


class HistoryReads:
    """The reads of what the project did, for ``History`` (which opens the file and
    sets what they read: the connection, its lock, the base URL and task file)."""

    path: Path
    base_url: str
    task_file: str | None
    unreadable: MogrunError | None  # a stand-in's: every read of the project is it
    _db: sqlite3.Connection
    _lock: threading.Lock
    _grouping: int | None  # the thread whose ``together`` holds a transaction
    _read_columns: str  # what a read selects
    _files_known: bool  # rows know their task file (not in an older read-only file)
    _legacy_end: int | None  # ``_before_files``'s, once known

    def _read(self, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
        """Every row of a query; a file damaged past what opening it checks (a
        page overwritten) is one clear error, not sqlite's traceback."""
        import sqlite3

        # In ``together`` (a write that reads, ``also_ended``): its lock, its transaction.
        grouped = self._grouping == threading.get_ident()
        with contextlib.nullcontext() if grouped else self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._unreadable(exc) from exc

    def _unreadable(self, exc: Exception) -> MogrunError:
        """A read sqlite refused (a page overwritten), as one clear error."""
        return MogrunError(f"cannot read run history {self.path}: {exc}",
                           context=way_out(self.path))

    def _scoped(self, where: str = "", params: Sequence[Any] = (), limit: int | None = None
                ) -> list[HistoryRow]:
        """Rows of this task file and rows recorded before rows knew theirs, newest
        first. One query per file, merged here: each is a range of ``runs_by_file``
        read newest first and stopped at ``limit``, where ``task_file IN (?, '')``
        would sort every row of the job first."""
        if self.unreadable is not None:
            raise self.unreadable
        if self.task_file is None:
            return self._query(where, params, limit)
        rows = [row for file in self._task_files()
                for row in self._query(where, params, limit, file)]
        rows.sort(key=lambda row: row.id, reverse=True)
        return rows if limit is None else rows[:max(int(limit), 0)]

    def _query(self, where: str, params: Sequence[Any], limit: int | None,
               task_file: str | None = None) -> list[HistoryRow]:
        return [_row(values) for values in self._read(
            *self._select_sql(where, params, limit, task_file))]

    def _of_invocation(self, invocation: str, where: str, params: Sequence[Any],
                       limit: int | None, task_file: str | None) -> list[HistoryRow]:
        """Rows of one invocation (and ``where``), newest first: a range of
        runs_by_invocation, its few rows sorted. Ordered by ``+id``, which no index
        gives: by ``id``, sqlite took runs_by_recency's order over the task file's
        every row to skip that sort (0.25 s at a million rows, not 1 ms)."""
        return [_row(values) for values in self._read(*self._select_sql(
            f"invocation = ?{where}", (invocation, *params), limit, task_file, order="+id"))]

    def _select_sql(self, where: str, params: Sequence[Any], limit: int | None,
                    task_file: str | None, order: str = "id") -> tuple[str, tuple[Any, ...]]:
        sql = f"SELECT {self._read_columns} FROM runs WHERE base_url = ?"
        first: tuple[Any, ...] = (self.base_url,)
        if task_file is not None and self._files_known:
            sql += " AND task_file = ?"
            first += (task_file,)
            if task_file == "":
                sql += " AND id < ?"
                first += (self._before_files(),)
        if where:
            sql += f" AND ({where})"
        sql += f" ORDER BY {order} DESC"
        if limit is not None:
            # SQLite integers are 64-bit: a larger -n means "all of them", not a crash.
            sql += f" LIMIT {min(int(limit), SQLITE_MAX_INT)}"
        return sql, (*first, *params)

    def recent(self, limit: int = 50, job: str | None = None,
               repo: str | None = None) -> list[HistoryRow]:
        """The newest runs first (of one job when ``job`` is given, and of one of
        its repos, in any case, when ``repo`` is too)."""
        return self._scoped(*job_and_repo_where(job, repo), limit=limit)

    def stream_recent(self, limit: int, job: str | None = None,
                      repo: str | None = None) -> Iterator[HistoryRow]:
        """``recent``'s rows, read as they are used (``--json history`` of a year's
        runs held every row at once: 310 MB for 125,900). Each file's query is read
        ``STREAM_BATCH`` rows at a time, the two merged newest first."""
        import heapq
        import itertools

        if self.unreadable is not None:
            raise self.unreadable
        where, params = job_and_repo_where(job, repo)
        files = self._task_files() if self.task_file is not None else [None]
        streams = [self._stream(*self._select_sql(where, params, limit, file))
                   for file in files]
        merged = heapq.merge(*streams, key=lambda row: -row.id)
        return itertools.islice(merged, min(int(limit), SQLITE_MAX_INT))

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[HistoryRow]:
        """A query's rows, ``STREAM_BATCH`` at a time (``_read``'s lock and errors)."""
        import sqlite3

        try:
            with self._lock:
                cursor = self._db.execute(sql, params)
            while True:
                with self._lock:
                    batch = cursor.fetchmany(STREAM_BATCH)
                if not batch:
                    return
                yield from map(_row, batch)
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from exc

    def latest_invocation_of(self, job: str) -> list[HistoryRow]:
        """The latest attempt of every run of ``job``'s latest invocation, oldest first
        (what ``status``, ``logs``, ``cancel`` and ``rerun`` act on). One made by a
        ``--shard I/N`` leg is every leg's: each leg is an invocation of its own, and
        the last to end held only its share of the runs."""
        heads = self._scoped("job = ?", (job,), limit=1)
        if not heads:
            return []
        legs = leg_count(heads[0].shard)
        while len(heads) < legs:  # the newest invocation of each other leg (one leg of
            # a matrix may run again alone), back to a run that is not a leg of N
            taken = [head.shard for head in heads]
            more = self._scoped("job = ?" + " AND shard != ?" * len(taken), (job, *taken),
                                limit=1)
            if not more or leg_count(more[0].shard) != legs:
                break
            heads += more
        rows = [row for head in heads for row in self._of_invocation(
            head.invocation, " AND job = ?", (job,), None, head.task_file)]
        return latest_attempts(sorted(rows, key=lambda row: row.id))

    def latest_runs_of(self, job: str) -> list[HistoryRow]:
        """The latest attempt of each run (each repo) of ``job``, whichever of its
        invocations made it, oldest first: what a leg of ``--shard I/N`` last did,
        when another leg of the job has run here since."""
        return latest_attempts(reversed(self._scoped("job = ?", (job,))))

    def latest_invocation(self) -> list[HistoryRow]:
        """The latest attempt of every run of the newest invocation, oldest first
        (``rerun`` and ``logs`` with no job named). A ``--shard I/N`` leg's is every
        leg's, job by job as ``latest_invocation_of`` reads them: the leg that ended
        last held only its share (leg 1's failures were "nothing to rerun")."""
        last = self._scoped(limit=1)
        if not last:
            return []
        rows = self._of_invocation(last[0].invocation, "", (), None, last[0].task_file)
        if not leg_count(last[0].shard):
            return latest_attempts(reversed(rows))
        jobs = dict.fromkeys(row.job for row in rows)
        return sorted((row for job in jobs for row in self.latest_invocation_of(job)),
                      key=lambda row: row.id)

    def attempt_before(self, row: HistoryRow) -> HistoryRow | None:
        """The attempt of ``row``'s run made just before it in its invocation: the
        one the server refused for capacity, when ``row.why`` is ``"capacity"``."""
        rows = self._of_invocation(row.invocation, " AND job = ? AND repo = ? AND attempt = ?",
                                   (row.job, row.repo, row.attempt - 1), 1, row.task_file)
        return rows[0] if rows else None

    def latest_per_job(self, jobs: Collection[str] | None = None) -> list[HistoryRow]:
        """For each job (of ``jobs`` only, when given: the task file's), the runs of
        its latest invocation (newest job first)."""
        return [row for job in self.job_names() if jobs is None or job in jobs
                for row in self.latest_invocation_of(job)]

    def job_names(self) -> list[str]:
        """Every job this history has rows of, the one run last first: a seek of
        ``runs_by_file`` per job, where the newest rows' jobs took sorting every row
        of the task file (0.2 s at a million rows, for a typo's hint)."""
        if self.unreadable is not None:
            raise self.unreadable
        newest: dict[str, int] = {}
        for file in self._task_files():
            end = self._before_files() if file == "" else SQLITE_MAX_INT
            for job, last in self._read(_JOBS_OF_FILE if self._files_known else _JOBS,
                                        {"url": self.base_url, "file": file,
                                                        "end": end}):
                if last is not None:  # (a job of late '' rows only: not this file's)
                    newest[job] = max(newest.get(job, 0), int(last))
        return sorted(newest, key=newest.__getitem__, reverse=True)

    def _task_files(self) -> list[str]:
        """The task files whose rows are this history's (``_scoped``'s): its own and
        rows from before rows knew theirs; every file, for a history of none."""
        if not self._files_known:  # rows before the column: each is every file's
            return [""]
        if self.task_file is not None:
            return list(dict.fromkeys((self.task_file, "")))
        return [str(file) for (file,) in self._read(_TASK_FILES, {"url": self.base_url})]

    def _before_files(self) -> int:
        """The id before which a row without a task file (``''``) is one recorded
        before rows knew theirs, and so every task file's: the first row that knew
        its file. A ``''`` row after it was written by an older mogrun sharing this
        history (a teammate's pin, a CI cache) from a task file nobody can tell:
        counted as this file's, another file's run became this project's latest
        invocation, and ``rerun`` retried nothing and exited 0. Read once, from the
        start of the table (the old rows come first), only where ``''`` rows are."""
        if self._legacy_end is None and not self._files_known:
            self._legacy_end = SQLITE_MAX_INT  # no row knows its file: every one is legacy
        if self._legacy_end is None:
            found = self._read(_FIRST_KNOWING_ROW, {"url": self.base_url})
            self._legacy_end = int(found[0][0]) if found and found[0][0] is not None \
                else SQLITE_MAX_INT
        return self._legacy_end


# Each job of a task file and its newest row id, found by seeking ``runs_by_file``
# (a skip scan: one seek per job, then one for its newest id), not by reading every
# row: ``status`` with no job asks this, and a history holds every run ever made.
_JOBS_OF_FILE = """
WITH RECURSIVE jobs(job) AS (
    SELECT MIN(job) FROM runs WHERE base_url = :url AND task_file = :file
    UNION ALL
    SELECT (SELECT MIN(job) FROM runs
            WHERE base_url = :url AND task_file = :file AND job > jobs.job)
    FROM jobs WHERE jobs.job IS NOT NULL)
SELECT job, (SELECT MAX(id) FROM runs WHERE base_url = :url AND task_file = :file
             AND job = jobs.job AND id < :end)
FROM jobs WHERE job IS NOT NULL
"""
# The first row under :url that knew its task file, asked only where rows that did not
# know theirs are (a seek of runs_by_file); then the table is read in id order from its
# start, where the older rows are, up to that first row, not through every row.
_FIRST_KNOWING_ROW = """
SELECT CASE WHEN EXISTS (SELECT 1 FROM runs WHERE base_url = :url AND task_file = '')
    THEN (SELECT id FROM runs NOT INDEXED WHERE base_url = :url AND task_file != ''
          ORDER BY id LIMIT 1)
END
"""
# ``_JOBS_OF_FILE`` in a read-only history older than the task_file column: every row.
_JOBS = _JOBS_OF_FILE.replace(" AND task_file = :file", "")
_TASK_FILES = """
WITH RECURSIVE files(file) AS (
    SELECT MIN(task_file) FROM runs WHERE base_url = :url
    UNION ALL
    SELECT (SELECT MIN(task_file) FROM runs WHERE base_url = :url AND task_file > files.file)
    FROM files WHERE files.file IS NOT NULL)
SELECT file FROM files WHERE file IS NOT NULL
"""


def job_and_repo_where(job: str | None, repo: str | None) -> tuple[str, tuple[Any, ...]]:
    """The rows of one job, and of one of its repos in any case, as ``repo_key`` tells
    repos apart (``repo`` only with ``job``): ``recent``'s, and ``elsewhere``'s, so
    the command it points at shows what it counted."""
    if job is not None and repo is not None:  # (owner/name is ASCII: NOCASE folds it)
        return "job = ? AND repo = ? COLLATE NOCASE", (job, repo)
    if job is not None:
        return "job = ?", (job,)
    return "", ()


def leg_count(shard: str) -> int:
    """N of a row's ``I/N`` leg (as ``--shard`` reads it); 0 for a row of no leg."""
    if not shard:
        return 0
    from mogrun.ci.shard import parse_shard

    try:
        return parse_shard(shard).count
    except UsageError:  # not written by this mogrun: no leg it knows
        return 0


def latest_attempts(rows: Iterable[HistoryRow]) -> list[HistoryRow]:
    """Of rows oldest first, only the newest attempt of each (job, repo), in first-seen
    order: an earlier attempt refused for capacity is history, not the run. A repo
    is told apart as the server does (``repo_key``): rows from before and after a
    case-only edit of it in the task file (``acme/API``, ``acme/api``) are one run."""
    latest: dict[tuple[str, str], HistoryRow] = {}
    for row in rows:
        latest[(row.job, repo_key(row.repo))] = row
    return list(latest.values())


_OPTIONAL_TEXT = ("run_id", "idempotency_key", "status", "outcome", "finished_at")
_TEXT = ("invocation", "base_url", "job", "repo", "started_at", "message", "why", "request",
         "task_file", "automation", "owner", "shard")


def _row(values: Sequence[Any]) -> HistoryRow:
    """A row as its columns' types promise, whatever the file holds: sqlite keeps
    any value in any column (a hand edit, another tool), and a read must never
    fail on one. A value that cannot be what its column means reads as the
    column's default (attempt 1, no exit code, no gates)."""
    data = dict(zip(COLUMNS, values, strict=True))
    for name in _TEXT:
        data[name] = _text(data[name])
    for name in _OPTIONAL_TEXT:
        data[name] = None if data[name] is None else _text(data[name])
    data["gates"] = _gates(data["gates"])
    data["attached"] = _whole(data["attached"]) not in (None, 0)
    data["fan_out"] = _whole(data["fan_out"]) not in (None, 0)
    attempt = _whole(data["attempt"])
    data["attempt"] = attempt if attempt is not None and attempt >= 1 else 1
    code = _whole(data["exit_code"])
    data["exit_code"] = code if code is not None and 0 <= code <= 255 else None
    id_ = _whole(data["id"])
    data["id"] = 0 if id_ is None else id_
    return HistoryRow(**data)


def _text(value: Any) -> str:
    """A text column's value as text (a blob decoded, a number written out)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _whole(value: Any) -> int | None:
    """An integer column's value, or ``None`` when it holds no whole number."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _gates(value: Any) -> tuple[dict[str, Any], ...]:
    """The gates' verdicts kept as a JSON list of objects; anything else is none."""
    try:
        gates = json.loads(_text(value) or "[]")
    except ValueError:
        return ()
    return tuple(g for g in gates if isinstance(g, dict)) if isinstance(gates, list) else ()


def rows_of(found: Iterable[Sequence[Any]]) -> Iterator[HistoryRow]:
    """A query's rows (``SELECT`` of ``_read_columns``), each as ``_row`` reads it."""
    return map(_row, found)


def recorded_task_files(folder: Path) -> list[str]:
    """The task files (names in ``folder``) whose runs the history in ``folder``
    keeps, read without writing anything (no lock, no upgrade, no .gitignore);
    none when there is no such history or it cannot be read. What "no
    mogplex.toml found" names: the task file was deleted, or its runs were made
    with ``-f nightly.toml``, and the history is right there."""
    import sqlite3
    from urllib.parse import quote

    from mogrun.engine.history_file import DISTINCT_BASE_URLS, history_path

    path = history_path(folder)
    if not path.is_file() or path.is_symlink() or path.parent.is_symlink():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{quote(str(path))}?mode=ro",
                                                uri=True)) as db:
            urls = [url for (url,) in db.execute(DISTINCT_BASE_URLS)]
            files = {file for url in urls for (file,) in db.execute(_TASK_FILES, {"url": url})}
    except sqlite3.Error:  # not a history, one older than the column, locked: no hint
        return []
    return sorted(file for file in files if file and isinstance(file, str))  # (not a blob)
