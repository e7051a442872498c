"""Where new work executes: the newest active sandbox of its (repo, working
branch, root), else a new one if the account may boot one now, else nowhere.

A run and a ``POST /sandboxes`` launch are placed by the same rule, as on the
server, where both go through its sandbox launch (``app/api/sandbox/route.ts``):
a refused run is accepted and fails moments later with the server's reason; a
refused launch is answered with it. A run the server could not queue
(``create_unqueued_run``) never gets as far as a sandbox launch."""

from __future__ import annotations

from dataclasses import dataclass

from mogrun.emulator.directives import Script
from mogrun.emulator.runs import NotReadyRun, RefusedRun, Run, StartSpec, UnqueuedRun
from mogrun.emulator.sandboxes import Sandbox, Triple
from mogrun.emulator.state import State


@dataclass(frozen=True)
class Placed:
    """The sandbox that takes the work; ``reused`` when it was already active."""

    sandbox: Sandbox
    reused: bool


def triple_of(spec: StartSpec) -> Triple:
    """The sandbox a run needs; without a working branch it works on its base."""
    return Triple(spec.repo_id, spec.working_branch or spec.base_branch, spec.root_directory)


def place(state: State, user: str, triple: Triple, base_branch: str, now: float,
          boot: float) -> Placed | str:
    """The sandbox for ``triple`` (caller holds the lock): the newest active one,
    else one booted now (taking ``boot`` seconds), else the server's reason the
    boot is refused (the cap, a boot window)."""
    sandbox = state.sandboxes.find(user, triple, now)
    if sandbox is not None:
        return Placed(sandbox, reused=True)
    refusal = state.sandboxes.refusal(user, now)
    if refusal is not None:
        return refusal
    return Placed(state.sandboxes.boot(user, triple, base_branch, now, boot), reused=False)


def create_run(state: State, spec: StartSpec, script: Script, user: str, now: float,
               api_url: str) -> Run:
    """Create and register the run of an accepted start (caller holds the lock)."""
    placed = place(state, user, triple_of(spec), spec.base_branch, now, script.pending_time)
    run: Run
    if isinstance(placed, str):
        run = RefusedRun(spec, script, user, now, api_url, placed)
    elif placed.reused and still_booting(state, placed.sandbox, now):
        run = NotReadyRun(spec, script, user, now, api_url, placed.sandbox)
    else:
        run = Run(spec, script, user, now, api_url)
        run.reused = placed.reused
        run.sandbox = placed.sandbox
        placed.sandbox.add(run)
    state.runs[run.id] = run
    return run


def still_booting(state: State, sandbox: Sandbox, now: float) -> bool:
    """Whether ``sandbox`` has no VM yet (``sandbox_id`` ``"pending"``, while it is
    ``creating``): a run that joins it then is refused by the server's harness."""
    return bool(state.sandboxes.row(sandbox, now)["sandbox_id"] == "pending")


def create_unqueued_run(state: State, spec: StartSpec, script: Script, user: str, now: float,
                        api_url: str) -> Run:
    """Create and register a run whose queueing failed (caller holds the lock): it
    takes no sandbox and boots none, since the launch is the queued task's work;
    it only names the active sandbox the server looked up before storing it."""
    sandboxes = state.sandboxes
    found = sandboxes.find(user, triple_of(spec), now)
    ids = None
    if found is not None:
        row = found.as_json(now, sandboxes.policy, sandboxes.epoch)
        ids = (row["id"], row["sandbox_id"])
    run = UnqueuedRun(spec, script, user, now, api_url, ids)
    state.runs[run.id] = run
    return run
