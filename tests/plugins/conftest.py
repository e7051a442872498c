"""Fixtures for plugin tests: plugin files on disk in a throwaway project.

Every test builds its own PluginHost with use_entry_points=False, so plugins
installed on the machine never load.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def plugin_file(tmp_path: Path):
    """Write a plugin module into the project folder; returns its relative path."""

    def write(name: str, source: str, folder: str = "plugins") -> str:
        path = tmp_path / folder / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        header = "from mogrun.plugin import hookimpl\n"
        path.write_text(header + textwrap.dedent(source))
        return f"{folder}/{name}.py"

    return write
