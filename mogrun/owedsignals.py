"""The signals mogrun took that whoever runs it in-process is owed.

mogrun answers a Ctrl-C or a CI cancel's SIGTERM itself (it cancels its runs
and exits 130 or 143), so the handlers of a program that runs it in-process (a
test run, through ``mogrun.testing``) never see them. Each handler that takes
one notes it here: the run's (``engine.signals.SignalWatch``) and, before it
is in place, the start-up's (``cli.app``); the embedder takes them once mogrun
is done. Its own module, with no imports, so the start-up's handler costs none.
"""

from __future__ import annotations

_TAKEN: list[int] = []


def took(signum: int) -> None:
    """``signum`` came and mogrun handled it: its embedder is owed it."""
    _TAKEN.append(signum)


def taken_signals(forget: bool = True) -> tuple[int, ...]:
    """The signals mogrun took since the last ``forget``."""
    taken = tuple(_TAKEN)
    if forget:
        _TAKEN.clear()
    return taken
