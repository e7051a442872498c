"""`mogrun repos` and connect() through the real CLI, in-process, against the
emulator: exit codes, -v trace masking, endpoint rules, --local."""

from __future__ import annotations

import json

import pytest

from mogrun.testing import write_taskfile

from .loopback import loopback_server


def test_repos_table(mogrun_cli, mogrun_emulator, tmp_path):
    result = mogrun_cli("repos", cwd=tmp_path)
    assert result.exit_code == 0, result
    header, rule, *rows = result.stdout.splitlines()
    assert header.split() == ["id", "full", "name", "default", "branch"]
    assert set(rule) <= {"-", " "}
    api_id = mogrun_emulator.repo_id("acme/api")
    assert any(row.split()[:2] == [api_id, "acme/api"] for row in rows)
    assert len(rows) == len(mogrun_emulator.repos)


def test_a_listing_as_long_as_its_limit_says_there_may_be_more(mogrun_cli, mogrun_emulator,
                                                              tmp_path):
    """`repos --limit 1` showed one repo and nothing said the account had others."""
    result = mogrun_cli("repos", "--limit", "1", cwd=tmp_path)
    assert result.exit_code == 0, result
    assert len(result.stdout.splitlines()) == 3  # header, rule, one repo
    assert result.stderr == ("The first repo; there may be more: raise --limit (at most "
                             "200) or narrow them with a QUERY.\n"), result
    whole = mogrun_cli("repos", "--limit", str(len(mogrun_emulator.repos) + 1), cwd=tmp_path)
    assert whole.stderr == "", whole  # shorter than its limit: the whole listing


def test_repos_query_and_json_one_repo_per_line(mogrun_cli, mogrun_emulator, tmp_path):
    result = mogrun_cli("--json", "repos", "wor", cwd=tmp_path)
    assert result.exit_code == 0, result
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [repo["full_name"] for repo in lines] == ["acme/worker"]
    assert lines[0]["id"] == mogrun_emulator.repo_id("acme/worker")


def test_no_match_says_so_and_exits_0(mogrun_cli, mogrun_emulator, tmp_path):
    result = mogrun_cli("repos", "nothing-like-this", cwd=tmp_path)
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "No repos matching 'nothing-like-this'.\n"
    # As typed: repr doubled a backslash (x\\y) and swapped the quotes around an '.
    for typed in ("x\\y", "o'brien", "a\tb"):
        said = mogrun_cli("repos", typed, cwd=tmp_path).stderr
        assert said == f"No repos matching '{typed.replace(chr(9), chr(92) + 't')}'.\n", said
        said = mogrun_cli("automations", typed, cwd=tmp_path).stderr
        assert said.endswith(f" matching '{typed.replace(chr(9), chr(92) + 't')}'.\n"), said


def test_bad_token_exits_64(mogrun_cli, mogrun_emulator, tmp_path):
    result = mogrun_cli("repos", cwd=tmp_path, env={"MOGPLEX_API_KEY": "mog_wrong"})
    assert result.exit_code == 64, result
    assert result.stderr.startswith("Error: ")
    assert "(UNAUTHORIZED, HTTP 401)" in result.stderr
    assert "Check MOGPLEX_API_KEY" in result.stderr
    assert "mog_wrong" not in result.output


def test_no_token_exits_64_saying_how_to_set_it(mogrun_cli, mogrun_emulator, tmp_path):
    result = mogrun_cli("repos", cwd=tmp_path, env={"MOGPLEX_API_KEY": None})
    assert result.exit_code == 64
    assert result.stderr.splitlines()[:2] == [
        "Error: no API token: MOGPLEX_API_KEY is not set",
        "Set it in the environment: export MOGPLEX_API_KEY=mog_..."]
    assert mogrun_emulator.count() == 0


@pytest.mark.parametrize("kind, code", [("503", 69), ("429", 75), ("500", 69), ("html", 69)])
def test_failures_after_retries_give_their_exit_code(mogrun_cli, mogrun_emulator, tmp_path,
                                                     quick_backoff, kind, code):
    mogrun_emulator.add_fault("repos", kind, count=20, retry_after=0)
    result = mogrun_cli("repos", cwd=tmp_path)
    assert result.exit_code == code, result
    assert "Traceback" not in result.output
    waits = [line for line in result.stderr.splitlines() if line.startswith("wait ")]
    assert len(waits) == 5  # each retry said, as no wait is silent
    assert result.stderr.splitlines()[5].startswith("Error: ")
    assert mogrun_emulator.count() == 6  # the bundled retry policy: 5 retries
    assert "Gave up after 6 attempts." in result.stderr


def test_a_transient_fault_is_retried_by_the_bundled_policy(mogrun_cli, mogrun_emulator,
                                                           tmp_path):
    mogrun_emulator.add_fault("repos", "503", retry_after=0)
    result = mogrun_cli("repos", cwd=tmp_path)
    assert result.exit_code == 0, result
    assert [r.status for r in mogrun_emulator.requests] == [503, 200]


def test_html_body_message_shows_status_and_first_bytes(mogrun_cli, mogrun_emulator, tmp_path,
                                                        quick_backoff):
    mogrun_emulator.add_fault("repos", "html", count=20, retry_after=0)
    result = mogrun_cli("repos", cwd=tmp_path)
    first = next(line for line in result.stderr.splitlines() if not line.startswith("wait "))
    assert first.startswith("Error: HTTP 502 from GET /repos?limit=200 carried a body that is "
                            'not valid JSON: "<html><head><title>502 Bad Gateway</title>')


def test_verbose_traces_requests_with_the_token_masked(mogrun_cli, mogrun_emulator, tmp_path):
    result = mogrun_cli("-v", "repos", cwd=tmp_path)
    assert result.exit_code == 0, result
    token = mogrun_emulator.write_token
    assert token not in result.output and token[4:] not in result.output
    trace = [line for line in result.stderr.splitlines() if line[:2] in ("> ", "< ")]
    assert trace[0] == (f"> GET {mogrun_emulator.api_url}/repos?limit=200 "
                        "[Authorization: Bearer mog_***]")
    assert trace[1].startswith(f"< 200 GET {mogrun_emulator.api_url}/repos?limit=200 ")
    assert trace[1].endswith(" ms")


def test_verbose_shows_retry_after_and_the_retry(mogrun_cli, mogrun_emulator, tmp_path):
    mogrun_emulator.add_fault("repos", "429", retry_after=0)
    result = mogrun_cli("-v", "repos", cwd=tmp_path)
    assert result.exit_code == 0, result
    assert f"< 429 GET {mogrun_emulator.api_url}/repos?limit=200 " in result.stderr
    assert " ms Retry-After: 0" in result.stderr
    assert "* retrying GET " in result.stderr


@pytest.mark.parametrize("how", ["--url", "MOGPLEX_URL"])
def test_non_loopback_http_exits_2_with_no_socket(mogrun_cli, tmp_path, no_sockets, how):
    args, env = (["--url", "http://10.255.255.1"], {}) if how == "--url" else (
        [], {"MOGPLEX_URL": "http://10.255.255.1"})
    result = mogrun_cli(*args, "repos", cwd=tmp_path,
                        env={"MOGPLEX_API_KEY": "mog_secret", **env})
    assert result.exit_code == 2, result
    assert result.stderr.startswith(f"Error: {how} 'http://10.255.255.1' refused: plain "
                                    "http:// is only allowed for loopback")
    assert no_sockets == []


def test_task_file_url_must_be_mogplex_or_loopback(mogrun_cli, tmp_path, no_sockets):
    write_taskfile(tmp_path, """
        [mogplex]
        url = "https://collector.evil.example"

        [jobs.a]
        repo = "acme/api"
        prompt = "p"
    """)
    result = mogrun_cli("repos", cwd=tmp_path, env={"MOGPLEX_API_KEY": "mog_secret"})
    assert result.exit_code == 2, result
    assert "a task file may only name mogplex.com" in result.stderr
    assert "mogplex.toml:2" in result.stderr  # where the url is written
    assert no_sockets == []


def test_env_url_overrides_the_task_files(mogrun_cli, mogrun_emulator, tmp_path):
    write_taskfile(tmp_path, """
        [mogplex]
        url = "https://collector.evil.example"

        [jobs.a]
        repo = "acme/api"
        prompt = "p"
    """)
    result = mogrun_cli("repos", cwd=tmp_path)  # MOGPLEX_URL points at the emulator
    assert result.exit_code == 0, result


def test_redirect_via_the_cli_is_an_error_and_not_followed(mogrun_cli, tmp_path):
    with loopback_server(301, {"Location": "https://elsewhere.example/"}) as server:
        result = mogrun_cli("--url", server.url, "repos", cwd=tmp_path,
                            env={"MOGPLEX_API_KEY": "mog_secret"})
    assert result.exit_code == 1, result
    assert "answered HTTP 301 redirecting to https://elsewhere.example/" in result.stderr
    assert len(server.received) == 1


def test_local_ignores_the_environment_and_serves_the_task_files_repos(mogrun_cli, tmp_path):
    write_taskfile(tmp_path, """
        [jobs.a]
        repo = ["team/tool", "acme/api"]
        prompt = "p"
    """)
    result = mogrun_cli("--local", "--json", "repos", cwd=tmp_path,
                        env={"MOGPLEX_API_KEY": "mog_real_token",
                             "MOGPLEX_URL": "http://10.255.255.1"})
    assert result.exit_code == 0, result
    names = [json.loads(line)["full_name"] for line in result.stdout.splitlines()]
    assert "team/tool" in names and "acme/api" in names and "acme/web" in names
    assert len(names) == len(set(names))


def test_local_and_url_are_refused_together(mogrun_cli, tmp_path):
    result = mogrun_cli("--local", "--url", "https://mogplex.com", "repos", cwd=tmp_path)
    assert result.exit_code == 2
    assert "--local and --url cannot be used together" in result.stderr


def test_every_json_listing_keeps_workflow_commands_inert(mogrun_cli, mogrun_emulator,
                                                          tmp_path):
    """The GitHub Actions runner takes ``##[command]`` for a workflow command anywhere
    in a line: `automations --json` printed an automation's name (the account's text)
    as it came, and `list`, `show` and `check` --json a task file's text so; the
    lines of `logs` and `status` already made it inert."""
    mogrun_emulator.add_automation("triage ##[error]not ours")
    write_taskfile(tmp_path, '# edited by hand\r\n[jobs.fix]\r\ndescription = "x ##[warning]y"'
                             '\r\nrepo = "acme/api"\r\nprompt = "say ##[group]z"\r\n\r\n')
    for argv in (["automations"], ["list"], ["show", "fix"], ["check"]):
        result = mogrun_cli("--json", *argv, cwd=tmp_path)
        assert result.exit_code == 0, (argv, result)
        assert "##[" not in result.stdout, argv
        assert result.stdout.strip(), argv
        assert all(json.loads(line) for line in result.stdout.splitlines())
    shown = json.loads(mogrun_cli("--json", "show", "fix", cwd=tmp_path).stdout)
    assert "say ##[group]z" in json.dumps(shown, ensure_ascii=False)  # the same value


def test_https_to_a_plain_http_server_is_said_at_once_with_the_likely_fix(
        mogrun_cli, mogrun_emulator, tmp_path):
    """https:// to the emulator (which speaks plain HTTP) was retried five times over
    11 s as a network failure, with no hint: the same answer comes every time."""
    url = mogrun_emulator.url.replace("http://", "https://", 1)
    result = mogrun_cli("repos", cwd=tmp_path, env={"MOGPLEX_URL": url})
    assert result.exit_code == 69, result
    assert "WRONG_VERSION_NUMBER" in result.stderr, result
    assert ("The server answered in plain HTTP, not TLS: a local server such as mogrun "
            "emulator is reached with http://, not https://.") in result.stderr.splitlines()
    assert "retry" not in result.stderr and "Gave up after" not in result.stderr, result
