"""The run step's environment: every ``env`` name the jobs it runs read comes
from a repository secret, else a variable, of that name; a name GitHub cannot
hold is a warning, never a silently missing variable."""

from __future__ import annotations

from .workflows import generated, step

TOKEN = {"MOGPLEX_API_KEY": "${{ secrets.MOGPLEX_API_KEY }}",
         "MOGPLEX_URL": "${{ vars.MOGPLEX_URL }}"}


def passed(*names: str) -> dict[str, str]:
    return {**TOKEN, **{n: f"${{{{ secrets.{n} || vars.{n} }}}}" for n in names}}


def test_the_job_and_its_needs_get_every_env_name_they_read(project) -> None:
    project.write("""
        # prep runs first, inside `mogrun run report`: its names go to report's step
        [jobs.prep]
        repo = "acme/api"
        prompt_file = "prompts/prep.md"

        [jobs.report]
        repo = "acme/web"
        prompt = "Report to {{ env.TEAM_CHANNEL }} in {{ env.REGION | default('eu') }}"
        needs = ["prep"]
        notify = [{ webhook = "{{ env.SLACK_WEBHOOK }}", on = ["failed"] }]
        schedule = "23 3 * * *"
    """)
    project.write("Prepare with {{ env.MOGPLEX_URL }} and {{ env.DB_DSN }}.\r\n",
                  "prompts/prep.md", raw=True)
    flow, _ = generated(project)
    # sorted after the token's two; MOGPLEX_URL is passed already, once
    assert step(flow["jobs"]["report"], "mogrun run")["env"] == passed(
        "DB_DSN", "REGION", "SLACK_WEBHOOK", "TEAM_CHANNEL")
    assert list(step(flow["jobs"]["report"], "mogrun run")["env"])[:2] == list(TOKEN)
    assert project.run("ci", "github", "--check").code == 0  # byte-stable


def test_a_name_github_cannot_hold_is_a_warning_and_not_passed(project) -> None:
    project.write("""
        [jobs.j]
        repo = "acme/api"
        prompt = "{{ env.SLACK-HOOK }} {{ env.GITHUB_RUN_ADDR }} {{ env.Ticket }} {{ env.TICKET }}"
        schedule = "7 4 * * *"
    """)
    flow, _ = generated(project, warnings=(
        'job "j" uses env.GITHUB_RUN_ADDR, which the workflow cannot pass: no GitHub secret or '
        "variable name starts with GITHUB_, and the runner sets no such variable; rename it",
        'job "j" uses env.SLACK-HOOK, which the workflow cannot pass: GitHub secret and variable '
        "names hold only letters, digits and _ and do not start with a digit; rename it",
        'job "j" uses env.Ticket, which differs from env.TICKET only in case: GitHub takes them '
        "for one name, so the workflow passes env.TICKET only; rename it"))
    assert step(flow["jobs"]["j"], "mogrun run")["env"] == passed("TICKET")


def test_each_sharded_step_gets_the_names_of_what_it_runs(project) -> None:
    repos = ", ".join(f'"acme/r{k}"' for k in range(6))
    project.write(f"""
        [jobs.prep]
        repo = "acme/api"
        prompt = "prepare {{{{ env.PREP_KEY }}}}"

        [jobs.codemod]
        repo = [{repos}]
        prompt = "apply it to {{{{ repo }}}}"
        branch = "{{{{ env.BRANCH_PREFIX }}}}/codemod"
        needs = ["prep"]
        schedule = "23 3 * * *"
    """)
    flow, _ = generated(project, "--shards", "3")
    # the -needs job runs prep; the legs run codemod alone (--no-deps)
    assert step(flow["jobs"]["codemod-needs"], "mogrun run")["env"] == passed("PREP_KEY")
    assert step(flow["jobs"]["codemod"], "mogrun run")["env"] == passed("BRANCH_PREFIX")


def test_a_name_with_neither_secret_nor_variable_is_unset_before_mogrun_runs(
        project, tmp_path) -> None:
    """GitHub gives a missing secret as '': the run line unsets it, so a template
    reads it unset (its default applies) as on any machine. Run in bash, as the
    step's shell is."""
    import subprocess

    from mogrun.ci.runenv import run_line

    line = run_line("env", ["REGION", "TEAM"])
    env = {"PATH": "/usr/bin:/bin", "REGION": "", "TEAM": "payments"}
    out = subprocess.run(["bash", "-e", "-c", line], env=env, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert "TEAM=payments" in out
    assert not any(v.startswith("REGION=") for v in out)
    assert run_line("mogrun run j", []) == "mogrun run j"


def test_names_the_runner_sets_itself_are_not_passed(project) -> None:
    project.write("""
        [jobs.j]
        repo = "acme/api"
        prompt = "{{ env.HOME }} {{ env.RUNNER_OS }} {{ env.CI | default('') }} {{ env.TICKET }}"
        idempotency_key = "j-{{ env.GITHUB_RUN_ID | default('local') }}"  # no warning either
        schedule = "23 3 * * *"
    """)
    flow, _ = generated(project)
    run = step(flow["jobs"]["j"], "mogrun run")
    assert run["env"] == passed("TICKET")
    assert run["run"].startswith("[[ -n $TICKET ]] || unset TICKET; mogrun run j")


def test_the_run_line_gives_each_name_its_own_value_in_bash(project, tmp_path) -> None:
    """The line unset names that came out empty in a loop whose variable was
    ``name``: a template reading env.name got the loop's last word, never its
    secret, and an unset one was never unset."""
    import os
    import subprocess
    import sys

    project.write("""
        [jobs.j]
        repo = "acme/api"
        prompt = '''{{ env.name }} {{ env.other | default("-") }}
        {{ env.RANDOM }} {{ env.BASH_ENV }} {{ env.BASHFUL }} {{ env.SECONDS | default("") }}
        {{ env.PS1 | default("") }}'''
        schedule = "23 3 * * *"
    """)
    flow, _ = generated(project, warnings=tuple(
        f'job "j" uses env.{shells}, which the workflow cannot pass: bash, the step\'s shell, '
        f"sets or reads {shells} itself, so mogrun would not see the secret's value; rename it"
        for shells in ("BASH_ENV", "PS1", "RANDOM", "SECONDS")))
    run = step(flow["jobs"]["j"], "mogrun run")
    assert run["env"] == passed("BASHFUL", "name", "other")  # not the shell's own names
    # The line as the runner runs it (bash -e), mogrun stood in for by a script
    # that prints what it was given.
    shown = tmp_path / "bin" / "mogrun"
    shown.parent.mkdir()
    shown.write_text(f"#!{sys.executable}\nimport os\n"
                     "print(repr(os.environ.get('name')), repr(os.environ.get('other')))\n")
    shown.chmod(0o755)
    env = {"PATH": f"{shown.parent}{os.pathsep}{os.environ['PATH']}", "name": "alice",
           "other": ""}  # a secret that does not exist is '' in a step
    done = subprocess.run(["bash", "-e", "-c", run["run"]], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout == "'alice' None\n"
