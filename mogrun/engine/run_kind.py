"""The ``run`` job kind: an agent run started with ``POST /runs``.

Capacity: every run needs a sandbox for its (repo, working branch, root
directory); a boot the server refused makes the run fail moments after its
202 with one of the errors of ``BootRefusal`` — recognised from that error,
never from timing — and the engine then starts a new attempt once a slot is free.
So does a run that joined its triple's sandbox still booting (``Sandbox is not
ready``): its next attempt waits for that sandbox's VM.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from mogrun.engine.kinds import Cancelled, Sandbox, Started
from mogrun.outcomes import RunStatus
from mogrun.taskfile.limits import server_root

if TYPE_CHECKING:  # show describes a start with this kind, and needs none of these
    import threading

    from mogrun.engine.ports import ApiClient
    from mogrun.engine.track import RunTrack
    from mogrun.models import ResolvedJob, RunPlan
    from mogrun.runs import Event, RunState


def error_text(state: RunState) -> str:
    """The run's ``error`` as text (a string, or a dict's message/code)."""
    error = state.error
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "")
    return str(error) if error else ""


class RunKind:
    """Starts, follows and cancels agent runs through the client."""

    name = "run"
    cancellable = True

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def claims(self, job: ResolvedJob) -> bool:
        return True

    def validate(self, job: ResolvedJob) -> None:
        return None  # the task file's checks and server limits already hold

    def describe(self, job: ResolvedJob, plan: RunPlan) -> Mapping[str, Any]:
        return {"method": "POST", "path": "/runs",
                "idempotency_key": plan.request.idempotency_key, "body": plan.request.body()}

    def sandbox(self, track: RunTrack) -> Sandbox | None:
        """The sandbox the server will look for, by its rules (``normalizeStartRequest``):
        a request that names no root works in the repo's own root directory, which a
        monorepo's repo may set; one that names no working branch works on its base
        branch, or, with ``createBranch``, on a branch the server makes for it, which
        no sandbox serves yet. ``None`` as the branch: the repo's default one (a
        sandbox whose two branches agree serves it)."""
        request = track.request
        repo = request.repo_id or request.repo
        root = request.root_directory
        branch = request.sandbox_branch()
        if branch is not None and branch == self.client.default_branch(repo):
            branch = None  # `branch = "main"` is the sandbox of a run that names none
        return Sandbox(repo, branch,
                       server_root(root) if root is not None else self.client.default_root(repo))

    def sent_key(self, track: RunTrack) -> str:
        return track.key

    def start(self, track: RunTrack, *, deadline: float | None = None,
              stop: threading.Event | None = None, retry: bool = True) -> Started:
        started = self.client.start_run(track.request, job=track.job, deadline=deadline,
                                        stop=stop, run=track.label, retry=retry)
        sent = started.request.repo_id
        return Started(started.state, bool(started.attached),
                       sent if sent != track.request.repo_id else None)

    def get_events(self, run_id: str, *, limit: int = 200, job: ResolvedJob | None = None,
                   deadline: float | None = None, stop: threading.Event | None = None,
                   known: Collection[str] = (),
                   run: str | None = None) -> tuple[RunState, list[Event]]:
        return self.client.get_events(run_id, limit=limit, job=job, deadline=deadline, stop=stop,
                                      known=known, run=run)

    def cancel(self, track: RunTrack, *, deadline: float | None = None,
               stop: threading.Event | None = None) -> Cancelled:
        """Cancel the run; the answer is about this run whatever runId it carries."""
        answer = self.client.cancel_run(track.run_id, job=track.job, deadline=deadline,
                                        run=track.label, stop=stop)
        state = answer.state
        if state.run_id != track.run_id:
            state = dataclasses.replace(state, run_id=track.run_id)
        return Cancelled(state, answer.already_terminal)

    def refusal(self, state: RunState) -> str | None:
        return capacity_refusal(state)


def capacity_refusal(state: RunState) -> str | None:
    """The server's reason when it refused ``state``'s run for capacity (it failed
    with ``Too many active sandboxes`` or a boot-rate error, or ``Sandbox is not
    ready``: it joined a sandbox still booting), else ``None``: it did nothing."""
    if state.status != RunStatus.FAILED:
        return None
    text = error_text(state)
    from mogrun.engine.capacity import is_refusal  # lazy: show and check never need it

    return text if is_refusal(text) else None
