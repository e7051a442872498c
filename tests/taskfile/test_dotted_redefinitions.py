"""A dotted key that adds to a table already written whole (under its own
header, or inline) is named and pointed at like any key written twice, not in
tomllib's words one column past the end of its line."""

from __future__ import annotations

import pytest

from .styles import STYLES, write


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(("text", "message", "where"), [
    ('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n[jobs]\na.repo = "x/y"\n',
     'key "a.repo" in [jobs] adds to table [jobs.a], which has a header of its own: '
     'write "repo" under that header', "5:1"),
    ('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n[jobs]\n  "a".gates.status = ["success"]  # c\n',
     'key "a.gates.status" in [jobs] adds to table [jobs.a], which has a header of its own: '
     'write "gates.status" under that header', "5:3"),
    ('[jobs.a.gates]\nstatus = ["success"]\n[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n'
     'gates.max_duration = "5m"\n',
     'key "gates.max_duration" in [jobs.a] adds to table [jobs.a.gates], which has a header '
     'of its own: write "max_duration" under that header', "6:1"),
    ('[jobs]\na = { repo = "acme/api", prompt = "x" }\na.timeout = "5m"\n',
     'key "a.timeout" in [jobs] adds to the inline table jobs.a: write "timeout" inside its { }',
     "3:1"),
    ('[jobs]\na.repo = "acme/api"\na.needs = ["b"]\na.needs.x = 1\n',
     'key "a.needs.x" in [jobs] adds to jobs.a.needs, which already holds a value', "4:1"),
])
def test_a_dotted_key_into_a_table_written_whole_is_named(
        project, text: str, message: str, where: str, style: str) -> None:
    # It said "invalid TOML: Cannot redefine namespace jobs.a --> 5:15", one column
    # past the end of the 14-character line.
    write(project, text, style)
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors == [f"Error: invalid TOML: {message}"]
    assert f"mogplex.toml:{where}\n" in result.err
    assert "Traceback" not in result.err
