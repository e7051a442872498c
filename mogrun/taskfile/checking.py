"""``check``: every problem of a task file and its warnings, without network.

It puts together the structural checks (``validation``) and the building of
every job (``building``, through ``resolve.check_job``): templates, prompt
files and the server's limits. An unset ``env`` name is a warning here (it
must be set when the job runs), an error for ``run``.
"""

from collections.abc import Collection, Mapping
from typing import NamedTuple

from mogrun.errors import Location, MogrunError
from mogrun.models import KeySpec, ResolvedJob
from mogrun.plugintables import problems_of
from mogrun.taskfile.building import (
    buildable_jobs,
    in_file_order,
    key_clashes,
    said_once,
)
from mogrun.taskfile.graph import graph_errors
from mogrun.taskfile.parse import TaskFile
from mogrun.taskfile.resolve import check_job, check_options, hidden_problems, var_problems_of
from mogrun.taskfile.templates import TemplateClock, set_problems
from mogrun.taskfile.validation import (
    key_errors,
    misdotted_jobs,
    names_meant,
    without_jobs,
    written_token_error,
)


class CheckWarning(NamedTuple):
    """One of ``check``'s warnings, and where in the file it points when it is about
    one place there (``--json`` gives that as it gives an error's location).
    (Not a dataclass: start-up, see docs/architecture.md.)"""

    message: str
    location: Location | None = None

    def __str__(self) -> str:
        """As ``check`` prints it: ``path:line:column: message`` when located."""
        return f"{self.location}: {self.message}" if self.location else self.message


class Report(NamedTuple):
    """Everything ``check`` found: errors (exit 2) and warnings (exit 0)."""

    errors: list[MogrunError]
    warnings: list[CheckWarning]
    # The jobs built whole (no problem, every env name set): what a plugin's
    # mogrun_adjust_job is asked of, as show and run would ask it.
    jobs: tuple[ResolvedJob, ...] = ()


def validate(taskfile: TaskFile, key_specs: Mapping[str, KeySpec], env: Mapping[str, str], *,
             sets: Mapping[str, str] | None = None, command_names: Collection[str] = (),
             secrets: Collection[str] = (), found: Collection[MogrunError] = ()) -> Report:
    """Every problem of the file, in file order, and warnings.

    ``command_names`` are the CLI's commands (the core does not import the CLI):
    a job named like one gets a warning. ``secrets``: the invocation's (its token,
    the values of the ``env.*`` names the file uses), masked in what is judged
    outside any job (a ``[defaults]`` key no job inherits). ``found``: problems
    the caller found already (a plugin of the file that did not load), listed
    with the rest.
    """
    with taskfile.spelled():
        return _validate(taskfile, key_specs, env, sets=sets or {}, command_names=command_names,
                         secrets=secrets, found=found)


def _validate(taskfile: TaskFile, key_specs: Mapping[str, KeySpec], env: Mapping[str, str], *,
              sets: Mapping[str, str], command_names: Collection[str],
              secrets: Collection[str], found: Collection[MogrunError]) -> Report:
    misdotted = misdotted_jobs(taskfile, key_specs)
    keyed = key_errors(taskfile, key_specs, misdotted)
    meant = names_meant(taskfile, misdotted, key_specs)
    taskfile = without_jobs(taskfile, misdotted)  # said once, by key_errors
    errors: list[MogrunError] = [*found, *set_problems(taskfile, sets), *keyed,
                                 *graph_errors(taskfile, meant)]
    warnings = [*command_name_warnings(taskfile, command_names),
                *github_name_warnings(taskfile), *uncancellable_warnings(taskfile)]
    if any("schedule" in t for t in (taskfile.defaults, *taskfile.jobs.values())):
        from mogrun.ci.schedules import schedule_warnings

        warnings += schedule_warnings(taskfile)
    clock = TemplateClock.now()
    built = buildable_jobs(taskfile, list(keyed), key_specs)
    problems: list[MogrunError] = []
    results = []
    buildable = set(built)
    # A job held back only by a wrongly typed [defaults] key (said there) is checked
    # without it: fixing the default revealed the job's own problems in a second round.
    repaired = _without_wrong_defaults(taskfile)
    held_back = set() if repaired is taskfile else set(buildable_jobs(
        repaired, key_errors(repaired, key_specs, misdotted), key_specs)) - buildable
    for name in taskfile.jobs:  # in file order: said_once names the first job
        if name in held_back:  # plugin keys included, as for any job built
            problems += check_job(repaired, name, key_specs=key_specs, env=env, sets=sets,
                                  clock=clock).problems
            continue
        if name not in buildable:
            # Its plugin keys are judged now, not once its core problems are fixed.
            problems += check_options(taskfile, name, key_specs=key_specs, env=env, sets=sets,
                                      clock=clock)
            continue
        result = check_job(taskfile, name, key_specs=key_specs, env=env, sets=sets, clock=clock)
        results.append(result)
        problems += result.problems
        warnings += [CheckWarning(f'job "{name}" uses env.{n}, which is not set here (it must '
                                  "be set when this job runs)", taskfile.location("jobs", name))
                     for n in sorted(result.unset_env)]
    warnings += slot_wait_warnings(taskfile, [r.job for r in results if r.job is not None],
                                   env)
    problems += var_problems_of(taskfile, env=env, sets=sets, clock=clock)
    problems += hidden_problems(taskfile, keyed, built, key_specs=key_specs, env=env, sets=sets,
                                clock=clock)
    errors += said_once(taskfile, problems)
    errors += key_clashes(taskfile, results)
    errors += unused_default_errors(taskfile, key_specs, secrets)
    errors += unused_default_request_errors(taskfile)
    errors += written_token_error(taskfile, env)
    return Report(errors=_unloaded_plugin_hints(in_file_order(errors), found),
                  warnings=warnings,
                  jobs=tuple(r.job for r in results
                             if r.job is not None and not r.problems and not r.unset_env))


def _without_wrong_defaults(taskfile: TaskFile) -> TaskFile:
    """``taskfile`` without the ``[defaults]`` keys of a wrong type (each said where
    it is written): what its jobs are checked against once they are fixed."""
    from mogrun.taskfile.schema import JOB_KEYS, JOB_ONLY

    kept = {key: value for key, value in taskfile.defaults.items()
            if not (key in JOB_KEYS and key not in JOB_ONLY and JOB_KEYS[key](value))}
    return taskfile if len(kept) == len(taskfile.defaults) else taskfile._replace(defaults=kept)


def _unloaded_plugin_hints(errors: list[MogrunError],
                           found: Collection[MogrunError]) -> list[MogrunError]:
    """An unknown key while a plugin of the file did not load is most likely one
    that plugin declares: said with the key, which alone reads like a typo (one
    close to a known key is a typo: its "did you mean" says so)."""
    from mogrun.errors import PluginError, UnknownKeyError

    unloaded = [e for e in found if isinstance(e, PluginError)]
    if not unloaded:
        return errors
    where = f" (line {unloaded[0].location.line})" if unloaded[0].location else ""
    hint = (f"A plugin of [mogplex].plugins did not load{where}: a key it declares is "
            "unknown until it does.")
    return [e.evolve(context=[*e.context, hint]) if isinstance(e, UnknownKeyError)
            and not any(line.startswith("did you mean") for line in e.context) else e
            for e in errors]


def unused_default_errors(taskfile: TaskFile, key_specs: Mapping[str, KeySpec],
                          secrets: Collection[str] = ()) -> list[MogrunError]:
    """A plugin key of ``[defaults]`` is judged in the jobs that inherit it (built
    or not); one that no job inherits is judged on its own (templates left as
    written), so a mistake in it does not wait for the first job that uses it.

    No job's secrets apply here: what its validator says (a ValueError, a crash, a
    mogrun error of its own) is masked with the invocation's ``secrets``, as a
    crash of ``mogrun_configure`` is, and with what the key's ``secrets`` callback
    lists in the refused value (when it can read it)."""
    from mogrun.errors import ValidatorCrash
    from mogrun.masking import mask
    from mogrun.taskfile.building import refused_secrets

    errors: list[MogrunError] = []
    for key, spec in key_specs.items():
        if key not in taskfile.defaults or any(key not in t for t in taskfile.jobs.values()):
            continue
        value = taskfile.defaults[key]
        if "{{" in repr(value):
            continue  # its templates are judged where a job renders them
        try:
            spec.validate(value)
        except ValueError as exc:
            from mogrun.taskfile.positions import sub_path  # a wrong value: rare

            hidden = {*secrets, *refused_secrets(spec, value)}
            errors += [_line_masked(taskfile.error(
                f'[defaults] key "{key}": {mask(message, hidden)}',
                "defaults", key, *sub_path(value, sub), key=key), hidden)
                       for sub, message in problems_of(exc)]
        except ValidatorCrash as exc:
            hidden = {*secrets, *refused_secrets(spec, value)}
            errors.append(_line_masked(taskfile.error(
                f'[defaults] key "{key}": {mask(exc.crash, hidden)}', "defaults", key,
                key=key), hidden))
        except MogrunError as exc:  # the validator's own error
            raise exc.evolve(message=mask(exc.message, secrets),
                             context=[mask(line, secrets) for line in exc.context]) from exc
    return errors


def _line_masked(error: MogrunError, secrets: Collection[str]) -> MogrunError:
    """``error`` with ``secrets`` masked in the line it quotes (``building.line_masked``),
    as a job's key problem is."""
    from mogrun.taskfile.building import line_masked

    where = getattr(error, "location", None)
    return error if where is None else error.evolve(location=line_masked(where, secrets))


def unused_default_request_errors(taskfile: TaskFile) -> list[MogrunError]:
    """``root``, ``branch`` and ``base_branch`` of ``[defaults]`` are judged in the
    jobs that inherit them; where every job sets its own, on their own (templates
    left to the jobs), or ``add``'s next job would be the first to say so, with no
    line to point at."""
    from mogrun.taskfile.gitrefs import ref_problem
    from mogrun.taskfile.limits import root_problem
    from mogrun.tomltext import toml_repr

    judges = {"root": root_problem, "branch": ref_problem, "base_branch": ref_problem}
    errors: list[MogrunError] = []
    for key, judge in judges.items():
        value = taskfile.defaults.get(key)
        if (not isinstance(value, str) or "{{" in value
                or any(key not in table for table in taskfile.jobs.values())):
            continue
        problem = judge(value)
        if problem:
            what = "is not a valid git branch name: it " if key != "root" else ""
            errors.append(taskfile.error(f'[defaults] key "{key}": {toml_repr(value)} '
                                         f"{what}{problem}", "defaults", key))
    return errors


def github_name_warnings(taskfile: TaskFile) -> list[CheckWarning]:
    """Job names GitHub takes for another (ones that differ only in case, a
    scheduled ``all``) run apart here, but ``ci github`` refuses them, which a CI
    step that runs ``check`` first should hear of."""
    from mogrun.ci.names import job_name_problems
    from mogrun.ci.schedules import scheduled_jobs

    return [CheckWarning(f"{p.message} (`mogrun ci github` refuses it)")  # two jobs: no place
            for p in job_name_problems(taskfile.jobs, scheduled_jobs(taskfile))]


def uncancellable_warnings(taskfile: TaskFile) -> list[CheckWarning]:
    """``on_timeout = "cancel"`` written for an automation job: the API has no cancel
    for its runs, so at the timeout the run is left running (said then too). At
    that ``on_timeout``."""
    return [CheckWarning(f'job "{name}" sets on_timeout = "cancel", but an automation\'s '
                         "runs cannot be cancelled (the API has none for them): at the "
                         'timeout the run is left running; write on_timeout = "detach" to '
                         "say so", taskfile.location("jobs", name, "on_timeout"))
            for name, table in taskfile.jobs.items()
            if isinstance(table, dict) and table.get("on_timeout") == "cancel"  # its own
            and "automation" in taskfile.job_keys(name)]


def slot_wait_warnings(taskfile: TaskFile, jobs: Collection[ResolvedJob],
                       env: Mapping[str, str]) -> list[CheckWarning]:
    """Jobs whose runs beyond the account's sandbox slots (``limits.account_slots``:
    ``MOGRUN_SANDBOXES`` wins, as for ``run``) will most likely give up waiting for
    one (``limits.slot_wait_problem``), each located at its ``capacity_wait`` when
    it sets one, else at its ``repo``."""
    from mogrun.errors import UsageError
    from mogrun.taskfile.limits import (
        SANDBOXES_ENV,
        account_slots,
        sandboxes_override,
        slot_wait_problem,
    )

    try:
        cap, source = account_slots(taskfile.settings, env), (
            SANDBOXES_ENV if sandboxes_override(env) is not None else "[mogplex] sandboxes")
    except UsageError:  # a wrong MOGRUN_SANDBOXES: run says so; check judges the file
        cap, source = account_slots(taskfile.settings, {}), "[mogplex] sandboxes"
    if cap is None:  # a wrong [mogplex] sandboxes, said as its own error
        return []
    warnings = []
    for job in jobs:
        problem = slot_wait_problem(job, cap, source)
        if problem is not None:
            table = taskfile.jobs.get(job.name, {})
            key = next((k for k in ("capacity_wait", "repo") if k in table), None)
            warnings.append(CheckWarning(problem, taskfile.location("jobs", job.name, key)
                                         if key is not None else None))
    return warnings


def command_name_warnings(taskfile: TaskFile,
                          command_names: Collection[str]) -> list[CheckWarning]:
    """Jobs named like a command only run as ``mogrun run NAME``; a job named
    ``help`` takes ``mogrun help`` (git's and gh's habit) from the help, so that
    asking for help starts an agent run. Each at the job's name."""
    said = [CheckWarning(f'job "{name}" has the name of a command: `mogrun {name}` runs the '
                         f"command; use `mogrun run {name}`", taskfile.location("jobs", name))
            for name in taskfile.jobs if name in command_names]
    if "help" in taskfile.jobs:
        said.append(CheckWarning('job "help" takes the name of `mogrun help`, which then '
                                 "starts it; `mogrun --help` still shows the help (or rename "
                                 "the job)", taskfile.location("jobs", "help")))
    return said
