"""From task file to ``ResolvedJob``s, all before any request.

``resolve`` returns a ``Resolution``: the jobs it could build and every
problem it found, as data. ``run`` and ``show`` refuse on the first problem
(``resolve_jobs``); ``check`` lists them all (``mogrun.taskfile.checking``).
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from mogrun.errors import MogrunError, TaskFileError, UsageError
from mogrun.models import KeySpec, ResolvedJob
from mogrun.taskfile.building import (
    Context,
    JobResult,
    build_job,
    buildable_jobs,
    in_file_order,
    key_clashes,
    option_problems,
    said_once,
)
from mogrun.taskfile.graph import job_order
from mogrun.taskfile.hidden import independent, without_wrong_keys
from mogrun.taskfile.parse import TaskFile
from mogrun.taskfile.templates import TemplateClock, render, set_problems, var_problems
from mogrun.taskfile.validation import misdotted_jobs, structural_errors, without_jobs


class Resolution(NamedTuple):
    """The jobs resolved (needs first) and the problems that stop a run: an unset
    ``env`` name first (a placeholder in its place may cause the others), then
    in file order, as ``check`` lists them."""

    jobs: list[ResolvedJob]
    problems: list[MogrunError]

    def jobs_or_first_problem(self) -> list[ResolvedJob]:
        """The jobs, or the first problem raised (saying how many more there are)."""
        if not self.problems:
            return self.jobs
        first, more = self.problems[0], len(self.problems) - 1
        if not more:
            raise first
        note = f"({more} more problem{'s' * (more > 1)}: run `mogrun check` to see them all)"
        raise _with_context(first, note)


def _with_context(error: MogrunError, line: str) -> MogrunError:
    """A copy of ``error`` with one more context line (errors are not mutated)."""
    if isinstance(error, TaskFileError):
        return type(error)(error.message, location=error.location, job=error.job,
                           key=error.key, context=[*error.context, line])
    return type(error)(error.message, context=[*error.context, line])


def template_vars(taskfile: TaskFile, sets: Mapping[str, str]) -> dict[str, str]:
    """``[vars]`` as strings, ``--set`` winning: a number as the file writes it
    (``3.10``, ``0x10``, ``1e300``: Python would say ``3.1``, ``16``, ``1e+300``),
    a boolean as TOML spells it."""
    numbers = [k for k, v in taskfile.vars.items()
               if isinstance(v, int | float) and not isinstance(v, bool)]
    values = {k: (str(v).lower() if isinstance(v, bool) else str(v))
              for k, v in taskfile.vars.items()}
    if numbers:
        from mogrun.taskfile.positions import values_as_written  # scans the file: numbers only

        written = values_as_written(taskfile.text, ("vars",))
        values.update((k, written[k]) for k in numbers if written.get(k))
    return {**values, **sets}


def context(taskfile: TaskFile, key_specs: Mapping[str, KeySpec], sets: Mapping[str, str],
            env: Mapping[str, str], clock: TemplateClock, **options: Any) -> Context:
    """What the jobs of one resolution share: the vars rendered where they are used
    (the file's values are templates; a ``--set`` value is taken as given)."""
    templated = frozenset(name for name, value in taskfile.vars.items()
                          if isinstance(value, str) and "{{" in value and name not in sets)
    return Context(taskfile, key_specs, template_vars(taskfile, sets), env, clock,
                   templated=templated, **options)


def var_problems_of(taskfile: TaskFile, *, env: Mapping[str, str], sets: Mapping[str, str],
                    clock: TemplateClock) -> list[MogrunError]:
    """The problems of the ``[vars]`` values themselves, used by a job or not
    (``check``; ``show`` and ``run`` find those of the vars their jobs use)."""
    ctx = context(taskfile, {}, sets, env, clock)
    return list(var_problems(ctx.scope("", repo="owner/name")))


def resolve(taskfile: TaskFile, names: Sequence[str], *, key_specs: Mapping[str, KeySpec],
            sets: Mapping[str, str], env: Mapping[str, str], clock: TemplateClock,
            with_needs: bool = True, timeout_override: float | None = None,
            rerun_suffix: str | None = None) -> Resolution:
    """The named jobs (and their needs), needs first, with every problem found.

    A job that is not asked for is not built: its unset ``env`` names or
    missing prompt file do not stop the others."""
    with taskfile.spelled():
        return _resolve(taskfile, names, key_specs=key_specs, sets=sets, env=env, clock=clock,
                        with_needs=with_needs, timeout_override=timeout_override,
                        rerun_suffix=rerun_suffix)


def _resolve(taskfile: TaskFile, names: Sequence[str], *, key_specs: Mapping[str, KeySpec],
             sets: Mapping[str, str], env: Mapping[str, str], clock: TemplateClock,
             with_needs: bool, timeout_override: float | None,
             rerun_suffix: str | None) -> Resolution:
    refused = [*set_problems(taskfile, sets), *structural_errors(taskfile, key_specs)]
    # A header that meant a name holding "." made no job: none to build or need.
    taskfile = without_jobs(taskfile, misdotted_jobs(taskfile, key_specs))
    try:
        order = job_order(taskfile, names, with_needs)
    except UsageError:
        if refused:  # the file's problems come first
            return Resolution(jobs=[], problems=refused)
        raise
    unbuilt: list[str] = []
    if refused:  # the jobs that can still be built are, so the count says every problem
        buildable = set(buildable_jobs(taskfile, refused, key_specs))
        unbuilt = [name for name in order if name not in buildable]
        order = [name for name in order if name in buildable]
    ctx = context(taskfile, key_specs, sets, env, clock, timeout_override=timeout_override,
                  rerun_suffix=rerun_suffix)
    results = [build_job(ctx, name) for name in order]
    # An unset env name first (its placeholder may cause the others), then the rest
    # in file order, as check lists them: the first said is check's first.
    unset = in_file_order(said_once(taskfile, [p for r in results
                                               for p in r.unset_env.values()]))
    problems = said_once(taskfile, [p for r in results for p in r.problems])
    problems += key_clashes(taskfile, results)
    if unbuilt:  # their other keys' problems too, as ``check`` counts them
        problems += said_once(taskfile, hidden_problems(
            taskfile, refused, order, key_specs=key_specs, env=env, sets=sets, clock=clock,
            names=set(unbuilt)))
    problems = [*unset, *in_file_order([*refused, *problems])]
    if refused:
        return Resolution(jobs=[], problems=problems)
    included = set(order)
    jobs = [replace(r.job, needs=tuple(n for n in r.job.needs if n in included))
            for r in results if r.job is not None]
    return Resolution(jobs=jobs, problems=problems)


def resolve_jobs(taskfile: TaskFile, names: Sequence[str], *,
                 key_specs: Mapping[str, KeySpec], sets: Mapping[str, str],
                 env: Mapping[str, str], clock: TemplateClock, with_needs: bool = True,
                 timeout_override: float | None = None,
                 rerun_suffix: str | None = None) -> list[ResolvedJob]:
    """The named jobs (and their needs), needs first, ready to show or start;
    the first problem is raised."""
    return resolve(taskfile, names, key_specs=key_specs, sets=sets, env=env, clock=clock,
                   with_needs=with_needs, timeout_override=timeout_override,
                   rerun_suffix=rerun_suffix).jobs_or_first_problem()


def check_job(taskfile: TaskFile, name: str, *, key_specs: Mapping[str, KeySpec],
              env: Mapping[str, str], sets: Mapping[str, str],
              clock: TemplateClock) -> JobResult:
    """Build one job as ``check`` does: its problems and unset ``env`` names."""
    ctx = context(taskfile, key_specs, sets, env, clock)
    return build_job(ctx, name)


def hidden_problems(taskfile: TaskFile, keyed: Sequence[MogrunError], built: list[str], *,
                    key_specs: Mapping[str, KeySpec], env: Mapping[str, str],
                    sets: Mapping[str, str], clock: TemplateClock,
                    names: Collection[str] | None = None) -> list[MogrunError]:
    """The problems of the other keys of each job (of ``names``, else every one)
    not built for wrong keys of its own (``keyed``): one mistake hides none."""
    problems: list[MogrunError] = []
    for name, table, wrong in without_wrong_keys(taskfile, keyed, built):
        if names is not None and name not in names:
            continue
        repaired = taskfile._replace(jobs={**taskfile.jobs, name: table})
        result = check_job(repaired, name, key_specs=key_specs, env=env, sets=sets, clock=clock)
        problems += [p for p in result.problems if independent(p, wrong)]
    return problems


def check_options(taskfile: TaskFile, name: str, *, key_specs: Mapping[str, KeySpec],
                  env: Mapping[str, str], sets: Mapping[str, str],
                  clock: TemplateClock) -> list[MogrunError]:
    """The plugin keys of a job ``check`` cannot build, judged on their own."""
    ctx = context(taskfile, key_specs, sets, env, clock)
    return option_problems(ctx, name)


def repos_named(taskfile: TaskFile, sets: Mapping[str, str] | None = None,
                env: Mapping[str, str] | None = None) -> list[str]:
    """Every owner/name the file names, templates rendered as a run renders them
    (``[vars]`` with ``sets``, and ``env``), once each; a repo that uses an unset
    ``env`` name is left out."""
    return [text for text in _rendered(taskfile, "repo", sets, env) if "/" in text]


def automations_named(taskfile: TaskFile, sets: Mapping[str, str] | None = None,
                      env: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """Every automation the file's jobs name, rendered as ``repos_named`` renders
    repos, each with the first owner/name of the first job naming it (``None``:
    it names none). For ``--local``: its emulator puts a published automation of
    each on that repo's GitHub installation, as the server's automation is on the
    installation of the repos it runs in."""
    repos = _rendered_by_job(taskfile, "repo", sets, env)
    found: dict[str, str | None] = {}
    for job, names in _rendered_by_job(taskfile, "automation", sets, env).items():
        home = next((repo for repo in repos.get(job, ()) if "/" in repo), None)
        for name in names:
            found.setdefault(name, home)
    return list(found.items())


def _rendered(taskfile: TaskFile, key: str, sets: Mapping[str, str] | None,
              env: Mapping[str, str] | None) -> list[str]:
    """Every non-empty string of ``key`` (or in its list) in the jobs, rendered and
    stripped, once each (``_rendered_by_job``)."""
    return list(dict.fromkeys(text for texts in _rendered_by_job(taskfile, key, sets, env)
                              .values() for text in texts))


def _rendered_by_job(taskfile: TaskFile, key: str, sets: Mapping[str, str] | None,
                     env: Mapping[str, str] | None) -> dict[str, list[str]]:
    """Each job's non-empty strings of ``key`` (or in its list), rendered and
    stripped, in order; one whose template fails or uses an unset env name is left
    out."""
    ctx = context(taskfile, {}, sets or {}, env or {}, TemplateClock.now())
    found: dict[str, list[str]] = {}
    for name in taskfile.jobs:
        texts = [text for text in _rendered_values(ctx, name, key) if text]
        if texts:
            found[name] = texts
    return found


def job_repos(taskfile: TaskFile, name: str, sets: Mapping[str, str] | None = None,
              env: Mapping[str, str] | None = None) -> list[str] | None:
    """The repos job ``name`` lists now, rendered as a run renders them; ``None``
    where that cannot be told (not a job of the file, no repo, or one that is not
    text, whose template fails or uses an unset env name)."""
    if name not in taskfile.jobs:
        return None
    ctx = context(taskfile, {}, sets or {}, env or {}, TemplateClock.now())
    values = _rendered_values(ctx, name, "repo")
    texts = [text for text in values if text]
    return texts if texts and len(texts) == len(values) else None


def _rendered_values(ctx: Context, name: str, key: str) -> list[str | None]:
    """Job ``name``'s values of ``key`` (or in its list), each rendered and stripped;
    ``None`` for one that is not text, or whose template fails or uses an unset env
    name, and ``""`` for a blank one."""
    raw = ctx.taskfile.job_keys(name).get(key, [])
    texts: list[str | None] = []
    for value in raw if isinstance(raw, list) else [raw]:
        if not isinstance(value, str):
            texts.append(None)
            continue
        try:
            rendered = render(value, ctx.scope(name), key)
        except TaskFileError:
            texts.append(None)
            continue
        texts.append(None if rendered.unset_env else rendered.text.strip())
    return texts


def job_automation(taskfile: TaskFile, name: str) -> str | None:
    """The automation job ``name`` triggers, as written (``None``: it starts runs,
    or is no longer in the file)."""
    table = taskfile.jobs.get(name)
    if not isinstance(table, dict):
        return None
    value = taskfile.job_keys(name).get("automation")
    return value.strip() if isinstance(value, str) and value.strip() else None
