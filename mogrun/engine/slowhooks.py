"""A plugin's hook that runs long is said as a wait, never a silent terminal.

Hooks run on the engine's threads and mogrun cannot cut one short: a notifier
blocked on a network call, a gate that sleeps, held its run (and its timeout,
and a first Ctrl-C's cancel) with nothing on screen. ``SlowHooks`` looks at
the hook calls going on (``pluginguard.running_hooks``) every ``LOOK_EVERY``
and says each one past ``ANNOUNCE_AFTER`` once, naming the plugin, the hook,
the job and the run. The plugins' end of session is said by its own wait
(``lifecycle.plugins_wait``), so it is left out here. The CLI watches the
set-up hooks (``mogrun_configure``, ``mogrun_adjust_job``...) the same way,
before any output exists (``cli.loading``). ``HookWatch`` is the
looking loop it shares with ``engine.rescue`` (which ends the runs such a
hook holds past a signal or their timeout).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from mogrun.durations import format_duration
from mogrun.threads import start_without_signals

if TYPE_CHECKING:  # imported on the watching thread: check and show start a watch, but
    from mogrun.waits import Wait  # a hook slow enough to be said is rare

LOOK_EVERY = 0.5  # seconds between looks at the hooks going on
SAID_ELSEWHERE = frozenset({"mogrun_session_finished"})
WAIT_HOOK = "mogrun_wait"  # its own slowness is not told to it (see ``SlowHooks``)


# How to leave without a plugin's hook: Ctrl-C twice (the first cancels the runs),
# or, once a first signal has landed, one more (``ONCE_MORE``).
TWICE, ONCE_MORE = "Ctrl-C twice", "one more Ctrl-C"
# Before any run (an import, a set-up hook, a key's validate, all on the main thread):
# one Ctrl-C is "Interrupted." and exit 130, nothing started.
STOPS_MOGRUN = "Ctrl-C stops mogrun"


def way_out(stop: threading.Event | None) -> str:
    """How to leave without a hook now: ``TWICE``, or ``ONCE_MORE`` once the session's
    ``stop`` is set (a first signal landed): the line said twice where one left."""
    return ONCE_MORE if stop is not None and stop.is_set() else TWICE


class HookWatch:
    """While open, a daemon thread calls ``look(now)`` every ``LOOK_EVERY``: the one
    loop of the engine's looks at the hook calls going on (``running``), which
    says slow ones (``SlowHooks``) and ends runs they hold (``engine.rescue``)."""

    thread_name = "mogrun-hook-watch"

    def __init__(self, running: Callable[[], list[Any]] | None) -> None:
        self.running = running
        self._done = threading.Event()

    def __enter__(self) -> Self:
        if self.running is not None:
            start_without_signals(self._watch, self.thread_name)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._done.set()

    def _watch(self) -> None:
        while not self._done.wait(LOOK_EVERY):
            self.look(time.monotonic())

    def look(self, now: float) -> None:
        raise NotImplementedError


class SlowHooks(HookWatch):
    """While open, a daemon thread says each hook call that runs past a moment."""

    thread_name = "mogrun-slow-hooks"

    def __init__(self, running: Callable[[], list[Any]] | None,
                 on_wait: Callable[[Wait], None],
                 unheard: Callable[[Wait], None] | None = None,
                 only: frozenset[str] | None = None,
                 stop: threading.Event | None = None, before_runs: bool = False) -> None:
        super().__init__(running)
        self.on_wait = on_wait
        self.stop = stop  # the session's: set at a first signal (``way_out``)
        self.before_runs = before_runs  # the CLI's set-up: one Ctrl-C stops mogrun
        self.only = only  # the hooks said (the CLI's set-up hooks), else every one
        # How a slow mogrun_wait is said: to everyone but the plugins' mogrun_wait,
        # which would be handed its own slowness and be slow again, said again...
        self.unheard = unheard or on_wait
        self._lock = threading.Lock()  # no wait is said once the session has left
        self._said: set[tuple[str, str, float]] = set()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        with self._lock:
            super().__exit__(kind, error, trace)

    def look(self, now: float) -> None:
        """Say each hook call past ``ANNOUNCE_AFTER`` not said before, and still
        going as it is said (a call that ended since the first look is left out:
        a stale line would say a wait that is over)."""
        from mogrun.waits import ANNOUNCE_AFTER

        assert self.running is not None
        with self._lock:
            if self._done.is_set():
                return
            for call in self.running():
                key = (call.plugin, call.hook, call.since)
                if (call.hook in SAID_ELSEWHERE or key in self._said
                        or (self.only is not None and call.hook not in self.only)
                        or now - call.since < ANNOUNCE_AFTER or call not in self.running()):
                    continue
                self._said.add(key)
                say = self.unheard if call.hook == WAIT_HOOK else self.on_wait
                leave = None if self.before_runs else way_out(self.stop)
                say(slow_hook_wait(call, now - call.since, leave))


@contextlib.contextmanager
def said_when_slow(on_wait: Callable[[Wait], None], hook: str) -> Iterator[None]:
    """While open, this thread's call of ``hook`` still going after a moment is said
    (``on_wait``) as a run's slow hook is. For a command that asks a hook outside a
    run's session, where no session's ``SlowHooks`` looks: ``logs --follow`` and
    ``rerun`` judging an ended run by its gates, ``logs`` asking the retry policy.
    On the main thread one Ctrl-C stops mogrun there (``STOPS_MOGRUN``); on a
    worker (``logs --follow``'s runs) the first stops the following, and waits."""
    from mogrun.pluginguard import running_hooks

    thread = threading.get_ident()
    with SlowHooks(lambda: [call for call in running_hooks() if call.thread == thread],
                   on_wait, only=frozenset({hook}),
                   before_runs=threading.current_thread() is threading.main_thread()):
        yield


def slow_hook_wait(call: Any, running: float, leave: str | None = TWICE) -> Wait:
    """The wait for one hook call that runs long: it has no end mogrun can set.
    ``leave``: how to go on without it once runs are going (``way_out``); ``None``
    before any run, where one Ctrl-C stops mogrun (``STOPS_MOGRUN``)."""
    from mogrun.pluginguard import IMPORTING, VALIDATING
    from mogrun.waits import Wait, WaitKind

    took = format_duration(max(1, round(running)))
    if call.hook == IMPORTING:  # (before any output: a Ctrl-C then leaves mogrun)
        return Wait(WaitKind.PLUGINS,
                    f"waiting for plugin {call.plugin} to be imported (its module has run "
                    f"for {took}); an import has no end mogrun can set: {STOPS_MOGRUN}")
    way = STOPS_MOGRUN if leave is None else f"{leave} leaves without it"
    if call.hook == VALIDATING:
        return Wait(WaitKind.PLUGINS,
                    f'waiting for plugin {call.plugin} to check a value of job key '
                    f'"{call.key}" (running for {took}); its check has no end mogrun can '
                    f"set: {way}")
    return Wait(WaitKind.PLUGINS,
                f"waiting for plugin {call.plugin}'s {call.hook} (running for {took}); a "
                f"plugin's hook has no end mogrun can set: {way}", job=call.job, run=call.run)
