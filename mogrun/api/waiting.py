"""Where the API layer announces its waits (budget pacing, 429 pauses, retries).

The budget and the client never print: they hand each ``Wait`` to a
``WaitChannel``, and whoever shows or records waits (the engine's lifecycle
channel, a command's reporter) subscribes to it. Stdlib only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from mogrun.waits import Wait

WaitListener = Callable[[Wait], None]


class WaitChannel:
    """Fans each ``Wait`` out to its listeners, in the order they subscribed."""

    def __init__(self) -> None:
        self._listeners: tuple[WaitListener, ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, listener: WaitListener) -> Callable[[], None]:
        """Add ``listener``; returns the function that removes it again."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def emit(self, wait: Wait) -> None:
        """Tell every listener (called outside the budget's lock)."""
        for listener in self._listeners:
            listener(wait)
