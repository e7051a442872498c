"""A repo name GitHub cannot have is refused by ``check`` on the ``repo`` line,
whether the job names one repo or fans out, and whatever the file's line
endings; what is rendered later (templates, env values) is judged rendered."""

from __future__ import annotations

import pytest

from .styles import STYLES, write

ALLOWED = 'owner and name hold only ASCII letters, digits, "-", "_" and "."'


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("repo", ['"acme/wéb"', '["acme/api", "acme/wéb"]'])
def test_a_non_ascii_repo_is_refused_on_its_line_alone_or_fanned_out(
        project, repo: str, style: str) -> None:
    # A fan-out used to blame an idempotency_key the user never wrote (the
    # ":acme/wéb" suffix), at the table header; one repo alone passed.
    write(project, f'[jobs.b]\nrepo = {repo}\nprompt = "x"\n', style)
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors == [
        f"Error: job \"b\", key \"repo\": 'acme/wéb' is not a GitHub owner/name: {ALLOWED}, "
        "not 'é'"]
    # At the entry itself: a fan-out lists dozens of repos.
    column = 21 if repo.startswith("[") else 1
    assert f"mogplex.toml:2:{column}" in result.err


@pytest.mark.parametrize("style", STYLES)
def test_control_characters_and_quotes_in_a_repo_are_refused_escaped(
        project, style: str) -> None:
    write(project, '[jobs.b]\nrepo = "acme/\\u001b[31mx"\nprompt = "x"\n'
                   "[jobs.c]\nrepo = 'acme/a\"b'\nprompt = \"x\"\n", style)
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors == [
        f"Error: job \"b\", key \"repo\": \"acme/\\u001b[31mx\" is not a GitHub owner/name: "
        f"{ALLOWED}, not \"\\u001b\", '['",
        f"Error: job \"c\", key \"repo\": 'acme/a\"b' is not a GitHub owner/name: {ALLOWED}, "
        "not '\"'"]
    assert "\x1b" not in result.out + result.err


def test_a_repo_from_vars_is_judged_as_rendered(project) -> None:
    project.write("""
        [vars]
        r = "acme/wéb"
        [jobs.b]
        repo = ["{{ r }}", "acme/api"]
        prompt = "x"
    """)
    result = project.run("check")
    assert result.code == 2, result
    assert len(result.errors) == 1 and "'acme/wéb' is not a GitHub owner/name" in result.err
    assert "idempotency" not in result.err


@pytest.mark.parametrize("repo", ["acme/web-1.x_Y", "12345678-1234-1234-1234-123456789abc",
                                  "acme/{{ env.REPO_NAME }}", "{{ env.REPO_FULL }}"])
def test_names_github_allows_ids_and_templates_pass(project, monkeypatch, repo: str) -> None:
    monkeypatch.setenv("REPO_NAME", "api.v2")
    monkeypatch.setenv("REPO_FULL", "acme/api_v2")
    project.write(f'[jobs.b]\nrepo = ["{repo}", "acme/api"]\nprompt = "x"\n')
    result = project.run("check")
    assert result.code == 0, result


def test_a_bad_repo_from_an_env_value_is_refused_without_showing_it(
        project, monkeypatch) -> None:
    monkeypatch.setenv("REPO_FULL", "acme/wéb")
    project.write('[jobs.b]\nrepo = "{{ env.REPO_FULL }}"\nprompt = "x"\n')
    result = project.run("check")
    assert result.code == 2, result
    assert len(result.errors) == 1 and "is not a GitHub owner/name" in result.err
    assert "wéb" not in result.err


@pytest.mark.parametrize("repo", ['"{{ env.REPO_UNSET }}"', '["{{ env.REPO_UNSET }}", "a/b"]'])
def test_a_repo_from_an_unset_env_name_is_a_warning_in_check(project, repo: str) -> None:
    # `check` reports unset env names as warnings (docs/taskfile.md). The stand-in for the
    # unset name was judged as the repo and refused.
    project.write(f'[jobs.b]\nrepo = {repo}\nprompt = "x"\n'
                  'idempotency_key = "k-{{ repo }}"\n')
    result = project.run("check", env={"REPO_UNSET": None})
    assert result.code == 0, result
    assert "env.REPO_UNSET" in result.err
    shown = project.run("show", "b", env={"REPO_UNSET": None})
    assert shown.code == 2 and shown.errors == [
        'Error: job "b", key "repo": environment variable REPO_UNSET is not set '
        "(used by {{ env.REPO_UNSET }})"], shown


OWNER_RULE = ('an owner is at most 39 ASCII letters, digits, "-" and "_", not starting '
              'with "-"')
NAME_RULE = ('a name is at most 100 ASCII letters, digits, "-", "_" and ".", other than '
             '"." and ".."')
NOT_A_NAME = [  # each with the line check says of it
    ("../..", "the owner '..' holds \".\"; " + OWNER_RULE),
    ("./api", "the owner '.' holds \".\"; " + OWNER_RULE),
    ("acme.io/api", "the owner 'acme.io' holds \".\"; " + OWNER_RULE),
    ("-acme/api", "the owner '-acme' starts with \"-\"; " + OWNER_RULE),
    ("a" * 40 + "/api", f"the owner '{'a' * 40}' is 40 characters; " + OWNER_RULE),
    ("acme/..", "the name '..' is reserved; " + NAME_RULE),
    ("acme/.", "the name '.' is reserved; " + NAME_RULE),
    ("acme/" + "n" * 101, f"the name '{'n' * 101}' is 101 characters; " + NAME_RULE),
]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(("repo", "why"), NOT_A_NAME)
def test_an_owner_or_name_github_cannot_have_is_refused_on_its_line(
        project, repo: str, why: str, style: str) -> None:
    # "../.." passed check (its characters are GitHub's) and was sent to
    # GET /repos as a name: only the run failed.
    write(project, '# nightly\n[jobs.b]\n# the repo to fix\n'
                   f'repo = ["acme/api", "{repo}"]  # fan out\nprompt = "x"\n', style)
    for command in (("check",), ("--local", "b")):
        result = project.run(*command)
        assert result.code == 2, (command, result)
        assert result.errors == [
            f"Error: job \"b\", key \"repo\": '{repo}' is not a GitHub owner/name: {why}"]
        assert "mogplex.toml:4:21" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("repo", ["a/b/c", "acme//api", "/x", "x/", ".", "..", "acme api"])
def test_what_is_neither_owner_name_nor_an_id_is_refused(
        project, repo: str, style: str) -> None:
    write(project, f'[jobs.b]\nrepo = "{repo}"\nprompt = "x"\n', style)
    result = project.run("check")
    assert result.code == 2, result
    assert len(result.errors) == 1 and f"'{repo}' is " in result.errors[0], result
    assert "owner/name" in result.errors[0] and "mogplex.toml:2:1" in result.err


@pytest.mark.parametrize("repo", [
    "a/b", "a-b/c", "a--b/c", "legacy-/c", "mona_acme/api", "a" * 39 + "/api",
    "acme/" + "n" * 100, "acme/.github", "acme/...", "acme/-x", "acme/_x", "acme/api.git",
    "Acme/API", "0/0", " acme/api ", "acme/api\\n"])
def test_owner_names_github_allows_pass(project, repo: str) -> None:
    # Lenient where GitHub's rule is uncertain: "_" (Enterprise Managed Users),
    # "--" and a trailing "-" (older accounts). Blanks around a repo are dropped,
    # as everywhere a repo is read.
    write(project, f'[jobs.b]\nrepo = "{repo}"\nprompt = "x"\n', "crlf")
    result = project.run("check")
    assert result.code == 0, result


@pytest.mark.parametrize("repo", ["{{ env.REPO_OWNER }}/api", "{{ env.REPO_FULL }}"])
def test_an_owner_from_an_env_value_is_not_quoted(project, repo: str) -> None:
    # Masking the whole repo does not hide its parts: "the owner '...'" would.
    secret = "acme-private-org-name-that-is-too-long-x"
    project.write(f'[jobs.b]\nrepo = "{repo}"\nprompt = "x"\n')
    result = project.run("check", env={"REPO_OWNER": secret, "REPO_FULL": f"{secret}/api"})
    assert result.code == 2, result
    shown = "***" if "FULL" in repo else "***/api"
    assert result.errors == [
        f"Error: job \"b\", key \"repo\": '{shown}' is not a GitHub owner/name: its owner is "
        f"40 characters; {OWNER_RULE}"]
    assert secret not in result.out + result.err


def test_add_refuses_a_repo_github_cannot_have(project) -> None:
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    before = project.path.read_bytes()
    result = project.run("add", "b", "--repo", "acme/api", "--repo", "../..", "--prompt", "x")
    assert result.code == 2, result
    assert result.errors == [
        "Error: job \"b\", key \"repo\": '../..' is not a GitHub owner/name: the owner '..' "
        f"holds \".\"; {OWNER_RULE}"]
    assert project.path.read_bytes() == before


def test_a_list_s_other_repos_are_judged_beside_one_using_an_unset_env_name(project) -> None:
    """One repo of a list using an unset env.NAME made check skip every repo of it:
    "ok" (exit 0) for "not a repo" and a repo listed twice, which show and run
    refused once the name was set."""
    project.write("""
        [vars]
        a = "api"
        b = "API"

        [jobs.k]
        repo = ["acme/api", "not a repo", "acme/{{ env.R }}"]
        prompt = "x"

        [jobs.d]
        repo = ["acme/{{ a }}", "Acme/{{ b }}", "acme/{{ env.R }}"]
        prompt = "x"
    """)
    result = project.run("check")
    assert result.code == 2, result
    assert "job \"k\", key \"repo\": 'not a repo' is not a repo (owner/name or id)" in result.err
    assert "job \"d\", key \"repo\": lists (templated) 'Acme/API' twice" in result.err
    assert f'warning: {project.job_at("k")}: job "k" uses env.R, which is not set here' \
        in result.err
