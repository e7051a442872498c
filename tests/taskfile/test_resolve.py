"""resolve_jobs through its public interface: defaults, fan-out keys, needs
order, secrets, plugin keys, overrides."""

from __future__ import annotations

import datetime

import pytest

from mogrun.errors import TaskFileError, TemplateError, UsageError
from mogrun.models import KeySpec
from mogrun.taskfile import load_task_file, repos_named, resolve_jobs
from mogrun.taskfile.templates import TemplateClock

CLOCK = TemplateClock.at(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
                         nonce="abc123")

FILE = """
[defaults]
harness = "codex"
base_branch = "main"
timeout = "30m"
notify = { webhook = "default" }

[vars]
team = "platform"

[jobs.build]
repo = "acme/api"
prompt = "build for {{ team }}"
idempotency_key = "build-{{ date }}"

[jobs.fan]
repo = ["acme/api", "acme/web"]
prompt = "codemod {{ repo }} on {{ week }} at {{ now }}"
idempotency_key = "fan-{{ date }}"
needs = ["build"]
timeout = 90
notify = { webhook = "{{ env.HOOK }}" }

[jobs.per-repo]
repo = ["acme/api", "acme/web"]
prompt = "x"
idempotency_key = "k-{{ repo }}"
branch = "mogrun/{{ job }}"
create_branch = true
harness = "claude-code"
needs = ["fan"]

[jobs.nokey]
repo = ["acme/api", "5c0ffee0-1234-4321-8abc-0123456789ab"]
prompt = "x"
"""


def notify_spec() -> dict[str, KeySpec]:
    def validate(value: object) -> dict[str, str]:
        if not isinstance(value, dict) or "webhook" not in value:
            raise ValueError("notify needs a webhook")
        return {"webhook": str(value["webhook"])}
    return {"notify": KeySpec("notify", validate, secrets=lambda v: [v["webhook"]])}


def resolve(project, names, **kwargs):
    project.write(FILE)
    taskfile = load_task_file(project.path)
    options = {"key_specs": notify_spec(), "sets": {}, "env": {"HOOK": "https://h/secret"},
               "clock": CLOCK, **kwargs}
    return resolve_jobs(taskfile, names, **options)


def test_needs_come_first_in_topological_order(project) -> None:
    jobs = resolve(project, ["per-repo"])
    assert [job.name for job in jobs] == ["build", "fan", "per-repo"]
    assert [job.name for job in resolve(project, ["per-repo"], with_needs=False)] == ["per-repo"]
    assert resolve(project, ["per-repo"], with_needs=False)[0].needs == ()


def test_defaults_apply_and_a_job_key_replaces_them_whole(project) -> None:
    build, fan = resolve(project, ["fan"])
    assert build.harness == "codex" and build.timeout == 1800.0
    assert build.options["notify"] == {"webhook": "default"}
    assert fan.timeout == 90.0
    assert fan.options["notify"] == {"webhook": "https://h/secret"}
    assert fan.runs[0].request.base_branch == "main"


def test_fan_out_appends_repo_only_when_the_key_does_not_differ(project) -> None:
    jobs = {job.name: job for job in resolve(project, ["per-repo", "nokey"])}
    assert [r.request.idempotency_key for r in jobs["fan"].runs] == [
        "fan-2026-01-02:acme/api", "fan-2026-01-02:acme/web"]
    assert [r.request.idempotency_key for r in jobs["per-repo"].runs] == [
        "k-acme/api", "k-acme/web"]
    assert [r.request.idempotency_key for r in jobs["nokey"].runs] == [
        "mogrun-nokey-abc123:acme/api", "mogrun-nokey-abc123:5c0ffee0-1234-4321-8abc-0123456789ab"]
    assert jobs["build"].runs[0].request.idempotency_key == "build-2026-01-02"


def test_templates_render_per_repo_with_fixed_time(project) -> None:
    fan = resolve(project, ["fan"])[1]
    assert [r.request.prompt for r in fan.runs] == [
        "codemod acme/api on 2026-W01 at 2026-01-02T03:04:05Z",
        "codemod acme/web on 2026-W01 at 2026-01-02T03:04:05Z"]
    per_repo = resolve(project, ["per-repo"])[2]
    request = per_repo.runs[0].request
    assert (request.working_branch, request.create_branch, request.harness) == (
        "mogrun/per-repo", True, "claude-code")
    assert per_repo.runs[1].label == "per-repo:acme/web"


def test_env_values_and_plugin_secrets_are_secrets(project) -> None:
    fan = resolve(project, ["fan"])[1]
    assert fan.secrets == frozenset({"https://h/secret"})


def test_rerun_suffix_and_timeout_override(project) -> None:
    jobs = resolve(project, ["fan"], rerun_suffix="~r1", timeout_override=5.0)
    assert jobs[0].runs[0].request.idempotency_key == "build-2026-01-02~r1"
    assert jobs[1].runs[1].request.idempotency_key == "fan-2026-01-02:acme/web~r1"
    assert {job.timeout for job in jobs} == {5.0}


def test_sets_override_vars(project) -> None:
    build = resolve(project, ["build"], sets={"team": "web"})[0]
    assert build.runs[0].request.prompt == "build for web"


def test_unknown_job_is_a_usage_error_with_suggestion(project) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(project, ["buidl"])
    assert caught.value.message.startswith('unknown job "buidl"')
    assert caught.value.context[0] == 'did you mean "build"?'
    assert caught.value.exit_code == 2


def test_unset_env_fails_only_the_jobs_being_resolved(project) -> None:
    assert resolve(project, ["build"], env={})[0].name == "build"
    with pytest.raises(TemplateError) as caught:
        resolve(project, ["fan"], env={})
    assert caught.value.message == ('job "fan", key "notify": environment variable HOOK is not '
                                    "set (used by {{ env.HOOK }})")


def test_plugin_validate_errors_are_located(project) -> None:
    with pytest.raises(TaskFileError) as caught:
        resolve(project, ["fan"], key_specs={"notify": KeySpec("notify", _refuse)})
    assert caught.value.message == 'job "build", key "notify": nope'
    assert caught.value.location.line == 5  # inherited from [defaults]


def _refuse(value: object) -> object:
    raise ValueError("nope")


def test_undeclared_plugin_key_is_strict_for_resolve(project) -> None:
    with pytest.raises(TaskFileError) as caught:
        resolve(project, ["build"], key_specs={})
    assert caught.value.message == 'unknown key "notify" in [defaults]'
    assert "(1 more problem: run `mogrun check` to see them all)" in caught.value.context


def test_repos_named_lists_owner_names_once(project) -> None:
    project.write(FILE)
    assert repos_named(load_task_file(project.path)) == ["acme/api", "acme/web"]


def test_resolution_returns_every_problem_as_data(project) -> None:
    from mogrun.taskfile.resolve import resolve as resolve_all

    project.write(FILE.replace('prompt = "x"\nidempotency_key = "k-{{ repo }}"',
                               'prompt = "{{ nope }}"\nidempotency_key = "k-{{ repo }}"'))
    taskfile = load_task_file(project.path)
    resolution = resolve_all(taskfile, ["per-repo", "nokey"], key_specs=notify_spec(),
                             sets={}, env={}, clock=CLOCK)
    assert [p.message for p in resolution.problems] == [
        'job "fan", key "notify": environment variable HOOK is not set (used by '
        "{{ env.HOOK }})",
        'job "per-repo", key "prompt": unknown template name "nope" in {{ nope }}',
    ]
    assert [job.name for job in resolution.jobs] == ["build", "nokey"]
    with pytest.raises(TemplateError) as caught:
        resolution.jobs_or_first_problem()
    assert caught.value.message == resolution.problems[0].message
    assert caught.value.location.line == 21  # complete when raised, as the original
    assert caught.value.context[-1] == ("(1 more problem: run `mogrun check` to see them "
                                        "all)")
    assert resolution.problems[0].context == ()  # the original is left as it was


def test_a_missing_prompt_file_stops_only_the_jobs_that_use_it(project) -> None:
    project.write("""
        [jobs.ok]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s"

        [jobs.broken]
        repo = "acme/api"
        prompt_file = "prompts/gone.md"
    """)
    shown = project.run("--json", "show", "ok")
    assert shown.code == 0, shown
    ran = project.run("--local", "-q", "ok", env={"MOGRUN_POLL_INTERVAL": "0.1"})
    assert ran.code == 0, ran
    message = ('Error: job "broken", key "prompt_file": prompt file prompts/gone.md does not '
               f"exist (relative to {project.root})")
    assert project.run("show", "broken").errors == [message]
    checked = project.run("check")
    assert (checked.code, checked.errors) == (2, [message])


def test_set_of_a_name_nothing_uses_is_refused_with_a_suggestion(project) -> None:
    project.write("""
        [vars]
        team = "platform"

        [jobs.a]
        repo = "acme/api"
        prompt = "for {{ team }} in {{ region }}"
    """)
    refused = ('Error: --set teem: no [vars] entry or template of mogplex.toml uses "teem"\n'
               'did you mean "team"?\n')
    for command in (["show", "a"], ["check"], ["--local", "a"]):
        result = project.run("--set", "region=eu", "--set", "teem=web", *command)
        assert result.code == 2, result
        assert result.err.startswith(refused), command
        assert len(result.errors) == 1
    assert project.run("--set", "region=eu", "show", "a").code == 0  # used by a template
    assert project.run("--set", "team=web", "--set", "region=eu", "show", "a").code == 0


@pytest.mark.parametrize("command", [
    ["list"], [], ["-l", "--json"], ["--json", "list"], ["history"], ["status"], ["plugins"],
    ["schema"], ["ci", "github", "-o", "wf.yml"], ["show", "a"], ["-n", "a"]])
def test_every_command_that_loads_the_file_refuses_an_unused_set(project, command) -> None:
    # list said nothing (exit 0) where show refused the same --set (exit 2).
    project.path.write_bytes(b'# team file\r\n[vars]\r\nteam = "platform"\r\n\r\n'
                             b'[jobs.a]\r\nrepo = "acme/api"\r\n'
                             b'prompt = "for {{ team }}"\r\nschedule = "17 6 * * 1"\r\n\r\n')
    result = project.run("--set", "teem=web", *command)
    assert result.code == 2, result
    assert result.err == ('Error: --set teem: no [vars] entry or template of mogplex.toml uses '
                          '"teem"\ndid you mean "team"?\n')
    assert result.out == ""
    used = project.run("--set", "team=web", *command)
    assert used.code == 0, used


def test_vars_and_set_may_not_take_a_built_in_name(project) -> None:
    # Built-in names won silently: [vars] date and --set date=... were ignored, so a key
    # like "weekly-{{ date }}" could not be pinned and started a new run instead.
    project.write("""
        [vars]
        date = "2026-01-05"
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        idempotency_key = "weekly-{{ date }}"
    """)
    result = project.run("check")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == ('Error: [vars] date is a built-in template name '
                                          "(job, repo, date, week, now); choose another name")
    project.write("""
        [vars]
        date = "2026-01-05"
        team = "web"
        [jobs.a]
        repo = "acme/api"
        prompt = "{{ nope }}"
    """)
    result = project.run("check")
    assert result.code == 2, result  # the names a template may use, each once
    assert "Names: job, repo, date, week, now, team, env.NAME" in result.err.splitlines()
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
    """)
    result = project.run("--set", "date=2026-01-05", "show", "a")
    assert result.code == 2, result
    assert result.err.splitlines()[0] == ("Error: --set date=...: date is a built-in template "
                                          "name (job, repo, date, week, now); --set overrides "
                                          "[vars] entries only")


def test_set_of_an_env_name_is_refused_not_ignored(project) -> None:
    # --set env.HOOK=... was accepted (a template uses env.HOOK) and then ignored:
    # env names come only from the environment, so the webhook silently stayed unset.
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt = "x"
        notify = [{ webhook = "{{ env.HOOK | default('') }}" }]
    """)
    result = project.run("--set", "env.HOOK=https://hooks.example/x", "show", "a")
    assert result.code == 2, result
    assert result.err.splitlines()[:2] == [
        "Error: --set env.HOOK=...: env.NAME values come from the environment only; "
        "--set overrides [vars] entries only",
        "Set it in the environment instead: export HOOK=..."]


def test_local_knows_repos_named_through_set_and_env(project, monkeypatch) -> None:
    # --local seeded its emulator with repo templates rendered without --set or the
    # environment, so "zorg/{{ team }}" run with --set team=web was "not one of this
    # token's repos" (exit 2), and suggestions named "zorg/unset-env-R".
    monkeypatch.setenv("R", "from-env")
    project.write("""
        [vars]
        team = "platform"
        [jobs.a]
        repo = ["zorg/{{ team }}", "zorg/{{ env.R }}"]
        prompt = "x\\n@emulator status=success duration=0s events=1"
    """)
    result = project.run("--local", "-q", "--set", "team=web", "a")
    assert result.code == 0, result
    assert "zorg/web" in result.out and "zorg/***" in result.out  # env values stay masked
    assert "from-env" not in result.out + result.err


def test_local_puts_each_automation_on_the_installation_of_its_job_s_repos(project) -> None:
    # --local made every automation on the installation of its first repo (acme's):
    # a job of another owner's repos failed, "Repository is outside this
    # automation's GitHub installation" (HTTP 400), so it could never pass locally.
    project.write("""
        [jobs.triage]
        repo = ["zorg/tool", "zorg/site"]
        automation = "issue triage, v2: bugs"  # a comma and a colon, as names may have
        [jobs.plain]
        repo = "acme/api"
        prompt = "x\\n@emulator status=success duration=0s events=1"


    """)
    result = project.run("--local", "-q", "run", "-k", "triage", "plain")
    assert result.code == 0, result
    assert "3 passed, 0 failed" in result.out, result
    # Two owners for one automation: the server refuses the other owner's repo, and
    # so does the emulator (the first job naming the automation decides its home).
    project.write("""
        [jobs.a]
        repo = "zorg/tool"
        automation = "triage"
        [jobs.b]
        repo = "acme/web"
        automation = "triage"
    """)
    mixed = project.run("--local", "-q", "run", "-k", "a", "b")
    assert mixed.code == 1, mixed
    assert "b  error: Repository is outside this automation's GitHub installation" in (
        mixed.out), mixed
    assert "1 passed, 1 failed" in mixed.out, mixed


def test_a_var_no_template_can_name_is_refused_where_it_is_written(project) -> None:
    """"my.var" and "é" were accepted; the mistake showed only where a template
    tried to use them (as an unknown name, with no hint why)."""
    project.write("""
        [vars]
        "my.var" = "x"
        "é" = "y"
        team-b = "ok"
        [jobs.a]
        repo = "acme/api"
        prompt = "{{ team-b }}"
    """)
    result = project.run("check")
    assert result.code == 2, result
    rule = 'use ASCII letters, digits, "_" and "-", not starting with a digit or "-"'
    errors = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert errors == [f'Error: [vars] "my.var" cannot be named in a template: {rule}',
                      f'Error: [vars] "é" cannot be named in a template: {rule}']


def test_a_missing_prompt_file_hides_no_other_problem_of_its_job(project) -> None:
    """The missing file ended the job's build: its template typo in branch showed
    only once the file was there."""
    project.write("""
        [jobs.a]
        repo = "acme/api"
        prompt_file = "nope.md"
        branch = "{{ typo }}"
    """)
    result = project.run("check")
    assert result.code == 2, result
    errors = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert errors == [
        'Error: job "a", key "prompt_file": prompt file nope.md does not exist (relative to '
        f"{project.root})",
        'Error: job "a", key "branch": unknown template name "typo" in {{ typo }}']


def test_the_names_offered_are_names_a_template_can_write(project) -> None:
    """"Names:" listed a var named "with space", which its own error (beside) says no
    template can name."""
    project.write("""
        [vars]
        "with space" = "y"
        team = "web"
        [jobs.a]
        repo = "acme/api"
        prompt = "{{ JOB }}"
    """)
    result = project.run("check")
    assert result.code == 2, result
    assert "Names: job, repo, date, week, now, team, env.NAME" in result.err.splitlines()
