"""Regressions found by review: each test names the defect it guards against."""

from __future__ import annotations

import json


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
    assert 'Error: job "a", key "repo" lists a repo twice' in result.err
    project.write("""
        [vars]
        owner = "ACME"
        [jobs.b]
        repo = ["acme/api", "{{ owner }}/api"]
        prompt = "x"
    """)
    b = project.run("show", "b")
    assert b.code == 2, b
    assert b.err.splitlines()[0] == ('Error: job "b", key "repo": the same repo is listed '
                                     "twice after templating")


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
        "and may hold only printable ASCII characters, not '\\n'",
    ]


def test_branch_rules_the_server_enforces_are_checked_first(project) -> None:
    # The server refuses a working branch equal to the base branch even without
    # create_branch, and branch names longer than 255 characters: both used to pass
    # `check` and end in a 400 at start.
    long = "b" * 256
    project.write(f"""
        [jobs.same]
        repo = "acme/api"
        prompt = "x"
        branch = "main"
        base_branch = "main"
        [jobs.long]
        repo = "acme/api"
        prompt = "x"
        branch = "{long}"
    """)
    result = project.run("check")
    assert result.code == 2, result
    lines = result.errors
    assert lines == [
        'Error: job "same", key "branch": the working branch must differ from the base '
        "branch ('main')",
        f'Error: job "long", key "branch": \'{long}\' is not a valid git branch name: it is '
        "longer than 255 characters",
    ]


def test_task_file_text_never_reaches_the_terminal_as_escape_sequences(project) -> None:
    # A pull request can put escape sequences in the task file; list, show and errors
    # used to print them raw (retitling, clearing or recolouring the terminal).
    project.write(r"""
        [jobs.a]
        description = "nice \u001b]0;pwned\u0007 \u009b2J"
        repo = "acme/api"
        prompt = "x"
    """)
    listed = project.run("list")
    assert listed.code == 0, listed
    assert "nice \\x1b]0;pwned\\x07 \\x9b2J" in listed.out
    shown = project.run("show", "a")
    assert shown.code == 0, shown
    assert "  description: nice \\x1b]0;pwned\\x07 \\x9b2J" in shown.out
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n"\\u001b[2J" = 1\n')
    unknown = project.run("check")
    assert unknown.code == 2, unknown
    assert 'Error: unknown key "\\x1b[2J" in job "a"' in unknown.err
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x \x1b[2J"\n')
    syntax = project.run("list")
    assert syntax.code == 2, syntax
    assert syntax.err.splitlines()[2:4] == ['  3 | prompt = "x \ufffd[2J"',
                                            " " * 18 + "^"]
    for result in (listed, shown, unknown, syntax):
        assert not any(c in result.out + result.err for c in "\x1b\x07\x9b"), result


def test_add_to_a_file_with_inline_jobs_explains_itself(project) -> None:
    project.write('jobs = { a = { repo = "acme/api", prompt = "x" } }\n')
    result = project.run("add", "b", "--repo", "acme/web", "--prompt", "y")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == (
        'Error: cannot append job "b": the file defines its jobs in a way that a new '
        "[jobs.NAME] table would break")
    assert "{exc}" not in result.err


def test_add_keeps_a_crlf_file_crlf(project) -> None:
    # The appended job used bare \n line endings: a CRLF file came back mixed.
    project.path.write_bytes(b'# team jobs\r\n[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n')
    result = project.run("add", "b", "--repo", "acme/web", "--prompt", "line one\nline two")
    assert result.code == 0, result
    data = project.path.read_bytes()
    assert data.startswith(b'# team jobs\r\n[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n')
    assert data.count(b"\n") == data.count(b"\r\n")
    shown = project.run("--json", "show", "b")
    assert shown.code == 0, shown
    assert '"prompt": "line one\\nline two"' in shown.out


def test_add_accepts_a_prompt_with_carriage_returns(project) -> None:
    # A multi-line TOML string cannot keep \r\n, so such a prompt was refused outright.
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run("add", "b", "--repo", "acme/web", "--prompt", "one\r\ntwo")
    assert result.code == 0, result
    shown = project.run("--json", "show", "b")
    assert '"prompt": "one\\r\\ntwo"' in shown.out


def test_init_keeps_the_bytes_of_a_gitignore_that_is_not_utf8(project) -> None:
    # It was read with errors="replace" and written back: é in Latin-1 became U+FFFD.
    gitignore = project.root / ".gitignore"
    gitignore.write_bytes(b"caf\xe9/\nbuild/")
    result = project.run("init")
    assert result.code == 0, result
    assert gitignore.read_bytes() == b"caf\xe9/\nbuild/\n.mogrun/\n"


def test_vars_and_set_may_not_take_a_built_in_name(project) -> None:
    # Built-in names won silently: [vars] date and --set date=... were ignored, so a key
    # like "weekly-{{ date }}" could not be pinned and started a new run instead.
    project.write("""
        [vars]
        date = "2026-01-05"
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        idempotency_key = "weekly-{{ date }}"
    """)
    result = project.run("check")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == ('Error: [vars] date is a built-in template name '
                                          "(job, repo, date, week, now); choose another name")
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
    """)
    result = project.run("--set", "date=2026-01-05", "show", "a")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == ("Error: --set date=...: date is a built-in template "
                                          "name (job, repo, date, week, now); --set overrides "
                                          "[vars] entries only")


def test_a_template_error_in_a_plugin_key_does_not_hide_the_others(project) -> None:
    # check lists every plugin key's problem; a bad template in one stopped the rest.
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        notify = [{ webhook = "https://hooks.example.com/{{ nope }}" }]
        retry = { attempts = 0 }
    """)
    result = project.run("check")
    assert result.code == 2, result
    errors = result.errors
    assert errors == [
        'Error: job "a", key "notify": unknown template name "nope" in {{ nope }}',
        'Error: job "a", key "retry": retry.attempts must be a whole number >= 1, not 0',
    ]


def test_a_task_file_path_that_is_a_directory_says_so(project, monkeypatch) -> None:
    # It used to say "does not exist" about a directory that plainly does.
    (project.root / "ci").mkdir()
    monkeypatch.setenv("MOGRUN_FILE", "ci")
    result = project.run("list")
    assert (result.code, result.err) == (
        2, "Error: task file ci (from MOGRUN_FILE) is a directory; name the mogplex.toml "
           "inside it\n")
    monkeypatch.delenv("MOGRUN_FILE")
    result = project.run("-f", "ci", "check")
    assert (result.code, result.err) == (
        2, "Error: task file ci (from -f/--file) is a directory; name the mogplex.toml "
           "inside it\n")


def test_check_json_reports_a_file_that_does_not_parse_as_json(project) -> None:
    # `--json check` printed nothing on stdout for a TOML syntax error (the most common
    # problem), only the human message on stderr.
    project.write('[jobs.a]\nrepo = "acme/api\nprompt = "x"\n')
    result = project.run("--json", "check")
    assert result.code == 2, result
    report = json.loads(result.out)
    assert report["ok"] is False
    assert report["file"] == str(project.path.resolve())
    assert report["warnings"] == []
    [error] = report["errors"]
    assert error["message"].startswith("invalid TOML: ")
    assert (error["file"], error["line"]) == (str(project.path.resolve()), 2)


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
        "' ', '\\\\'",
        "Error: job \"b\", key \"repo\": '***' is not a repo (owner/name or id)",
        "Error: job \"c\", key \"root\": root '/***' must be relative to the repo",
    ]
    assert "secret" not in result.out + result.err


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


def test_local_knows_repos_named_through_set_and_env(project, monkeypatch) -> None:
    # --local seeded its emulator with repo templates rendered without --set or the
    # environment, so "zorg/{{ team }}" run with --set team=web was "not one of this
    # token's repos" (exit 2), and suggestions named "zorg/unset-env-R".
    monkeypatch.setenv("R", "from-env")
    project.write("""
        [vars]
        team = "platform"
        [jobs.a]
        repo = ["zorg/{{ team }}", "zorg/{{ env.R }}"]
        prompt = "x\\n@emulator status=success duration=0s events=1"
    """)
    result = project.run("--local", "-q", "--set", "team=web", "a")
    assert result.code == 0, result
    assert "zorg/web" in result.out and "zorg/***" in result.out  # env values stay masked
    assert "from-env" not in result.out + result.err


def test_the_quoted_source_line_is_the_right_one_after_a_unicode_line_break(project) -> None:
    # U+2028 inside a string is not a TOML line break, but the quoted source line was
    # found with str.splitlines(), which counts it: errors quoted the wrong line.
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "one\u2028two"\ntmeout = "5m"\n')
    result = project.run("check")
    assert result.code == 2, result
    assert result.err.splitlines()[:3] == [
        'Error: unknown key "tmeout" in job "a"',
        f"  --> {project.path.resolve()}:4:1",
        '  4 | tmeout = "5m"',
    ]


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


def test_check_survives_a_wrongly_typed_key_in_defaults(project) -> None:
    # The jobs inheriting it were still rendered: a traceback (TypeError) instead of
    # the error about [defaults].
    project.write("""
        [defaults]
        repo = 5
        timeout = "soon"
        [jobs.a]
        prompt = "x"
        [jobs.b]
        repo = "acme/api"
        timeout = "5m"
        prompt = "{{ nope }}"
    """)
    result = project.run("check")
    assert result.code == 2, result
    assert "Traceback" not in result.err
    errors = result.errors
    assert errors == [
        'Error: [defaults] key "repo" must be a repo (owner/name or id) or a non-empty list '
        "of them",
        "Error: [defaults] key \"timeout\" invalid duration 'soon': use a number of seconds "
        'or a string like "500ms", "90s", "25m", "1h30m" or "2h"',
        'Error: job "b", key "prompt": unknown template name "nope" in {{ nope }}',
    ]


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


def test_list_does_not_give_jobs_the_needs_or_description_of_defaults(project) -> None:
    # Runs never take needs/description from [defaults], but list showed them per job.
    project.write("""
        [defaults]
        needs = ["a"]
        description = "shared"
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
    """)
    result = project.run("--json", "list")
    assert result.code == 0, result
    assert json.loads(result.out) == {"job": "a", "description": "", "repos": ["acme/api"],
                                      "harness": None, "needs": []}


def test_the_token_is_refused_under_another_env_name(project, monkeypatch) -> None:
    # env.TOKEN_COPY holding the token put it into a prompt sent to the server.
    monkeypatch.setenv("MOGPLEX_API_KEY", "mog_thetokenvalue")
    monkeypatch.setenv("TOKEN_COPY", "mog_thetokenvalue")
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt = "use {{ env.TOKEN_COPY }}"
    """)
    result = project.run("show", "a")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == (
        'Error: job "a", key "prompt": {{ env.TOKEN_COPY }} is refused: it holds the API token '
        "(MOGPLEX_API_KEY), which never goes into a template")
    assert "thetokenvalue" not in result.out + result.err


def test_check_json_names_the_file_when_a_plugin_fails_to_load(project) -> None:
    project.write("raise RuntimeError('boom')\n", name="plugins/gate.py")
    project.write("""
        [mogplex]
        plugins = ["plugins/gate.py"]
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
    """)
    result = project.run("--json", "check", plugins=True)
    assert result.code == 2, result
    report = json.loads(result.out)
    assert (report["ok"], report["file"]) == (False, str(project.path.resolve()))
    assert report["errors"][0]["message"] == 'plugin "gate" failed to import: RuntimeError: boom'


def test_a_task_file_saved_with_a_utf8_bom_is_read_and_add_keeps_the_bom(project) -> None:
    # Windows editors write a byte order mark: "invalid TOML: Invalid statement" at 1:1.
    project.path.write_bytes(b'\xef\xbb\xbf[jobs.a]\nrepo = "acme/api"\nprompt = "x"\ntmeout = 1\n')
    result = project.run("check")
    assert result.code == 2, result
    assert result.err.splitlines()[:3] == ['Error: unknown key "tmeout" in job "a"',
                                           f"  --> {project.path.resolve()}:4:1",
                                           "  4 | tmeout = 1"]
    project.path.write_bytes(b'\xef\xbb\xbf[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    assert project.run("list").code == 0
    assert project.run("add", "b", "--repo", "acme/web", "--prompt", "y").code == 0
    assert project.path.read_bytes().startswith(b'\xef\xbb\xbf[jobs.a]\nrepo = "acme/api"\n')
    assert [line.split()[0] for line in project.run("list").out.splitlines()[2:]] == ["a", "b"]


def test_an_empty_file_option_is_an_error_not_ignored(project) -> None:
    # `-f ""` (say, from an unset CI variable) silently fell back to searching.
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run("-f", "", "list")
    assert (result.code, result.err) == (2, "Error: -f/--file needs a path, not an empty string\n")


def test_a_long_needs_chain_is_no_recursion_error(project) -> None:
    # check and show walked the needs graph recursively: a chain of 1,500 jobs was a
    # RecursionError traceback.
    jobs = ['[jobs.j0]\nrepo = "acme/api"\nprompt = "x"\n']
    jobs += [f'[jobs.j{i}]\nrepo = "acme/api"\nprompt = "x"\nneeds = ["j{i - 1}"]\n'
             for i in range(1, 1500)]
    project.write("".join(jobs))
    assert project.run("check").code == 0
    shown = project.run("--json", "show", "j1499")
    assert shown.code == 0, shown.err[-300:]
    assert [json.loads(line)["job"] for line in shown.out.splitlines()] == [
        f"j{i}" for i in range(1500)]
    project.write("".join(jobs).replace('prompt = "x"\n', 'prompt = "x"\nneeds = ["j1499"]\n', 1))
    result = project.run("check")
    assert result.code == 2
    assert result.err.startswith("Error: needs cycle: j0 -> j1499 -> j1498")


def test_deeply_nested_values_are_a_task_file_error(project) -> None:
    # tomllib (and the checks after it) recurse per level: a RecursionError traceback.
    for depth in (3000, 300):
        project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n'
                      f'x = {"[" * depth}{"]" * depth}\n')
        for command in ("list", "check"):
            result = project.run(command)
            assert (result.code, result.err) == (
                2, f"Error: task file {project.path.resolve()} nests values more than 50 levels "
                   "deep\n"), result


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
    assert errors[0].startswith('Error: job "a", key "timeout" invalid duration 999')
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


def test_add_does_not_write_a_repo_twice_in_another_case(project) -> None:
    # add kept acme/api and Acme/API, a job that check then refuses ("lists a repo twice").
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run("add", "b", "--repo", "acme/api", "--repo", "Acme/API", "--repo",
                         "acme/web", "--prompt", "y")
    assert result.code == 0, result
    assert 'repo = ["acme/api", "acme/web"]' in project.path.read_text()
    assert project.run("check").code == 0
