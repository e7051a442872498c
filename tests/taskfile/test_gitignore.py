"""``init`` adds ``.mogrun/`` to a ``.gitignore`` once: never again beside a line
that already ignores it (whatever the file's BOM or line endings), and never
after a ``!`` line that keeps it on purpose."""

from __future__ import annotations

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
