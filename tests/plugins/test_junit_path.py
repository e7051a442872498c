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


def test_an_option_value_of_two_dashes_reaches_the_plugin(tmp_path):
    # click 8.5 read `--junit=--` on an option declared is_flag=False as no value:
    # exit 0, no report, nothing said. The value is the user's: the report is written.
    from mogrun.testing import run_mogrun, write_taskfile

    write_taskfile(tmp_path, '[jobs.a]\r\nrepo = "acme/api"\r\n'
                             'prompt = "x\\n@emulator duration=0.1s"\r\n\r\n')
    result = run_mogrun("-q", "--local", "run", "a", "--junit=--", cwd=tmp_path)
    assert result.code == 0, result
    assert (tmp_path / "--").read_text(encoding="utf-8").startswith("<?xml")


def test_a_dash_with_blanks_is_refused_as_a_dash(tmp_path):
    from mogrun.testing import run_mogrun, write_taskfile

    write_taskfile(tmp_path, '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = run_mogrun("--local", "run", "a", "--junit", " - ", cwd=tmp_path)
    assert result.code == 2, result
    assert "the report cannot go to standard output" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mogplex.toml"]
