"""Templates through the CLI: the ``default`` filter makes a name optional."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mogrun.taskfile.templates import Scope, TemplateClock, literal_text, render

# Written as people write it, double quotes escaped inside a TOML basic string.
PROMPT = ("hook={{ env.HOOK | default('') }} region={{ region|default(\"eu\") }} "
          "t={{ team | default('x') }}")
FILE = ('[vars]\nteam = "platform"\n\n[jobs.a]\nrepo = "acme/api"\n'
        'prompt = "' + PROMPT.replace('"', '\\"') + '"\n')


def prompt_of(result) -> str:
    assert result.code == 0, result
    return json.loads(result.out)["runs"][0]["request"]["body"]["prompt"]


def test_default_stands_in_for_an_unset_env_name_or_a_missing_var(project, monkeypatch) -> None:
    project.write(FILE)
    assert prompt_of(project.run("--json", "show", "a")) == "hook= region=eu t=platform"
    checked = project.run("check")
    assert (checked.code, checked.err) == (0, "")  # no unset-env warning: it is optional
    monkeypatch.setenv("HOOK", "https://hooks.example/x")
    shown = project.run("--json", "--set", "region=us", "show", "a")
    assert prompt_of(shown) == "hook=*** region=us t=platform"  # a set env value is a secret


def test_an_unknown_filter_is_a_located_error(project) -> None:
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt = "{{ team | upper }}"
    """)
    result = project.run("check")
    assert result.code == 2, result
    assert result.errors == ['Error: job "a", key "prompt": invalid filter in '
                             '{{ team | upper }}: the one filter is default("text")']
    assert f"  --> {project.path.resolve()}:3:1" in result.err


def test_every_job_of_the_example_runs_locally_with_no_env_set(project) -> None:
    # weekly-cleanup, in `mogrun --help`'s examples, exited 2 for SLACK_WEBHOOK_URL.
    example = project.root / "mogplex.toml"
    source = Path(__file__).resolve().parents[2] / "mogplex.toml.example"
    example.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (project.root / "prompts").mkdir()
    (project.root / "prompts" / "codemod.md").write_text("Apply the codemod.\n")
    listed = project.run("--json", "list")
    jobs = [json.loads(line)["job"] for line in listed.out.splitlines()]
    assert "weekly-cleanup" in jobs
    for job in jobs:  # what a run resolves first (running all takes a minute of start limits)
        shown = project.run("--local", "show", job)
        assert shown.code == 0, shown
    ran = project.run("--local", "-q", "--no-deps", "weekly-cleanup")
    assert ran.code == 0, ran


def test_every_env_name_read_is_recorded_set_unset_or_defaulted() -> None:
    # What a CI job must be given: a defaulted name too (the default is for unset only).
    scope = Scope(job="j", clock=TemplateClock.now(), vars={}, env={"SET": "v"})
    text = "{{ env.SET }} {{ env.UNSET }} {{ env.OPT | default('x') }} {{{{ env.NOT }}"
    assert render(text, scope, "prompt").env_names == {"SET", "UNSET", "OPT"}


def test_set_takes_a_name_only_a_prompt_file_uses(project) -> None:
    (project.root / "p.md").write_text('Ticket prefix {{ prefix | default("OPS") }}\n')
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt_file = "p.md"\n')
    assert prompt_of(project.run("--json", "show", "a")) == "Ticket prefix OPS\n"
    assert prompt_of(project.run("--json", "--set", "prefix=WEB", "show", "a")) == (
        "Ticket prefix WEB\n")


def test_set_refuses_a_name_only_a_description_uses(project) -> None:
    """A description is shown as written, never rendered: setting its name would
    silently change nothing, as with a name no template uses."""
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "x"\ndescription = "for {{ team }}"\n')
    result = project.run("--set", "team=web", "list")
    assert result.code == 2, result
    assert result.err.startswith('Error: --set team: no [vars] entry or template of '
                                 'mogplex.toml uses "team"'), result.err


def test_an_unset_env_name_says_its_line_in_a_prompt_file(project) -> None:
    """Every other template problem in a prompt file says its line; an unset
    env.NAME there (an error for show and run) was located only at the key."""
    (project.root / "p.md").write_text("l1\r\nl2\r\nl3\r\nl4 {{ env.UNSET_X }}\r\n")
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt_file = "p.md"\n')
    result = project.run("show", "a")
    assert result.code == 2, result
    assert "It is on line 4 of the prompt file: l4 {{ env.UNSET_X }}\n" in result.err


def test_a_template_error_says_its_line_in_a_prompt_of_several(project) -> None:
    """The error was located only at the key: a prompt file of fifty lines said
    nothing of where in it the misspelt name was."""
    (project.root / "prompts").mkdir()
    lines = [f"step {n}: {{{{ team }}}}" for n in range(1, 50)] + ["step 50: {{ taem }}"]
    (project.root / "prompts" / "long.md").write_text("\r\n".join(lines) + "\r\n")
    project.write('[vars]\nteam = "p"\n\n[jobs.a]\nrepo = "acme/api"\n'
                  'prompt_file = "prompts/long.md"\n\n[jobs.b]\nrepo = "acme/api"\n'
                  'prompt = """\nfirst\nsecond {{ team\n"""\n\n'
                  '[jobs.c]\nrepo = "acme/api"\nprompt = "one line {{ taem }}"\n')
    result = project.run("check")
    assert result.code == 2, result
    assert "It is on line 50 of the prompt file: step 50: {{ taem }}\n" in result.err
    assert "It is on line 2 of the prompt: second {{ team\n" in result.err  # job b's unclosed {{
    assert "Template:" not in result.err  # not the whole prompt again
    assert result.err.count("It is on line") == 2  # one line: nothing to say


def test_every_template_problem_of_one_text_at_once(project) -> None:
    """Only the first was said: fixing it revealed the next."""
    (project.root / "prompt.md").write_text(
        "a {{ team }}\nb {{ taem }}\nc {{ env.X | bogus }}\nd {{ team\n")
    project.write('[vars]\nteam = "p"\n\n[jobs.a]\nrepo = "acme/api"\n'
                  'prompt_file = "prompt.md"\n')
    result = project.run("check")
    assert result.code == 2, result
    assert [line.split(": ", 1)[0] for line in result.err.splitlines()
            if line.startswith("It is on line")] == [
        "It is on line 2 of the prompt file", "It is on line 3 of the prompt file",
        "It is on line 4 of the prompt file"]
    shown = project.run("show", "a")
    assert shown.code == 2
    assert "(2 more problems: run `mogrun check` to see them all)" in shown.err


def test_an_invalid_name_points_at_the_escape(project) -> None:
    """GitHub's ${{ github.ref }} and Helm's {{ .Values.image }} were told as an
    invalid name, with no word of {{{{, the escape for a literal {{."""
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt = "Deploy ${{ github.ref }} with {{ .Values.image }}"
    """)
    result = project.run("check")
    assert result.errors == [
        'Error: job "a", key "prompt": invalid template name \'github.ref\' in '
        "{{ github.ref }} (write {{{{ for a literal {{)",
        'Error: job "a", key "prompt": invalid template name \'.Values.image\' in '
        "{{ .Values.image }} (write {{{{ for a literal {{)"]


def test_a_name_that_runs_into_the_next_template_is_an_unclosed_one(project) -> None:
    """"Mark with {{ here.\\nThen {{ team }}" was the invalid name "here.\\nThen
    do it for {{ team": the first {{ is the one left open."""
    project.write('[vars]\nteam = "p"\n\n[jobs.a]\nrepo = "acme/api"\n'
                  'prompt = """Mark with {{ here.\nThen do it for {{ team }}."""\n\n'
                  '[jobs.b]\nrepo = "acme/api"\nprompt = "x {{ y {{ team }}"\n')
    result = project.run("check")
    assert result.errors == [
        'Error: job "a", key "prompt": unclosed {{ (write {{{{ for a literal {{)',
        'Error: job "b", key "prompt": unclosed {{ (write {{{{ for a literal {{)'], result
    assert "It is on line 1 of the prompt: Mark with {{ here." in result.err
    assert "Template: x {{ y {{ team }}" in result.err


def test_show_stops_at_the_problem_written_first(project) -> None:
    """show said the idempotency key's unset env name first, the order the keys
    are rendered in, not the repo's or the prompt's written above it."""
    project.write("""
        [jobs.a]
        repo = "{{ env.RR }}"
        prompt = "x {{ env.PP }}"
        idempotency_key = "{{ env.KK }}"
        branch = "{{ env.BB }}"
    """)
    shown = project.run("show", "a", env={"RR": "acme/api"})
    assert shown.code == 2, shown
    assert shown.errors[0] == ('Error: job "a", key "prompt": environment variable PP is not '
                               "set (used by {{ env.PP }})")
    assert "(2 more problems" in shown.err


def test_a_var_problem_named_twice_at_each_level_is_said_once() -> None:
    # Each var names the next twice: the one past the size cap was said 2**depth
    # times (two million errors for forty vars: 5 s and 350 MiB to check a file).
    import pytest

    from mogrun.errors import TemplateError

    depth = 26
    chain = {f"v{i}": f"{{{{ v{i + 1} }}}}{{{{ v{i + 1} }}}}" for i in range(depth)}
    scope = Scope(job="j", clock=TemplateClock.now(), vars={**chain, f"v{depth}": "xy"},
                  env={}, templated=frozenset(chain))
    with pytest.raises(TemplateError) as raised:
        render("{{ v0 }}", scope, "prompt")
    assert len(getattr(raised.value, "errors", (raised.value,))) == 1
    assert "a var may hold" in raised.value.message


def test_a_template_problem_hides_no_unset_env_warning_beside_it(project) -> None:
    """check warned of an unset env.NAME only once the other template of the same
    text was fixed: "fixing one round does not reveal the next" did not hold."""
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt = "{{ env.DEPLOY_HOOK }} {{ nope }}"\n')
    result = project.run("check")
    assert result.code == 2, result
    assert 'unknown template name "nope"' in result.err
    assert (f'warning: {project.job_at("a")}: job "a" uses env.DEPLOY_HOOK, which is not '
            "set here (it must be set when this job runs)") in result.err


@pytest.mark.parametrize(("text", "literal"), [
    ("{{ env.HOOK }}", ""),
    ("http://{{ host }}/x", "http:///x"),
    ("{{{{x}}", "{{x}}"),  # an escaped {{ is text, not a placeholder
    ("a {{ b }} c {{ d|default('e') }}", "a  c "),
])
def test_literal_text_is_what_a_value_says_whatever_its_placeholders_render(text, literal):
    """A plugin's secret written as a template is a name, not a secret; the text
    around it is (and ``{{{{`` is text: the old pattern took ``{{{{x}}`` for a
    placeholder, so that secret went unmasked in a quoted line)."""
    assert literal_text(text) == literal
