"""`mogrun schema`: the JSON Schema of mogplex.toml, generated from the rules
`check` uses. A real validator (jsonschema) holds it to Draft 2020-12, to the
example file and the docs' snippets, and to `check` itself: whatever `check`
accepts, the schema accepts (an editor never flags a file mogrun runs)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings

from .test_realistic import encode, task_files

ROOT = Path(__file__).resolve().parents[2]
SNIPPET = re.compile(r"```toml\n(.*?)```", re.DOTALL)


@pytest.fixture
def validator(project) -> jsonschema.protocols.Validator:
    result = project.run("schema", plugins=True)
    assert result.code == 0, result
    schema = json.loads(result.out)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors_of(validator, text: str) -> list[str]:
    return [error.message for error in validator.iter_errors(tomllib.loads(text))]


def test_the_schema_has_every_key_with_the_plugins_keys(validator) -> None:
    job = validator.schema["properties"]["jobs"]["additionalProperties"]["properties"]
    assert {"repo", "prompt", "timeout", "needs", "retry", "gates", "notify"} <= set(job)
    assert job["retry"]["description"] == ("retry policy: {attempts, max_delay, "
                                           "stall_timeout} (plugin retry)")
    defaults = validator.schema["properties"]["defaults"]["properties"]
    assert "needs" not in defaults and "retry" in defaults


def test_the_example_file_is_valid(validator) -> None:
    text = (ROOT / "mogplex.toml.example").read_text(encoding="utf-8")
    assert errors_of(validator, text) == []


def test_every_docs_snippet_check_accepts_is_valid(project, validator) -> None:
    (project.root / "prompts").mkdir()
    checked = 0
    for snippet in SNIPPET.findall((ROOT / "docs" / "taskfile.md").read_text(encoding="utf-8")):
        try:
            tomllib.loads(snippet)
        except tomllib.TOMLDecodeError:
            continue  # a fragment of a file, not one
        project.path.write_text(snippet, encoding="utf-8")
        if project.run("check", plugins=True).code == 0:
            assert errors_of(validator, snippet) == [], snippet
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize(("text", "message"), [
    ('[jobs.a]\nrepo = "a/b"\nprompt = "x"\ntmeout = "5m"\n', "'tmeout' was unexpected"),
    ('[jobs.a]\nrepo = "a/b"\nprompt = "x"\nharness = "gpt"\n', "is not one of"),
    ('[jobs.a]\nrepo = "a/b"\nprompt = "x"\ntimeout = "soon"\n', "is not valid under any"),
    ('[jobs.a]\nrepo = "a/b"\nprompt = "x"\nretry = { attempts = 0 }\n', "less than the minimum"),
    ('[defaults]\nneeds = ["a"]\n', "'needs' was unexpected"),
    ('[vars]\ndate = "x"\n', "should not be valid"),
    ('[jobs."-x"]\nrepo = "a/b"\nprompt = "x"\n', "does not match"),
    ('[mogplex]\nstarts_per_minute = 0\n', "less than the minimum"),
    ('[jobs.a]\nrepo = "a/b"\nprompt = "x"\nschedule = [5]\n', "is not valid under any"),
])
def test_what_the_schema_refuses_check_refuses(project, validator, text, message) -> None:
    errors = errors_of(validator, text)
    assert len(errors) == 1 and message in errors[0], errors
    project.path.write_text(text, encoding="utf-8")
    assert project.run("check", plugins=True).code == 2


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(task_files())
def test_whatever_check_accepts_the_schema_accepts(project, validator, text: str) -> None:
    (project.root / "prompts").mkdir(exist_ok=True)
    (project.root / "prompts" / "p.md").write_text("Do it.\n", encoding="utf-8")
    project.path.write_bytes(encode(text, crlf=False, bom=False))
    if project.run("check", plugins=True).code == 0:
        assert errors_of(validator, text) == []


@pytest.mark.parametrize(("value", "valid"), [
    ('"60"', True), ('"1.5"', True), ('" 90 "', True), ("60", True), ('"1h30m"', True),
    ('"-60"', False), ('"nan"', False), ('"1e3"', False), ('"soon"', False)])
def test_the_schema_and_check_agree_on_duration_strings(project, validator, value: str,
                                                        valid: bool) -> None:
    text = (f'[defaults]\r\ncapacity_wait = {value}\r\n\r\n[jobs.a]  # one job\r\n'
            f'repo = "a/b"\r\nprompt = "x"\r\ntimeout = {value}\r\n\r\n')
    assert (errors_of(validator, text) == []) is valid
    project.path.write_text(text, encoding="utf-8", newline="")
    assert (project.run("check", plugins=True).code == 0) is valid


@pytest.mark.parametrize("content", ["", "\n\n", "\r\n \t\r\n", "\ufeff"])
def test_an_empty_task_file_beside_it_is_no_task_file(project, content) -> None:
    """`touch mogplex.toml && mogrun schema > ...` is how an editor set-up begins;
    the empty file stopped it with "task file is empty" (run and check still say so)."""
    project.path.write_text(content, encoding="utf-8")
    result = project.run("schema")
    assert result.code == 0, result
    assert json.loads(result.out)["title"] == "mogplex.toml"
    checked = project.run("check")
    assert checked.code == 2 and "is empty" in checked.err


def test_a_file_being_fixed_still_gets_the_schema_of_the_plugins_that_load(project) -> None:
    """An editor asks for the schema while the file is broken: a TOML syntax error
    or a plugin that cannot load refused it (exit 2, nothing on stdout)."""
    project.path.write_bytes(b"\xef\xbb\xbf# being edited\r\n[jobs.a\r\n\r\n")
    broken = project.run("schema")
    assert broken.code == 0, broken
    assert "notify" in json.loads(broken.out)["properties"]["jobs"]["additionalProperties"][
        "properties"]  # the bundled plugins' keys
    assert broken.err.splitlines()[0] == (
        "warning: invalid TOML: Expected ']' at the end of a table declaration (the keys its "
        "plugins declare are not in the schema)")
    (project.root / "ok.py").write_text(
        "from mogrun.plugin import hookimpl\n\n@hookimpl\ndef mogrun_job_keys(register):\n"
        "    register('owner', lambda value: value)\n")
    project.path.write_text('[mogplex]\r\nplugins = ["nope.py", "ok.py"]  # two\r\n\r\n'
                            '[jobs.a]\r\nrepo = "a/b"\r\nprompt = "x"\r\n\r\n', newline="")
    half = project.run("schema", plugins=True)
    assert half.code == 0, half
    keys = json.loads(half.out)["properties"]["jobs"]["additionalProperties"]["properties"]
    assert "owner" in keys
    assert half.err.splitlines()[0].startswith('warning: plugin "nope" not found: ')
    assert half.err.splitlines()[0].endswith(
        "(the keys this plugin declares are not in the schema)")
    assert project.run("-f", "missing.toml", "schema").code == 2  # named, not there
    assert project.run("schema", "-p", "nope_module", plugins=True).code == 2  # on the line


def test_a_folder_named_like_the_task_file_is_said_and_no_task_file_is_not(project) -> None:
    """A folder named mogplex.toml is no task file (``list`` refuses it), but
    ``schema`` said nothing of it, as if there were none; a folder with no task
    file anywhere above is still quiet."""
    project.path.mkdir()
    result = project.run("schema")
    assert result.code == 0, result
    assert json.loads(result.out)["title"] == "mogplex.toml"
    assert result.err == (
        f"warning: task file {project.path} is a directory; rename it, or name the task "
        "file with -f PATH or MOGRUN_FILE "
        "(the keys its plugins declare are not in the schema)\n")
    project.path.rmdir()
    none = project.run("schema")
    assert (none.code, none.err) == (0, ""), none


def test_json_schema_is_one_object_on_one_line(project) -> None:
    """--json is one object per line on stdout; schema printed its pretty form."""
    pretty = project.run("schema", plugins=True)
    result = project.run("--json", "schema", plugins=True)
    assert result.code == 0, result
    [line] = result.out.splitlines()
    assert json.loads(line) == json.loads(pretty.out)
