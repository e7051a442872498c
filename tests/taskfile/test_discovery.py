"""Which task file is used (-f, MOGRUN_FILE, searching up), and clear errors
for names that cannot be one."""

from __future__ import annotations

import pytest


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


def test_an_empty_file_option_is_an_error_not_ignored(project) -> None:
    # `-f ""` (say, from an unset CI variable) silently fell back to searching.
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run("-f", "", "list")
    assert (result.code, result.err) == (2, "Error: -f/--file needs a path, not an empty string\n")


LONG_NAME = "x" * 300  # over the 255 bytes a file name may have


@pytest.mark.parametrize("how", ["-f", "MOGRUN_FILE"])
def test_an_over_long_task_file_name_is_a_clear_error(project, monkeypatch, how: str) -> None:
    if how == "-f":
        result = project.run("-f", LONG_NAME, "list")
    else:
        monkeypatch.setenv("MOGRUN_FILE", LONG_NAME)
        result = project.run("list")
    origin = "-f/--file" if how == "-f" else "MOGRUN_FILE"
    assert (result.code, result.err) == (
        2, f"Error: task file {LONG_NAME} (from {origin}) cannot be used: File name too long\n")


@pytest.mark.parametrize("command", [["check"], ["show", "a"]])
def test_an_over_long_prompt_file_name_is_a_clear_error(project, command) -> None:
    project.write(f'[jobs.a]\nrepo = "acme/api"\nprompt_file = "{LONG_NAME}.md"\n')
    result = project.run(*command)
    assert result.code == 2, result
    assert result.errors == [f'Error: job "a", key "prompt_file": prompt file {LONG_NAME}.md '
                             f"cannot be used: File name too long (relative to {project.root})"]


@pytest.mark.parametrize("command", [["check"], ["show", "a"]])
def test_an_over_long_plugin_file_name_is_a_clear_error(project, command) -> None:
    project.write(f'[mogplex]\nplugins = ["{LONG_NAME}.py"]\n'
                  '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run(*command, plugins=True)
    assert result.code == 2, result
    assert result.errors == [f"Error: plugin file {project.root.resolve() / LONG_NAME}.py "
                             "cannot be used: File name too long"]
