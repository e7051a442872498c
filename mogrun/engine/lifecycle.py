"""The one lifecycle channel of a run session.

Everything an invocation goes through — a run about to start, started,
an event, a status change, a wait, a notice, a run's result, a job's end,
the session's end — is emitted once, here, and every observer hears it:
the reporter (what the user sees), the history (what is recorded) and the
plugins (``mogrun_*`` hooks). They are peers registered on the channel, as
pytest's terminal reporter is one plugin among others, so a new kind of
notice is added in one place and reaches every output, the history and the
plugins without touching each.

Observers are called in registration order from worker threads; each
implements only what it cares about (``Observer`` does nothing by default).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from mogrun.engine.slowhooks import ONCE_MORE, TWICE
from mogrun.engine.track import RunTrack
from mogrun.models import ResolvedJob, RunPlan, SessionConfig
from mogrun.outcomes import Outcome
from mogrun.runs import Event, RunResult, RunState
from mogrun.threads import NoThread, start_without_signals
from mogrun.waits import ANNOUNCE_AFTER, Wait, WaitKind

if TYPE_CHECKING:
    from mogrun.engine.ports import Hooks
    from mogrun.output.base import Reporter


class Observer:
    """A listener on the channel; every method is optional (a no-op here).
    ``plugins``: whether it hands waits to the plugins' ``mogrun_wait`` (a wait
    about that hook itself being slow is kept from it: ``Lifecycle.wait``)."""

    plugins = False

    def session_started(self, jobs: Sequence[ResolvedJob]) -> None:
        """Every job of the invocation, in graph order, before anything starts."""

    def run_pending(self, track: RunTrack) -> None:
        """A run (or a new attempt of it) is about to start, or never will."""

    def run_started(self, track: RunTrack) -> None:
        """The server accepted the start (or replayed an existing run)."""

    def event(self, track: RunTrack, event: Event) -> None:
        """A new event of the run, each once and in order."""

    def status(self, track: RunTrack, old: str | None, state: RunState) -> None:
        """The run's status changed."""

    def wait(self, wait: Wait, track: RunTrack | None = None) -> None:
        """Something waits (``wait.describe()`` says what, why and until when)."""

    def notice(self, message: str, *, track: RunTrack | None = None,
               level: str = "info") -> None:
        """A diagnostic for the person watching."""

    def run_finished(self, track: RunTrack | None, result: RunResult) -> None:
        """The run (or the attempt, or a run that never started) has its result."""

    def internal_error(self, job: ResolvedJob, plan: RunPlan, traceback: str) -> None:
        """A bug in mogrun ended the run."""

    def job_finished(self, job: ResolvedJob, results: tuple[RunResult, ...],
                     outcome: str) -> None:
        """Every run of the job has its result."""

    def session_finished(self, config: SessionConfig, results: tuple[RunResult, ...],
                         exit_code: int, rerun: str | None = None) -> None:
        """The invocation is over."""

    def left_going(self, exit_code: int, cancelling: Collection[str] = (),
                   ended: Mapping[str, str] | None = None) -> None:
        """A second signal: the process leaves now, runs still going (``cancelling``:
        the run ids whose cancel was sent and not answered: they may not be; ``ended``:
        run id -> the terminal status of runs seen to end, their results unwritten)."""

    def session_failed(self, message: str, exit_code: int) -> None:
        """The invocation stopped before its runs started (a repo not found)."""


class Lifecycle(Observer):
    """Fans each lifecycle point out to every registered observer, in order."""

    def __init__(self, observers: Sequence[Observer] = ()) -> None:
        self.observers: list[Observer] = []
        # Who hears the two notices a fan-out sends per poll and per event: only the
        # observers that implement them (a no-op call costs as much as a real one).
        self._on_event: list[Callable[[RunTrack, Event], None]] = []
        self._on_status: list[Callable[[RunTrack, str | None, RunState], None]] = []
        for observer in observers:
            self.register(observer)

    def register(self, observer: Observer) -> None:
        self.observers.append(observer)
        kind = type(observer)
        if kind.event is not Observer.event:
            self._on_event.append(observer.event)
        if kind.status is not Observer.status:
            self._on_status.append(observer.status)

    def session_started(self, jobs: Sequence[ResolvedJob]) -> None:
        for o in self.observers:
            o.session_started(jobs)

    def run_pending(self, track: RunTrack) -> None:
        for o in self.observers:
            o.run_pending(track)

    def run_started(self, track: RunTrack) -> None:
        for o in self.observers:
            o.run_started(track)

    def event(self, track: RunTrack, event: Event) -> None:
        for hear in self._on_event:
            hear(track, event)

    def status(self, track: RunTrack, old: str | None, state: RunState) -> None:
        for hear in self._on_status:
            hear(track, old, state)

    def wait(self, wait: Wait, track: RunTrack | None = None, *,
             to_plugins: bool = True) -> None:
        """``to_plugins=False``: a wait the plugins' ``mogrun_wait`` must not hear
        (one that says that very hook is slow would be fed to it, and said again)."""
        for o in self.observers:
            if to_plugins or not o.plugins:
                o.wait(wait, track)

    def notice(self, message: str, *, track: RunTrack | None = None,
               level: str = "info") -> None:
        for o in self.observers:
            o.notice(message, track=track, level=level)

    def run_finished(self, track: RunTrack | None, result: RunResult) -> None:
        for o in self.observers:
            o.run_finished(track, result)

    def internal_error(self, job: ResolvedJob, plan: RunPlan, traceback: str) -> None:
        for o in self.observers:
            o.internal_error(job, plan, traceback)

    def job_finished(self, job: ResolvedJob, results: tuple[RunResult, ...],
                     outcome: str) -> None:
        for o in self.observers:
            o.job_finished(job, results, outcome)

    def session_finished(self, config: SessionConfig, results: tuple[RunResult, ...],
                         exit_code: int, rerun: str | None = None) -> None:
        for o in self.observers:
            o.session_finished(config, results, exit_code, rerun)

    def session_failed(self, message: str, exit_code: int) -> None:
        for o in self.observers:
            o.session_failed(message, exit_code)

    def left_going(self, exit_code: int, cancelling: Collection[str] = (),
                   ended: Mapping[str, str] | None = None) -> None:
        """The last thing the channel says: the process leaves without waiting for
        its workers, and whatever they still emit (a cancel's catch-up) is heard
        by no one, as it would reach a closed history or a finished output."""
        observers = self.observers
        self.observers, self._on_event, self._on_status = [], [], []
        for o in observers:
            o.left_going(exit_code, cancelling, ended)


class ReporterObserver(Observer):
    """The reporter (terminal, plain, GitHub, NDJSON) as an observer. ``settle``
    turns the session's exit code into the one the process will exit with (a
    signal may land while the plugins' end of session runs, before the summary):
    the summary, ``$GITHUB_OUTPUT`` and the NDJSON summary line say that one."""

    def __init__(self, reporter: Reporter, settle: Callable[[int], int] | None = None) -> None:
        self.reporter = reporter
        self.settle = settle

    def session_started(self, jobs: Sequence[ResolvedJob]) -> None:
        self.reporter.session_started(jobs)

    def run_started(self, track: RunTrack) -> None:
        assert track.state is not None
        self.reporter.job_started(track.job, track.plan, track.state, track.attached)

    def event(self, track: RunTrack, event: Event) -> None:
        self.reporter.event(track.job, track.plan, event)

    def status(self, track: RunTrack, old: str | None, state: RunState) -> None:
        self.reporter.status(track.job, track.plan, old, state)

    def wait(self, wait: Wait, track: RunTrack | None = None) -> None:
        self.reporter.wait(wait)

    def notice(self, message: str, *, track: RunTrack | None = None,
               level: str = "info") -> None:
        job, plan = (track.job, track.plan) if track is not None else (None, None)
        self.reporter.notice(message, job=job, run=plan, level=level)

    def internal_error(self, job: ResolvedJob, plan: RunPlan, traceback: str) -> None:
        self.reporter.internal_error(job, plan, traceback)

    def job_finished(self, job: ResolvedJob, results: tuple[RunResult, ...],
                     outcome: str) -> None:
        if outcome != Outcome.DETACHED:
            self.reporter.job_finished(job, results, outcome)

    def session_finished(self, config: SessionConfig, results: tuple[RunResult, ...],
                         exit_code: int, rerun: str | None = None) -> None:
        if self.settle is not None:
            exit_code = self.settle(exit_code)
        self.reporter.summary(results, exit_code, rerun=rerun)

    def left_going(self, exit_code: int, cancelling: Collection[str] = (),
                   ended: Mapping[str, str] | None = None) -> None:
        self.reporter.left_going(exit_code, cancelling, ended)


class HooksObserver(Observer):
    """The plugins' observer hooks (``mogrun_run_started``, ``mogrun_event``, ...)."""

    def __init__(self, hooks: Hooks, on_wait: Callable[[Wait], None] | None = None,
                 stop: threading.Event | None = None,
                 waits_heard: Callable[[], None] | None = None,
                 interrupted: Callable[[], None] | None = None) -> None:
        self.hooks = hooks
        # A KeyboardInterrupt a hook raised on the main thread, taken as the Ctrl-C it
        # stands for (``SignalWatch.interrupt``); without it, it propagates.
        self.interrupted = interrupted
        self.on_wait = on_wait  # how a slow end of session is said (the channel's wait)
        # Until the plugins have heard every wait (``pluginwaits.PluginWaits.drain``:
        # ``mogrun_wait`` is called on a thread of its own): before their end of session.
        self.waits_heard = waits_heard
        # Set at a signal: from then on, the events a cancel catches up on go to the
        # output and history only. A slow mogrun_event (an audit POST per event)
        # held the exit once per event of the backlog: minutes for one Ctrl-C.
        self.stop = stop

    # A run ended by a rescue (``engine.rescue``: a plugin's hook held its worker)
    # is not heard of again; a worker let go by that hook leaves (``let_go``).

    def run_started(self, track: RunTrack) -> None:
        assert track.state is not None
        if not track.rescued:
            self.hooks.run_started(job=track.job, run=track.plan, state=track.state,
                                   attached=track.attached)
            track.let_go()

    def event(self, track: RunTrack, event: Event) -> None:
        if (self.stop is None or not self.stop.is_set()) and not track.rescued:
            self.hooks.event(job=track.job, run=track.plan, event=event)
            track.let_go()

    def status(self, track: RunTrack, old: str | None, state: RunState) -> None:
        if not track.rescued:
            self.hooks.status_changed(job=track.job, run=track.plan, old=old, state=state)
            track.let_go()

    def job_finished(self, job: ResolvedJob, results: tuple[RunResult, ...],
                     outcome: str) -> None:
        if outcome != Outcome.DETACHED:
            with self._ctrl_c():
                self.hooks.job_finished(job=job, results=results, outcome=outcome)

    def session_finished(self, config: SessionConfig, results: tuple[RunResult, ...],
                         exit_code: int, rerun: str | None = None) -> None:
        """The plugins' end of session (notify waits for its deliveries there): each
        plugin whose part takes longer than a moment is said as a wait, naming it
        alone, since the summary comes after it. The waits still to be heard are
        heard first (said too if that takes a while). How to leave without them:
        Ctrl-C twice, or one more once a first signal has landed (``stop``)."""
        if self.waits_heard is not None:
            from mogrun.engine.pluginwaits import waits_unheard_wait

            with _SlowAnnounce(self.on_wait, waits_unheard_wait, stop=self.stop):
                self.waits_heard()
        with self._ctrl_c():
            self.hooks.session_finished(config=config, results=results, exit_code=exit_code,
                                        each=said_if_slow(self.on_wait, stop=self.stop))

    @contextlib.contextmanager
    def _ctrl_c(self) -> Iterator[None]:
        """A hook on the main thread (a notifier) that raised ``KeyboardInterrupt``:
        handled as a Ctrl-C is there, so the job's result line, the summary and the
        history still say how the invocation ended, and its exit code 130."""
        try:
            yield
        except KeyboardInterrupt:
            if self.interrupted is None:
                raise
            self.interrupted()


def said_if_slow(on_wait: Callable[[Wait], None] | None, leave: str = TWICE, *,
                 stop: threading.Event | None = None) -> Callable[[str], _SlowAnnounce]:
    """Each plugin's end of session, said as a wait if it takes a while (``leave``:
    how to leave without it; once ``stop`` is set, one more Ctrl-C)."""
    return lambda plugin: _SlowAnnounce(on_wait, lambda way: plugins_wait(plugin, way), leave,
                                        stop=stop)


def plugins_wait(plugin: str, leave: str) -> Wait:
    """The wait for ``plugin``'s end of session. A plugin's hook gives mogrun no
    end, and mogrun does not cut it off (a notifier bounds its own deliveries),
    so the wait says it has none, and how to leave without it."""
    return Wait(WaitKind.PLUGINS, f"waiting for plugin {plugin} to finish its end-of-session "
                f"work (such as notifications being delivered); no end is known: "
                f"{leave} leaves without it")


STOP_LOOK = 0.1  # seconds: how soon a slow plugin's wait is said again after a signal


class _SlowAnnounce:
    """``with _SlowAnnounce(say, wait):`` calls ``say(wait(leave))`` if the block is
    still going after ``ANNOUNCE_AFTER``, and never once the block has ended. A first
    signal (``stop`` set) while it goes says it again, its way out now one more
    Ctrl-C: the signal's "stopping" was otherwise the last word while mogrun went on
    waiting. Its thread takes no signals (``start_without_signals``): the main thread
    waits for plugins meanwhile, and a second Ctrl-C must reach it."""

    def __init__(self, say: Callable[[Wait], None] | None, wait: Callable[[str], Wait],
                 leave: str = TWICE, *, stop: threading.Event | None = None) -> None:
        self._say, self._wait, self._leave, self._stop = say, wait, leave, stop
        self._lock = threading.Lock()
        self._done = False
        self._ended = threading.Event()

    def __enter__(self) -> None:
        if self._say is not None:  # with no thread to be had, the call is not said
            with contextlib.suppress(NoThread):
                start_without_signals(self._watch, "mogrun-slow-announce")

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
        self._ended.set()

    def _watch(self) -> None:
        if self._ended.wait(ANNOUNCE_AFTER):
            return
        stopped = self._say_now()
        while self._stop is not None and not stopped:  # until a signal, or the end
            if self._ended.wait(STOP_LOOK):
                return
            if self._stop.is_set():
                self._say_now()
                return

    def _say_now(self) -> bool:
        """Say the wait as it stands; whether a signal had landed."""
        stopped = self._stop is not None and self._stop.is_set()
        with self._lock:
            if not self._done and self._say is not None:
                self._say(self._wait(ONCE_MORE if stopped else self._leave))
        return stopped
