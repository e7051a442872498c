"""[defaults] and what a job does: a prompt (inline or in a file) or an
automation is one choice, so a job that makes it itself replaces the choice of
[defaults] whole, and check, show, run and list agree on the result."""

from __future__ import annotations

import json

import pytest


def write(project, text: str) -> None:
    """As a Windows editor saves it: CRLF, comments, blank lines at the end."""
    body = "\n".join(line.strip() for line in text.strip("\n").splitlines())
    project.path.write_bytes(body.replace("\n", "\r\n").encode() + b"\r\n\r\n")


def shown(project, job: str) -> dict:
    result = project.run("--json", "show", job)
    assert result.code == 0, result
    return json.loads(result.out.splitlines()[-1])


def body(project, job: str) -> dict:
    return shown(project, job)["runs"][0]["request"]["body"]


@pytest.fixture
def prompts(project):
    (project.root / "prompts").mkdir()
    (project.root / "prompts" / "shared.md").write_bytes(b"Shared steps.\r\n")
    (project.root / "prompts" / "own.md").write_bytes(b"Own steps.\r\n\r\n")
    return project


def test_a_job_prompt_replaces_a_defaults_prompt_file(prompts) -> None:
    write(prompts, """
        [defaults]
        prompt_file = "prompts/shared.md"   # most jobs follow the shared steps

        [jobs.x]
        repo = "acme/api"
        prompt = "own"                      # this one says its own

        [jobs.y]
        repo = "acme/web"
    """)
    check = prompts.run("check")
    assert check.code == 0, check
    assert body(prompts, "x")["prompt"] == "own"
    assert body(prompts, "y")["prompt"] == "Shared steps.\n"
    assert prompts.run("-n", "x").code == 0


def test_a_job_prompt_file_replaces_a_defaults_prompt(prompts) -> None:
    write(prompts, """
        [defaults]
        prompt = "Shared {{ job }}."
        [jobs.x]
        repo = "acme/api"
        prompt_file = "prompts/own.md"
    """)
    assert prompts.run("check").code == 0
    assert body(prompts, "x")["prompt"] == "Own steps.\n\n"


def test_a_job_prompt_replaces_a_defaults_automation(project) -> None:
    write(project, """
        [defaults]
        automation = "triage"   # most jobs trigger the triage automation
        input = { label = "bug" }
        harness = "codex"
        [jobs.x]
        repo = "acme/api"
        prompt = "Fix the flaky test."
    """)
    check = project.run("check")
    assert check.code == 0, check
    job = shown(project, "x")
    assert job["runs"][0]["request"]["path"] == "/api/v1/mogplex/runs"
    assert job["runs"][0]["request"]["body"]["prompt"] == "Fix the flaky test."
    listed = json.loads(project.run("--json", "list").out)
    assert (listed["harness"], "automation" in listed) == ("codex", False)


def test_a_job_automation_takes_no_prompt_of_defaults(prompts) -> None:
    # A missing prompt file or a template mistake in a prompt the job never
    # uses is no problem of the job: check, show and a dry run agree.
    write(prompts, """
        [defaults]
        prompt_file = "prompts/missing.md"
        [jobs.x]
        repo = "acme/api"
        automation = "triage"
        input = { note = "{{ job }}" }
    """)
    assert prompts.run("check").code == 0
    job = shown(prompts, "x")
    assert job["runs"][0]["request"]["path"] == "/api/v1/mogplex/automations/triage/trigger"
    assert job["runs"][0]["request"]["body"]["input"] == {"note": "x"}
    assert prompts.run("-n", "x").code == 0
    write(prompts, """
        [defaults]
        prompt = "Hello {{ nope }}"
        [jobs.x]
        repo = "acme/api"
        automation = "triage"
    """)
    assert prompts.run("check").code == 0
    assert prompts.run("show", "x").code == 0
    assert prompts.run("-n", "x").code == 0


def test_a_wrong_defaults_prompt_does_not_stop_a_job_with_its_own(project) -> None:
    # The job takes no prompt from [defaults]: it is built, and the template
    # mistake in its own prompt file is found too.
    (project.root / "own.md").write_bytes(b"# Own\r\nHi {{ nope }}\r\n")
    write(project, """
        [defaults]
        prompt = 5
        [jobs.x]
        repo = "acme/api"
        prompt_file = "own.md"
    """)
    result = project.run("check")
    assert [line.split(" in {{")[0] for line in result.errors] == [
        'Error: [defaults] key "prompt" must be a string, not an integer',
        'Error: job "x", key "prompt_file": unknown template name "nope"']


def test_both_in_a_job_or_both_in_defaults_is_still_an_error(project) -> None:
    write(project, """
        [defaults]
        prompt = "a"
        prompt_file = "p.md"
        [jobs.x]
        repo = "acme/api"
        [jobs.y]
        repo = "acme/api"
        prompt = "b"
        prompt_file = "p.md"
    """)
    result = project.run("check")
    assert result.code == 2
    assert result.errors == [
        'Error: job "x" has both prompt and prompt_file: set only one of them',
        'Error: job "y" has both prompt and prompt_file: set only one of them']


def test_a_request_key_of_defaults_no_job_inherits_is_still_judged(project) -> None:
    """Every job set its own root and branch, so the wrong ones in [defaults] were
    judged nowhere: check said ok, and the next `add` (whose job inherits them)
    was the first to refuse, pointing at no line."""
    write(project, """
        [defaults]
        root = "../x"       # hand-edited
        branch = "bad branch"
        base_branch = "{{ env.BASE }}"  # templated: judged where a job renders it

        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        root = "apps/a"
        branch = "ok"
        base_branch = "main"
    """)
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors == [
        """Error: [defaults] key "root": '../x' may not contain ".." """.strip(),
        "Error: [defaults] key \"branch\": 'bad branch' is not a valid git branch name: it "
        "contains ' '"]
    assert f"{project.path.resolve()}:2:1" in result.err
    assert f"{project.path.resolve()}:3:1" in result.err
