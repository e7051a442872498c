"""The seam for job kinds: what a job starts, as one object.

Today every job starts an agent *run* (``POST /runs``). Another kind — an
automation triggered per repo — differs in how it is started, followed,
cancelled and described, and in nothing else: scheduling, needs, waits,
timeouts, gates, notify, history and the outputs are the engine's. So a
kind is one object implementing ``JobKind``; the engine asks ``kind_of(job)``
which kind a job is and calls only these methods. A new kind is a module
with its class plus one line in ``kinds_for`` (see docs/architecture.md,
"Job kinds").
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

if TYPE_CHECKING:
    import threading

    from mogrun.engine.ports import ApiClient
    from mogrun.engine.track import RunTrack
    from mogrun.models import ResolvedJob, RunPlan
    from mogrun.runs import Event, RunState


class Started(NamedTuple):
    """A start's answer: the run's first state; ``attached`` when it predates this
    invocation (the first attempt that could have reached the server was a replay).
    ``repo_id``: the repo's id now, when the request's was stale and looked up again.
    (Not a dataclass: start-up, see docs/architecture.md.)"""

    state: RunState
    attached: bool = False
    repo_id: str | None = None


class Cancelled(NamedTuple):
    """A cancel's answer; ``already_terminal`` when the run had ended on its own."""

    state: RunState
    already_terminal: bool


class Sandbox(NamedTuple):
    """The sandbox a run needs: runs with the same triple share one on the server."""

    repo_id: str
    working_branch: str | None
    root_directory: str | None


class JobKind(Protocol):
    """What the engine needs of a job kind. Every method may raise ``MogrunError``
    (a refusal, a transport failure): the engine reports and records it."""

    name: str
    cancellable: bool  # whether ``cancel`` can stop its runs (signals say so up front)

    def claims(self, job: ResolvedJob) -> bool:
        """Whether ``job`` is of this kind (the run kind claims every job)."""

    def validate(self, job: ResolvedJob) -> None:
        """Refuse a job this kind cannot start, before any run of the session starts
        (a ``UsageError``, exit 2: e.g. an automation the account does not have). It
        may ask the API; the task file's own checks have passed by then."""

    def describe(self, job: ResolvedJob, plan: RunPlan) -> Mapping[str, Any]:
        """What would be sent for ``plan``: ``method``, ``path`` (under the API
        base), ``idempotency_key`` and ``body`` (``show``, ``run --dry-run``)."""

    def sandbox(self, track: RunTrack) -> Sandbox | None:
        """The sandbox the run needs (capacity-aware starts), or ``None``."""

    def sent_key(self, track: RunTrack) -> str:
        """The Idempotency-Key ``start`` sends: what a signal looks for on the wire."""
        ...

    def start(self, track: RunTrack, *, deadline: float | None = None,
              stop: threading.Event | None = None, retry: bool = True) -> Started:
        """Start the current attempt (``track.request``); retries reuse its key
        (``retry=False``: one request, a signal's last look for the run). A
        request in flight is given up on (``Interrupted``) once ``stop`` is set."""

    def get_events(self, run_id: str, *, limit: int = 200, job: ResolvedJob | None = None,
                   deadline: float | None = None, stop: threading.Event | None = None,
                   known: Collection[str] = (),
                   run: str | None = None) -> tuple[RunState, list[Event]]:
        """The run's state and its first ``limit`` events (the follower's source;
        given up, ``Interrupted``, once ``stop`` is set); events whose id is in
        ``known`` (seen before) may be left out. ``run``: the run's label, which
        the waits of the request (a 429, a retry) name."""

    def cancel(self, track: RunTrack, *, deadline: float | None = None,
               stop: threading.Event | None = None) -> Cancelled | None:
        """Cancel the run; ``None`` when this kind has no cancel (it is left going).
        Sent no more once ``stop`` is set (``Interrupted``)."""

    def refusal(self, state: RunState) -> str | None:
        """Why a terminal run was refused for capacity (then the engine makes a new
        attempt once a slot frees), or ``None`` for a real result."""


def kinds_for(client: ApiClient, rerun_command: str | None = None,
              project: Callable[[], str] | None = None) -> tuple[JobKind, ...]:
    """Every kind, most specific first; the run kind, which claims all, last.
    ``rerun_command`` (``mogrun -f FILE rerun``) is how their messages say to
    start a fresh attempt; ``project``, what tells this project's automation
    trigger keys from another's (``projectkey.project_identity``)."""
    from mogrun.engine.automation_kind import AutomationKind
    from mogrun.engine.run_kind import RunKind

    return (AutomationKind(client, rerun_command=rerun_command, project=project),
            RunKind(client))


def describing_kinds() -> tuple[JobKind, ...]:
    """The kinds as ``show`` uses them: describing a start needs no API client
    (``describe`` is the only method called on these)."""
    return kinds_for(cast("ApiClient", None))


def kind_of(job: ResolvedJob, kinds: tuple[JobKind, ...]) -> JobKind:
    for kind in kinds:
        if kind.claims(job):
            return kind
    raise LookupError(f"no job kind claims {job.name!r}")
