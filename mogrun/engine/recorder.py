"""The run history as an observer of the lifecycle channel.

A row is written for every run as the session starts (one still waiting for
its needs when mogrun is killed is then known to ``rerun``), filled in when
the run (or a new attempt of it, with a row of its own) is about to start,
and updated as its run id, status and result become known, so a crash of
mogrun loses nothing already known. Every attempt has its own row (number, key, why
it was made). A history that stops being writable mid-session is a warning,
never a lost result: recording stops, the runs go on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from mogrun.engine.history import History, HistoryRow, gates_json, now_iso
from mogrun.engine.lifecycle import Observer
from mogrun.engine.track import RunTrack
from mogrun.errors import MogrunError
from mogrun.masking import mask
from mogrun.models import ResolvedJob, RunResult, RunState
from mogrun.outcomes import Outcome, left_going_message

Warn = Callable[[str], None]


def request_json(track: RunTrack) -> str:
    """The current attempt's body, secrets masked, as the history keeps it: an
    automation job's is its trigger's (``repoId`` and ``input``), not a run's."""
    import json

    body = track.request.body()
    if track.job.automation is not None:
        from mogrun.api.automations import trigger_body

        body = trigger_body(track.request.repo_id or track.request.repo, track.plan.inputs)
    return mask(json.dumps(body, sort_keys=True), track.secrets)


def recorded_automation(job: ResolvedJob) -> str:
    """The automation a row keeps before the run has an id: as the job names it,
    masked (a name from env.* is a secret however short)."""
    return mask(job.automation_shown, job.secrets)


class HistoryObserver(Observer):
    """Keeps one history row per attempt of every run of the session."""

    def __init__(self, history: History, invocation: str, warn: Warn,
                 stop: threading.Event | None = None) -> None:
        self.history: History | None = history
        self.invocation = invocation
        self.warn = warn
        history.on_busy = warn  # a write waiting for another process's lock is said
        history.stop = stop  # ... and given up on at a signal
        self._lock = threading.Lock()
        self._rows: dict[int, int] = {}  # id(track) -> row of its current attempt
        # id(track) -> (row, run id), started and not finished
        self._going: dict[int, tuple[int, str | None]] = {}
        self._planned: dict[tuple[str, str], int] = {}  # (job, label) -> row not yet claimed

    def session_started(self, jobs: Sequence[ResolvedJob]) -> None:
        """A row for every run, before any starts (see ``History.record_planned``)."""
        history = self.history
        if history is None:
            return
        planned = [(job, plan) for job in jobs for plan in job.runs]
        try:
            rows = history.record_planned(self.invocation, [
                (job.name, mask(plan.repo, job.secrets), recorded_automation(job))
                for job, plan in planned])
        except MogrunError as exc:
            self._failed(exc)
            return
        with self._lock:
            self._planned = {(job.name, plan.label): row
                             for (job, plan), row in zip(planned, rows, strict=True)}

    def run_pending(self, track: RunTrack) -> None:
        history = self.history
        if history is None:
            return
        with self._lock:
            planned = self._planned.pop((track.job.name, track.plan.label), None)
        key = mask(track.key, track.secrets)
        try:
            if planned is not None:
                history.claim(planned, key, attempt=track.attempt, why=track.why,
                              request=request_json(track))
                row = planned
            else:
                row = history.record_start(
                    self.invocation, track.job.name, mask(track.plan.repo, track.secrets),
                    key, attempt=track.attempt, why=track.why, request=request_json(track),
                    automation=recorded_automation(track.job))
        except MogrunError as exc:
            self._failed(exc)
            return
        with self._lock:
            self._rows[id(track)] = row

    def run_started(self, track: RunTrack) -> None:
        assert track.state is not None
        with self._lock:
            row = self._rows.get(id(track))
            if row is not None:
                self._going[id(track)] = (row, track.state.run_id)
        fields: dict[str, Any] = {"run_id": track.state.run_id, "status": track.state.status,
                                  "attached": track.attached}
        if track.request_changed:  # a fresh repo id: what a conflict's hint compares with
            fields["request"] = request_json(track)
        if track.automation_id and recorded_automation(track.job) != track.job.automation:
            # Named from env.* (a secret, kept masked): status, logs and rerun read the
            # run through its automation, so the row keeps the automation's id.
            fields["automation"] = track.automation_id
        self._update(row, **fields)

    def status(self, track: RunTrack, old: str | None, state: RunState) -> None:
        """A status on the way; a terminal one is written with the run's result
        (``run_finished`` follows on every path): one commit fewer per run."""
        if not state.terminal:
            self._update(self._row(track), status=state.status)

    def run_finished(self, track: RunTrack | None, result: RunResult) -> None:
        if track is None:
            return
        with self._lock:
            row = self._rows.get(id(track))
            self._going.pop(id(track), None)
        fields: dict[str, Any] = {"outcome": result.outcome, "message": result.message}
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
        self._update(row, **fields)

    def left_going(self, exit_code: int, cancelling: Collection[str] = (),
                   ended: Mapping[str, str] | None = None) -> None:
        """A second signal: no worker will finish these rows, so close them now, each
        as mogrun said it: a run whose end was seen (its cancel got through) with the
        status it ended with, not as left going."""
        with self._lock:
            rows = list(self._going.values())
            planned = list(self._planned.values())
            self._going.clear()
            self._planned.clear()
        for row, run_id in rows:
            status = (ended or {}).get(run_id or "")
            if status is not None:
                self._update(row, finished_at=now_iso(), **_seen_to_end(status, exit_code))
                continue
            self._update(row, outcome="error", exit_code=exit_code, finished_at=now_iso(),
                         message=left_going_message(run_id in cancelling))
        for row in planned:
            self._update(row, outcome="skipped", exit_code=exit_code, finished_at=now_iso(),
                         message="interrupted again before it started")

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

    def kept(self) -> bool:
        """Whether the history still holds this session's rows. A file deleted or
        replaced while the runs went on is said (once), and recording stops."""
        history = self.history
        if history is None:
            return False
        if history.still_on_disk():
            return True
        with self._lock:
            self.history = None
        self.warn(f"the run history {history.path} was deleted or replaced while the runs "
                  "went on: this invocation's runs are not in it")
        return False

    def _row(self, track: RunTrack) -> int | None:
        with self._lock:
            return self._rows.get(id(track))

    def _update(self, row: int | None, **fields: Any) -> None:
        history = self.history
        if history is None or row is None:
            return
        try:
            history.update(row, **fields)
        except MogrunError as exc:
            self._failed(exc)

    def _failed(self, exc: MogrunError) -> None:
        with self._lock:
            if self.history is None:
                return
            self.history = None
        self.warn(f"{exc.message}; runs are no longer recorded")


def _seen_to_end(status: str, exit_code: int) -> dict[str, Any]:
    """The row of a run seen to end as a second signal cut its result short: one
    cancelled is recorded as the result would have recorded it; one that ended on its
    own was never judged (the signal came before or while its gates ran), so it is an
    error that says so (``rerun`` starts it again)."""
    from mogrun.outcomes import Outcome, RunStatus

    if status == RunStatus.CANCELLED:
        return {"status": status, "outcome": str(Outcome.CANCELLED), "exit_code": exit_code,
                "message": "interrupted"}
    return {"status": status, "outcome": str(Outcome.ERROR), "exit_code": exit_code,
            "message": f"interrupted again once the run had ended ({status}), before its "
                       "gates judged it"}


def conflict_hint(track: RunTrack, earlier: HistoryRow | None, rerun: str) -> str:
    """Why the server said IDEMPOTENCY_CONFLICT: which fields of the start differ
    from the one an earlier invocation sent under the same key, and the way out
    (``rerun``: the command line that starts a fresh attempt of the job)."""
    import json

    way_out = f"start a fresh attempt with: {rerun} (or give the job a new idempotency_key)"
    if earlier is None:
        return f"the key was used before with a different request; {way_out}"
    try:
        before = json.loads(earlier.request)
    except ValueError:
        before = {}
    now = json.loads(request_json(track))
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    what = ", ".join(changed) if changed else "the request"
    return (f"the job's {what} changed since invocation {earlier.invocation} sent this key "
            f"({earlier.started_at}); {way_out}")
