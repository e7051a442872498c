"""``run_session``: one invocation of ``mogrun run`` from resolved jobs to exit code.

It resolves every owner/name once before anything starts, schedules the
jobs, lets each worker start and follow its run, turns results into job
outcomes for the hooks and the reporter, and combines the exit codes by the
precedence the README's "Exit codes" gives. Signals are handled here (see ``signals.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mogrun.durations import format_duration
from mogrun.engine.capacity import BootWatch, SandboxSlots
from mogrun.engine.context import SessionDeps, SessionProgress
from mogrun.engine.follower import Pace
from mogrun.engine.history import History
from mogrun.engine.history_row import HistoryRow, new_invocation_id
from mogrun.engine.kinds import JobKind, kind_of, kinds_for
from mogrun.engine.lifecycle import HooksObserver, Lifecycle, ReporterObserver
from mogrun.engine.pluginwaits import PluginWaits
from mogrun.engine.ports import ApiClient, Budget, Hooks
from mogrun.engine.recorder import HistoryObserver
from mogrun.engine.rerun import RERUN, rerun_for
from mogrun.engine.rescue import Rescue
from mogrun.engine.runner import RunExecutor
from mogrun.engine.scheduler import NeedsClock, Scheduler
from mogrun.engine.signals import (
    CANCEL_GRACE,
    ForcedExit,
    HeardSoFar,
    InterruptibleSleep,
    SignalWatch,
    first_signal_message,
    left_going_lines,
)
from mogrun.engine.slowhooks import ONCE_MORE, SlowHooks
from mogrun.engine.track import RunTrack
from mogrun.envnumbers import env_number
from mogrun.errors import Interrupted, MogrunError, TaskFileError, combine_exit_codes
from mogrun.masking import mask
from mogrun.models import NEW_BRANCH, ResolvedJob, RunPlan, SessionConfig
from mogrun.outcomes import Outcome
from mogrun.runs import RunResult, RunState
from mogrun.taskfile.limits import account_slots
from mogrun.taskfile.schema import DEFAULT_SANDBOXES
from mogrun.threads import NoThread, start_without_signals
from mogrun.waits import Wait, WaitKind

if TYPE_CHECKING:
    from mogrun.output.base import Reporter

POLL_INTERVAL_ENV = "MOGRUN_POLL_INTERVAL"


@dataclass(frozen=True)
class SessionOptions:
    """The ``run`` options that shape scheduling (not what the jobs are)."""

    max_parallel: int = 4
    keep_going: bool = False
    detach: bool = False
    use_needs: bool = True
    poll_interval: float | None = None  # tests: poll this often while the budget allows 1.5 s
    sandboxes: int | None = None  # MOGRUN_SANDBOXES: the account's slots, over the file's


NAME_LOOKUP_TIME = 5.0  # naming another client's busy repo never holds a wait line longer


def poll_override(env: Mapping[str, str]) -> float | None:
    """``MOGRUN_POLL_INTERVAL`` (seconds), for tests of short emulated runs."""
    return env_number(env, POLL_INTERVAL_ENV, float, 0.0, MAX_POLL_OVERRIDE,
                      noun="number of seconds")


MAX_POLL_OVERRIDE = 60.0  # slower than this, a run's end goes unseen for minutes


def resolve_repos(client: ApiClient, jobs: Sequence[ResolvedJob],
                  stop: threading.Event | None = None) -> list[ResolvedJob]:
    """Every owner/name resolved to its id once, before the first run starts (given
    up at a signal, ``stop``: a stalled look-up must not hold the exit)."""
    ids = client.resolve_repos(
        [plan.request.repo for job in jobs for plan in job.runs if plan.request.repo_id is None],
        secrets=frozenset().union(*(job.secrets for job in jobs)), stop=stop)
    resolved = [_with_repo_ids(job, ids) for job in jobs]
    for job in resolved:
        _refuse_one_repo_twice(job)
    return resolved


def _refuse_one_repo_twice(job: ResolvedJob) -> None:
    """A repo listed by name and by id (which ``check`` cannot tell apart) would
    get two runs of one job in one repo."""
    from mogrun.reponames import is_full_name, repo_key

    seen: dict[str, str] = {}
    for plan in job.runs:
        named = plan.request.repo
        repo_id = plan.request.repo_id or (None if is_full_name(named) else named)
        if repo_id is None:
            continue
        first = seen.setdefault(repo_key(repo_id), plan.request.repo)
        if first != plan.request.repo:
            raise TaskFileError(
                f'job "{job.name}" lists one repo twice: "{first}" and "{plan.request.repo}" '
                "are the same repository", job=job.name, key="repo",
                context=["Keep one of them in its repo list."])


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
# ...and while polls have taken less than this share of the request window: past
# it, faster polls would spend the window (a run's end and a cancel then waited
# most of a minute for room).
OVERRIDE_SHARE = 0.5


def _interval_fn(budget: Budget, override: float | None) -> Callable[[int], Pace]:
    """The pace of each run's polls; ``override`` (tests) applies only while the
    budget would poll at least every 1.5 s and has half its window free, and a
    long pause it makes is said as that setting's, not the budget's."""

    def interval(active: int) -> Pace:
        wanted = float(budget.poll_interval(active))
        if override is not None and wanted <= OVERRIDE_UP_TO and (
                override >= wanted or budget.used() < OVERRIDE_SHARE):
            return overridden_pace(override)
        return Pace(wanted)

    return interval


def overridden_pace(seconds: float) -> Pace:
    """The pace ``MOGRUN_POLL_INTERVAL`` sets (``poll_override``): a long pause is
    this setting's doing, and its wait says so."""
    return Pace(seconds, WaitKind.POLL_INTERVAL,
                f"the next poll of this run waits the poll interval {POLL_INTERVAL_ENV} "
                f"sets ({format_duration(seconds)})")


@dataclass(frozen=True)
class SessionPorts:
    """What a session talks to: the API client, the plugin hooks, the reporter, the
    history (``None``: not recorded) and the interruptible wait the client's budget
    was built with (``signals.InterruptibleSleep`` over ``stop``)."""

    client: ApiClient
    hooks: Hooks
    reporter: Reporter
    history: History | None = None
    stop: threading.Event | None = None
    sleeper: InterruptibleSleep | None = None


def run_session(
    jobs: Sequence[ResolvedJob],
    ports: SessionPorts,
    *,
    config: SessionConfig,
    options: SessionOptions = SessionOptions(),
    attempts: Mapping[str, tuple[int, str]] | None = None,
    held: Mapping[str, str] | None = None,
    going: Mapping[str, tuple[RunState, str]] | None = None,
    rerun_command: str | None = None,
    unrecorded_command: str | None = None,
    command: str = "mogrun",
) -> int:
    """Run ``jobs`` (topological order) and return the invocation's exit code.

    ``unrecorded_command`` (``mogrun run --rerun``) takes ``rerun_command``'s place
    in the summary when the history stopped recording (rerun would not find the
    runs). ``attempts`` (run label -> first attempt, why) continues runs already
    attempted (``mogrun rerun``); ``held`` (job -> why) are jobs of ``jobs`` not
    started but recorded skipped (``rerun``: a need is still going), so the next
    rerun finds them; ``going`` (run label -> its state, why) are runs of ``jobs``
    an earlier invocation left going that still go (``rerun`` leaves them alone):
    recorded as they stand, with their run, and said as left going, so the next
    rerun reads them again; ``rerun_command`` (``mogrun rerun``) is how a
    failing invocation's summary says to retry what did not pass; ``command``
    (``mogrun -f FILE``) how every other command it suggests starts."""
    stop = ports.stop or threading.Event()
    with SignalWatch(stop) as watch:
        invocation = new_invocation_id()
        channel = _channel(ports, invocation, lambda code: _settled(watch, code), stop,
                           watch.interrupt)
        sleeper = ports.sleeper
        deps = SessionDeps(
            client=ports.client, hooks=ports.hooks, channel=channel, invocation=invocation,
            stop=stop, abort=threading.Event(),
            interval=_interval_fn(ports.client.budget, options.poll_interval),
            interrupt_code=lambda: watch.exit_code or 130,
            armed=sleeper.armed if sleeper is not None else SessionDeps.armed,
            detach_jobs=detached_jobs(jobs, options), local=bool(config.local),
            # MOGRUN_SANDBOXES (options), else the file's (checked with it), else the server's
            sandbox_cap=(options.sandboxes or account_slots(config.settings, {})
                         or DEFAULT_SANDBOXES),
            recall=(recall := _recall(ports.history, invocation)),
            sent_before=_sent_before(ports.history, invocation, jobs, recall),
            rerun_command=rerun_command or RERUN, unrecorded_command=unrecorded_command,
            recorded=lambda: _recording(channel), said=watch.said, command=command,
        )
        progress = SessionProgress()
        heard = HeardSoFar()  # the plugins' end of session at a second signal
        channel.register(heard)
        ending = False  # whether the plugins' end of session has begun
        watch.on_first = lambda code: _first_signal(deps, progress, code)
        unsubscribe = ports.client.waits.subscribe(channel.wait)  # the API's waits too
        slow = SlowHooks(getattr(ports.hooks, "running_hooks", None), channel.wait,
                         unheard=lambda wait: channel.wait(wait, to_plugins=False), stop=stop)
        try:
            with slow:
                code, results = _run(jobs, deps, progress, options, watch, attempts,
                                     held or {}, going or {}, config)
            # asked whatever the code: it settles the history's writes, and says a
            # history deleted midway
            prefix = deps.rerun_prefix(_recorded(channel))
            rerun = rerun_line(prefix, jobs, results) if code else None
            ending = True
            channel.session_finished(config, results, code, rerun)
            return _signalled_at_the_end(deps, watch, code)
        except ForcedExit as forced:
            if not ending:  # a signal that lands in it leaves without it
                _plugins_end(deps, config, heard.at_exit(
                    jobs, forced.exit_code, progress.cancels_in_flight(),
                    progress.starts_in_flight(deps.client.sending_keys()),
                    progress.ended_statuses()), forced.exit_code, channel.wait)
            raise _left_going(deps, progress, forced.exit_code) from None
        except MogrunError as error:  # before any start: resolving repos, a kind's checks
            channel.session_failed(error.message, error.exit_code)
            raise
        finally:
            unsubscribe()


def _settled(watch: SignalWatch, code: int) -> int:
    """``code`` with a signal that has landed since it was reckoned: one that came
    while the session's last hooks ran (notifiers delivering) still makes the exit
    code 130 or 143."""
    return code if watch.exit_code is None else combine_exit_codes([code, watch.exit_code])


def _signalled_at_the_end(deps: SessionDeps, watch: SignalWatch, code: int) -> int:
    """The exit code after the last hooks, and why it is not ``code`` (reckoned when
    every run had ended) when a signal landed meanwhile: the summary, written after
    the plugins' hooks, already shows it."""
    final = _settled(watch, code)
    if final != code:
        deps.channel.notice(f"interrupted while the session's last hooks ran; exit code {final}",
                            level="warning")
    return final


def _recording(channel: Lifecycle) -> bool:
    """Whether the history still takes the session's rows (``HistoryObserver.recording``:
    asked mid-session, by a hint naming how to retry a run)."""
    return any(isinstance(o, HistoryObserver) and o.recording() for o in channel.observers)


def _recorded(channel: Lifecycle) -> bool:
    """Whether the history kept every run of the session (it may give up midway)."""
    return any(isinstance(o, HistoryObserver) and o.kept() for o in channel.observers)


def _channel(ports: SessionPorts, invocation: str, settle: Callable[[int], int],
             stop: threading.Event, interrupt: Callable[[], None]) -> Lifecycle:
    """History first (nothing known is lost), then plugins, then what the user sees,
    then the plugins' ``mogrun_wait`` (a slow one holds neither a wait nor its line);
    ``settle`` gives the summary the exit code as it stands after the plugins' end,
    ``stop`` (set at a signal) ends the plugins' event hooks; ``interrupt`` is how a
    ``KeyboardInterrupt`` out of a hook on the main thread is taken (as a Ctrl-C)."""
    channel = Lifecycle()
    reporter = ports.reporter
    if ports.history is not None:
        channel.register(HistoryObserver(
            ports.history, invocation, lambda text: reporter.notice(text, level="warning"),
            stop=stop))
    waits = PluginWaits(ports.hooks.wait)
    channel.register(HooksObserver(ports.hooks, on_wait=lambda wait: channel.wait(wait),
                                   stop=stop, waits_heard=waits.drain,
                                   interrupted=interrupt))
    channel.register(ReporterObserver(reporter, settle))
    channel.register(waits)  # after the reporter, on a thread of its own: see pluginwaits
    return channel


def _run(jobs: Sequence[ResolvedJob], deps: SessionDeps, progress: SessionProgress,
         options: SessionOptions, watch: SignalWatch,
         attempts: Mapping[str, tuple[int, str]] | None,
         held: Mapping[str, str], going: Mapping[str, tuple[RunState, str]],
         config: SessionConfig) -> tuple[int, tuple[RunResult, ...]]:
    from mogrun.projectkey import project_identity

    deps.channel.session_started(jobs)
    kinds = kinds_for(deps.client, deps.rerun_command,
                      project=lambda: project_identity(config.project_dir, config.task_file))
    try:
        with deps.armed():
            jobs = resolve_repos(deps.client, jobs, deps.stop)
            for job in jobs:
                kind_of(job, kinds).validate(job)
    except ForcedExit:
        raise
    except Interrupted:
        pass  # the scheduler now skips every job as interrupted
    slots = sandbox_slots(jobs, deps, progress)
    deps = dataclasses.replace(deps, slots=slots)
    deps.channel.register(BootWatch(slots))  # a boot that succeeds ends the hold's doubling
    executor = RunExecutor(deps, progress, kinds, attempts)
    channel = deps.channel
    skipped = [*_left_alone(jobs, going, executor), *_held_back(jobs, held, executor, channel)]
    jobs = _to_start(jobs, held, going)
    scheduler = Scheduler(
        jobs, run_fn=executor.execute, skip_fn=executor.skipped,
        on_job_done=channel.job_finished, max_parallel=options.max_parallel,
        keep_going=options.keep_going, use_needs=options.use_needs, stop=deps.stop,
        abort=deps.abort, on_crash=channel.internal_error, on_wait=channel.wait,
        prefer=_prefer(deps, kinds),
        on_notice=lambda text: channel.notice(text, level="warning"),
    )
    channel.register(NeedsClock(scheduler))  # a needs wait learns its end as runs start
    with Rescue(getattr(deps.hooks, "running_hooks", None), executor, scheduler.hand_over,
                deps, progress):
        results = (*skipped, *scheduler.run())
    codes = [r.exit_code for r in results]
    if watch.exit_code is not None:
        codes.append(watch.exit_code)
    return combine_exit_codes(codes), results


def _held_back(jobs: Sequence[ResolvedJob], held: Mapping[str, str], executor: RunExecutor,
               channel: Lifecycle) -> list[RunResult]:
    """Each run of a ``held`` job recorded skipped, with why, before any start."""
    results: list[RunResult] = []
    for job in jobs:
        if job.name in held:
            mine = tuple(executor.skipped(job, plan, held[job.name]) for plan in job.runs)
            channel.job_finished(job, mine, Outcome.SKIPPED)
            results.extend(mine)
    return results


def _left_alone(jobs: Sequence[ResolvedJob], going: Mapping[str, tuple[RunState, str]],
                executor: RunExecutor) -> list[RunResult]:
    """Each run left going that still goes recorded as it stands, before any start.
    Its job is not said to finish (the plugins heard of its end when it was left)."""
    return [executor.left_alone(job, plan, *going[plan.label])
            for job in jobs for plan in job.runs if plan.label in going]


def _to_start(jobs: Sequence[ResolvedJob], held: Mapping[str, str],
              going: Mapping[str, tuple[RunState, str]]) -> list[ResolvedJob]:
    """The jobs with runs to start: not those ``held``, nor the runs ``going``."""
    kept = [dataclasses.replace(job, runs=tuple(p for p in job.runs if p.label not in going))
            for job in jobs if job.name not in held]
    return [job for job in kept if job.runs]


def rerun_line(prefix: str | None, jobs: Sequence[ResolvedJob],
               results: Sequence[RunResult]) -> str | None:
    """``mogrun rerun a b``: the jobs (graph order) with a run that did not pass, but
    not for a run left going (rerun would not start it again: it is followed). A
    job skipped because it needs such a job is in it: ``rerun`` reads its need
    first (still going, it holds the job back; ended well, it starts it)."""
    if prefix is None:
        return None
    failing = {r.job for r in results if Outcome(r.outcome).failing and not r.left_going}
    names = [job.name for job in jobs if job.name in failing]  # graph order
    return rerun_for(prefix, names) if names else None


def sandbox_slots(jobs: Sequence[ResolvedJob], deps: SessionDeps,
                  progress: SessionProgress) -> SandboxSlots:
    """The account's slots: ``[mogplex] sandboxes`` (default 3), read from the server
    as often as one more followed run would be polled (inside the request budget)."""
    cap = deps.sandbox_cap
    names = {plan.request.repo_id: mask(plan.repo, job.secrets)
             for job in jobs for plan in job.runs if plan.request.repo_id}
    branches: dict[str, set[str | None]] = {}  # the branches its runs work on, per repo
    for job in jobs:
        for plan in job.runs:
            if plan.request.repo_id:
                branch = plan.request.sandbox_branch()
                branches.setdefault(plan.request.repo_id, set()).add(
                    NEW_BRANCH if branch is not None and branch.startswith(NEW_BRANCH)
                    else branch)
    shards = getattr(deps.client.budget, "shards", 1)  # --shard I/N: 1/N of the slots
    return SandboxSlots(
        cap,
        lambda job, deadline: deps.client.list_sandboxes(limit=200, job=job, deadline=deadline,
                                                         stop=deps.stop),
        interval=lambda: deps.interval(progress.active + 1).seconds, stop=deps.stop, names=names,
        warn=lambda text: deps.channel.notice(text, level="warning"),
        legs=shards if isinstance(shards, int) else 1,
        branches={repo: frozenset(wanted) for repo, wanted in branches.items()},
        name_of=lambda repo_id: deps.client.repo_name(
            repo_id, deadline=time.monotonic() + NAME_LOOKUP_TIME))


def _prefer(deps: SessionDeps, kinds: tuple[JobKind, ...]
            ) -> Callable[[ResolvedJob, RunPlan], bool] | None:
    """Runs that need no new sandbox (or find a free slot) go first."""
    slots = deps.slots
    if slots is None:
        return None

    def prefer(job: ResolvedJob, plan: RunPlan) -> bool:
        want = kind_of(job, kinds).sandbox(RunTrack.of(job, plan))
        return want is None or slots.can_start_now(want)

    return prefer


def _recall(history: History | None, invocation: str) -> Callable[[str], HistoryRow | None]:
    """An earlier invocation's start under a (masked) key, to explain a key conflict."""
    if history is None:
        return lambda key: None
    return lambda key: history.earlier_start(key, invocation)


def _sent_before(history: History | None, invocation: str, jobs: Sequence[ResolvedJob],
                 recall: Callable[[str], HistoryRow | None]) -> Callable[[str], bool]:
    """Whether an earlier invocation sent a (masked) key. The planned runs' own keys
    are read at once here (one query per 500: a 1,000-run fan-out read the history
    before each start); any other (a later attempt's, one a plugin's hook set) is
    looked up with ``recall`` when asked. A key another process sends meanwhile is
    found by its start's replay."""
    if history is None:
        return lambda key: False
    planned = {mask(plan.request.idempotency_key, job.secrets)
               for job in jobs for plan in job.runs}
    try:
        sent = history.keys_sent_before(planned, invocation)
    except MogrunError:  # a history that cannot be read says so where it is read
        planned, sent = set(), frozenset()

    def sent_before(key: str) -> bool:
        if key in planned:
            return key in sent
        return recall(key) is not None

    return sent_before


def _first_signal(deps: SessionDeps, progress: SessionProgress, exit_code: int) -> None:
    """Say what the first signal does; starts still unanswered in ``CANCEL_GRACE``
    are given up on then (a timer: the signal handler must not wait)."""
    counts = progress.going_counts(deps.client.sending_keys())
    deps.give_up.set_by(time.monotonic() + CANCEL_GRACE, f"{CANCEL_GRACE:g}s after the signal")

    def give_up() -> None:  # a thread: the signal handler must not wait
        if not deps.give_up.wait(CANCEL_GRACE):
            deps.give_up.set()

    try:
        start_without_signals(give_up, "mogrun-give-up")
    except NoThread:  # no timer to be had: the unanswered starts are given up now
        deps.give_up.set()
    deps.channel.notice(first_signal_message(counts.started, counts.attached, exit_code,
                                             starting=counts.starting,
                                             uncancellable=counts.uncancellable,
                                             left=counts.left, triggering=counts.triggering,
                                             local=deps.local),
                        level="warning")


def _plugins_end(deps: SessionDeps, config: SessionConfig, results: tuple[RunResult, ...],
                 exit_code: int, on_wait: Callable[[Wait], None]) -> None:
    """A second signal still gives the plugins their end of session, as the first
    does (a ``--junit`` report of every run, those left going as errors), a slow one
    said; a further signal (or a hook's own ``KeyboardInterrupt``, taken as one)
    leaves without it."""
    from mogrun.engine.lifecycle import said_if_slow

    with contextlib.suppress(ForcedExit, KeyboardInterrupt):
        deps.hooks.session_finished(config=config, results=results, exit_code=exit_code,
                                    each=said_if_slow(on_wait, ONCE_MORE))


def _left_going(deps: SessionDeps, progress: SessionProgress, exit_code: int) -> Interrupted:
    going = progress.still_going()
    starting = progress.starts_in_flight(deps.client.sending_keys())
    deps.channel.left_going(exit_code, progress.cancels_in_flight(), progress.ended_statuses())
    error = Interrupted(exit_code, "interrupted again; exiting without waiting for runs")
    return error.evolve(context=tuple(left_going_lines(going, deps.local, starting,
                                                       progress.cannot_cancel(),
                                                       progress.cancels_in_flight(),
                                                       deps.command)))
