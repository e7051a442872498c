"""The console script's entry point, and ``python -m mogrun``'s.

A Ctrl-C lands as a ``KeyboardInterrupt`` wherever the interpreter is; in
mogrun's first tens of milliseconds that is inside the imports of
``mogrun.cli.app``, before any of its handlers is in place, and Python printed
its traceback. Here the import is inside the ``try``: the same "Interrupted."
and exit 130 as a Ctrl-C at any later moment. This module imports nothing else,
so the window left (Python's own start-up) is as short as it can be.

The cyclic garbage collector is held off while mogrun starts, and a quick
command that ends with it held skips its last walk at exit
(``mogrun.collecting``): the quick commands never need it.
"""

import sys

INTERRUPTED = "Interrupted."  # what a Ctrl-C outside a run's own handling says (exit 130)


def main() -> None:
    """Run mogrun on this process's argv, environment and streams, and exit."""
    try:
        from mogrun import collecting

        collecting.hold_for_start_up()
        try:
            from mogrun.cli.app import main as app_main

            app_main()
        finally:
            collecting.leaving()
    except KeyboardInterrupt:  # an import, or a moment of ``main`` outside the app's own
        try:
            sys.stderr.write(f"{INTERRUPTED}\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):  # closed or missing: the code says it
            pass
        sys.exit(130)
