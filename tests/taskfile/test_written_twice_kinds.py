"""A header that adds to a key already written whole (an inline table, an array,
a table made by a dotted key) says so, at the header, naming the line of what
it adds to: tomllib's "declared twice" of a table declared once, or "Cannot
mutate immutable namespace" at the closing ``]]``, did not. An unclosed
multi-line string names the line it opened on, as an unclosed array does.

Each case is written as editors and people write it: LF, CRLF, a byte order
mark, blank lines after the last one, a comment before every line (CRLF),
a tab before every line (with a byte order mark)."""

from __future__ import annotations

import pytest

from .styles import STYLES, write

# (style of styles.write, how the lines are written): "comments" puts a comment
# line before each line (line n moves to 2n), "tabs" a tab (column c moves to c+1).
FORMS = [*((style, "") for style in STYLES), ("crlf", "comments"), ("bom", "tabs")]


def _written(text: str, how: str) -> str:
    lines = text.split("\n")
    if how == "comments":
        return "\n".join(f"# note {n}\n{line}" for n, line in enumerate(lines[:-1])) + "\n"
    if how == "tabs":
        return "\n".join(f"\t{line}" if line else line for line in lines)
    return text


def _line(line: int, how: str) -> int:
    return 2 * line if how == "comments" else line


def _column(column: int, how: str) -> int:
    return column + 1 if how == "tabs" else column


def _check(project, text: str, form: tuple[str, str]) -> list[str]:
    """``check``'s error lines for ``text`` written in ``form`` (exit 2, no traceback)."""
    style, how = form
    write(project, _written(text, how), style)
    result = project.run("check")
    assert result.code == 2, result
    assert "Traceback" not in result.err, result
    return result.err.splitlines()


INLINE = "an inline table is complete as written"


@pytest.mark.parametrize("form", FORMS, ids=lambda form: "-".join(filter(None, form)))
@pytest.mark.parametrize(("text", "message", "lines", "where"), [
    # `jobs` inline, then a header under it: "table [jobs.b] is declared twice".
    ('jobs = { hello = { repo = "acme/api", prompt = "x" } }\n\n[jobs.b]\nrepo = "acme/api"\n'
     'prompt = "x"\n', "jobs was written inline on line {}; [jobs.b] cannot add to it: " + INLINE,
     (1,), (3, 1)),
    ('[jobs.hello]\nrepo = "acme/api"\nprompt = "x"\nretry = { attempts = 2 }\n\n'
     '[jobs.hello.retry]\nmax_delay = "1m"\n',
     "retry was written inline on line {}; [jobs.hello.retry] cannot add to it: " + INLINE,
     (4,), (6, 1)),
    ('[jobs]\nhello.retry = { attempts = 2 }\n\n[jobs.hello.retry]\nmax_delay = "1m"\n',
     "hello.retry was written inline on line {}; [jobs.hello.retry] cannot add to it: "
     + INLINE, (2,), (4, 1)),
    ('[defaults]\nnotify = { webhook = "https://x.example" }\n\n[[defaults.notify]]\n'
     'webhook = "https://y.example"\n',
     "notify was written inline on line {}; [[defaults.notify]] cannot add to it: " + INLINE,
     (2,), (4, 1)),
    # An array, then an array of tables of its name: "Cannot mutate immutable
    # namespace jobs.hello.notify" at the closing ]].
    ('[jobs.hello]\nrepo = "acme/api"\nprompt = "x"\nnotify = []\n\n[[jobs.hello.notify]]\n'
     'webhook = "https://x.example"\n',
     "notify is already set on line {} as an array; [[jobs.hello.notify]] cannot add to it",
     (4,), (6, 1)),
    ('[defaults]\nnotify = [{ webhook = "https://x.example" }]\n\n[[defaults.notify]]\n'
     'webhook = "https://y.example"\n',
     "notify is already set on line {} as an array; [[defaults.notify]] cannot add to it",
     (2,), (4, 1)),
    ('[defaults]\nnotify = [\n  { webhook = "https://x.example" },\n]\n[[defaults.notify]]\n'
     'webhook = "https://y.example"\n',
     "notify is already set on line {} as an array; [[defaults.notify]] cannot add to it",
     (2,), (5, 1)),
    ('[defaults]\nnotify = [{ webhook = "https://x.example" }]\n\n[defaults.notify]\n'
     'webhook = "https://y.example"\n',
     "notify is already set on line {} as an array; [defaults.notify] cannot add to it",
     (2,), (4, 1)),
    # A table a dotted key made, then its header: "declared twice" too.
    ('[jobs]\nhello.repo = "acme/api"\nhello.prompt = "x"\n\n[jobs.hello]\ntimeout = "5m"\n',
     'table [jobs.hello] is already defined by the dotted key "hello.repo" on line {}; '
     'write "repo" under [jobs.hello] instead', (2,), (5, 1)),
    # A table declared twice is still said to be.
    ('[jobs.hello]\nrepo = "acme/api"\nprompt = "x"\nretry = { attempts = 2 }\n\n[jobs.hello]\n',
     "table [jobs.hello] is declared twice", (), (6, 1)),
], ids=["inline-jobs", "inline-retry", "inline-dotted-key", "inline-then-array-of-tables",
        "empty-array", "array-of-inline-tables", "array-over-lines", "array-then-table",
        "dotted-key-then-header", "declared-twice"])
def test_a_header_into_a_value_written_whole_names_it(
        project, text: str, message: str, lines: tuple[int, ...], where: tuple[int, int],
        form: tuple[str, str]) -> None:
    how = form[1]
    err = _check(project, text, form)
    assert err[0] == "Error: invalid TOML: " + message.format(*(_line(n, how) for n in lines))
    line, column = _line(where[0], how), _column(where[1], how)
    assert err[1] == f"  --> {project.path.resolve()}:{line}:{column}"
    assert err[3] == " " * (len(f"  {line} | ") + column - 1) + "^"


@pytest.mark.parametrize("form", FORMS, ids=lambda form: "-".join(filter(None, form)))
@pytest.mark.parametrize(("text", "message", "where", "opened"), [
    ('[jobs.a]\nrepo = "acme/api"\nprompt = """Say\nhello.\n',
     "Unterminated string", (4, 7), 'on line {} is not closed: end it with """.'),
    ("[jobs.a]\nrepo = 'acme/api'\nprompt = '''Say \"\"\"\nhello.\n",
     "Expected \"'''\"", (4, 7), "on line {} is not closed: end it with '''."),
    ('[jobs.a]\nrepo = "acme/api"\nprompt = [\n  """Say\nhello.\n',
     "Unterminated string", (5, 7), 'on line {} is not closed: end it with """.'),
], ids=["basic", "literal", "in-an-array"])
def test_an_unclosed_multi_line_string_names_the_line_it_opened_on(
        project, text: str, message: str, where: tuple[int, int], opened: str,
        form: tuple[str, str]) -> None:
    # It was located at the file's last line only, with no word of where it began
    # (the third: "The array opened on line 3 is not closed", the string being the cause).
    how = form[1]
    err = _check(project, text, form)
    line, column = _line(where[0], how), _column(where[1], how)
    assert err[:2] == [f"Error: invalid TOML: {message}",
                       f"  --> {project.path.resolve()}:{line}:{column}"]
    opened_on = _line(3 if "[\n" not in text else 4, how)
    assert err[4:] == ["The multi-line string opened " + opened.format(opened_on)]


@pytest.mark.parametrize("form", FORMS, ids=lambda form: "-".join(filter(None, form)))
@pytest.mark.parametrize(("text", "message", "where", "opened"), [
    ('[jobs.a]\nrepo = "acme/api"\nprompt = "Say hello.\ntimeout = "5m"\n',
     "Illegal character", (3, 21), (10, '"')),
    ("[jobs.a]\nrepo = 'acme/api\nprompt = 'Say hello.'\n",
     "Found invalid character", (2, 17), (8, "'")),
    # No ' later in the file: tomllib looked for it to the end, and said 'Expected "'"'
    # at the file's last line (a comment's apostrophe is not one).
    ("[jobs.a]\nrepo = 'acme/api\nprompt = \"Say hello.\"\n# it's\n\n# the end\n",
     "Found invalid character", (2, 17), (8, "'")),
    ('[jobs.a]\nrepo = "acme/api"\nneeds = ["lint,\n  "test"]\nprompt = "x"\n',
     "Illegal character", (3, 16), (10, '"')),
], ids=["basic", "literal", "literal-last-quote", "in-an-array"])
def test_an_unclosed_one_line_string_names_the_column_it_opened_at(
        project, text: str, message: str, where: tuple[int, int], opened: tuple[int, str],
        form: tuple[str, str]) -> None:
    # tomllib's "Illegal character '\n'" came with no word of the string left open; in a
    # CRLF file the caret sat on the '\r' while the message named '\n'.
    style, how = form
    err = _check(project, text, form)
    line, column = _line(where[0], how), _column(where[1], how)
    line_break = r"'\r\n'" if style == "crlf" else r"'\n'"
    assert err[:2] == [f"Error: invalid TOML: {message} {line_break}",
                       f"  --> {project.path.resolve()}:{line}:{column}"]
    assert err[3] == " " * len(err[2]) + "^"  # the caret on the line break
    quote = opened[1]
    assert err[4:] == [f"The string opened at column {_column(opened[0], how)} is not closed: "
                       f"end it with {quote} on its line (or write {quote * 3} around a string "
                       "of several lines)."]
