"""MOGRUN_DISABLE_PLUGINS is how a user switches off a broken plugin: a
disabled plugin is never imported, so its import error cannot stop mogrun."""

from __future__ import annotations

import sys

from mogrun.pluginhost import PluginHost
from mogrun.pluginload import BUNDLED


def test_a_disabled_broken_entry_point_is_never_imported(tmp_path, monkeypatch):
    site = tmp_path / "site"
    dist = site / "mogrun_off_ep-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mogrun-off-ep\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[mogrun]\noff_ep = mogrun_off_ep_mod\n")
    (site / "mogrun_off_ep_mod.py").write_text("raise RuntimeError('imported anyway')\n")
    monkeypatch.syspath_prepend(str(site))
    host = PluginHost.load(project_dir=None, use_entry_points=True,
                           env={"MOGRUN_DISABLE_PLUGINS": "off_ep"})
    assert "off_ep" not in host.plugin_names()
    assert "mogrun_off_ep_mod" not in sys.modules


def test_a_disabled_broken_task_file_plugin_is_never_imported(tmp_path, plugin_file):
    rel = plugin_file("broken_team", "raise RuntimeError('imported anyway')\n")
    host = PluginHost.load(project_dir=tmp_path, task_file_plugins=[rel],
                           extra=["broken_module_xyz"], use_entry_points=False,
                           env={"MOGRUN_DISABLE_PLUGINS": "broken_team,broken_module_xyz"})
    assert host.plugin_names() == list(BUNDLED)
