"""``mogrun run JOB...`` (and ``mogrun JOB...``): start, follow, gate, report.

The options that plugins declare (``--junit PATH``, ...) are added to the
command only when it is parsed or its help is shown, so listing commands
never loads plugins. Everything after parsing happens in the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from mogrun.cli import framework as click
from mogrun.cli.completion import complete_files, complete_jobs
from mogrun.cli.state import CliState, state_of
from mogrun.errors import MogrunError, UsageError

if TYPE_CHECKING:
    from mogrun.ci.shard import Shard
    from mogrun.engine.history import History
    from mogrun.models import ResolvedJob
    from mogrun.runs import RunState


    class Select(Protocol):
        """``rerun``'s choice of runs: given the history and (unless ``-n``) the API
        client, the runs to start and the attempt each starts at."""

        def __call__(self, jobs: Sequence[ResolvedJob], history: History | None,
                     client: Any = None
                     ) -> tuple[Sequence[ResolvedJob], Mapping[str, tuple[int, str]] | None]:
            ...

        def nothing_left(self, leg: str | None) -> str:
            """Why no run is chosen (in this ``leg`` of a ``--shard``)."""
            ...

        def starts(self, jobs: Sequence[ResolvedJob]) -> bool:
            """Whether the chosen ``jobs`` start a run (not only keep ``going`` ones)."""
            ...

        @property
        def held(self) -> Sequence[str]:
            """The jobs held back behind a run still going."""
            ...

        @property
        def held_back(self) -> Sequence[tuple[ResolvedJob, str]]:
            """The jobs (their runs to rerun) held back behind a need still going, and
            why: recorded as not started, so the next rerun finds them."""
            ...

        @property
        def going(self) -> Mapping[str, tuple[RunState, str]]:
            """The runs (by label) of the chosen jobs left going that still go, their
            state and why: recorded as they stand, not started again."""
            ...

RUN_HELP = """Start the jobs (their needs first), follow them, apply gates, exit with a
code a script can trust.

Ctrl-C cancels the runs started here and says whether each cancel got
through (exit 130); a second Ctrl-C exits at once, listing the runs left
going with the mogrun cancel command for each. Times are UTC.

\b
Examples:
  mogrun run weekly-cleanup
  mogrun weekly-cleanup               the same
  mogrun run -j 8 -k lint test codemod
  mogrun run --detach codemod         start, print run ids, exit 0
  mogrun run --timeout 10m --rerun nightly
"""

_PLUGIN_META = "mogrun.plugin_options"


def _scan_plugins(args: Sequence[str]) -> tuple[str, ...]:
    """``-p NAME`` values, read before parsing so their options exist when parsed."""
    found: list[str] = []
    for i, arg in enumerate(args):
        if arg in ("-p", "--plugin") and i + 1 < len(args):
            found.append(args[i + 1])
        elif arg.startswith("--plugin="):
            found.append(arg.partition("=")[2])
        elif arg.startswith("-p") and len(arg) > 2 and not arg.startswith("--"):
            found.append(arg[2:])
    return tuple(found)


class LateOptionError(click.exceptions.NoSuchOption):
    """No such option, but a task file's plugin registers it (too late): its message
    says so, and no "did you mean" follows (the option is spelt right)."""


class RunCommand(click.Command):
    """``run`` plus the options of plugins that load before parsing."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["mogrun.extra_plugins"] = _scan_plugins(args)
        try:
            return super().parse_args(ctx, args)
        except click.exceptions.NoSuchOption as error:
            why = _late_option(ctx, error.option_name)
            if why is None:
                raise
            raise LateOptionError(error.option_name, f"{error.message}\n{why}",
                                  ctx=error.ctx) from None

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        extra = _plugin_params(ctx)
        return params[:-1] + extra + params[-1:] if extra else params


def _late_option(ctx: click.Context, name: str) -> str | None:
    """Why ``name`` is no option when a task file's plugin registers it (it loads
    after parsing): the task file's plugins are loaded for this error alone, and
    anything that keeps them from loading leaves the error as click said it."""
    from mogrun.cli.loading import checked_host, late_option_note, optional_taskfile

    state = state_of(ctx)
    try:
        taskfile = optional_taskfile(state)
        if taskfile is None or not taskfile.plugins or state.no_plugins:
            return None
        host = checked_host(state, taskfile, ctx.meta.get("mogrun.extra_plugins", ()))[0]
        late = host.late_options()
    except MogrunError:
        return None
    found = [cand for spec, cand in late if f"--{spec.name}" == name]
    return late_option_note(state, found[0], [f'"{name}"']) if found else None


def _plugin_params(ctx: click.Context) -> list[click.Parameter]:
    if _PLUGIN_META in ctx.meta:
        return ctx.meta[_PLUGIN_META][0]
    from mogrun.cli.loading import plugin_host

    state = state_of(ctx)
    specs = _cli_options(state, plugin_host(state, ctx.meta.get("mogrun.extra_plugins", ())))
    params: list[click.Parameter] = []
    names: dict[str, str] = {}
    for spec in specs:
        dest = "plugin_opt_" + spec.name.replace("-", "_")
        if dest in names:  # mogrun's own names are refused when registered
            continue
        names[dest] = spec.name
        # is_flag only when it is one: click 8.5 reads an explicit is_flag=False
        # option's value "--" (`--junit=--`) as no value at all, silently.
        kind: dict[str, Any] = {"is_flag": True} if spec.flag else {"metavar": spec.metavar}
        if spec.metavar == "PATH":  # `--junit <TAB>`: a file name
            kind["shell_complete"] = complete_files
        params.append(click.Option([f"--{spec.name}", dest], help=spec.help or None, **kind))
    ctx.meta[_PLUGIN_META] = (params, names)
    return params


def _cli_options(state: CliState, host: Any) -> Any:
    """The plugins' options. They are asked before the task file is read: a
    crash is masked with the task file's ``env.*`` values only then (if it has one)."""
    from mogrun.cli.loading import optional_taskfile, taskfile_secrets
    from mogrun.errors import PluginError
    from mogrun.masking import mask

    try:
        return host.cli_options()
    except PluginError as exc:
        try:
            secrets = taskfile_secrets(state, optional_taskfile(state))
        except MogrunError:
            secrets = frozenset()
        raise exc.evolve(message=mask(exc.message, secrets)) from exc


F = TypeVar("F", bound=Callable[..., Any])


def run_options(f: F) -> F:
    """The options ``run`` and ``rerun`` share, declared once for both (``run``
    adds ``--rerun``; the plugins' options come with ``RunCommand``)."""
    for option in reversed((
        click.option("-j", "--jobs", "parallel", type=click.IntRange(min=1), default=4,
                     show_default=True, metavar="N", help="Runs at once (fan-out runs count)."),
        click.option("-n", "--dry-run", is_flag=True, help="Show what would be sent (= show); "
                     "no network."),
        click.option("--timeout", metavar="DURATION", help="Replace every job's timeout "
                     '("90s", "25m", "2h", or seconds: 60).'),
        click.option("--detach", is_flag=True,
                     help="Start (after needs pass), print run ids, exit 0."),
        click.option("--no-deps", is_flag=True, help="Ignore needs."),
        click.option("-k", "--keep-going", is_flag=True, help="Keep running independent jobs "
                     "after a failure."),
        click.option("-p", "--plugin", "plugins", multiple=True, metavar="NAME",
                     shell_complete=complete_files,
                     help="Load an extra plugin (module name or .py path)."),
        click.option("--shard", metavar="I/N", help="Run the I-th of N slices of the runs, "
                     "with 1/N of every per-token limit (N CI legs of one token)."),
    )):
        f = option(f)
    return f


def session_options(state: CliState, *, parallel: int, keep_going: bool, detach: bool,
                    no_deps: bool) -> Any:
    """The ``SessionOptions`` of ``run``'s and ``rerun``'s options."""
    from mogrun.engine.session import SessionOptions, poll_override
    from mogrun.taskfile.limits import sandboxes_override

    return SessionOptions(
        max_parallel=parallel, keep_going=keep_going, detach=detach, use_needs=not no_deps,
        poll_interval=poll_override(state.env), sandboxes=sandboxes_override(state.env))


def parse_shard_option(value: str | None) -> Shard | None:
    if value is None:
        return None
    from mogrun.ci.shard import parse_shard

    return parse_shard(value)


def plugin_options(ctx: click.Context, plugin_values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the options plugins declared, by the plugins' names."""
    names = ctx.meta.get(_PLUGIN_META, ([], {}))[1]
    return {names[dest]: value for dest, value in plugin_values.items() if dest in names}


@click.command("run", cls=RunCommand, help=RUN_HELP)
@click.argument("jobs", nargs=-1, shell_complete=complete_jobs)
@run_options
@click.option("--rerun", is_flag=True, help="New runs even where a key was used before.")
@click.pass_context
def run_command(ctx: click.Context, jobs: tuple[str, ...], parallel: int, dry_run: bool,
                timeout: str | None, detach: bool, no_deps: bool, rerun: bool,
                keep_going: bool, plugins: tuple[str, ...], shard: str | None,
                **plugin_values: Any) -> int:
    state: CliState = ctx.obj
    if not jobs:
        raise UsageError("run needs at least one job name", context=["See: mogrun list"])
    refuse_command_words(ctx, state, jobs)
    timeout_override = parse_timeout(timeout)
    slice_ = parse_shard_option(shard)
    if dry_run:
        from mogrun.cli.taskfile_views import show_jobs

        return show_jobs(state, jobs, no_deps=no_deps, timeout_override=timeout_override,
                         rerun=rerun, extra_plugins=plugins, shard=slice_,
                         options=plugin_options(ctx, plugin_values))
    return execute(state, jobs, session_options(state, parallel=parallel,
                                                keep_going=keep_going, detach=detach,
                                                no_deps=no_deps),
                   plugins=plugins, options=plugin_options(ctx, plugin_values),
                   timeout_override=timeout_override, rerun=rerun, shard=slice_)


def refuse_command_words(ctx: click.Context, state: CliState, jobs: Sequence[str]) -> None:
    """``mogrun -n show hello``: a command word after run's options is taken for a job
    (the options made the line a run). One that names no job is refused as unknown,
    as any, and the line the user most likely meant is said: the command first
    (not after ``--``, which makes every word a job's name)."""
    from mogrun.cli.commands import COMMANDS
    from mogrun.cli.main import words_after_dashes

    word = next((name for name in jobs if name in COMMANDS), None)
    if word is None or words_after_dashes(ctx):
        return
    from mogrun.cli.loading import load_taskfile
    from mogrun.taskfile.graph import jobs_line

    try:
        taskfile = load_taskfile(state)
    except MogrunError:
        return  # the run's own loading says what is wrong with the task file
    if word in taskfile.jobs:
        return
    line = " ".join([command_prefix(state), word, *_meant_after(ctx, word, jobs)])
    raise UsageError(f'unknown job "{word}" in {taskfile.path.name}', context=[
        f'"{word}" is a command, which comes first, before any option of run: did you '
        f'mean "{line}"?', jobs_line(taskfile)])


def _meant_after(ctx: click.Context, word: str, jobs: Sequence[str]) -> list[str]:
    """What the line meant after the command ``word``: for ``run`` every other word
    typed, in order (``mogrun -n run f`` is ``mogrun run -n f``: the options said,
    never dropped to make a dry run a real one); for another command the words after
    it (run's options mean nothing there)."""
    from mogrun.cli.main import typed_words
    from mogrun.textsafety import shell_word

    typed = typed_words(ctx)
    if word == "run" and word in typed:
        at = len(typed) - 1 - typed[::-1].index(word)  # the one taken for a job
        rest = [*typed[:at], *typed[at + 1:]]
        if rest[:1] == ["run"]:  # `mogrun run lint run`: the command typed already
            rest = rest[1:]
        return [shell_word(w) for w in rest]
    return [shell_word(w) for w in jobs[jobs.index(word) + 1:]]


def parse_timeout(value: str | None) -> float | None:
    if value is None:
        return None
    from mogrun.durations import LONGEST_TIMEOUT, NotPositive, parse_duration

    try:
        return parse_duration(value.strip(), longest=LONGEST_TIMEOUT, positive=True)
    except NotPositive as exc:
        raise UsageError(f"--timeout {exc}, got {value!r}") from exc
    except ValueError as exc:
        raise UsageError(f"--timeout: {exc}") from exc


def execute(state: CliState, names: Sequence[str], session_options: Any, *,
            plugins: Sequence[str] = (), options: Mapping[str, Any] | None = None,
            timeout_override: float | None = None, rerun: bool = False,
            shard: Shard | None = None, select: Select | None = None) -> int:
    """Load, connect, open history and the reporter, run the session.

    ``select`` (``rerun``) picks, with the history, the runs to start and the
    attempt each starts at."""
    import threading
    import time

    from mogrun.cli.connect import connect, stderr_line
    from mogrun.cli.loading import load_session, this_leg
    from mogrun.collecting import collecting_less
    from mogrun.engine.session import SessionPorts, run_session
    from mogrun.engine.signals import InterruptibleSleep

    loaded = load_session(state, command="run", names=names,
                          with_needs=session_options.use_needs, extra_plugins=plugins,
                          options=options or {}, timeout_override=timeout_override, rerun=rerun)
    if shard is not None:
        loaded = this_leg(state, loaded, shard)
        if not loaded.jobs:  # no request to make, but the outputs a step reads, all the same
            return no_runs(state)
    stop = threading.Event()
    sleeper = InterruptibleSleep(stop, time.sleep)  # budget waits end at the first signal
    reporter: Any = None

    def trace(line: str) -> None:
        """A ``-v`` line through the reporter (the live view keeps it off its area)."""
        if reporter is None:
            stderr_line(state, line)
        else:
            reporter.trace(line)

    connection = connect(state, taskfile=loaded.taskfile, host=loaded.host,
                         budget_settings=loaded.taskfile.settings, sleep=sleeper,
                         shards=shard.count if shard else 1, show_waits=False, trace=trace)
    reporter = _session_reporter(state, loaded.taskfile.project_dir)
    history = None
    try:
        for warning in loaded.host.warnings:
            reporter.notice(warning, level="warning")
        loaded.host.on_warning = lambda message: reporter.notice(message, level="warning")
        history = open_history(state, loaded.taskfile, reporter)
        if history is not None:
            history.shard = "" if shard is None else str(shard)  # latest: every leg's
            # A leg's or a rerun's one run of a fan-out is still labelled job:owner/name.
            history.fan_outs = frozenset(job.name for job in loaded.jobs if job.fan_out)
        jobs, attempts = (loaded.jobs, None) if select is None else _selected(
            state, select, loaded.jobs, history, connection.client)
        if select is not None and not select.starts(jobs):
            click.echo(select.nothing_left(None if shard is None else f"shard {shard}"),
                       err=True)
            # Held back behind a run still going: what did not pass has not passed
            # (`mogrun rerun && deploy` must not go ahead), as `run` says of a skip.
            return _summary_of_none(reporter, 1 if select.held else 0)
        held_back = () if select is None else select.held_back
        held = {job.name: why for job, why in held_back}
        if held:  # in graph order with the rest, recorded as not started
            order = {job.name: at for at, job in enumerate(loaded.jobs)}
            jobs = sorted([*jobs, *(job for job, _ in held_back)],
                          key=lambda job: order[job.name])
        ports = SessionPorts(client=connection.client, hooks=loaded.host, reporter=reporter,
                             history=history, stop=stop, sleeper=sleeper)
        with collecting_less(), state.plugin_prints_above(reporter):
            return run_session(jobs, ports, config=loaded.config, options=session_options,
                               attempts=attempts, held=held,
                               going={} if select is None else select.going,
                               command=command_prefix(state),
                               rerun_command=rerun_command(
                                   state, plugins, options, shard=shard,
                                   no_deps=not session_options.use_needs),
                               # where the runs are not recorded, rerun would not find them
                               unrecorded_command=rerun_command(
                                   state, plugins, options, "run --rerun", shard,
                                   not session_options.use_needs))
    finally:
        reporter.close()
        if history is not None:
            history.close()
        if getattr(reporter, "summarized", False):
            state.github_failures = None  # its summary said how the session ended


def _selected(state: CliState, select: Any, jobs: Any, history: Any, client: Any) -> Any:
    """``rerun``'s ``select``: it reads the runs left going before the session shows
    any wait, so each wait of those reads (a 503's retry, a slow retry policy) is
    said on stderr, as ``status`` says its own, not left as a silent terminal."""
    from mogrun.engine.slowhooks import said_when_slow

    unsubscribe = client.waits.subscribe(state.say_wait)
    try:
        with said_when_slow(state.say_wait, "mogrun_retry_delay"):
            return select(jobs, history, client)
    finally:
        unsubscribe()


def no_runs(state: CliState, exit_code: int = 0) -> int:
    """An invocation that starts no run (a shard leg a hand-written matrix left
    empty, a rerun with nothing to rerun): no connection (no token needed), and
    the summary every session gives (``--json``'s line, ``$GITHUB_OUTPUT``'s
    exit code, the step summary) for the steps that read it."""
    reporter = new_reporter(state)
    try:
        _summary_of_none(reporter, exit_code)
    finally:
        reporter.close()
    if getattr(reporter, "summarized", False):
        state.github_failures = None  # its summary said how the invocation ended
    return exit_code


def _summary_of_none(reporter: Any, exit_code: int) -> int:
    """A session of no run, summarized: ``exit code N``, ``--json``'s summary line,
    GitHub's step outputs and summary."""
    reporter.session_started(())
    reporter.summary((), exit_code)
    return exit_code


def _session_reporter(state: CliState, project_dir: Any) -> Any:
    """The invocation's reporter; under ``--local`` it also keeps the runs' events
    (the emulator's runs end with it; ``mogrun --local logs`` reads them later)."""
    reporter = new_reporter(state)
    if not state.local:
        return reporter
    from mogrun.cli.local_events import recording

    return recording(reporter, project_dir)


def rerun_command(state: CliState, plugins: Sequence[str] = (),
                  options: Mapping[str, Any] | None = None, verb: str = "rerun",
                  shard: Shard | None = None, no_deps: bool = False) -> str:
    """``mogrun [-f FILE] [--url URL | --local] [--set N=V]... [--no-plugins] rerun
    [--no-deps] [--shard I/N] [-p NAME]... [--PLUGIN-OPTION V]...``: how this
    invocation's failures are retried, with every option that shaped its
    requests (a rerun without the --set, or the plugin that rewrote the prompt,
    would send other prompts; without the --url it would read another API's
    history; without the --shard, a leg's rerun would take the whole token's
    limits while the other legs run; without the --no-deps, a rerun of a job
    would rerun its needs first). ``verb``: ``run --rerun`` where the runs are
    not recorded (``rerun`` finds what to retry in the history)."""
    from mogrun.textsafety import shell_word

    parts = [command_prefix(state)]
    for name, value in state.sets.items():
        parts += ["--set", shell_word(f"{name}={value}")]
    if state.no_plugins:
        parts.append("--no-plugins")
    parts += verb.split()
    if no_deps:
        parts.append("--no-deps")
    if shard is not None:
        parts += ["--shard", str(shard)]
    for name in plugins:
        parts += ["-p", shell_word(name)]
    for name, value in (options or {}).items():
        if value is True:
            parts.append(f"--{name}")
        elif value is not None and value is not False:
            parts += [f"--{name}", shell_word(str(value))]
    return " ".join(parts)


def command_prefix(state: CliState) -> str:
    """``mogrun [-f FILE] [--local | --url URL]``: how every command this invocation
    suggests (rerun, logs --follow, status, cancel) finds the same task file,
    history and API; without the ``-f`` a folder with no mogplex.toml fails it."""
    from mogrun.textsafety import shell_word

    parts = ["mogrun"]
    if state.file:
        parts += ["-f", shell_word(str(state.file))]
    if state.local:
        parts.append("--local")
    elif state.url:
        parts += ["--url", shell_word(state.url)]
    return " ".join(parts)


def new_reporter(state: CliState) -> Any:
    from mogrun.output.base import make_reporter

    return make_reporter(stdout=state.stdout, stderr=state.stderr, json=state.json_output,
                         quiet=state.quiet, color=not state.no_color,
                         env=state.env, command=command_prefix(state))


def open_history(state: CliState, taskfile: Any, reporter: Any) -> Any:
    """The project's history; when it cannot be written (a read-only checkout) the runs
    still happen, with a warning, rather than not at all."""
    from mogrun.cli.loading import project_history
    from mogrun.errors import MogrunError

    try:
        return project_history(state, taskfile)
    except MogrunError as exc:
        reporter.notice(f"{exc.message}; runs will not be recorded", level="warning")
        return None
