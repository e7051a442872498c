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
    result = mogrun_cli("-q", "-k", "-j", "1", "a", "b", cwd=tmp_path,
                        env={"MOGRUN_POLL_INTERVAL": "0.1"})
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


ROOT_USAGE = "Usage: mogrun [OPTIONS] COMMAND [ARGS]... | JOB..."


def test_an_unknown_option_with_no_command_is_the_roots_error(mogrun_cli, tmp_path) -> None:
    """``mogrun --bogus`` typed no command: the error is mogrun's, not run's, and
    suggests none of run's options (``--jobs``) for a line that runs nothing."""
    write_taskfile(tmp_path, JOBS)
    for argv, option in ((["--bogus"], "--bogus"), (["-C", "/", "list"], "-C"),
                         (["--bogus", "run", "a"], "--bogus")):
        result = mogrun_cli(*argv, cwd=tmp_path)
        assert result.exit_code == 2, result
        lines = result.stderr.splitlines()
        assert lines[:3] == [ROOT_USAGE, "Try 'mogrun --help' for help.", ""]
        assert lines[3].startswith(f"Error: No such option '{option}'.")
        assert len(lines) == 4 and "--jobs" not in lines[3], result  # run's: not here


def test_the_roots_error_suggests_the_roots_options(mogrun_cli, tmp_path) -> None:
    write_taskfile(tmp_path, JOBS)
    result = mogrun_cli("--jsno", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[0] == ROOT_USAGE
    assert result.stderr.splitlines()[-1] == ("Error: No such option '--jsno'. "
                                              "Did you mean '--json'?")


def test_with_job_names_runs_options_are_suggested_too(mogrun_cli, tmp_path) -> None:
    """``mogrun --jbos 2 a`` is the shorthand for run: its options are the root's too."""
    write_taskfile(tmp_path, JOBS)
    for argv in (["--jbos", "2", "a"], ["a", "--jbos", "2"]):
        result = mogrun_cli(*argv, cwd=tmp_path)
        assert result.exit_code == 2, result
        assert result.stderr.splitlines()[0] == ROOT_USAGE
        assert result.stderr.splitlines()[-1].startswith("Error: No such option '--jbos'.")
        assert "'--jobs'" in result.stderr.splitlines()[-1]


def test_run_named_keeps_runs_own_usage(mogrun_cli, tmp_path) -> None:
    write_taskfile(tmp_path, JOBS)
    result = mogrun_cli("run", "--bogus", "a", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[0] == "Usage: mogrun run [OPTIONS] [JOBS]..."


def test_a_word_after_double_dash_is_a_job_name(mogrun_cli, tmp_path) -> None:
    """``mogrun -- -q`` was click's "No such command '-q'" with its usage block,
    and ``mogrun -- a -q`` "No such option '-q'": after ``--`` nothing is an
    option or a command, so each word is a job name, said as any unknown one."""
    write_taskfile(tmp_path, JOBS)
    for args, word in ((("--", "-q"), "-q"), (("-q", "--", "--help"), "--help"),
                       (("--", "a", "-q"), "-q"), (("-q", "--", "list"), "list")):
        result = mogrun_cli(*args, cwd=tmp_path)
        assert result.exit_code == 2, result
        assert result.stderr.splitlines() == [f'Error: unknown job "{word}" in mogplex.toml',
                                              "Jobs: a, b"], result
