"""``logs --follow`` exits as ``run`` would when the API refuses the following:
the error's own code (64 a bad token, 65 forbidden, 69 unavailable, 75 rate
limited), several runs' codes combined by the README's precedence; 1 stays a
run that did not pass. It exited 1 for all of them (plain ``logs`` gave 64)."""

from __future__ import annotations

import pytest

from mogrun.testing import loopback_api

from .conftest import FAN_GOING, json_lines

GOING = """
    [jobs.going]
    repo = "acme/api"
    prompt = "@emulator duration=never interval=0.2s"
""" + FAN_GOING


@pytest.mark.parametrize("by", ["job", "run id"])
@pytest.mark.parametrize(("refusal", "code"), [
    ("bad token", 64), ("events:429x1@3600", 75), ("events:503x1@3600", 69)])
def test_a_refused_follow_exits_with_the_errors_code(project, mogrun, mogrun_emulator,
                                                     refusal, code, by):
    project(GOING)
    assert mogrun("-q", "run", "--detach", "going").exit_code == 0
    target = "going" if by == "job" else mogrun_emulator.runs[0]
    env = None
    if refusal == "bad token":
        env = {"MOGPLEX_API_KEY": "mog_not_a_token_of_this_account"}
    else:
        endpoint, rest = refusal.split(":")
        kind, retry_after = rest.split("x1@")
        mogrun_emulator.add_fault(endpoint, kind, retry_after=float(retry_after))
    result = mogrun("logs", "--follow", target, env=env)
    assert result.exit_code == code, result
    plain = mogrun("logs", target, env=env) if refusal == "bad token" else None
    if plain is not None:  # as plain logs exits on the same refusal
        assert plain.exit_code == code, plain
    for run in mogrun_emulator.runs:
        mogrun_emulator.run_detail(run)  # still known: nothing was cancelled
    assert mogrun("-q", "cancel", "going").exit_code == 0


def test_json_summary_carries_the_errors_code(project, mogrun, mogrun_emulator):
    project(GOING)
    assert mogrun("-q", "run", "--detach", "going").exit_code == 0
    mogrun_emulator.add_fault("events", "503", retry_after=3600.0)
    result = mogrun("--json", "logs", "--follow", "going")
    assert result.exit_code == 69, result
    summary = json_lines(result.stdout)[-1]
    assert summary["type"] == "summary" and summary["exit_code"] == 69, summary
    assert summary["results"][0]["outcome"] == "error"
    assert summary["results"][0]["left_going"] is True
    assert mogrun("-q", "cancel", "going").exit_code == 0


def test_several_runs_codes_combine_as_runs_do(project, mogrun, mogrun_emulator):
    """One run's follow refused 503 (69), the other's 429 (75): 69 first in the
    README's precedence, as ``run`` combines them (the highest was taken: 75)."""
    project(GOING)
    assert mogrun("-q", "run", "--detach", "fan").exit_code == 0
    mogrun_emulator.add_fault("events", "503", retry_after=3600.0)
    mogrun_emulator.add_fault("events", "429", retry_after=3600.0)
    result = mogrun("logs", "--follow", "fan")
    assert result.exit_code == 69, result
    assert "SERVICE_UNAVAILABLE, HTTP 503" in result.stderr
    assert "RATE_LIMITED, HTTP 429" in result.stderr
    assert mogrun("-q", "cancel", "fan").exit_code == 0


RUN = "0dd00000-0000-4000-8000-000000000000"


def test_a_forbidden_follow_exits_65(project, mogrun):
    """The emulator's run GETs check no scope (as the server's): a loopback API
    answers the events 403."""
    project(GOING)
    detail = {"runId": RUN, "repoId": "5c0ffee0-1234-4321-8abc-0123456789ab",
              "status": "streaming", "createdAt": "2026-01-01T00:00:00Z",
              "updatedAt": "2026-01-01T00:00:05Z", "error": None}

    def answer(method, path):
        if "/events" in path:
            return 403, None
        return 200, {"run": detail}

    with loopback_api(answer) as url:
        env = {"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_test"}
        result = mogrun("logs", "--follow", RUN, env=env)
        plain = mogrun("logs", RUN, env=env)
    assert plain.exit_code == 65, plain
    assert result.exit_code == 65, result
    assert "HTTP 403" in result.stderr


@pytest.mark.parametrize("terminal", [True, False])
def test_a_quiet_run_followed_on_a_terminal_says_it_is_still_going(
        project, mogrun, mogrun_emulator, monkeypatch, terminal):
    """`logs --follow` printed nothing for 17 s of a quiet run (QA pass in a pty),
    where `run` shows the elapsed time each second: a hang, to the user. On a
    terminal it says the run is still going once it has been quiet QUIET_SAID, then
    as long again each time; in a pipe (a CI log) it stays as it was."""
    from mogrun.cli import logs_cmd

    project("""
        [jobs.quiet]
        repo = "acme/api"
        prompt = "@emulator duration=2.5s events=1"
    """)
    monkeypatch.setattr(logs_cmd, "QUIET_SAID", 0.5)
    monkeypatch.setattr("mogrun.tables.is_terminal", lambda stream: terminal)
    assert mogrun("-q", "run", "--detach", "quiet").exit_code == 0
    result = mogrun("logs", "--follow", "quiet")
    assert result.exit_code == 0, result
    said = [line for line in result.stderr.splitlines() if "nothing new for" in line]
    if not terminal:
        assert said == [], result
        return
    assert 1 <= len(said) <= 3, result  # at 0.5 s, then 1 s, then 2 s: never each poll
    assert all(line.startswith("quiet: still streaming, nothing new for ") for line in said), said


def test_a_retry_that_would_pass_the_timeout_says_so_in_the_result(project, mogrun,
                                                                   mogrun_emulator):
    """A 503 asking for 10 s three seconds before the job's timeout gave the job up at
    once, its result line saying only "Service unavailable": why it was not retried
    was in context lines no result line shows."""
    project("""
        [jobs.slow]
        repo = "acme/api"
        prompt = "@emulator duration=never interval=0.2s"
        timeout = "3s"
    """)
    mogrun_emulator.add_fault("events", "503", retry_after=10.0)
    result = mogrun("run", "slow")
    assert result.exit_code == 69, result
    assert "Service unavailable" in result.stdout, result
    assert "; not retried: waiting 10.0 s would pass the deadline" in result.stdout, result
    assert mogrun("-q", "cancel", "slow").exit_code == 0
