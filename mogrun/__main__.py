"""`python -m mogrun` is the same as the `mogrun` console script.

For ``-m``, Python puts the working directory first on ``sys.path``: a
``tomllib.py`` a pull request leaves beside its task file would be imported in
place of the library's, and run by ``list``, which promises to load no code of
the repository. It is taken off before anything else is imported; mogrun's own
modules are found through its package, wherever that was found."""

import os
import sys


def _forget_working_directory() -> None:
    if sys.flags.safe_path or not sys.path:  # python -P: Python did not add it
        return
    try:
        here = os.getcwd()
    except OSError:  # deleted under the shell: the app says so
        here = None
    if sys.path[0] in ("", here):
        del sys.path[0]


_forget_working_directory()

from mogrun.cli.console import main  # noqa: E402  (after the working directory is off the path)

if __name__ == "__main__":
    main()
