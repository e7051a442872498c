"""The server's limits, checked before any request: repos, idempotency keys,
branches, durations and request budgets."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st


def test_a_repo_listed_twice_in_another_case_is_refused(project) -> None:
    # owner/name resolves case-insensitively, so both entries are one repo: two runs
    # would start in it, each with its own idempotency key.
    project.write("""
        [jobs.a]
        repo = ["acme/api", "Acme/API"]
        prompt = "x"
    """)
    result = project.run("check")
    assert result.code == 2, result
    assert ('Error: job "a", key "repo" lists \'Acme/API\' twice (as \'acme/api\' before it; '
            "GitHub ignores case)") in result.err
    assert "mogplex.toml:2:21" in result.err  # at the entry that repeats
    project.write("""
        [vars]
        owner = "ACME"
        [jobs.b]
        repo = ["acme/api", "{{ owner }}/api"]
        prompt = "x"
    """)
    b = project.run("show", "b")
    assert b.code == 2, b
    assert b.err.splitlines()[0] == ('Error: job "b", key "repo": lists (templated) '
                                     "'ACME/api' twice (as 'acme/api' before it; GitHub "
                                     "ignores case)")


def test_an_idempotency_key_that_cannot_be_an_http_header_is_refused(project) -> None:
    # Sent as the Idempotency-Key header: non-ASCII or a control character used to pass
    # `check` and then fail every start attempt at the HTTP layer (exit 69).
    project.write("""
        [vars]
        two = "a\\nb"
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        idempotency_key = "日本-{{ date }}"
        [jobs.b]
        repo = "acme/api"
        prompt = "x"
        idempotency_key = "k-{{ two }}"
    """)
    result = project.run("check")
    assert result.code == 2, result
    lines = result.errors
    assert lines == [
        'Error: job "a", key "idempotency_key": the idempotency key is sent as an HTTP header '
        "and may hold only printable ASCII characters, not '日', '本'",
        'Error: job "b", key "idempotency_key": the idempotency key is sent as an HTTP header '
        'and may hold only printable ASCII characters, not "\\n"',
    ]


def test_a_key_pushed_over_the_limit_by_the_fan_out_suffix_says_so(project) -> None:
    # The message said "not 204" about a key written with 195 characters.
    key = "k" * 195
    project.write(f"""
        [jobs.a]
        repo = ["acme/api", "acme/web"]
        prompt = "x"
        idempotency_key = "{key}"
    """)
    result = project.run("show", "a")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == (
        'Error: job "a", key "idempotency_key": the idempotency key is 195 characters, 204 '
        'with the fan-out suffix ":acme/api"; the server accepts at most 200 (shorten it, or '
        "make it differ per repo with {{ repo }})")


@pytest.mark.parametrize("written", ["{{ env.RUN_KEY | default('') }}", "   ",
                                     "{{ blank }}"])
def test_a_fan_out_key_that_renders_empty_is_refused_as_one_repo_s_is(project,
                                                                      written) -> None:
    """One repo's empty key was refused; a fan-out's was sent as ":acme/api" and
    ":acme/web", the same keys at every invocation, on any day: each attached to
    the first runs for ever."""
    project.write(f"""
        [vars]
        blank = " "

        [jobs.fan]
        repo = ["acme/api", "acme/web"]
        prompt = "x"
        idempotency_key = "{written}"
    """)
    for command in (("show", "fan"), ("check",)):
        result = project.run(*command)
        assert result.code == 2, result
        assert ('job "fan", key "idempotency_key": the idempotency key must be 1..200 '
                "characters after trimming, not 0 (before the fan-out's per-repo suffix)"
                ) in result.err, result


@pytest.mark.parametrize("kind", ['prompt = "x"', 'automation = "triage"'])
def test_a_long_job_name_never_makes_mogruns_own_key_an_error(project, kind) -> None:
    """With no idempotency_key, mogrun makes one from the job's name: a 250-character
    name over two repos was refused for a 277-character key the user never wrote."""
    import json

    name = "j" * 250
    project.write(f"""
        [jobs.{name}]
        repo = ["acme/api", "acme/web"]
        {kind}
    """)
    assert project.run("check").code == 0
    shown = project.run("--json", "show", name)
    assert shown.code == 0, shown
    keys = [run["request"]["headers"]["Idempotency-Key"] for run in json.loads(shown.out)["runs"]]
    if kind.startswith("prompt"):  # a trigger's key is a digest of it (and the repo...)
        assert len(set(keys)) == 2 and all(len(key) <= 200 for key in keys), keys
        assert all(key.startswith("mogrun-jjjj") for key in keys)


def test_a_key_pushed_over_the_limit_by_rerun_says_so(project) -> None:
    project.write(f"""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        idempotency_key = "{"k" * 190}"
    """)
    result = project.run("run", "--dry-run", "--rerun", "a")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == (
        'Error: job "a", key "idempotency_key": the idempotency key is 190 characters, 207 '
        "with the --rerun suffix; the server accepts at most 200 (shorten it)")


def test_a_branch_name_git_cannot_store_is_refused_by_check(project) -> None:
    # Branch names longer than 255 characters used to pass `check`; the server
    # takes them, but git keeps a branch as a file, and a push of one fails.
    long = "b" * 256
    project.write(f"""
        [jobs.long]
        repo = "acme/api"
        prompt = "x"
        branch = "{long}"
    """)
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors == [
        f'Error: job "long", key "branch": \'{long}\' is not a valid git branch name: it is '
        "longer than 255 characters"]


def test_a_working_branch_equal_to_the_base_is_refused_only_with_create_branch(project) -> None:
    # The server (normalizeStartRequest) refuses working == base only when
    # createBranch is true; without it the working branch defaults to the base
    # branch, so naming it is the same request. check used to refuse both.
    project.path.write_bytes(
        b'# work straight on main: the server accepts it\r\n'
        b'[jobs.on-main]\r\nrepo = "acme/api"\r\nprompt = "@emulator duration=0.1s"\r\n'
        b'base_branch = "main"\r\nbranch = "main"\r\n\r\n'
        b'[jobs.create]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n'
        b'base_branch = "main"\r\nbranch = "main"  # a new branch cannot be main\r\n'
        b'create_branch = true\r\n\r\n')
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors == [
        'Error: job "create", key "branch": create_branch needs a working branch different '
        "from the base branch ('main')"]
    assert project.run("show", "on-main").code == 0
    ran = project.run("--local", "-q", "run", "on-main")
    assert ran.code == 0, ran  # the emulator, like the server, starts it (202)


def test_a_duration_too_large_for_a_float_is_a_clear_error(project) -> None:
    # float(10**400) raises OverflowError: a traceback from check, for timeout and
    # for plugin durations (retry.max_delay) alike.
    huge = "9" * 400
    project.write(f"""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        timeout = {huge}
        [jobs.b]
        repo = "acme/api"
        prompt = "x"
        retry = {{ max_delay = {huge} }}
    """)
    result = project.run("check")
    assert result.code == 2, result
    errors = result.errors
    assert len(errors) == 2, result
    assert errors[0].startswith('Error: job "a", key "timeout" is an invalid duration 999')
    assert errors[0].endswith(": must be a finite, non-negative time")
    assert errors[1].startswith('Error: job "b", key "retry": ')


def test_an_absurd_request_budget_is_refused_by_check(project) -> None:
    # requests_per_minute = 9...9 passed check and crashed the run's pacing (a traceback).
    project.write(f"""
        [mogplex]
        requests_per_minute = {"9" * 400}
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
    """)
    result = project.run("check")
    assert result.code == 2, result
    assert result.err.splitlines()[0].startswith("Error: [mogplex] requests_per_minute must be "
                                                 "a positive integer of at most 1,000,000, not ")


@given(st.text(st.characters(exclude_categories=()), max_size=40))
@example("\U0001f600 emoji")
@example("\udcff lone surrogate")
@example("plain ascii")
def test_a_prompts_length_is_javascripts_in_utf16_code_units(text) -> None:
    # The server counts `prompt.length`: a character past U+FFFF is two units, a
    # lone surrogate (a file read with surrogateescape holds one) is one.
    from mogrun.taskfile.limits import server_length

    assert server_length(text) == sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def test_a_repo_repeated_as_the_very_same_string_is_found() -> None:
    """The repeat was told by identity: the same str object twice (what one
    rendering of one template can give) read as no repeat at all."""
    from mogrun.taskfile.schema import listed_twice

    repo = "acme/api"
    assert listed_twice([repo, repo, "Acme/API"]) == [
        (1, "lists 'acme/api' twice"),
        (2, "lists 'Acme/API' twice (as 'acme/api' before it; GitHub ignores case)")]
