"""Asking the API about many runs at once, for ``status``.

No endpoint lists runs: ``status`` reads each going run's events. One after
another, a slow server made a hundred runs take minutes (8 s an answer: 16
minutes for 120). Here a few helper threads ask (``AT_ONCE``, the request
budget still pacing them, as it paces a fan-out's followers), while the
calling thread takes each answer as it comes: judging and recording stay on
one thread, as they were.

A signal (Ctrl-C, SIGTERM, SIGHUP) stops the asking: no request is sent after
it, the answers in flight are waited for (a second signal leaves at once), and
the caller learns the signal's exit code. So does a ``KeyboardInterrupt`` that
an ``ask`` raised (a Ctrl-C as code raises it).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from mogrun.api.budget import AT_ONCE

Item = TypeVar("Item")


def ask_each(items: Sequence[Item], ask: Callable[[Item], Any],
             take: Callable[[Item, Any], bool], *, stop: threading.Event, sleeper: Any,
             at_once: int = AT_ONCE,
             on_signal: Callable[[int, int], None] | None = None) -> int | None:
    """``ask(item)`` for each of ``items``, up to ``at_once`` at a time on helper
    threads (daemons: one still in flight when this returns is left to end on its
    own, its answer unread); ``take(item, answer)`` on this thread for each answer as
    it comes (the exception ``ask`` raised, if it did): ``False`` asks no more, the
    answers in flight still taken. ``stop``: set at the first signal, or when
    ``take`` said no more; ``sleeper``: the client's ``InterruptibleSleep`` on
    ``stop``, so that a wait for the budget or before a retry ends there.
    ``on_signal(exit_code, in_flight)``: said at the first signal.

    Returns the exit code of the signal that stopped the asking, else ``None``.
    An exception ``take`` raises stops the asking and is raised."""
    from mogrun.engine.signals import ForcedExit, SignalWatch
    from mogrun.threads import start_helpers

    todo = deque(items)
    handed = [0]  # items taken from ``todo`` (read without the lock: one int)
    answers: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
    taken = [0]
    turn = threading.Lock()

    def next_item() -> tuple[bool, Any]:
        with turn:
            if stop.is_set() or not todo:
                return False, None
            handed[0] += 1
            return True, todo.popleft()

    def answer_of(item: Any) -> Any:
        try:
            return ask(item)
        except ForcedExit:  # a second signal, on this thread (no helper): leave now
            raise
        except BaseException as exc:  # handed to the calling thread
            return exc

    def work() -> None:
        with sleeper.armed():
            while True:
                more, item = next_item()
                if not more:
                    return
                answers.put((item, answer_of(item)))

    def as_they_come(threads: list[threading.Thread]) -> Iterator[tuple[Any, Any]]:
        if not threads:  # none to be had: this thread asks, in turn
            while True:
                more, item = next_item()
                if not more:
                    return
                with sleeper.armed():
                    answer = answer_of(item)
                yield item, answer
        while True:
            try:
                yield answers.get(timeout=0.1)
            except queue.Empty:
                if any(thread.is_alive() for thread in threads):
                    continue
                try:  # every helper ended: what they put last
                    yield answers.get_nowait()
                except queue.Empty:
                    return

    def said(exit_code: int) -> None:
        if on_signal is not None:
            on_signal(exit_code, handed[0] - taken[0])

    with SignalWatch(stop, on_first=said) as watch:
        try:
            # At the system's thread limit the ones started ask alone (none: this one).
            threads, _ = start_helpers(work, min(at_once, len(todo)), "mogrun-status")
            for item, answer in as_they_come(threads):
                taken[0] += 1
                if isinstance(answer, KeyboardInterrupt):  # a Ctrl-C raised as code
                    if watch.exit_code is None:
                        watch.interrupt()
                    continue
                try:
                    go_on = take(item, answer)
                except BaseException:
                    stop.set()
                    raise
                if not go_on:
                    stop.set()
        except ForcedExit as forced:  # a second signal: leave with what was taken
            return forced.exit_code
    return watch.exit_code
