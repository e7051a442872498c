"""Agent text in a GitHub Actions log issues no workflow command, whichever
command prints it. The runner acts on ``::cmd::`` at a line's start and on the
older ``##[cmd]`` anywhere in a line: ``run``'s own output ran inside
``::stop-commands::``, but ``logs``, ``status`` and ``history`` printed the same
text bare, and ``--json`` lines carried ``##[error]`` as it was. So did ``list``,
``show`` and ``check`` with a task file's text, which in CI a pull request writes."""

from __future__ import annotations

import json
import re

import pytest

from mogrun.testing import job, task_file

FORGED = "##[error]forged by the agent"
PROMPT = f'p\n@emulator duration=0.3s events=4 tools=none message="{FORGED}"'


@pytest.fixture
def github_env(tmp_path):
    return {"GITHUB_ACTIONS": "true", "MOGRUN_POLL_INTERVAL": "0.1",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt")}


def stopped_throughout(stdout: str) -> str:
    """Every line between the first and the last runs with commands stopped; the token."""
    lines = stdout.splitlines()
    start = re.fullmatch(r"::stop-commands::([0-9a-f]{32})", lines[0])
    assert start, stdout
    assert lines[-1] == f"::{start.group(1)}::", stdout
    assert start.group(1) not in "\n".join(lines[1:-1])
    return start.group(1)


@pytest.mark.parametrize("args", [["logs", "a"], ["logs"], ["status"], ["history"]])
def test_a_command_showing_agent_text_stops_workflow_commands(mogrun_project, mogrun_emulator,
                                                              github_env, args) -> None:
    mogrun_project.write(task_file(job("a", prompt=PROMPT)))
    assert mogrun_project.run("run", "a", env={"MOGRUN_POLL_INTERVAL": "0.1"}).exit_code == 0
    result = mogrun_project.run(*args, env=github_env)
    assert result.exit_code == 0, result
    stopped_throughout(result.stdout)
    if args[0] == "logs":
        assert FORGED in result.stdout  # shown as it is, and inert


@pytest.mark.parametrize("args", [["--json", "run", "a"], ["--json", "logs", "a"]])
def test_json_lines_carry_the_same_text_without_a_command_in_it(mogrun_project,
                                                                 mogrun_emulator, github_env,
                                                                 args) -> None:
    mogrun_project.write(task_file(job("a", prompt=PROMPT)))
    if args[1] == "logs":
        assert mogrun_project.run("run", "a", env={"MOGRUN_POLL_INTERVAL": "0.1"}).exit_code == 0
    result = mogrun_project.run(*args, env=github_env)
    assert result.exit_code == 0, result
    assert "##[" not in result.stdout
    messages = [json.loads(line).get("event", {}).get("message")
                for line in result.stdout.splitlines()]
    assert FORGED in messages  # the value itself is unchanged
    assert "::stop-commands::" not in result.stdout  # NDJSON only


def test_outside_github_nothing_is_added(mogrun_project, mogrun_emulator) -> None:
    mogrun_project.write(task_file(job("a", prompt=PROMPT)))
    env = {"MOGRUN_POLL_INTERVAL": "0.1", "GITHUB_ACTIONS": None}
    assert mogrun_project.run("run", "a", env=env).exit_code == 0
    result = mogrun_project.run("logs", "a", env=env)
    assert "stop-commands" not in result.stdout and FORGED in result.stdout


# A task file as a pull request commits it: CRLF, comments, blank lines at its end,
# and a description and prompt holding workflow commands (one at a line's start).
FROM_A_PR = ('# edited by hand\r\n[jobs.a]\r\ndescription = "##[error]boom"  # said in CI\r\n'
             'repo = "acme/api"\r\nprompt = """\r\n::set-output name=x::y\r\n##[error]boom\r\n'
             '"""\r\n\r\n\r\n')
# ``list`` shows what it can of a broken file: a job named so starts its line with ``::``.
NAMED_AS_A_COMMAND = FROM_A_PR + '[jobs."::set-output name=x::y"]\r\nrepo = "acme/api"\r\n'


@pytest.mark.parametrize(("args", "text"), [
    (["list"], FROM_A_PR), (["list"], NAMED_AS_A_COMMAND), (["--verbose", "list"], FROM_A_PR),
    (["show", "a"], FROM_A_PR), (["--verbose", "show", "a"], FROM_A_PR),
    (["run", "--dry-run", "a"], FROM_A_PR), (["check"], FROM_A_PR),
    (["--verbose", "check"], FROM_A_PR)])
def test_a_command_showing_task_file_text_stops_workflow_commands(mogrun_project, github_env,
                                                                  args, text) -> None:
    # (--verbose: the same command through click rather than the quick path.)
    mogrun_project.path.write_bytes(text.encode())
    tokens = set()
    for _ in range(2):
        result = mogrun_project.run(*args, env=github_env)
        assert result.exit_code == 0, result
        tokens.add(stopped_throughout(result.stdout))
    assert len(tokens) == 2  # a new random token each time
    if args[-1] != "check":  # check prints only the path on stdout
        assert "##[error]boom" in result.stdout  # shown as it is, and inert
    if text is NAMED_AS_A_COMMAND:
        assert any(line.startswith("::set-output") for line in result.stdout.splitlines())


def test_a_failure_after_the_stop_is_still_annotated(mogrun_project, github_env) -> None:
    # run --dry-run prints job a inside the stop; a plugin's veto of b is the step's
    # ::error::, which acts only once the stop is resumed.
    mogrun_project.path.write_bytes(
        (FROM_A_PR + '[jobs.b]\r\nrepo = "acme/api"\r\nprompt = "p"\r\n').encode())
    (mogrun_project.root / "veto.py").write_text(
        "from mogrun.plugin import GateError, hookimpl\n\n@hookimpl\n"
        "def mogrun_start_request(job, run, request):\n"
        "    if job.name == 'b':\n        raise GateError('b is frozen')\n")
    result = mogrun_project.run("run", "--dry-run", "-p", "veto.py", "a", "b", env=github_env)
    assert result.exit_code != 0, result
    lines = result.stdout.splitlines()
    token = re.fullmatch(r"::stop-commands::([0-9a-f]{32})", lines[0]).group(1)
    resumed = lines.index(f"::{token}::")
    annotation = next(i for i, line in enumerate(lines) if line.startswith("::error "))
    assert resumed < annotation and "b is frozen" in lines[annotation], result.stdout


def test_stderr_lines_hold_no_workflow_command(mogrun_project, github_env) -> None:
    # stderr is read apart from stdout (each batch's stderr lines first), so the stop
    # may come too late for them: check's problems and list's warning quote the file there.
    mogrun_project.path.write_bytes(b'# by hand\r\n[jobs.a]\r\nrepo = "acme/api"\r\n'
                                    b'prompt = "p"\r\nharness = "##[error]boom"\r\n'
                                    b'"##[error]boom" = 1  # a key\r\n\r\n')
    for args in (["check"], ["show", "a"], ["list"]):
        result = mogrun_project.run(*args, env=github_env)
        assert "##[" not in result.stderr and "\\x23#[error]boom" in result.stderr, result
        plain = mogrun_project.run(*args, env={"GITHUB_ACTIONS": None})
        assert "##[error]boom" in plain.stderr, plain  # as it was outside GitHub Actions


@pytest.mark.parametrize(("line", "inert"), [
    ("::set-output name=x::y", "\\x3a:set-output name=x::y"),
    ("  \t::error::boom", "  \t\\x3a:error::boom"),  # the runner skips the blanks
    ("a ::error::b", "a ::error::b"),
    ("x ##[error]y ###[group]z", "x \\x23#[error]y #\\x23#[group]z"),
])
def test_inert_text_escapes_what_the_runner_reads_as_a_command(line, inert) -> None:
    from mogrun.textsafety import inert_text

    assert inert_text(line) == inert and inert_text(inert) == inert


def test_automations_and_a_stale_workflow_diff_stop_workflow_commands(
        mogrun_project, mogrun_emulator, github_env) -> None:
    mogrun_emulator.add_automation("triage ##[error]not ours")
    result = mogrun_project.run("automations", env=github_env)
    assert result.exit_code == 0, result
    stopped_throughout(result.stdout)
    mogrun_project.path.write_bytes(FROM_A_PR.replace('"acme/api"', '"acme/api"\r\nschedule = '
                                                      '"17 3 * * *"').encode())
    workflow = mogrun_project.root / ".github" / "workflows" / "mogrun.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("# committed by a pull request\n  ::set-output name=x::y\n##[error]boom")
    result = mogrun_project.run("ci", "github", "--check", env=github_env)
    assert result.exit_code == 1, result
    stopped_throughout(result.stdout)
    assert "-##[error]boom" in result.stdout


@pytest.mark.parametrize("github", [True, False])
def test_every_stderr_line_of_a_command_is_inert_under_github_actions(github) -> None:
    """error and warning lines were made inert, but not the other stderr lines a
    command writes itself: `logs`' per-run notices quote the server's messages
    (second read). Every line written to stderr is now, one line at a time."""
    import io

    from mogrun.cli.state import CliState

    err = io.StringIO()
    state = CliState(env={"GITHUB_ACTIONS": "true"} if github else {}, stderr=err)
    state.echo("error: a:acme/api: Not found ##[error]forged\n::set-output name=x::y", err=True)
    state.echo("::warning::plain stdout is the stop's to hold", err=False)
    said = err.getvalue().splitlines()
    if github:
        assert said == ["error: a:acme/api: Not found \\x23#[error]forged",
                        "\\x3a:set-output name=x::y"], said
    else:
        assert said == ["error: a:acme/api: Not found ##[error]forged",
                        "::set-output name=x::y"], said


def test_a_json_run_s_notices_on_stderr_hold_no_workflow_command(
        mogrun_project, mogrun_emulator, github_env) -> None:
    """``--json`` writes its notices on stderr through plain lines, which never went
    through ``inert_text``: a server's message quoting the prompt reached the
    runner as ``##[error]``."""
    mogrun_project.write('[jobs.x]\nrepo = "acme/api"\n'
                         'prompt = "x\\n@emulator ##[error]forged=1"\n')
    result = mogrun_project.run("run", "x", "--json", env=github_env)
    assert result.exit_code == 1, result
    assert "could not start" in result.stderr and "##[" not in result.stderr, result
    assert "\\x23#[error]forged" in result.stderr, result
    plain = mogrun_project.run("run", "x", "--json", env={"GITHUB_ACTIONS": None})
    assert "##[error]forged" in plain.stderr, plain  # as it was outside GitHub Actions


@pytest.mark.parametrize("json", [False, True])
def test_a_quiet_wait_on_stderr_holds_no_workflow_command(json) -> None:
    """``-q`` writes a wait on stderr, where the server's text in it (a 503's
    message) went out as the runner's ``##[error]``."""
    import io

    from mogrun.output.base import make_reporter
    from mogrun.waits import Wait

    out, err = io.StringIO(), io.StringIO()
    reporter = make_reporter(stdout=out, stderr=err, quiet=True, json=json,
                             env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": ""})
    reporter.session_started([])
    reporter.wait(Wait.for_seconds("retry", "GET /repos: ##[error]forged (HTTP 503)", 3.0))
    reporter.notice("::set-output name=x::y ##[error]forged", level="warning")
    said = err.getvalue()
    assert "##[" not in said and "\\x23#[error]forged" in said, said
