"""The plugins' ``mogrun_wait``, heard on a thread of its own.

A wait is said where it happens: a retry's, on the thread that then sleeps
it; a start limit's, on the worker that then starts the run. Called there,
a ``mogrun_wait`` that takes its time (an audit POST per wait) held both the
screen's line and the wait itself: a 503's retry was announced 5 s late, as
a wait that had ended 4 s before, and the start was retried 5 s late. So
``PluginWaits`` is registered on the channel after the reporter (the person
watching sees each wait first) and hands each wait to the plugins on one
thread, in the order the waits came; the end of session waits for those
still to be heard before the plugins' own end (``drain``), and no wait is
heard after it.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Collection, Mapping

from mogrun.engine.lifecycle import Observer
from mogrun.engine.track import RunTrack
from mogrun.threads import NoThread, start_without_signals
from mogrun.waits import Wait, WaitKind

DRAIN_SLICE = 0.1  # the end of session waits in slices: a second Ctrl-C must land


class PluginWaits(Observer):
    """Posts each wait to ``hear`` (the plugins' ``mogrun_wait``) on its own thread."""

    plugins = True

    def __init__(self, hear: Callable[[Wait], None]) -> None:
        self.hear = hear
        self._queue: deque[tuple[Wait, RunTrack | None]] = deque()
        self._changed = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def wait(self, wait: Wait, track: RunTrack | None = None) -> None:
        with self._changed:
            if self._closed:
                return
            self._queue.append((wait, track))
            self._start()
            self._changed.notify_all()

    def drain(self) -> None:
        """Until every wait posted has been heard; none is taken after this. Waits no
        thread could be started for are heard here, in their order."""
        while True:
            with self._changed:
                self._closed = True
                if not (self._queue or self._busy):
                    return
                if self._thread is not None or not self._queue:
                    self._changed.wait(DRAIN_SLICE)
                    continue
                wait, track = self._queue.popleft()
            if track is None or not track.rescued:
                self.hear(wait)

    def _start(self) -> None:
        """A delivering thread, unless one runs (``_changed`` held). None to be had (the
        system's thread limit): the waits stay queued for the next try, or ``drain``."""
        if self._thread is None:
            with contextlib.suppress(NoThread):
                self._thread = start_without_signals(self._deliver, "mogrun-plugin-waits")

    def left_going(self, exit_code: int, cancelling: Collection[str] = (),
                   ended: Mapping[str, str] | None = None) -> None:
        """A second signal: the process leaves; the waits not yet heard are not."""
        with self._changed:
            self._closed = True
            self._queue.clear()

    def _deliver(self) -> None:
        """Hear the waits in order. A bug escaping ``hear`` ends this thread with its
        traceback, and a new one takes the waits after it (``drain`` never hangs)."""
        try:
            while True:
                with self._changed:
                    while not self._queue:
                        self._changed.wait()
                    wait, track = self._queue.popleft()
                    self._busy = True
                if track is None or not track.rescued:  # a rescued run is heard of no more
                    self.hear(wait)
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()
        finally:
            self._replace()

    def _replace(self) -> None:
        with self._changed:
            self._busy = False
            self._thread = None
            if self._queue:
                self._start()
            self._changed.notify_all()


def waits_unheard_wait(leave: str) -> Wait:
    """The wait for the plugins' ``mogrun_wait`` to hear the session's last waits
    before their end of session: a hook has no end mogrun can set (``leave``: how
    to leave without it, ``slowhooks.TWICE`` or ``ONCE_MORE``)."""
    return Wait(WaitKind.PLUGINS, "waiting for the plugins' mogrun_wait to hear the "
                f"session's last waits; no end is known: {leave} leaves without it")
