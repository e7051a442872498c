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


def test_a_device_or_fifo_is_refused_never_replaced(tmp_path):
    """The report is renamed over its path: --junit /dev/null as root (a container
    job) replaced the system's /dev/null with a regular file, exit 0."""
    import os
    import stat

    from mogrun.testing import run_mogrun, write_taskfile

    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    write_taskfile(tmp_path, '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    for path in (str(fifo), "/dev/null"):
        result = run_mogrun("-q", "--local", "run", "a", "--junit", path, cwd=tmp_path)
        assert result.code == 2, result
        assert result.err == (f"Error: --junit {path}: is not a regular file (a device, a "
                              "FIFO); give a file path\n"), result
    assert stat.S_ISFIFO(fifo.stat().st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_name_the_file_system_refuses_is_one_clear_line(tmp_path):
    """It was 'plugin "junit" failed in mogrun_configure: OSError: [Errno 36] ...'."""
    target = tmp_path / ("x" * 300 + ".xml")
    with pytest.raises(UsageError) as caught:
        PluginHost.bundled_only().configure(config_with(target))
    assert caught.value.message == f"--junit {target}: cannot write there (File name too long)"


def test_a_folder_no_one_can_make_is_refused_before_runs():
    """Permission bits say nothing to root, nor of /proc: --junit /proc/x/j.xml
    passed the check, the runs ran, and the report was a warning at the end."""
    with pytest.raises(UsageError) as caught:
        PluginHost.bundled_only().configure(config_with("/proc/mogrun-nowhere/j.xml"))
    assert caught.value.message.startswith("--junit /proc/mogrun-nowhere/j.xml: cannot write "
                                           "there (/proc/mogrun-nowhere cannot be made: ")
    with pytest.raises(UsageError) as caught:  # it said "/proc: No such file or directory"
        PluginHost.bundled_only().configure(config_with("/proc/j.xml"))
    assert caught.value.message.startswith("--junit /proc/j.xml: cannot write there (no file "
                                           "can be made in /proc: "), caught.value.message


def test_a_file_that_is_not_a_report_is_refused_never_replaced(tmp_path):
    """`--junit mogplex.toml` wrote the report over the task file (exit 0), and a path
    under .mogrun/ over the run history; a report written before, an empty file and
    another tool's JUnit XML are still written over."""
    from mogrun.testing import run_mogrun, write_taskfile

    task = '[jobs.a]\nrepo = "acme/api"\nprompt = "x\\n@emulator duration=0.1s"\n\n'
    write_taskfile(tmp_path, task)
    assert run_mogrun("-q", "--local", "a", cwd=tmp_path).code == 0  # the history exists
    history = tmp_path / ".mogrun" / "history.db"
    kept = history.read_bytes()
    for path in ("mogplex.toml", ".mogrun/history.db"):
        result = run_mogrun("-q", "--local", "run", "a", "--junit", path, cwd=tmp_path)
        assert result.code == 2, result
        assert result.err == (f"Error: --junit {path}: is a file that is not a JUnit report; "
                              "mogrun writes over only a report (one it wrote before): give "
                              "another path\n"), result
    assert (tmp_path / "mogplex.toml").read_text() == task
    assert history.read_bytes()[:16] == kept[:16] == b"SQLite format 3\x00"
    (tmp_path / "empty.xml").write_bytes(b"")
    (tmp_path / "other.xml").write_bytes(b'\xef\xbb\xbf\n<testsuites name="pytest"/>\n')
    for path in ("report.xml", "report.xml", "empty.xml", "other.xml"):
        result = run_mogrun("-q", "--local", "run", "a", "--junit", path, cwd=tmp_path)
        assert result.code == 0, result
        assert (tmp_path / path).read_bytes().startswith(b"<?xml"), path
