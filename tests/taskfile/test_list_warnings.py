"""``mogrun list`` lists what it can of a file with problems, and says so on
one line of stderr (exit 0 unchanged: ``check`` is the gate). It loads no
plugins, so it judges only what it can tell cheaply: unknown tables and keys,
a job key only when no plugin other than the bundled ones could declare it."""

from __future__ import annotations

import json

import pytest

# A realistic file: CRLF, comments, a table typo'd as [job.b], a [defaults] typo.
TYPOS = (
    "# team jobs\r\n"
    "[defaults]\r\n"
    'harness = "codex"\r\n'
    'timeot = "30m"   # typo\r\n'
    "\r\n"
    "[jobs.a]\r\n"
    'repo = "acme/api"\r\n'
    'prompt = "Say hello."\r\n'
    'retry = { attempts = 3 }\r\n'
    "\r\n"
    "# copied from a\r\n"
    "[job.b]\r\n"
    'repo = "acme/web"\r\n'
    'prompt = "Say hello."\r\n'
    "\r\n"
    "\r\n"
)


def write(project, text: str) -> None:
    project.path.write_bytes(text.encode("utf-8"))


def test_list_warns_once_about_problems_and_still_lists(project) -> None:
    write(project, TYPOS)
    result = project.run("list")
    assert result.code == 0, result
    assert [line.split()[0] for line in result.out.splitlines()[2:]] == ["a"]
    assert result.err.splitlines() == [
        f'warning: {project.path} has problems: unknown key "timeot" in [defaults], unknown '
        "table [job]; run `mogrun check` to see them all"]


def test_bare_mogrun_and_json_list_warn_on_stderr_only(project) -> None:
    write(project, TYPOS)
    for argv in ((), ("-l", "--json"), ("--json", "list")):
        result = project.run(*argv)
        assert result.code == 0
        assert len(result.err.splitlines()) == 1 and "run `mogrun check`" in result.err
    rows = [json.loads(line) for line in project.run("--json", "list").out.splitlines()]
    assert [row["job"] for row in rows] == ["a"]


def test_a_file_whose_only_job_is_misspelt_says_why_there_are_no_jobs(project) -> None:
    write(project, "[job.b]\r\nrepo = \"acme/web\"\r\nprompt = \"x\"\r\n\r\n")
    result = project.run("list")
    assert result.code == 0
    assert result.err.splitlines()[-1] == (
        f"warning: {project.path} has problems: unknown table [job]; run `mogrun check` to "
        "see them all")


def test_many_problems_are_counted_not_all_named(project) -> None:
    project.write("""
        [mogplex]
        urll = "https://mogplex.com"
        [jobs.a]
        repo = "acme/api"
        prmpt = "x"
        tmeout = "5m"
        descripton = "typo"
    """)
    result = project.run("list")
    assert result.code == 0
    assert result.err == (f'warning: {project.path} has problems: unknown key "urll" in '
                          '[mogplex], unknown key "prmpt" in job "a" and 2 more; run `mogrun '
                          "check` to see them all\n")


def test_a_clean_file_lists_without_a_word_on_stderr(project) -> None:
    write(project, TYPOS.replace('timeot = "30m"', 'timeout = "30m"').replace("[job.b]",
                                                                              "[jobs.b]"))
    result = project.run("list")
    assert (result.code, result.err) == (0, "")
    assert "b " in result.out


def test_job_keys_a_plugin_of_the_file_may_declare_are_left_to_check(project) -> None:
    (project.root / "plugins").mkdir()
    (project.root / "plugins" / "team.py").write_text("")
    project.write("""
        [mogplex]
        plugins = ["plugins/team.py"]
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        pager = { team = "web" }
        [job.b]
    """)
    result = project.run("list", plugins=True)
    assert result.code == 0
    assert "pager" not in result.err
    assert "unknown table [job]" in result.err
    # With plugins switched off, the run would not load it: the key is unknown then.
    off = project.run("list")  # (--no-plugins)
    assert off.code == 0 and 'unknown key "pager"' in off.err, off


def test_list_knows_the_keys_of_the_bundled_plugins() -> None:
    from mogrun.pluginhost import PluginHost
    from mogrun.taskfile.schema import BUNDLED_JOB_KEYS

    assert sorted(BUNDLED_JOB_KEYS) == sorted(PluginHost.bundled_only().key_specs())


# Values of the keys list shows, each of a type check refuses: CRLF, comments, a trailing
# blank line, as a hand-edited file has them.
WRONG_TYPES = (
    "# a job written by hand\r\n"
    "[jobs.a]\r\n"
    "repo = [1, {x=1}]   # not repos\r\n"
    'prompt = "x"\r\n'
    'description = ["d"]\r\n'
    "needs = [1, [2]]\r\n"
    "\r\n"
)


def test_list_shows_a_wrongly_typed_value_as_toml_and_warns(project) -> None:
    # list showed Python's ['d'] and {'x': 1} with no warning; --json gave "['d']".
    write(project, WRONG_TYPES)
    result = project.run("list")
    assert result.code == 0, result
    assert result.out.splitlines()[2].split() == ["a", "['d']", "[1,", "{", "x", "=", "1", "}]",
                                                  "-", "[1,", "[2]]"]
    assert result.err == (f'warning: {project.path} has problems: invalid "repo" in job "a", '
                          'invalid "description" in job "a" and 1 more; run `mogrun check` to '
                          "see them all\n")


def test_json_list_gives_a_wrongly_typed_value_as_null_never_a_string(project) -> None:
    write(project, WRONG_TYPES)
    result = project.run("--json", "list")
    assert result.code == 0, result
    assert json.loads(result.out) == {"job": "a", "description": None, "repos": None,
                                      "harness": None, "needs": None}
    assert "run `mogrun check`" in result.err


@pytest.mark.parametrize("name", ["héllo", "a b", ""])
def test_list_warns_of_a_job_name_check_refuses(project, name: str) -> None:
    # check exits 2 with "invalid job name"; list said nothing at all.
    write(project, f'# jobs\r\n[jobs."{name}"]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n')
    result = project.run("list")
    assert result.code == 0, result
    assert result.err == (f'warning: {project.path} has problems: invalid job name "{name}"; '
                          "run `mogrun check` to see them all\n")


def test_json_list_gives_repos_stripped_as_they_are_sent(project) -> None:
    write(project, '[jobs.a]\nrepo = " acme/api "\nprompt = "x"\n\n[jobs.b]\n'
                   'repo = ["acme/web\\t", " acme/api"]\nprompt = "x"\n')
    rows = [json.loads(line) for line in project.run("--json", "list").out.splitlines()]
    assert [row["repos"] for row in rows] == [["acme/api"], ["acme/web", "acme/api"]]


def test_json_list_gives_needs_written_as_one_string_as_null(project) -> None:
    # repo takes one string; needs does not (check: "must be a list of job names").
    write(project, '[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n[jobs.b]\r\n'
                   'repo = "acme/api"\r\nprompt = "x"\r\nneeds = "a"  # should be ["a"]\r\n')
    rows = [json.loads(line) for line in project.run("--json", "list").out.splitlines()]
    assert [row["needs"] for row in rows] == [[], None]
    result = project.run("list")
    assert result.out.splitlines()[3].split()[-1] == "'a'"
    assert 'invalid "needs" in job "b"' in result.err


def test_an_automation_job_has_no_harness_in_json_and_says_its_automation(project) -> None:
    """``--json list`` gave an automation job ``"harness": "automation Nightly triage"``,
    no harness at all (``show --json`` gives it ``null``); the table's column says it."""
    write(project, '[defaults]\r\nharness = "codex"  # agents\r\n\r\n'
                   '[jobs.triage]\r\nrepo = "acme/api"\r\nautomation = "Nightly triage"\r\n'
                   '\r\n[jobs.fix]\r\nrepo = "acme/web"\r\nprompt = "x"\r\n\r\n')
    rows = [json.loads(line) for line in project.run("--json", "list").out.splitlines()]
    assert [(r["job"], r["harness"], r.get("automation")) for r in rows] == [
        ("triage", None, "Nightly triage"), ("fix", "codex", None)]
    table = project.run("list").out.splitlines()
    assert "automation Nightly triage" in table[2] and "codex" in table[3], table
