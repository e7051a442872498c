"""Strict validation of a whole task file: sections, settings, vars, defaults,
every job's keys and types, and the needs graph.

``structural_errors`` lists every problem that needs no templating; ``run``
and ``show`` refuse a file that has any. Building each job
(``mogrun.taskfile.building``) finds the rest; ``mogrun.taskfile.checking``
puts both together for ``check``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from mogrun.errors import TaskFileError, UnknownKeyError
from mogrun.models import KeySpec
from mogrun.taskfile.graph import graph_errors
from mogrun.taskfile.jobnames import JOB_NAME, JOB_NAME_RULE
from mogrun.taskfile.parse import SECTIONS, TaskFile, type_name
from mogrun.taskfile.paths import path_problem
from mogrun.taskfile.schema import (
    JOB_KEYS,
    JOB_ONLY,
    RUN_ONLY_KEYS,
    SETTINGS_KEYS,
    closest,
    job_key_names,
    key_problems,
    quoting_hint,
    unknown_top_level,
)
from mogrun.taskfile.secretkeys import secret_hint, secret_key_paths
from mogrun.tomltext import basic_string, toml_repr


def structural_errors(taskfile: TaskFile, key_specs: Mapping[str, KeySpec]) -> list[TaskFileError]:
    """Every problem of the file that can be found without rendering templates."""
    misdotted = misdotted_jobs(taskfile, key_specs)
    return key_errors(taskfile, key_specs, misdotted) + graph_errors(
        without_jobs(taskfile, misdotted), meant=names_meant(taskfile, misdotted, key_specs))


def misdotted_jobs(taskfile: TaskFile, key_specs: Mapping[str, KeySpec]) -> list[str]:
    """The "jobs" that are only the first part of a job name holding "." written
    unquoted (``[jobs.release.v1]`` is a table ``v1`` in a job ``release``): every
    key of theirs is such a table. No job at all: their one problem is the
    quoting (``quoting_hint``), not a missing repo or prompt."""
    known = job_key_names(key_specs)
    return [name for name, table in taskfile.jobs.items()
            if table and all(_name_part(key, value, known) for key, value in table.items())]


def names_meant(taskfile: TaskFile, misdotted: Collection[str],
                key_specs: Mapping[str, KeySpec]) -> set[str]:
    """The job names the ``misdotted`` headers meant (``release.v1``): a need of one
    is no second problem, the header's hint fixes both."""
    known = job_key_names(key_specs)
    return {".".join((name, *_name_rest(key, value, known)))
            for name in misdotted for key, value in taskfile.jobs[name].items()}


def without_jobs(taskfile: TaskFile, names: Collection[str]) -> TaskFile:
    """``taskfile`` judged as if it had no jobs ``names`` (``misdotted_jobs``)."""
    if not names:
        return taskfile
    return taskfile._replace(jobs={n: t for n, t in taskfile.jobs.items() if n not in names})


def _name_part(key: str, value: Any, known: Collection[str]) -> bool:
    """Whether ``key`` of a job's table is more likely the rest of the job's name:
    a table named like no key (nor close to one)."""
    return isinstance(value, dict) and key not in known and closest(key, known) is None


def key_errors(taskfile: TaskFile, key_specs: Mapping[str, KeySpec],
               misdotted: Collection[str] | None = None) -> list[TaskFileError]:
    """Problems of sections, keys and values (everything but the needs graph);
    ``misdotted``: ``misdotted_jobs`` when the caller has it already."""
    secret_paths = list(secret_key_paths(taskfile.data))
    errors = [_secret_error(taskfile, path) for path in secret_paths]
    secret = {path[-1] for path in secret_paths}
    errors += _unknown(taskfile, taskfile.data, SECTIONS, (), "", secret)
    errors += _settings_errors(taskfile, secret)
    errors += _vars_errors(taskfile)
    errors += _table_errors(taskfile, taskfile.defaults, ("defaults",), key_specs, secret)
    if misdotted is None:
        misdotted = misdotted_jobs(taskfile, key_specs)
    for name, table in taskfile.jobs.items():
        if name in misdotted:  # only the hint to quote the name: the rest follows from it
            errors += _table_errors(taskfile, table, ("jobs", name), key_specs, secret)
            continue
        errors += _job_errors(taskfile, name, table, key_specs, secret)
    return errors


def _secret_error(taskfile: TaskFile, path: tuple[str, ...]) -> TaskFileError:
    """Located; its line is not quoted (``positions.source_line`` quotes no line
    with a secret-looking key)."""
    return TaskFileError(f'secret-looking key "{path[-1]}": {secret_hint(path)}',
                         location=taskfile.location(*path),
                         job=path[1] if path[0] == "jobs" and len(path) > 2 else None,
                         key=path[-1])


def _unknown(taskfile: TaskFile, table: Mapping[str, Any], known: Any, where: tuple[str, ...],
             what: str, secret: set[str], left_out: str | None = None) -> list[TaskFileError]:
    """A problem per key of ``table`` not ``known``: ``unknown key "K" {what}`` (at the
    top level, ``what`` is empty: ``unknown_top_level`` says it). ``left_out``: what
    left plugins out, if anything (``plugin_key_hint``)."""
    errors: list[TaskFileError] = []
    for key in table:
        if key in known or key in secret:
            continue
        hint = closest(key, known)
        said = f'unknown key "{key}" {what}' if what else unknown_top_level(key, table[key])
        context = [f'did you mean "{hint}"?'] if hint else []
        if len(where) == 2 and where[0] == "jobs" and _name_part(key, table[key], known):
            context = [plugin_key_hint(left_out) if _written_as_value(taskfile, (*where, key)) else
                       quoting_hint(where[1], _name_rest(key, table[key], known))]
        elif len(where) == 2 and where[0] == "jobs" and left_out is not None:
            # Plugins were left out: any value may be a left-out plugin's key
            # (``owner = "@team"``), not only a table, whatever its spelling is close to.
            context.append(plugin_key_hint(left_out))
        errors.append(UnknownKeyError(
            said, location=taskfile.location(*where, key), key=key,
            job=where[1] if where[:1] == ("jobs",) and len(where) > 1 else None,
            context=context))
    return errors


# An unknown table written as a job's value (``edit_gate = { ... }``): a job key of
# a plugin that is not loaded, most likely (no header wrote it: no name to quote).
PLUGIN_KEY_HINT = ("A job key a plugin declares needs that plugin loaded: [mogplex] plugins, "
                   "-p, or the plugin installed (mogrun plugins lists what is loaded).")


def plugin_key_hint(left_out: str | None) -> str:
    """``PLUGIN_KEY_HINT``, or when plugins were left out (``--no-plugins``,
    ``MOGRUN_DISABLE_PLUGINS``: ``left_out`` says which, as the plugin host put it),
    that: the key's plugin may well be listed, and left out."""
    if left_out is None:
        return PLUGIN_KEY_HINT
    return f"A job key a plugin declares needs that plugin loaded: {left_out}."


def _written_as_value(taskfile: TaskFile, path: tuple[str, ...]) -> bool:
    """Whether ``path`` is written as ``key = value`` in the file, not made by a
    header or a dotted key (``[jobs.a.b]``, ``a.b.repo = ...``) that names it."""
    from mogrun.taskfile.positions import entries  # an unknown key's hint: rare

    return any(entry.path == path and entry.kind != "table" for entry in entries(taskfile.text))


def _name_rest(key: str, value: dict[str, Any], known: Collection[str]) -> tuple[str, ...]:
    """The rest of a job name written unquoted: ``("b", "c")`` of ``[jobs.a.b.c]``,
    down through tables that hold only one table named like no key."""
    rest: tuple[str, ...] = (key,)
    while len(value) == 1:
        (inner, inner_value), = value.items()
        if not _name_part(inner, inner_value, known):
            break
        rest, value = (*rest, inner), inner_value
    return rest


def _settings_errors(taskfile: TaskFile, secret: set[str]) -> list[TaskFileError]:
    errors = _unknown(taskfile, taskfile.settings, SETTINGS_KEYS, ("mogplex",), "in [mogplex]",
                      secret)
    errors += filter(None, (setting_error(taskfile, key) for key in SETTINGS_KEYS))
    errors += plugin_entry_errors(taskfile)
    refused = refused_url(taskfile)
    if refused is not None:
        errors.append(refused)
    return errors


def plugins_refused(taskfile: TaskFile) -> list[TaskFileError]:
    """What ``run`` refuses of ``[mogplex] plugins`` (no list; an entry no loader
    tries), for the commands that load plugins without judging the whole file:
    ``plugins`` refuses it too, ``schema`` warns of it."""
    return [*filter(None, [setting_error(taskfile, "plugins")]), *plugin_entry_errors(taskfile)]


def plugin_entry_errors(taskfile: TaskFile) -> list[TaskFileError]:
    """Each entry of ``[mogplex].plugins`` that no loader tries
    (``plugin_entry_problem``), located at its string."""
    errors = []
    for index, plugin in taskfile.plugin_entries:
        problem = plugin_entry_problem(taskfile, plugin)
        if problem:
            errors.append(taskfile.error(f"[mogplex] plugins: {problem}",
                                         "mogplex", "plugins", index))
    return errors


def setting_error(taskfile: TaskFile, key: str) -> TaskFileError | None:
    """``[mogplex] key`` refused, located at its line (``None``: unset or right)."""
    if key not in taskfile.settings:
        return None
    problem = SETTINGS_KEYS[key](taskfile.settings[key])
    return taskfile.error(f"[mogplex] {key} {problem}", "mogplex", key) if problem else None


def refused_url(taskfile: TaskFile) -> TaskFileError | None:
    """The task file's ``[mogplex] url`` refused, located at its line (``None``: none,
    or one it may name): the credentials a URL may carry are masked in the message
    and in the line it quotes. ``check`` and every command that reads the url say
    it this one way."""
    url = taskfile.url
    problem = None if url is None else _url_problem(url)
    if url is None or problem is None:
        return None
    from mogrun.api.settings import credentials, shown_url
    from mogrun.masking import masked_error

    error = taskfile.error(f"[mogplex] url {toml_repr(shown_url(url))} is refused: {problem}",
                           "mogplex", "url")
    userinfo = credentials(url)
    return masked_error(error, [userinfo]) if userinfo else error


def plugin_entry_problem(taskfile: TaskFile, spec: str) -> str | None:
    """What is wrong with an entry of ``[mogplex].plugins`` before any plugin is
    loaded (an empty name; a ``.py`` path that is absolute or leaves the task
    file's folder): said here, with the file's other problems, even with
    ``--no-plugins``, so the plugin loader does not try it and say it again."""
    if not spec.strip():
        return "empty plugin name"
    from mogrun.pluginload import is_path_spec

    if is_path_spec(spec) or "\0" in spec:  # a NUL: in no path and no module name
        return path_problem(taskfile.project_dir, spec)
    return None


def _url_problem(url: str) -> str | None:
    """The rule for a committed file's URL (docs/taskfile.md) (mogplex.com or loopback only)."""
    from mogrun.api.settings import check_file_url

    try:
        check_file_url(url)
    except ValueError as exc:
        return str(exc)
    return None


def _vars_errors(taskfile: TaskFile) -> list[TaskFileError]:
    from mogrun.taskfile.templates import BUILTIN_NAMES, VAR_NAME, VAR_NAME_RULE

    errors = [taskfile.error(f'[vars] {key} must be a string, number or boolean, not '
                             f'{type_name(value)}', "vars", key)
              for key, value in taskfile.vars.items()
              if not isinstance(value, str | int | float | bool)]
    # A built-in name always wins, so such a var would be silently ignored.
    errors += [taskfile.error(f"[vars] {key} is a built-in template name "
                              f"({', '.join(BUILTIN_NAMES)}); choose another name", "vars", key)
               for key in taskfile.vars if key in BUILTIN_NAMES]
    # No {{ ... }} can name it: a typo found here, not where the name is used.
    errors += [taskfile.error(f'[vars] "{key}" cannot be named in a template: use '
                              f"{VAR_NAME_RULE}", "vars", key)
               for key in taskfile.vars if not VAR_NAME.fullmatch(key)]
    return errors


def _table_errors(taskfile: TaskFile, table: Mapping[str, Any], where: tuple[str, ...],
                  key_specs: Mapping[str, KeySpec], secret: set[str]) -> list[TaskFileError]:
    """Unknown keys and wrong types in a job table or ``[defaults]``."""
    job = where[1] if len(where) > 1 else None
    label = f'in job "{job}"' if job else "in [defaults]"
    known = job_key_names(key_specs)
    # What left plugins out, as the plugin host's ``KeySpecs`` says (a plain mapping: nothing).
    left_out = getattr(key_specs, "left_out", None)
    errors = _unknown(taskfile, table, known, where, label, secret, left_out)
    for key, value in table.items():
        if job is None and key in JOB_ONLY:
            errors.append(taskfile.error(f'"{key}" cannot be set in [defaults]; set it per job',
                                         *where, key))
        elif key in JOB_KEYS:
            errors += [taskfile.error(f"{_owner(job)}key \"{key}\" {problem}",
                                      *where, key, *_sub_path(value, sub), job=job, key=key)
                       for sub, problem in key_problems(JOB_KEYS[key], value)]
    return errors


def _sub_path(value: Any, sub: str) -> tuple[str | int, ...]:
    if not sub:
        return ()
    from mogrun.taskfile.positions import sub_path  # a problem inside a table: rare

    return sub_path(value, sub)


def _owner(job: str | None) -> str:
    return f'job "{job}", ' if job else "[defaults] "


def _job_errors(taskfile: TaskFile, name: str, table: dict[str, Any],
                key_specs: Mapping[str, KeySpec], secret: set[str]) -> list[TaskFileError]:
    where = ("jobs", name)
    errors = []
    if not JOB_NAME.fullmatch(name):
        errors.append(taskfile.error(f"invalid job name {basic_string(name)}: {JOB_NAME_RULE}",
                                     *where))
    errors += _table_errors(taskfile, table, where, key_specs, secret)
    merged = taskfile.job_keys(name)
    if "repo" not in merged:
        errors.append(taskfile.error(f'job "{name}" has no repo', *where, job=name,
                                     context=['Add repo = "owner/name" (or a list to fan out).']))
    if "automation" in merged:
        return errors + _automation_errors(taskfile, name, table)
    if "input" in table:
        errors.append(taskfile.error(f'job "{name}", key "input" applies only to a job that '
                                     "triggers an automation (set automation too)",
                                     *where, "input", job=name))
    has_prompt, has_file = "prompt" in merged, "prompt_file" in merged
    if has_prompt == has_file:
        which = ("both prompt and prompt_file: set only one of them" if has_prompt else
                 "no prompt: set prompt, prompt_file or automation")
        errors.append(taskfile.error(f'job "{name}" has {which}', *where, job=name))
    elif has_file and isinstance(merged["prompt_file"], str):
        # Only where the path leads; whether the file exists is judged when the job
        # is built, so a missing file stops only the jobs that use it.
        origin = where if "prompt_file" in table else ("defaults",)
        problem = path_problem(taskfile.project_dir, merged["prompt_file"])
        if problem:
            errors.append(taskfile.error(f'job "{name}", key "prompt_file": {problem}',
                                         *origin, "prompt_file", job=name))
    return errors


def _automation_errors(taskfile: TaskFile, name: str,
                       table: Mapping[str, Any]) -> list[TaskFileError]:
    """A job that triggers an automation takes none of a run's keys (those of
    ``[defaults]`` are simply not used for it)."""
    return [taskfile.error(f'job "{name}", key "{key}" does not apply to an automation job '
                           "(the automation decides how its agents run)",
                           "jobs", name, key, job=name)
            for key in RUN_ONLY_KEYS if key in table]


# The shortest token taken for one where the file holds it: a shorter value (a test's
# "x") would turn up in any file by chance.
TOKEN_SEEN_FROM = 12


def written_token(text: str, env: Mapping[str, str]) -> tuple[str, list[tuple[int, int]]] | None:
    """The API token (``MOGPLEX_API_KEY``'s value here) as ``text`` holds it, with
    the line and column of each line's first place, or ``None``: a task file is
    committed, and ``mogrun add --prompt "... $MOGPLEX_API_KEY"`` wrote it there, past
    a ``check`` that passed it and a ``show`` that masked it."""
    from mogrun.taskfile.templates import TOKEN_NAME

    token = (env.get(TOKEN_NAME) or "").strip()
    if len(token) < TOKEN_SEEN_FROM or token not in text:
        return None
    from mogrun.taskfile.positions import source_text

    lines = source_text(text)
    places: dict[int, int] = {}
    at = text.find(token)
    while at >= 0:
        line, column = lines.point(at)
        places.setdefault(line, column)
        at = text.find(token, at + len(token))
    return token, list(places.items())


def written_token_error(taskfile: TaskFile, env: Mapping[str, str]) -> list[TaskFileError]:
    """``check``'s error for each line that holds the token, located, the line
    quoted with the token masked (check lists every problem at once)."""
    found = written_token(taskfile.text, env)
    if found is None:
        return []
    from mogrun.errors import Location
    from mogrun.masking import masked_error
    from mogrun.taskfile.positions import source_line

    token, places = found
    return [masked_error(TaskFileError(f"the file {WRITTEN_TOKEN}", location=Location(
        str(taskfile.path), line, column, source_line(taskfile.text, line))), [token])
        for line, column in places]


WRITTEN_TOKEN = ("holds the API token (the value of MOGPLEX_API_KEY): a task file is "
                 "committed, and the token must never be; take it out (mogrun reads the token "
                 "from the environment alone)")
