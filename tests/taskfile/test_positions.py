"""The key-position scanner behind every `--> file:line:col`, and the source
line quoted under it: the right line, and safe for a terminal."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mogrun.taskfile.positions import key_positions, locate, source_line

from .styles import STYLES, write


def valid_positions(text: str) -> dict:
    """``key_positions`` of a generated file TOML accepts; any other is skipped."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assume(False)
    return key_positions(text)

TEXT = '''# comment [jobs.fake]
[mogplex]
url = "x"  # [jobs.fake]
[jobs."a b"]
repo = ["a", # c
  "b"]
prompt = """
x = 1
[jobs.fake]
"""
notify = [{ webhook = "u", on = ["x"] },
  {slack = 'y'}]
retry.attempts = 3
[jobs.c]
  tmeout = 5
'''


def test_positions_of_tables_dotted_and_inline_keys() -> None:
    tomllib.loads(TEXT)  # the fixture is valid TOML
    found = key_positions(TEXT)
    assert found[("jobs", "a b")] == (4, 7)
    assert found[("jobs", "a b", "prompt")] == (7, 1)
    assert found[("jobs", "a b", "notify", "on")] == (11, 28)
    assert found[("jobs", "a b", "notify", "slack")] == (12, 4)
    assert found[("jobs", "a b", "retry", "attempts")] == (13, 7)
    assert found[("jobs", "c", "tmeout")] == (15, 3)
    assert ("jobs", "fake") not in found
    assert ("x",) not in found and ("jobs", "a b", "x") not in found


def test_locate_falls_back_to_the_longest_known_prefix() -> None:
    where = locate("f.toml", TEXT, ("jobs", "c", "missing"))
    assert (str(where), where.source_line) == ("f.toml:14:7", "[jobs.c]")
    assert str(locate("f.toml", TEXT, ("nothing",))) == "f.toml"


@pytest.mark.parametrize("ending", ["\n", "\n\n", "\n\n\n", "\n# last\n", "\n# last", "\r\n\r\n",
                                    "\n  \t\n", "\n[jobs.c]\n"])
def test_a_file_that_ends_blank_or_with_a_comment_is_scanned(ending: str) -> None:
    text = '[jobs.a]\nrepo = "a/b"\ntmeout = 5' + ending
    assert key_positions(text)[("jobs", "a", "tmeout")] == (3, 1)
    assert str(locate("f.toml", text, ("jobs", "a", "tmeout"))) == "f.toml:3:1"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='[]{}"\'=.,# \t\r\nab\\', max_size=60))
def test_the_scanner_never_fails_whatever_the_text(text: str) -> None:
    found = key_positions(text)
    lines = text.split("\n")
    for line, column in found.values():
        assert 1 <= line <= len(lines) and 1 <= column <= len(lines[line - 1]) + 1


@given(st.text(alphabet="ab\r\n\t", max_size=40), st.integers(-2, 45))
def test_source_line_is_the_line_or_none(text: str, number: int) -> None:
    lines = text.split("\n")
    expected = None
    if 0 < number <= len(lines):  # a tab shows as a space, a stray CR as U+FFFD
        expected = lines[number - 1].removesuffix("\r").replace("\t", " ").replace("\r", "\ufffd")
    assert source_line(text, number) == expected


def test_a_long_line_is_quoted_in_a_moment(monkeypatch) -> None:
    """An error on a line of a 2 MB prompt (over the server's limit, the usual way
    to meet one) took `check` 6 s, and `add` as long, all in making the quoted
    line safe one character at a time (5.7 s of CPU here): a line with nothing to
    replace is taken whole. Counted, not timed: a character to replace is still
    replaced, one at a time."""
    from mogrun.taskfile import positions

    made_safe: list[str] = []
    one_at_a_time = positions._shown
    monkeypatch.setattr(positions, "_shown",
                        lambda char: made_safe.append(char) or one_at_a_time(char))
    long = "x" * 2_000_000
    assert source_line(f'prompt = "{long}\t"\n', 1) == f'prompt = "{long} "'
    assert made_safe == []
    assert source_line('prompt = "x\x1b"\n', 1) == 'prompt = "x\ufffd"'
    assert "\x1b" in made_safe


def test_task_file_text_never_reaches_the_terminal_as_escape_sequences(project) -> None:
    # A pull request can put escape sequences in the task file; list, show and errors
    # used to print them raw (retitling, clearing or recolouring the terminal).
    project.write(r"""
        [jobs.a]
        description = "nice \u001b]0;pwned\u0007 \u009b2J"
        repo = "acme/api"
        prompt = "x"
    """)
    listed = project.run("list")
    assert listed.code == 0, listed
    assert "nice \\x1b]0;pwned\\x07 \\x9b2J" in listed.out
    shown = project.run("show", "a")
    assert shown.code == 0, shown
    assert "  description: nice \\x1b]0;pwned\\x07 \\x9b2J" in shown.out
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n"\\u001b[2J" = 1\n')
    unknown = project.run("check")
    assert unknown.code == 2, unknown
    assert 'Error: unknown key "\\x1b[2J" in job "a"' in unknown.err
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x \x1b[2J"\n')
    syntax = project.run("list")
    assert syntax.code == 2, syntax
    assert syntax.err.splitlines()[2:4] == ['  3 | prompt = "x \ufffd[2J"',
                                            " " * 18 + "^"]
    for result in (listed, shown, unknown, syntax):
        assert not any(c in result.out + result.err for c in "\x1b\x07\x9b"), result


def test_the_quoted_source_line_is_the_right_one_after_a_unicode_line_break(project) -> None:
    # U+2028 inside a string is not a TOML line break, but the quoted source line was
    # found with str.splitlines(), which counts it: errors quoted the wrong line.
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "one\u2028two"\ntmeout = "5m"\n')
    result = project.run("check")
    assert result.code == 2, result
    assert result.err.splitlines()[:3] == [
        'Error: unknown key "tmeout" in job "a"',
        f"  --> {project.path.resolve()}:4:1",
        '  4 | tmeout = "5m"',
    ]


@pytest.mark.parametrize("value", [
    '"""Say \\"""hi\\""" please.\n"""',  # an escaped quote before two more: not the end
    '"""a""""',  # up to two quotes before the closing ones belong to the string
    '"""a"""""',
    '"""ends with a line-ending backslash \\\n   still the same string"""',
    '"""\\\\"""',  # an escaped backslash, then the closing quotes
    "'''raw ''quoted'' \\'''",  # a literal string: no escapes, '' inside
    "'''a'''''",
    '"one \\" line"',
    "'C:\\dir\\'",
])
def test_keys_after_every_kind_of_string_are_placed(value: str) -> None:
    text = f"[jobs.c]\nprompt = {value}\n\n[jobs.d]\nrepo = \"x/y\"\n"
    tomllib.loads(text)  # the fixture is valid TOML
    line = text.count("\n", 0, text.index("[jobs.d]")) + 1
    assert key_positions(text)[("jobs", "d", "repo")] == (line + 1, 1)
    assert ("jobs", "c", "prompt") in key_positions(text)


@st.composite
def multi_line_strings(draw: st.DrawFn) -> str:
    """A multi-line string as people write one: a basic one with escaped quotes,
    escaped backslashes, raw quotes and line-ending backslashes, or a literal one."""
    if draw(st.booleans()):
        body = draw(st.text(alphabet="a'\n {}", max_size=20))
        quotes = draw(st.integers(0, 2))  # up to two quotes before the closing ones
        return "'''" + body.replace("'''", "''") + "'" * quotes + "'''"
    pieces = draw(st.lists(st.sampled_from(['a', ' ', '\n', '"', '""', '\\"', '\\"""', '\\\\',
                                            '\\\n  ', '{{ job }}', "'''"]), max_size=12))
    return '"""' + "".join(pieces) + '"' * draw(st.integers(0, 2)) + '"""'


@settings(max_examples=300, deadline=None)
@given(multi_line_strings())
def test_keys_after_multi_line_strings_are_placed(value: str) -> None:
    text = f'[jobs.c]\nprompt = {value}\nrepo = "x/y"\n'
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assume(False)  # e.g. three raw quotes in a row: not a string anyone could save
    line = text.count("\n", 0, text.rindex('repo = "x/y"')) + 1
    assert key_positions(text)[("jobs", "c", "repo")] == (line, 1)


@st.composite
def one_line_values(draw: st.DrawFn) -> str:
    """A one-line value as people write one: basic strings with escapes, quotes,
    ``#`` and unicode inside, literal strings, numbers, arrays, inline tables."""
    text = st.text(alphabet='ab #="\'\\é\t{}[],', max_size=12)
    kind = draw(st.sampled_from(["basic", "literal", "number", "array", "inline"]))
    if kind == "basic":
        raw = draw(text)
        return '"' + raw.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t") + '"'
    if kind == "literal":
        return "'" + draw(text).replace("'", "") + "'"
    if kind == "number":
        return str(draw(st.integers(-5, 10**6)))
    items = draw(st.lists(one_line_values(), max_size=3))
    if kind == "array":
        return "[" + ", ".join(items) + "]"
    return "{ " + ", ".join(f"k{i} = {v}" for i, v in enumerate(items)) + " }"


@settings(max_examples=300, deadline=None)
@given(st.lists(one_line_values(), min_size=1, max_size=6), st.sampled_from(["\n", "\r\n"]),
       st.sampled_from(["", "  # note", "\t# [jobs.x]"]))
def test_every_key_after_one_line_values_is_placed_at_its_own_line(
        values: list[str], newline: str, comment: str) -> None:
    lines = ["[jobs.c]", *(f"key{i} = {value}{comment}" for i, value in enumerate(values))]
    text = newline.join(lines) + newline
    found = valid_positions(text)
    for i in range(len(values)):
        assert found[("jobs", "c", f"key{i}")] == (i + 2, 1), text


def _written(name: str, style: int) -> str:
    """``name`` as a TOML key, quoted one of the ways people quote it."""
    if style == 0 and name and all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
        return name
    if style == 1 and "'" not in name and "\n" not in name:
        return f"'{name}'"
    escaped = "".join(f"\\u{ord(c):04x}" if (ord(c) < 32 or c in "bé") else
                      {'"': '\\"', "\\": "\\\\"}.get(c, c) for c in name)
    return f'"{escaped}"'


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet='ab é"\\.\t-_', min_size=1, max_size=8),
       st.text(alphabet='ab é"\\.-_', min_size=1, max_size=8),
       st.integers(0, 2), st.integers(0, 2))
def test_a_quoted_key_is_found_by_the_name_toml_reads(job: str, key: str, s1: int,
                                                       s2: int) -> None:
    """An escape in a quoted key (``[jobs."a\\u0062"]``) left it unfound: errors in
    the job pointed at the [jobs] table instead."""
    text = f'# a job\n[jobs.{_written(job, s1)}]\n{_written(key, s2)} = 1\n\n'
    assert tomllib.loads(text)["jobs"] == {job: {key: 1}}
    assert key_positions(text)[("jobs", job, key)] == (3, 1)


def test_every_array_element_is_placed_where_it_starts() -> None:
    text = ('[jobs.docs]\nneeds = [\n  "build",  # first\n\t"lint",\n]\n'
            'notify = [\n  { webhook = "a" },\n  { webhook = "b", on = ["faild"] },\n]\n'
            '[[jobs.e.notify]]\nwebhook = "c"\n[[jobs.e.notify]]\non = ["x"]\n')
    tomllib.loads(text)  # the fixture is valid TOML
    found = key_positions(text)
    assert found[("jobs", "docs", "needs", 1)] == (4, 2)
    assert found[("jobs", "docs", "notify", 1, "on")] == (8, 20)
    assert found[("jobs", "docs", "notify", 1, "on", 0)] == (8, 26)
    assert found[("jobs", "e", "notify", 1, "on")] == (13, 1)
    # Without indexes, as before: the first occurrence.
    assert found[("jobs", "docs", "notify", "webhook")] == (7, 5)
    where = locate("f.toml", text, ("jobs", "docs", "needs", 5))  # no such element
    assert str(where) == "f.toml:2:1"


@settings(max_examples=300, deadline=None)
@given(st.lists(one_line_values(), min_size=1, max_size=6), st.sampled_from(["\n", "\r\n"]),
       st.sampled_from(["", "  # note", "\t# ]"]), st.sampled_from(["", "  ", "\t"]),
       st.booleans())
def test_every_element_of_a_multi_line_array_is_placed_at_its_own_line(
        values: list[str], newline: str, comment: str, indent: str, blank: bool) -> None:
    lines = ["[jobs.c]", "key = [", *(f"{indent}{value},{comment}" for value in values), "]"]
    if blank:
        lines.insert(2, "")
    text = newline.join(lines) + newline + newline
    found = valid_positions(text)
    for i in range(len(values)):
        assert found[("jobs", "c", "key", i)] == (i + 3 + blank, len(indent) + 1), text


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_nested_array_of_tables_is_placed_under_the_element_it_is_in(newline: str) -> None:
    # [[a.b]] belongs to the latest [[a]]: its elements were counted over the whole
    # file, so steps[1].sub[0] had no place of its own and fell back to the key.
    text = newline.join([
        "[jobs.x]", 'automation = "triage"', "[[jobs.x.input.steps]]  # one", 'name = "a"',
        "[[jobs.x.input.steps.sub]]", "v = 1", "", "[[jobs.x.input.steps]]", "\tname = 'b'",
        "[jobs.x.input.steps.opts]", "deep = true", "[[jobs.x.input.steps.sub]]", "v = 2",
        "[[jobs.x.input.steps.sub]]", "v = 3", "", ""])
    assert tomllib.loads(text)["jobs"]["x"]["input"]["steps"][1]["sub"][1] == {"v": 3}
    found = key_positions(text)
    steps = ("jobs", "x", "input", "steps")
    assert found[(*steps, 0, "sub", 0, "v")] == (6, 1)
    assert found[(*steps, 1)] == (8, 1)
    assert found[(*steps, 1, "name")] == (9, 2)
    assert found[(*steps, 1, "opts", "deep")] == (11, 1)
    assert found[(*steps, 1, "sub", 0)] == (12, 1)
    assert found[(*steps, 1, "sub", 1, "v")] == (15, 1)
    assert (*steps, 0, "sub", 1) not in found  # the first step has one sub
    assert found[(*steps, "sub", "v")] == (6, 1)  # without indexes: the first, as before


def test_a_problem_inside_a_nested_array_of_tables_points_at_its_own_line(project) -> None:
    for style in STYLES:
        write(project, '[jobs.x]\nrepo = "acme/api"\nautomation = "triage"\n\n'
                       '[[jobs.x.input.steps]]\t# the first\nname = "a"\n\n'
                       '[[jobs.x.input.steps]]\nname = "b"\nwhen = 2026-01-01T00:00:00Z\n\n'
                       "[[jobs.x.input.steps.sub]]\nv = 1\n[[jobs.x.input.steps.sub]]\n"
                       "v = nan  # not JSON\n", style)
        result = project.run("check")
        assert result.code == 2, result
        assert result.errors == [
            'Error: job "x", key "input" holds a datetime at steps[1].when, which JSON cannot '
            "carry: quote it as a string",
            'Error: job "x", key "input" holds nan at steps[1].sub[1].v, which JSON cannot '
            "carry: quote it as a string"], (style, result)
        places = [line.rsplit(":", 2)[1:] for line in result.err.splitlines()
                  if line.startswith("  --> ")]
        assert places == [["10", "1"], ["15", "1"]], (style, result.err)
