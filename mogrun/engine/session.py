"""``run_session``: one invocation of ``mogrun run`` from resolved jobs to exit code.

It resolves every owner/name once before anything starts, schedules the
jobs, lets each worker start and follow its run, turns results into job
outcomes for the hooks and the reporter, and combines the exit codes by the
SPEC's precedence. Signals are handled here (see ``signals.py``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mogrun.engine.history import History, new_invocation_id
from mogrun.engine.outcome import DETACHED
from mogrun.engine.runner import RunExecutor, SessionContext, record_left_going
from mogrun.engine.scheduler import Scheduler
from mogrun.engine.signals import (
    ForcedExit,
    InterruptibleSleep,
    SignalWatch,
    first_signal_message,
    left_going_lines,
)
from mogrun.errors import Interrupted, TransportError, UsageError, combine_exit_codes
from mogrun.models import ResolvedJob, RunResult, SessionConfig

POLL_INTERVAL_ENV = "MOGRUN_POLL_INTERVAL"


@dataclass(frozen=True)
class SessionOptions:
    """The ``run`` options that shape scheduling (not what the jobs are)."""

    max_parallel: int = 4
    keep_going: bool = False
    detach: bool = False
    use_needs: bool = True
    poll_interval: float | None = None  # tests: poll this often while the budget allows 1.5 s


def poll_override(env: Mapping[str, str]) -> float | None:
    """``MOGRUN_POLL_INTERVAL`` (seconds), for tests of short emulated runs."""
    raw = env.get(POLL_INTERVAL_ENV)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise UsageError(f"{POLL_INTERVAL_ENV} must be a number of seconds, got {raw!r}") from exc
    if value <= 0:
        raise UsageError(f"{POLL_INTERVAL_ENV} must be positive, got {raw!r}")
    return value


def resolve_repos(client: Any, jobs: Sequence[ResolvedJob]) -> list[ResolvedJob]:
    """Every owner/name resolved to its id once, before the first run starts."""
    names = list(dict.fromkeys(
        plan.request.repo for job in jobs for plan in job.runs
        if "/" in plan.request.repo and plan.request.repo_id is None))
    known: dict[str, Any] = {}
    if len(names) > 1:  # one listing resolves a fan-out over an account's repos at once
        known = {str(r.get("full_name", "")).casefold(): r
                 for r in client.list_repos(None, limit=200)}
    ids: dict[str, str] = {}
    for name in names:
        repo = known.get(name.casefold()) or client.resolve_repo(name)
        ids[name] = _repo_id(name, repo)
    return [_with_repo_ids(job, ids) for job in jobs]


def _repo_id(name: str, repo: Mapping[str, Any]) -> str:
    """The listed repo's id; a listing without one is the server's fault, said clearly."""
    repo_id = repo.get("id")
    if isinstance(repo_id, bool) or not isinstance(repo_id, str | int) or repo_id == "":
        raise TransportError(f"the server listed {name} without a repo id",
                             context=["The server's payload does not match the Mogplex v1 API."])
    return str(repo_id)


def _with_repo_ids(job: ResolvedJob, ids: Mapping[str, str]) -> ResolvedJob:
    runs = tuple(
        dataclasses.replace(plan, request=dataclasses.replace(
            plan.request, repo_id=ids[plan.request.repo]))
        if plan.request.repo in ids and plan.request.repo_id is None else plan
        for plan in job.runs
    )
    return dataclasses.replace(job, runs=runs)


def detached_jobs(jobs: Sequence[ResolvedJob], options: SessionOptions) -> frozenset[str]:
    """With ``--detach``, the jobs no other job of the session needs are only started;
    their needs are followed to the end first (they must pass)."""
    if not options.detach:
        return frozenset()
    needed = {n for job in jobs for n in job.needs} if options.use_needs else set()
    return frozenset(job.name for job in jobs if job.name not in needed)


OVERRIDE_UP_TO = 1.5  # MOGRUN_POLL_INTERVAL applies while the budget allows this often


def _interval_fn(budget: Any, override: float | None) -> Callable[[int], float]:
    """Seconds between polls of each run; ``override`` (tests) applies only while the
    budget would poll at least every 1.5 s."""

    def interval(active: int) -> float:
        wanted = float(budget.poll_interval(active))
        if override is not None and wanted <= OVERRIDE_UP_TO:
            return override
        return wanted

    return interval


def run_session(
    jobs: Sequence[ResolvedJob],
    *,
    client: Any,
    host: Any,
    reporter: Any,
    config: SessionConfig,
    history: History | None = None,
    options: SessionOptions = SessionOptions(),
) -> int:
    """Run ``jobs`` (topological order) and return the invocation's exit code."""
    stop = threading.Event()
    with SignalWatch(stop) as watch:
        ctx = SessionContext(
            client=client, host=host, reporter=reporter, history=history,
            invocation=new_invocation_id(), stop=stop,
            interval=_interval_fn(client.budget, options.poll_interval),
            detach_jobs=detached_jobs(jobs, options),
            interrupt_code=lambda: watch.exit_code or 130, local=bool(config.local),
        )
        watch.on_first = lambda code: _announce_interrupt(ctx)
        budget = client.budget
        base_sleep = getattr(budget, "sleep", None)
        if base_sleep is not None:
            ctx.sleeper = budget.sleep = InterruptibleSleep(stop, base_sleep)
        try:
            return _run(jobs, ctx, host, reporter, config, options, watch)
        except ForcedExit as forced:
            raise _left_going(ctx, forced.exit_code) from None
        finally:
            if base_sleep is not None:
                budget.sleep = base_sleep


def _run(jobs: Sequence[ResolvedJob], ctx: SessionContext, host: Any, reporter: Any,
         config: SessionConfig, options: SessionOptions, watch: SignalWatch) -> int:
    reporter.session_started(jobs)
    try:
        with ctx.armed():
            jobs = resolve_repos(ctx.client, jobs)
    except ForcedExit:
        raise
    except Interrupted:
        pass  # the scheduler now skips every job as interrupted
    executor = RunExecutor(ctx)

    def job_done(job: ResolvedJob, results: tuple[RunResult, ...], outcome: str) -> None:
        if outcome == DETACHED:
            return
        reporter.job_finished(job, results, outcome)
        host.job_finished(job=job, results=results, outcome=outcome)

    scheduler = Scheduler(
        jobs, run_fn=executor.execute, skip_fn=executor.skipped, on_job_done=job_done,
        max_parallel=options.max_parallel, keep_going=options.keep_going,
        use_needs=options.use_needs, stop=ctx.stop, abort=ctx.abort,
        on_crash=reporter.internal_error,
    )
    results = tuple(scheduler.run())
    codes = [r.exit_code for r in results]
    if watch.exit_code is not None:
        codes.append(watch.exit_code)
    exit_code = combine_exit_codes(codes)
    host.session_finished(config=config, results=results, exit_code=exit_code)
    reporter.summary(results, exit_code)
    return exit_code


def _announce_interrupt(ctx: SessionContext) -> None:
    """The first signal, said at once: how many runs are being cancelled."""
    with ctx.lock:
        attached = sum(run_id in ctx.attached for run_id in ctx.going)
        started = len(ctx.going) - attached
    ctx.reporter.notice(first_signal_message(started, attached), level="warning")


def _left_going(ctx: SessionContext, exit_code: int) -> Interrupted:
    going = record_left_going(ctx, exit_code)
    error = Interrupted(exit_code, "interrupted again; exiting without waiting for runs")
    error.context = tuple(left_going_lines(going, ctx.local))
    return error
