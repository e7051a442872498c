"""Fewer cyclic garbage collections: none while the process starts, and fewer
while a session's runs go on.

Start-up (imports, the task file, the plugins) makes some 20,000 objects that
live as long as the process. Collecting among them frees nothing, and took
~2.5 ms of a ``list`` (14 collections) and ~5 ms of a ``check`` or ``show`` (29),
timed through ``gc.callbacks`` on bench/startup.py's 50-job file. So the
console script holds the collector off until a command's own work begins
(``hold_for_start_up``, ``start_up_over``): ``list``, ``check`` and ``show`` end
before that, and what they make goes with its last reference as ever. Nor
is it walked as they leave: the interpreter's last collection at exit skips
what is frozen (``leaving``).

While a session's runs go on, fewer collections:

Every poll makes a few hundred short-lived objects (an answer's dicts, its
events, the request's own): CPython's youngest generation is collected every
700 allocations, about 150 times in a 1,000-run fan-out, and the once it reached
the oldest generation it walked every object start-up made. Those collections
took 58 ms of that fan-out's CPU; with what start-up made set aside and the
youngest generation collected every 7,000 allocations, 18 ms (``gc.callbacks``
timing, two fan-outs each). A run's objects still go with their last
reference; only garbage in reference cycles (an exception and its traceback's
frames) waits a little longer: the fan-out's peak RSS was 48.0 MiB with it
and without it (``bench/fanout.py --repeat 2 --before eb09f83``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

YOUNG_THRESHOLD = 7000  # allocations between two collections of the youngest generation
_held = False  # the collector was turned off by ``hold_for_start_up``, not by an embedder


def hold_for_start_up() -> None:
    """No cyclic collection until ``start_up_over``. For the process's own entry
    (the console script) only: a test or an embedder keeps its collector."""
    global _held
    import gc

    if gc.isenabled():
        gc.disable()
        _held = True


def start_up_over() -> None:
    """The collector back on, as the process had it, before a command that may go
    on for minutes (``run``, ``status``, ``logs --follow``, the emulator)."""
    global _held
    if _held:
        import gc

        _held = False
        gc.enable()


def leaving() -> None:
    """As the process leaves: a collector still held (a quick command ended before
    any collection) freezes what start-up made, so the interpreter's last
    collection at exit does not walk it all to free nothing (~8 ms of a ``check``
    of bench/startup.py's file). The objects still go, and ``atexit`` handlers
    still run; only ``__del__`` of objects in reference cycles may be skipped,
    which Python never promises at exit."""
    if _held:
        import gc

        gc.freeze()


@contextlib.contextmanager
def collecting_less() -> Iterator[None]:
    """While the block runs: start-up's objects (modules, classes, the task file,
    which live as long as the process) frozen out of the collector's walks, and
    the youngest generation collected a tenth as often. Both restored after:
    ``mogrun.testing`` runs sessions inside a test process, whose collector is its
    own (one that froze objects itself is left frozen as it was)."""
    import gc

    threshold = gc.get_threshold()
    froze = gc.get_freeze_count() == 0
    if froze:
        gc.freeze()
    gc.set_threshold(max(threshold[0], YOUNG_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if froze:
            gc.unfreeze()
