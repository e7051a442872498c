"""Fewer cyclic garbage collections while a session's runs go on.

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
