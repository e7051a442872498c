"""Differential property test: one task file written as editors save it (CRLF,
mixed CRLF/LF, a UTF-8 BOM) says the same as when written with LF — the same
problems at the same line and column, the same jobs — in every shape TOML allows
a job (a table, dotted keys under [jobs] or from the top, an inline table,
sub-tables, arrays of tables), spaced as hands space it (tabs around `=`, blanks
inside a header's brackets, blanks after a value), each problem pointing at its
key; and `add` after such a hand edit keeps every byte and adds its job."""

from __future__ import annotations

import re
import tomllib

from hypothesis import given
from hypothesis import strategies as st

from .test_realistic import COMMENTS, FAST, assert_clean, assert_located, encode, key_lines

SUB_TABLE = ['status = ["success"]', 'max_duration = "never"', "nope = 1"]
NOTIFY = ['webhook = "https://x.io/h"', "slack = 5", 'on = ["nope"]',
          'webhook = "https://x.io/h"\non = ["failed", # c\n  "nope"]']

UNFINISHED = ['\nneeds = ["a",\n  "b",  # more to come\n', "\nprompt = '''\nnot done\n",
              '\ndescription = \"\"\"\nnot done', "\n[jobs.later", "\nretry = { attempts = 2,"]


# How hands space a key/value and a header: TOML takes blanks around `=` and the
# dots of a key, and inside a header's brackets.
EQUALS = [" = ", "=", "\t=\t", " =\t", "  =  "]
AFTER_VALUE = ["", "", " ", "\t", "  \t"]


@st.composite
def spaced(draw: st.DrawFn, lines: list[str]) -> list[str]:
    """``lines`` (``key = value``) with the blanks around each ``=`` and after each
    value (past its closing quotes or comment) drawn."""
    return [line.replace(" = ", draw(st.sampled_from(EQUALS)), 1)
            + draw(st.sampled_from(AFTER_VALUE)) for line in lines]


@st.composite
def shapes(draw: st.DrawFn) -> str:
    """A task file's text (LF) whose jobs are written in any of TOML's ways."""
    top: list[str] = []  # dotted keys from the top (jobs.a.repo = ...) come before any header
    out: list[str] = []
    dotted: list[str] = []  # the jobs written as dotted keys share one [jobs] header
    names = draw(st.lists(st.sampled_from(["a", "b", "rel.v1", "x-y", "list"]), min_size=1,
                          max_size=3, unique=True))
    for name in names:
        quoted = f'"{name}"' if "." in name or draw(st.booleans()) else name
        kind = draw(st.sampled_from(["table", "dotted", "top-dotted", "inline", "sub-table",
                                     "notify"]))
        lines = draw(spaced([line for line in draw(key_lines(min_size=1))
                             if "\n" not in line or kind == "table"]))
        if kind in ("dotted", "top-dotted"):
            dot = draw(st.sampled_from([".", " . ", "\t.\t"]))
            whose = f"{quoted}{dot}" if kind == "dotted" else f"jobs{dot}{quoted}{dot}"
            (dotted if kind == "dotted" else top).extend(f"{whose}{line}" for line in lines)
            continue
        if kind == "inline":
            body = ", ".join(line.split("  #")[0].rstrip(" \t") for line in lines)
            out.append(f"jobs.{quoted} = {{ {body} }}")
        else:
            inside = draw(st.sampled_from(["", " ", "\t"]))
            out.append(f"[{inside}jobs.{quoted}{inside}]"
                       + draw(st.sampled_from(["", "  # job", "\t#x", " \t"])))
            out += lines
        if kind == "sub-table":
            out += [f"[jobs.{quoted}.gates]  # sub", draw(st.sampled_from(SUB_TABLE))]
        if kind == "notify":
            for _ in range(draw(st.integers(1, 2))):
                out += [f"[[jobs.{quoted}.notify]]", draw(st.sampled_from(NOTIFY))]
        if draw(st.integers(0, 3)) == 0:
            out.append(draw(st.sampled_from(COMMENTS)))
        out.append("")
    if dotted:
        out += ["[jobs]", *dotted, ""]
    out[:0] = top
    ending = draw(st.sampled_from(["", "\n", "\n\n\n", "  \n\t\n  ", "# end", "\n# end"]))
    if draw(st.integers(0, 4)) == 0:  # saved half-written: the error is at the file's end
        ending = draw(st.sampled_from(UNFINISHED)) + ending
    return "\n".join(out) + ending


def styled(text: str, style: str) -> bytes:
    """``text`` saved in ``style``: ``test_realistic.encode``'s CRLF and BOM, and
    line endings mixed, every other line CRLF."""
    if style == "mixed":
        lines = text.split("\n")
        text = "".join(line + ("\r\n" if number % 2 else "\n")
                       for number, line in enumerate(lines[:-1])) + lines[-1]
    return encode(text, crlf="crlf" in style, bom="bom" in style)


def said(err: str) -> list[str]:
    """Each headline and location, a CRLF's line break written as LF's."""
    lines = re.findall(r"^(?:Error: .*|  --> .*|warning: .*)$", err, re.MULTILINE)
    return [line.replace("'\\r\\n'", "'\\n'") for line in lines]


@FAST
@given(shapes(), st.sampled_from(["crlf", "mixed", "bom", "bom-crlf"]))
def test_a_file_says_the_same_whatever_its_line_endings(project, text: str,
                                                          style: str) -> None:
    (project.root / "prompts").mkdir(exist_ok=True)
    (project.root / "prompts" / "p.md").write_text("Do {{ job }}.\n", encoding="utf-8")
    lines = text.split("\n")
    for command in (["check"], ["--json", "list"], ["list"], ["show", "a"], ["run", "-n", "b"]):
        project.path.write_bytes(styled(text, "lf"))
        plain = project.run(*command)
        assert_clean(plain, many=command == ["check"])
        if command == ["check"]:
            assert_located(project, plain)
        for line, column in re.findall(r"^  --> .*:(\d+):(\d+)$", plain.err, re.MULTILINE):
            assert 1 <= int(column) <= len(lines[int(line) - 1]) + 1, plain
        project.path.write_bytes(styled(text, style))
        edited = project.run(*command)
        assert_clean(edited, many=command == ["check"])
        assert (edited.code, said(edited.err)) == (plain.code, said(plain.err)), (text, style)
        if command[0] == "--json":
            assert edited.out == plain.out
    before = project.path.read_bytes()
    added = project.run("add", "zz-new", "--repo", "acme/api", "--prompt", "p\r\nq")
    assert_clean(added)
    if added.code:
        assert project.path.read_bytes() == before, added
        return
    after = project.path.read_bytes()
    assert after.startswith(before), added
    jobs = tomllib.loads(after.decode().removeprefix("\ufeff"))["jobs"]
    assert jobs["zz-new"]["prompt"] == "p\r\nq"
