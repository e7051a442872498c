"""Where a new run executes: the newest active sandbox of its (repo, working
branch, root), else a new one if the account may boot one now, else nowhere —
then the run is accepted and fails moments later with the server's reason."""

from __future__ import annotations

from mogrun.emulator.directives import Script
from mogrun.emulator.runs import RefusedRun, Run, StartSpec
from mogrun.emulator.sandboxes import Triple
from mogrun.emulator.state import State


def triple_of(spec: StartSpec) -> Triple:
    """The sandbox a run needs; without a working branch it works on its base."""
    return Triple(spec.repo_id, spec.working_branch or spec.base_branch, spec.root_directory)


def create_run(state: State, spec: StartSpec, script: Script, user: str, now: float,
               api_url: str) -> Run:
    """Create and register the run of an accepted start (caller holds the lock)."""
    triple = triple_of(spec)
    sandbox = state.sandboxes.find(user, triple, now)
    run: Run
    if sandbox is not None:
        run = Run(spec, script, user, now, api_url)
        run.reused = True
    else:
        refusal = state.sandboxes.refusal(user, now)
        if refusal is not None:
            run = RefusedRun(spec, script, user, now, api_url, refusal)
            state.runs[run.id] = run
            return run
        run = Run(spec, script, user, now, api_url)
        sandbox = state.sandboxes.boot(user, triple, spec.base_branch, now, script.pending_time)
    run.sandbox = sandbox
    sandbox.add(run)
    state.runs[run.id] = run
    return run
