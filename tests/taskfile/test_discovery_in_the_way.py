"""Searching up for ``mogplex.toml``: something of that name that is no file is
said as clearly as when ``-f`` names it, never passed over for a parent's file."""

from __future__ import annotations

import os

import pytest

PARENT_FILE = b'[jobs.parent]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n'


@pytest.mark.parametrize("command", [("check",), ("list",), ("show", "a")])
def test_a_directory_named_mogplex_toml_here_says_so(project, command: tuple[str, ...]) -> None:
    # It said "no mogplex.toml found in ... or any parent directory".
    (project.root / "mogplex.toml").mkdir()
    result = project.run(*command)
    assert result.code == 2, result
    assert result.errors == [f"Error: task file {project.root / 'mogplex.toml'} is a directory; "
                             "name the mogplex.toml inside it"]


def test_a_directory_in_the_way_does_not_fall_back_to_a_parents_file(project) -> None:
    project.path.write_bytes(b"\xef\xbb\xbf" + PARENT_FILE)
    sub = project.root / "sub"
    (sub / "mogplex.toml").mkdir(parents=True)
    result = project.run("list", cwd=sub)
    assert result.code == 2, result
    assert result.errors == [f"Error: task file {sub / 'mogplex.toml'} is a directory; "
                             "name the mogplex.toml inside it"]
    assert "parent" not in result.out


def test_a_pipe_named_mogplex_toml_here_says_so(project) -> None:
    os.mkfifo(project.root / "mogplex.toml")
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors == [f"Error: task file {project.root / 'mogplex.toml'} is not a "
                             "regular file"]


def test_a_parents_file_is_still_found_past_folders_without_one(project) -> None:
    project.path.write_bytes(PARENT_FILE)
    deep = project.root / "a" / "b"
    deep.mkdir(parents=True)
    result = project.run("list", cwd=deep)
    assert result.code == 0 and "parent" in result.out, result


@pytest.mark.parametrize("target", ["../../shared/mogplex.toml", "mogplex.toml"])
def test_a_broken_link_named_mogplex_toml_is_refused_not_passed_over(project, target: str) -> None:
    """A dangling or looping link read as no file at all: ``list`` showed the parent's
    jobs and ``add`` wrote a new job into the parent's file."""
    project.path.write_bytes(PARENT_FILE)
    before = project.path.read_bytes()
    sub = project.root / "sub"
    sub.mkdir()
    (sub / "mogplex.toml").symlink_to(target)
    said = ("is a symlink loop" if target == "mogplex.toml"
            else f"is a broken symlink (to {target})")
    for command in (("list",), ("add", "new", "--repo", "acme/web", "--prompt", "hi")):
        result = project.run(*command, cwd=sub)
        assert result.code == 2, result
        assert result.errors[0] == f"Error: task file {sub / 'mogplex.toml'} {said}"
        assert "parent" not in result.out
    assert project.path.read_bytes() == before
