"""Runs whose idempotency keys render the same: ``check`` (and ``show``/``run``
of those jobs) refuse them, naming both jobs and the key's line. At run time the
second start would attach to the first's run, or fail with IDEMPOTENCY_CONFLICT.

Fixtures are written as people write files: CRLF, comments, blank lines at
the end, a job copied and half-renamed."""

from __future__ import annotations

import json

# [jobs.lint-web] was copied from [jobs.lint]: the name changed, the key did not.
COPIED = (
    "# Lint jobs\r\n"
    "[defaults]\r\n"
    'harness = "codex"   # the team\'s default\r\n'
    "\r\n"
    "[jobs.lint]\r\n"
    'repo = "acme/api"\r\n'
    'prompt = "Run the linter"\r\n'
    'idempotency_key = "lint-{{ date }}"\r\n'
    "\r\n"
    "# copied from lint, for the web app\r\n"
    "[jobs.lint-web]\r\n"
    'repo = "acme/web"\r\n'
    'prompt = "Run the linter on the web app"\r\n'
    'idempotency_key = "lint-{{ date }}"\r\n'
    "\r\n"
    "\r\n"
)


def write(project, text: str) -> None:
    project.path.write_bytes(text.encode("utf-8"))


def test_a_copied_job_with_the_same_key_is_an_error_naming_both_jobs(project) -> None:
    write(project, COPIED)
    result = project.run("check")
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert lines[0].startswith('Error: job "lint-web", key "idempotency_key": renders the same '
                               'idempotency key as job "lint" ("lint-20')
    assert lines[1] == f"  --> {project.path.resolve()}:14:1"
    assert lines[2] == '  14 | idempotency_key = "lint-{{ date }}"'
    assert any('job "lint" sets it on line 8' in line for line in lines)
    assert any("{{ job }}" in line for line in lines)  # how to make them differ
    assert result.err.endswith(f"1 problem in {project.path.resolve()}\n")


def test_check_json_reports_the_clash_with_its_line(project) -> None:
    write(project, COPIED)
    result = project.run("--json", "check")
    assert result.code == 2
    [error] = json.loads(result.out)["errors"]
    assert error["line"] == 14 and '"lint"' in error["message"]


def test_show_and_run_of_both_jobs_refuse_before_starting_anything(project) -> None:
    write(project, COPIED)
    for argv in (("show", "lint", "lint-web"), ("--local", "lint", "lint-web")):
        result = project.run(*argv)
        assert result.code == 2, result
        assert 'renders the same idempotency key as job "lint"' in result.err
        assert "attached" not in result.out + result.err
        assert "started" not in result.out


def test_keys_that_differ_per_repo_are_fine(project) -> None:
    write(project, COPIED.replace("lint-{{ date }}", "lint-{{ repo }}-{{ date }}"))
    assert project.run("check").code == 0


def test_keys_that_differ_per_job_are_fine(project) -> None:
    write(project, COPIED.replace("lint-{{ date }}", "{{ job }}-{{ date }}"))
    assert project.run("check").code == 0


def test_fan_outs_with_the_same_key_clash_only_on_a_shared_repo(project) -> None:
    text = """
        [jobs.api-and-web]
        repo = ["acme/api", "acme/web"]
        prompt = "x"
        idempotency_key = "codemod-{{ week }}"

        [jobs.worker-and-cli]
        repo = ["acme/worker", "acme/cli"]
        prompt = "x"
        idempotency_key = "codemod-{{ week }}"   # the per-repo suffix keeps them apart
    """
    project.write(text)
    assert project.run("check").code == 0, project.run("check")
    project.write(text.replace('"acme/cli"', '"acme/web"'))
    result = project.run("check")
    assert result.code == 2
    assert ('job "worker-and-cli" (acme/web), key "idempotency_key": renders the same '
            'idempotency key as job "api-and-web" (acme/web)') in result.err


def test_a_key_in_defaults_shared_by_every_job_is_said_once(project) -> None:
    project.write("""
        [defaults]
        idempotency_key = "nightly-{{ date }}"

        [jobs.a]
        repo = "acme/api"
        prompt = "x"

        [jobs.b]
        repo = "acme/web"
        prompt = "y"

        [jobs.c]
        repo = "acme/worker"
        prompt = "z"
    """)
    result = project.run("check")
    assert result.code == 2
    assert result.err.count("Error:") == 1
    assert 'job "b", key "idempotency_key": renders the same idempotency key as job "a"' \
        in result.err
    assert 'Also job "c".' in result.err
    assert f"  --> {project.path.resolve()}:2:1" in result.err


def test_keys_from_unset_env_names_are_not_guessed(project) -> None:
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        idempotency_key = "a-{{ env.BUILD_ID }}"

        [jobs.b]
        repo = "acme/api"
        prompt = "y"
        idempotency_key = "b-{{ env.BUILD_ID }}-{{ env.OTHER }}"
        [jobs.c]
        repo = "acme/api"
        prompt = "z"
        idempotency_key = "a-{{ env.BUILD_ID }}"
    """)
    result = project.run("check", env={"BUILD_ID": None, "OTHER": None})
    assert result.code == 0, result
    result = project.run("check", env={"BUILD_ID": "17", "OTHER": None})
    assert result.code == 2
    assert 'job "c", key "idempotency_key": renders the same idempotency key as job "a"' \
        in result.err


def test_a_clash_does_not_stop_a_job_run_alone(project) -> None:
    write(project, COPIED)
    result = project.run("show", "lint")
    assert result.code == 0, result
