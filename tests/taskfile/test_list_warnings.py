"""``mogrun list`` lists what it can of a file with problems, and says so on
one line of stderr (exit 0 unchanged: ``check`` is the gate). It loads no
plugins, so it judges only what it can tell cheaply: unknown tables and keys,
a job key only when no plugin other than the bundled ones could declare it."""

from __future__ import annotations

import json

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
    result = project.run("list")
    assert result.code == 0
    assert "pager" not in result.err
    assert "unknown table [job]" in result.err


def test_list_knows_the_keys_of_the_bundled_plugins() -> None:
    from mogrun.pluginhost import PluginHost
    from mogrun.taskfile.schema import BUNDLED_JOB_KEYS

    assert sorted(BUNDLED_JOB_KEYS) == sorted(PluginHost.bundled_only().key_specs())
