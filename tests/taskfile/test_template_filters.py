"""The filter grammar, exactly: ``{{ name }}`` or ``{{ name | default('text') }}``
(either quote, one quoted argument, nothing after it). A chained filter or a
second argument was read as part of the default's text and sent (QA: check
said ok for ``{{ nope | default('a') | upper('b') }}``)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mogrun.errors import TemplateError
from mogrun.taskfile.templates import Scope, TemplateClock, render

FILTER_ERROR = "the one filter is default(\"text\")"

# As people write it: a comment, CRLF line ends, blank lines at the end.
CRLF_FILE = (
    "# nightly jobs\r\n"
    "[jobs.a]\r\n"
    "repo = \"acme/api\"   # the API\r\n"
    "prompt = \"A={{ nope | default('a') | upper('b') }} B={{ nope | default('x', 'y') }}\"\r\n"
    "\r\n"
    "\r\n"
)


def scope(**env: str) -> Scope:
    return Scope(job="j", clock=TemplateClock.now(), vars={"team": "platform"}, env=env)


def test_a_chained_filter_and_a_second_argument_are_located_errors(project) -> None:
    path = project.root / "mogplex.toml"
    path.write_bytes(CRLF_FILE.encode())
    checked = project.run("check")
    assert checked.code == 2, checked
    assert checked.errors == [
        'Error: job "a", key "prompt": invalid filter in '
        f"{{{{ nope | default('a') | upper('b') }}}}: {FILTER_ERROR}",
        'Error: job "a", key "prompt": invalid filter in '
        f"{{{{ nope | default('x', 'y') }}}}: {FILTER_ERROR}"]
    assert f"  --> {path.resolve()}:4:13" in checked.err
    assert f"  --> {path.resolve()}:4:54" in checked.err
    shown = project.run("--json", "show", "a")  # never sent as text: show refuses it too
    assert shown.code == 2, shown
    assert "upper" not in shown.out


def test_a_template_with_escaped_quotes_is_located_and_listed_in_file_order(project) -> None:
    """``default(\\"none\\")`` in a basic string: the source line holds the template
    escaped, so its caret stayed at the key (3:1) and check listed it before the
    unknown name earlier on the line; show said it as the first problem."""
    path = project.root / "mogplex.toml"
    path.write_bytes(b'# jobs\r\n[jobs.a]\r\nrepo = "a/b"\r\n'
                     b'prompt = "Hi {{ tema }}, see {{ url | default(\\"none\\", \\"x\\") }}"'
                     b'  # two\r\n\r\n\r\n')
    checked = project.run("check")
    assert checked.code == 2, checked
    assert checked.errors == [
        'Error: job "a", key "prompt": unknown template name "tema" in {{ tema }}',
        'Error: job "a", key "prompt": invalid filter in '
        f'{{{{ url | default("none", "x") }}}}: {FILTER_ERROR}']
    assert checked.err.index(f"{path.resolve()}:4:14") < checked.err.index(
        f"{path.resolve()}:4:30")
    shown = project.run("show", "a")
    assert shown.code == 2, shown
    assert shown.errors[0] == checked.errors[0]


@pytest.mark.parametrize(("key", "file", "where"), [
    ("repo", '[jobs.a]\nrepo = "acme/{{ r | default(\'api\') | lower }}"\nprompt = "x"\n', ":2:14"),
    ("branch", '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n'
     'branch = "b/{{ n | default(\'x\') x }}"\n', ":4:13"),
    ("idempotency_key", '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n'
     'idempotency_key = "{{ n | default(\'k\')) }}"\n', ":4:20"),
    ("notify", '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n'
     'notify = [{ webhook = "{{ env.HOOK | default(\'\') | default(\'\') }}" }]\n', ":4:24"),
    ("prompt_file", '[jobs.a]\nrepo = "acme/api"\nprompt_file = "p.md"\n', ":3:1"),
    ("vars", '[vars]\nv = "{{ n | default(\'a\', \'b\') }}"\n\n'
     '[jobs.a]\nrepo = "acme/api"\nprompt = "{{ v }}"\n', ":2:6"),
])
def test_every_rendered_key_reads_the_same_grammar(project, key: str, file: str,
                                                   where: str) -> None:
    # A prompt file with CRLF and trailing blank lines, its second line the bad one.
    (project.root / "p.md").write_bytes(b"Line one\r\n{{ x | default(\"a\") | upper }}\r\n\r\n")
    project.write(file)
    checked = project.run("check")
    assert checked.code == 2, checked
    assert len(checked.errors) == 1, checked.err
    assert "invalid filter in {{" in checked.errors[0]
    assert checked.errors[0].endswith(FILTER_ERROR)
    assert f"{project.path.resolve()}{where}\n" in checked.err
    if key == "prompt_file":
        assert "It is on line 2 of the prompt file" in checked.err


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ nope | default('it\"s') }}", 'it"s'),      # the other quote is text
    ('{{ nope | default("it\'s") }}', "it's"),
    ("{{ nope|default ( 'z' ) }}", "z"),            # spaces as people put them
    ("{{ nope | default('a|b (c)') }}", "a|b (c)"),  # a | or ) inside the quotes is text
    ("{{ nope | default('') }}", ""),
    ("{{ team | default('x') }}", "platform"),
    ("{{ env.SET | default('x') }} {{ env.UNSET | default('y') }}", "v y"),
])
def test_what_the_grammar_keeps(template: str, expected: str) -> None:
    assert render(template, scope(SET="v"), "prompt").text == expected


@pytest.mark.parametrize("template", [
    "{{ nope | default('a') | upper('b') }}",
    "{{ nope | default('x', 'y') }}",
    "{{ nope | default('x') 'y' }}",
    "{{ nope | default('it's') }}",          # no escapes: the text ends at its quote
    "{{ nope | default('x\") }}",            # quotes that do not pair
    "{{ nope | default(x) }}",
    "{{ nope | default() }}",
    "{{ nope | default }}",
    "{{ nope | default('a') | default('b') }}",
    "{{ date | upper }}",
    "{{ nope || default('a') }}",
])
def test_what_the_grammar_refuses(template: str) -> None:
    with pytest.raises(TemplateError, match="invalid filter"):
        render(template, scope(), "prompt")


_TEXT = st.text(st.characters(blacklist_characters="'\n\r{}", blacklist_categories=("Cs",)),
                max_size=20)


@given(text=_TEXT, tail=st.sampled_from(["| upper", "| default('z')", ", 'y'", "x", ")"]))
def test_the_default_is_exactly_its_quoted_text(text: str, tail: str) -> None:
    assert render(f"{{{{ nope | default('{text}') }}}}", scope(), "prompt").text == text
    with pytest.raises(TemplateError, match="invalid filter"):
        render(f"{{{{ nope | default('{text}') {tail} }}}}", scope(), "prompt")


def test_the_documented_defaults_still_render(project) -> None:
    project.write("""
        [vars]
        greeting = "Hello {{ who | default('team') }}"

        [jobs.weekly-cleanup]
        repo = "acme/api"
        prompt = "{{ greeting }}; ticket prefix {{ ticket_prefix | default('OPS') }}."
        notify = [{ webhook = "{{ env.SLACK_WEBHOOK_URL | default('') }}" }]
    """)
    checked = project.run("check")
    assert (checked.code, checked.err) == (0, "")
    shown = project.run("--json", "show", "weekly-cleanup")
    assert json.loads(shown.out)["runs"][0]["request"]["body"]["prompt"] == (
        "Hello team; ticket prefix OPS.")
