"""What every run of one invocation shares, split in two.

``SessionDeps`` is immutable: the ports (client, hooks), the lifecycle
channel, the signal flags and the policies fixed when the session starts.
``SessionProgress`` is the little that changes while runs go (how many are
being followed, which are still going), behind its own lock. Workers read
the first freely and touch the second only through its methods.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import NamedTuple

from mogrun.api.client import DueStop
from mogrun.engine.capacity import SandboxSlots
from mogrun.engine.follower import Pace
from mogrun.engine.history_row import HistoryRow
from mogrun.engine.lifecycle import Lifecycle
from mogrun.engine.ports import ApiClient, Hooks
from mogrun.engine.rerun import RERUN, rerun_for
from mogrun.engine.track import RunTrack
from mogrun.textsafety import run_command


def _unarmed() -> AbstractContextManager[None]:
    return nullcontext()


@dataclass(frozen=True)
class SessionDeps:
    """The immutable dependencies of a session's runs.

    ``armed()`` is the interruptible wait: budget and retry waits inside it end
    at the first signal (passed in by the caller that built the budget with it).
    ``abort`` is set by a 401, or a start refused 401/403: nothing new may start
    (a 403 on one run's read loses that run only). ``give_up`` is set
    ``CANCEL_GRACE`` after the first signal: a start still unanswered then is
    given up on (its answer would name the run to cancel, so it is waited for
    until then).
    """

    client: ApiClient
    hooks: Hooks
    channel: Lifecycle
    invocation: str
    stop: threading.Event
    abort: threading.Event
    interval: Callable[[int], Pace]  # the pace of polls, by the runs followed
    interrupt_code: Callable[[], int] = lambda: 130
    armed: Callable[[], AbstractContextManager[None]] = _unarmed
    detach_jobs: frozenset[str] = frozenset()
    local: bool = False  # --local: the emulator, and every run on it, ends with this process
    sandbox_cap: int = 3  # [mogplex] sandboxes
    slots: SandboxSlots | None = None  # the account's sandbox slots (capacity-aware starts)
    recall: Callable[[str], HistoryRow | None] = lambda key: None  # an earlier start of a key
    # Whether another invocation sent a (masked) key: its start replays, needing no sandbox.
    sent_before: Callable[[str], bool] = lambda key: False
    give_up: DueStop = field(default_factory=DueStop)
    said: threading.Event = field(default_factory=threading.Event)  # the first signal's line
    rerun_command: str = RERUN  # `mogrun [-f FILE] [--local] rerun`, as the summary says it
    # `mogrun ... run --rerun`: what retries the runs where the history stopped keeping
    # them (``recorded`` says whether it still does: rerun would not find them)
    unrecorded_command: str | None = None
    recorded: Callable[[], bool] = lambda: True
    command: str = "mogrun"  # `mogrun [-f FILE] [--url URL]`: how every hint's command starts

    def resume_hint(self, run_id: str, verb: str = "resume") -> str:
        """How to pick a run up later; a ``--local`` run cannot be (its emulator is gone)."""
        if self.local:
            return "the --local emulator stops when mogrun exits, and the run with it"
        return f"{verb} with: {run_command(self.command, 'logs --follow', run_id)}"

    def cancel_hint(self, run_id: str) -> str:
        """The command that cancels a run left going."""
        return run_command(self.command, "cancel", run_id)

    def rerun_prefix(self, recorded: bool | None = None) -> str:
        """How this invocation's runs are retried: ``rerun``, unless the history no
        longer keeps them (``recorded``, else asked now: it may give up midway;
        the summary passes what the settled history says)."""
        if recorded is None:
            recorded = self.recorded()
        if self.unrecorded_command is not None and not recorded:
            return self.unrecorded_command
        return self.rerun_command

    def rerun_hint(self, job: str) -> str:
        """How to start a fresh attempt of ``job``: the summary's rerun line for it
        (an attached run's hint said `rerun JOB` with no history to read it from)."""
        return rerun_for(self.rerun_prefix(), [job])


@dataclass
class SessionProgress:
    """The mutable part: runs being followed, runs going (run id -> label), starts
    sent and not yet answered (run label -> masked Idempotency-Key)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    active: int = 0
    going: dict[str, str] = field(default_factory=dict)
    attached: set[str] = field(default_factory=set)  # run ids this invocation did not start
    uncancellable: set[str] = field(default_factory=set)  # run ids no cancel can stop
    # label -> (key, masked key, whether a cancel can stop the run it makes)
    starting: dict[str, tuple[str, str, bool]] = field(default_factory=dict)
    cancelling: set[str] = field(default_factory=set)  # run ids whose cancel is unanswered
    left: set[str] = field(default_factory=set)  # run ids left going (--detach, a timeout...)
    # run id -> the terminal status its end was seen with (a poll, a cancel's answer),
    # while its result is still to be written (its gates judge it): a second signal
    # records that, not "left going".
    ended: dict[str, str] = field(default_factory=dict)

    def follow_interval(self, deps: SessionDeps) -> Pace:
        with self.lock:
            active = self.active
        return deps.interval(active)

    @contextmanager
    def following(self) -> Iterator[None]:
        with self.lock:
            self.active += 1
        try:
            yield
        finally:
            with self.lock:
                self.active -= 1

    def run_going(self, run_id: str, label: str, attached: bool = False,
                  cancellable: bool = True) -> None:
        with self.lock:
            self.going[run_id] = label
            if attached:
                self.attached.add(run_id)
            if not cancellable:
                self.uncancellable.add(run_id)

    def going_counts(self, sending: frozenset[str] = frozenset()) -> GoingCounts:
        """What a signal finds: runs started here (and of them, those no cancel can
        stop), runs only attached to, and starts in flight (``sending``: the
        Idempotency-Keys on the wire, from the client)."""
        with self.lock:
            attached = {run_id for run_id in self.going if run_id in self.attached}
            own = [run_id for run_id in self.going if run_id not in attached]
            left = sum(run_id in self.left for run_id in own)
            stuck = sum(run_id in self.uncancellable and run_id not in self.left
                        for run_id in own)
            sent = [self.starting[label][2] for label in self._sent(sending)]
            return GoingCounts(len(own) - stuck - left, len(attached), sum(sent), stuck, left,
                               len(sent) - sum(sent))

    @contextmanager
    def start_in_flight(self, label: str, key: str, shown_key: str,
                        cancellable: bool = True) -> Iterator[None]:
        """While a start is unanswered: the run it makes may exist, its id unknown,
        once its request is on the wire (``sending``); ``cancellable``: whether
        a cancel can stop that run (an automation trigger's cannot be)."""
        with self.lock:
            self.starting[label] = (key, shown_key, cancellable)
        try:
            yield
        finally:
            with self.lock:
                self.starting.pop(label, None)

    def starts_in_flight(self, sending: frozenset[str]) -> dict[str, str]:
        """Label -> masked key of each start on the wire."""
        with self.lock:
            return self._sent(sending)

    def start_sent(self, label: str, sending: frozenset[str]) -> bool | None:
        """``None`` when ``label``'s start is not in flight, else whether an attempt of
        it may have reached the server (its key on the wire: its run may exist)."""
        with self.lock:
            entry = self.starting.get(label)
            return None if entry is None else entry[0] in sending

    def _sent(self, sending: frozenset[str]) -> dict[str, str]:
        return {label: shown for label, (key, shown, _) in self.starting.items()
                if key in sending}

    @contextmanager
    def cancel_in_flight(self, run_id: str) -> Iterator[None]:
        """While a run's cancel is unanswered: a second signal says it was sent,
        not that the run was left going (the server may well have taken it)."""
        with self.lock:
            self.cancelling.add(run_id)
        try:
            yield
        finally:
            with self.lock:
                self.cancelling.discard(run_id)

    def claim(self, track: RunTrack) -> bool:
        """Claim the end of ``track``'s current attempt (its cancel, its result) for
        this thread: exactly one of its worker and a rescue ends a run. ``True`` if
        this thread holds it now (again, or first)."""
        me = threading.get_ident()
        with self.lock:
            if track.ender is None:
                track.ender = me
            return track.ender == me

    def take_cancel(self, track: RunTrack) -> bool:
        """Claim for this thread the end of ``track``'s run from its worker, whose cancel
        of it is unanswered (a plugin's retry hook holds it past a signal). ``False``
        once that cancel is over: its worker ends the run."""
        with self.lock:
            if track.run_id not in self.cancelling:
                return False
            track.ender = threading.get_ident()
            return True

    def cancels_in_flight(self) -> frozenset[str]:
        with self.lock:
            return frozenset(self.cancelling)

    def run_left(self, run_id: str) -> None:
        """``run_id`` was left going on purpose, its result given: no worker is left
        to cancel it at a signal (the second one still lists it)."""
        with self.lock:
            self.left.add(run_id)

    def run_ended(self, run_id: str, status: str | None = None) -> None:
        """``run_id`` is no longer going (``status``: the terminal one it ended with)."""
        with self.lock:
            self.going.pop(run_id, None)
            if status is not None:
                self.ended[run_id] = status

    def ended_statuses(self) -> dict[str, str]:
        """Run id -> terminal status of each run seen to end (see ``ended``)."""
        with self.lock:
            return dict(self.ended)

    def still_going(self) -> dict[str, str]:
        with self.lock:
            return dict(self.going)

    def cannot_cancel(self) -> frozenset[str]:
        """The run ids going that no cancel can stop (automation runs)."""
        with self.lock:
            return frozenset(self.uncancellable)


class GoingCounts(NamedTuple):
    """What is going when a signal lands (see ``first_signal_message``)."""

    started: int  # runs started here that a cancel can stop
    attached: int  # runs only attached to: left going
    starting: int  # starts on the wire, their runs perhaps made
    uncancellable: int  # runs started here that no cancel can stop: left going
    left: int = 0  # runs started here already left going (--detach, a timeout): stay so
    triggering: int = 0  # starts on the wire whose runs no cancel can stop: left going
