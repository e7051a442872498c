"""Secrets stay out of the task file, out of templates and out of every message:
secret-looking keys, the API token in any form, env values quoted in errors."""

from __future__ import annotations

import pytest


def test_a_job_named_like_a_secret_is_not_a_secret_key(project) -> None:
    # Job names are names, not values: "rotate-token" holds no credential.
    project.write("""
        [jobs.rotate-token]
        repo = "acme/api"
        prompt = "Rotate the deploy token."
    """)
    result = project.run("check")
    assert result.code == 0, result
    assert "secret-looking" not in result.err
    assert project.run("show", "rotate-token").code == 0


def test_camel_case_secret_keys_are_refused_without_quoting_their_line(project) -> None:
    # githubToken was "unknown key", and that error quotes the source line: the value.
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        githubToken = "ghp_abcdefghijklmnop"
        notify = [{ webhook = "https://example.com", clientSecret = "cs_abcdefgh" }]
    """)
    result = project.run("check")
    assert result.code == 2, result
    hint = "secrets do not belong in the task file; set MOGPLEX_API_KEY in the environment"
    assert f'Error: secret-looking key "githubToken": {hint}' in result.err
    assert f'Error: secret-looking key "clientSecret": {hint}' in result.err
    assert "ghp_" not in result.err and "cs_abc" not in result.err


@pytest.mark.parametrize("text", [
    # A syntax error on the secret's own line: tomllib's error quoted it.
    '[mogplex]\ntoken = "mog_live_SECRET123\n\n[jobs.a]\nrepo = "x/y"\nprompt = "x"\n',
    '[mogplex]\ntoken "mog_live_SECRET123"\n',
    '[jobs.a]\nrepo = "x/y"\nprompt = "x"\napi_key = """mog_live\nSECRET123',
    # Another key's error on a line that also holds a secret.
    '[jobs.a]\nrepo = "x/y"\nprompt = "x"\n'
    'notify = [{ webhook = "https://h.example/{{ nope }}", token = "mog_live_SECRET123" }]\n',
    '[jobs.a]\nrepo = "x/y"\nprompt = "x"\nauth.user = "me"\nauth.pass = "SECRET123"\n',
    # A second key on the line (a JSON or INI habit): only the first was looked at.
    '[jobs.a]\nrepo = "x/y"\nprompt = "x", token = "mog_live_SECRET123"\n',
    '[jobs.a]\nrepo = "x/y"\nprompt = "x"\nx = 1; token = "mog_live_SECRET123"\n',
    # A quoted key with a space reads as one with an underscore.
    '[jobs.a]\nrepo = "x/y"\nprompt = "x"\n'
    'gates = { status = ["success"], "api key" = "mog_live_SECRET123" }\n',
])
def test_no_error_quotes_a_line_that_holds_a_secret(project, text: str) -> None:
    project.path.write_text(text)
    for command in (["check"], ["show", "a"]):
        result = project.run(*command, plugins=True)
        assert result.code == 2, result
        assert "SECRET123" not in result.err, result
        assert "-->" in result.err  # still located


def test_the_token_is_refused_in_templates_in_any_casing(project, monkeypatch) -> None:
    # Windows environments are case-insensitive: env.mogplex_api_key is the token there.
    monkeypatch.setenv("mogplex_api_key", "mog_lowercase_secret")
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt = "{{ env.mogplex_api_key }}"
    """)
    result = project.run("show", "a")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == ('Error: job "a", key "prompt": '
                                          "{{ env.mogplex_api_key }} is refused: the API token "
                                          "never goes into a template")
    assert "mog_lowercase_secret" not in result.out + result.err


def test_the_token_is_refused_under_another_env_name(project, monkeypatch) -> None:
    # env.TOKEN_COPY holding the token put it into a prompt sent to the server.
    monkeypatch.setenv("TOKEN_COPY", "mog_thetokenvalue")
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt = "use {{ env.TOKEN_COPY }}"
    """)
    result = project.run("show", "a", env={"MOGPLEX_API_KEY": "mog_thetokenvalue"})
    assert result.code == 2, result
    assert result.err.splitlines()[0] == (
        'Error: job "a", key "prompt": {{ env.TOKEN_COPY }} is refused: it holds the API token '
        "(MOGPLEX_API_KEY), which never goes into a template")
    assert "thetokenvalue" not in result.out + result.err


def test_limit_errors_mask_values_that_came_from_env(project, monkeypatch) -> None:
    # A rendered value that breaks a rule was quoted whole, env.* secret included.
    monkeypatch.setenv("SEC", "top secret\\value")
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        branch = "b-{{ env.SEC }}"
        [jobs.b]
        repo = "{{ env.SEC }}"
        prompt = "x"
        [jobs.c]
        repo = "acme/api"
        prompt = "x"
        root = "/{{ env.SEC }}"
    """)
    result = project.run("check")
    assert result.code == 2, result
    errors = result.errors
    assert errors == [
        "Error: job \"a\", key \"branch\": 'b-***' is not a valid git branch name: it contains "
        "' ', '\\'",
        "Error: job \"b\", key \"repo\": '***' is not a repo (owner/name or id)",
        "Error: job \"c\", key \"root\": root '/***' must be relative to the repo",
    ]
    assert "secret" not in result.out + result.err


TOKEN = "mog_SUPERSECRET1234"


@pytest.mark.parametrize(("text", "command"), [
    # A value of the file (quoted in the message and in the source excerpt).
    ('[jobs.p]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n'
     f'harness = "{TOKEN}"   # pasted by mistake\r\n\r\n', ("check",)),
    (f'[jobs.p]\nrepo = "acme/api"\nprompt = "x"\n\tharness = "{TOKEN}"\n\n', ("--json", "check")),
    # tomllib's error: the excerpt is the raw line.
    (f'# the job\n[jobs.p]\nrepo = "acme/api"\nprompt = "use {TOKEN}\n\n', ("list",)),
    # A --set name is quoted back.
    ('[jobs.p]\nrepo = "acme/api"\nprompt = "x"\n', ("--set", f"{TOKEN}=1", "show", "p")),
    ('[jobs.p]\nrepo = "acme/api"\nprompt = "x"\n',
     ("--set", f"{TOKEN}=1", "--url", "https://mogplex.com", "show", "p")),
    # click's own usage errors echo what was typed
    ('[jobs.p]\nrepo = "acme/api"\nprompt = "x"\n', ("run", "-j", TOKEN, "p")),
    ('[jobs.p]\nrepo = "acme/api"\nprompt = "x"\n', (f"--{TOKEN}", "p")),
])
def test_no_error_shows_the_api_token(project, text: str, command: tuple[str, ...]) -> None:
    project.path.write_text(text, encoding="utf-8", newline="")
    result = project.run(*command, env={"MOGPLEX_API_KEY": f" {TOKEN}\n"})
    assert result.code == 2, result
    assert TOKEN not in result.err + result.out, result
    assert "***" in result.err + result.out, result


@pytest.mark.parametrize("broken", [True, False])
def test_a_token_in_the_task_files_path_is_masked_everywhere_check_says_it(
        tmp_path, broken: bool) -> None:
    # The location said ".../dir_***/mogplex.toml:4:1" and the last line, and the
    # JSON's "file", the same path in clear
    from mogrun.testing import run_mogrun

    folder = tmp_path / f"dir_{TOKEN}"
    folder.mkdir()
    (folder / "mogplex.toml").write_text(
        '[jobs.p]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n' + ("tmeout = 1\r\n" * broken),
        newline="")
    env = {"MOGPLEX_API_KEY": TOKEN}
    for args in (("check",), ("--json", "check")):
        result = run_mogrun(*args, cwd=folder, env=env)
        assert result.code == (2 if broken else 0), result
        assert TOKEN not in result.out + result.err, result


def test_a_masked_excerpt_keeps_its_caret_on_the_character(project) -> None:
    project.path.write_text(f'[jobs.p]\nrepo = "acme/api"\nprompt = "{TOKEN}"\nx = [{TOKEN}]\n')
    result = project.run("check", env={"MOGPLEX_API_KEY": TOKEN})
    assert result.code == 2, result
    lines = result.err.splitlines()
    quoted = next(i for i, line in enumerate(lines) if line.startswith("  4 | "))
    assert lines[quoted] == "  4 | x = [***]"
    assert lines[quoted + 1].index("^") == lines[quoted].index("***"), result.err
    as_json = project.run("--json", "check", env={"MOGPLEX_API_KEY": TOKEN})
    assert '"line": 4, "column": 6' in as_json.out, as_json  # the file's own column
    assert "mogplex.toml:4:6\n" in result.err, result.err  # ... in the text's --> too


def test_a_location_after_an_env_secret_names_the_files_column(project) -> None:
    """`--> file:6:16` where the file has `../..` at 6:30: the column was moved to fit
    the masked excerpt, so an editor jumped into the secret's place."""
    project.path.write_bytes(b'[jobs.a]\r\nrepo = "{{ env.SECRETREPO }}"\r\nprompt = "x"\r\n'
                             b'\r\n[jobs.b]   # b\r\nrepo = ["acme/api-internal", "../.."]\r\n'
                             b'prompt = "x"\r\n\r\n')
    result = project.run("check", env={"SECRETREPO": "acme/api-internal"})
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert lines[1].endswith("mogplex.toml:6:30"), result.err
    assert lines[2] == '  6 | repo = ["***", "../.."]'
    assert lines[3].index("^") == lines[2].index('"../.."'), result.err


@pytest.mark.parametrize("token", ["", "   ", "x", "mog"])
def test_an_unset_or_short_token_masks_nothing(project, token: str) -> None:
    project.path.write_text('[jobs.p]\nrepo = "acme/api"\nprompt = "x"\nharness = "xmogx"\n')
    result = project.run("check", env={"MOGPLEX_API_KEY": token})
    assert result.code == 2, result
    assert 'not \'xmogx\'' in result.err and "***" not in result.err, result


@pytest.mark.parametrize("url", ["http://user:TFPW-S3CR3T@127.0.0.1:18765",
                                 "https://deploy:TFPW-S3CR3T@mogplex.com",
                                 "https://u:TFPW/S3CR3T@mogplex.com"])  # '/' in a password
@pytest.mark.parametrize("command", [("check",), ("--json", "check"), ("show", "a"), ("a",)])
def test_credentials_in_the_task_files_url_are_refused_and_never_shown(
        project, monkeypatch, url, command) -> None:
    """--url and MOGPLEX_URL showed such a URL as http://***@host; the task file's
    url was quoted whole in check, run and the line each error quotes."""
    monkeypatch.setenv("MOGPLEX_API_KEY", "mog_x")
    project.write(f"""
        [mogplex]
        url = "{url}"  # pasted from a browser

        [jobs.a]
        repo = "acme/api"
        prompt = "x"
    """ + "\n")
    result = project.run(*command)
    assert result.code == 2, result
    assert "S3CR3T" not in result.out + result.err, result
    assert "***@" in result.out + result.err, result


@pytest.mark.parametrize("entry", [
    '{ webhook = "https://hooks.example/T0/B0/s3cr3tXYZ", on = ["bogus"] }',  # wrong `on`
    '{ webhook = "http://hooks.example/T0/B0/s3cr3tXYZ" }',  # not https
    '{ slack = "https://hooks.slack.com/services/T0/B0/s3cr3tXYZ", on = ["failed"], x = 1 }',
])
@pytest.mark.parametrize("command", [["check"], ["show", "a"], ["-n", "a"], ["a"]])
def test_a_problem_of_a_notify_entry_never_quotes_its_url(project, entry, command) -> None:
    """The URLs are secrets (masked in show, -v, --json, history), but a problem of
    the entry quoted its line, URL and all, into the terminal and the CI log."""
    project.write(f'[jobs.a]\nrepo = "acme/api"\nprompt = "x"\r\n\nnotify = [{entry}]\n\n')
    result = project.run(*command)
    assert result.code == 2, result
    assert 'key "notify"' in result.err and "mogplex.toml:5:" in result.err, result
    assert "s3cr3t" not in result.out + result.err, result


def test_a_notify_line_is_quoted_with_its_url_masked_in_place(project) -> None:
    """Masked to as many stars as it has characters, the line keeps its columns:
    the caret still points at the wrong value."""
    url = "https://hooks.example/T0/B0/s3cr3tXYZ"
    project.write(f'[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n'
                  f'notify = [{{ webhook = "{url}", on = ["bogus"] }}]\n')
    result = project.run("check")
    assert result.code == 2, result
    lines = result.err.splitlines()
    quoted = next(line for line in lines if line.startswith("  4 | "))
    assert quoted == f'  4 | notify = [{{ webhook = "{"*" * len(url)}", on = ["bogus"] }}]'
    caret = lines[lines.index(quoted) + 1]
    assert quoted[caret.index("^")] == '"' and quoted[caret.index("^") + 1] == "b", result


SLACK_PATH = "/services/T0/B0/s3cr3tXYZ"


@pytest.mark.parametrize("text", [
    # A template in the URL: the text around it is the secret (its literal parts).
    '[vars]\nteam = "T0"\n[jobs.a]\nrepo = "acme/api"\nprompt = "x"\nnotify = [{ webhook = '
    '"https://hooks.slack.com/services/{{ team }}/B0/s3cr3tXYZ", on = ["bogus"] }]\n',
    # Another key's problem on the line of an inline-table job.
    '[jobs]\r\na = { repo = "acme/api", prompt = "x", notify = [{ webhook = '
    '"https://hooks.slack.com/services/T0/B0/s3cr3tXYZ" }], timeout = "bogus" }\r\n\r\n',
    # A misspelt notify key: no rule of its key lists its secrets.
    '[defaults]\nnotfy = [{ webhook = "https://hooks.slack.com/services/T0/B0/s3cr3tXYZ" }]'
    '  # typo\n[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n\n',
    # A var a webhook template takes its URL from, quoted for its own problem.
    '[vars]\nhook = "https://hooks.slack.com/services/T0/B0/s3cr3tXYZ{{ nope }}"\n'
    '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\nnotify = [{ webhook = "{{ hook }}" }]\n',
])
def test_a_webhook_url_is_masked_in_every_line_an_error_quotes(project, text) -> None:
    """A templated webhook URL was quoted whole (a template is no secret, but the
    text around it is), and so was one on the line of another key's problem, or
    under a misspelt key: the line is quoted with every URL's path masked."""
    project.path.write_text(text, encoding="utf-8", newline="")
    for command in (("check",), ("show", "a")):
        result = project.run(*command)
        assert result.code == 2, result
        assert "s3cr3t" not in result.err and "/B0/" not in result.err, result
        assert "https://hooks.slack.com" in result.err or "****" in result.err, result


def test_a_template_alone_in_a_webhook_url_is_still_quoted_and_pointed_at(project) -> None:
    """Only what the file writes is a secret: ``{{ env.HOOK }}`` names one."""
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n'
                  'notify = [{ webhook = "https://{{ nope }}", on = ["failed"] }]\n')
    result = project.run("check")
    assert result.code == 2, result
    quoted = next(line for line in result.err.splitlines() if line.startswith("  4 | "))
    assert quoted == '  4 | notify = [{ webhook = "https://{{ nope }}", on = ["failed"] }]'


def test_a_free_form_key_may_name_a_secret_it_takes_from_the_environment(project,
                                                                         monkeypatch) -> None:
    """An automation may name its input `auth` or `token`: such a key was refused
    whatever its value, even `{{ env.NAME }}`, so that automation could not be
    triggered; and the hint to set MOGPLEX_API_KEY (mogrun's own token) fixed
    nothing there, nor for a var named `pat` that held a glob pattern."""
    monkeypatch.setenv("DEPLOY_AUTH", "xyz_deploy_secret")
    project.path.write_text(
        '[vars]\r\npat = "src/**/*.py"\r\ntoken = "{{ env.DEPLOY_AUTH }}"\r\n\r\n'
        '[jobs.lint]\r\nrepo = "acme/api"\r\nprompt = "Lint {{ pat }}"\r\n\r\n'
        '[jobs.t]\r\nrepo = "acme/api"\r\nautomation = "triage"\r\n'
        'input = { auth = "{{ env.DEPLOY_AUTH }}",  api_token = "literal" }  # note\r\n\r\n',
        encoding="utf-8", newline="")
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors == [
        'Error: secret-looking key "pat": secrets do not belong in the task file; take the '
        'value from the environment, as "{{ env.NAME }}" (mogrun\'s own token is '
        "MOGPLEX_API_KEY); a var that holds no secret can take another name",
        'Error: secret-looking key "api_token": secrets do not belong in the task file; take '
        'the value from the environment, as "{{ env.NAME }}" (mogrun\'s own token is '
        "MOGPLEX_API_KEY)",
    ], result
    assert "literal" not in result.err
    fixed = project.path.read_text(encoding="utf-8").replace(",  api_token = \"literal\"", "")
    project.path.write_text(fixed.replace("pat", "pattern"), encoding="utf-8")
    assert project.run("check").code == 0
    shown = project.run("show", "t")
    assert shown.code == 0, shown
    assert '"auth": "***"' in shown.out and "xyz_deploy_secret" not in shown.out, shown.out


@pytest.mark.parametrize("where", ["[mogplex]\ntoken", "[jobs.a]\nrepo = \"x/y\"\nprompt = \"x\"\n"
                                   "api_key", "[defaults]\nauth"])
def test_a_secret_key_outside_free_form_tables_is_refused_even_from_the_environment(
        project, where: str) -> None:
    project.path.write_text(f'{where} = "{{{{ env.X }}}}"\n\n'
                            '[jobs.b]\nrepo = "x/y"\nprompt = "x"\n')
    result = project.run("check")
    assert result.code == 2, result
    assert "set MOGPLEX_API_KEY in the environment" in result.err, result.err


LIVE_TOKEN = "mog_live_9f8e7d6c5b4a3210"


def test_the_token_written_in_the_file_is_refused_by_check_and_add(project, monkeypatch) -> None:
    """``mogrun add leak --prompt "... $MOGPLEX_API_KEY"`` wrote the live token into
    the committed file; check passed it, and show masked it from the reviewer."""
    monkeypatch.setenv("MOGPLEX_API_KEY", LIVE_TOKEN)
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    before = project.path.read_bytes()
    result = project.run("add", "leak", "--repo", "acme/api", "--prompt",
                         f"Call the API with {LIVE_TOKEN}")
    assert result.code == 2, result
    assert result.err.startswith('Error: job "leak" holds the API token'), result
    assert LIVE_TOKEN not in result.err + result.out and project.path.read_bytes() == before
    project.path.write_text(f'[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n'
                            f'# tried with {LIVE_TOKEN}\r\n\r\n', newline="")
    result = project.run("check")
    assert result.code == 2, result
    assert "the file holds the API token" in result.err and LIVE_TOKEN not in result.err
    assert "  --> " in result.err and ":4:" in result.err
    project.path.write_text(f'[jobs.a]\nrepo = "acme/api"\nprompt = "use {LIVE_TOKEN}"\n'
                            f'# tried with {LIVE_TOKEN}, and {LIVE_TOKEN} again\n')
    result = project.run("check")  # each line that holds it: check lists every problem
    assert result.code == 2 and "2 problems in" in result.err, result
    assert ":3:" in result.err and ":4:" in result.err and LIVE_TOKEN not in result.err
    monkeypatch.delenv("MOGPLEX_API_KEY")
    assert project.run("check").code == 0  # without the token here, nothing to compare
