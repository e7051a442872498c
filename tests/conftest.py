"""The suite runs as on a developer's machine, wherever it runs."""

from __future__ import annotations

import os


def pytest_configure(config: object) -> None:
    """``CI`` (which a CI runner sets, ``.ci/run``'s among them) turns mogrun's live
    view off on a terminal; the pty tests are of that view, and their mogrun
    inherits this process's environment. A test of ``CI`` sets it itself."""
    os.environ.pop("CI", None)
