"""Fixtures shared by the output tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Event clocks are shown in local time: pin it so lines are exact."""
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
