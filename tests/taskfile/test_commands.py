"""list, check (warnings), show, init and add through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MINIMAL = '[jobs.hello]\nrepo = "acme/api"\nprompt = "Say hello."\n'

REPO_ID = "5c0ffee0-1234-4321-8abc-0123456789ab"  # a repo named by id: ids are UUIDs
TEAM = """
# team file
[defaults]
harness = "codex"

[jobs.weekly]
description = "Weekly   cleanup"
repo = "acme/api"
prompt = "hook {{ env.HOOK }}"
notify = [{ webhook = "{{ env.HOOK }}" }]

[jobs.fan]
repo = ["acme/api", "5c0ffee0-1234-4321-8abc-0123456789ab"]
prompt = "x"
needs = ["weekly"]
custom_plugin_key = 1
"""


def test_list_is_a_plain_table_and_tolerates_plugin_keys(project) -> None:
    project.write(TEAM)
    result = project.run("list")
    assert result.code == 0, result
    assert result.out.splitlines() == [
        "job     description     repos                                           harness  needs",
        "------  --------------  ----------------------------------------------  -------  ------",
        "weekly  Weekly cleanup  acme/api                                        codex    -",
        f"fan                     acme/api, {REPO_ID}  codex    weekly",
    ]


def test_list_json_is_one_object_per_job(project) -> None:
    project.write(TEAM)
    result = project.run("--json", "list")
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert rows[1] == {"job": "fan", "description": "", "repos": ["acme/api", REPO_ID],
                       "harness": "codex", "needs": ["weekly"]}
    assert len(rows) == 2


def test_a_big_fan_out_is_one_short_row_of_list(project) -> None:
    """A 1,000-repo fan-out put every repo in its cell: each row of the table was
    12,000 characters wide. The cell names three and counts the rest; --json keeps
    them all."""
    repos = ", ".join(f'"acme/r{n:04d}"' for n in range(1000))
    project.write(f'[jobs.big]\nrepo = [{repos}]\nprompt = "x"\n\n'
                  '[jobs.one]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run("list")
    assert result.code == 0, result
    rows = result.out.splitlines()
    assert "acme/r0000, acme/r0001, acme/r0002 and 997 more" in rows[2], rows
    assert max(map(len, rows)) < 100, rows
    listed = json.loads(project.run("--json", "list").out.splitlines()[0])
    assert len(listed["repos"]) == 1000


def test_bare_mogrun_lists(project) -> None:
    project.write(MINIMAL)
    assert project.run().out.startswith("job    description  repos")


def test_discovery_walks_up_and_honours_mogrun_file(project, monkeypatch) -> None:
    project.write(MINIMAL)
    deep = project.root / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert "hello" in project.run("list").out
    other = project.write(MINIMAL.replace("hello", "other"), name="x/other.toml")
    monkeypatch.setenv("MOGRUN_FILE", str(other))
    assert "other" in project.run("list").out
    assert "hello" in project.run("-f", str(project.path), "list").out


def test_check_warns_about_unset_env_and_command_names(project) -> None:
    project.write(TEAM.replace("custom_plugin_key = 1\n", "") + MINIMAL.replace("hello", "list"))
    result = project.run("check")
    assert result.code == 0, result
    assert result.err.splitlines() == [  # each at its job (check --json gave none)
        f'warning: {project.job_at("list")}: job "list" has the name of a command: `mogrun '
        "list` runs the command; use `mogrun run list`",
        f'warning: {project.job_at("weekly")}: job "weekly" uses env.HOOK, which is not set '
        "here (it must be set when this job runs)",
    ]
    assert result.out == f"{project.path.resolve()}: ok (3 jobs)\n"


def test_check_json_gives_warnings_in_the_shape_of_errors(project) -> None:
    """Errors were objects (message, context, file, line, column), warnings bare
    strings, a schedule's with its place written into its text."""
    project.path.write_bytes(
        b"# the team's jobs\r\n[jobs.list]  # named like a command\r\n"
        b'repo = "acme/api"\r\nprompt = "Say hello."\r\n'
        b'schedule = "0 6 * * *"  # on the hour\r\n\r\n\r\n')
    result = project.run("--json", "check")
    assert result.code == 0, result
    report = json.loads(result.out)
    path = str(project.path.resolve())
    assert report["warnings"] == [
        {"message": 'job "list" has the name of a command: `mogrun list` runs the command; '
                    "use `mogrun run list`",
         "context": [], "file": path, "line": 2, "column": 7},
        {"message": 'job "list", key "schedule": "0 6 * * *" runs at minute 0, when GitHub\'s '
                    "scheduled workflows are most often delayed or dropped under load; pick "
                    "another minute (e.g. 17)",
         "context": [], "file": path, "line": 5, "column": 1},
    ], report
    # The plain form is as before: the place starts the schedule's line.
    said = project.run("check").err.splitlines()
    assert said[1].startswith(f'warning: {path}:5:1: job "list", key "schedule": '), said


def test_check_warns_of_job_names_that_differ_only_in_case(project) -> None:
    """ci github refuses them (GitHub compares names ignoring case); a CI step that
    runs check first said ok."""
    project.write('[defaults]\nrepo = "acme/api"\nprompt = "x"\n\n'
                  '[jobs.weekly]\n[jobs.Weekly]\n[jobs.WEEKLY]\n[jobs.daily]\n')
    result = project.run("check")
    assert result.code == 0, result
    assert result.err.splitlines() == [
        f'warning: jobs "weekly" and "{name}" differ only in case, and GitHub compares names '
        "ignoring case: a workflow could not start one without the other (`mogrun ci github` "
        "refuses it)" for name in ("Weekly", "WEEKLY")]


@pytest.mark.parametrize("name", ["all", "ALL", "All"])
def test_check_warns_of_a_scheduled_job_named_like_the_all_choice(project, name) -> None:
    """ci github refuses it (choosing it in a dispatch would run every job); check
    said ok."""
    project.write('[defaults]\nrepo = "acme/api"\nprompt = "x"\n\n'
                  f'[jobs.{name}]\nschedule = "17 6 * * 1"\n[jobs.b]\n')
    result = project.run("check")
    assert result.code == 0, result
    assert result.err.splitlines() == [
        f'warning: job "{name}" is scheduled, and "all" is the name of the workflow\'s manual '
        "choice that runs every scheduled job: choosing the job would run them all "
        "(`mogrun ci github` refuses it)"]
    project.write(f'[defaults]\nrepo = "acme/api"\nprompt = "x"\n\n[jobs.{name}]\n')
    assert project.run("check").err == ""  # unscheduled, it is no dispatch choice


def test_check_warns_of_cancel_on_timeout_written_for_an_automation_job(project) -> None:
    """Its runs cannot be cancelled: at the timeout one is left running, which
    check said nothing of. Inherited from [defaults] (for the agent jobs) it is
    not the job's own word, and detach says what happens."""
    project.write('[defaults]\non_timeout = "cancel"\n\n'
                  '[jobs.triage]\nrepo = "acme/api"\nautomation = "issue-triage"\n'
                  'on_timeout = "cancel"\n\n'
                  '[jobs.inherits]\nrepo = "acme/api"\nautomation = "issue-triage"\n\n'
                  '[jobs.detached]\nrepo = "acme/api"\nautomation = "issue-triage"\n'
                  'on_timeout = "detach"\n\n'
                  '[jobs.agent]\nrepo = "acme/api"\nprompt = "x"\non_timeout = "cancel"\n')
    result = project.run("check")
    assert result.code == 0, result
    assert result.err.splitlines() == [
        f'warning: {project.job_at("triage", "on_timeout")}: job "triage" sets on_timeout = '
        '"cancel", but an automation\'s runs cannot be cancelled (the API has none for '
        'them): at the timeout the run is left running; write on_timeout = "detach" to say so']


def test_check_json(project) -> None:
    project.write(TEAM)
    result = project.run("--json", "check")
    report = json.loads(result.out)
    assert result.code == 2
    assert report["ok"] is False
    assert report["errors"][0]["message"] == 'unknown key "custom_plugin_key" in job "fan"'
    assert report["errors"][0]["line"] == 15


def test_show_prints_the_exact_request_with_secrets_masked(project, monkeypatch) -> None:
    monkeypatch.setenv("HOOK", "https://hooks.example.com/T0/secret")
    project.write(TEAM.replace("custom_plugin_key = 1\n", ""))
    result = project.run("show", "fan")
    assert result.code == 0, result
    assert "secret" not in result.out
    lines = result.out.splitlines()
    assert lines[:4] == ["job weekly", "  description: Weekly   cleanup", "  harness: codex",
                         "  timeout: 30m (then cancel)"]
    assert lines[4].startswith('  notify: [{"webhook": "***", "on": [')
    assert "    POST https://mogplex.com/api/v1/mogplex/runs" in lines
    assert "    Authorization: Bearer mog_***" in lines
    assert "    Content-Type: application/json" in lines
    assert '      "prompt": "hook ***",' in lines
    assert ('    note: repoId "acme/api" is an owner/name; it is resolved to the repo\'s id '
            "through GET /repos when the job runs") in lines
    fan_part = result.out.split("job fan")[1]
    assert f"  run fan:{REPO_ID}" in fan_part
    assert fan_part.count("note: repoId") == 1  # a repo id needs no resolving


def test_show_keeps_a_pasted_line_separator_inside_its_line_of_the_body(project) -> None:
    """A prompt pasted from a web page or a word processor holds U+2028 (or NEL,
    U+0085): show split the request body there, so the "exact request" read as
    a prompt of three lines, none of them the JSON that is sent."""
    project.write('[jobs.docs]\nrepo = "acme/api"\n'
                  'prompt = "Fix the docs.\u2028Then the tests.\\u0085Done."\n\n')
    result = project.run("show", "docs")
    assert result.code == 0, result
    lines = result.out.split("\n")
    assert '      "prompt": "Fix the docs.\\u2028Then the tests.\\u0085Done.",' in lines, result
    assert not set(result.out) & {"\u2028", "\x85"}


def test_show_json_one_object_per_job_needs_first(project, monkeypatch) -> None:
    monkeypatch.setenv("HOOK", "https://hooks.example.com/T0/secret")
    project.write(TEAM.replace("custom_plugin_key = 1\n", ""))
    result = project.run("--json", "--url", "https://eu.mogplex.com", "show", "fan")
    docs = [json.loads(line) for line in result.out.splitlines()]
    assert [d["job"] for d in docs] == ["weekly", "fan"]
    request = docs[1]["runs"][1]["request"]
    assert request["url"] == "https://eu.mogplex.com/api/v1/mogplex/runs"
    assert request["headers"]["Idempotency-Key"].endswith(f":{REPO_ID}")
    assert request["body"] == {"repoId": REPO_ID, "prompt": "x", "harness": "codex",
                               "createBranch": False}
    assert "secret" not in result.out


KEY_NOTE = ("    note: this Idempotency-Key is made anew at each invocation (the task file "
            "names no idempotency_key, or --rerun suffixes it): the run sends its own")


def test_show_says_which_keys_are_made_per_invocation_and_each_schedule(project) -> None:
    """show printed a key mogrun made for this invocation as the exact one, and the
    run sent another; and it left out the schedule (its own, or [defaults]'), which
    list shows. Both are said now, in text and --json."""
    project.path.write_bytes(
        b'# nightly\r\n[defaults]\r\nschedule = "17 6 1 * 1"  # monthly\r\n\r\n'
        b'[jobs.made]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n'
        b'[jobs.kept]\r\nrepo = "acme/api"\r\nprompt = "y"\r\nidempotency_key = "kept-1"\r\n'
        b'schedule = ["0 3 * * *", "30 4 * * 1-5"]\r\n\r\n')
    first, second = (project.run("show", "made", "kept") for _ in range(2))
    assert first.code == second.code == 0, first
    made, kept = first.out.split("\njob kept\n")
    keys = [line for line in (first.out + second.out).splitlines()
            if line.startswith("    Idempotency-Key:")]
    assert len(set(keys)) == 3 and keys.count("    Idempotency-Key: kept-1") == 2, keys
    assert KEY_NOTE in made.splitlines() and KEY_NOTE not in kept.splitlines(), first.out
    assert "  schedule: 17 6 1 * 1 (next run " in made, made
    assert "  schedule: 0 3 * * *, 30 4 * * 1-5 (next run " in kept, kept
    docs = [json.loads(line) for line in project.run("--json", "show", "made", "kept")
            .out.splitlines()]
    assert [(d["schedule"], d["runs"][0]["key_per_invocation"]) for d in docs] == [
        (["17 6 1 * 1"], True), (["0 3 * * *", "30 4 * * 1-5"], False)], docs
    assert all(d["next_run"].endswith("Z") for d in docs), docs
    rerun = project.run("run", "-n", "--rerun", "kept")  # a suffix made per invocation
    assert rerun.code == 0 and KEY_NOTE in rerun.out.splitlines(), rerun


def test_show_unknown_job_and_unset_env(project) -> None:
    project.write(TEAM.replace("custom_plugin_key = 1\n", ""))
    result = project.run("show", "fann")
    assert (result.code, result.err.splitlines()[:2]) == (
        2, ['Error: unknown job "fann" in mogplex.toml', 'did you mean "fan"?'])
    result = project.run("show", "fan")
    assert result.code == 2
    assert result.err.splitlines()[0] == ('Error: job "weekly", key "notify": environment '
                                          "variable HOOK is not set (used by {{ env.HOOK }})")


def test_set_overrides_vars_in_show(project) -> None:
    project.write('[vars]\nteam = "a"\n[jobs.j]\nrepo = "acme/r"\nprompt = "team {{ team }}"\n')
    result = project.run("--json", "--set", "team=b", "show", "j")
    assert json.loads(result.out)["runs"][0]["request"]["body"]["prompt"] == "team b"


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(project) -> None:
    (project.root / ".gitignore").write_text("build/")
    result = project.run("init")
    assert result.code == 0, result
    assert (project.root / ".gitignore").read_text() == "build/\n.mogrun/\n"
    assert project.path.read_text().startswith("# mogplex.toml: jobs for Mogplex cloud agents")
    assert project.run("check").code == 0
    before = project.path.read_bytes()
    again = project.run("init")
    assert again.code == 2
    assert again.err.startswith(f"Error: {project.path} already exists; not overwriting it")
    assert project.path.read_bytes() == before
    assert (project.root / ".gitignore").read_text() == "build/\n.mogrun/\n"


def test_init_again_at_f_path_says_how_to_add_to_that_file(project) -> None:
    """The hint left -f out: followed, `mogrun add` found no task file here."""
    assert project.run("-f", "ci/x.toml", "init").code == 0
    again = project.run("-f", "ci/x.toml", "init")
    assert again.code == 2, again
    assert "Add jobs to it with `mogrun -f ci/x.toml add JOB --repo R --prompt P`." in again.err
    added = project.run("-f", "ci/x.toml", "add", "j", "--repo", "acme/api", "--prompt", "p")
    assert added.code == 0, added


def test_init_in_a_subfolder_says_the_task_file_above_is_no_longer_found(project) -> None:
    """Every command run in sub/ took ../mogplex.toml; init there made sub/ its own
    without a word, and the next `mogrun list` showed another file's jobs."""
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    (project.root / "sub").mkdir()
    made = project.run("init", cwd=project.root / "sub")
    assert made.code == 0, made
    assert (f"note: {project.path} is no longer found from {project.root / 'sub'}: this one "
            "comes first there") in made.out.splitlines(), made.out
    alone = project.run("-f", "solo.toml", "init", cwd=project.root / "sub")
    assert "no longer found" not in alone.out  # another name: nothing is hidden


def test_init_and_add_keep_stdout_json_only_under_json(project) -> None:
    # `mogrun --json init` and `--json add` printed "Created ..." / "Added ..." on
    # stdout, which --json keeps for JSON lines only: a pipe into jq broke.
    project.path.unlink(missing_ok=True)
    (project.root / ".gitignore").write_bytes(b"build/\r\n")
    made = project.run("--json", "init")
    assert made.code == 0, made
    assert made.out == ""
    assert "Created " in made.err and "Added .mogrun/ to " in made.err and "Next: " in made.err
    added = project.run("add", "lint", "--repo", "acme/api", "--prompt", "x", "--json")
    assert added.code == 0, added
    assert added.out == "" and f'Added job "lint" to {project.path}' in added.err
    plain = project.run("add", "docs", "--repo", "acme/api", "--prompt", "y")
    assert plain.out.startswith('Added job "docs"')  # without --json: stdout, as before


def test_init_next_hint_quotes_a_file_name_a_shell_can_paste(project) -> None:
    # The hint quoted a name holding a newline as 'a\nb.toml', which bash reads as
    # a backslash and an n: the pasted command named another file.
    import subprocess

    made = project.run("-f", "a\nb.toml", "init")
    assert made.code == 0, made
    hint = next(line for line in made.out.splitlines() if line.startswith("Next: "))
    word = hint.split("mogrun -f ", 1)[1].split(" list,", 1)[0]
    assert word == "$'a\\nb.toml'"
    echoed = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True,
                            text=True, check=True).stdout
    assert echoed == "a\nb.toml" and (project.root / echoed).is_file()


def test_add_appends_and_keeps_every_byte(project) -> None:
    original = ("# top comment\r\n\r\n[vars]  # trailing\r\nteam = 'x'\r\n\r\n\r\n"
                "[jobs.hello]\r\nrepo = \"a/b\"\r\nprompt = \"\"\"\r\nmulti\r\n\"\"\"")
    project.path.write_bytes(original.encode())
    result = project.run("add", "lint", "--repo", "acme/api", "--repo", "acme/web",
                         "--prompt", 'Fix "lint"\nwarnings', "--needs", "hello",
                         "--description", "Lint it")
    assert result.code == 0, result
    text = project.path.read_bytes().decode()
    assert text.startswith(original)
    # The new job takes the file's own line endings (CRLF here).
    assert text[len(original):] == ('\r\n\r\n[jobs.lint]\r\ndescription = "Lint it"\r\n'
                                    'repo = ["acme/api", "acme/web"]\r\n'
                                    'prompt = """Fix "lint"\r\nwarnings"""\r\n'
                                    'needs = ["hello"]\r\n')
    shown = json.loads(project.run("--json", "show", "lint", "--no-deps").out)
    assert shown["runs"][0]["request"]["body"]["prompt"] == 'Fix "lint"\nwarnings'


def test_add_judges_set_like_every_command_that_loads_the_file(project) -> None:
    original = b'# team file\r\n[vars]\r\nteam = "x"\r\n\r\n[jobs.hello]\r\nrepo = "a/b"\r\n' \
               b'prompt = "hi"\r\n\r\n'
    project.path.write_bytes(original)
    result = project.run("--set", "teem=y", "add", "lint", "--repo", "acme/api",
                         "--prompt", "Fix it for {{ team }}")
    assert (result.code, result.err) == (
        2, 'Error: --set teem: no [vars] entry or template of mogplex.toml uses "teem"\n'
           'did you mean "team"?\n')
    assert project.path.read_bytes() == original  # nothing written
    # A name only this line gives is no name of the file's: every later check (no
    # --set) would refuse the job, so add writes nothing (it wrote the job before).
    result = project.run("--set", "region=eu", "add", "lint", "--repo", "acme/api",
                         "--prompt", "Fix {{ region }}")
    assert result.code == 2, result
    assert result.errors == ['Error: job "lint", key "prompt": unknown template name "region" '
                             "in {{ region }}"]
    assert project.path.read_bytes() == original


def test_add_refuses_duplicates_and_unknown_needs(project) -> None:
    project.write(MINIMAL)
    before = project.path.read_bytes()
    result = project.run("add", "hello", "--repo", "a/b", "--prompt", "x")
    assert (result.code, result.err) == (2, 'Error: job "hello" already exists; choose another '
                                            "name\n")
    result = project.run("add", "new", "--repo", "a/b", "--prompt", "x", "--needs", "nope")
    assert (result.code, result.err) == (2, 'Error: --needs names unknown job "nope"\n')
    result = project.run("add", "new", "--repo", "a/b", "--prompt", "x", "--needs", "HELLO")
    assert (result.code, result.err) == (2, 'Error: --needs names unknown job "HELLO"\n'
                                            'did you mean "hello"?\n')
    assert project.path.read_bytes() == before


def test_a_non_ascii_job_name_gets_one_rule_from_add_and_check(project) -> None:
    """é is a letter: "use letters" did not say why "héllo" was refused, and
    add and check each wrote the rule their own way."""
    rule = 'use ASCII letters, digits, "-", "_" and "." (not starting with "-" or ".")'
    project.write(MINIMAL)
    result = project.run("add", "héllo", "--repo", "a/b", "--prompt", "x")
    assert (result.code, result.err) == (2, f'Error: invalid job name "héllo": {rule}\n')
    project.write(MINIMAL + '[jobs."héllo"]\r\nrepo = "a/b"\r\nprompt = "x"\r\n\r\n')
    result = project.run("check")
    assert result.code == 2
    assert result.err.splitlines()[0] == f'Error: invalid job name "héllo": {rule}'


def test_a_job_name_with_a_quote_is_said_escaped(project) -> None:
    # 'invalid job name "a"b"' did not say where the name ended
    project.write(MINIMAL)
    result = project.run("add", "--repo", "a/b", "--prompt", "x", "--", 'a"b\t')
    assert result.err.startswith('Error: invalid job name "a\\"b\\t": '), result
    project.write(MINIMAL + '[jobs."a\\"b"]  # pasted\r\nrepo = "a/b"\r\nprompt = "x"\r\n\r\n')
    checked = project.run("check")
    assert checked.err.splitlines()[0].startswith('Error: invalid job name "a\\"b": '), checked


def test_example_file_checks_and_its_fan_out_is_keyed_per_repo(project, monkeypatch) -> None:
    shutil.copy(REPO_ROOT / "mogplex.toml.example", project.path)
    shutil.copytree(REPO_ROOT / "prompts", project.root / "prompts")
    result = project.run("check")
    assert result.code == 0, result
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/zzzz")
    docs = [json.loads(x) for x in project.run("--json", "show", "codemod").out.splitlines()]
    keys = [r["request"]["headers"]["Idempotency-Key"] for r in docs[1]["runs"]]
    assert len(keys) == 3 and all(k.endswith(":" + r) for k, r in
                                  zip(keys, ["acme/api", "acme/web", "acme/worker"], strict=True))
    assert "zzzz" not in json.dumps(docs)
    assert len(project.run("--json", "list").out.splitlines()) >= 5


def test_shell_completion_offers_commands_and_job_names(project) -> None:
    import os
    import subprocess
    import sys

    project.write(MINIMAL + '[jobs.codemod]\nrepo = "r"\nprompt = "x"\n')
    env = {**os.environ, "_MOGRUN_COMPLETE": "bash_complete", "COMP_WORDS": "mogrun c",
           "COMP_CWORD": "1"}
    code = "from mogrun.cli.main import cli; cli(prog_name='mogrun')"
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=project.root,
                          capture_output=True, text=True, timeout=30)
    assert done.stdout.split() == ["plain,cancel", "plain,check", "plain,ci", "plain,completion",
                                   "plain,codemod"]
    env["COMP_WORDS"], env["COMP_CWORD"] = "mogrun show ", "2"
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=project.root,
                          capture_output=True, text=True, timeout=30)
    assert done.stdout.split() == ["plain,hello", "plain,codemod"]


def test_list_imports_no_plugin_http_editing_or_rich_code(project) -> None:
    import subprocess
    import sys

    project.write(MINIMAL + '[jobs.x]\nrepo = "r"\nprompt = "p"\nplugin_only_key = 1\n')
    code = ("import sys; from mogrun.cli.main import run_cli; rc = run_cli(['list']); "
            "heavy = ('pluggy', 'urllib3', 'tomlkit', 'sqlite3', 'importlib.metadata', "
            "'mogrun.pluginhost', 'mogrun.emulator', 'mogrun.api', 'rich.'); "
            "print(rc, sorted(m for m in sys.modules if m.startswith(heavy)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=project.root, capture_output=True,
                          text=True, timeout=30)
    assert done.stdout.splitlines()[-1] == "0 []", done.stderr


def test_show_local_names_the_emulator(project) -> None:
    project.write(MINIMAL)
    result = project.run("--local", "show", "hello")
    assert "    POST <emulator>/api/v1/mogplex/runs" in result.out.splitlines()


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


def test_check_json_names_an_empty_file(project) -> None:
    project.path.write_text("\n\n")
    result = project.run("--json", "check")
    assert result.code == 2, result
    report = json.loads(result.out)
    assert (report["ok"], report["file"]) == (False, str(project.path.resolve()))
    assert report["errors"][0]["message"].endswith("is empty")


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


def test_check_warns_that_a_job_named_help_takes_mogrun_help(project) -> None:
    """`mogrun help` runs a job named help (git's and gh's habit yields to the job):
    check warned of jobs named list or run, not of this one, so asking for help
    could start a billable agent run with nothing said before."""
    project.path.write_bytes(b'[jobs.help]  # onboarding\r\nrepo = "acme/api"\r\n'
                             b'prompt = "x"\r\n\r\n')
    result = project.run("check")
    assert result.code == 0, result
    assert result.err.splitlines() == [
        f'warning: {project.job_at("help")}: job "help" takes the name of `mogrun help`, '
        "which then starts it; `mogrun --help` still shows the help (or rename the job)"]


def test_shows_start_request_body_is_json_whatever_the_prompt_holds(project) -> None:
    """`show` printed a prompt's C1 control as `\\x9b` (and an astral format
    character as `\\U000e0001`): made safe for the terminal, the body it calls the
    exact start request was no longer JSON. It is JSON, and as safe."""
    import json

    prompt = "x \u009b y \u202e z \U000e0001 \u2028 end \u200d ok\u007f \x1b[31m"
    from mogrun.tomltext import basic_string

    project.path.write_text(f'[jobs.a]\nrepo = "acme/api"\nprompt = {basic_string(prompt)}\n',
                            encoding="utf-8")
    result = project.run("show", "a")
    assert result.code == 0, result
    lines = result.out.splitlines()
    start = lines.index("    {")
    end = start + lines[start:].index("    }")
    body = json.loads("\n".join(lines[start:end + 1]))
    assert body["prompt"] == prompt
    assert "\x1b" not in result.out and "\u009b" not in result.out and "\u202e" not in result.out
