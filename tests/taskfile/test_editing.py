"""`init` and `add` write task files without disturbing what people wrote:
line endings, byte order marks, other bytes, inline jobs."""

from __future__ import annotations

import json
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_add_to_a_file_with_inline_jobs_explains_itself(project) -> None:
    project.write('jobs = { a = { repo = "acme/api", prompt = "x" } }\n')
    result = project.run("add", "b", "--repo", "acme/web", "--prompt", "y")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == (
        'Error: cannot append job "b": the file defines its jobs in a way that a new '
        "[jobs.NAME] table would break")
    assert "{exc}" not in result.err
    # Located, as check locates a problem: which file, and where its jobs are written.
    assert result.err.splitlines()[1:3] == [
        f"  --> {project.path}:1:1", '  1 | jobs = { a = { repo = "acme/api", prompt = "x" } }']


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


def test_add_writes_a_bidi_override_escaped_and_it_reads_back(project) -> None:
    """U+202E went into the file raw (C0 controls were escaped): `cat` and `git diff`
    showed the job's line reversed, Trojan Source style."""
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run("add", "b", "--repo", "acme/web", "--description",
                         "ok \u202e}*tixe{", "--prompt", "Fix \u2066it\u2069\nline two")
    assert result.code == 0, result
    text = project.path.read_text(encoding="utf-8")
    assert 'description = "ok \\u202e}*tixe{"' in text, text
    assert 'prompt = """Fix \\u2066it\\u2069\nline two"""' in text, text
    shown = json.loads(project.run("--json", "show", "b").out)
    assert shown["description"] == "ok \u202e}*tixe{"
    assert shown["runs"][0]["request"]["body"]["prompt"] == "Fix \u2066it\u2069\nline two"


def test_add_does_not_write_a_repo_twice_in_another_case(project) -> None:
    # add kept acme/api and Acme/API, a job that check then refuses ("lists a repo twice").
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run("add", "b", "--repo", "acme/api", "--repo", "Acme/API", "--repo",
                         "acme/web", "--prompt", "y")
    assert result.code == 0, result
    assert 'repo = ["acme/api", "acme/web"]' in project.path.read_text()
    assert project.run("check").code == 0


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


def test_init_keeps_the_bytes_of_a_gitignore_that_is_not_utf8(project) -> None:
    # It was read with errors="replace" and written back: é in Latin-1 became U+FFFD.
    gitignore = project.root / ".gitignore"
    gitignore.write_bytes(b"caf\xe9/\nbuild/")
    result = project.run("init")
    assert result.code == 0, result
    assert gitignore.read_bytes() == b"caf\xe9/\nbuild/\n.mogrun/\n"


def test_add_refuses_what_check_would_refuse_and_writes_nothing(project) -> None:
    # add x3 --prompt "{{ tem }}" wrote a job that check then refused.
    project.write('[vars]\nteam = "platform"\n\n[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    before = project.path.read_bytes()
    result = project.run("add", "x3", "--repo", "a/b", "--prompt", "{{ tem }}")
    assert (result.code, result.err) == (
        2, 'Error: job "x3", key "prompt": unknown template name "tem" in {{ tem }}\n'
           'did you mean "team"?\nNames: job, repo, date, week, now, team, env.NAME\n'
           f"Nothing was written to {project.path.resolve()}.\n")
    assert project.path.read_bytes() == before
    long_key = project.run("add", "x4", "--repo", "a/b", "--prompt", "x" * 100_001)
    assert long_key.code == 2 and project.path.read_bytes() == before
    # An env name unset here is only a warning for check: add accepts it.
    fine = project.run("add", "x5", "--repo", "a/b", "--prompt", "for {{ env.WHO }}")
    assert fine.code == 0, fine
    assert project.run("check").code == 0


# Files as people leave them: comments, blank lines at the end, CRLF, a BOM, no
# final newline, tabs, an inline [jobs] table (add refuses that one).
BASES = [b'[jobs.hello]\nrepo = "acme/api"\nprompt = "x"\n',
         b'# top\n[vars]\nteam = "t"  # c\n\n[jobs.hello]\nrepo = "acme/api"\nprompt = """\n'
         b'multi\n"""\n# end\n\n\n',
         b'[jobs.hello]\r\nrepo = "acme/api"\r\nprompt = "x"',
         b'\xef\xbb\xbf[jobs.hello]\nrepo = "acme/api"\nprompt = "x"  # c',
         b'[jobs.hello]\nrepo = "acme/api"\nprompt = "x"\n\t# tabbed\n[jobs.j0]\nrepo = "a/b"\n'
         b'prompt = "y"\n',
         b'[jobs]\nhello = { repo = "acme/api", prompt = "x" }\n']
TYPED = st.text(alphabet=st.sampled_from([*"ab \"'\\\n\t{}#[]=.-_/$`\r", "\u00fc", "\u00e9",
                                          "\U0001f389", "\u2028", "\u202e", "\u2066",
                                          "\u2069", "\x01"]), min_size=1, max_size=20) | (
    st.sampled_from(["one\r\ntwo", 'say """hi"""', "tab\tend\n", "a\\nb", "  padded  "]))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.sampled_from(BASES), st.sampled_from(["new", "hello", "needs", "x.y", "A_1"]),
       st.lists(st.sampled_from(["acme/api", "acme/web", "Acme/X", "a-b/c.d"]), min_size=1,
                max_size=3),
       TYPED, st.none() | TYPED, st.lists(st.sampled_from(["hello", "j0", "nope"]), max_size=2))
def test_add_appends_exactly_what_was_typed_or_writes_nothing(
        project, base: bytes, name: str, repos: list[str], prompt: str,
        description: str | None, needs: list[str]) -> None:
    project.path.write_bytes(base)
    args = ["add", name, "--prompt", prompt]
    for repo in repos:
        args += ["--repo", repo]
    for need in needs:
        args += ["--needs", need]
    if description is not None:
        args += ["--description", description]
    result = project.run(*args)
    after = project.path.read_bytes()
    assert "Traceback" not in result.err, result
    jobs = tomllib.loads(base.decode("utf-8-sig"))["jobs"]
    plain = not any(c in text for text in (prompt, description or "") for c in "{}")
    if (plain and b"\nhello = {" not in base and name not in jobs
            and set(needs) <= set(jobs) and prompt.strip()):
        assert result.code == 0, result  # nothing to refuse: a refusal would be a bug
    if result.code != 0:
        assert result.code == 2 and result.err.startswith("Error: "), result
        assert after == base
        return
    assert after.startswith(base)  # what was there stays, byte for byte
    added = after[len(base):].decode("utf-8")  # nothing reorders or breaks its lines on show
    assert not any(char in added for char in "\u2028\u2029\u202a\u202b\u202c\u202d\u202e"
                   "\u2066\u2067\u2068\u2069"), added
    job = tomllib.loads(after.decode("utf-8-sig"))["jobs"][name]
    unique = list(dict.fromkeys(repos))
    assert job["repo"] == (unique[0] if len(unique) == 1 else unique), job
    assert job["prompt"] == prompt and job.get("description") == description, job
    assert job.get("needs", []) == list(dict.fromkeys(needs)), job
    assert project.run("check").code == 0


def test_add_writes_an_automation_job_that_check_accepts(project) -> None:
    """`add` could only write agent jobs (--prompt was required): an automation job
    had to be written by hand."""
    project.path.write_bytes(b'[vars]\r\nteam = "platform"\r\n\r\n[jobs.a]\r\n'
                             b'repo = "acme/api"\r\nprompt = "x"\r\n')
    result = project.run("add", "triage", "--repo", "acme/api", "--repo", "acme/web",
                         "--automation", "issue-triage", "--input", "label=bug",
                         "--input", "team={{ team }}", "--input", "label=needs-triage",
                         "--needs", "a")
    assert result.code == 0, result
    data = project.path.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")  # the file's own line endings
    job = tomllib.loads(data.decode())["jobs"]["triage"]
    assert job == {"repo": ["acme/api", "acme/web"], "automation": "issue-triage",
                   "input": {"label": "needs-triage", "team": "{{ team }}"}, "needs": ["a"]}
    assert project.run("check").code == 0


ONE_OF = ("give --prompt or --prompt-file (an agent run) or --automation (trigger an "
          "automation), one of them")


@pytest.mark.parametrize(("args", "said"), [
    ([], ONE_OF),
    (["--prompt", "p", "--automation", "t"], ONE_OF),
    (["--prompt", "p", "--prompt-file", "p.md"], ONE_OF),
    (["--prompt-file", " "], "--prompt-file must not be empty"),
    (["--prompt-file", "p.md", "--input", "a=b"],
     "--input is an automation's input: give --automation too"),
    (["--prompt", "p", "--input", "a=b"],
     "--input is an automation's input: give --automation too"),
    (["--automation", "t", "--input", "novalue"], "--input expects KEY=VALUE, not 'novalue'"),
    (["--automation", " "], "--automation must not be empty"),
    (["--automation", "t", "--input", "source=x"],
     "job \"b\", key \"input\" sets 'source', which the server reserves (it overwrites them "
     "with its own values)"),
])
def test_add_refuses_an_automation_job_check_would_refuse(project, args, said) -> None:
    before = b'[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n'
    project.path.write_bytes(before)
    result = project.run("add", "b", "--repo", "acme/api", *args)
    assert result.code == 2, result
    assert result.err.splitlines()[0] == f"Error: {said}", result
    assert project.path.read_bytes() == before


def test_add_is_not_blocked_by_a_plugin_of_the_file_that_does_not_load(project) -> None:
    # add stopped at the plugin's error (rc 2, nothing else said) though check judges
    # the file with the plugins that do load and the new job had nothing wrong.
    project.write('# team\r\n[mogplex]\r\nplugins = ["plugins/team_gate.py"]  # ours\r\n\r\n'
                  '[jobs.hello]\r\nrepo = "acme/api"\r\n\tprompt = "Say hello."\r\n\r\n')
    result = project.run("add", "lint", "--repo", "acme/api", "--prompt", "Fix lint.",
                         plugins=True)
    assert result.code == 0, result
    assert result.err.startswith('warning: plugin "team_gate" not found'), result
    assert f"({project.path.resolve()}:3:12)" in result.err
    assert "[jobs.lint]" in project.path.read_text()


def test_add_refuses_a_job_inheriting_a_key_only_a_plugin_that_did_not_load_knows(
        project) -> None:
    project.write('[mogplex]\nplugins = ["plugins/team_gate.py"]\n\n[defaults]\n'
                  'team_gate = "platform"  # the plugin\'s key\n\n'
                  '[jobs.hello]\nrepo = "acme/api"\nprompt = "Say hello."\n\n\n')
    before = project.path.read_bytes()
    result = project.run("add", "lint", "--repo", "acme/api", "--prompt", "Fix lint.",
                         plugins=True)
    assert result.code == 2, result
    lines = result.err.splitlines()
    assert lines[0] == 'Error: unknown key "team_gate" in [defaults]'
    assert lines[1] == f"  --> {project.path.resolve()}:5:1"
    assert 'Job "lint" would inherit it.' in lines
    assert ("A plugin of [mogplex].plugins did not load (line 2): a key it declares is "
            "unknown until it does.") in lines
    assert project.path.read_bytes() == before
    checked = project.run("check", plugins=True)
    assert ("A plugin of [mogplex].plugins did not load (line 2): a key it declares is "
            "unknown until it does.") in checked.err.splitlines()


@pytest.mark.parametrize("typed", ["newdir/", "ci/newdir/"])
def test_init_refuses_a_path_typed_as_a_folder(project, typed: str) -> None:
    # init -f newdir/ wrote a regular file named newdir ("Created .../newdir", rc 0).
    project.path.unlink(missing_ok=True)
    result = project.run("-f", typed, "init")
    assert (result.code, result.err) == (
        2, f"Error: {typed} names a directory; give -f a file path (e.g. {typed}mogplex.toml)\n")
    assert not (project.root / typed.rstrip("/")).exists()


@pytest.mark.parametrize(("base", "ending"), [
    # Saved as CRLF but for a first line pasted with LF: add wrote the job with LF.
    (b'# team jobs\n[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n', b"\r\n"),
    # An LF file whose first line came from Windows: add wrote CRLF into it.
    (b'# from Windows\r\n[jobs.a]\nrepo = "acme/api"\n\tprompt = "x"\n', b"\n"),
    # A tie: the last line's ending.
    (b'[jobs.a]\nrepo = "acme/api"\nprompt = "x"\r\n# end\r\n', b"\r\n"),
])
def test_add_writes_the_line_ending_most_lines_use(project, base: bytes, ending: bytes) -> None:
    project.path.write_bytes(base)
    result = project.run("add", "b", "--repo", "acme/web", "--prompt", "y")
    assert result.code == 0, result
    added = project.path.read_bytes().removeprefix(base)
    # Three lines of the job, and a blank line before it unless the file ends with one.
    assert added.count(ending) == (3 if base.endswith((b"\n\n", b"\n\r\n")) else 4), added
    assert b"\r" not in added.replace(ending, b"") and b"\n" not in added.replace(ending, b"")


def test_init_adds_to_a_gitignore_with_the_ending_most_lines_use(project) -> None:
    project.path.unlink(missing_ok=True)
    gitignore = project.root / ".gitignore"
    gitignore.write_bytes(b"# from a template\r\nbuild/\ndist/\n*.pyc\n")
    assert project.run("init").code == 0
    assert gitignore.read_bytes() == b"# from a template\r\nbuild/\ndist/\n*.pyc\n.mogrun/\n"


def test_add_writes_a_scheduled_job_that_ci_github_runs(project) -> None:
    """A scheduled job had to be finished by hand: `add` took no --schedule,
    --harness or --timeout ("No such option '--schedule'. Did you mean '--help'?")."""
    project.path.write_bytes(b'# ours\r\n[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n')
    result = project.run("add", "nightly", "--repo", "acme/api", "--prompt", "Tidy up.",
                         "--harness", "claude-code", "--timeout", "1h30m",
                         "--schedule", "17 3 * * *", "--schedule", "45 12 * * 1-5",
                         "--schedule", "17 3 * * *")
    assert (result.code, result.err) == (0, ""), result
    data = project.path.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n")
    job = tomllib.loads(data.decode())["jobs"]["nightly"]
    assert job == {"repo": "acme/api", "prompt": "Tidy up.", "harness": "claude-code",
                   "timeout": "1h30m", "schedule": ["17 3 * * *", "45 12 * * 1-5"]}
    assert project.run("check").code == 0
    shown = project.run("--json", "show", "nightly")
    assert '"harness": "claude-code"' in shown.out and '"timeout_seconds": 5400' in shown.out, shown
    assert project.run("ci", "github").code == 0
    workflow = (project.root / ".github" / "workflows" / "mogrun.yml").read_text()
    assert '- cron: "17 3 * * *"' in workflow and '- cron: "45 12 * * 1-5"' in workflow
    one = project.run("add", "weekly", "--repo", "acme/web", "--prompt", "y",
                      "--schedule", "17 6 * * 1")
    assert one.code == 0, one
    assert tomllib.loads(project.path.read_text())["jobs"]["weekly"]["schedule"] == "17 6 * * 1"


def test_add_writes_a_ci_job_that_reattaches_and_waits_its_own_way(project) -> None:
    """`add` took no --idempotency-key, --root, --on-timeout or --capacity-wait: the
    job the README shows for CI (retries re-attach, never start twice) was finished
    by hand."""
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n# last line, no newline')
    result = project.run("add", "nightly", "--repo", "acme/api", "--prompt", "Tidy up.",
                         "--root", "services/api", "--on-timeout", "detach",
                         "--capacity-wait", "45m", "--idempotency-key", "nightly-{{ job }}")
    assert (result.code, result.err) == (0, ""), result
    job = tomllib.loads(project.path.read_text())["jobs"]["nightly"]
    assert job == {"repo": "acme/api", "prompt": "Tidy up.", "root": "services/api",
                   "on_timeout": "detach", "capacity_wait": "45m",
                   "idempotency_key": "nightly-{{ job }}"}
    shown = json.loads(project.run("--json", "show", "nightly").out.splitlines()[0])
    request = shown["runs"][0]["request"]
    assert (shown["on_timeout"], shown["capacity_wait"], shown["capacity_wait_seconds"]) == (
        "detach", "45m", 2700.0)
    assert request["headers"]["Idempotency-Key"] == "nightly-nightly"
    assert request["body"]["rootDirectory"] == "services/api"
    text = project.run("show", "nightly").out
    assert "  timeout: 30m (then detach)\n  capacity wait: 45m for a free sandbox\n" in text
    assert "capacity wait" not in project.run("show", "a").out  # the default is not said


@pytest.mark.parametrize(("args", "said"), [
    (["--prompt", "p", "--schedule", "* * * * *"],
     'job "b", key "schedule" is "* * * * *", which runs every 1 minute; GitHub runs a '
     "schedule at most every 5 minutes"),
    (["--prompt", "p", "--schedule", ""],
     'job "b", key "schedule" is "", which has 0 fields; a schedule has five: minute hour '
     "day-of-month month day-of-week (UTC)"),
    (["--prompt", "p", "--timeout", "soon"],
     "job \"b\", key \"timeout\" is an invalid duration 'soon': use a number of seconds or a "
     'string like "500ms", "90s", "25m", "1h30m" or "2h"'),
    (["--prompt", "p", "--harness", "gpt"],
     "job \"b\", key \"harness\" must be one of 'codex', 'claude-code', not 'gpt'"),
    (["--automation", "t", "--harness", "codex"],
     'job "b", key "harness" does not apply to an automation job (the automation decides how '
     "its agents run)"),
    (["--prompt-file", "missing.md"],
     'job "b", key "prompt_file": prompt file missing.md does not exist (relative to {root})'),
    (["--prompt", "p", "--branch", "a..b"],
     'job "b", key "branch": \'a..b\' is not a valid git branch name: it contains ".."'),
    (["--automation", "t", "--branch", "x"],
     'job "b", key "branch" does not apply to an automation job (the automation decides how '
     "its agents run)"),
    (["--prompt", "p", "--root", "../x"],
     "job \"b\", key \"root\": root '../x' may not contain \"..\""),
    (["--prompt", "p", "--on-timeout", "later"],
     "job \"b\", key \"on_timeout\" must be one of 'cancel', 'detach', not 'later'"),
    (["--prompt", "p", "--capacity-wait", "soon"],
     "job \"b\", key \"capacity_wait\" is an invalid duration 'soon': use a number of seconds or a "
     'string like "500ms", "90s", "25m", "1h30m" or "2h"'),
])
@pytest.mark.parametrize("before", [b'[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n\n',
                                    b'[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n'])
def test_add_refuses_a_value_of_its_options_check_would_refuse(project, args, said,
                                                               before) -> None:
    project.path.write_bytes(before)
    result = project.run("add", "b", "--repo", "acme/api", *args)
    assert result.code == 2, result
    assert result.err.splitlines()[:2] == [
        "Error: " + said.format(root=project.root.resolve()),
        f"Nothing was written to {project.path.resolve()}."], result
    assert project.path.read_bytes() == before


def test_add_says_what_check_warns_of_the_new_job_and_only_that(project) -> None:
    # add said only a command's name: a schedule at minute 0 or an env name unset here
    # was heard of first from check (or CI). The file's own warnings are not repeated.
    project.write('[jobs.old]\nrepo = "acme/api"\nprompt = "x {{ env.OLD_UNSET }}"\n'
                  'schedule = "0 5 * * *"\n\n\n')
    result = project.run("add", "list", "--repo", "acme/web", "--prompt",
                         "y {{ env.NEW_UNSET }}", "--schedule", "0 4 * * *")
    assert result.code == 0, result
    where = f"{project.path.resolve()}:10:1"  # its schedule line (the file's blank
    # lines kept, none added to them)
    assert result.err.splitlines() == [
        f'warning: {project.job_at("list")}: job "list" has the name of a command: `mogrun '
        "list` runs the command; use `mogrun run list`",
        f'warning: {where}: job "list", key "schedule": "0 4 * * *" runs at minute 0, when '
        "GitHub's scheduled workflows are most often delayed or dropped under load; pick "
        "another minute (e.g. 17)",
        f'warning: {project.job_at("list")}: job "list" uses env.NEW_UNSET, which is not set '
        "here (it must be set when this job runs)"], result
    assert project.run("check").err.count("warning:") == 5
    quiet = project.run("add", "fine", "--repo", "acme/web", "--prompt", "z")
    assert (quiet.code, quiet.err) == (0, ""), quiet


def test_add_writes_a_prompt_file_job_on_a_branch_of_its_own(project) -> None:
    """`add` could not name a prompt file or a branch: a job that reviews on a branch
    of its own was written by hand."""
    (project.root / "prompts").mkdir()
    (project.root / "prompts" / "review.md").write_text("Review {{ repo }}.\n")
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run("add", "review", "--repo", "acme/web", "--prompt-file",
                         "prompts/review.md", "--branch", "review/{{ job }}",
                         "--base-branch", "develop", "--create-branch")
    assert (result.code, result.err) == (0, ""), result
    job = tomllib.loads(project.path.read_text())["jobs"]["review"]
    assert job == {"repo": "acme/web", "prompt_file": "prompts/review.md",
                   "branch": "review/{{ job }}", "base_branch": "develop",
                   "create_branch": True}
    shown = project.run("--json", "show", "review")
    assert shown.code == 0, shown
    body = json.loads(shown.out.splitlines()[0])["runs"][0]["request"]["body"]
    assert (body["prompt"], body["workingBranch"], body["baseBranch"], body["createBranch"]) == (
        "Review acme/web.\n", "review/review", "develop", True)


def test_add_under_a_defaults_schedule_says_to_run_ci_github(project) -> None:
    """A job added without --schedule to a file whose [defaults] has one is scheduled
    all the same, but `add` did not name `ci github` among the next steps."""
    project.path.write_bytes(b'[defaults]\r\nschedule = "17 6 * * 1"  # Mondays\r\n\r\n')
    added = project.run("add", "b", "--repo", "acme/api", "--prompt", "y")
    assert added.code == 0, added
    assert added.out.splitlines()[-1] == (
        "Next: mogrun show b, mogrun --local b, mogrun ci github"), added


def test_add_says_what_to_try_next_as_init_does(project) -> None:
    """`add` said where it wrote and stopped: `init` names the commands to try."""
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    added = project.run("add", "nightly", "--repo", "acme/web", "--prompt", "y",
                        "--schedule", "17 3 * * *")
    assert added.out.splitlines() == [
        f'Added job "nightly" to {project.path.resolve()}',
        "Next: mogrun show nightly, mogrun --local nightly, mogrun ci github"], added
    named = project.run("-f", "mogplex.toml", "add", "list", "--repo", "acme/web",
                        "--prompt", "y")
    assert named.out.splitlines()[-1] == (
        "Next: mogrun -f mogplex.toml show list, mogrun -f mogplex.toml --local run list"), named
    # The line's commands work as said (`--local run list` starts the job, not the
    # command: a dry run shows which).
    assert project.run("show", "nightly").code == 0
    dry = project.run("-f", "mogplex.toml", "--local", "run", "-n", "list")
    assert dry.code == 0 and "list" in dry.out and "POST" in dry.out, dry


def test_add_writes_a_repo_stripped_as_it_is_sent(project) -> None:
    # add wrote repo = " acme/web" (show sends it stripped), and kept both spellings.
    project.path.write_bytes(b'# team jobs\r\n[jobs.a]\r\nrepo = "acme/api"\r\n'
                             b'prompt = "x"\r\n\r\n')
    result = project.run("add", "b", "--repo", " acme/web", "--repo", "acme/web\t", "--repo",
                         "acme/api ", "--prompt", "y")
    assert result.code == 0, result
    assert b'repo = ["acme/web", "acme/api"]\r\n' in project.path.read_bytes()


def test_add_refuses_needs_that_close_a_cycle_through_the_new_job(project) -> None:
    """a already needed b (unknown until now); ``add b --needs a`` closed a -> b -> a:
    "Added", then check refused the file (it says a cycle at its first job, a)."""
    before = b'# by hand\r\n[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\nneeds = ["b"]\r\n'
    project.path.write_bytes(before)
    result = project.run("add", "b", "--repo", "acme/web", "--prompt", "y", "--needs", "a")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == 'Error: job "b" would close a needs cycle: a -> b -> a'
    assert project.path.read_bytes() == before
    assert project.run("add", "b", "--repo", "acme/web", "--prompt", "y").code == 0
    assert project.run("check").code == 0


@pytest.mark.parametrize(("header", "need", "meant"), [
    ("release.v1", "release.v1", '[jobs."release.v1"]'),
    ("release.v1", "release", '[jobs."release.v1"]'),
    # The name's own dot is quoted already: the table is "v1" inside job "my.job".
    ('"my.job".v1', "my.job.v1", '[jobs."my.job.v1"]'),
])
def test_add_needs_beside_an_unquoted_dotted_header_gets_its_quoting_hint(
        project, header, need, meant) -> None:
    """Beside [jobs.release.v1] (no quotes: a job "release"), `--needs release.v1` was
    told 'did you mean "release"?', and `--needs release` then pointed back at
    "release.v1": each refusal pointed at the other. Both give check's quoting hint."""
    before = f'[jobs.{header}]\nrepo = "acme/api"\nprompt = "x"\n'.encode()
    project.path.write_bytes(before)
    result = project.run("add", "z", "--repo", "acme/web", "--prompt", "y", "--needs", need)
    assert result.code == 2, result
    [hint] = [line for line in result.err.splitlines() if "is quoted" in line]
    assert hint.startswith(f'A job name holding "." is quoted: write {meant}'), result
    assert 'did you mean "release"?' not in result.err
    checked = project.run("check")  # the same hint check gives at the header
    assert hint in checked.err.splitlines(), (hint, checked.err)
    assert project.path.read_bytes() == before


def test_add_says_a_job_cannot_need_itself_in_check_s_words(project) -> None:
    # It said '--needs names unknown job "b"', of the job being added.
    before = b'[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n'
    project.path.write_bytes(before)
    result = project.run("add", "b", "--repo", "acme/web", "--prompt", "y", "--needs", "a",
                         "--needs", "b")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == ('Error: --needs names job "b" itself: a job cannot '
                                          "need itself (needs cycle: b -> b)")
    assert project.path.read_bytes() == before
    project.path.write_bytes(before + b'[jobs.b]\r\nrepo = "acme/web"\r\nprompt = "y"\r\n'
                                      b'needs = ["b"]\r\n')
    assert "Error: needs cycle: b -> b" in project.run("check").err


@pytest.mark.parametrize(("ending", "kept"), [
    ("", "\n\n"), ("\n", "\n\n"), ("\n\n", "\n\n"), ("\n\n\n\n", "\n\n\n\n"),
    ("\n \t\n", "\n \t\n"), ("\r\n\r\n", "\r\n\r\n"), ("\r\n", "\r\n\r\n")])
def test_add_writes_one_blank_line_before_its_table_however_the_file_ends(
        ending: str, kept: str) -> None:
    """A file ending with blank lines (as editors save it) got one more from each
    ``add``; the ones it has are kept as written, none is added to them."""
    from mogrun.taskfile.editing import NewJob, append_job

    text = '[jobs.a]\nrepo = "acme/api"\nprompt = "x"' + ending
    if "\r" in ending:
        text = text.replace('"\n', '"\r\n').replace(']\n', ']\r\n')
    written = append_job(text, ["a"], NewJob("b", ("acme/api",), "y"))
    head = text.removesuffix(ending)
    assert written.startswith(head + kept + "[jobs.b]"), repr(written)
    assert tomllib.loads(written)["jobs"]["b"]["prompt"] == "y"
