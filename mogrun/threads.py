"""The one way mogrun starts a helper thread: a daemon that takes no signals.

The kernel hands a process's SIGINT, SIGTERM or SIGHUP to any thread that does not
block it. Python runs the handler on the main thread either way, but a signal
taken by a helper while the main thread waits in C (a plugin's join, a lock)
is only noticed late, and a second Ctrl-C could merge into the first. So
every thread mogrun starts (run workers, the request watchdog, timers) blocks
both while it runs, and the main thread receives every one at once.

The system may refuse a thread (a container's process limit, ``ulimit -u``):
that is ``NoThread``, an error mogrun says in one line, and the callers that can
do without a thread do without it (the scheduler runs fewer runs at a time).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from mogrun.errors import MogrunError


class NoThread(MogrunError):
    """The system refused to start a thread (``pthread_create`` failed)."""


def start_without_signals(target: Callable[[], None], name: str) -> threading.Thread:
    """Start a daemon thread running ``target`` with SIGINT, SIGTERM and SIGHUP blocked. The
    thread inherits the mask set while it starts; the caller's own mask is restored
    (a signal meanwhile stays pending for it). ``NoThread`` when the system refuses it."""
    import signal  # here: mogrun.plugin re-exports this, and check/show/list import that

    masking = hasattr(signal, "pthread_sigmask")
    blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked) if masking else None
    try:
        thread = threading.Thread(target=target, name=name, daemon=True)
        try:
            thread.start()
        except RuntimeError as exc:  # CPython's "can't start new thread"
            raise NoThread(
                f"the system refused to start another thread ({threading.active_count()} "
                f"running: {exc}); a container's process limit or ulimit -u may be too low"
            ) from exc
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread


def start_helpers(work: Callable[[], None], count: int,
                  name: str) -> tuple[list[threading.Thread], NoThread | None]:
    """Up to ``count`` threads running ``work`` (named ``name-1``, ``name-2``...),
    as many as the system allows: a pool whose helpers take their items from one
    queue, so that fewer still do every item. The threads started, and the
    refusal that stopped the starting, if one did (the caller says it, or does
    the work itself when none started)."""
    helpers: list[threading.Thread] = []
    for n in range(1, count + 1):
        try:
            helpers.append(start_without_signals(work, f"{name}-{n}"))
        except NoThread as refused:
            return helpers, refused
    return helpers, None
