"""Searching up for ``mogplex.toml``: something of that name that is no file is
said as clearly as when ``-f`` names it, never passed over for a parent's file."""

from __future__ import annotations

import os

import pytest

PARENT_FILE = b'[jobs.parent]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n'


@pytest.mark.parametrize("command", [("check",), ("list",), ("show", "a")])
def test_a_directory_named_mogplex_toml_here_says_so(project, command: tuple[str, ...]) -> None:
    # It said "no mogplex.toml found in ... or any parent directory", then "name the
    # mogplex.toml inside it", as to a folder named with -f.
    (project.root / "mogplex.toml").mkdir()
    result = project.run(*command)
    assert result.code == 2, result
    assert result.errors == [f"Error: task file {project.root / 'mogplex.toml'} is a directory; "
                             "rename it, or name the task file with -f PATH or MOGRUN_FILE"]


def test_a_directory_in_the_way_does_not_fall_back_to_a_parents_file(project) -> None:
    project.path.write_bytes(b"\xef\xbb\xbf" + PARENT_FILE)
    sub = project.root / "sub"
    (sub / "mogplex.toml").mkdir(parents=True)
    result = project.run("list", cwd=sub)
    assert result.code == 2, result
    assert result.errors == [f"Error: task file {sub / 'mogplex.toml'} is a directory; "
                             "rename it, or name the task file with -f PATH or MOGRUN_FILE"]
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


@pytest.mark.parametrize("command", [("top",), ("show", "top"), ("run", "--dry-run", "top")])
def test_a_job_of_an_outer_project_is_named_where_the_nearer_file_hides_it(
        project, command: tuple[str, ...]) -> None:
    """In a nested project, the nearer task file is the one read: a job of the outer
    one was only "unknown", with no word of the file that has it."""
    project.path.write_bytes(b"\xef\xbb\xbf" + PARENT_FILE.replace(b"parent", b"top") +
                             b"# the outer project's\r\n")
    sub = project.root / "tools" / "inner"
    sub.mkdir(parents=True)
    (sub / "mogplex.toml").write_text('[jobs.inner]\nrepo = "acme/api"\nprompt = "x"\n\n')
    result = project.run(*command, cwd=sub)
    assert result.code == 2, result
    assert result.err.splitlines() == [
        'Error: unknown job "top" in mogplex.toml',
        f'"top" is a job of {project.path}, an outer project\'s task file that the nearer '
        f"mogplex.toml hides: -f {project.path} names it",
        "Jobs: inner"]


def test_an_unknown_job_no_outer_file_has_is_only_unknown(project) -> None:
    project.path.write_text("# not TOML [\n")  # an outer file that cannot be read is passed over
    sub = project.root / "inner"
    sub.mkdir()
    (sub / "mogplex.toml").write_text('[jobs.inner]\nrepo = "acme/api"\nprompt = "x"\n')
    result = project.run("show", "top", cwd=sub)
    assert (result.code, result.err.splitlines()) == (
        2, ['Error: unknown job "top" in mogplex.toml', "Jobs: inner"]), result
