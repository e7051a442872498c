"""Names typed wrong on the command line: a job in the wrong case gets its "did you
mean" (from the one place suggestions are made), an empty --job is refused as an
empty -f is, never taken for "every job"."""

from __future__ import annotations

import pytest

from mogrun.testing import job, task_file

JOBS = task_file(job("ok"), job("slow"), job("fanout", repo=["acme/api", "acme/web"]))


@pytest.fixture
def project(mogrun_project, mogrun_emulator):
    mogrun_project.write(JOBS + "\n# trailing comment\n\n")
    return mogrun_project


@pytest.mark.parametrize("argv", [["status", "OK"], ["logs", "OK"], ["run", "OK"],
                                  ["history", "--job", "OK"], ["status", "SLOW"]])
def test_a_job_name_in_the_wrong_case_gets_its_did_you_mean(project, mogrun_emulator,
                                                            argv) -> None:
    result = project(*argv)
    assert result.exit_code == 2, result
    assert f'did you mean "{argv[-1].lower()}"?' in result.stderr.splitlines(), result
    assert mogrun_emulator.requests == []


def test_closest_ignores_case_but_prefers_the_same_case() -> None:
    from mogrun.taskfile.schema import closest

    assert closest("OK", ["ok", "slow"]) == "ok"
    assert closest("Prompt", ["prompt", "repo"]) == "prompt"
    assert closest("xyz", ["ok"]) is None


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_job_for_history_is_refused(project, value) -> None:
    assert project("fanout").exit_code == 0
    result = project("history", "--job", value)
    assert result.exit_code == 2, result
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        f"Error: --job needs a job name, not {'a blank' if value else 'an empty'} string")


@pytest.mark.parametrize(("argv", "said"), [
    # click offered "--help" beside the option meant: "one of: '--help', '--schedule'".
    (["add", "x", "--repo", "a/b", "--prompt", "p", "--schedul", "17 3 * * *"],
     "Error: No such option '--schedul'. Did you mean '--schedule'?"),
    (["run", "--detch", "ok"], "Error: No such option '--detch'. Did you mean '--detach'?"),
    (["add", "x", "--descriptio", "d"],
     "Error: No such option '--descriptio'. Did you mean '--description'?"),
    # Where --help is the closest guess it is the one offered.
    (["add", "x", "--hlep"], "Error: No such option '--hlep'. Did you mean '--help'?"),
    (["--hel"], "Error: No such option '--hel'. Did you mean '--help'?"),
    # A global option after a command, which may stand anywhere: no guess was made, and
    # with the dashes counted '--set' was offered for '--tmeout'.
    (["run", "--locl", "ok"], "Error: No such option '--locl'. Did you mean '--local'?"),
    (["status", "--jsn"], "Error: No such option '--jsn'. Did you mean '--json'?"),
    (["list", "--no-colr"], "Error: No such option '--no-colr'. Did you mean '--no-color'?"),
    (["list", "--tmeout"], "Error: No such option '--tmeout'."),
    # run's option carried over to rerun: "did you mean --dry-run?" steered it to one.
    (["rerun", "--rerun"], "Error: rerun has no --rerun: each attempt it starts takes a key "
                           "of its own already (--rerun is run's)"),
])
def test_an_option_typo_is_not_offered_help_in_place_of_the_option_meant(project, argv,
                                                                         said) -> None:
    result = project(*argv)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[-1] == said, result


@pytest.mark.parametrize("word", ["long", "stauts"])
def test_a_word_near_a_command_with_a_broken_task_file_says_the_file(mogrun_project,
                                                                      word) -> None:
    """`mogrun long` with a task file that does not parse said 'unknown command or
    job "long"; did you mean "logs"?': the job is there, the file was the problem,
    and only `mogrun run long` said so."""
    mogrun_project.path.write_text('# jobs\r\n[jobs.long]\r\nrepo = "acme/api"\r\n'
                                   'prompt = "a\nb"\r\n\r\n', encoding="utf-8", newline="")
    result = mogrun_project.run(word)
    assert result.exit_code == 2, result
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: invalid TOML"), result
    assert "unknown command" not in result.stderr, result
    hint = {"long": "logs", "stauts": "status"}[word]
    assert lines[-1] == f'(if "{word}" is no job: did you mean the command "{hint}"?)', result


@pytest.mark.parametrize(("named", "env"), [
    (["-f", "gone.toml"], {}), ([], {"MOGRUN_FILE": "gone.toml"})])
def test_a_word_near_a_command_with_a_named_task_file_not_there_says_the_file(
        mogrun_cli, tmp_path, named, env) -> None:
    """`mogrun -f gone.toml lint` said 'unknown command or job "lint"; did you mean
    "list"?': the job may well be in the file, whose absence went unsaid (`mogrun
    -f gone.toml run lint` said it)."""
    result = mogrun_cli(*named, "lint", cwd=tmp_path, env=env)
    assert result.exit_code == 2, result
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: task file gone.toml (from " + (
        "-f/--file" if named else "MOGRUN_FILE") + ") does not exist", result
    assert "unknown command" not in result.stderr, result
    assert lines[-1] == '(if "lint" is no job: did you mean the command "list"?)', result
    # None named and none found: no job there at all, the command is the guess.
    alone = mogrun_cli("lint", cwd=tmp_path)
    assert 'did you mean "list"?' in alone.stderr.splitlines(), alone


@pytest.mark.parametrize(("word", "meant"), [("hist", "history"), ("ls", "list"),
                                             ("ps", "status"), ("stauts", "status"),
                                             ("automat", "automations"),
                                             ("version", "--version")])
def test_a_mistyped_command_gets_the_command_it_begins_or_a_habit_s(project, word,
                                                                     meant) -> None:
    """``hist`` was offered "list" (difflib's nearest) and ``ls`` "logs": a command the
    word begins, then a shell habit, come before spelling."""
    result = project(word)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[:2] == [f'Error: unknown command or job "{word}"',
                                              f'did you mean "{meant}"?'], result


@pytest.mark.parametrize(("argv", "meant"), [
    (["-n", "show", "ok"], "mogrun show ok"),  # -n made the line a run: "show" a job
    (["-j", "2", "list"], "mogrun list"),
    (["run", "status", "ok"], "mogrun status ok"),
    (["-k", "ok", "logs"], "mogrun logs"),
])
def test_a_command_word_after_run_options_says_the_line_meant(project, mogrun_emulator,
                                                               argv, meant) -> None:
    result = project(*argv)
    assert result.exit_code == 2, result
    word = meant.split()[1]
    lines = result.stderr.splitlines()
    assert lines[0] == f'Error: unknown job "{word}" in mogplex.toml', result
    assert f'did you mean "{meant}"?' in lines[1], result
    assert lines[2] == "Jobs: ok, slow, fanout", result
    assert mogrun_emulator.requests == []  # nothing started: not even "ok"


def test_a_job_named_as_a_command_still_runs(mogrun_project, mogrun_emulator) -> None:
    mogrun_project.write(task_file(job("show")) + "\r\n")
    result = mogrun_project("-n", "show")
    assert result.exit_code == 0, result
    assert "show" in result.stdout


@pytest.mark.parametrize("argv", [["-n", "--", "history"], ["run", "--", "status"]])
def test_after_double_dash_a_command_word_is_only_an_unknown_job(project, argv) -> None:
    result = project(*argv)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines() == [f'Error: unknown job "{argv[-1]}" in mogplex.toml',
                                          "Jobs: ok, slow, fanout"], result


def test_an_options_unique_beginning_is_what_it_suggests(mogrun_cli, tmp_path) -> None:
    """`--det` was answered "Did you mean '--set'?" (difflib finds two of three letters
    alike) though `--detach` is the one option it begins; `--no-p` got `--no-deps`."""
    (tmp_path / "mogplex.toml").write_text('[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n')
    for typed, meant in (("--det", "--detach"), ("--no-p", "--no-plugins")):
        result = mogrun_cli("a", typed, cwd=tmp_path)
        assert result.exit_code == 2, result
        assert f"Did you mean '{meant}'?" in result.stderr, (typed, result.stderr)


def test_a_command_in_capitals_is_the_command_it_spells(mogrun_cli, tmp_path) -> None:
    """With a job "lint" in the file, Caps Lock's `mogrun LIST` was answered
    'unknown job "LIST" ... did you mean "lint"?': steered to an agent run."""
    (tmp_path / "mogplex.toml").write_text('[jobs.lint]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n')
    result = mogrun_cli("LIST", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert 'did you mean "list"?' in result.stderr, result.stderr
    typo = mogrun_cli("lnit", cwd=tmp_path)  # a job's typo is still the job's
    assert 'did you mean "lint"?' in typo.stderr, typo.stderr


@pytest.mark.parametrize(("argv", "meant"), [
    (["-n", "run", "fanout"], "mogrun run -n fanout"),
    (["--shard", "1/2", "run", "-n", "fanout"], "mogrun run --shard 1/2 -n fanout"),
    (["-k", "run", "ok", "slow"], "mogrun run -k ok slow"),
    (["-n", "show", "ok"], "mogrun show ok"),  # run's options mean nothing to show
    (["-f", "mogplex.toml", "-n", "run", "ok"], "mogrun -f mogplex.toml run -n ok"),
    # No option first: the words typed were lost ("mogrun run", which is refused).
    (["ok", "run"], "mogrun run ok"),
    (["ok", "slow", "show"], "mogrun show"),
    (["run", "ok", "run"], "mogrun run ok"),  # not the line just typed
])
def test_a_command_after_runs_options_is_suggested_with_them(project, mogrun_emulator, argv,
                                                             meant) -> None:
    """`mogrun -n run f` suggested "mogrun run f": the dry run of one leg, followed,
    started every repo for real."""
    result = project(*argv)
    assert result.exit_code == 2, result
    word = next(w for w in argv if w in ("run", "show"))
    assert (f'"{word}" is a command, which comes first, '
            f'before any option of run: did you mean "{meant}"?') in result.stderr, result
    assert mogrun_emulator.requests == []


def test_no_command_is_suggested_for_a_word_after_dashes(project, mogrun_emulator) -> None:
    """``mogrun ok -- show``: after ``--`` every word is a job's name, as the docs say,
    yet the line's words were lost and "show" was taken for the command."""
    result = project("ok", "--", "show")
    assert result.exit_code == 2, result
    assert 'unknown job "show"' in result.stderr and "is a command" not in result.stderr
    assert mogrun_emulator.requests == []


def test_a_typo_near_a_job_named_like_a_command_offers_both(tmp_path, mogrun_cli) -> None:
    """`mogrun lsit` beside a job named "list" said 'did you mean "list"?', and `mogrun
    list` then listed the jobs: the job runs as `mogrun run list`."""
    (tmp_path / "mogplex.toml").write_text('[jobs.list]\nrepo = "a/b"\nprompt = "x"\n\n'
                                           '[jobs.other]\nrepo = "a/b"\nprompt = "y"\n')
    result = mogrun_cli("lsit", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[1] == (
        'did you mean the command "mogrun list", or the job "list" ("mogrun run list": a job '
        "named like a command runs so)?"), result
    (tmp_path / "mogplex.toml").rename(tmp_path / "night.toml")  # both lines keep the -f
    named = mogrun_cli("lsit", "-f", "night.toml", cwd=tmp_path)
    assert named.stderr.splitlines()[1] == (
        'did you mean the command "mogrun -f night.toml list", or the job "list" ("mogrun -f '
        'night.toml run list": a job named like a command runs so)?'), named


@pytest.mark.parametrize("argv", [["rerun", "-n", "fanout:acme/web"], ["show", "ok:acme/api"],
                                  ["-n", "fanout:acme/api"]])
def test_a_run_named_where_a_job_is_taken_says_so(project, mogrun_emulator, argv) -> None:
    """``rerun -n fan:acme/web`` said only 'unknown job "fan:acme/web"' (and listed
    "fan" among the jobs), though status and logs take that very name."""
    result = project(*argv)
    assert result.exit_code == 2, result
    job = argv[-1].split(":")[0]
    assert result.stderr.splitlines()[:2] == [
        f'Error: unknown job "{argv[-1]}" in mogplex.toml',
        f'"{argv[-1]}" names one run of job "{job}": this command takes job names ("{job}"); '
        "status, logs, cancel and history --job take a run"], result
    assert mogrun_emulator.requests == []
