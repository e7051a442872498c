"""The events of ``--local`` runs, kept after the emulator that served them is
gone, so ``mogrun --local logs JOB`` can show them later.

The emulator's runs end with the process that embedded it; their history rows
(under the ``local`` key) already outlive it. This adds their events, in
``.mogrun/local-events.db`` beside the history, masked as they were printed.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from mogrun.runs import Event


def events_path(project_dir: Path | str) -> Path:
    from mogrun.statefolder import STATE_FOLDER

    return Path(project_dir) / STATE_FOLDER / "local-events.db"


class LocalEventLog:
    """One small table of (run id, order, event); safe to share between threads."""

    def __init__(self, path: Path) -> None:
        import sqlite3

        from mogrun.statefolder import refuse_links

        refuse_links(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._closed = False
        self._db.execute("CREATE TABLE IF NOT EXISTS events (run_id TEXT NOT NULL, "
                         "seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL)")

    def add(self, run_id: str, event: dict[str, Any]) -> None:
        """Kept; or dropped once the log is closed (a worker left behind at a
        second Ctrl-C may still be catching up on a cancelled run's events)."""
        with self._lock:
            if self._closed:
                return
            self._db.execute("INSERT INTO events (run_id, event) VALUES (?, ?)",
                             (run_id, json.dumps(event)))

    def events(self, run_id: str) -> list[Event]:
        with self._lock:
            rows = self._db.execute("SELECT event FROM events WHERE run_id = ? ORDER BY seq",
                                    (run_id,)).fetchall()
        return [Event.from_api(json.loads(text)) for (text,) in rows]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._db.close()


class RecordingReporter:
    """A reporter that also stores each run's events (masked with the job's
    secrets) in a ``LocalEventLog``; everything else passes straight through."""

    def __init__(self, inner: Any, log: LocalEventLog) -> None:
        self._inner, self._log = inner, log
        self._run_ids: dict[str, str] = {}
        self._keeping = True  # until a write fails (a read-only file, a full disk)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def job_started(self, job: Any, run: Any, state: Any, attached: bool) -> None:
        if state.run_id:
            self._run_ids[run.label] = state.run_id
        self._inner.job_started(job, run, state, attached)

    def event(self, job: Any, run: Any, event: Event) -> None:
        from mogrun.masking import mask_data
        from mogrun.output.ndjson import event_dict

        run_id = self._run_ids.get(run.label)
        if run_id and self._keeping:
            self._keep(run_id, mask_data(event_dict(event), job.secrets))
        self._inner.event(job, run, event)

    def _keep(self, run_id: str, event: dict[str, Any]) -> None:
        """One event kept; a log that cannot be written (it opened, read-only) is
        said once and left: the runs go on, as without history."""
        import sqlite3

        try:
            self._log.add(run_id, event)
        except sqlite3.Error as exc:
            if self._keeping:
                self._keeping = False
                self._inner.notice(f"cannot keep the --local runs' events: {exc}",
                                   level="warning")

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._log.close()


def recording(reporter: Any, project_dir: Path | str) -> Any:
    """``reporter`` recording events for ``--local``; unchanged if the log cannot
    be opened (a read-only checkout runs without it, as without history)."""
    import sqlite3

    from mogrun.engine.history_file import why_unopened

    path = events_path(project_dir)
    try:
        return RecordingReporter(reporter, LocalEventLog(path))
    except (OSError, sqlite3.Error) as exc:  # said as the history says it, beside it
        reporter.notice(f"cannot keep the --local runs' events: {why_unopened(exc, path)}",
                        level="warning")
        return reporter
