"""A history row: what one run (an attempt of it) recorded, and its formats.

``HistoryRow`` is what ``status``, ``logs``, ``cancel``, ``rerun`` and ``history``
read; ``COLUMNS`` its columns in the order a read selects them, ``SHOWN_COLUMNS``
those ``--json`` shows. The times a row holds (``now_iso``, ``iso_of``), its gates
(``gates_json``) and what it learns when its run is seen to end (``ended_fields``)
are written one way, here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mogrun.engine.history_owner import owner_pid, writer_alive
from mogrun.masking import mask
from mogrun.runs import GateVerdict

# The base URL rows of ``--local`` runs are keyed by, so emulator runs never mix
# with real ones.
LOCAL_BASE_URL = "local"

COLUMNS = (
    "id", "invocation", "base_url", "job", "repo", "run_id", "idempotency_key", "status",
    "outcome", "attached", "started_at", "finished_at", "exit_code", "gates", "message",
    "attempt", "why", "request", "task_file", "automation", "owner", "shard", "fan_out",
)
# What ``--json`` shows of a row: ``owner`` (host and pid of the mogrun that
# writes it) is this machine's bookkeeping, not the run's, and so are ``shard``
# and ``fan_out``.
SHOWN_COLUMNS = tuple(name for name in COLUMNS if name not in ("owner", "shard", "fan_out"))


@dataclass(frozen=True)
class HistoryRow:
    """One recorded run, as ``status``, ``logs``, ``cancel`` and ``history`` read it."""

    id: int
    invocation: str
    base_url: str
    job: str
    repo: str
    run_id: str | None
    idempotency_key: str | None
    status: str | None
    outcome: str | None
    attached: bool
    started_at: str
    finished_at: str | None
    exit_code: int | None
    gates: tuple[dict[str, Any], ...]
    message: str
    attempt: int = 1
    why: str = ""  # why this attempt was made: "" (the first), "capacity", "rerun"
    request: str = ""  # the start's body as JSON, secrets masked (to explain a key conflict)
    task_file: str = ""  # the task file's name in its folder; "" if recorded before that was
    # The automation a run of an automation job belongs to, as the run rendered it
    # (its events are read through it); "" for a run, or one recorded before this was.
    automation: str = ""
    # The mogrun that wrote the row, as ``host:pid``: a row with no run yet is still
    # waiting to start (for its needs, a sandbox slot) while that process lives.
    owner: str = ""
    # The ``--shard I/N`` leg the invocation was ("" for none): a CI matrix's legs are
    # invocations of their own, and a job's latest runs are every leg's.
    shard: str = ""
    # Its job was a fan-out (several repos) in the task file it ran from, however
    # many of its runs the invocation held (a leg of ``--shard``, a rerun of one).
    fan_out: bool = False

    @property
    def label(self) -> str:
        return f"{self.job}:{self.repo}"

    @property
    def owner_pid(self) -> int | None:
        """The pid of the mogrun that wrote the row, when it ran on this machine."""
        return owner_pid(self.owner)

    @property
    def live_owner(self) -> int | None:
        """The pid of the mogrun on this machine that wrote the row, while it still
        runs and has not recorded how the run ended: it will start (``waiting``)
        or is following the run."""
        pid = self.owner_pid
        if self.outcome is not None or pid is None:
            return None
        return pid if writer_alive(pid, self.started_at) else None

    @property
    def waiting(self) -> bool:
        """Not started, and the mogrun that will start it still runs on this machine."""
        return not self.run_id and self.live_owner is not None

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in SHOWN_COLUMNS}
        data["gates"] = list(self.gates)
        return data


def now_iso() -> str:
    """The current UTC time as ISO 8601, seconds precision."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def iso_of(moment: float) -> str:
    """Epoch seconds as history writes its rows' times (``now_iso``'s form)."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def new_invocation_id() -> str:
    """A sortable, unique id for one mogrun invocation."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def gates_json(gates: Iterable[GateVerdict], secrets: Iterable[str] = ()) -> str:
    secrets = tuple(secrets)
    return json.dumps([
        {"gate": mask(g.gate, secrets), "passed": g.passed, "reason": mask(g.reason, secrets)}
        for g in gates
    ])


def ended_fields(row: HistoryRow, status: str, outcome: str, finished_at: str | None,
                 judged: tuple[str, str] | None = None) -> dict[str, Any]:
    """What ``row`` learns when its run is seen to end (``status``, judged
    ``outcome``, the server's ``finished_at``) by another command or invocation
    (``status_cmd.record_status``, ``History.also_ended``): that status and
    outcome, the run's end in history's own form (``now_iso``'s), the outcome's
    exit code and, when the command judged it (``judged``: its ``gates_json`` and
    message), what a followed run's row keeps of its end. Unless a signal ended the
    invocation that recorded it (130, 143, 129): that code stays, and the moment
    it was cut short and what it said with them, so ``history`` goes on saying
    that invocation was interrupted, not that the run it left later failed (1). A
    row left going at its timeout kept the moment mogrun stopped following,
    beside the run's success."""
    from mogrun.durations import parse_moment
    from mogrun.engine.signals import is_interrupt_code
    from mogrun.outcomes import Outcome

    moment = parse_moment(finished_at)
    ended = None if moment is None else iso_of(moment)
    learnt = {} if judged is None else {"gates": judged[0], "message": judged[1]}
    if is_interrupt_code(row.exit_code):
        learnt.pop("message", None)
        return {"status": status, "outcome": outcome, "exit_code": row.exit_code,
                "finished_at": row.finished_at or ended, **learnt}
    return {"status": status, "outcome": outcome, "exit_code": int(Outcome(outcome).exit_code),
            "finished_at": ended or row.finished_at or now_iso(), **learnt}
