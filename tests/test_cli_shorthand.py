"""`mogrun [OPTIONS] JOB...` is short for `mogrun run [OPTIONS] JOB...`, run's
own options included, while the root's options keep their meaning."""

from __future__ import annotations

from mogrun.testing import write_taskfile

JOBS = """
[jobs.a]
repo = "acme/api"
prompt = "@emulator duration=0.2s"

[jobs.b]
repo = "acme/web"
prompt = "@emulator duration=0.2s"
"""


def test_run_options_work_without_the_word_run(mogrun_emulator, mogrun_cli, tmp_path) -> None:
    write_taskfile(tmp_path, JOBS)
    result = mogrun_cli("--detach", "a", cwd=tmp_path)
    assert result.exit_code == 0, result
    assert "detached" in result.stdout
    assert len(mogrun_emulator.runs) == 1


def test_clustered_and_valued_run_options(mogrun_emulator, mogrun_cli, tmp_path) -> None:
    write_taskfile(tmp_path, JOBS)
    result = mogrun_cli("-q", "-k", "-j", "1", "a", "b", cwd=tmp_path)
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.runs) == 2


def test_dry_run_shorthand_sends_nothing(mogrun_emulator, mogrun_cli, tmp_path) -> None:
    write_taskfile(tmp_path, JOBS)
    result = mogrun_cli("-n", "a", cwd=tmp_path)
    assert result.exit_code == 0, result
    assert "POST " in result.stdout
    assert mogrun_emulator.runs == []


def test_root_options_are_not_taken_for_run_options(mogrun_cli, tmp_path) -> None:
    path = write_taskfile(tmp_path, JOBS)
    clustered = mogrun_cli("-qv", "list", cwd=tmp_path)
    attached = mogrun_cli(f"-f{path}", "list", cwd=tmp_path.parent)
    for result in (clustered, attached):
        assert result.exit_code == 0, result
        assert result.stdout.splitlines()[0].split() == ["job", "description", "repos",
                                                         "harness", "needs"]


def test_an_option_nobody_knows_is_a_usage_error(mogrun_cli, tmp_path) -> None:
    write_taskfile(tmp_path, JOBS)
    result = mogrun_cli("--frobnicate", "a", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert "No such option '--frobnicate'" in result.stderr
