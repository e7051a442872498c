"""GitHub Actions end to end: the CLI against the emulator over loopback, reading
what a workflow reads (the step's log, $GITHUB_STEP_SUMMARY, $GITHUB_OUTPUT)."""

from __future__ import annotations

import pytest

from mogrun.testing import job, task_file


@pytest.fixture
def github_env(tmp_path):
    return {"GITHUB_ACTIONS": "true", "MOGRUN_POLL_INTERVAL": "0.1",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt")}


def commands(stdout: str, kind: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(f"::{kind}")]


def test_job_names_differing_only_in_case_share_no_step_outputs(mogrun_project,
                                                                  mogrun_emulator, tmp_path,
                                                                  github_env):
    """GitHub's step outputs ignore case: Lint_run_ids and lint_run_ids are one
    output, and the last line written wins, so neither job may have one."""
    mogrun_project.write(task_file(job("Lint"), job("lint"), job("test"),
                                   mogplex={"requests_per_minute": 600}))
    result = mogrun_project.run("run", "Lint", "lint", "test", env=github_env)
    assert result.exit_code == 0, result
    lines = (tmp_path / "output.txt").read_text().splitlines()
    assert len(lines[0].removeprefix("run_ids=").split()) == 3, lines
    assert [line.split("=")[0] for line in lines if "_run_ids=" in line] == ["test_run_ids"]
    assert commands(result.stdout, "warning") == [
        '::warning::jobs "Lint" and "lint" share the step output name Lint (GitHub ignores '
        "case): their Lint_run_ids and Lint_branches are left out; rename one of them"]


def read(path) -> str:
    return path.read_text() if path.exists() else ""


def assert_failure_reported(result, tmp_path, code: int, message: str) -> str:
    """One ::error with the message, a step summary, exit_code=N; returns the summary."""
    assert result.exit_code == code, result
    errors = commands(result.stdout, "error")
    assert len(errors) == 1 and message in errors[0], result
    summary = read(tmp_path / "summary.md")
    assert summary.startswith("## mogrun\n") and message in summary, summary
    assert f"exit code: {code}" in summary
    assert f"exit_code={code}" in read(tmp_path / "output.txt").splitlines()
    assert "Traceback" not in result.output
    return summary


def test_no_token_is_annotated_summarised_and_output(mogrun_project, tmp_path, github_env):
    mogrun_project.write(task_file(job("lint")))
    result = mogrun_project.run("lint", env={**github_env, "MOGPLEX_API_KEY": None})
    summary = assert_failure_reported(result, tmp_path, 64, "no API token")
    assert "secrets.MOGPLEX_API_KEY" in summary  # what to do, in a workflow
    assert result.errors == ["Error: no API token: MOGPLEX_API_KEY is not set"]  # as before


def test_a_rejected_token_is_annotated_and_never_shown(mogrun_project, mogrun_emulator,
                                                       tmp_path, github_env):
    token = "mog_rejected_secret_0123456789"
    mogrun_project.write(task_file(job("lint")))
    result = mogrun_project.run("run", "lint", env={**github_env, "MOGPLEX_API_KEY": token})
    summary = assert_failure_reported(result, tmp_path, 64, "Unauthorized")
    assert "MOGPLEX_API_KEY" in summary
    assert token not in result.output + summary + read(tmp_path / "output.txt")


def test_a_task_file_error_is_annotated(mogrun_project, mogrun_emulator, tmp_path, github_env):
    mogrun_project.write(task_file(job("lint", timout="5m")))
    result = mogrun_project.run("run", "lint", env=github_env)
    summary = assert_failure_reported(result, tmp_path, 2, "timout")
    assert "mogrun check" in summary


def test_a_rerun_that_cannot_start_is_annotated(mogrun_project, mogrun_emulator, tmp_path,
                                               github_env):
    mogrun_project.write(task_file(job("lint")))
    result = mogrun_project.run("rerun", "lint", "--timeout", "soon", env=github_env)
    assert_failure_reported(result, tmp_path, 2, "--timeout")


def test_a_rerun_with_nothing_recorded_says_what_works_in_ci(mogrun_project, mogrun_emulator,
                                                              tmp_path, github_env):
    """A fresh CI checkout has no history: 'fix the task file or the command line'
    sent the author after a problem that was not there."""
    mogrun_project.write(task_file(job("lint")))
    result = mogrun_project.run("rerun", env=github_env)
    summary = assert_failure_reported(result, tmp_path, 2, "nothing to rerun")
    assert "mogrun run --rerun JOB..." in summary
    assert "fix the task file" not in summary


def test_a_rerun_of_a_named_job_never_run_here_says_what_works_in_ci(
        mogrun_project, mogrun_emulator, tmp_path, github_env):
    """`mogrun rerun JOB`, the form every failed step's summary gives, got "fix the task
    file" in a fresh checkout where plain `mogrun rerun` got the way that works."""
    mogrun_project.write(task_file(job("lint")))
    result = mogrun_project.run("rerun", "lint", env=github_env)
    summary = assert_failure_reported(result, tmp_path, 2, "nothing to rerun for 'lint'")
    assert "mogrun run --rerun JOB..." in summary and "fix the task file" not in summary


def test_an_unset_env_name_says_to_create_the_secret_or_variable(mogrun_project,
                                                                 mogrun_emulator, tmp_path,
                                                                 github_env):
    """A repository without the secret the task file's {{ env.FAN_SETTING }} takes got
    "fix the task file or the command line of this step", though both were right."""
    mogrun_project.write(task_file(job("fan", prompt="fan {{ env.FAN_SETTING }}")))
    result = mogrun_project.run("fan", env={**github_env, "FAN_SETTING": None})
    summary = assert_failure_reported(result, tmp_path, 2, "FAN_SETTING is not set")
    assert ("the task file takes FAN_SETTING from the environment: create a repository "
            "secret or variable named FAN_SETTING") in summary, summary
    assert "fix the task file" not in summary


def test_a_failure_outside_github_prints_as_before(mogrun_project, tmp_path):
    mogrun_project.write(task_file(job("lint")))
    result = mogrun_project.run("lint", env={"MOGPLEX_API_KEY": None})
    assert result.exit_code == 64 and result.stdout == "", result
    assert result.stderr == ("Error: no API token: MOGPLEX_API_KEY is not set\n"
                             "Set it in the environment: export MOGPLEX_API_KEY=mog_...\n"
                             "(or try the embedded emulator with --local)\n")


def test_a_failure_the_session_summarised_is_reported_once(mogrun_project, mogrun_emulator,
                                                           tmp_path, github_env):
    """A 403 at the start is the run's result: one annotation, one summary."""
    mogrun_project.write(task_file(job("lint")))
    result = mogrun_project.run("lint", env={**github_env,
                                             "MOGPLEX_API_KEY": mogrun_emulator.read_token})
    assert result.exit_code == 65, result
    assert len(commands(result.stdout, "error")) == 1, result
    assert read(tmp_path / "summary.md").count("## mogrun") == 1
    assert read(tmp_path / "output.txt").count("exit_code=") == 1


REPOS = [f"acme/r{i}" for i in range(6)]
LONG_ERROR = "BEGIN " + "x|<" * 10_000 + " END"  # 30,010 characters


def fan_out_of_long_errors(mogrun_project, github_env):
    prompt = f"@emulator status=failed duration=0.2s error='{LONG_ERROR}'"
    mogrun_project.write(task_file(job("fan", repo=REPOS, prompt=prompt),
                                   mogplex={"starts_per_minute": 100,
                                            "requests_per_minute": 600}))
    return mogrun_project.run("fan", "-k", env=github_env)


@pytest.mark.mogrun_emulator(repos=REPOS)
def test_long_agent_errors_keep_the_step_summary_under_githubs_cap(mogrun_project,
                                                                   mogrun_emulator, tmp_path,
                                                                   github_env):
    """Twelve 95 KB errors made a 1.1 MB summary, which GitHub drops whole (it
    takes 1024k), and twelve 95 KB annotations; six 30 KB ones show it as well."""
    result = fan_out_of_long_errors(mogrun_project, github_env)
    assert result.exit_code == 1, result.stderr
    summary = read(tmp_path / "summary.md")
    assert len(summary.encode()) < 16 * 1024, len(summary.encode())
    rows = [line for line in summary.splitlines() if line.startswith("| fan | acme/r")]
    reasons = [line for line in summary.splitlines() if line.startswith("- fan:acme/r")]
    assert len(rows) == 6 and len(reasons) == 6, summary[:2000]
    assert all("BEGIN x" in r and "more characters cut" in r and "END" not in r
               for r in reasons)
    assert "- 0 passed, 6 failed in " in summary and "- rerun what did not pass: " in summary
    assert summary.endswith("exit code: 1\n\n")
    errors = commands(result.stdout, "error")
    assert len(errors) == 6 and all(len(e) < 5000 and "more characters cut" in e
                                     for e in errors), [len(e) for e in errors]
    # The log keeps every line whole: its summary's reasons were the step summary's, cut.
    logged = [line for line in result.stdout.splitlines() if line.startswith("fan:acme/r")
              and "BEGIN" in line]
    assert len(logged) == 6 and all(" END; gate status" in line and "characters cut" not in line
                                     for line in logged), [line[-80:] for line in logged]


@pytest.mark.mogrun_emulator(repos=REPOS)
def test_reasons_past_the_summary_budget_are_left_out_and_said(mogrun_project,
                                                               mogrun_emulator, tmp_path,
                                                               github_env, monkeypatch):
    from mogrun.output import stepfiles

    monkeypatch.setattr(stepfiles, "SUMMARY_BUDGET", 4000)
    result = fan_out_of_long_errors(mogrun_project, github_env)
    assert result.exit_code == 1, result.stderr
    summary = read(tmp_path / "summary.md")
    assert len(summary.encode()) <= 4000, len(summary.encode())
    rows = [line for line in summary.splitlines() if line.startswith("| fan | acme/r")]
    reasons = [line for line in summary.splitlines() if line.startswith("- fan:acme/r")]
    assert len(rows) == 6 and 0 < len(reasons) < 6, summary
    assert (f"- {6 - len(reasons)} more reasons left out to keep this summary under "
            "4000 bytes; the step's log has them all") in summary
    assert "- 0 passed, 6 failed in " in summary and "- rerun what did not pass: " in summary
    assert summary.endswith("exit code: 1\n\n")


def test_a_job_waiting_on_its_needs_does_not_hide_the_running_one(tmp_path):
    """Under GitHub Actions, deploy (waiting for build) owned the log group from its
    first wait line, and build's lines came only at build's end: a whole job with
    nothing in the log. Read as a workflow's log is, as it is written: build's
    group opens well before its result line."""
    import os
    import subprocess
    import sys
    import time

    from mogrun.testing import write_taskfile

    write_taskfile(tmp_path, '[jobs.build]  # three seconds of work\r\nrepo = "acme/api"\r\n'
                             'prompt = "x\\n@emulator duration=3s events=6"\r\n\r\n'
                             '[jobs.deploy]\r\nrepo = "acme/web"\r\nneeds = ["build"]\r\n'
                             'prompt = "y\\n@emulator duration=0.2s"\r\n\r\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGPLEX_", "MOGRUN_"))}
    env.update(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(tmp_path / "s.md"),
               GITHUB_OUTPUT=str(tmp_path / "o.txt"), MOGRUN_POLL_INTERVAL="0.1")
    proc = subprocess.Popen([sys.executable, "-m", "mogrun", "--local", "deploy"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    seen: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("::group::build") and "group" not in seen:
            seen["group"] = time.monotonic()
        if "  build  result  " in line:
            seen["result"] = time.monotonic()
    assert proc.wait(timeout=30) == 0
    assert seen["result"] - seen["group"] > 1.5, seen  # shown as it ran, not all at its end


def test_a_task_file_error_keeps_its_excerpt_in_the_summary(mogrun_project, tmp_path,
                                                            github_env):
    """The excerpt under a located error was written as list items: Markdown folded
    its spaces and the caret no longer pointed at the column. And the advice never
    said the likeliest cause in a workflow: one older than the task file."""
    mogrun_project.write('# edited since the workflow was written\r\n[jobs.lint]\r\n'
                         'repo = "acme/api"\r\nprompt = "x"\r\ntimeout = "soon"  # `oops`\r\n\r\n')
    result = mogrun_project.run("run", "lint", env=github_env)
    summary = assert_failure_reported(result, tmp_path, 2, "timeout")
    block = summary.split("```text\n", 1)[1].split("\n```\n", 1)[0].splitlines()
    source = next(line for line in block if "| timeout = " in line)
    caret = block[block.index(source) + 1]
    assert caret.strip() == "^" and source[caret.index("^")] == "t", (source, caret)
    said = result.output.splitlines()  # as a terminal shows it: the same lines
    assert said[said.index(source.rstrip()) + 1].rstrip() == caret.rstrip(), result.output
    assert "mogrun ci github --check" in summary
