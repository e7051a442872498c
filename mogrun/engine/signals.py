"""Ctrl-C, SIGTERM and SIGHUP during a run session.

The first signal asks every worker to stop: runs this invocation started are
cancelled, runs it only attached to are left going, history is written, and
the session ends with 130 (SIGINT), 143 (SIGTERM) or 129 (SIGHUP: the
terminal closed, an SSH connection dropped). It is said at once
(``first_signal_message``). Each cancel is bounded (``CANCEL_GRACE``) so a
stalled server cannot hold the exit for minutes; whether it got through is
said. A second signal raises ``ForcedExit`` in the main thread so the
session can leave at once, naming the runs it leaves going with the
``mogrun cancel`` command for each (``left_going_lines``). The plugins still
get their end of session first, with every run as ``HeardSoFar`` knows it:
a ``--junit`` report is written at either signal.

``ForcedExit`` is a ``BaseException``, like ``KeyboardInterrupt``: the
notifier delivering a webhook in the main thread, or the plugin host's
containment of hook crashes, must not swallow it as a failure of theirs.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import Any

from mogrun.engine.lifecycle import Observer
from mogrun.engine.track import RunTrack
from mogrun.errors import Interrupted, LeaveNow
from mogrun.models import ResolvedJob
from mogrun.outcomes import NOT_STARTED_AGAIN, Outcome, left_at_a_second_signal
from mogrun.owedsignals import took
from mogrun.runs import RunResult
from mogrun.textsafety import run_command
from mogrun.threads import NoThread, start_without_signals

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
# Signals no key sends: said by name, with no "Ctrl-C again" to offer.
_NAMED = {143: "SIGTERM", 129: "SIGHUP"}
CANCEL_GRACE = 10.0  # seconds a cancel after a signal may take, retries included
_INTERRUPT_CODES = frozenset(EXIT_CODES.values())
# Seconds the end of a watch waits for the first signal's line still being said.
RESPONSE_WAIT = 5.0
def is_interrupt_code(code: int | None) -> bool:
    """Whether ``code`` is a signal's exit (130, 143, 129). It is a fact about the
    invocation that recorded it, which what its runs did afterwards does not undo."""
    return code in _INTERRUPT_CODES


def signal_name(exit_code: int) -> str:
    """How a signal's exit code is said where it lands: ``SIGTERM``, ``SIGHUP``;
    a Ctrl-C (130) is ``interrupted``."""
    return _NAMED.get(exit_code, "interrupted")


class ForcedExit(LeaveNow):
    """A second signal: leave now, without waiting for the workers. Not an
    ``Exception``, so no ``except Exception`` (a plugin's, a notifier's) stops it."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


def first_signal_message(started: int, attached: int, exit_code: int = 130, *,
                         starting: int = 0, uncancellable: int = 0, left: int = 0,
                         triggering: int = 0, local: bool = False) -> str:
    """What the first signal does, said the moment it lands (``exit_code`` 143:
    a SIGTERM, from CI cancelling the job, where there is no Ctrl-C to press).
    ``starting``: starts sent and unanswered, whose runs may exist: their answers
    are waited for (``CANCEL_GRACE``) so that those runs are cancelled too.
    ``uncancellable``: runs started here that no cancel can stop (automation runs):
    never promised a cancel. ``left``: runs started here and already left going (their
    ``--detach`` or timeout line said how to follow them): they stay going, but for
    ``local`` ones, which end with this mogrun's emulator (as that line said).
    ``triggering``: automation triggers sent and unanswered: their answers are waited
    for too, to record the runs, which no cancel can stop: they are left going."""
    named = _NAMED.get(exit_code)  # signal_name, with no word for a Ctrl-C
    if started:
        runs = f"{started} run{'s' if started != 1 else ''}"
        text = (f"cancelling {runs} started here; Ctrl-C again to leave {_them(started)} going"
                if named is None else f"{named}: cancelling {runs} started here; "
                f"a second signal leaves {_them(started)} going")
    elif starting or uncancellable or left or triggering:
        text = named or "interrupted"
    else:
        text = (f"{named}: " if named else "interrupted; ") + \
            "no run started here is going, stopping"
    if uncancellable:
        one = uncancellable == 1
        text += (f"; {uncancellable} run{'' if one else 's'} started here cannot be cancelled "
                 f"({'an automation run' if one else 'automation runs'}) and "
                 f"{'is' if one else 'are'} left going")
    if left:
        one = left == 1
        fate = (f"{'ends' if one else 'end'} with the --local emulator as mogrun exits"
                if local else f"{'stays' if one else 'stay'} going")
        text += f"; {left} run{'' if one else 's'} already left going (--detach, a timeout) {fate}"
    awaited = _awaited(starting, triggering)
    if awaited:
        text += f"; waiting up to {CANCEL_GRACE:g}s for " + ", and for ".join(awaited)
    if attached:
        text += (f" ({attached} attached run{'s' if attached != 1 else ''} "
                 "not started here left going)")
    return text


def _awaited(starting: int, triggering: int) -> list[str]:
    """The starts in flight a signal waits for: a run's to cancel what it made, an
    automation trigger's only to know its run (which no cancel stops)."""
    awaited = []
    if starting:
        awaited.append(f"{starting} start{'s' if starting != 1 else ''} in flight to "
                       f"answer, to cancel what {'they' if starting != 1 else 'it'} started")
    if triggering:
        one = triggering == 1
        awaited.append(f"{triggering} automation trigger{'' if one else 's'} in flight to "
                       f"answer: the run{'' if one else 's'} {'it makes' if one else 'they make'}"
                       f" cannot be cancelled and {'is' if one else 'are'} left going")
    return awaited


def left_going_lines(going: Mapping[str, str], local: bool = False,
                     starting: Mapping[str, str] | None = None,
                     uncancellable: Collection[str] = (),
                     cancelling: Collection[str] = (),
                     command: str = "mogrun") -> list[str]:
    """At a second Ctrl-C: each run left going (run id -> label), with the command
    that cancels it (a ``--local`` run ends with mogrun's own emulator; an
    automation run has no cancel; a run whose cancel was sent and not answered
    may have been cancelled: said so), and each start left unanswered (label ->
    Idempotency-Key), whose run may exist. ``command``: ``mogrun -f FILE``, how
    this invocation found its task file."""
    starting = starting or {}
    if not going and not starting:
        return ["no runs were left going"]
    lines = [(f"cancel sent, not yet answered: {run_id} ({label}); see whether it "
              f"ended with: {run_command(command, 'status', run_id)}")
             if run_id in cancelling and not local
             else f"left going: {run_id} ({label}); " + (
                 "automation runs cannot be cancelled" if run_id in uncancellable else
                 "it ends with the --local emulator" if local else
                 f"cancel it with: {run_command(command, 'cancel', run_id)}")
             for run_id, label in going.items()]
    return lines + [f"left unanswered: the start of {label} (Idempotency-Key {key}); "
                    "it may have made a run, left going" for label, key in starting.items()]


def _them(count: int) -> str:
    return "them" if count != 1 else "it"


class HeardSoFar(Observer):
    """Each run's result as the channel hears it, and each run started. At a second
    signal the session's own results never come: the plugins' end of session (a
    JUnit report) is given these instead (``at_exit``). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[str, RunResult] = {}  # run label -> its result
        self._started: dict[str, str] = {}  # run label -> its run id

    def run_started(self, track: RunTrack) -> None:
        with self._lock:
            self._started[track.label] = track.run_id

    def run_finished(self, track: RunTrack | None, result: RunResult) -> None:
        if result.outcome == Outcome.REFUSED:  # an attempt, not the run's result
            return
        with self._lock:
            self._results[result.label] = result

    def at_exit(self, jobs: Collection[ResolvedJob], exit_code: int,
                cancelling: Collection[str] = (), starting: Collection[str] = (),
                ended: Mapping[str, str] | None = None) -> tuple[RunResult, ...]:
        """Every run of ``jobs``: the results heard, in the order heard, then each run
        started and not finished as left going (``cancelling``: run ids whose cancel
        is unanswered) or as seen to end (``ended``: run id -> status), then each
        other run as skipped (``starting``: the labels whose start is unanswered,
        which may have made a run)."""
        from mogrun.engine.runner import MAYBE_STARTED  # the runner imports this module

        with self._lock:
            results, started = dict(self._results), dict(self._started)
        made = []
        for plan in (plan for job in jobs for plan in job.runs if plan.label not in results):
            run_id = started.get(plan.label)
            if run_id is not None:
                made.append(RunResult(job=plan.job, repo=plan.repo, run_id=run_id or None,
                                      **left_at_a_second_signal(run_id, exit_code,
                                                                cancelling, ended)))
            else:
                made.append(RunResult(job=plan.job, repo=plan.repo, outcome=Outcome.SKIPPED,
                                      exit_code=exit_code, message=MAYBE_STARTED
                                      if plan.label in starting else NOT_STARTED_AGAIN))
        return (*results.values(), *made)


class SignalWatch:
    """Installs the handlers for the duration of a ``with`` block (main thread only).
    ``on_first(exit_code)`` runs at the first signal, to say what happens now.

    The handler itself only notes the signal: it runs on the main thread between
    two of its bytecodes, maybe while that thread holds a lock (the live board's,
    the history's, a queue's), and taking that lock again there would freeze the
    very Ctrl-C that asks to stop. Setting ``stop`` and saying the line are a
    thread's (``_respond``); a second signal raises ``ForcedExit`` at once, which
    takes no lock."""

    def __init__(self, stop: threading.Event | None = None,
                 on_first: Callable[[int], None] | None = None) -> None:
        self.stop = stop or threading.Event()
        self.on_first = on_first
        self.said = threading.Event()  # set once the first signal's line is out
        self.exit_code: int | None = None
        self._previous: dict[int, Any] = {}
        # The first signal's exit code, for the responder; None: the watch has ended.
        # (``SimpleQueue.put`` is reentrant: a signal handler may call it.)
        self._heard: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._responder: threading.Thread | None = None

    def __enter__(self) -> SignalWatch:
        if threading.current_thread() is threading.main_thread():
            try:
                self._responder = start_without_signals(self._respond_when_heard,
                                                        "mogrun-signals")
            except NoThread:  # none to be had: the handler answers the signal itself
                self._responder = None
            for signum in EXIT_CODES:
                if signal.getsignal(signum) is signal.SIG_IGN:
                    # ignored by whoever started mogrun (``nohup``; a shell script's
                    # ``&`` ignores Ctrl-C): theirs to ignore, as Python leaves it
                    continue
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
        if self._responder is not None:
            self._heard.put(None)
            # A signal that landed just now still has its line said before the
            # caller's own last lines (bounded: the responder may wait on a lock).
            self._responder.join(RESPONSE_WAIT)
            self._responder = None

    @property
    def interrupted(self) -> bool:
        return self.exit_code is not None

    def interrupt(self) -> None:
        """A Ctrl-C that came as a ``KeyboardInterrupt`` out of a plugin's hook on the
        main thread (where, while this watch is on, no real Ctrl-C raises one): taken
        as the signal would be (the first stops the session, which still ends with its
        summary and history; a second leaves at once), not as an exit with neither.
        Answered here and now: this is no signal handler, and the caller goes on
        expecting ``stop`` set."""
        if self.exit_code is not None:
            raise ForcedExit(self.exit_code)
        self.exit_code = 130
        self._respond(self.exit_code)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        took(signum)  # owed to an embedder (``owedsignals``)
        if self.exit_code is not None:
            raise ForcedExit(self.exit_code)
        self.exit_code = EXIT_CODES.get(signal.Signals(signum), 130)
        if self._responder is not None:
            self._heard.put(self.exit_code)
        else:
            self._respond(self.exit_code)

    def _respond_when_heard(self) -> None:
        code = self._heard.get()
        if code is not None:
            self._respond(code)

    def _respond(self, exit_code: int) -> None:
        """Stop the session and say so (the first signal's work, off its handler)."""
        self.stop.set()
        try:
            if self.on_first is not None:
                with contextlib.suppress(Exception):  # saying it must never stop the stop
                    self.on_first(exit_code)
        finally:
            self.said.set()


class InterruptibleSleep:
    """Replaces the request budget's ``sleep`` so that a worker waiting for room
    (a start paced to 10 a minute, a 429 pause) wakes at the first signal
    instead of starting a run after Ctrl-C. Only waits inside ``armed()`` are
    cut short; cancels sent after the signal wait normally."""

    def __init__(self, stop: threading.Event, base: Any) -> None:
        self.stop = stop
        self.base = base
        self._local = threading.local()

    def __call__(self, seconds: float) -> None:
        if not getattr(self._local, "armed", False):
            self.base(seconds)
            return
        if self.stop.wait(max(0.0, seconds)):
            raise Interrupted(130, "interrupted while waiting for the request budget")

    @contextmanager
    def armed(self) -> Iterator[None]:
        previous = getattr(self._local, "armed", False)
        self._local.armed = True
        try:
            yield
        finally:
            self._local.armed = previous
