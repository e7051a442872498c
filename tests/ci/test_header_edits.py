"""The workflow's header as editors and people leave it: notes above the marker
line (a ``---`` too) and inside the header, CRLF, a BOM, blanks at line ends and
blank lines at the end. The file stays mogrun's, its header reads as written, and
regenerating keeps every note where it was; the marker's words below the comments
the file starts with (any other YAML, a second ``---``) never make a file mogrun's."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mogrun import __version__
from mogrun.ci.workflow import (
    CHECK_LINE,
    DIGEST_LINE,
    DO_NOT_EDIT,
    MARKER,
    Recorded,
    hand_edited,
    marker_line,
    recorded_options,
    render,
    same_workflow,
    source_of,
    with_notes,
    written_by,
)
from mogrun.cli.ci_file import read_workflow

from .test_install import PLAN
from .workflows import load_yaml

COMMAND = "mogrun ci github --shards 2"
OURS = (MARKER, DO_NOT_EDIT, CHECK_LINE, DIGEST_LINE)  # a note starting so is a copy of ours

# What people and editors write in a comment: words, tabs, "#", a schema URL's ":"
# (what YAML allows in a file: no U+FFFE or U+FFFF).
_words = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"),
                               blacklist_characters="\ufffe\uffff",
                               whitelist_characters="\t"), max_size=30)
note = st.one_of(
    st.builds(lambda lead, words, blanks: f"{lead}{words}{blanks}",
              st.sampled_from(["#", "# ", "#\t", "  # ", "#   "]), _words,
              st.sampled_from(["", " ", "\t", " \t"])),
    st.just("# yaml-language-server: $schema=https://json.schemastore.org/github-workflow.json"),
    st.sampled_from(["", " ", "\t"]),  # a blank line
).filter(lambda line: not line.startswith(OURS))
notes = st.lists(note, max_size=4)
# A YAML document start alone, as yamllint's default rules ask for at the top.
document_start = st.sampled_from(["---", "--- ", "---\t", "--- # yamllint wants it", "---\t#"])


def rendered(command: str = COMMAND, version: str = __version__) -> str:
    return render(PLAN, version=version, task_file="mogplex.toml", command=command)


def saved_as(text: str, *, crlf: bool, bom: bool) -> str:
    """``text`` saved with those line ends and BOM, read back as ``ci github`` reads it."""
    raw = ("\ufeff" if bom else "") + (text.replace("\n", "\r\n") if crlf else text)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mogrun.yml"
        path.write_bytes(raw.encode("utf-8"))
        return read_workflow(path, "mogrun.yml")


@st.composite
def edited(draw: st.DrawFn) -> tuple[str, list[str], list[list[str]], str]:
    """A workflow a mogrun (of the version last given) wrote with notes above its
    marker (the first list; one ``---`` among them, or none) and after each of its
    header lines but the digest (the second), CRLF or a BOM, blanks after the marker
    and blank lines at the end: as ``read_workflow`` reads it."""
    version = draw(st.sampled_from([__version__, "99.0.0", "0.0.1", "1.0.0rc1+g12ab"]))
    header, body = rendered(version=version).split(f"\n{DIGEST_LINE}", 1)
    lines = header.split("\n")
    above, inside = draw(notes), [draw(notes) for _ in lines]
    start = draw(st.none() | document_start)
    if start is not None:
        above.insert(draw(st.integers(0, len(above))), start)
    marker = lines[0] + draw(st.sampled_from(["", " ", "\t "]))
    text = "\n".join([*above, marker, *inside[0],
                      *(line for at, mine in enumerate(lines[1:], 1)
                        for line in (mine, *inside[at]))])
    ends = draw(st.sampled_from(["", "\n", "\n\n", "\n \t\n"]))
    text = f"{text}\n{DIGEST_LINE}{body}{ends}"
    current = saved_as(text, crlf=draw(st.booleans()), bom=draw(st.booleans()))
    return current, above, inside, version


@given(edited())
def test_a_noted_workflow_is_mogruns_current_and_keeps_its_notes(case) -> None:
    current, above, inside, version = case
    assert marker_line(current) is not None and source_of(current) == "mogplex.toml"
    assert written_by(current) == version  # what the downgrade check reads
    assert recorded_options(current) == Recorded(shards=2)
    assert not hand_edited(current)
    assert hand_edited(current.replace("ubuntu-latest", "self-hosted", 1))  # no note hides it
    assert same_workflow(current, with_notes(rendered(version=version), current))  # current
    regenerated = with_notes(rendered("mogrun ci github --shards 3"), current).split("\n")
    assert regenerated[:len(above)] == above  # in place, as they were
    # Still the YAML mogrun wrote, a "---" kept above starting it. ruamel (as PyYAML)
    # takes no tab where YAML 1.2 allows blanks between tokens (a blank line, after
    # "---"): read both with spaces, which the notes' blanks and comments read as.
    assert load_yaml("\n".join(regenerated).replace("\t", " ")) \
        == load_yaml(rendered("mogrun ci github --shards 3").replace("\t", " "))
    assert regenerated[len(above)].startswith(MARKER)
    after = regenerated[len(above):]
    for mine, kept in zip(rendered(version=version).split("\n")[:4], inside, strict=True):
        if kept:
            at = next(i for i, line in enumerate(after) if line.startswith(mine[:20]))
            assert after[at + 1:at + 1 + len(kept)] == kept  # after the line it followed


@given(edited(), st.sampled_from(["name: x", "---", "on: push", "jobs: {}", "%YAML 1.2",
                                   "--- x", "---#", "..."]))
def test_the_marker_after_yaml_is_no_marker(case, yaml) -> None:
    current, above, _, _ = case
    at = len(above)
    lines = current.split("\n")
    # One "---" above the marker is allowed: a "---" is YAML when it is the second.
    second = [] if yaml != "---" or any(line.startswith("---") for line in above) else ["---"]
    moved = "\n".join([*lines[:at], *second, yaml, *lines[at:]])
    assert marker_line(moved) is None and source_of(moved) is None and written_by(moved) is None
    assert recorded_options(moved) is None
    assert with_notes(rendered(), moved) == rendered()
