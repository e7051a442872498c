"""The suite runs as on a developer's machine, wherever it runs."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: object) -> None:
    """``CI`` (which a CI runner sets, ``.ci/run``'s among them) turns mogrun's live
    view off on a terminal; the pty tests are of that view, and their mogrun
    inherits this process's environment. A test of ``CI`` sets it itself."""
    os.environ.pop("CI", None)


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled retry policy's jitter at the bottom of its range (``RNG``, its
    knob for tests): every retry still happens, and is said, at once instead of
    after up to 0.5+1+2+4+8 s of real sleep (tests/plugins/test_bundled_retry_gates.py
    proves the backoff's own delays)."""
    from mogrun_plugins import retry

    monkeypatch.setattr(retry, "RNG", type("Bottom", (), {"uniform": staticmethod(lambda a, b: a)}))
