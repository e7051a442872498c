"""A plugin that calls sys.exit() is contained like one that raises: it
cannot end mogrun with an exit code of its own, skip the summary, or leave
a run without its result."""

from __future__ import annotations

import sys

import pytest
from plugtest_helpers import make_job, make_result

from mogrun.errors import PluginError
from mogrun.hookspecs import hookimpl
from mogrun.models import SessionConfig
from mogrun.pluginhost import PluginHost
from mogrun.runs import GateVerdict

CONFIG = SessionConfig(task_file="/p/mogplex.toml", project_dir="/p", base_url="http://x")


class Exiter:
    @hookimpl
    def mogrun_event(self):
        sys.exit(3)

    @hookimpl
    def mogrun_gate(self):
        sys.exit(3)

    @hookimpl
    def mogrun_job_finished(self):
        sys.exit(3)

    @hookimpl
    def mogrun_configure(self):
        sys.exit(3)


def test_sys_exit_in_hooks_is_contained():
    host = PluginHost.from_plugins(("exiter", Exiter()), bundled=False)
    job = make_job()
    host.job_finished(job=job, results=(make_result(),), outcome="success")
    assert host.warnings == ['plugin "exiter" failed in mogrun_job_finished (job nightly): '
                             "SystemExit: 3"]
    verdicts = host.gates(job=job, run=job.runs[0], result=make_result(), state=None,
                          events=())
    assert verdicts == (GateVerdict("exiter", False, "gate crashed: SystemExit: 3"),)
    with pytest.raises(PluginError, match="failed in mogrun_configure: SystemExit: 3"):
        host.configure(CONFIG)


def test_sys_exit_while_importing_a_plugin_is_a_plugin_error(tmp_path, plugin_file):
    rel = plugin_file("quitter", "import sys\nsys.exit(3)\n")
    with pytest.raises(PluginError, match='plugin "quitter" failed to import: SystemExit: 3'):
        PluginHost.load(project_dir=tmp_path, task_file_plugins=[rel], use_entry_points=False)
