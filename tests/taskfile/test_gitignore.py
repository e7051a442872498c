"""``init`` adds ``.mogrun/`` to a ``.gitignore`` once: never again beside a line
that already ignores it (whatever the file's BOM or line endings), and never
after a ``!`` line that keeps it on purpose. A ``.gitignore`` that cannot take
the line (a directory, a link, a pipe, UTF-16) is left alone and said
in one warning line; init still succeeds."""

from __future__ import annotations

import os

import pytest

from mogrun.taskfile.editing import with_gitignore_entry

STYLES = ["lf", "crlf", "bom", "trailing-blank-lines"]


def styled(text: str, style: str) -> bytes:
    """``text`` as people's editors save it."""
    if style == "trailing-blank-lines":
        text += "\n\n"
    if style == "crlf":
        text = text.replace("\n", "\r\n")
    return (("\ufeff" if style == "bom" else "") + text).encode("utf-8")


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("present", [".mogrun/", ".mogrun/*", "/.mogrun/", "/.mogrun/**",
                                     "**/.mogrun", ".mogrun  "])
def test_init_leaves_a_gitignore_that_already_ignores_mogrun(
        project, present: str, style: str) -> None:
    # A BOM before the first line, and .mogrun/*, used to get a second .mogrun/ line.
    gitignore = project.root / ".gitignore"
    before = styled(f"{present}\nbuild/\n", style)
    gitignore.write_bytes(before)
    result = project.run("init")
    assert result.code == 0, result
    assert gitignore.read_bytes() == before
    assert "Added .mogrun/" not in result.out


@pytest.mark.parametrize("style", STYLES)
def test_init_adds_nothing_after_a_deliberate_unignore(project, style: str) -> None:
    gitignore = project.root / ".gitignore"
    before = styled("# keep the history in git\n!.mogrun/\n", style)
    gitignore.write_bytes(before)
    result = project.run("init")
    assert result.code == 0, result
    assert gitignore.read_bytes() == before
    said = [line for line in result.out.splitlines() if ".gitignore" in line]
    assert said == [f"Not adding .mogrun/ to {gitignore}: its line !.mogrun/ keeps it in git "
                    "on purpose"]


def test_init_says_nothing_of_a_gitignore_that_ignores_mogrun(project) -> None:
    gitignore = project.root / ".gitignore"
    gitignore.write_text("!.mogrun/\n.mogrun/*\n")
    result = project.run("init")
    assert result.code == 0 and ".gitignore" not in result.out, result


@pytest.mark.parametrize(("text", "added"), [
    ("\ufeffbuild/", "\ufeffbuild/\n.mogrun/\n"),
    ("\ufeff", "\ufeff.mogrun/\n"),
    ("# .mogrun/\n", "# .mogrun/\n.mogrun/\n"),
    ("!.mogrun/\n.mogrun/*\n", None),  # the last matching line wins: ignored
    (".mogrun/\n!.mogrun/\n", None),
    ("!.mogrun/history.db\n", "!.mogrun/history.db\n.mogrun/\n"),
])
def test_the_gitignore_line_is_added_where_no_line_decides(text: str, added: str | None) -> None:
    assert with_gitignore_entry(text) == added


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("line", [" .mogrun/", "\t.mogrun/", ".mogrun/\t", ".mogrun\\ "])
def test_init_adds_the_entry_beside_a_line_git_reads_as_another_name(
        project, line: str, style: str) -> None:
    # " .mogrun/" was taken as ignoring .mogrun/: git keeps leading blanks (and
    # tabs, and an escaped trailing space), so the history was committed.
    gitignore = project.root / ".gitignore"
    before = styled(f"# ours\n{line}\nbuild/\n", style)
    gitignore.write_bytes(before)
    result = project.run("init")
    assert result.code == 0, result
    eol = b"\r\n" if style == "crlf" else b"\n"
    assert gitignore.read_bytes() == before + b".mogrun/" + eol


def said_of(gitignore, why: str) -> str:
    """The one line ``init`` writes when ``gitignore`` cannot take the entry."""
    return (f"warning: could not add .mogrun/ to {gitignore}: {why}; add the line .mogrun/ to "
            "your ignore rules by hand\n")


def made_in_the_way(project, kind: str):
    """A ``.gitignore`` that is there but no file ``init`` can add a line to."""
    gitignore = project.root / ".gitignore"
    if kind == "directory":  # a folder of ignore files some tools keep
        gitignore.mkdir()
        (gitignore / "python").write_text("# bytecode\r\n__pycache__/\r\n\r\n")
        return gitignore, "it is a directory"
    if kind == "dangling-link":  # a shared ignore file not checked out here
        gitignore.symlink_to(project.root / "shared" / "gitignore")
        return gitignore, "it is a symbolic link to nothing"
    os.mkfifo(gitignore)  # reading it would hold init forever
    return gitignore, "it is not a regular file"


@pytest.mark.parametrize("kind", ["directory", "dangling-link", "fifo"])
def test_init_says_when_the_gitignore_is_no_file(project, kind: str) -> None:
    # init said nothing: .mogrun/ was not added and the user was not told.
    gitignore, why = made_in_the_way(project, kind)
    result = project.run("init")
    assert result.code == 0, result
    assert result.err == said_of(gitignore, why), result
    assert "Traceback" not in result.err and project.path.is_file()
    assert project.run("check").code == 0


@pytest.mark.parametrize("style", STYLES)
def test_init_leaves_a_utf16_gitignore_as_it_is_and_says_so(project, style: str) -> None:
    # PowerShell's `Out-File` writes UTF-16 with a BOM: a UTF-8 ".mogrun/" added
    # to it was a line git never matches, and init said it had added it.
    gitignore = project.root / ".gitignore"
    text = styled("# build output\nbuild/\n", style).decode("utf-8").removeprefix("\ufeff")
    before = text.encode("utf-16")  # with its byte order mark, as PowerShell writes it
    gitignore.write_bytes(before)
    result = project.run("init")
    assert result.code == 0, result
    assert gitignore.read_bytes() == before
    assert result.err == said_of(
        gitignore, "it is not UTF-8 text (it holds NUL bytes, as UTF-16 does)"), result
    assert "Added .mogrun/" not in result.out


@pytest.mark.parametrize("style", ["lf", "crlf", "trailing-blank-lines"])
def test_init_adds_to_a_gitignore_that_is_not_utf8_keeping_its_bytes(
        project, style: str) -> None:
    gitignore = project.root / ".gitignore"
    before = styled("# caf\xe9 notes\nbuild/\n", style).replace("é".encode(), b"\xe9")  # latin-1
    gitignore.write_bytes(before)
    result = project.run("init")
    assert result.code == 0 and result.err == "", result
    eol = b"\r\n" if style == "crlf" else b"\n"
    assert gitignore.read_bytes() == before + b".mogrun/" + eol


@pytest.mark.parametrize("style", STYLES)
def test_init_writes_through_no_gitignore_link(project, tmp_path_factory, style: str) -> None:
    # A .gitignore committed as a link (a pull request can commit one) had init
    # write its line wherever the link led, outside the project.
    outside = tmp_path_factory.mktemp("outside") / "victim"
    before = styled("# the runner's own file\nbuild/\n", style)
    outside.write_bytes(before)
    gitignore = project.root / ".gitignore"
    gitignore.symlink_to(outside)
    result = project.run("init")
    assert result.code == 0, result  # the task file is written: the line is said, not added
    assert result.err == said_of(gitignore, f"it is a symlink (to {outside}); init writes "
                                            "through no link"), result
    assert outside.read_bytes() == before and gitignore.is_symlink()
    assert "Added .mogrun/" not in result.out and project.path.is_file()
