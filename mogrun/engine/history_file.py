"""The history's file: where it is, opening it, and what a write to it can meet.

Opening makes ``.mogrun`` (its ``.gitignore`` holding ``*``), switches the file to
WAL (a second mogrun reads while this one writes), creates the schema and brings
an older file up to it: the columns added since, the indexes, the base URLs an
older mogrun spelt otherwise. A file that cannot be written is read as it is
(``open_read_only``). A write another process's lock outwaits is ``HistoryLocked``,
one the disk has no room for ``HistoryFull``: the file is sound in both.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mogrun.engine.history_row import COLUMNS
from mogrun.errors import MogrunError
from mogrun.statefolder import STATE_FOLDER, LinkedState, refuse_links

if TYPE_CHECKING:
    import sqlite3

BUSY_STEP_MS = 1000  # each attempt's own wait for it (sqlite's busy timeout)
# A try after Ctrl-C: outlasts another mogrun's write (milliseconds), not a held lock.
STOPPED_TRY_MS = 200
OPEN_BUSY_MS = 10000  # the schema's statements, as the file is opened
# How long an open waits for another process's lock where reads need the file upgraded
# (``_upgrade_or_defer``): the 10 s every open waited before writes waited longer.
OPEN_PATIENCE_MS = 10_000

IN_MEMORY = ":memory:"  # sqlite's name for a database that lives and dies with its connection
# How a connection decodes a TEXT value: sqlite keeps any bytes (a hand edit, another
# tool), and its own strict decode raised before ``_row`` saw the value, making the
# whole history unreadable for one bad byte. Replaced (U+FFFD), not surrogateescape:
# a lone surrogate fails again where the text is printed or written as UTF-8.
_TOLERANT_TEXT = functools.partial(str, encoding="utf-8", errors="replace")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
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
    request TEXT NOT NULL DEFAULT '',
    task_file TEXT NOT NULL DEFAULT '',
    automation TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    shard TEXT NOT NULL DEFAULT '',
    fan_out INTEGER NOT NULL DEFAULT 0
);
"""
# After the columns an older database lacks are added (an index names them). A task
# file's rows of one job, newest first, are one range of runs_by_file: it replaces
# (base_url, job, id). An invocation's rows (of one job) are one range of
# runs_by_invocation, and a task file's newest rows of any job one of runs_by_recency:
# without them ``status`` read every row of each job to find its latest invocation's
# (4.8 s on a cold cache at a million rows, ``bench/history.py --cold``), and
# ``history -n 20``, ``logs`` and ``rerun`` sorted every row of the file for its newest
# (0.8 s warm). A file that lacks them gains them at its first open (0.8 and 1.0 s at
# a million rows, warm), and a start writes five index entries.
_INDEXES = """
CREATE INDEX IF NOT EXISTS runs_by_file ON runs (base_url, task_file, job, id);
CREATE INDEX IF NOT EXISTS runs_by_run_id ON runs (base_url, run_id);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs (base_url, idempotency_key);
CREATE INDEX IF NOT EXISTS runs_by_invocation ON runs (base_url, invocation, task_file, job);
CREATE INDEX IF NOT EXISTS runs_by_recency ON runs (base_url, task_file, id);
"""

# Each base URL the runs are keyed by, found through runs_by_file one value at a time
# (sqlite's own DISTINCT reads every row of the index: 7 ms for 200,000 rows, this 0.2).
DISTINCT_BASE_URLS = """
WITH RECURSIVE urls(url) AS (
    SELECT MIN(base_url) FROM runs
    UNION ALL
    SELECT (SELECT MIN(base_url) FROM runs WHERE base_url > urls.url) FROM urls
    WHERE urls.url IS NOT NULL
)
SELECT url FROM urls WHERE url IS NOT NULL
"""

# Columns added since the first release: an older database gains them on open.
_ADDED = (("attempt", "INTEGER NOT NULL DEFAULT 1"), ("why", "TEXT NOT NULL DEFAULT ''"),
          ("request", "TEXT NOT NULL DEFAULT ''"), ("task_file", "TEXT NOT NULL DEFAULT ''"),
          ("automation", "TEXT NOT NULL DEFAULT ''"), ("owner", "TEXT NOT NULL DEFAULT ''"),
          ("shard", "TEXT NOT NULL DEFAULT ''"), ("fan_out", "INTEGER NOT NULL DEFAULT 0"))
_ADDED_DEFAULTS = {name: decl.rsplit("DEFAULT ", 1)[1] for name, decl in _ADDED}


class HistoryLocked(MogrunError):
    """A write gave up on another process's write lock (past its patience, or at
    ``stop``): the file is sound, so the write can be made once the lock is let go."""


class HistoryFull(HistoryLocked):
    """A write the disk had no room for (``SQLITE_FULL``; a fan-out's WAL takes a few
    MB whatever the file's size): sqlite took it back whole, the file is sound, so it
    can be made once there is room. Not waited for: room rarely comes in seconds."""


def no_room(exc: Exception) -> bool:
    """A write the disk had no room for (sqlite's ``SQLITE_FULL``, ENOSPC's error)."""
    import sqlite3

    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def use_wal(db: sqlite3.Connection, path: Path, on_busy: Callable[[str], None] | None,
            patience: float) -> None:
    """Switch to WAL, which takes the whole file: a file other mogruns open at the
    same moment refuses the switch at once ("database is locked", no busy wait),
    so it is tried again. One held by another process (a sqlite shell's exclusive
    lock) makes each try wait the connection's busy timeout: the wait is said
    (``on_busy``) after a second and given up after ``patience`` (100 tries of
    10 s each were a silent quarter of an hour)."""
    import sqlite3
    import time

    began, said = time.monotonic(), False
    db.execute(f"PRAGMA busy_timeout = {BUSY_STEP_MS}")  # a try waits a second at most
    try:
        while True:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                waited = time.monotonic() - began
                if "locked" not in str(exc) or waited >= patience:
                    raise
                if waited >= 1 and not said and on_busy is not None:
                    said = True
                    on_busy(f"the run history {path} is locked by another process; waiting "
                            f"up to {patience:.0f} s to open it")
                time.sleep(0.05)
    finally:
        db.execute(f"PRAGMA busy_timeout = {OPEN_BUSY_MS}")  # the rest of the opening's


def _columns(db: sqlite3.Connection) -> set[str]:
    """The columns the file's ``runs`` table has (an older file has fewer)."""
    return {row[1] for row in db.execute("PRAGMA table_info(runs)")}


def history_path(project_dir: Path | str) -> Path:
    return Path(project_dir) / STATE_FOLDER / "history.db"


def why_unopened(failed: Exception, path: Path) -> str:
    """Why a history (or the --local events' log beside it) could not be opened,
    in words: an OS error's reason, and the file it is about when that is not
    ``path`` (its folder, the .gitignore beside it); never ``[Errno 13] ...``
    with a quoted path."""
    if not isinstance(failed, OSError) or not failed.strerror:
        return str(failed)
    if isinstance(failed, LinkedState):  # names the link itself
        return failed.strerror
    named = failed.filename
    if isinstance(failed, FileExistsError | NotADirectoryError) and named:
        return f"{named} is not a folder"  # .mogrun is a file
    return failed.strerror if named in (None, str(path)) else f"{failed.strerror} ({named})"


def _ignore_everything(ignore: Path) -> None:
    """``.mogrun/.gitignore`` holding ``*``, so git never sees the history: written
    whole or not at all, since a full disk left an empty one that was taken as
    written for good (git then listed history.db); an empty one is written again."""
    from mogrun.atomic import write_atomically

    try:
        if ignore.stat().st_size:
            return
        ignore.unlink()  # empty: a write the disk cut short
    except FileNotFoundError:
        pass
    with contextlib.suppress(FileExistsError):  # another mogrun made it meanwhile
        write_atomically(ignore, b"*\n", create=True)


def open_file(path: Path, on_busy: Callable[[str], None] | None,
              patience: float) -> sqlite3.Connection:
    """The history at ``path`` opened for writing, its schema made (an older file's
    upgrade is the caller's: ``upgrade``); the connection is closed again when that
    fails. ``on_busy`` and ``patience``: ``use_wal``'s."""
    import sqlite3

    db = None
    try:
        if str(path) != IN_MEMORY:
            refuse_links(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            _ignore_everything(path.parent / ".gitignore")
        # Autocommit: a write of one statement is its own transaction, so it costs
        # one step of sqlite, not a BEGIN, the statement and a COMMIT (each of them
        # lets go of the GIL, which 200 polling threads then fight over).
        db = sqlite3.connect(str(path), check_same_thread=False,
                             timeout=OPEN_BUSY_MS / 1000, isolation_level=None)
        db.text_factory = _TOLERANT_TEXT
        # WAL with synchronous=NORMAL: a committed row survives a crash of mogrun
        # (the WAL is in the OS's hands at commit); only a power cut can lose the
        # last rows, and no run waits for an fsync at each status change.
        use_wal(db, path, on_busy, patience)
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        # Writes from now on wait a second at a time, so that a long wait is said.
        db.execute(f"PRAGMA busy_timeout = {BUSY_STEP_MS}")
        return db
    except BaseException:
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()
        raise


def upgrade(db: sqlite3.Connection) -> None:
    """The columns an older file lacks, then the indexes, then the URL spellings
    (read through an index the indexes may have made); nothing when none is due."""
    _migrate(db)
    db.executescript(_INDEXES)
    _respell_base_urls(db)
    db.commit()


def reads_need_upgrade(db: sqlite3.Connection) -> bool:
    """Whether this file cannot be read as this mogrun reads until it is upgraded:
    columns missing (queries name them), or rows under an older URL spelling."""
    return not {name for name, _ in _ADDED} <= _columns(db) or bool(_respellings(db))


def _migrate(db: sqlite3.Connection) -> None:
    """Add the columns an older history lacks, in one write transaction: six
    mogruns opening an old file at once each saw a column missing, and all but
    one failed on "duplicate column name"."""
    if {name for name, _ in _ADDED} <= _columns(db):
        return
    db.execute("BEGIN IMMEDIATE")  # waits (``timeout``) for another upgrade
    try:
        have = _columns(db)
        for name, decl in _ADDED:
            if name not in have:
                db.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")
        if "task_file" not in have:  # once, on upgrade: runs_by_file replaces it
            db.execute("DROP INDEX IF EXISTS runs_by_job")
        db.commit()
    except BaseException:
        db.rollback()
        raise


def _respell_base_urls(db: sqlite3.Connection) -> None:
    """Rows an older mogrun keyed by the API's URL as typed (``HTTP://Host:80``)
    take the one spelling this mogrun looks them up by: else ``status``, ``logs``
    and ``rerun`` never found them after an upgrade. The distinct URLs come from
    the index, one step each, so a clean history costs a fraction of a millisecond
    to look at; one with old spellings is rewritten once, in one transaction."""
    changes = _respellings(db)
    if not changes:
        return
    db.execute("BEGIN IMMEDIATE")  # waits (``timeout``) for another writer
    try:
        db.executemany("UPDATE runs SET base_url = ? WHERE base_url = ?", changes)
        db.commit()
    except BaseException:
        db.rollback()
        raise


def _respellings(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """(this mogrun's spelling, the stored one) of each base URL stored otherwise."""
    from mogrun.api.settings import normalised_base

    stored = [url for (url,) in db.execute(DISTINCT_BASE_URLS)]
    return [(spelt, url) for url in stored
            if (spelt := normalised_base(url)) is not None and spelt != url]


def open_read_only(path: Path, failed: Exception) -> tuple[sqlite3.Connection, str, bool]:
    """The history as it is, where it cannot be written (a read-only folder or
    file, a CI cache), with what a read selects of it and whether its rows know
    their task file (an older file lacks the columns added since: they read as
    their default, and every row is every task file's). Else the error opening
    it (``failed``, in words)."""
    import sqlite3
    from urllib.parse import quote

    # A file sqlite reads as no database (text, cut short), or a folder in its place:
    # moving it away is the remedy, said as for one a read fails in.
    # (Not an OperationalError, a lock or EACCES: moving the file away mends neither.)
    folder = str(path) != IN_MEMORY and os.path.isdir(path)  # sqlite: "unable to open"
    broken = folder or type(failed) is sqlite3.DatabaseError
    why = "it is a folder, not a file" if folder else why_unopened(failed, path)
    error = MogrunError(f"cannot open run history {path}: {why}",
                        context=way_out(path) if broken else [])
    # os.path: Path.is_file raises where the folder may not be searched (EACCES).
    if str(path) == IN_MEMORY or isinstance(failed, LinkedState) or \
            not os.path.isfile(path):
        raise error from failed
    try:  # immutable: no lock, no -wal/-shm files to make (nothing may be written)
        db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?immutable=1",
                             uri=True, check_same_thread=False)
        db.text_factory = _TOLERANT_TEXT
        have = _columns(db)
    except sqlite3.Error:
        raise error from failed
    if not set(COLUMNS) - set(_ADDED_DEFAULTS) <= have:  # not a history mogrun ever wrote
        db.close()
        if have:  # sqlite's "no such column: base_url" named what mogrun looked for
            error = MogrunError(
                f"cannot open run history {path}: it is not a run history mogrun "
                "wrote (its runs table has other columns)", context=way_out(path))
        raise error from failed
    # An older file it cannot upgrade: the columns added since read as their default.
    read_columns = ", ".join(
        name if name in have else f"{_ADDED_DEFAULTS[name]} AS {name}" for name in COLUMNS)
    return db, read_columns, "task_file" in have  # every query asks the column otherwise


def way_out(path: Path) -> list[str]:
    """What to do with a file mogrun cannot use as its history."""
    return [f"Move it away to start a new one: mv {path} {path}.broken"]


def file_identity(path: Path) -> tuple[int, int] | None:
    """The file's (device, inode), or ``None`` where there is none to stat."""
    if str(path) == IN_MEMORY:
        return None
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def hold(path: Path, identity: tuple[int, int] | None) -> int | None:
    """A read-only descriptor of the file opened (``None``: none to hold): a file
    moved with its project still has a name, one deleted has none."""
    if identity is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    found = os.fstat(fd)
    if (found.st_dev, found.st_ino) != identity:  # replaced between the two looks
        os.close(fd)
        return None
    return fd
