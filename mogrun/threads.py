"""The one way mogrun starts a helper thread: a daemon that takes no signals.

The kernel hands a process's SIGINT, SIGTERM or SIGHUP to any thread that does not
block it. Python runs the handler on the main thread either way, but a signal
taken by a helper while the main thread waits in C (a plugin's join, a lock)
is only noticed late, and a second Ctrl-C could merge into the first. So
every thread mogrun starts (run workers, the request watchdog, timers) blocks
both while it runs, and the main thread receives every one at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


def start_without_signals(target: Callable[[], None], name: str) -> threading.Thread:
    """Start a daemon thread running ``target`` with SIGINT, SIGTERM and SIGHUP blocked. The
    thread inherits the mask set while it starts; the caller's own mask is restored
    (a signal meanwhile stays pending for it)."""
    import signal  # here: mogrun.plugin re-exports this, and check/show/list import that

    masking = hasattr(signal, "pthread_sigmask")
    blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked) if masking else None
    try:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread
