"""The one way commands get from the command line to resolved jobs: find and
load the task file, load plugins, configure them, resolve and adjust jobs.

``list`` uses only ``load_taskfile`` (no plugins, no rich); ``check``,
``show`` and ``run`` go through ``load_session``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from mogrun.cli.state import CliState
from mogrun.errors import MogrunError, PluginError, TaskFileError
from mogrun.taskfile.discovery import find_task_file
from mogrun.taskfile.parse import TaskFile, load_task_file

if TYPE_CHECKING:
    from pathlib import Path

    from mogrun.api.settings import Endpoint
    from mogrun.ci.shard import Shard
    from mogrun.engine.history import History
    from mogrun.models import ResolvedJob, SessionConfig
    from mogrun.pluginhost import PluginHost
    from mogrun.taskfile.templates import TemplateClock


class LoadedSession(NamedTuple):
    """Everything a command needs once the task file and plugins are loaded.
    (Not a dataclass: start-up, see docs/architecture.md.)"""

    taskfile: TaskFile
    host: PluginHost
    config: SessionConfig
    jobs: list[ResolvedJob]
    clock: TemplateClock


def load_taskfile(state: CliState, *, judge_sets: bool = True,
                  path: Path | None = None) -> TaskFile:
    """The invocation's task file, found by ``-f``, ``MOGRUN_FILE`` or searching up
    (unless the caller found it already: ``path``).

    A ``--set`` of a name the file does not use is refused here, for every
    command that loads the file, whether or not it renders templates;
    ``judge_sets=False`` for ``check`` and the resolving commands, which list
    it with the file's other problems."""
    taskfile = load_task_file(path or find_task_file(state.file, state.env, state.cwd))
    if judge_sets:
        refuse_unused_sets(state, taskfile)
    return taskfile


def refuse_unused_sets(state: CliState, taskfile: TaskFile) -> None:
    """Raise the first ``--set`` problem of ``taskfile`` (a usage error, exit 2)."""
    if not state.sets:
        return
    from mogrun.taskfile.templates import set_problems

    problems = set_problems(taskfile, state.sets)
    if problems:
        raise problems[0]


def optional_taskfile(state: CliState, unreadable: Callable[[TaskFileError], None] | None = None,
                      ) -> TaskFile | None:
    """The task file when there is one (for commands that work without one,
    like ``repos`` and ``plugins``). A file named with ``-f`` or
    ``MOGRUN_FILE`` must exist and parse; with neither, finding no
    ``mogplex.toml`` here or above simply means none. An empty file declares
    nothing: none too (``touch mogplex.toml && mogrun schema``). ``unreadable``:
    told why a file that is there cannot be read (``schema``: a folder named
    ``mogplex.toml`` too), which is then none."""
    from mogrun.errors import EmptyTaskFileError, NoTaskFileError

    try:
        path = find_task_file(state.file, state.env, state.cwd)
    except TaskFileError as error:
        if state.file or state.env.get("MOGRUN_FILE"):
            raise
        if unreadable is not None and not isinstance(error, NoTaskFileError):
            unreadable(error)
        return None
    try:
        taskfile = load_task_file(path)
    except EmptyTaskFileError:
        return None
    except TaskFileError as error:
        if unreadable is None:
            raise
        unreadable(error)
        return None
    refuse_unused_sets(state, taskfile)
    return taskfile


def plugin_host(state: CliState, extra_plugins: Sequence[str] = (),
                installed_problems: list[PluginError] | None = None) -> PluginHost:
    """The invocation's one plugin host: bundled plugins, entry points and
    ``-p`` ones (``run`` needs their options before the task file is read).
    ``installed_problems``: see ``PluginHost.load``."""
    from mogrun.pluginhost import PluginHost

    extra = plugin_specs(state, extra_plugins)
    state.divert_plugin_stdout()  # before any plugin is imported: --json keeps stdout NDJSON
    token = [state.env.get("MOGPLEX_API_KEY", "")]
    with _masked_load_errors(lambda: [*token, *_file_secrets(state)]):
        if state.plugin_host is None:
            _say_slow_setup(state)  # an import too: before the plugins are loaded
            state.plugin_host = PluginHost.load(project_dir=None, extra=extra,
                                                no_plugins=state.no_plugins, env=state.env,
                                                installed_problems=installed_problems)
        else:
            state.plugin_host.add_plugins(project_dir=None, extra=extra,
                                          no_plugins=state.no_plugins, env=state.env)
    host: PluginHost = state.plugin_host
    host.learn_secrets(token)
    return host


def _say_slow_setup(state: CliState) -> None:
    """A plugin's import, its set-up hooks (``mogrun_configure``,
    ``mogrun_adjust_job``...) and its job keys' validators run before any output:
    one still at work after a moment is said on stderr, as a run's slow hook is,
    not left as silence before the first line; on the main thread, before any
    run, where one Ctrl-C stops mogrun."""
    from mogrun.engine.slowhooks import SlowHooks
    from mogrun.pluginguard import IMPORTING, SETUP_HOOKS, VALIDATING, running_hooks

    watch = SlowHooks(running_hooks, state.say_wait, only=SETUP_HOOKS | {IMPORTING, VALIDATING},
                      before_runs=True)
    watch.__enter__()
    state.add_cleanup(lambda: watch.__exit__(None, None, None))


@contextlib.contextmanager
def _masked_load_errors(secrets: Callable[[], Iterable[str]]) -> Iterator[None]:
    """A plugin that fails to load may quote what it read from the environment
    (the token, an ``env.*`` value) in its error: masked before anyone sees it,
    as a hook's error is. ``secrets`` is asked only then."""
    from mogrun.masking import masked_error

    try:
        yield
    except PluginError as error:
        raise masked_error(error, secrets()) from error


def _file_secrets(state: CliState) -> frozenset[str]:
    """The ``env.*`` values of the task file, when a ``-p`` plugin fails to load
    before the file is read (``run`` loads them first): read for the error alone;
    none where the file cannot be read (its own error comes next)."""
    try:
        return taskfile_secrets(state, load_taskfile(state, judge_sets=False))
    except MogrunError:
        return frozenset()


def load_host(state: CliState, taskfile: TaskFile | None,
              extra_plugins: Sequence[str] = ()) -> PluginHost:
    """The invocation's host with the task file's ``plugins`` added, unless the
    command runs no code from the repository (``state.repository_code``); one that
    cannot load stops the command, located at its entry, with every other problem
    of theirs after it on an ``Also:`` line (the first alone was said: fixed, the
    next run met the next one)."""
    host, problems = checked_host(state, taskfile, extra_plugins)
    if problems:
        from mogrun.pluginload import together

        raise together(problems)
    say_plugin_notes(state, host, taskfile, extra_plugins)
    return host


def say_plugin_notes(state: CliState, host: PluginHost, taskfile: TaskFile | None,
                     extra_plugins: Sequence[str] = ()) -> None:
    """``plugin_notes`` as warnings on stderr."""
    for note in plugin_notes(state, host, taskfile, extra_plugins):  # a name from anywhere
        state.warn(note)


def plugin_notes(state: CliState, host: PluginHost, taskfile: TaskFile | None,
                 extra_plugins: Sequence[str] = ()) -> list[str]:
    """What was asked of the plugins that loading them silently did not do, once per
    invocation (``load_host`` says it on stderr, ``check`` lists it): an option a
    task file's plugin registers (it loads too late to add one), a
    ``MOGRUN_DISABLE_PLUGINS`` name that leaves out nothing, ``-p`` under
    ``--no-plugins``."""
    from mogrun import pluginload

    if state.plugin_notes_said:
        return []
    state.plugin_notes_said = True
    notes = []
    off = pluginload.disabled_names(state.env)
    if state.no_plugins:
        if extra_plugins:
            switch = pluginload.switched_off_by(state.env)  # as the host says it
            notes.append(f"{switch} loads only the bundled plugins, so it leaves out -p "
                         f"{', '.join(extra_plugins)} ({switch} wins over -p)")
    elif off:
        specs = [*(taskfile.plugins if taskfile is not None else ()), *extra_plugins]
        external = [*pluginload.entry_point_names(), *map(pluginload.spec_name, specs)]
        notes += pluginload.unmatched_disabled(state.env, external)
        notes += [f"{pluginload.DISABLE_ENV} leaves out -p {spec} (the variable wins over -p)"
                  for spec in extra_plugins if pluginload.spec_name(spec) in off]
    late: dict[str, tuple[Any, list[str]]] = {}
    for spec, cand in host.late_options():
        late.setdefault(cand.name, (cand, []))[1].append(f'"--{spec.name}"')
    return notes + [late_option_note(state, cand, names) for cand, names in late.values()]


def late_option_note(state: CliState, plugin: Any, options: Sequence[str]) -> str:
    """Why a task file's ``plugin`` (a ``Candidate``) adds none of the ``options`` it
    registers, and how it can: ``-p`` with its path from here, or an entry point, on
    the command typed (``rerun`` takes ``run``'s options; any other says ``run``)."""
    import os
    import shlex

    command = state.command if state.command in ("run", "rerun") else "run"

    origin = plugin.origin
    if os.path.isabs(origin):
        relative = os.path.relpath(origin, state.cwd)
        origin = origin if relative.startswith("..") else relative
    return (f'plugin "{plugin.name}" of the task file registers option'
            f"{'s' * (len(options) > 1)} {', '.join(options)}, which mogrun {command} does "
            "not have: a task file's plugins load after the command line is parsed (load it "
            f"with mogrun {command} -p {shlex.quote(origin)}, or install it with an entry "
            "point)")


def checked_host(state: CliState, taskfile: TaskFile | None, extra_plugins: Sequence[str] = (),
                 ) -> tuple[PluginHost, list[PluginError]]:
    """``load_host``, with the problems of the task file's plugins returned rather
    than raised: ``check`` lists them with the file's other problems, and judges
    the file with the plugins that did load; so are the installed plugins (entry
    points) that cannot load, unlocated. (A ``-p`` plugin is no part of the file:
    one that cannot load stops ``check`` too.)"""
    from mogrun.masking import masked_error
    from mogrun.pluginload import plugin_problems

    installed: list[PluginError] = []
    host = plugin_host(state, extra_plugins, installed)
    secrets = taskfile_secrets(state, taskfile)  # read once: the prompt files too
    masks = [*secrets, state.env.get("MOGPLEX_API_KEY", "")]  # (no file: the token)
    problems = [masked_error(part, masks) for error in installed
                for part in plugin_problems(error)]
    if taskfile is not None:
        if state.repository_code and not state.no_plugins:
            problems += add_task_file_plugins(state, host, taskfile, secrets)
        host.learn_secrets(secrets)
    return host, problems


def add_task_file_plugins(state: CliState, host: PluginHost, taskfile: TaskFile,
                          secrets: Collection[str]) -> list[PluginError]:
    """Load the task file's plugins one by one, so that one that cannot load hides
    neither the others nor their keys; each problem of one (several: each said and
    counted on its own) is located at its string in ``[mogplex].plugins``. A path
    ``check`` refuses anyway is not tried. ``secrets``: ``taskfile_secrets``'s."""
    from mogrun.masking import masked_error
    from mogrun.pluginload import plugin_problems
    from mogrun.taskfile.validation import plugin_entry_problem

    problems = []
    for index, spec in taskfile.plugin_entries:
        if plugin_entry_problem(taskfile, spec):
            continue
        try:
            host.add_plugins(project_dir=taskfile.project_dir, task_file_plugins=[spec],
                             env=state.env)
        except PluginError as error:  # each of its problems is one of check's, masked
            where = taskfile.location("mogplex", "plugins", index)
            problems += [masked_error(part, secrets, key="plugins", location=where)
                         for part in plugin_problems(error)]
    return problems


def taskfile_secrets(state: CliState, taskfile: TaskFile | None) -> frozenset[str]:
    """The values of the ``env.*`` names ``taskfile`` uses: secrets that a plugin's
    error in a set-up hook must mask (``logs`` masks them the same way)."""
    return env_secrets(state, taskfile) if taskfile is not None else frozenset()


def env_secrets(state: CliState, taskfile: Any) -> frozenset[str]:
    """The values of every ``env.NAME`` the task file and its prompt files use, and the
    API token: the agent may echo them, and ``logs`` masks them as ``run`` does (they
    are secrets)."""
    from mogrun.taskfile.paths import prompt_file_texts
    from mogrun.taskfile.templates import TOKEN_NAME, template_names

    texts = [taskfile.text, *prompt_file_texts(taskfile)]

    used = (name.split("|")[0].strip() for text in texts for name in template_names(text))
    names = {name.removeprefix("env.") for name in used if name.startswith("env.")}
    token = (state.env.get(TOKEN_NAME) or "").strip()
    return frozenset({*(value for name in names if (value := state.env.get(name))),
                      *([token] if token else [])})


def plugin_specs(state: CliState, specs: Sequence[str]) -> tuple[str, ...]:
    """``-p`` values with relative ``.py`` paths made absolute against the
    invocation's directory (which need not be the process's)."""
    from pathlib import Path

    def absolute(spec: str) -> str:
        is_path = spec.strip().endswith(".py") or "/" in spec or "\\" in spec
        if not is_path or Path(spec.strip()).is_absolute():
            return spec
        return str(state.cwd / spec.strip())

    return tuple(absolute(spec) for spec in specs)


def base_url(state: CliState, taskfile: TaskFile) -> str | None:
    """The API base URL by the precedence docs/taskfile.md gives; ``None`` for ``--local`` (the
    emulator's address is only known once it is started)."""
    if state.local:
        return None
    return task_file_endpoint(state, taskfile).base_url


def task_file_endpoint(state: CliState, taskfile: TaskFile | None) -> Endpoint:
    """The API endpoint by the precedence docs/taskfile.md gives; a task file's refused url is an
    error located at its line, as ``check`` says it."""
    from mogrun.api.settings import resolve_endpoint

    file_url = taskfile.url if taskfile is not None else None
    try:
        return resolve_endpoint(cli_url=state.url, env=state.env, file_url=file_url)
    except TaskFileError as error:
        if taskfile is None or error.key != "url":
            raise
        from mogrun.taskfile.validation import refused_url

        # As check says it: a host refused says where another goes in its own words;
        # "http://" to mogplex.com or a port out of range wants no other host.
        refused = refused_url(taskfile)
        if refused is None:
            raise
        raise refused from error


def history_key(state: CliState, taskfile: TaskFile) -> str:
    """Which history a run is recorded under and found again by ``status``/``logs``:
    ``"local"`` for ``--local`` (the emulator's URL changes every time), else the
    API base URL. The one place it is decided, so writer and readers agree."""
    from mogrun.engine.history_row import LOCAL_BASE_URL

    if state.local:
        return LOCAL_BASE_URL
    return (base_url(state, taskfile) or "").rstrip("/")


def project_history(state: CliState, taskfile: TaskFile) -> History:
    """The history ``run`` records in and ``status``/``logs``/``cancel``/``history``/
    ``rerun`` read: ``.mogrun/history.db`` beside the task file, under
    ``history_key``, scoped to the task file (its path relative to the project
    folder, which is its folder: its name), so two task files in one folder are
    two projects. The one place it is opened, so writer and readers agree."""
    from mogrun.engine.history import History

    # Opening, or a write, waiting for another process's lock is said (run's recorder
    # says a write's its own way).
    return History.for_project(taskfile.project_dir, history_key(state, taskfile),
                               task_file=taskfile.path.name, on_busy=state.warn)


def session_config(state: CliState, taskfile: TaskFile, command: str,
                   options: Mapping[str, Any]) -> SessionConfig:
    """What plugins see in ``mogrun_configure``; a refused URL is an error."""
    return _config(state, taskfile, command, options, base_url(state, taskfile))


def check_config(state: CliState, taskfile: TaskFile, *, honours_url: bool = True,
                 ) -> SessionConfig:
    """``session_config`` for ``check``: the task file's refused url is not fatal
    here, because ``check`` reports it with the file's other problems (plugins see
    no URL); one from ``--url`` or ``MOGPLEX_URL`` is (exit 2), as ``run`` says it.
    ``honours_url=False``: a command that sends nothing (``ci github``) ignores both."""
    try:
        url = base_url(state, taskfile)
    except TaskFileError:
        url = None
    except MogrunError:
        if honours_url:
            raise
        url = None
    return _config(state, taskfile, "check", {}, url)


def _config(state: CliState, taskfile: TaskFile, command: str, options: Mapping[str, Any],
            url: str | None) -> SessionConfig:
    from mogrun.models import SessionConfig

    return SessionConfig(task_file=str(taskfile.path), project_dir=str(taskfile.project_dir),
                         cwd=str(state.cwd), base_url=url, local=state.local, command=command,
                         settings=dict(taskfile.settings), options=dict(options))


def load_session(state: CliState, *, command: str, names: Sequence[str],
                 with_needs: bool = True, extra_plugins: Sequence[str] = (),
                 options: Mapping[str, Any] | None = None, timeout_override: float | None = None,
                 rerun: bool = False) -> LoadedSession:
    """Load, configure and resolve ``names`` (plus needs): nothing is sent yet. A
    refused task-file url is said after a problem of the jobs that comes before it
    in the file, as ``check`` lists them."""
    from mogrun.taskfile.resolve import resolve
    from mogrun.taskfile.templates import TemplateClock

    taskfile = load_taskfile(state, judge_sets=False)  # resolve lists it with the rest
    host = load_host(state, taskfile, extra_plugins)
    clock = TemplateClock.now()

    def resolution() -> Any:
        return resolve(taskfile, names, key_specs=host.key_specs(), sets=state.sets,
                       env=state.env, clock=clock, with_needs=with_needs,
                       timeout_override=timeout_override,
                       rerun_suffix=rerun_suffix(clock) if rerun else None)

    try:
        settings = session_config(state, taskfile, command, options or {})
    except TaskFileError as refused:
        resolved = resolution()
        if any(_line(problem) < _line(refused) for problem in resolved.problems):
            resolved.jobs_or_first_problem()
        raise
    config = host.configure(settings)
    jobs = resolution().jobs_or_first_problem()
    return LoadedSession(taskfile=taskfile, host=host, config=config,
                         jobs=[host.adjust_job(job) for job in jobs], clock=clock)


def this_leg(state: CliState, loaded: LoadedSession, shard: Shard) -> LoadedSession:
    """``--shard I/N``: the session with only this leg's runs, as ``run`` and its dry
    run both take it (``ci.shard.leg_jobs``); a leg left with none says so."""
    from mogrun.ci.shard import leg_jobs
    from mogrun.taskfile.limits import sandboxes_override

    settings = dict(loaded.taskfile.settings)
    slots = sandboxes_override(state.env)  # the slots the session will share out
    if slots is not None:
        settings["sandboxes"] = slots
    from mogrun.cli.run_cmd import rerun_command
    from mogrun.textsafety import shell_word

    def spelled(verb: str, **options: Any) -> Callable[[Sequence[str]], str]:
        # The invocation's -f, --url, --set ...: what shaped its requests (rerun_command).
        prefix = rerun_command(state, verb=verb, **options)
        return lambda names: " ".join([prefix, *map(shell_word, names)])

    verb = "rerun" if state.command == "rerun" else "run"
    run, rerun = spelled("run"), spelled("rerun")

    def needs_first(names: Sequence[str]) -> str:
        """For a rerun leg: `run` would start the needs' passed runs again, and a
        need never run here has nothing to rerun (it is told apart by the history,
        which a leg does not read)."""
        return f"{rerun(names)}, or {run(names)} for one never run here"

    leg = loaded._replace(jobs=leg_jobs(
        loaded.jobs, settings, shard, needs_run=needs_first if verb == "rerun" else run,
        then=spelled(verb, shard=shard, no_deps=True)))
    if not leg.jobs:
        state.echo(f"shard {shard}: no runs of these jobs fall in this leg; nothing to do",
                   err=True)
    return leg


def _line(error: MogrunError) -> float:
    """Where in the task file ``error`` is (an unlocated one: after everything)."""
    location = getattr(error, "location", None)
    line = location.line if location is not None else None
    return float("inf") if line is None else line


def rerun_suffix(clock: TemplateClock) -> str:
    """What ``--rerun`` appends to every idempotency key: new per invocation."""
    return f"~rerun-{clock.nonce}"
