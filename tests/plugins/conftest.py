"""Fixtures for plugin tests: plugin files on disk in a throwaway project.

Every test builds its own PluginHost with use_entry_points=False, so plugins
installed on the machine never load.
"""

from __future__ import annotations

import sys
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


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``install(dist, entry_points, modules={})``: a distribution ``dist`` installed
    as pip leaves one (a dist-info with its ``[mogrun]`` entry points, each
    ``name = module``) in a site folder on ``sys.path``, with ``modules`` (name:
    source) beside it; what ``PluginHost.load(use_entry_points=True)`` and ``list``
    read. Returns the site folder. The modules are forgotten after the test, passed
    or failed (another test's module of that name would be this one)."""
    site = tmp_path / "site"
    written: list[str] = []

    def install(dist: str, entry_points: dict[str, str],
                modules: dict[str, str] | None = None) -> Path:
        meta = site / f"{dist.replace('-', '_')}-1.0.dist-info"
        meta.mkdir(parents=True)
        (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (meta / "entry_points.txt").write_text(
            "[mogrun]\n" + "".join(f"{name} = {module}\n" for name, module in entry_points.items()))
        for name, source in (modules or {}).items():
            (site / f"{name}.py").write_text(textwrap.dedent(source))
            written.append(name)
        monkeypatch.syspath_prepend(str(site))
        return site

    yield install
    for name in written:
        sys.modules.pop(name, None)
