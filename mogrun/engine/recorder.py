"""The run history as an observer of the lifecycle channel.

A row is written for every run as the session starts (one still waiting for
its needs when mogrun is killed is then known to ``rerun``), filled in when
the run (or a new attempt of it, with a row of its own) is about to start,
and updated as its run id, status and result become known, so a crash of
mogrun loses nothing already known. Every attempt has its own row (number, key, why
it was made). A history that stops being writable mid-session is a warning,
never a lost result: the runs go on. A write lock another process holds too long
holds the writes back until it is let go, a full disk until there is room
(``HistoryObserver``); any other error stops recording. Either way the session's
end names the runs the history lacks.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mogrun.engine import history as history_module
from mogrun.engine.history import FOREVER, History
from mogrun.engine.history_file import HistoryFull, HistoryLocked
from mogrun.engine.history_row import HistoryRow, gates_json, now_iso
from mogrun.engine.lifecycle import Observer
from mogrun.engine.track import RunTrack
from mogrun.errors import MogrunError
from mogrun.masking import mask, mask_data
from mogrun.models import ResolvedJob
from mogrun.outcomes import NOT_STARTED_AGAIN, Outcome, RunStatus, left_at_a_second_signal
from mogrun.runs import RunResult, RunState
from mogrun.threads import NoThread, start_without_signals

Warn = Callable[[str], None]


def request_json(track: RunTrack) -> str:
    """The current attempt's body, secrets masked, as the history keeps it: an
    automation job's is its trigger's (``repoId`` and ``input``), not a run's."""
    import json

    body = track.request.body()
    if track.job.automation is not None:
        from mogrun.api.automations import trigger_body

        body = trigger_body(track.request.repo_id or track.request.repo, track.plan.inputs)
    # Masked as data, then written: a secret holding '"', '\\' or a non-ASCII letter
    # reads escaped in JSON text, where masking the text would not find it.
    return json.dumps(mask_data(body, track.secrets), sort_keys=True)


def recorded_automation(job: ResolvedJob) -> str:
    """The automation a row keeps before the run has an id: as the job names it,
    masked (a name from env.* is a secret however short)."""
    return mask(job.automation_shown, job.secrets)


@dataclass
class _Row:
    """One attempt's history row as the session knows it: its id once written, and
    what names its run where it never is (``unrecorded``)."""

    job: str
    repo: str
    key: str | None = None
    run_id: str | None = None
    id: int | None = None


Write = Callable[[History, float], None]  # a write of the session, made with a patience
# A write no thread waits for (an id, a status, a result) is made this long after it
# comes at most, with every other one that came meanwhile, in one transaction.
WRITE_DELAY = 0.05
WRITER_IDLE = 1.0  # seconds without such a write before the writing thread ends


class HistoryObserver(Observer):
    """Keeps one history row per attempt of every run of the session.

    Writes are made in order through a backlog. One that waited its patience
    (``LOCK_PATIENCE``) on another process's write lock stays there, with every
    write after it, and later writes try the file once (no wait) on their way:
    the first that gets through makes the backlog's writes first. The session's
    end (``kept``) makes what is left, waiting as long as the lock is held
    (announced; Ctrl-C stops the wait), and names each run not in the history.

    Durability before a start: the row that records a start's idempotency key
    (``run_pending``) is written before the start is sent, so a mogrun killed
    after sending it leaves the key for ``rerun``. A lock holds a start up to
    ``LOCK_PATIENCE`` for that; once a write has outwaited it, later writes
    (starts' too) try the file once and do not wait, so one lock holds the
    session that long at most, as before. A start past that is sent anyway, its
    row kept in the backlog: the lock holder is another process, and holding
    paid-for runs until it lets go would be worse than a window in which only a
    kill of mogrun (not Ctrl-C: the end waits) loses those rows. Once the
    backlog is written, the next lock is waited for afresh.

    Any other error (a broken file, a full disk) stops recording, as said; the
    runs go on and are named at the end as not recorded.

    Who writes: the rows made before a start is sent (``session_started``,
    ``run_pending``) by the thread sending it, which waits its turn; a run's id,
    status and result by the next thread that writes or by the writing thread
    within ``WRITE_DELAY``, all that waits in one transaction, so a status
    change costs its run's thread an append, not a commit. Only a kill of
    mogrun within ``WRITE_DELAY`` loses one; the session's end makes the rest."""

    def __init__(self, history: History, invocation: str, warn: Warn,
                 stop: threading.Event | None = None) -> None:
        self.history: History | None = history
        self.invocation = invocation
        self.warn = warn
        self.stop = stop
        history.on_busy = warn  # a write waiting for another process's lock is said
        history.stop = stop  # ... and given up on at a signal
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one thread makes the backlog's writes at a time
        self._due = threading.Event()  # set while a write waits for the writing thread
        self._writer: threading.Thread | None = None  # that thread, while it runs
        self._closed = False  # the session has ended: every write is made at once
        self._backlog: list[tuple[_Row | None, Write]] = []  # writes not made yet, in order
        self._every_planned: list[_Row] = []  # the rows ``session_started`` writes
        self._path = history.path
        # What holds the writes back: a lock a write outwaited (``HistoryLocked``: later
        # ones try once, no wait) or a full disk (``HistoryFull``: not waited for at the
        # end); ``None`` once the backlog is written.
        self._held_by: type[HistoryLocked] | None = None
        self._rows: dict[int, _Row] = {}  # id(track) -> row of its current attempt
        # id(track) -> (row, run id), started and not finished
        self._going: dict[int, tuple[_Row, str | None]] = {}
        self._planned: dict[tuple[str, str], _Row] = {}  # (job, label) -> row not yet claimed

    def session_started(self, jobs: Sequence[ResolvedJob]) -> None:
        """A row for every run, before any starts (see ``History.record_planned``)."""
        planned = [(job, plan) for job in jobs for plan in job.runs]
        rows = [_Row(job.name, mask(plan.repo, job.secrets)) for job, plan in planned]
        runs = [(row.job, row.repo, recorded_automation(job.for_run(plan)))
                for row, (job, plan) in zip(rows, planned, strict=True)]

        def write(history: History, patience: float) -> None:
            for row, written in zip(rows, history.record_planned(self.invocation, runs,
                                                                 patience), strict=True):
                row.id = written

        with self._lock:
            self._every_planned = rows
            self._planned = {(job.name, plan.label): row
                             for (job, plan), row in zip(planned, rows, strict=True)}
        self._write(None, write)

    def run_pending(self, track: RunTrack) -> None:
        with self._lock:
            planned = self._planned.pop((track.job.name, track.plan.label), None)
        key, attempt, why = mask(track.key, track.secrets), track.attempt, track.why
        request = request_json(track)  # as it is now: the write may be made later
        row = planned or _Row(track.job.name, mask(track.plan.repo, track.secrets))
        row.key = key

        def write(history: History, patience: float) -> None:
            if planned is not None:
                assert row.id is not None  # its planned row was written before it
                history.claim(row.id, key, attempt=attempt, why=why, request=request,
                              patience=patience)
                return
            row.id = history.record_start(
                self.invocation, row.job, row.repo, key, attempt=attempt, why=why,
                request=request, automation=recorded_automation(track.job),
                patience=patience)

        with self._lock:
            self._rows[id(track)] = row
        self._write(row, write)

    def run_started(self, track: RunTrack) -> None:
        assert track.state is not None
        with self._lock:
            row = self._rows.get(id(track))
            if row is not None:
                self._going[id(track)] = (row, track.state.run_id)
                row.run_id = track.state.run_id
        fields: dict[str, Any] = {"run_id": track.state.run_id, "status": track.state.status,
                                  "attached": track.attached}
        if track.request_changed:  # a fresh repo id: what a conflict's hint compares with
            fields["request"] = request_json(track)
        if track.automation_id and track.automation_id != recorded_automation(track.job):
            # status, logs, cancel and rerun read the run through its automation: the row
            # keeps the automation's id, not its name, which may be renamed (or taken by
            # a new automation, whose 404 for the run had rerun trigger it again), or
            # come from env.* (a secret, kept masked).
            fields["automation"] = track.automation_id
        self._update(row, wait=False, **fields)
        if row is not None and track.attached and row.key and track.state.run_id:
            # The rows a killed mogrun left under this key learn the run, in this batch.
            self._row_write(row, "adopt", track.state.run_id, row.key, wait=False)

    def status(self, track: RunTrack, old: str | None, state: RunState) -> None:
        """A status on the way; a terminal one is written with the run's result
        (``run_finished`` follows on every path): one commit fewer per run."""
        if not state.terminal:
            self._update(self._row(track), wait=False, status=state.status)

    def run_finished(self, track: RunTrack | None, result: RunResult) -> None:
        if track is None:
            return
        with self._lock:  # its last write: no handle is kept for each run that ended
            row = self._rows.pop(id(track), None)
            self._going.pop(id(track), None)
        fields: dict[str, Any] = {"outcome": result.outcome,
                                  "message": _without_countdowns(result.message)}
        if result.outcome != Outcome.DETACHED:  # a detached run's end is still to come:
            # it gets its finished_at and exit code when a command sees it end
            fields.update(exit_code=result.exit_code, finished_at=now_iso())
        if result.status is not None and track.state is not None:
            # Without a run of its own, the result names the refused run of an earlier
            # attempt (whose row has its status): this attempt's row has none. A run
            # ``rerun`` left alone (still going) is never started: its id comes here.
            fields.update(status=result.status, run_id=track.state.run_id)
        if result.gates:
            fields["gates"] = gates_json(result.gates, track.secrets)
        if track.automation_id and track.automation_id != recorded_automation(track.job):
            # A trigger sent and never answered: its row keeps where it went (as
            # ``run_started`` does), for a rerun to send its key there again.
            fields["automation"] = track.automation_id
        self._update(row, wait=False, **fields)
        if (row is not None and track.state is not None and track.state.run_id
                and RunStatus.is_terminal(result.status) and result.outcome != Outcome.DETACHED):
            self._also_ended(row, track.state.run_id, str(result.status), str(result.outcome))

    def _also_ended(self, row: _Row, run_id: str, status: str, outcome: str) -> None:
        """The run's other rows not yet seen to end learn it ended (``History.also_ended``):
        one an invocation killed while following it wrote, say, when this one attached.
        After the row's own write, in its batch (one transaction)."""

        self._row_write(row, "also_ended", run_id, status, outcome, wait=False)

    def left_going(self, exit_code: int, cancelling: Collection[str] = (),
                   ended: Mapping[str, str] | None = None) -> None:
        """A second signal: no worker will finish these rows, so close them now, each
        as mogrun said it: a run whose end was seen (its cancel got through) with the
        status it ended with, not as left going."""
        with self._lock:
            rows = list(self._going.values())
            # Claimed, not started: a start sent (or about to be) and unanswered.
            sending = [row for key, row in self._rows.items() if key not in self._going]
            planned = list(self._planned.values())
            self._going.clear()
            self._planned.clear()
        for row, run_id in rows:
            fields = left_at_a_second_signal(run_id, exit_code, cancelling, ended)
            fields.pop("left_going")  # no column: a row with no end is left going
            self._update(row, finished_at=now_iso(), **fields)
        from mogrun.engine.runner import MAYBE_STARTED

        for row in sending:  # as one signal records it: rerun sends its key again
            self._update(row, outcome="skipped", exit_code=exit_code, finished_at=now_iso(),
                         message=MAYBE_STARTED)
        for row in planned:
            self._update(row, outcome="skipped", exit_code=exit_code, finished_at=now_iso(),
                         message=NOT_STARTED_AGAIN)

    def session_failed(self, message: str, exit_code: int) -> None:
        """No run will claim its row: each says why it never started (``status``
        would show it waiting, ``rerun`` would try it as if it had been cut off).
        The rows stay: ``mogrun run X || mogrun rerun`` must retry this invocation
        (after a network error, say), never fall back to an older one's failures."""
        with self._lock:
            planned = list(self._planned.values())
            self._planned.clear()
        for row in planned:
            self._update(row, outcome="error", exit_code=exit_code, finished_at=now_iso(),
                         message=f"not started: {message}")
        self.settle()
        self._said_unrecorded()

    def recording(self) -> bool:
        """Whether the history still takes this session's rows, as it stands now
        (no wait, nothing said): a hint given mid-session asks this, where ``kept``
        settles the writes at the session's end."""
        return self.history is not None

    def kept(self) -> bool:
        """Whether the history holds every row of this session, once the writes a
        lock held back are made (``settle``); the runs it does not hold are named.
        A file deleted or replaced while the runs went on is said (once), and
        recording stops."""
        history = self.history
        if history is not None and not history.still_on_disk():
            with self._lock:
                self.history = None
                self._backlog.clear()  # not to be written to a file no one reads
            self.warn(f"the run history {history.path} was deleted or replaced while the "
                      "runs went on: this invocation's runs are not in it")
            return False
        self.settle()
        return not self._said_unrecorded() and self.history is not None

    def settle(self) -> None:
        """The writes a lock held back, made now: the session has ended, so this
        waits until the lock is let go (said, with the way out) or Ctrl-C. After
        a Ctrl-C that came before, the file is tried once: the user asked to leave.
        The writes the writing thread had not made yet are made first, as any write."""
        stopped = self.stop is not None and self.stop.is_set()
        with self._lock:
            self._closed = True  # every later write is made at once
            self._due.set()  # the writing thread leaves
            patience = 0.0 if stopped else self._patience()
        with self._flushing:
            self._flush(patience)
        history = self.history
        with self._lock:
            waiting = len(self._backlog)
            full = self._held_by is HistoryFull
        if history is None or not waiting or full:  # room rarely comes: named, not waited for
            return
        if not stopped:
            self.warn(f"{waiting} write(s) of this session's runs wait for the run history "
                      f"{history.path} to be let go by another process; waiting for it "
                      "(Ctrl-C to stop: the runs not recorded are then named)")
        history.on_busy = None  # said just above
        try:
            with self._flushing:
                self._flush(0.0 if stopped else FOREVER)
        finally:
            history.on_busy = self.warn

    def _said_unrecorded(self) -> bool:
        """Each run with a write never made, named (job, repo, run id, key as kept):
        ``status`` and ``rerun`` cannot see it, or see it stop short. Whether any."""
        with self._lock:
            pending = list(self._backlog)
        if not pending:
            return False
        named: dict[int, _Row] = {}
        for row, _ in pending:  # ``None``: the planned rows, never written
            for one in [row] if row is not None else self._every_planned:
                named.setdefault(id(one), one)
        runs = "; ".join(
            f"{row.job}:{row.repo} ({'run ' + row.run_id if row.run_id else 'no run'}, key "
            f"{row.key or 'none'}{'' if row.id is None else ', its last changes'})"
            for row in named.values())
        self.warn(f"not recorded in the run history {self._path} (status and rerun cannot "
                  f"see them): {runs}")
        return True

    def _row(self, track: RunTrack) -> _Row | None:
        with self._lock:
            return self._rows.get(id(track))

    def _update(self, row: _Row | None, *, wait: bool = True, **fields: Any) -> None:
        if row is None:
            return
        if fields.get("run_id"):
            row.run_id = fields["run_id"]
        self._row_write(row, "update", wait=wait, **fields)

    def _row_write(self, row: _Row, method: str, *args: Any, wait: bool = True,
                   **fields: Any) -> None:
        """``history.<method>(row.id, *args, patience=..., **fields)`` (a ``History``
        writing method, by name: the history's own, a subclass's too, on a row
        written before), through the backlog (``_write``)."""

        def write(history: History, patience: float) -> None:
            assert row.id is not None  # written before: the backlog keeps order
            getattr(history, method)(row.id, *args, patience=patience, **fields)

        self._write(row, write, wait=wait)

    def _write(self, row: _Row | None, write: Write, *, wait: bool = True) -> None:
        """``write`` made after every write before it. ``wait``: by this thread, which
        waits ``LOCK_PATIENCE`` for a lock (while one is held past it, ``_held_by``,
        the file is tried once); else by the next thread that writes, or by the
        writing thread within ``WRITE_DELAY`` (``_write_when_due``), and this one
        goes on."""
        began = time.monotonic() if wait else 0.0  # only a write this thread makes is timed
        with self._lock:
            self._backlog.append((row, write))
            if self.history is None:
                return
            patience = self._patience()
            if not wait and not self._closed:
                if not self._due.is_set():  # (setting it again takes its lock to wake none)
                    self._due.set()
                if self._writer is None:
                    try:
                        self._writer = start_without_signals(self._write_when_due,
                                                             "mogrun-history")
                    except NoThread:  # no thread to leave it to: this one makes it
                        wait, began = True, time.monotonic()
                if not wait:
                    return
        if wait:
            if not self._flushing.acquire(timeout=patience):
                return
            try:
                self._flush(max(0.0, patience - (time.monotonic() - began)))
            finally:
                self._flushing.release()
        self._drain(patience)

    def _patience(self) -> float:
        """How long a write waits for another process's lock (``_lock`` held)."""
        return 0.0 if self._held_by else history_module.LOCK_PATIENCE

    def _write_when_due(self) -> None:
        """The writing thread: the writes no thread waits for, gathered for
        ``WRITE_DELAY`` and made in one transaction. It ends once none has come for
        ``WRITER_IDLE``, or at the session's end (``settle`` makes what is left)."""
        while True:
            woke = self._due.wait(WRITER_IDLE)
            if woke and not self._closed:
                time.sleep(WRITE_DELAY)
            with self._lock:
                due = self._due.is_set()
                self._due.clear()
                if not due or self._closed:
                    self._writer = None
                    return
                patience = self._patience()
            with self._flushing:
                self._flush(patience)

    def _drain(self, patience: float) -> None:
        """The backlog's writes made here unless another thread is making them: that
        one looks again once it lets go (this loop), so a write added while it
        wrote is never left behind for the session's end."""
        while True:
            with self._lock:
                if not self._backlog or self.history is None or self._held_by:
                    return
            if not self._flushing.acquire(blocking=False):
                return
            try:
                self._flush(patience)
            finally:
                self._flushing.release()

    def _flush(self, patience: float) -> None:
        """The backlog's writes made in order (``_flushing`` held), each batch of them
        in one transaction, until one is held back (kept, with every one after it)
        or fails for good (recording stops)."""
        began = time.monotonic()
        while True:
            with self._lock:
                history = self.history
                if not self._backlog:  # let go: the next lock is waited for again
                    self._held_by = None
                if history is None or not self._backlog:
                    return
                writes = [write for _, write in self._backlog]
                # The row ids this batch may give out: taken back if it is rolled back.
                ids = [(row, row.id) for row in self._rows_of(self._backlog)]
            left = max(0.0, patience - (time.monotonic() - began))
            try:
                history.together([functools.partial(write, history, left) for write in writes],
                                 left)
            except MogrunError as exc:
                for row, before in ids:
                    row.id = before
                (self._held if isinstance(exc, HistoryLocked) else self._failed)(exc)
                return
            with self._lock:
                planned = any(row is None for row, _ in self._backlog[:len(writes)])
                del self._backlog[:len(writes)]
                if planned:  # the planned rows are written: each run's own write names it
                    self._every_planned = []

    def _rows_of(self, writes: list[tuple[_Row | None, Write]]) -> list[_Row]:
        """The rows ``writes`` are of (``None``: the session's planned rows; lock held)."""
        rows = {id(row): row for row, _ in writes if row is not None}
        if any(row is None for row, _ in writes):
            rows.update((id(row), row) for row in self._every_planned)
        return list(rows.values())

    def _held(self, exc: MogrunError) -> None:
        """A write held back (a lock, a full disk): kept with every one after it;
        said once for each cause, until the backlog is written."""
        full = isinstance(exc, HistoryFull)
        cause = HistoryFull if full else HistoryLocked
        with self._lock:
            said, self._held_by = self._held_by is cause, cause
        if not said:
            self.warn(f"{exc.message}; the runs' rows are kept and written once "
                      + ("there is room" if full else "it is let go"))

    def _failed(self, exc: MogrunError) -> None:
        with self._lock:
            if self.history is None:
                return
            self._path = self.history.path
            self.history = None
        self.warn(f"{exc.message}; runs are no longer recorded")

def conflict_hint(track: RunTrack, earlier: HistoryRow | None, rerun: str) -> str:
    """Why the server said IDEMPOTENCY_CONFLICT: which fields of the start differ
    from the one an earlier invocation sent under the same key, and the way out
    (``rerun``: the command line that starts a fresh attempt of the job).

    When none differs (that invocation was itself refused for the same key, the
    request the server holds was sent by an earlier one, another checkout or
    machine, or what changed is a masked secret), that is said: the server holds
    another request under the key."""
    import json

    way_out = f"start a fresh attempt with: {rerun} (or give the job a new idempotency_key)"
    try:
        before = json.loads(earlier.request) if earlier is not None else None
    except (TypeError, ValueError):
        before = None
    if earlier is None or not isinstance(before, dict):
        return f"the key was used before with a different request; {way_out}"
    if earlier.job != track.job.name:  # not this job's change: two jobs share the key
        return (f"job {earlier.job} sent this key in invocation {earlier.invocation} "
                f"({earlier.started_at}) with its own request: give each job its own "
                f"idempotency_key (or {way_out})")
    from mogrun.engine.automation_kind import same_json

    now = json.loads(request_json(track))
    # As JSON tells values apart: an input's true changed to 1 is a change (== took
    # them for one, and said only the server's copy differed).
    changed = sorted(k for k in set(before) | set(now)
                     if k not in before or k not in now or not same_json(before[k], now[k]))
    if not changed:
        return (f"the request is the one invocation {earlier.invocation} sent under this key "
                f"({earlier.started_at}), but the server holds a different one under it (sent "
                "by an earlier invocation before the job changed, from another checkout or "
                f"machine, or with another value of a secret); {way_out}")
    return (f"the job's {', '.join(changed)} changed since invocation {earlier.invocation} "
            f"sent this key ({earlier.started_at}); {way_out}")


def _without_countdowns(message: str) -> str:
    """``message`` as history keeps it: a time it names keeps its clock, not the
    countdown said with it (``until 12:48:24Z (in 1m)``), which ``status`` showed
    ten minutes later as if it were still to come."""
    if "Z (in " not in message:
        return message
    import re

    return re.sub(r"(\d\d:\d\d:\d\dZ) \(in [0-9a-z. ]+\)", r"\1", message)
