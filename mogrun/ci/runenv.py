"""The run step's environment: the ``env`` names a job's templates read.

``mogrun run JOB`` on the runner sees only the environment the step gives it,
so every ``{{ env.NAME }}`` of the jobs the step runs (JOB and its needs, as
``mogrun run`` runs them) is passed from a repository secret of that name,
else a repository variable: a value may be a secret (a webhook URL) or a
plain setting. The names come from building each job as ``check`` does
(``JobResult.env_names``), so prompt files and plugin keys count, and a name
with a ``default(...)`` counts too (the default applies only when unset).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mogrun.models import KeySpec
    from mogrun.taskfile.parse import TaskFile

# What the workflow gives every run step already (MOGRUN_FILE at the top level).
PROVIDED = {
    "MOGPLEX_API_KEY": "${{ secrets.MOGPLEX_API_KEY }}",
    "MOGPLEX_URL": "${{ vars.MOGPLEX_URL }}",
}
_WORKFLOW_ENV = frozenset({*PROVIDED, "MOGRUN_FILE"})
# What the runner sets itself: a template reading env.HOME wants the runner's,
# and a mapping from a secret that does not exist would blank it.
_RUNNER_ENV = frozenset({"CI", "HOME", "LANG", "PATH", "PWD", "SHELL", "TMPDIR", "USER"})
_RUNNER_PREFIXES = ("RUNNER_", "ACTIONS_")
# GitHub's rule for secret and variable names (it ignores case).
_GITHUB_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What bash, the run step's shell, sets or reads itself: given in the step's env,
# such a name reaches mogrun as bash's value (RANDOM a number, LINENO a line), not
# the secret's, or changes the shell (BASH_ENV is a file it sources, SHELLOPTS its
# options). Measured with bash 5.2, set and empty (the run line's test reads an
# empty one): ``env NAME=x bash -eo pipefail -c '[[ -n $NAME ]] || unset NAME; ...'``.
# A non-interactive bash drops PS1 and PS2; an empty SECONDS reads as its counter,
# so the line never unsets it and a default(...) never applies.
_SHELL_OWNED = frozenset({
    "_", "ENV", "EPOCHREALTIME", "EPOCHSECONDS", "HISTCMD", "IFS", "LINENO", "OLDPWD",
    "OPTERR", "OPTIND", "PPID", "PS1", "PS2", "PS4", "RANDOM", "SECONDS", "SHELLOPTS",
    "SHLVL", "SRANDOM", "COMP_WORDBREAKS", "BASH", "BASHOPTS", "BASHPID"})
# What the runner sets in every step, named GITHUB_ (a workflow cannot overwrite
# them): a template reading one gets the runner's value, as it reads env.HOME.
_RUNNER_GITHUB = frozenset(f"GITHUB_{name}" for name in (
    "ACTION", "ACTION_PATH", "ACTION_REPOSITORY", "ACTIONS", "ACTOR", "ACTOR_ID", "API_URL",
    "BASE_REF", "ENV", "EVENT_NAME", "EVENT_PATH", "GRAPHQL_URL", "HEAD_REF", "JOB",
    "OUTPUT", "PATH", "REF", "REF_NAME", "REF_PROTECTED", "REF_TYPE", "REPOSITORY",
    "REPOSITORY_ID", "REPOSITORY_OWNER", "REPOSITORY_OWNER_ID", "RETENTION_DAYS",
    "RUN_ATTEMPT", "RUN_ID", "RUN_NUMBER", "SERVER_URL", "SHA", "STEP_SUMMARY",
    "TRIGGERING_ACTOR", "WORKFLOW", "WORKFLOW_REF", "WORKFLOW_SHA", "WORKSPACE"))


def github_name_problem(name: str) -> str | None:
    """Why no GitHub secret or variable can be called ``name``, and what to do
    (``None``: one can)."""
    if not _GITHUB_NAME.fullmatch(name):
        return ("GitHub secret and variable names hold only letters, digits and _ and do "
                "not start with a digit; rename it")
    if name.upper().startswith("GITHUB_") and name not in _RUNNER_GITHUB:
        return ("no GitHub secret or variable name starts with GITHUB_, and the runner "
                "sets no such variable; rename it")
    if name in _SHELL_OWNED or name.startswith("BASH_"):  # not BASHFUL_TOKEN: not bash's
        return (f"bash, the step's shell, sets or reads {name} itself, so mogrun would not "
                "see the secret's value; rename it")
    return None


def run_line(command: str, names: Iterable[str]) -> str:
    """The step's shell line: ``command``, after unsetting each of ``names`` that
    came out empty. A secret or variable that does not exist is ``''`` in a step,
    while a template reads an empty value as set: unset, it reads it as on any
    machine (``default(...)`` applies, a missing one is check's clear error).
    Secrets and variables cannot be empty, so an empty one was never set."""
    # One test per name, no loop: a loop's variable would be a name too, and a
    # template reading env.name got the loop's last word instead of its secret.
    tests = [f"[[ -n ${name} ]] || unset {name}; " for name in sorted(set(names))]
    return "".join(tests) + command


def _runner_sets(name: str) -> bool:
    return name in _RUNNER_ENV or name in _RUNNER_GITHUB or name.startswith(_RUNNER_PREFIXES)


def step_env(names: Iterable[str]) -> dict[str, str]:
    """The run step's ``env:``: the provided entries, then ``names`` sorted, each
    from the secret of that name, else the variable."""
    passed = {n: f"${{{{ secrets.{n} || vars.{n} }}}}" for n in sorted(set(names))}
    return {**PROVIDED, **passed}


class EnvNames:
    """The ``env`` names of a task file's jobs, each job built once, and the
    warnings (each once) for names the workflow cannot pass: no secret or
    variable can have the name, or it clashes by case with another."""

    def __init__(self, taskfile: TaskFile, key_specs: Mapping[str, KeySpec]) -> None:
        from mogrun.taskfile.templates import TemplateClock

        self.taskfile, self.key_specs = taskfile, key_specs
        self.clock = TemplateClock.now()
        self._used: dict[str, frozenset[str]] = {}
        self.warnings: list[str] = []

    def passed(self, jobs: Iterable[str], step: str) -> tuple[str, ...]:
        """The names the run step of job ``step``, which runs ``jobs``, is given,
        sorted. GitHub takes env keys that differ only in case for one name: of
        those, the workflow's own or the first (sorted) is kept, with a warning."""
        names: set[str] = set()
        for job in jobs:
            names |= self._of(job)
        taken = {n.casefold(): n for n in _WORKFLOW_ENV}
        passed: list[str] = []
        for name in sorted(n for n in names if github_name_problem(n) is None
                           and not _runner_sets(n)):
            kept = taken.setdefault(name.casefold(), name)
            if kept == name and name not in _WORKFLOW_ENV:
                passed.append(name)
            elif kept != name:
                self._warn(f'job "{step}" uses env.{name}, which differs from env.{kept} only '
                           f"in case: GitHub takes them for one name, so the workflow passes "
                           f"env.{kept} only; rename it")
        return tuple(passed)

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def _of(self, job: str) -> frozenset[str]:
        if job not in self._used:
            self._used[job] = self._build(job)
            for name in sorted(self._used[job]):
                problem = github_name_problem(name)
                if problem:
                    self._warn(f'job "{job}" uses env.{name}, which the workflow cannot pass: '
                               f"{problem}")
        return self._used[job]

    def _build(self, job: str) -> frozenset[str]:
        from mogrun.taskfile.resolve import check_job

        return check_job(self.taskfile, job, key_specs=self.key_specs, env={}, sets={},
                         clock=self.clock).env_names
