"""Random bytes and random TOML fed to `check` and `list`: exit 0 or 2, one
`Error:` message, never a traceback."""

from __future__ import annotations

import re
import tomllib

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

KEYS = st.sampled_from(["repo", "prompt", "prompt_file", "needs", "timeout", "harness", "branch",
                        "base_branch", "create_branch", "root", "idempotency_key", "on_timeout",
                        "description", "retry", "gates", "notify", "tmeout", "token", "url",
                        "plugins", "jobs", "vars", "defaults", "mogplex", "team"])
SCALARS = (st.text(alphabet="ab{} ./-:", max_size=12) | st.integers(-3, 10**6) | st.booleans()
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.sampled_from(["acme/api", "{{ team }}", "{{ env.X }}", "25m", "codex", "..",
                              "{{ repo }}", "{{{{", "{{", "prompts/none.md", "https://x.io"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(KEYS, inner, max_size=3), max_leaves=8)
DOCS = st.dictionaries(KEYS, VALUES, max_size=4) | st.fixed_dictionaries(
    {"jobs": st.dictionaries(st.sampled_from(["a", "b", "list"]) | KEYS,  # [jobs.needs]
                             st.dictionaries(KEYS, VALUES, max_size=5), max_size=3)})
FAST = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + "}"
    return repr(value)


def toml_doc(doc: dict) -> str:
    lines = []
    for key, value in doc.items():
        if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
            for name, table in value.items():
                lines.append(f'[{key}."{name}"]')
                lines += [f'"{k}" = {toml_value(v)}' for k, v in table.items()]
        else:
            lines.insert(0, f'"{key}" = {toml_value(value)}')
    return "\n".join(lines) + "\n"


def assert_clean(result) -> None:
    assert result.code in (0, 2), result
    assert "Traceback" not in result.err
    if result.code == 2:
        assert result.err.startswith("Error: "), result


@FAST
@given(st.binary(max_size=200))
def test_random_bytes(project, data: bytes) -> None:
    project.path.write_bytes(data)
    assert_clean(project.run("check"))


@FAST
@given(DOCS)
def test_random_toml(project, doc: dict) -> None:
    text = toml_doc(doc)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assume(False)  # the generator wrote invalid TOML: not this test's subject
    project.path.write_text(text)
    assert_clean(project.run("check"))
    assert_clean(project.run("list"))


@FAST
@given(DOCS, st.data())
def test_random_toml_saved_half_written_or_with_a_line_twice(project, doc: dict, data) -> None:
    # A syntax error at the end of a file had no line; a repeated key was named
    # nowhere and pointed past its line; a repeated table was a Python tuple.
    lines = toml_doc(doc).splitlines(keepends=True)
    twice = data.draw(st.integers(0, len(lines) - 1))
    text = "".join([*lines[: twice + 1], *lines[twice:]])
    text = text[: data.draw(st.integers(1, len(text)))]
    project.path.write_text(text)
    result = project.run("check")
    assert_clean(result)
    if result.err.startswith("Error: invalid TOML: "):
        headline, where = result.err.splitlines()[:2]
        assert re.fullmatch(r"  --> .*:\d+:\d+", where), result
        assert "Cannot overwrite" not in headline and "('" not in headline, result
