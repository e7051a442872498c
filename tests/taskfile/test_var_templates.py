"""A ``[vars]`` value is a template too (as make and just expand a variable
that names others): rendered where it is used, with the same names and rules;
a ``--set`` value is taken as given."""

from __future__ import annotations

import json

import pytest

PROMPT_AND_KEY = '''
    # The key a daily job attaches with.
    [vars]
    prefix = "mogrun/{{ date }}/{{ job }}"
    greeting = "Hello {{ who | default('team') }}"   # who: --set who=...

    [jobs.daily]
    repo = "acme/api"
    prompt = "{{ greeting }}"
    idempotency_key = "{{ prefix }}"

'''


def request_of(result) -> dict:
    assert result.code == 0, result
    return json.loads(result.out)["runs"][0]["request"]


def test_a_var_value_is_rendered_where_it_is_used(project) -> None:
    # The literal "mogrun/{{ date }}" was sent: every later run re-attached.
    project.write(PROMPT_AND_KEY)
    request = request_of(project.run("--json", "show", "daily"))
    key = request["headers"]["Idempotency-Key"]
    assert key.startswith("mogrun/20") and key.endswith("/daily") and "{{" not in key
    assert request["body"]["prompt"] == "Hello team"
    assert project.run("check").code == 0


def test_set_of_a_name_only_a_var_uses_changes_it_and_stays_literal(project) -> None:
    # --set who=bob was accepted and changed nothing.
    project.write(PROMPT_AND_KEY)
    request = request_of(project.run("--json", "--set", "who=bob", "show", "daily"))
    assert request["body"]["prompt"] == "Hello bob"
    # A --set value is never rendered: it overrides the var as given.
    request = request_of(project.run("--json", "--set", "prefix={{ job }}", "show", "daily"))
    assert request["headers"]["Idempotency-Key"] == "{{ job }}"


def test_an_unknown_name_in_a_var_is_an_error_located_in_the_var(project) -> None:
    project.write('''
        [vars]
        greeting = "Hello {{ who }}"

        [jobs.a]
        repo = "acme/api"
        prompt = "{{ greeting }}"

        [jobs.b]
        repo = "acme/api"
        prompt = "{{ greeting }} again"
    ''')
    message = 'Error: [vars] greeting: unknown template name "who" in {{ who }}'
    checked = project.run("check")
    assert checked.code == 2, checked
    assert checked.errors == [message]  # once, though two jobs use it
    assert f"--> {project.path}:2:1" in checked.err
    assert 'greeting = "Hello {{ who }}"' in checked.err
    assert project.run("show", "a").errors == [message]
    assert request_of(project.run("--json", "--set", "who=bob", "show", "b"))["body"][
        "prompt"] == "Hello bob again"


def test_a_var_no_job_uses_is_checked_too(project) -> None:
    project.write('[vars]\nspare = "{{ nope }}"\n\n[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    checked = project.run("check")
    assert checked.errors == ['Error: [vars] spare: unknown template name "nope" in {{ nope }}']
    assert project.run("show", "a").code == 0  # only the vars a job uses stop it


def test_a_cycle_of_vars_is_an_error_naming_it(project) -> None:
    project.write('''
        [vars]
        a = "x-{{ b }}"
        b = "{{ c }}"
        c = "{{ a }}"
        me = "{{ me }}"

        [jobs.j]
        repo = "acme/api"
        prompt = "{{ c }} {{ me }}"
    ''')
    cycle = "Error: [vars] a: the vars name each other in a cycle: a -> b -> c -> a"
    itself = "Error: [vars] me: the vars name each other in a cycle: me -> me"
    checked = project.run("check")
    assert (checked.code, checked.errors) == (2, [cycle, itself])
    assert f"--> {project.path}:2:1" in checked.err
    shown = project.run("show", "j")
    assert shown.errors == [cycle]


def test_repo_through_a_var_in_repo_is_refused(project) -> None:
    project.write('''
        [vars]
        fork = "{{ repo }}-fork"

        [jobs.a]
        repo = "acme/{{ fork }}"
        prompt = "x"

        [jobs.b]
        repo = "acme/api"
        prompt = "{{ fork }}"
    ''')
    checked = project.run("check")
    assert checked.errors == ['Error: job "a", key "repo": {{ repo }} cannot be used inside repo '
                              "itself (through [vars] fork)"]
    assert f"--> {project.path}:5:1" in checked.err
    assert request_of(project.run("--json", "show", "b"))["body"]["prompt"] == "acme/api-fork"


def test_the_api_token_through_a_var_is_refused(project) -> None:
    project.write('''
        [vars]
        header = "Bearer {{ env.MOGPLEX_API_KEY }}"

        [jobs.a]
        repo = "acme/api"
        prompt = "Use {{ header }}"
    ''')
    message = ("Error: [vars] header: {{ env.MOGPLEX_API_KEY }} is refused: the API token never "
               "goes into a template")
    for command in (["check"], ["show", "a"]):
        result = project.run(*command, env={"MOGPLEX_API_KEY": "mog_live_tokentoken"})
        assert (result.code, result.errors) == (2, [message])


def test_an_unset_env_name_through_a_var_stops_only_the_jobs_that_use_it(project) -> None:
    project.write('''
        [vars]
        hook = "https://hooks.example/{{ env.HOOK }}"

        [jobs.a]
        repo = "acme/api"
        prompt = "Post to {{ hook }}"

        [jobs.b]
        repo = "acme/api"
        prompt = "x"
    ''')
    checked = project.run("check")
    assert (checked.code, checked.errors) == (0, [])
    assert 'job "a" uses env.HOOK, which is not set here' in checked.err
    assert project.run("show", "b").code == 0
    assert project.run("show", "a").errors == [
        'Error: job "a", key "prompt": environment variable HOOK is not set (used by '
        "{{ env.HOOK }} in [vars] hook)"]


@pytest.mark.parametrize("where", ["branch", "idempotency_key"])
def test_a_secret_through_a_var_is_masked(project, where: str) -> None:
    project.write(f'''
        [vars]
        deploy = "t-{{{{ env.DEPLOY_TOKEN }}}}"

        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        {where} = "use-{{{{ deploy }}}}"
    ''')
    env = {"DEPLOY_TOKEN": "sekret-value-123"}
    shown = project.run("--json", "show", "a", env=env)
    assert shown.code == 0, shown
    assert "sekret-value-123" not in shown.out and "***" in shown.out
    ran = project.run("--local", "a", env={**env, "MOGRUN_POLL_INTERVAL": "0.1"})
    assert ran.code == 0, ran
    assert "sekret-value-123" not in ran.out + ran.err
    history = project.run("history", env=env)
    assert history.code == 0, history
    assert "sekret-value-123" not in history.out + history.err


def test_a_secret_through_a_var_is_masked_in_an_error(project) -> None:
    project.write('''
        [vars]
        where = "{{ env.TARGET }}"

        [jobs.a]
        repo = "{{ where }}"
        prompt = "x"
    ''')
    shown = project.run("show", "a", env={"TARGET": "not a repo secret-xyz"})
    assert shown.code == 2, shown
    assert "secret-xyz" not in shown.err and "***" in shown.err


NUMBERS = '''
    [vars]
    py = 3.10
    mask = 0x1F   # hex
    big = 1e300
    count = 1_000
    plain = 42
    on = true

    [jobs.a]
    repo = "acme/api"
    prompt = "{{ py }} {{ mask }} {{ big }} {{ count }} {{ plain }} {{ on }}"
'''


def test_a_number_var_renders_as_written(project) -> None:
    # 3.10 rendered 3.1, 0x1F 31, 1e300 1e+300.
    project.write(NUMBERS)
    assert request_of(project.run("--json", "show", "a"))["body"]["prompt"] == (
        "3.10 0x1F 1e300 1_000 42 true")
    inline = "vars = { py = 3.10, mask = 0x1F, big = 1e300, count = 1_000, plain = 42, on = true }"
    project.write(inline + NUMBERS[NUMBERS.index("\n\n"):])
    assert request_of(project.run("--json", "show", "a"))["body"]["prompt"] == (
        "3.10 0x1F 1e300 1_000 42 true")


def write_chain(project, lines: str) -> None:
    """A task file of ``lines`` as its ``[vars]`` and one job whose prompt is ``v0``."""
    project.write(f'''
        [vars]
        {lines}

        [jobs.a]
        repo = "acme/api"
        prompt = "{{{{ v0 }}}}"

    ''')


def test_vars_that_double_each_other_are_refused_before_they_fill_memory(project) -> None:
    # Thirty vars each naming the next twice would render 2**30 characters: every
    # var is capped as it is rendered, so the text never outgrows twice the cap.
    depth = 30
    chain = "\n".join(f'v{i} = "{{{{ v{i + 1} }}}}{{{{ v{i + 1} }}}}"  # doubles'
                      for i in range(depth))
    write_chain(project, f'{chain}\n        v{depth} = "xy"')
    for command in (("check",), ("show", "a")):
        result = project.run(*command)
        assert result.code == 2, result
        assert "more than the 1,000,000 a var may hold" in result.err
        assert result.err.count("Error:") == 1 and "Traceback" not in result.err


@pytest.mark.parametrize("length", [32, 33, 600])
def test_a_chain_of_vars_deeper_than_a_template_goes_is_one_error_not_a_traceback(
        project, length: int) -> None:
    # 500 vars each naming the next ran out of Python's stack: a RecursionError's
    # traceback, exit 1, and under GitHub Actions no step summary or exit_code.
    chain = "\n".join(f'v{i} = "<{{{{ v{i + 1} }}}}>"\t# the next' for i in range(length - 1))
    write_chain(project, f'{chain}\n        v{length - 1} = "end"')
    for command in (("check",), ("show", "a"), ("--local", "a")):
        result = project.run(*command)
        assert "Traceback" not in result.err
        if length <= 32:  # thirty-two vars deep renders
            assert result.code == 0, result
            continue
        assert result.code == 2, result
        assert result.errors == ["Error: [vars] v0: its value names vars that name vars "
                                 "more than 32 deep"], result


def test_a_cycle_at_the_end_of_a_long_chain_is_said_as_the_cycle(project) -> None:
    """Thirty vars, then two naming each other: the chain is within the limit and the
    cycle is the error, but the depth was reached going round it and said instead."""
    chain = "\n".join(f'v{i} = "{{{{ v{i + 1} }}}}"' for i in range(30))
    write_chain(project, chain + '\n        v30 = "{{ v31 }}"\n        v31 = "{{ v30 }}"')
    for command in (("check",), ("show", "a")):
        result = project.run(*command)
        assert result.code == 2, result
        assert result.errors == ["Error: [vars] v30: the vars name each other in a cycle: "
                                 "v30 -> v31 -> v30"], result
