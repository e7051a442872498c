"""MOGRUN_DISABLE_PLUGINS is how a user switches off a broken plugin: a
disabled plugin is never imported, so its import error cannot stop mogrun."""

from __future__ import annotations

import sys

import pytest

from mogrun.pluginhost import PluginHost
from mogrun.pluginload import BUNDLED


def test_a_disabled_broken_entry_point_is_never_imported(installed):
    installed("mogrun-off-ep", {"off_ep": "mogrun_off_ep_mod"},
              {"mogrun_off_ep_mod": "raise RuntimeError('imported anyway')\n"})
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


@pytest.mark.parametrize("value", ["1", "true", " TRUE ", "yes", "on", "all", "*"])
@pytest.mark.parametrize("command", [["check"], ["show", "a"], ["--local", "a"], ["plugins"]])
def test_a_switch_word_leaves_every_external_plugin_out_before_any_import(tmp_path, value,
                                                                          command):
    """``MOGRUN_DISABLE_PLUGINS=1``, as a CI author keeps a pull request's code out
    (pytest's PYTEST_DISABLE_PLUGIN_AUTOLOAD=1): read as a plugin's name, it left
    out nothing, and the task file's plugin had run before the warning said so."""
    from mogrun.testing import run_mogrun

    (tmp_path / "evil.py").write_text(f"open({str(tmp_path / 'RAN')!r}, 'w').close()\n")
    (tmp_path / "mogplex.toml").write_text(
        '[mogplex]\nplugins = ["evil.py"]\n\n[jobs.a]\nrepo = "acme/api"\n'
        'prompt = "@emulator duration=0.1s"\n')
    result = run_mogrun(*command, cwd=tmp_path, env={"MOGRUN_DISABLE_PLUGINS": value,
                                                     "MOGRUN_POLL_INTERVAL": "0.05"})
    assert result.exit_code == 0, result
    assert not (tmp_path / "RAN").exists()
    assert "warning" not in result.stderr
