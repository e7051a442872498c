"""--junit PATH that cannot be written is refused before any run starts (exit 2),
not found out after every run has finished."""

from __future__ import annotations

import pytest

from mogrun.errors import UsageError
from mogrun.models import SessionConfig
from mogrun.pluginhost import PluginHost


def config_with(path) -> SessionConfig:
    return SessionConfig(task_file=None, project_dir=None, base_url=None,
                         options={"junit": str(path)})


def test_junit_under_a_file_is_refused_before_runs(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UsageError) as caught:
        PluginHost.bundled_only().configure(config_with(blocker / "reports" / "x.xml"))
    assert caught.value.message.startswith(f"--junit {blocker / 'reports' / 'x.xml'}: cannot ")
    assert caught.value.exit_code == 2


def test_a_writable_junit_path_is_checked_without_leaving_a_file(tmp_path):
    target = tmp_path / "missing" / "dir" / "mogrun.xml"
    PluginHost.bundled_only().configure(config_with(target))
    assert not target.exists()
