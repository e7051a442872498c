"""Global options anywhere on the line, ``--list``, mistyped commands, and help
that shows what each command honours — as gh, just and task users type them."""

from __future__ import annotations

import re

import pytest

from mogrun.testing import job, task_file

JOBS = task_file(job("lint"), job("fanout", repo=["acme/api", "acme/web"]))
FAST = {"MOGRUN_POLL_INTERVAL": "0.1"}


@pytest.mark.parametrize("argv", [
    ["run", "--local", "-q", "lint"],
    ["lint", "--local", "-q"],
    ["--timeout", "30s", "lint", "--local", "-q"],
    ["-q", "run", "lint", "--local"],
])
def test_global_options_work_after_the_command(mogrun_project, argv) -> None:
    mogrun_project.write(JOBS)
    result = mogrun_project.run(*argv, env=FAST)
    assert result.exit_code == 0, result
    assert "1 passed, 0 failed" in result.stdout
    assert "lint" in result.stdout and "Start" not in result.stdout  # -q: summary only


def test_status_json_after_the_command(mogrun_project) -> None:
    mogrun_project.write(JOBS)
    assert mogrun_project.run("--local", "lint", env=FAST).exit_code == 0
    result = mogrun_project.run("status", "--json", "--local")
    assert result.exit_code == 0, result
    assert result.stdout.startswith('{"id": ')


def test_a_commands_own_option_wins_a_shared_spelling(mogrun_project) -> None:
    """``logs -f`` is --follow, not the global -f FILE."""
    mogrun_project.write(JOBS)
    result = mogrun_project.run("logs", "-f", "nope")
    assert result.exit_code == 2, result
    assert 'unknown job or run "nope"' in result.stderr


@pytest.mark.parametrize(("clustered", "spelled"), [
    (["logs", "-fv", "nope"], ["logs", "--follow", "--verbose", "nope"]),
    (["logs", "-vf", "nope"], ["logs", "--follow", "--verbose", "nope"]),
    (["run", "-kq", "-n", "lint"], ["run", "--keep-going", "--quiet", "-n", "lint"]),
    (["-kq", "-n", "lint"], ["run", "--keep-going", "--quiet", "-n", "lint"]),
    (["-qk", "-n", "lint"], ["run", "--keep-going", "--quiet", "-n", "lint"]),
    (["show", "-qfmogplex.toml", "lint"], ["show", "-q", "-f", "mogplex.toml", "lint"]),
])
def test_a_cluster_of_own_and_global_short_flags(mogrun_project, clustered, spelled) -> None:
    """``logs -fv`` read v as the task file; ``run -kq``: "No such option '-q'"."""
    mogrun_project.write(JOBS)
    short, long = mogrun_project.run(*clustered), mogrun_project.run(*spelled)
    assert (short.exit_code, _any_key(short.stdout), short.stderr) == (
        long.exit_code, _any_key(long.stdout), long.stderr)
    assert "No such option" not in short.stderr and "does not exist" not in short.stderr


def _any_key(text: str) -> str:
    """Each invocation draws its own idempotency key (``mogrun-JOB-<random>``)."""
    return re.sub(r"(mogrun-lint)-[0-9a-f]{10}", r"\1-KEY", text)


@pytest.mark.parametrize(("argv", "unknown"), [(["run", "-kx", "lint"], "-x"),
                                               (["run", "-xq", "lint"], "-x"),
                                               (["-qx", "lint"], "-x"),
                                               (["status", "-vz"], "-z")])
def test_a_cluster_letter_no_one_knows_is_named(mogrun_project, argv, unknown) -> None:
    mogrun_project.write(JOBS)
    result = mogrun_project.run(*argv)
    assert result.exit_code == 2, result
    assert result.stderr.strip().splitlines()[-1] == f"Error: No such option '{unknown}'."


def test_nothing_after_double_dash_moves(mogrun_project) -> None:
    mogrun_project.write(JOBS)
    result = mogrun_project.run("show", "--", "--local")
    assert result.exit_code == 2, result
    assert 'unknown job "--local"' in result.stderr


@pytest.mark.parametrize("flag", ["--list", "-l"])
def test_list_flag_lists_the_jobs(mogrun_project, flag) -> None:
    mogrun_project.write(JOBS)
    result = mogrun_project.run(flag)
    assert result.exit_code == 0, result
    assert [line.split()[0] for line in result.stdout.splitlines()[2:]] == ["lint", "fanout"]
    assert mogrun_project.run("--json", flag).stdout.startswith('{"job": "lint"')


@pytest.mark.parametrize("argv", [["-l", "status"], ["-l", "help", "status"]])
def test_list_flag_with_a_command_is_a_usage_error(mogrun_project, argv) -> None:
    mogrun_project.write(JOBS)
    result = mogrun_project.run(*argv)
    assert result.exit_code == 2
    assert result.stderr == "Error: --list lists the jobs; it takes no command (got 'status')\n"


@pytest.mark.parametrize(("argv", "typed"), [(["-l", "lint"], "lint"),
                                             (["-l", "--", "lint"], "lint"),
                                             (["-l", "-k", "lint"], "-k"),
                                             (["lint", "--list"], "lint")])
def test_list_flag_with_jobs_names_what_was_typed(mogrun_project, argv, typed) -> None:
    """The ``run`` a job name implies was named: "(got 'run')", a word never typed."""
    mogrun_project.write(JOBS)
    result = mogrun_project.run(*argv)
    assert result.exit_code == 2
    assert result.stderr == f"Error: --list lists the jobs; it runs none (got {typed!r})\n"


def test_a_mistyped_command_suggests_the_command(mogrun_project) -> None:
    mogrun_project.write(JOBS)
    result = mogrun_project.run("stauts")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:2] == ['Error: unknown command or job "stauts"',
                                              'did you mean "status"?']


def test_a_mistyped_job_still_suggests_the_job(mogrun_project) -> None:
    mogrun_project.write(JOBS)
    result = mogrun_project.run("lnit")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:2] == ['Error: unknown job "lnit" in mogplex.toml',
                                              'did you mean "lint"?']


def test_a_job_named_like_a_command_typo_still_runs(mogrun_project) -> None:
    mogrun_project.write(task_file(job("stats")))
    result = mogrun_project.run("--local", "stats", env=FAST)
    assert result.exit_code == 0, result


def test_usage_line_shows_the_job_shorthand(mogrun_project) -> None:
    result = mogrun_project.run("--help", env={"COLUMNS": "120"})
    assert "Usage: mogrun [OPTIONS] COMMAND [ARGS]... | JOB..." in result.stdout


@pytest.mark.parametrize("command, honoured, ignored", [
    ("run", ["--local", "--set", "--quiet", "--no-plugins"], []),
    ("status", ["--local", "--json", "--url", "--file"], ["--set", "--quiet"]),
    ("list", ["--file", "--json"], ["--local", "--url"]),
    ("emulator", ["--file", "--set", "--json", "--quiet"], ["--url", "--local", "--verbose"]),
    # it listed --local, --quiet, --verbose and --no-color, which it never reads
    ("schema", ["--file", "--set", "--json", "--no-plugins"],
     ["--local", "--url", "--quiet", "--verbose", "--no-color"]),
])
def test_each_commands_help_lists_the_global_options_it_honours(
        mogrun_project, command, honoured, ignored) -> None:
    result = mogrun_project.run(command, "--help", env={"COLUMNS": "120"})
    assert result.exit_code == 0, result
    panel = result.stdout.split("Global options", 1)[1]
    for option in honoured:
        assert option in panel
    for option in ignored:
        assert option not in panel


def test_a_group_command_lists_the_global_options_of_its_group(mogrun_project) -> None:
    """``ci github`` is run as ``ci``: it honours what ``ci`` honours, and says so."""
    result = mogrun_project.run("ci", "github", "--help", env={"COLUMNS": "120"})
    assert result.exit_code == 0, result
    panel = result.stdout.split("Global options", 1)[1]
    for option in ("--file", "--no-plugins"):
        assert option in panel
    for option in ("--url", "--local", "--set", "--json", "--quiet", "--verbose", "--no-color"):
        assert option not in panel


@pytest.mark.parametrize(("argv", "typed"), [
    (["run", "-j", "\u0663", "lint"], "\u0663"), (["run", "-j", "1_000", "lint"], "1_000"),
    (["history", "-n", "\uff13"], "\uff13"),
    (["ci", "github", "-o", "-", "--shards", "\u0662"], "\u0662"),
    (["repos", "--local", "--limit", "2_0"], "2_0"),
])
def test_a_number_option_reads_ascii_digits_only(mogrun_project, argv, typed) -> None:
    """``-j ٣`` ran three at a time and ``-j 1_000`` a thousand (Python's int()
    reads both), where ``--timeout`` and ``--shard`` refuse them: every number
    typed is read by one rule, ASCII digits."""
    mogrun_project.write(JOBS)
    result = mogrun_project.run(*argv, env=FAST)
    assert result.exit_code == 2, result
    assert f"{typed!r} is not a valid integer" in result.stderr, result


def test_a_number_option_still_reads_a_plain_number(mogrun_project) -> None:
    mogrun_project.write(JOBS)
    result = mogrun_project.run("run", "--local", "-q", "-j", " 2", "lint", env=FAST)
    assert result.exit_code == 0, result
    assert mogrun_project.run("history", "-n", "+1").exit_code == 0
