"""Every task-file error through the CLI, with its exact message and exit 2."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mogrun.taskfile.schema import JOB_KEYS

from .styles import STYLES, write


def check(project, text: str) -> str:
    project.write(text)
    result = project.run("check")
    assert result.code == 2, result
    assert "Traceback" not in result.err
    return result.err


def test_unknown_key_names_file_line_column_and_suggests(project) -> None:
    err = check(project, """
        [jobs.weekly-cleanup]
        repo = "acme/api"
        prompt = "x"
        tmeout = "25m"
    """)
    path = project.path.resolve()
    assert err.splitlines()[:5] == [
        'Error: unknown key "tmeout" in job "weekly-cleanup"',
        f"  --> {path}:4:1",
        '  4 | tmeout = "25m"',
        "      ^",
        'did you mean "timeout"?',
    ]
    assert err.endswith(f"1 problem in {path}\n")


def test_needs_written_as_one_name_shows_the_list_it_takes(project) -> None:
    """``needs = "lint"`` (repo takes one name so): said only "must be a list"."""
    err = check(project, """
        [jobs.lint]
        repo = "acme/api"
        prompt = "x"

        [jobs.deploy]
        repo = "acme/api"
        prompt = "y"
        needs = "lint"
    """)
    assert err.startswith('Error: job "deploy", key "needs" must be a list of job names: '
                          "needs = ['lint']\n"), err


@pytest.mark.parametrize("written, meant", [("desc", "description"), ("Desc", "description"),
                                             ("idem", "idempotency_key")])
def test_a_short_form_of_a_key_suggests_the_key(project, written, meant) -> None:
    err = check(project, f"""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        {written} = "y"
    """)
    assert f'did you mean "{meant}"?' in err


def test_a_short_form_two_keys_begin_with_suggests_neither() -> None:
    from mogrun.taskfile.schema import closest

    assert closest("capac", ["capacity_wait"]) == "capacity_wait"
    assert closest("capac", ["capacity_wait", "capacity_max"]) is None
    assert closest("ca", ["capacity_wait"]) is None  # too short to say


def test_syntax_error_shows_line_column_and_caret(project) -> None:
    err = check(project, """
        [jobs.a]
        repo = "acme/api"
        prompt = "unterminated
    """)
    lines = err.splitlines()
    assert lines[0].startswith("Error: invalid TOML: ")
    assert lines[1] == f"  --> {project.path.resolve()}:3:23"
    assert lines[2] == '  3 | prompt = "unterminated'
    assert lines[3] == " " * (6 + 22) + "^"


def test_every_problem_is_listed_not_just_the_first(project) -> None:
    err = check(project, """
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        harness = "gpt"
        timeout = "soon"

        [jobs.b]
        repo = "acme/api"
        needs = ["c"]
    """)
    assert "Error: job \"a\", key \"harness\" must be one of 'codex', 'claude-code', not 'gpt'" \
        in err
    assert ('Error: job "a", key "timeout" is an invalid duration \'soon\': use a number of '
            'seconds or a string like "500ms", "90s", "25m", "1h30m" or "2h"') in err
    assert 'Error: job "b" has no prompt: set prompt, prompt_file or automation' in err
    assert 'Error: job "b" needs unknown job "c"' in err
    assert "4 problems in" in err


def test_a_bad_need_does_not_hide_the_jobs_template_problems(project) -> None:
    err = check(project, """
        [jobs.b]
        repo = "acme/api"
        prompt = "Hello {{ nope }}"
        needs = ["c"]
    """)
    assert 'Error: job "b", key "prompt": unknown template name "nope" in {{ nope }}' in err
    assert 'Error: job "b" needs unknown job "c"' in err
    assert "2 problems in" in err


def test_a_key_typo_does_not_hide_the_jobs_template_problems(project) -> None:
    # A job with an unknown key was never built: its template errors waited for the fix.
    err = check(project, """
        [jobs.a]
        repo = "x/y"
        prompt = "Hi {{ tema }}"
        timout = "5m"
    """)
    assert [line for line in err.splitlines() if line.startswith("Error:")] == [
        'Error: job "a", key "prompt": unknown template name "tema" in {{ tema }}',
        'Error: unknown key "timout" in job "a"',
    ]
    assert "2 problems in" in err
    shown = project.run("show", "a")  # stops at the first check lists
    assert shown.errors == [
        'Error: job "a", key "prompt": unknown template name "tema" in {{ tema }}']
    assert "(1 more problem: run `mogrun check` to see them all)" in shown.err


def test_every_template_problem_of_a_job_is_listed_once(project) -> None:
    # The first template error ended the job's building; a fan-out repeated none.
    err = check(project, """
        [jobs.a]
        repo = ["x/y", "x/z"]
        prompt = "{{ a1 }}"
        branch = "{{ a2 }}"
        idempotency_key = "{{ a3 }}-{{ repo }}"
    """)
    assert [line for line in err.splitlines() if line.startswith("Error:")] == [
        'Error: job "a", key "prompt": unknown template name "a1" in {{ a1 }}',
        'Error: job "a", key "branch": unknown template name "a2" in {{ a2 }}',
        'Error: job "a", key "idempotency_key": unknown template name "a3" in {{ a3 }}',
    ]
    assert "3 problems in" in err
    shown = project.run("show", "a")
    assert "(2 more problems: run `mogrun check` to see them all)" in shown.err


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_show_counts_what_a_wrong_key_hides_as_check_does(project, newline) -> None:
    """A wrong timeout stopped the job's building: ``show`` and ``run`` said it
    alone, with no count, while ``check`` said 3 problems."""
    project.path.write_text(newline.join([
        "[jobs.a]", 'repo = "acme/api"', 'prompt = "{{ nope }}"',
        'base_branch = "bad..branch"', 'timeout = "soon"', "", ""]))
    assert "3 problems in" in project.run("check").err
    shown = project.run("show", "a")
    assert shown.code == 2, shown
    assert shown.err.startswith('Error: job "a", key "prompt": unknown template name "nope"')
    assert "(2 more problems: run `mogrun check` to see them all)" in shown.err


@pytest.mark.parametrize(("bad", "said"), [
    ('repo = "acme/api"\nharness = "gpt"',
     'Error: job "a", key "harness" must be one of \'codex\', \'claude-code\', not \'gpt\''),
    ('repo = "acme/api"\ntimeout = "soon"', 'Error: job "a", key "timeout" is an invalid'),
    ('repo = "acme/api"\ncapacity_wait = []', 'Error: job "a", key "capacity_wait"'),
])
def test_a_wrong_key_does_not_hide_the_template_problems_of_its_job(project, bad, said) -> None:
    err = check(project, "[jobs.a]\n" + bad + """
        prompt = "{{ x }}"
        branch = "fix-{{ y }}"

        [jobs.b]
        repo = "acme/api"
        prompt = "{{ z }}"
    """)
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert errors[0].startswith(said), err
    assert errors[1:] == [
        'Error: job "a", key "prompt": unknown template name "x" in {{ x }}',
        'Error: job "a", key "branch": unknown template name "y" in {{ y }}',
        'Error: job "b", key "prompt": unknown template name "z" in {{ z }}',
    ], err
    assert "4 problems in" in err


def test_a_template_problem_of_defaults_is_listed_once_for_every_job(project) -> None:
    err = check(project, """
        [defaults]
        branch = "feature/{{ tem }}"

        [jobs.a]
        repo = "x/y"
        prompt = "x"
        timout = 3

        [jobs.b]
        repo = "x/y"
        prompt = "x"

        [jobs.c]
        repo = "x/y"
        prompt = "x"
        branch = "mine"
    """)
    lines = err.splitlines()
    assert [line for line in lines if line.startswith("Error:")] == [
        'Error: job "a", key "branch": unknown template name "tem" in {{ tem }}',
        'Error: unknown key "timout" in job "a"',
    ]
    assert 'Also in job "b", which inherits it from [defaults].' in lines
    assert "2 problems in" in err
    shown = project.run("show", "a", "b")
    assert "(1 more problem: run `mogrun check` to see them all)" in shown.err


@pytest.mark.parametrize("key", ["token", "api_key", "MOGPLEX_API_KEY", "slack_token",
                                 "password"])
def test_secret_looking_keys_are_refused_anywhere(project, key: str) -> None:
    err = check(project, f"""
        [mogplex]
        {key} = "mog_abc"

        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        notify = [{{ webhook = "https://example.com", {key} = "x" }}]
    """)
    hint = "secrets do not belong in the task file; set MOGPLEX_API_KEY in the environment"
    assert err.count(f'Error: secret-looking key "{key}": {hint}') == 2
    assert "mog_abc" not in err


def test_missing_repo_and_both_prompts(project) -> None:
    project.write("p.md", name="prompts/p.md")
    err = check(project, """
        [jobs.a]
        prompt = "x"
        prompt_file = "prompts/p.md"
    """)
    assert 'Error: job "a" has no repo' in err
    assert 'Error: job "a" has both prompt and prompt_file: set only one of them' in err


@pytest.mark.parametrize("name", [*sorted(JOB_KEYS), "defaults", "vars", "jobs", "mogplex"])
def test_a_job_named_like_a_key_has_its_problems_said_not_a_crash(project, name: str) -> None:
    """A problem of a job table is about no key: one named ``needs`` had its
    missing repo taken for a problem of a ``needs`` key, and building it crashed."""
    err = check(project, f"""
        [jobs.{name}]
        description = "named like a key"
    """)
    assert f'Error: job "{name}" has no repo' in err, err
    assert f'Error: job "{name}" has no prompt: set prompt, prompt_file or automation' in err, err


def test_missing_prompt_file_and_escaping_paths(project) -> None:
    err = check(project, """
        [jobs.a]
        repo = "acme/api"
        prompt_file = "prompts/missing.md"

        [jobs.b]
        repo = "acme/api"
        prompt_file = "../outside.md"

        [jobs.c]
        repo = "acme/api"
        prompt_file = "/etc/passwd"
    """)
    assert (f'Error: job "a", key "prompt_file": prompt file prompts/missing.md does not exist '
            f"(relative to {project.root})") in err
    assert (f'Error: job "b", key "prompt_file": \'../outside.md\' may not contain ".." '
            f"(paths stay inside {project.root})") in err
    assert ('Error: job "c", key "prompt_file": \'/etc/passwd\' must be a path relative to the '
            "task file's directory") in err


def test_needs_cycle_is_reported_with_its_path(project) -> None:
    err = check(project, """
        [defaults]
        repo = "acme/api"
        prompt = "x"

        [jobs.a]
        needs = ["b"]
        [jobs.b]
        needs = ["c"]
        [jobs.c]
        needs = ["a"]
        [jobs.d]
        needs = ["d"]
    """)
    assert "Error: needs cycle: a -> b -> c -> a" in err
    assert "Error: needs cycle: d -> d" in err


@pytest.mark.parametrize(("line", "message"), [
    ('branch = "main"\ncreate_branch = true\nbase_branch = "main"',
     'job "a", key "branch": create_branch needs a working branch different from the base '
     "branch ('main')"),
    ('root = "../x"', 'job "a", key "root": root \'../x\' may not contain ".."'),
    ('root = "/abs"', 'job "a", key "root": root \'/abs\' must be relative to the repo'),
    ('branch = "feature..x"',
     'job "a", key "branch": \'feature..x\' is not a valid git branch name: it contains ".."'),
    ('base_branch = "bad name"',
     'job "a", key "base_branch": \'bad name\' is not a valid git branch name: it contains \' \''),
    # The server's branch rule is narrower than git's (launch-config.ts).
    ('branch = "fix#12"',
     'job "a", key "branch": \'fix#12\' is not a valid git branch name: it contains \'#\' '
     '(the API takes only letters a-z, A-Z, digits, "_", ".", "/" and "-")'),
    ('branch = "feat/\u00e9"',
     'job "a", key "branch": \'feat/\u00e9\' is not a valid git branch name: it contains '
     '\'\u00e9\' (the API takes only letters a-z, A-Z, digits, "_", ".", "/" and "-")'),
    ('base_branch = "HEAD"',
     'job "a", key "base_branch": \'HEAD\' is not a valid git branch name: it cannot be "HEAD"'),
    ('root = "apps/%2E%2e/etc"',
     'job "a", key "root": root \'apps/%2E%2e/etc\' may not contain a NUL or a '
     'percent-encoded "." or ".." part'),
    ('idempotency_key = "   "',
     'job "a", key "idempotency_key": the idempotency key must be 1..200 characters after '
     "trimming, not 0"),
    ('idempotency_key = "{{ job }}' + "k" * 200 + '"',
     'job "a", key "idempotency_key": the idempotency key must be 1..200 characters after '
     "trimming, not 201"),
])
def test_server_limits_name_job_and_key(project, line: str, message: str) -> None:
    err = check(project, f"""
[jobs.a]
repo = "acme/api"
prompt = "x"
{line}
""")
    assert err.splitlines()[0] == f"Error: {message}"


def test_prompt_length_is_checked_after_templating(project) -> None:
    project.write("{{ big }}{{ big }}", name="p.md")
    big = "x" * 50_001
    err = check(project, f"""
        [vars]
        big = "{big}"
        [jobs.a]
        repo = "acme/api"
        prompt_file = "p.md"
    """)
    assert err.splitlines()[:2] == [
        'Error: job "a", key "prompt_file": the prompt from prompt file p.md is 100,002 '
        "characters after templating; the server accepts at most 100,000",
        f"  --> {project.path.resolve()}:5:1"]  # the prompt_file line, not [jobs.a]


def test_prompt_length_is_counted_as_the_server_counts_it(project) -> None:
    # The server's JavaScript counts UTF-16 units: 50,001 emoji are 100,002 of them.
    emoji = "\U0001F600" * 50_001
    err = check(project, f"""
        [jobs.a]
        repo = "acme/api"
        prompt = "{emoji}"
    """)
    assert err.splitlines()[0] == (
        'Error: job "a", key "prompt": the prompt is 100,002 characters as the server counts '
        "them (UTF-16 units: an emoji is 2) after templating; the server accepts at most "
        "100,000")


def test_unknown_template_name_names_job_key_and_template(project) -> None:
    err = check(project, """
        [vars]
        team = "web"
        [jobs.a]
        repo = "acme/api"
        prompt = "for {{ tema }}"
    """)
    assert err.splitlines()[:5] == [
        'Error: job "a", key "prompt": unknown template name "tema" in {{ tema }}',
        f"  --> {project.path.resolve()}:5:15",  # the caret under the template
        '  5 | prompt = "for {{ tema }}"',
        "                    ^",
        'did you mean "team"?',
    ]


@pytest.mark.parametrize(("text", "where", "caret"), [
    # a var's own template, the second of two alike, an escape before it: under the template
    ('[vars]\nwho = "team {{ nope }}"\n[jobs.a]\nrepo = "acme/api"\nprompt = "{{ who }}"\n',
     "2:13", "                  ^"),
    ('[jobs.a]\nrepo = "acme/api"\nprompt = "{{ job }} {{ nope | x }}"\n', "3:21",
     "                          ^"),
    ('[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "\\t{{ nope }}"  # why\r\n\r\n', "3:13",
     "                  ^"),
    # on a line the template is written on as often as elsewhere: the key
    ('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\nnotify = { url = "http://{{ nope }}", '
     'on = "{{ nope }}" }\n', "4:1", "      ^"),
])
def test_a_template_problem_is_pointed_at_on_its_line(project, text: str, where: str,
                                                      caret: str) -> None:
    # The caret stood under the key (column 1) whatever the value's length.
    project.path.write_bytes(text.encode())
    lines = project.run("check").err.splitlines()
    assert lines[1] == f"  --> {project.path.resolve()}:{where}"
    assert lines[3] == caret


def test_api_key_is_refused_in_templates(project) -> None:
    err = check(project, """
        [jobs.a]
        repo = "acme/api"
        prompt = "{{ env.MOGPLEX_API_KEY }}"
    """)
    assert err.splitlines()[0] == ('Error: job "a", key "prompt": {{ env.MOGPLEX_API_KEY }} is '
                                   "refused: the API token never goes into a template")


@pytest.mark.parametrize("token", ["", "mog_set_here"])
def test_api_key_with_a_default_is_refused_whether_or_not_it_is_set(project, monkeypatch,
                                                                     token) -> None:
    """check and ci github passed it while MOGPLEX_API_KEY was unset (the default
    stood in), and every real run, which has the token, refused it."""
    if token:
        monkeypatch.setenv("MOGPLEX_API_KEY", token)
    else:
        monkeypatch.delenv("MOGPLEX_API_KEY", raising=False)
    err = check(project, """
        [jobs.a]
        repo = "acme/api"
        prompt = "hello {{ env.MOGPLEX_API_KEY | default('') }}"
    """)
    assert "is refused: the API token never goes into a template" in err.splitlines()[0]


def test_repo_template_inside_repo_is_refused(project) -> None:
    err = check(project, """
        [jobs.a]
        repo = "acme/{{ repo }}"
        prompt = "x"
    """)
    assert err.splitlines()[0] == ('Error: job "a", key "repo": {{ repo }} cannot be used inside '
                                   "repo itself")


def test_plugin_key_errors_come_from_the_plugin_with_location(project) -> None:
    err = check(project, """
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        retry = { attempts = 0 }
    """)
    assert err.splitlines()[:2] == [
        'Error: job "a", key "retry": retry.attempts must be a whole number >= 1, not 0',
        f"  --> {project.path.resolve()}:4:11",
    ]


def test_wrong_types_and_sections(project) -> None:
    err = check(project, """
        jobs = 3
    """)
    assert err.splitlines()[0] == "Error: [jobs] must be a table, not an integer"
    err = check(project, """
        [mogplex]
        url = "https://evil.example.com"
        starts_per_minute = 0
        [vars]
        team = ["a"]
        [jobs.a]
        repo = 5
        prompt = "x"
        create_branch = "yes"
    """)
    assert "Error: [mogplex] starts_per_minute must be a positive integer, not 0" in err
    assert "Error: [mogplex] url 'https://evil.example.com' is refused: a task file may only " \
           "name mogplex.com" in err
    assert "Error: [vars] team must be a string, number or boolean, not an array" in err
    assert ('Error: job "a", key "repo" must be a repo (owner/name or id) or a non-empty list of '
            "them") in err
    assert 'Error: job "a", key "create_branch" must be true or false, not a string' in err


def test_bytes_that_are_not_utf8_and_empty_files(project) -> None:
    project.path.write_bytes(b'[jobs.a]\nrepo = "\xff\xfe"\n')
    result = project.run("check")
    assert (result.code, result.err.splitlines()[0]) == (
        2, "Error: task file is not UTF-8 text (byte 0xff on line 2): save it as UTF-8")
    project.path.write_text("  \n")
    result = project.run("list")
    assert result.code == 2
    assert result.err.splitlines()[0] == f"Error: task file {project.path.resolve()} is empty"
    # The hint named `mogrun init`, which refuses a file that is there, even empty:
    # the command it names works on this file.
    assert "`mogrun init`" not in result.err, result.err
    added = project.run("add", "hello", "--repo", "acme/api", "--prompt", "hi")
    assert added.code == 0, added
    assert "`mogrun add JOB --repo R --prompt P`" in result.err, result.err


def test_no_task_file_names_the_ones_here_under_another_name(project) -> None:
    """After the README's first command (-f mogplex.toml.example), the next one, with
    no -f, was told only to create a file beside the one it had just run."""
    (project.root / "mogplex.toml.example").write_text('[jobs.a]\nrepo = "acme/api"\n')
    result = project.run("--local", "status")
    assert result.code == 2
    assert result.err.splitlines()[1] == (
        "Task files here under another name: mogplex.toml.example (name one: mogrun -f "
        "mogplex.toml.example ...)"), result.err


def test_no_task_file_names_one_spelt_with_capitals(project) -> None:
    """Mogplex.toml (found on a case-insensitive disk, so on a laptop, not in Linux CI)
    was not named, though mogplex.TOML and mogplex.toml.example were."""
    (project.root / "Mogplex.toml").write_text('[jobs.a]\nrepo = "acme/api"\n')
    result = project.run("list")
    assert result.code == 2
    assert result.err.splitlines()[1] == (
        "Task files here under another name: Mogplex.toml (name one: mogrun -f "
        "Mogplex.toml ...)"), result.err


def test_no_task_file_names_those_the_history_here_has_runs_of(project) -> None:
    """Beside a history holding runs of nightly.toml (run with -f), or of a
    mogplex.toml since deleted, `mogrun status` was told only to create a file."""
    project.write('[jobs.n]\nrepo = "acme/api"\nprompt = "@emulator duration=0.1s"\n',
                  name="nightly.toml")
    assert project.run("--local", "-q", "-f", "nightly.toml", "n").code == 0
    (project.root / "sub").mkdir()
    result = project.run("--local", "status", cwd=project.root / "sub")
    assert result.code == 2, result
    assert result.err.splitlines()[1] == (
        "../nightly.toml has runs recorded in ../.mogrun: name it, as mogrun -f "
        "../nightly.toml ..."), result.err
    (project.root / "nightly.toml").unlink()
    state = project.root / ".mogrun"
    def written() -> list[tuple[str, int]]:  # (-shm is the readers' own)
        return sorted((p.name, p.stat().st_mtime_ns) for p in state.iterdir()
                      if not p.name.endswith("-shm"))

    before = written()
    gone = project.run("--local", "history")
    assert gone.code == 2, gone
    assert gone.err.splitlines()[1] == (
        "nightly.toml has runs recorded in .mogrun but is no longer there: put it back to "
        "see and rerun those runs"), gone.err
    assert written() == before  # read, never written


def test_a_prompt_file_typed_as_a_folder_is_refused(project) -> None:
    project.write("Hello\n", name="prompts/p.md")
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt_file = "prompts/p.md/"\n')
    for argv in (("check",), ("show", "a")):
        result = project.run(*argv)
        assert result.code == 2, result
        assert result.err.splitlines()[0] == (
            "Error: job \"a\", key \"prompt_file\": 'prompts/p.md/' ends with a /, which "
            "names a folder: leave out the /"), result


def test_no_task_file(project) -> None:
    result = project.run("list")
    assert result.code == 2
    assert result.err.startswith(f"Error: no mogplex.toml found in {project.root} or any parent")
    result = project.run("-f", "nope.toml", "list")
    assert result.err == ("Error: task file nope.toml (from -f/--file) does not exist\n"
                          "Create it with `mogrun init -f nope.toml`.\n")


@pytest.mark.parametrize(("typed", "hint"), [
    ("mogplx.toml", "did you mean mogplex.toml?"),  # a typo of a file that is there
    ("Team.toml", "did you mean team.toml?"),
    ("team.tml", "did you mean team.toml?"),
    ("sub/mogplex.tml", "did you mean sub/mogplex.toml?"),
    ("x.toml", "Create it with `mogrun init -f x.toml`."),  # ".toml" alone is no likeness
    ("new dir/jobs.toml", "Create it with `mogrun init -f 'new dir/jobs.toml'`."),
])
def test_a_task_file_named_that_is_not_there_gets_the_way_on(project, typed, hint) -> None:
    # -f mogplx.toml said only "does not exist", with the file one letter away.
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    (project.root / "team.toml").write_text(project.path.read_text())
    (project.root / "sub").mkdir()
    (project.root / "sub" / "mogplex.toml").write_text(project.path.read_text())
    (project.root / "notes.txt").write_text("not a task file")
    adding = ["add", "b", "--repo", "a/b", "--prompt", "p"]
    for argv in (["-f", typed, "list"], ["-f", typed, *adding]):
        result = project.run(*argv)
        assert result.code == 2, result
        assert result.err.splitlines() == [
            f"Error: task file {typed} (from -f/--file) does not exist", hint], result
    named = project.run("check", env={"MOGRUN_FILE": typed})
    assert named.err.splitlines()[1] == (hint if "did you" in hint
                                         else "Create it with `mogrun init`."), named


def test_json_check_without_a_task_file_answers_json(project) -> None:
    """``--json check`` is one JSON object whatever the problem, a missing file too."""
    import json

    result = project.run("--json", "check")
    assert result.code == 2
    report = json.loads(result.out)
    assert (report["ok"], report["file"]) == (False, None)
    assert report["errors"][0]["message"].startswith(f"no mogplex.toml found in {project.root}")


def test_defaults_may_not_hold_needs(project) -> None:
    err = check(project, """
        [defaults]
        needs = ["a"]
        [jobs.a]
        repo = "r"
        prompt = "x"
    """)
    assert 'Error: "needs" cannot be set in [defaults]; set it per job' in err


def test_every_plugin_key_problem_of_a_job_is_listed_in_file_order(project) -> None:
    err = check(project, """
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        retry = { attempts = 0 }
        notify = [{ email = "me@example.com" }]
    """)
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert errors == [
        'Error: job "a", key "retry": retry.attempts must be a whole number >= 1, not 0',
        # An unknown key hides no other problem of its table: this entry has no URL either.
        'Error: job "a", key "notify": notify[1] needs exactly one of webhook = URL or slack = '
        "URL",
        'Error: job "a", key "notify": unknown notify[1] setting "email"; valid: webhook, slack, '
        "on",
    ]


def test_plugin_paths_may_not_leave_the_project(project) -> None:
    project.write('[mogplex]\nplugins = ["../evil.py"]\n[jobs.a]\nrepo = "r"\nprompt = "x"\n')
    result = project.run("check")  # --no-plugins: the task file's validation reports it
    assert result.code == 2
    assert result.err.splitlines()[0] == (
        f"Error: [mogplex] plugins: '../evil.py' may not contain \"..\" (paths stay inside "
        f"{project.root})")
    assert project.run("check", plugins=True).code == 2  # the plugin host refuses it too


PLUGIN_TEXT = ('# plugins of the team\n[mogplex]\nplugins = [\n  "plugins/owners.py",\n'
               '\t"plugins/ownrs.py",  # a typo\n  {entry}\n]\n\n'
               '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\ntmeout = "5m"\n\n\n')


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(("entry", "message"), [
    ('"plugins/broken.py"', 'plugin "broken" failed to import: ModuleNotFoundError: '
                            "No module named 'nosuch'"),
    ('"no_such_module"', 'plugin "no_such_module" failed to import: ModuleNotFoundError: '
                         "No module named 'no_such_module'"),
    ('"../shared/gate.py"', "[mogplex] plugins: '../shared/gate.py' may not contain \"..\" "
                            "(paths stay inside {root})"),
    ('"/abs/p.py"', "[mogplex] plugins: '/abs/p.py' must be a path relative to the task "
                    "file's directory"),
    ('""', "[mogplex] plugins: empty plugin name"),
    # Path drops a / at the end: the file was loaded (a prompt file read) all the same.
    ('"plugins/broken.py/"', "[mogplex] plugins: 'plugins/broken.py/' ends with a /, which "
                             "names a folder: leave out the /"),
])
def test_check_locates_each_plugin_that_cannot_load_and_lists_the_rest(
        project, entry: str, message: str, style: str) -> None:
    # A plugin of the file that could not load stopped check with no file:line:column,
    # hiding every other problem (the tmeout below); --json had "line": null.
    project.write("from mogrun.plugin import hookimpl\n", name="plugins/owners.py")
    project.write("import nosuch\n", name="plugins/broken.py")
    write(project, PLUGIN_TEXT.format(entry=entry), style)
    result = project.run("check", plugins=True)
    assert result.code == 2, result
    path = project.path.resolve()
    errors = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert errors == [
        f'Error: plugin "ownrs" not found: no file {project.root.resolve()}/plugins/ownrs.py',
        f"Error: {message.format(root=project.root.resolve())}",
        'Error: unknown key "tmeout" in job "a"',
    ]
    lines = result.err.splitlines()
    assert lines[1:4] == [f"  --> {path}:5:2", '  5 |  "plugins/ownrs.py",  # a typo',
                          " " * 7 + "^"]
    second = lines.index(errors[1])
    assert lines[second + 1:second + 4] == [f"  --> {path}:6:3", f"  6 |   {entry}",
                                            " " * 8 + "^"]
    assert lines[-1] == f"3 problems in {path}"
    report = json.loads(project.run("--json", "check", plugins=True).out)
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(5, 2), (6, 3), (12, 1)]


def test_a_plugin_refused_once_registered_is_blamed_alone(project) -> None:
    # check loads the file's plugins one by one: a hook typo (found only once the plugin
    # is in) must not stay registered and be blamed on the next one, whose keys count.
    project.write("from mogrun.plugin import hookimpl\n\n@hookimpl\ndef mogrun_gatee():\n"
                  "    pass\n", name="typo.py")
    project.write("from mogrun.plugin import hookimpl\n\n@hookimpl\n"
                  "def mogrun_job_keys(register):\n    register('owner', str)\n",
                  name="keys.py")
    project.write('[mogplex]\nplugins = ["typo.py", "keys.py"]\n\n'
                  '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\nowner = "me"\n')
    result = project.run("check", plugins=True)
    assert result.code == 2, result
    errors = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert errors == ['Error: plugin "typo" implements unknown hook "mogrun_gatee"']
    assert f"{project.path.resolve()}:2:12" in result.err


@pytest.mark.parametrize("command", [["show", "a"], ["--local", "run", "a"]])
def test_show_and_run_refuse_a_plugin_that_cannot_load_located(project, command) -> None:
    project.write(PLUGIN_TEXT.format(entry='"plugins/owners.py"').replace("tmeout", "timeout"))
    project.write("from mogrun.plugin import hookimpl\n", name="plugins/owners.py")
    result = project.run(*command, plugins=True)
    assert result.code == 2, result
    assert result.err.splitlines()[:2] == [
        f'Error: plugin "ownrs" not found: no file {project.root.resolve()}/plugins/ownrs.py',
        f"  --> {project.path.resolve()}:5:2"]


def test_a_plugin_named_with_p_is_no_part_of_the_file(project) -> None:
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run("check", "-p", "plugins/nope.py", plugins=True)
    assert result.code == 2, result
    assert result.err.splitlines() == [
        f'Error: plugin "nope" not found: no file {project.root.resolve()}/plugins/nope.py',
        "From: -p/--plugin option"]


@pytest.mark.parametrize("ending", ["\n\n", "\n# the end\n", "\n# no newline after me",
                                    "\r\n\r\n"])
@pytest.mark.parametrize("command", [["check"], ["show", "a"], ["--local", "run", "a"]])
def test_a_file_ending_blank_or_in_a_comment_locates_its_errors(project, ending: str,
                                                                command: list[str]) -> None:
    # Every located error was an IndexError traceback in a file saved this way.
    text = '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\ntmeout = "25m"' + ending
    project.path.write_bytes(text.encode())
    result = project.run(*command)
    assert result.code == 2, result
    assert result.err.splitlines()[:3] == [
        'Error: unknown key "tmeout" in job "a"',
        f"  --> {project.path.resolve()}:4:1",
        '  4 | tmeout = "25m"',
    ]


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
        "Error: [defaults] key \"timeout\" is an invalid duration 'soon': use a number of seconds "
        'or a string like "500ms", "90s", "25m", "1h30m" or "2h"',
        'Error: job "b", key "prompt": unknown template name "nope" in {{ nope }}',
    ]


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


def test_deeply_nested_values_are_a_task_file_error(project) -> None:
    # tomllib (and the checks after it) recurse per level: a RecursionError traceback.
    # Located where the brackets go deepest (it said no line), past the brackets of
    # strings and comments before it.
    for depth in (3000, 300):
        project.path.write_bytes(
            b'# [[[ {{{\r\n[jobs.a]\r\nrepo = "acme/api"  # [[[\r\nprompt = """[[[[\r\n'
            b"{{{{ ']]]' \"\"\"\r\nx = { k = " + b"[" * depth + b"]" * depth + b" }\r\n\r\n")
        for command in ("list", "check"):
            result = project.run(command)
            assert result.code == 2, result
            assert result.err.splitlines()[:2] == [
                f"Error: task file {project.path.resolve()} nests values more than 50 levels "
                "deep", f"  --> {project.path.resolve()}:6:{10 + depth}"], result
            assert "Traceback" not in result.err


@pytest.mark.parametrize(("value", "column"), [
    ("1" + "0" * 4300, 22),  # past Python's 4,300-digit limit: a ValueError out of tomllib
    ("-1_" + "0" * 4400, 22),  # (located at the number: no key is known yet)
    ("0x" + "f" * 3600, 11),  # read, then str() of it failed in list, show, run -n
])
def test_an_integer_out_of_tomls_range_is_a_located_task_file_error(project, value,
                                                                    column) -> None:
    """A huge number crashed every command with a traceback (exit 1), or passed
    check and crashed show and run: TOML's integers are 64-bit, so it is refused
    where it is written, by every command that reads the file."""
    project.write('# ours\r\n[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n'
                  f"retry = {{ attempts = {value} }}\r\n\r\n")
    for command in ("check", "list", "show a", "--json check"):
        result = project.run(*command.split())
        assert result.code == 2, result
        if command.startswith("--json"):
            continue
        assert result.errors == [f"Error: task file {project.path.resolve()} holds an integer "
                                 "of thousands of digits; TOML's integers are 64-bit "
                                 "(-9223372036854775808 to 9223372036854775807)"], result
        assert f"mogplex.toml:5:{column}\n" in result.err, result


def test_a_long_integer_python_can_print_is_left_to_its_keys_rule(project) -> None:
    project.write(f"""
        [vars]
        low = -9223372036854775808
        high = 0x{"f" * 3000}

        [jobs.a]
        repo = "acme/api"
        prompt = "{{{{ low }}}}"
        retry = {{ attempts = 0x{"f" * 3000} }}
    """)
    result = project.run("show", "a")
    assert result.code == 0, result
    assert '"prompt": "-9223372036854775808"' in result.out


def test_a_plugin_key_of_defaults_no_job_inherits_is_still_judged(project) -> None:
    # It was judged only in the jobs that inherit it: with none, check said ok.
    project.write("""
        [defaults]
        gates = { nope = 1 }

        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        gates = { status = ["success"] }
    """)
    result = project.run("check", plugins=True)
    assert result.code == 2, result
    assert result.errors == ['Error: [defaults] key "gates": unknown gates setting "nope"; '
                             "valid: status, max_duration, require_events, forbid_events"]


def test_an_escaped_quote_in_a_multi_line_string_does_not_move_later_errors(project) -> None:
    # The position scanner took \""" for the end of the string: 1:2 [jobs.c] instead of 8:1.
    err = check(project, '[jobs.c]\nrepo = "x/y"\nprompt = """Say \\"""hi\\""" please.\n'
                         '"""\n\n[jobs.d]\nrepo = "x/y"\nprompt = "{{ nope }}"\n')
    assert err.splitlines()[1:3] == [f"  --> {project.path.resolve()}:8:11",
                                     '  8 | prompt = "{{ nope }}"']


@pytest.mark.parametrize(("text", "where", "shown"), [
    ('[jobs.a]\nrepo = "acme/api"\nprompt = "x', "3:12", '  3 | prompt = "x'),
    ('[jobs.a]\nrepo = "acme/api"\nprompt = """x\n', "3:14", '  3 | prompt = """x'),
    ('[jobs.a]\r\nrepo = "acme/api"\r\nprompt = """x\r\n\r\n', "3:14", '  3 | prompt = """x'),
    ('\ufeff[jobs.a]\nrepo = "acme/api"\nprompt = [', "3:11", "  3 | prompt = ["),
])
def test_a_syntax_error_at_the_end_of_the_document_is_located(project, text: str, where: str,
                                                               shown: str) -> None:
    # tomllib says "(at end of document)": the error had no line, column or caret.
    project.path.write_bytes(text.encode())
    err = project.run("check").err
    lines = err.splitlines()
    assert lines[0].startswith("Error: invalid TOML: ") and "end of document" not in lines[0]
    assert lines[1:4] == [f"  --> {project.path.resolve()}:{where}", shown,
                          " " * (5 + int(where.split(":")[1])) + "^"]
    result = project.run("--json", "check")
    error = json.loads(result.out)["errors"][0]
    assert f"{error['line']}:{error['column']}" == where


@pytest.mark.parametrize("line", [
    'notify = [{ webhook = "https://hooks.example.com/services/T0/s3cretTail", on = ["failed"] }',
    'notify = [{ webhook = "https://hooks.example.com/services/T0/B0/s3cretTail", oops }]',
    'notify = [{ webhook = "https://bot:s3cretTail@hooks.example.com", on = ["failed"], }]\r',
])
def test_a_syntax_error_masks_the_urls_of_its_line_in_place(project, line: str) -> None:
    # The excerpt quoted the line as written: a webhook URL, a secret wherever else
    # mogrun shows it, printed whole (a CI log keeps it). Its values are not read
    # yet, so which are secrets is not known: every URL keeps its scheme and host.
    project.path.write_bytes(f'[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n{line}\n'.encode())
    for result in (project.run("check"), project.run("--json", "check"), project.run("a")):
        assert result.code == 2 and "invalid TOML" in result.err + result.out, result
        assert "s3cretTail" not in result.err + result.out
    shown = project.run("check").err.splitlines()[2]
    assert shown.startswith("  4 | notify = [{ webhook = \"https://") and "*" * 10 in shown
    assert len(shown) == len("  4 | " + line.rstrip("\r"))  # in place: the caret lines up


@pytest.mark.parametrize(("text", "message", "where"), [
    ('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\nrepo = "b/c"\n',
     'key "repo" is defined twice in [jobs.a]', "4:1"),
    ('[jobs.a]\nrepo = "acme/api"\nprompt = """\nx\n"""\n  prompt = """\ny\n"""\n',
     'key "prompt" is defined twice in [jobs.a]', "6:3"),
    ('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n\n[jobs.a]\n',
     "table [jobs.a] is declared twice", "5:1"),
    ('[jobs."a b"]\nrepo = "acme/api"\nprompt = "x"\n[ jobs . "a b" ]\n',
     'table [jobs."a b"] is declared twice', "4:1"),
    ('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\nretry = { attempts = 1, attempts = 2 }\n',
     'key "attempts" is defined twice in the inline table jobs.a.retry', "4:25"),
    ('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\nretry.attempts = 1\nretry.attempts = 2\n',
     'key "retry.attempts" is defined twice in [jobs.a]', "5:1"),
    ('repo = "x"\nrepo = "y"\n', 'key "repo" is defined twice at the top level', "2:1"),
    ('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\nretry = { attempts = 1 }\n'
     'retry.max_delay = "1m"\n', 'key "retry.max_delay" in [jobs.a] adds to the inline table '
     'jobs.a.retry: write "max_delay" inside its { }', "5:1"),
    # Inside an inline table tomllib names the key from that table's root, and said
    # "Cannot mutate immutable namespace status" past the value when the first was an
    # array or a table.
    ('[jobs.a]\r\nrepo = "acme/api"\nprompt = "x"\n'
     'gates = { status = ["success"], status = ["failed"] }\n\n',
     'key "status" is defined twice in the inline table jobs.a.gates', "4:33"),
    ('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\ninput = { a = { b = 1 }, a = { c = 2 } }\n',
     'key "a" is defined twice in the inline table jobs.a.input', "4:26"),
    ('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\nretry = { x = { y = 1 }, x.z = 2 }\n',
     'key "x.z" in the inline table jobs.a.retry cannot be set: a key on its path already '
     "holds a value", "4:26"),
])
def test_a_duplicate_key_or_table_is_named_and_pointed_at(project, text: str, message: str,
                                                          where: str | None) -> None:
    # tomllib says "Cannot overwrite a value" at the end of the value, and names a
    # table twice as a Python tuple.
    lines = check(project, text).splitlines()
    assert lines[0] == f"Error: invalid TOML: {message}"
    if where:
        assert lines[1] == f"  --> {project.path.resolve()}:{where}"
        assert lines[3] == " " * (5 + int(where.split(":")[1])) + "^"


def test_a_huge_line_is_quoted_around_the_caret(project) -> None:
    # A 100,001-character prompt line was printed whole under its error (~100 KB).
    big = "x" * 100_001
    err = check(project, f'[jobs.a]\nrepo = "acme/api"\nprompt = "{{{{ nope }}}}{big}"\n')
    quoted, caret = err.splitlines()[2:4]
    assert quoted.startswith('  3 | prompt = "{{ nope }}xxx') and quoted.endswith("x…")
    assert caret == "                ^"  # under the template
    err = check(project, f'[jobs.a]\nrepo = "acme/api"\nprompt = "{big}')
    quoted, caret = err.splitlines()[2:4]
    assert quoted.startswith("  3 | …xxx") and quoted.endswith("xxx")
    assert caret.index("^") == len(quoted)  # just after the last character
    assert len(err) < 1000


@pytest.mark.parametrize("before", ["日本語 ", "ünï\u0301cödé ", "\t", "x" * 200 + "日本"])
def test_the_caret_stays_under_its_character_after_wide_tabs_or_long_text(project,
                                                                           before: str) -> None:
    # A wide character takes two columns: the caret stood left of the error.
    from mogrun.tables import cell_width

    lines = check(project, f'[jobs.a]\nrepo = "acme/api"\nprompt = "{before}x\n').splitlines()
    quoted, caret = lines[2], lines[3]  # the error is the line break after the x
    assert quoted.endswith("x") and caret.index("^") == cell_width(quoted)
    assert cell_width(quoted) <= len("  3 | ") + 120


DURATION_HINT = 'use a number of seconds or a string like "500ms", "90s", "25m", "1h30m" or "2h"'


@pytest.mark.parametrize(("text", "errors"), [
    (b'[defaults]\r\ncapacity_wait = "soon"  # typo\r\n\r\n[jobs.a]\r\nrepo = "acme/api"\r\n'
     b'prompt = "Hi {{ job }}"\r\ntimeout = "later"\r\n\r\n',
     [f"Error: [defaults] key \"capacity_wait\" is an invalid duration 'soon': {DURATION_HINT}",
      f"Error: job \"a\", key \"timeout\" is an invalid duration 'later': {DURATION_HINT}"]),
    (b'[defaults]\nrepo = 7\n\n[jobs.lint-fix]\nharness = "gpt"\nprompt = "Fix it."\n',
     ['Error: [defaults] key "repo" must be a repo (owner/name or id) or a non-empty list of them',
      "Error: job \"lint-fix\", key \"harness\" must be one of 'codex', 'claude-code', "
      "not 'gpt'"]),
])
def test_a_wrong_job_key_beside_a_wrong_default_it_inherits_is_listed_not_a_crash(
        project, text: bytes, errors: list[str]) -> None:
    # check rebuilds a job without its own wrong key to find its template problems; the
    # wrong [defaults] key it still inherits must not crash that: a duration raised
    # ValueError, a repo (rendered) TypeError.
    project.path.write_bytes(text)
    result = project.run("check")
    assert result.code == 2, result
    assert "Traceback" not in result.err
    assert result.errors == errors


@pytest.mark.parametrize("content", [b"", b"\r\n\r\n", b"\xef\xbb\xbf  \r\n"])
def test_an_empty_prompt_file_names_the_file_and_its_line(project, content: bytes) -> None:
    (project.root / "prompts").mkdir()
    (project.root / "prompts" / "e.md").write_bytes(content)
    project.path.write_bytes(b'# nightly\r\n[jobs.x]\r\nrepo = "acme/api"\r\n'
                             b'prompt_file = "prompts/e.md"  # written later\r\n\r\n')
    result = project.run("check")
    assert result.code == 2, result
    assert result.err.splitlines()[:3] == [
        'Error: job "x", key "prompt_file": prompt file prompts/e.md is empty',
        f"  --> {project.path.resolve()}:4:1",
        '  4 | prompt_file = "prompts/e.md"  # written later']
    assert project.run("show", "x").err.splitlines()[0] == result.errors[0]


def test_a_prompt_file_empty_after_templating_says_so_at_its_line(project) -> None:
    (project.root / "e.md").write_bytes(b'{{ env.NOTES | default("") }}\r\n')
    project.path.write_bytes(b'[defaults]\r\nprompt_file = "e.md"\r\n\r\n'
                             b'[jobs.x]\r\nrepo = "acme/api"\r\n')
    result = project.run("check")
    assert result.code == 2, result
    assert result.err.splitlines()[:2] == [
        'Error: job "x", key "prompt_file": the prompt from prompt file e.md is empty '
        "after templating",
        f"  --> {project.path.resolve()}:2:1"]


# Core problems and plugin-key problems in the same jobs, as a file is really
# written (CRLF, comments, trailing blank lines): one `check` lists them all.
MIXED = (
    "# team jobs\r\n"
    "[defaults]\r\n"
    'harness = "codex"\r\n'
    'timeot = "30m"          # typo\r\n'
    "\r\n"
    "[jobs.lint]\r\n"
    'repo = "acme/api"\r\n'
    'prompt = "Run the linter"\r\n'
    'harness = "gpt"\r\n'
    'retry = { attempts = "five" }\r\n'
    "\r\n"
    "[jobs.deploy]\r\n"
    'repo = "acme/api"\r\n'
    'prompt = "Deploy"\r\n'
    'timeout = "soon"\r\n'
    'gates = { status = ["succes"] }\r\n'
    "\r\n"
    "# copied from deploy, not finished\r\n"
    "[jobs.notify-me]\r\n"
    'repo = ["acme/api", "acme/web"]\r\n'
    'prmpt = "x"\r\n'
    'notify = [{ webhook = "{{ env.SLACK_WEBHOOK_URL }}", on = ["failure"] }]\r\n'
    "\r\n"
    "\r\n"
)


def test_core_and_plugin_key_problems_are_listed_in_one_check_in_file_order(project) -> None:
    project.path.write_bytes(MIXED.encode("utf-8"))
    result = project.run("check", env={"SLACK_WEBHOOK_URL": "https://hooks.example.com/x"})
    assert result.code == 2, result
    errors = [line for line in result.err.splitlines() if line.startswith("Error: ")]
    assert errors == [
        'Error: unknown key "timeot" in [defaults]',
        "Error: job \"lint\", key \"harness\" must be one of 'codex', 'claude-code', not 'gpt'",
        'Error: job "lint", key "retry": retry.attempts must be a whole number >= 1, not \'five\'',
        'Error: job "deploy", key "timeout" is an invalid duration \'soon\': use a number of '
        'seconds or a string like "500ms", "90s", "25m", "1h30m" or "2h"',
        'Error: job "deploy", key "gates": gates.status: unknown value "succes" (did you mean '
        '"success"?); valid: success, failed, cancelled',
        'Error: job "notify-me" has no prompt: set prompt, prompt_file or automation',
        'Error: unknown key "prmpt" in job "notify-me"',
        'Error: job "notify-me", key "notify": notify[1].on: unknown value "failure" (did you '
        'mean "failed"?); valid: timeout, failed, cancelled, gate_failed, skipped, success, '
        "always",
    ]
    assert "8 problems in" in result.err


@pytest.mark.parametrize(("key", "said"), [
    ('notify = [{ webhook = "{{ env.HOOK }}", on = ["faild"] }]', 'unknown value "faild"'),
    ('notify = [{ webhook = "{{ env.HOOK }}", bogus = 1 }]', 'setting "bogus"'),
    ('notify = [{ webhook = "{{ env.HOOK }}", slack = "x" }]', "needs exactly one of"),
    ('notify = [\r\n  { webhook = "{{ env.HOOK }}" },\r\n'
     '  { webhook = "https://h.example/x", on = ["faild"] },  # the second\r\n]',
     'notify[2].on: unknown value "faild"'),
    ('retry = { attempts = 0, max_delay = "{{ env.HOOK }}" }', "attempts must be a whole"),
    ('gates = { status = ["sucess"], max_duration = "{{ env.HOOK }}" }',
     'unknown value "sucess"'),
])
def test_an_unset_env_name_in_a_plugin_key_leaves_its_other_values_judged(
        project, key, said) -> None:
    """A webhook from `{{ env.HOOK }}`, unset where check and ci github run (the
    docs keep it in a CI secret), switched off every check of its key: a typo in
    `on` passed check and failed only at the scheduled run. What the stand-in
    for the unset value may cause is still left until the name is set."""
    project.path.write_bytes(f'[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n{key}\r\n'
                             "\r\n".encode())
    result = project.run("check", env={"HOOK": None})
    assert result.code == 2, result
    assert len(result.errors) == 1 and said in result.errors[0], result


def test_an_unset_env_name_alone_in_a_plugin_key_is_still_only_a_warning(project) -> None:
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        notify = [{ webhook = "{{ env.HOOK }}", on = ["failed"] }]  # set in CI
        gates = { max_duration = "{{ env.LIMIT }}" }
        retry = "{{ env.POLICY }}"
    """)
    result = project.run("check")
    assert result.code == 0, result
    assert result.err.count("which is not set here") == 3, result


def test_a_plugin_key_of_an_unbuildable_job_using_an_unset_env_name_is_judged(
        project) -> None:
    project.path.write_bytes(MIXED.encode("utf-8"))
    result = project.run("check", env={"SLACK_WEBHOOK_URL": None})
    assert result.code == 2
    assert 'key "retry"' in result.err and 'key "gates"' in result.err
    # As in a job that builds: its `on` typo is the file's whatever the environment
    # (the webhook from env is judged once the name is set, not guessed).
    assert 'key "notify": notify[1].on: unknown value "failure"' in result.err
    assert "8 problems in" in result.err


def test_a_plugin_key_is_judged_in_a_job_stopped_by_its_repo_or_by_defaults(project) -> None:
    project.write("""
        [defaults]
        harness = "gpt"                  # every job inherits a wrong default...
        retry = { attempts = 0 }         # ...and a wrong plugin key

        [jobs.a]
        repo = "acme api"                # not a repo once rendered
        prompt = "x"
        harness = "codex"
        gates = { status = ["succes"] }

        [jobs.b]
        repo = "acme/web"
        prompt = "y"
    """)
    err = check(project, project.path.read_text())
    assert err.count('key "retry": retry.attempts') == 1  # said once, for both jobs
    assert 'Also in job "b", which inherits it from [defaults].' in err
    assert 'job "a", key "gates": gates.status: unknown value "succes"' in err
    assert 'job "a", key "repo"' in err
    assert '[defaults] key "harness"' in err
    assert "4 problems in" in err


@pytest.mark.parametrize("repo", ["api", "acme", "{{ team }}"])
def test_a_repo_that_is_neither_owner_name_nor_an_id_is_refused(project, repo) -> None:
    """The server casts a repoId to a UUID before anything else: 'api' (its owner
    forgotten) would be answered 503, as if the service were down."""
    err = check(project, f"""
        [vars]
        team = "platform"

        [jobs.a]
        repo = "{repo}"
        prompt = "x"
    """)
    shown = "platform" if "team" in repo else repo
    assert err.splitlines()[0] == (f'Error: job "a", key "repo": {shown!r} is neither '
                                   "owner/name nor a repo id (a UUID, as `mogrun repos` "
                                   "lists them)")


# Mistakes that hold whatever else the job says: (key, line to write, start of what
# check says). A job with any of them at once is told of each in one round.
MISTAKES = {
    "repo": ('repo = "not a repo"', "'not a repo' is not a repo"),
    "prompt": ('prompt = "{{ nope }}"', 'unknown template name "nope"'),
    "prompt_file": ('prompt_file = "missing.md"', "prompt file missing.md does not exist"),
    "branch": ('branch = "bad branch"', "'bad branch' is not a valid git branch name"),
    "base_branch": ('base_branch = "bad..base"', "'bad..base' is not a valid git branch name"),
    "root": ('root = "../up"', "root '../up' may not contain \"..\""),
    "idempotency_key": ('idempotency_key = " "', "the idempotency key must be 1..200"),
    "timeout": ('timeout = "soon"', "invalid duration 'soon'"),
    "harness": ('harness = "gpt"', "must be one of 'codex', 'claude-code', not 'gpt'"),
    "create_branch": ('create_branch = "yes"', "must be true or false"),
}
# A wrong type of a key a run is made of: the job is judged without it, all the same.
WRONG_TYPES = {"repo": ("repo = 7", "must be a repo"),
               "prompt": ("prompt = 42", "must be a string, not an integer")}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sets(st.sampled_from(sorted(MISTAKES)), min_size=1),
       st.sets(st.sampled_from(sorted(WRONG_TYPES))), st.booleans())
def test_check_tells_every_mistake_of_a_job_in_one_round(
        project, picked: set[str], wrong_types: set[str], crlf: bool) -> None:
    said = {**{k: MISTAKES[k] for k in picked}, **{k: WRONG_TYPES[k] for k in wrong_types}}
    if "prompt_file" in said:  # one prompt or the other: the file's mistake wins
        said.pop("prompt", None)
    lines = [line for line, _ in said.values()]
    lines += [] if "repo" in said else ['repo = "acme/api"']
    lines += [] if {"prompt", "prompt_file"} & set(said) else ['prompt = "x"']
    text = "# edited by hand\n[jobs.a]\n" + "\n".join(lines) + "\n\n"
    project.path.write_bytes(text.replace("\n", "\r\n" if crlf else "\n").encode())
    result = project.run("check")
    assert result.code == 2 and "Traceback" not in result.err, result
    errors = [line for line in result.err.splitlines() if line.startswith("Error:")]
    for key, (_, message) in said.items():
        assert any(f'key "{key}"' in line and message in line for line in errors), (key, errors)
    # What needs a mistaken key to be judged is left for the next round, never made up.
    assert len(errors) <= len(said), errors


def test_check_and_list_name_an_unknown_top_level_name_alike(project) -> None:
    project.write('repo = "acme/api"\n[job]\nx = 1\n\n[jobs.a]\nrepo = "a/b"\nprompt = "x"\n')
    errors = [line for line in check(project, project.path.read_text()).splitlines()
              if line.startswith("Error:")]
    assert errors == ['Error: unknown top-level key "repo"', "Error: unknown table [job]"]
    listed = project.run("list")
    assert 'unknown top-level key "repo", unknown table [job]' in listed.err, listed


def test_show_locates_a_refused_task_file_url_as_check_does(project) -> None:
    """show met the refusal resolving the endpoint first: no file, line or caret,
    and a hint (set --url) that could not help, since the file's url is refused
    whatever overrides it."""
    project.write('[mogplex]\nurl = "http://example.com"\n[jobs.a]\nrepo = "a/b"\nprompt = "x"\n')
    shown = project.run("show", "a")
    checked = project.run("check")
    assert shown.code == checked.code == 2
    refusal = ("Error: [mogplex] url 'http://example.com' is refused: plain http:// is only "
               "allowed for loopback; tokens travel over HTTPS")
    for result in (shown, checked):
        lines = result.err.splitlines()
        assert lines[:2] == [refusal, f"  --> {project.path.resolve()}:2:1"], result


@pytest.mark.parametrize("written, said", [
    (b'[jobs.a]\nrepo\xc2\xa0= "acme/api"\nprompt = "x"\n',
     "Column 5 holds U+00A0 NO-BREAK SPACE, which looks like a space or nothing"),
    (b'[jobs.a]\r\n\xe2\x80\x8brepo = "acme/api"\r\nprompt = "x"\r\n',
     "Column 1 holds U+200B ZERO WIDTH SPACE"),
    (b'[jobs.a]\nrepo = "acme/api"\nprompt = "x"\r',
     "Column 13 holds a carriage return with no line feed after it"),
    # Saved with classic Mac OS line endings: every line break a CR alone.
    (b'# jobs\r[jobs.a]\rrepo = "acme/api"\rprompt = "x"\r\r',
     "The file's lines end with a carriage return alone (classic Mac OS line endings), so "
     "TOML reads it as one line: save it with LF (or CRLF) line endings."),
    # An ESC a terminal paste left, DOS's Ctrl-Z: "Invalid statement" alone.
    (b'[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n\x1b\n\n',
     "Column 1 holds U+001B, a control character, which an editor shows as nothing, a "
     "space or a box: delete it (or retype it as a plain space)."),
    (b'[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\x1a', "Column 1 holds U+001A, a "
     "control character"),
    (b'[jobs.a]\nrepo = "acme/api" \x0b\nprompt = "x"\n', "Column 19 holds U+000B, a "
     "control character"),
])
def test_an_invisible_character_that_breaks_the_toml_is_named(project, written, said) -> None:
    """Pasted from a web page or a chat: the line looked right (the no-break space
    shown as U+FFFD, the lone CR as nothing) and the message did not say why."""
    project.path.write_bytes(written)
    result = project.run("check")
    assert result.code == 2, result
    assert said in result.err


BARE_KEY_HINT = "A bare key is made of A-Za-z0-9_- only: quote a key with other letters (write {})."
INLINE_HINT = ("The inline table opened at column {} goes on past its line: TOML keeps "
               "{{ ... }} on one line, with no line break or comment inside it. Write it on "
               "one line, or as a table of its own{}.")
QUOTES_HINT = ("The value uses typographic quotes (\u201c \u201d \u2018 \u2019), as word "
               "processors and chats write them: use straight ones (\" or ').")


@pytest.mark.parametrize(("written", "said"), [
    ('[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\nharness = \u201ccodex\u201d\r\n',
     QUOTES_HINT),
    ("[jobs.a]\n\trepo = [\u2018acme/api\u2019]  # ours\n", QUOTES_HINT),
    ('# vars\n[vars]\n\u00e9quipe = "platform"\n\n',
     BARE_KEY_HINT.format('"\u00e9quipe"')),
    ('[vars]\r\ncaf\u00e9 = 1\r\n',
     BARE_KEY_HINT.format('"caf\u00e9"')),
    # Quoted, it would be no job name either: the hint says so, not "quote it".
    ('[jobs.caf\u00e9]\nrepo = "acme/api"\n',
     '"caf\u00e9" cannot name a job, quoted or not: job names use ASCII letters, digits, '
     '"-", "_" and "." (not starting with "-" or ".").'),
    ('\ufeff# nightly\r\n[ jobs . r\u00e9sum\u00e9 ]\r\nrepo = "acme/api"\r\n\r\n',
     '"r\u00e9sum\u00e9" cannot name a job, quoted or not: job names use ASCII letters, '
     'digits, "-", "_" and "." (not starting with "-" or ".").'),
    ('[jobs.a]\n[jobs.a.caf\u00e9]\n', BARE_KEY_HINT.format('"caf\u00e9"')),
    ('[jobs.a]\r\nrepo = [\r\n  "acme/api",  # [web] later\r\n  "acme/web]"\r\n\r\n\r\n',
     "The array opened on line 2 is not closed: end it with ]."),
    ('[jobs.a]\nrepo = ["acme/api",\n\t"acme/web"\nprompt = "x"\n',
     "The array opened on line 2 is not closed: end it with ]."),
    ('[jobs.a]\nprompt = "x"\nrepo = ["acme/api",\n\n',
     "The array opened on line 3 is not closed: end it with ]."),
    # One item a line, each with its comma, the last one too: "Invalid value" at the
    # next key (or table) was all tomllib said.
    ('[jobs.a]\nrepo = [\n  "acme/api",\n  "acme/web",\nprompt = "x"\n',
     "The array opened on line 2 is not closed: end it with ]."),
    ('[jobs.a]\r\nrepo = [\r\n  "acme/api",  # first\r\n\r\n[jobs.b]\r\nrepo = "x"\r\n\r\n',
     "The array opened on line 2 is not closed: end it with ]."),
    ('\ufeff[jobs.a]\nrepo = ["acme/api",\n\tjob.timeout = "5m"\n',
     "The array opened on line 2 is not closed: end it with ]."),
    # An inline table over several lines (TOML 1.1, JSON, taplo's style) or with a
    # comma after its last entry: "Invalid initial character for a key part" was all.
    ('[jobs.a]\r\nrepo = "acme/api"\r\ngates = {\r\n  status = ["success"],\r\n}\r\n\r\n',
     INLINE_HINT.format(9, " ([jobs.a.gates])")),
    ('[jobs.a]\nrepo = "acme/api"\nretry = { attempts = 3,  # three\n  max_delay = "1m" }\n',
     INLINE_HINT.format(9, " ([jobs.a.retry])")),
    ('[jobs.a]\nrepo = "acme/api"\ngates = { status = ["success"]\n}\n',
     INLINE_HINT.format(9, " ([jobs.a.gates])")),
    ('[jobs.a]\nrepo = "acme/api"\nnotify = [{ webhook = "https://x.io/a",\n  on = ["failed"] }]\n',
     INLINE_HINT.format(11, "")),
    ('[jobs.a]\nrepo = "acme/api"\ngates = { status = ["success"], }\n',
     "The inline table opened at column 9 has a comma after its last entry: TOML allows "
     "none before its }; remove it."),
])
def test_a_paste_mistake_that_breaks_the_toml_is_explained(project, written: str,
                                                             said: str) -> None:
    """Quotes from a word processor, a key with an accent, an array never closed:
    "Invalid value" or "Invalid statement" alone did not say what to change."""
    project.path.write_bytes(written.encode())
    result = project.run("check")
    assert result.code == 2, result
    assert result.err.startswith("Error: invalid TOML:"), result
    assert result.err.splitlines()[-1] == said, result


@pytest.mark.parametrize("written", [
    '[jobs.a]\nrepo = "acme/api"\nprompt = "hi"\n[jobs.b',  # a header cut off at the end
    '[jobs.a]\r\nrepo = "acme/api"\r\n\t[jobs.b # next\r\n\r\n',
])
def test_a_table_header_left_open_is_not_said_to_be_an_array(project, written: str) -> None:
    # "The array opened on line 4 is not closed" was said of `[jobs.b` at the end
    project.path.write_bytes(written.encode())
    result = project.run("check")
    assert result.code == 2 and "invalid TOML" in result.err, result
    assert "array" not in result.err, result


@pytest.mark.parametrize("written", [
    '[jobs.a]\nrepo = [\n  "acme/api",\n  acme,\n]\n',  # a bare item: not a key's line
    '[jobs.a]\r\nrepo = [\r\n  "acme/api",\r\n  acme/web,  # unquoted\r\n]\r\n\r\n',
])
def test_a_bad_item_of_a_closed_array_is_not_said_to_be_unclosed(project, written) -> None:
    project.path.write_bytes(written.encode())
    result = project.run("check")
    assert result.code == 2 and "invalid TOML" in result.err, result
    assert "is not closed" not in result.err, result


@pytest.mark.parametrize(("value", "said"), [
    ("harness = codex", "A string is written in quotes: write 'codex'."),
    ("repo = acme/api  # ours", "A string is written in quotes: write 'acme/api'."),
    ('repo = ["acme/api", acme/web]', "A string is written in quotes: write 'acme/web'."),
    ("prompt = Fix the flaky test", "A string is written in quotes: write 'Fix the flaky test'."),
    ("timeout = 30m", "A string is written in quotes: write '30m'."),
    ("timeout = 1h30m\t# c", "A string is written in quotes: write '1h30m'."),
    ("create_branch = True", "TOML writes a boolean in lower case: true."),
])
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_value_written_without_its_quotes_is_explained(project, value, said, ending):
    """A shell's or YAML's habit (`harness = codex`, `timeout = 30m`, `True`) got
    tomllib's bare "Invalid value", or "Expected newline" past the digits."""
    lines = ["[jobs.a]", 'repo = "acme/api"', 'prompt = "p"', value, "", ""]
    project.path.write_bytes(ending.join(lines).encode())
    result = project.run("check")
    assert result.code == 2 and result.err.startswith("Error: invalid TOML:"), result
    assert result.err.splitlines()[-1] == said, result


@pytest.mark.parametrize("value", [
    'notify = [{ webhook = https://hooks.example.com/services/T0/B0/XYZ }]',
    "api_token = mog_live_abc123",
])
def test_an_unquoted_secret_is_not_repeated_in_the_hint(project, value):
    """The hint quotes only what the error's quoted line shows: never a URL's path
    the line masks, nor a value on a secret key's line (which is not quoted)."""
    project.path.write_bytes(f'[jobs.a]\nrepo = "acme/api"\nprompt = "p"\n{value}\n'.encode())
    result = project.run("check")
    assert result.code == 2 and "invalid TOML" in result.err, result
    assert "XYZ" not in result.err and "abc123" not in result.err, result
    assert "write" not in result.err, result


def test_a_crlf_file_with_a_real_syntax_error_names_no_invisible_character(project) -> None:
    project.path.write_bytes(b'[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x" x\r\n')
    result = project.run("check")
    assert result.code == 2 and "invalid TOML" in result.err
    assert "Column" not in result.err


@pytest.mark.parametrize(("written", "where", "caret"), [
    (b'prompt = "fix C:\\code\\x"\n', "3:17", 22),  # a Windows path
    (b'prompt = "fix C:\\Users\\x"\n', "3:17", 22),  # \U: "Invalid hex value"
    (b'prompt = """\r\nline one\r\nmatch \\d+ here\r\n"""\r\n\r\n', "5:7", 12),  # a regex
    (b'prompt = "abc\\\r\n"\r\n', "3:14", 19),  # a line continued, as in a shell
    (b'prompt = "abc\\\n"\n', "3:14", 19),
])
def test_a_backslash_that_starts_no_escape_is_pointed_at_and_explained(
        project, written: bytes, where: str, caret: int) -> None:
    """tomllib points two columns past the backslash and says only "Unescaped '\\'
    in a string": a Windows path or a regex pasted into a prompt was a puzzle."""
    project.path.write_bytes(b'[jobs.a]\r\nrepo = "acme/api"\r\n' + written)
    result = project.run("check")
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert lines[1].endswith(f":{where}"), result.err
    assert lines[3].index("^") == caret and lines[2][caret] == "\\", result.err
    assert "write \\\\ for one backslash, or use single quotes" in lines[4], result.err


@pytest.mark.parametrize("style", STYLES)
def test_a_dotted_job_header_suggests_quoting_the_name(project, style: str) -> None:
    # Job names may hold ".": [jobs.release.v1] is job "release" with a table "v1",
    # and the unknown key "v1" gave no hint of that.
    write(project, '# releases\n[jobs.release.v1]\nrepo = "acme/api"\nprompt = "x"\n\n'
                   '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\nretri = { attempts = 2 }\n',
          style)
    result = project.run("check")
    assert result.code == 2, result
    lines = result.err.splitlines()
    v1 = lines.index('Error: unknown key "v1" in job "release"')
    assert lines[v1 + 1].endswith("mogplex.toml:2:15")
    assert lines[v1 + 4] == ('A job name holding "." is quoted: write [jobs."release.v1"] '
                             '(without quotes, [jobs.release.v1] is a table "v1" inside job '
                             '"release").')
    retri = lines.index('Error: unknown key "retri" in job "a"')
    assert lines[retri + 4] == 'did you mean "retry"?'  # a typo of a key keeps its hint


@pytest.mark.parametrize("style", STYLES)
def test_a_dotted_job_header_is_one_error_not_three(project, style: str) -> None:
    # [jobs.release.v1] made a job "release" that also "has no repo" and "has no
    # prompt", and a need of "release.v1" an unknown job: all one mistake.
    write(project, '# releases\n[jobs.release.v1]\t# the first one\nrepo = "acme/api"\n'
                   'prompt = "x"\ntimeout = "25m"\n\n[jobs.notes]\nprompt = "Write notes."\n'
                   'needs = ["release.v1", "relase"]\n\n'
                   '[jobs.real]\nrepo = "acme/api"\nprompt = "x"\n[jobs.real.v2]\nrepo = "a/b"\n',
          style)
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors == [
        'Error: unknown key "v1" in job "release"',
        'Error: job "notes" has no repo',  # the file's other problems are still said
        'Error: job "notes" needs unknown job "relase"',
        'Error: unknown key "v2" in job "real"',  # a real job: only the table is wrong
    ]
    assert result.err.count('A job name holding "." is quoted') == 2, result.err
    assert result.err.endswith(f"4 problems in {project.path.resolve()}\n"), result.err
    shown = project.run("show", "notes")  # show counts the same problems, and no traceback
    assert shown.code == 2 and "Traceback" not in shown.err, shown
    assert shown.errors == ['Error: unknown key "v1" in job "release"'], shown
    assert "(3 more problems: run `mogrun check` to see them all)" in shown.err, shown


@pytest.mark.parametrize("style", STYLES)
def test_a_need_of_a_dotted_headers_first_part_says_the_header_makes_no_such_job(
        project, style: str) -> None:
    """``list`` shows [jobs.release.v1] as a job "release", so a need of "release"
    (written, or given to add --needs) was said to be an unknown job and no more."""
    write(project, '[jobs.release.v1]  # v1\nrepo = "acme/api"\nprompt = "x"\n\n'
                   '[jobs.notes]\nrepo = "acme/api"\nprompt = "y"\nneeds = ["release"]\n',
          style)
    hint = ('A job name holding "." is quoted: write [jobs."release.v1"] (without quotes, '
            '[jobs.release.v1] is a table "v1" inside job "release").')
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors[1] == 'Error: job "notes" needs unknown job "release"', result
    assert hint in result.err.splitlines(), result.err
    assert 'Then need it as "release.v1".' in result.err.splitlines(), result.err
    before = project.path.read_bytes()
    added = project.run("add", "v2", "--repo", "acme/api", "--prompt", "z", "--needs", "release")
    assert added.code == 2, added
    assert added.errors == ['Error: job "v2" needs unknown job "release"'], added
    assert hint in added.err.splitlines(), added.err
    assert project.path.read_bytes() == before


@pytest.mark.parametrize("style", STYLES)
def test_a_name_with_two_dots_is_quoted_whole(project, style: str) -> None:
    # [jobs.a.b.c] was told to write [jobs."a.b"], and a need of "a.b.c" was a
    # second problem: the hint names the whole name the header meant.
    write(project, '[jobs.deploy.eu.west]  # one region\nrepo = "acme/api"\nprompt = "x"\n\n'
                   '[jobs.notes]\nrepo = "acme/api"\nprompt = "x"\nneeds = ["deploy.eu.west"]\n',
          style)
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors == ['Error: unknown key "eu" in job "deploy"'], result
    assert ('write [jobs."deploy.eu.west"] (without quotes, [jobs.deploy.eu.west] is a '
            'table "eu" inside job "deploy")') in result.err, result.err


@pytest.mark.parametrize("style", STYLES)
def test_each_unknown_plugin_setting_is_said_at_its_own_key(project, style: str) -> None:
    # An unknown setting was said at the table's header (or the key's start),
    # and only the first of several: each is now said where it is written.
    write(project, '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n'
                   'gates = { status = ["success"], colour = 1, sise = 2 }\n\n'
                   '[[jobs.a.notify]]\nwebhook = "https://example.com/h"\n'
                   '# the team\'s\n\tchannel = "#ops"\n', style)
    result = project.run("check")
    assert result.code == 2, result
    lines = result.err.splitlines()
    said = {line: lines[index + 1] for index, line in enumerate(lines)
            if line.startswith("Error:")}
    assert [line.split(": ", 2)[2].split(";")[0] for line in said] == [
        'unknown gates setting "colour"', 'unknown gates setting "sise"',
        'unknown notify[1] setting "channel"'], result.err
    assert [where.rsplit(":", 2)[-2:] for where in said.values()] == [
        ["4", "33"], ["4", "45"], ["9", "2"]], result.err


@pytest.mark.parametrize("style", STYLES)
def test_an_unknown_table_value_hints_at_a_plugin_not_a_dotted_name(project, style: str) -> None:
    # `edit_gate = { ... }` (the examples/edit-gate file without its plugin) was told
    # to quote a job name "fix.edit_gate": no header or dotted key wrote a name there.
    write(project, '[jobs.fix]\nrepo = "acme/api"\nprompt = "x"\n'
                   '\t"edit_gate" = { tool = "edit_file" }  # the team\'s plugin\n\n'
                   '[jobs]\nrelease.v1.repo = "acme/api"\n', style)
    result = project.run("check", plugins=True)
    assert result.code == 2, result
    assert 'Error: unknown key "edit_gate" in job "fix"' in result.errors, result
    assert ("A job key a plugin declares needs that plugin loaded: [mogplex] plugins, -p, "
            "or the plugin installed") in result.err, result.err
    assert 'write [jobs."fix.edit_gate"]' not in result.err, result.err
    assert 'write [jobs."release.v1"]' in result.err, result.err  # a dotted key: a name
    # With --no-plugins, that is what left every plugin out: the hint says so.
    result = project.run("check")
    assert result.code == 2, result
    assert ("A job key a plugin declares needs that plugin loaded: --no-plugins left out "
            "every plugin but the bundled ones") in result.err, result.err


def test_a_prompt_file_that_is_not_utf8_is_said_as_the_task_file_is(project) -> None:
    # Python's codec error came through: "'utf-8' codec can't decode byte 0xff in
    # position 0: invalid start byte".
    (project.root / "u16.md").write_bytes("Say hi.\r\n".encode("utf-16"))  # Notepad's "Unicode"
    (project.root / "latin1.md").write_bytes(b"# Prompt\r\n\tCaf\xe9 menu\r\n\r\n")
    project.write('# prompts\r\n[jobs.a]\r\nrepo = "acme/api"\r\nprompt_file = "u16.md"\r\n\r\n'
                  '[jobs.b]\r\nrepo = "acme/api"\r\nprompt_file = "latin1.md"  # old\r\n')
    result = project.run("check")
    assert result.code == 2, result
    errors = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert errors == [
        'Error: job "a", key "prompt_file": prompt file u16.md is UTF-16 text, not UTF-8 (it '
        "starts with a UTF-16 byte order mark): save it as UTF-8",
        'Error: job "b", key "prompt_file": prompt file latin1.md is not UTF-8 text (byte 0xe9 '
        "on line 2): save it as UTF-8"]
    project.path.write_bytes('[jobs.a]\r\nrepo = "acme/api"\r\n'.encode("utf-16"))
    result = project.run("check")
    assert (result.code, result.err.splitlines()[0]) == (
        2, "Error: task file is UTF-16 text, not UTF-8 (it starts with a UTF-16 byte order "
           "mark): save it as UTF-8")


@pytest.mark.parametrize("command", [("check",), ("show", "a")])
def test_a_utf16_prompt_file_without_a_byte_order_mark_is_refused(project, command) -> None:
    # UTF-16LE of ASCII text is valid UTF-8 with a NUL after each letter: check passed
    # and show sent "h\u0000i\u0000..." as the prompt
    (project.root / "p.md").write_bytes("Fix it.\r\nThen test.\r\n".encode("utf-16-le"))
    project.write('[jobs.a]  # nightly\r\nrepo = "acme/api"\r\nprompt_file = "p.md"\r\n\r\n')
    result = project.run(*command)
    assert result.code == 2, result
    assert result.errors == [
        'Error: job "a", key "prompt_file": prompt file p.md is not UTF-8 text (a NUL byte on '
        "line 1: UTF-16 without a byte order mark?): save it as UTF-8"], result


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_said_whatever_letters_it_holds(project,
                                                                          codec) -> None:
    """UTF-16 of a letter beyond ASCII is no UTF-8 either: a file holding one (the é
    of a French prompt) was said as a Latin-1 one, "byte 0xe9 on line 1", its line
    quoted as U+FFFD after each letter, and nothing of UTF-16."""
    said = ("is not UTF-8 text (a NUL byte on line 1: UTF-16 without a byte order mark?): "
            "save it as UTF-8")
    (project.root / "p.md").write_bytes("Corrige l'été.\r\n".encode(codec))
    project.write('[jobs.a]  # nightly\r\nrepo = "acme/api"\r\nprompt_file = "p.md"\r\n\r\n')
    result = project.run("check")
    assert result.errors == [f'Error: job "a", key "prompt_file": prompt file p.md {said}'], result
    project.path.write_bytes('# café\r\n[jobs.a]\r\nrepo = "acme/api"\r\n'.encode(codec))
    for command in ("check", "list"):
        result = project.run(command)
        assert result.code == 2, result
        assert result.err.splitlines() == [f"Error: task file {said}",
                                           f"  --> {project.path}:1"], result


@pytest.mark.parametrize("written", [
    # show named "description" (a type error, found first) where check lists the
    # missing repo above it first.
    '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n[jobs.b]\nprompt = "x"\ndescription = 5\n',
    '# ours\r\n[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n[jobs.b]\r\n'
    '\tprompt = "x"  # no repo\r\n\ttimeout = "soon"\r\nneeds = 3\r\n\r\n',
    '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\nneeds = ["b"]\n\n[jobs.b]\nrepo = "acme/web"\n'
    'prompt = "{{ nope }}"\n[jobs.c]\nrepo = "x/y"\nprompt = "y"\nharness = 1\n\n\n',
])
def test_show_stops_at_the_problem_check_lists_first(project, written: str) -> None:
    project.path.write_bytes(written.encode())
    checked, shown = project.run("check"), project.run("show", "a")
    assert checked.code == shown.code == 2, (checked, shown)
    first = checked.err.splitlines()[0]
    assert shown.err.splitlines()[0] == first, (checked.err, shown.err)
    count = int(checked.err.splitlines()[-1].split()[0])
    assert f"({count - 1} more problem" in shown.err


@pytest.mark.parametrize("default", ['timeout = "30 min"', 'harness = "claude"'])
def test_a_wrong_default_hides_no_problem_of_the_jobs_inheriting_it(project, default) -> None:
    """The jobs inheriting a wrongly typed [defaults] key were not checked at all:
    fixing the default revealed their own problems in a second round, where the docs
    promise every problem in one go."""
    jobs = """
        [jobs.hello]
        repo = "api"
        promt = "Say hello."
        prompt_file = "missing.md"
    """
    first = check(project, f"[defaults]\n{default}\n" + jobs)
    assert "4 problems in" in first, first
    second = check(project, jobs)
    assert "3 problems in" in second, second
    said = [line for line in second.splitlines() if line.startswith("Error: ")]
    assert all(line in first.splitlines() for line in said), (said, first)


def test_a_need_listed_twice_is_refused_at_the_repeat(project) -> None:
    """A repo listed twice was refused and a need listed twice passed check; the
    repeat is a slip either way (actionlint says so of a workflow's needs)."""
    project.path.write_bytes(b'[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n'
                             b'[jobs.b]\r\nrepo = "acme/api"\r\nprompt = "y"\r\n'
                             b'needs = [\r\n  "a",  # first\r\n\t"a",  # again\r\n]\r\n\r\n')
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors == ['Error: job "b", key "needs" lists \'a\' twice'], result
    assert "mogplex.toml:10:2" in result.err, result.err


@pytest.mark.parametrize(("written", "said"), [
    ("prompts/p.md ", "prompt file 'prompts/p.md ' does not exist (relative to {root}); did you "
     "mean 'prompts/p.md'? (the same without the blanks around it)"),
    ("prompts/p.md\t", 'prompt file "prompts/p.md\\t" does not exist (relative to {root}); '
     "did you mean 'prompts/p.md'? (the same without the blanks around it)"),
    ("prompts\\p.md", "prompt file prompts\\p.md does not exist (relative to {root}); did you "
     "mean 'prompts/p.md'? (a task file's paths use / between folders, on every system)"),
    ("prompts\\nope.md", "prompt file prompts\\nope.md does not exist (relative to {root})"),
    ("Prompts/P.md", "prompt file Prompts/P.md does not exist (relative to {root}); did you "
     "mean 'prompts/p.md'? (the folder spells its names in another case: Linux, as on a CI "
     "runner, tells the two apart; macOS and Windows do not)"),
    ("PROMPTS\\p.md ", "prompt file 'PROMPTS\\p.md ' does not exist (relative to {root}); did "
     "you mean 'prompts/p.md'? (the same without the blanks around it; the folder spells its "
     "names in another case: Linux, as on a CI runner, tells the two apart; macOS and Windows "
     "do not)"),
    ("prompts/P.txt", "prompt file prompts/P.txt does not exist (relative to {root})"),
])
def test_a_prompt_file_written_with_a_blank_a_backslash_or_in_another_case_is_said_so(
        project, written, said) -> None:
    """A pasted trailing blank was invisible in "prompt file prompts/p.md  does not
    exist" beside a prompts/p.md that does; so was a path written on Windows, and
    one whose case only a Mac's or a Windows disk took for the file's (CI's Linux
    said it does not exist, beside the file)."""
    (project.root / "prompts").mkdir()
    (project.root / "prompts" / "p.md").write_text("Do it.\n", encoding="utf-8")
    value = written.replace("\\", "\\\\").replace("\t", "\\t")
    project.path.write_bytes(f'[jobs.a]\r\nrepo = "acme/api"\r\nprompt_file = "{value}"\r\n'
                             "\r\n".encode())
    result = project.run("check")
    assert result.code == 2, result
    headline = result.err.splitlines()[0]
    root = project.path.parent.resolve()
    assert headline == f'Error: job "a", key "prompt_file": {said.format(root=root)}', result
    assert f"{project.path.name}:3:1" in result.err, result


@pytest.mark.parametrize(("written", "where", "shown"), [
    ('[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "caf\u00e9 cr\u00e8me"  # ok\r\n'.encode("latin-1"),
     "3:14", '  3 | prompt = "caf\ufffd cr\ufffdme"  # ok'),
    (b"\xef\xbb\xbfd\xe9 = 1\n", "1:2", "  1 | d\ufffd = 1"),  # the BOM is no column
    (b'[jobs.a]\nrepo = "acme/api"\ntoken = "s\xe9cret"\n', "3:11", None),  # not quoted
])
def test_a_byte_that_is_not_utf8_is_located_at_its_column(project, written, where,
                                                           shown) -> None:
    """A Latin-1 file said only the line of its first odd byte, which a long line
    (a prompt) hid; every other problem gives the column, the line and a caret."""
    project.path.write_bytes(written)
    for command in ("check", "list"):
        result = project.run(command)
        assert result.code == 2, result
        lines = result.err.splitlines()
        assert lines[0].startswith("Error: task file is not UTF-8 text (byte 0x"), result
        assert lines[1].endswith(f"{project.path.name}:{where}"), result
        if shown is None:
            assert len(lines) == 2, result
        else:
            column = int(where.split(":")[1])
            assert lines[2:4] == [shown, " " * (len("  1 | ") + column - 1) + "^"], result


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_an_entry_of_a_list_that_is_no_string_is_located_at_the_entry(project, ending):
    """`repo = ["acme/api", 3]` and a needs list written one entry a line were
    located at the key, whatever the entry: a fan-out lists dozens."""
    lines = ["[jobs.a]", 'repo = ["acme/api", 3]', 'prompt = "p"', "needs = [", '  "b",',
             "  { name = 'c' },  # a table", "]", "", "[jobs.b]", 'repo = "x/y"', 'prompt = "p"',
             "", ""]
    project.path.write_bytes(ending.join(lines).encode())
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors == [
        'Error: job "a", key "repo" must list repos (owner/name or id) as strings, '
        "not an integer",
        'Error: job "a", key "needs" must list job names as strings, not a table'], result
    assert [place.rsplit(":", 2)[1:] for place in re.findall(r"--> (\S+)", result.err)] == [
        ["2", "21"], ["6", "3"]], result


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
@pytest.mark.parametrize(("lines", "marker"), [
    (['repo = "acme/api"', "<<<<<<< HEAD", 'prompt = "p"', "=======", 'prompt = "q"',
      ">>>>>>> feature"], 3),
    (["repo = [", '  "acme/api",', "<<<<<<<", '  "acme/web",', "=======", '  "acme/w",',
      ">>>>>>> 1a2b3c (rename)", "]", 'prompt = "p"'], 4),
])
def test_a_merge_conflict_left_in_the_file_is_named(project, lines, marker, ending):
    """git's markers after a merge got tomllib's 'Invalid statement' (or 'Invalid
    value' inside an array) and nothing of the conflict."""
    project.path.write_bytes(ending.join(["[jobs.a]", *lines, "", ""]).encode())
    result = project.run("check")
    assert result.code == 2 and result.err.startswith("Error: invalid TOML:"), result
    assert result.err.splitlines()[-1] == (
        f"Line {marker} starts a merge conflict git left in the file (<<<<<<<): keep the "
        "side you want and delete the <<<<<<<, ======= and >>>>>>> lines."), result
