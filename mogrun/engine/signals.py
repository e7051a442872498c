"""Ctrl-C and SIGTERM during a run session.

The first signal asks every worker to stop: runs this invocation started are
cancelled, runs it only attached to are left going, history is written, and
the session ends with 130 (SIGINT) or 143 (SIGTERM). A second signal raises
``ForcedExit`` in the main thread so the session can leave at once, naming
the runs it leaves going.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from mogrun.errors import Interrupted

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class ForcedExit(Interrupted):
    """A second signal: leave now, without waiting for the workers."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code, "interrupted again; exiting without waiting for runs")


class SignalWatch:
    """Installs the handlers for the duration of a ``with`` block (main thread only)."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self.stop = stop or threading.Event()
        self.exit_code: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalWatch:
        if threading.current_thread() is threading.main_thread():
            for signum in EXIT_CODES:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @property
    def interrupted(self) -> bool:
        return self.exit_code is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.exit_code is not None:
            raise ForcedExit(self.exit_code)
        self.exit_code = EXIT_CODES.get(signal.Signals(signum), 130)
        self.stop.set()


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
