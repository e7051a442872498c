"""The `mogrun` command: global options, lazily loaded sub-commands, and the
single place where errors become output and exit codes.

Command modules are imported only when their command runs (or help lists
them), and must themselves import heavy things (urllib3, pluggy, rich, the
emulator) inside functions, so `mogrun list` and `mogrun --help` start fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from mogrun import __version__
from mogrun.cli import framework as click
from mogrun.cli.commands import COMMANDS
from mogrun.cli.completion import complete_files
from mogrun.cli.state import line_state, state_of

HELP = """Run Mogplex cloud agent jobs declared in mogplex.toml.

\b
[b]Examples[/b]
  [cyan]mogrun[/]                          list the jobs of the task file
  [cyan]mogrun weekly-cleanup[/]           start a job, follow it; exit 0 if it passed
  [cyan]mogrun --local weekly-cleanup[/]   the same against the embedded emulator
  [cyan]mogrun show codemod[/]             the exact start requests, no network
  [cyan]mogrun run -j 8 -k a b c[/]        three jobs, 8 runs at once, keep going
"""


# Global options (by parameter name) a command does not use; it honours the others.
# A command missing here honours them all.
IGNORED_GLOBALS: dict[str, frozenset[str]] = {
    name: frozenset(ignored.split()) for name, ignored in {
        "list": "url local sets quiet verbose no_color no_plugins",
        "check": "local quiet verbose no_color",
        "show": "quiet verbose no_color",
        "init": "url local sets json_output quiet verbose no_color no_plugins",
        "add": "url local sets json_output quiet verbose no_color",
        "ci": "url local sets json_output quiet verbose no_color",
        "history": "sets quiet verbose no_color no_plugins",
        "status": "sets quiet no_color no_plugins",
        "logs": "sets quiet no_color no_plugins",
        "cancel": "sets quiet no_color no_plugins",
        "repos": "sets quiet no_color no_plugins",
        "automations": "sets quiet no_color no_plugins",
        "plugins": "url local sets quiet verbose no_color",
        "emulator": "url local verbose no_color no_plugins",
        "completion": "url local sets json_output quiet verbose no_color no_plugins",
        "schema": "url local quiet verbose no_color",
    }.items()
}


def global_options_honoured(command: str, root: click.Context) -> list[click.Option]:
    """The root's options that ``command`` (a name of the root's commands) acts on
    (listed in its ``--help``)."""
    ignored = IGNORED_GLOBALS.get(command, frozenset()) | {"list_jobs"}
    return [param for param in root.command.get_params(root)
            if isinstance(param, click.Option) and param.name not in ignored
            and not param.is_eager and param.expose_value]


def command_of(ctx: click.Context) -> str:
    """The root's command that ``ctx`` is or runs under: a group's sub-command
    (``mogrun ci github``) honours the global options of its group (``ci``)."""
    while ctx.parent is not None and ctx.parent.parent is not None:
        ctx = ctx.parent
    return ctx.info_name or ""


# ctx.meta key: `run` was not typed but implied (`mogrun -k a`, `mogrun a`, or an
# option the root does not know); its value says whether the line names jobs.
_IMPLIED_RUN = "mogrun.implied_run"
_AFTER_DASHES = "mogrun.after_dashes"  # the group's options ended at `--`
_TYPED = "mogrun.typed"  # the words typed after the group's options (not a `run` put there)


def _names_jobs(words: list[str]) -> bool:
    """Whether the words given to an implied ``run`` name jobs: some word that is
    not an option, and none that is a command (``mogrun -C / list`` runs nothing)."""
    plain = [word for word in words if not word.startswith("-")]
    return bool(plain) and not any(word in COMMANDS for word in plain)


class MogrunGroup(click.Group):
    """Loads commands on demand; an unknown first word is a job name for `run`."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["[OPTIONS] COMMAND [ARGS]... | JOB..."]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        return getattr(module, entry[1])

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from mogrun.cli.argv import (
            command_index,
            hoist_globals,
            jobs_after_dashes,
            option_table,
            route_run_options,
        )

        group = option_table(self.get_params(ctx))
        ctx.meta[_AFTER_DASHES] = jobs_after_dashes(args, group)
        # `mogrun -k a b` and `mogrun --detach JOB` are short for `mogrun run ...` too.
        routed = route_run_options(args, group)
        if len(routed) > len(args):
            ctx.meta[_IMPLIED_RUN] = _names_jobs(args)
        args = routed
        index = command_index(args, group)
        if index is not None:  # global options anywhere: `mogrun lint --local -q`
            command = self.get_command(ctx, args[index]) or self.get_command(ctx, "run")
            assert command is not None
            own = option_table([*command.params, *filter(None, [command.get_help_option(ctx)])])
            args = hoist_globals(args, index, group, own, resilient=ctx.resilient_parsing)
        return super().parse_args(ctx, args)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, Any, list[str]]:
        # `mogrun JOB...` is short for `mogrun run JOB...`.
        state = state_of(ctx)
        # What was typed: not the `run` parse_args put there (`mogrun -k a`).
        # (A copy: click's parser empties the list it is handed for `run`.)
        ctx.meta.setdefault(_TYPED, args[1:] if _IMPLIED_RUN in ctx.meta else list(args))
        if args and args[0] == "help" and _no_job_named_help(ctx):  # `git help`, `gh help`
            if ctx.resilient_parsing:  # `mogrun help <TAB>`: the commands, no help printed
                return "help", _help_completion(), args[1:]
            words = [a for a in args[1:] if not a.startswith("-")]
            if words[:1] == ["help"]:  # `help help`, as git and gh answer it: the help
                words = []
            if words and words[0] in COMMANDS:  # `help ci github`: the group's own word
                state.command = words[0]
                return words[0], self.get_command(ctx, words[0]), [*words[1:2], "--help"]
            if words:  # `help stauts` showed the root's help and said nothing of it
                from mogrun.errors import UsageError

                meant = _meant_command(words[0])
                raise UsageError(f'no command "{words[0]}"', context=[
                    *([f'did you mean "{meant}"?'] if meant else []),
                    "Commands: " + ", ".join(COMMANDS)])
            click.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(0)
        if args and (args[0].startswith("-") or ctx.meta.get(_AFTER_DASHES)):
            # Options are parsed by now: these words came after `--` (`mogrun -- -q`,
            # `mogrun -- a -q`), so they are job names, as `make -- -q` takes them.
            state.github_failures = state.command = "run"
            ctx.meta[_IMPLIED_RUN] = True
            return "run", self.get_command(ctx, "run"), ["--", *args]
        if args and args[0] not in COMMANDS:
            state.github_failures = state.command = "run"
            _refuse_mistyped_command(ctx, args[0])
            ctx.meta[_IMPLIED_RUN] = True
            return "run", self.get_command(ctx, "run"), args
        state.command = args[0] if args else None
        state.github_failures = state.command if state.command in ("run", "rerun") else None
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoSuchOption as error:
            from mogrun.cli.run_cmd import LateOptionError

            if error.ctx is None or error.ctx.parent is not ctx:
                raise
            if _IMPLIED_RUN not in ctx.meta and isinstance(error, LateOptionError):
                raise  # says which plugin registers it, and how to load that one earlier
            if _IMPLIED_RUN not in ctx.meta:  # `mogrun run --locl`: globals stand anywhere
                raise click.exceptions.NoSuchOption(
                    error.option_name, ctx=error.ctx, possibilities=_meant(
                        error.option_name, [*self.get_params(ctx),
                                            *error.ctx.command.get_params(error.ctx)])
                ) from None
            raise self._no_such_option(ctx, error) from None

    def _no_such_option(self, ctx: click.Context,
                        error: click.exceptions.NoSuchOption) -> click.exceptions.NoSuchOption:
        """An option an implied ``run`` does not know is reported against ``mogrun``
        (the user typed no command), suggesting the root's options, and run's
        only when the line names jobs (``mogrun --jbos 2 a``)."""
        from mogrun.cli.run_cmd import LateOptionError

        if isinstance(error, LateOptionError):
            return LateOptionError(error.option_name, error.message, ctx=ctx)
        params = list(self.get_params(ctx))
        if ctx.meta[_IMPLIED_RUN] and error.ctx is not None:
            params += error.ctx.command.get_params(error.ctx)
        return click.exceptions.NoSuchOption(error.option_name, ctx=ctx,
                                             possibilities=_meant(error.option_name, params))

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        """Commands and options (click's), plus job names: `mogrun JOB` runs a job."""
        from click.shell_completion import CompletionItem

        from mogrun.cli.completion import job_names

        items = super().shell_complete(ctx, incomplete)
        if incomplete.startswith("-"):
            return items
        return items + [CompletionItem(name) for name in job_names(ctx)
                        if name.startswith(incomplete) and name not in COMMANDS]


def _meant(typed: str, params: list[click.Parameter]) -> list[str] | None:
    """``option_guess`` among the options of ``params``."""
    return option_guess(typed, [name for param in params if isinstance(param, click.Option)
                                for name in (*param.opts, *param.secondary_opts)])


def option_guess(typed: str, names: Iterable[str]) -> list[str] | None:
    """The one ``--long`` name of ``names`` a mistyped ``--long`` option most likely
    meant (none for a short one), judged as task-file keys are, without the dashes
    every one shares: with them, ``--set`` was offered for ``--tmeout``, and click
    offered ``--help`` beside ``--schedule`` for ``--schedul``."""
    from mogrun.taskfile.schema import closest

    if not typed.startswith("--"):
        return None
    found = closest(typed[2:], [name[2:] for name in names if name.startswith("--")])
    return None if found is None else [f"--{found}"]


def typed_words(ctx: click.Context) -> list[str]:
    """The words typed after the group's options (not a ``run`` put there)."""
    return list(ctx.find_root().meta.get(_TYPED) or ())


def words_after_dashes(ctx: click.Context) -> bool:
    """Whether the line's words came after ``--``, where none is a command."""
    return bool(ctx.meta.get(_AFTER_DASHES)) or "--" in (ctx.meta.get(_TYPED) or ())


def _help_completion() -> click.Command:
    """What ``mogrun help`` completes: a command's name, then a group's word (``ci
    github``), as ``mogrun`` completes them."""
    from click.shell_completion import CompletionItem

    def words(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        typed: list[str] = list(ctx.params.get("words") or ())
        root = ctx.find_root()
        group = (root.command.get_command(root, typed[0])
                 if len(typed) == 1 and isinstance(root.command, click.Group) else None)
        names = (list(COMMANDS) if not typed else
                 list(group.commands) if isinstance(group, click.Group) else [])
        return [CompletionItem(name) for name in names if name.startswith(incomplete)]

    return click.Command("help", params=[click.Argument(["words"], nargs=-1,
                                                        shell_complete=words)])


def _no_job_named_help(ctx: click.Context) -> bool:
    """``mogrun help`` is the help, unless the task file has a job of that name."""
    from mogrun.cli.completion import job_names

    return "help" not in job_names(ctx)


def _refuse_mistyped_command(ctx: click.Context, word: str) -> None:
    """``mogrun stauts``: a word close to a command and to no job of the task file
    is a mistyped command (exit 2), not a job ``run`` would call unknown."""
    hint = _meant_command(word)
    if hint is None:
        return
    from mogrun.cli.completion import line_job_names
    from mogrun.errors import (
        EmptyTaskFileError,
        MogrunError,
        NoTaskFileError,
        TaskFileError,
        UsageError,
    )
    from mogrun.taskfile.schema import closest

    try:
        jobs = line_job_names(ctx)
    except TaskFileError as exc:
        # A task file that does not read, or one named (-f, MOGRUN_FILE) that is not
        # there: said, not hidden. None found, or an empty one, has no job indeed.
        if not isinstance(exc, (NoTaskFileError, EmptyTaskFileError)):
            guess = f'(if "{word}" is no job: did you mean the command "{hint}"?)'
            raise exc.evolve(context=[*exc.context, guess]) from None  # not hidden behind
            # the guess alone ("logs" for a job named "long")
        jobs = []
    except (MogrunError, OSError):
        jobs = []
    if word in jobs:
        return
    job = closest(word, jobs)
    if job == hint:  # `mogrun lsit` beside a job named "list": either was meant, and
        # "did you mean list?" ran the command, the job being `mogrun run list`
        from mogrun.cli.run_cmd import command_prefix

        prefix = command_prefix(line_state(ctx))  # the line's -f/--local/--url, as run's
        raise UsageError(f'unknown command or job "{word}"', context=[
            f'did you mean the command "{prefix} {hint}", or the job "{hint}" '
            f'("{prefix} run {hint}": a job named like a command runs so)?'])
    # A job's typo is run's to say, but not a command in capitals (Caps Lock's
    # `LIST` was steered to the job "lint": an agent run, where list was meant).
    if job and word.casefold() != hint:
        return

    raise UsageError(f'unknown command or job "{word}"',
                     context=[f'did you mean "{hint}"?', "Commands: " + ", ".join(COMMANDS)])


# Words other tools' users type for a command (``ls`` read as "logs": as close to it;
# ``version``, as gh and docker take it, was "unknown job" with no hint).
_HABITS = {"ls": "list", "ps": "status", "version": "--version"}


def _meant_command(word: str) -> str | None:
    """The command ``word`` most likely meant: a shell habit's, else ``closest``'s
    (one it begins first: ``hist`` is history, which difflib took for "list")."""
    from mogrun.taskfile.schema import closest

    return _HABITS.get(word.casefold()) or closest(word, COMMANDS)


def _complete_job_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of job names (and commands) from the task file."""
    from mogrun.cli.completion import job_names

    return [n for n in [*COMMANDS, *job_names(ctx)] if n.startswith(incomplete)]


@click.command(
    cls=MogrunGroup,
    invoke_without_command=True,
    help=HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("-f", "--file", "file", metavar="PATH", shell_complete=complete_files,
              help="Task file (default: MOGRUN_FILE, "
              "else the first mogplex.toml here or above).")
@click.option("--url", metavar="URL", help="Mogplex base URL (default: MOGPLEX_URL, the task "
              "file's url, https://mogplex.com).")
@click.option("--local", is_flag=True, help="Start the API emulator in-process and use it.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help=r"Override a \[vars] entry (repeatable).")
@click.option("-l", "--list", "list_jobs", is_flag=True, help="List the jobs (as `mogrun list`).")
@click.option("--json", "json_output", is_flag=True, help="Machine-readable output on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Only the summary, errors and waits.")
@click.option("-v", "--verbose", is_flag=True, help="Trace HTTP requests (secrets masked).")
@click.option("--no-color", is_flag=True, help="No colour (also NO_COLOR).")
@click.option("--no-plugins", is_flag=True, help="Load no external plugins (bundled ones stay).")
@click.option("--version", is_flag=True, is_eager=True, expose_value=False,
              callback=lambda ctx, param, value: _show_version(ctx, value),
              help="Show the version and exit.")
@click.pass_context
def cli(ctx: click.Context, list_jobs: bool, **options: Any) -> None:
    ctx.obj = state_of(ctx).apply_options(options)
    if list_jobs and ctx.invoked_subcommand is not None:
        from mogrun.errors import UsageError

        raise UsageError(_list_refusal(ctx, ctx.invoked_subcommand))
    if ctx.invoked_subcommand is None:
        listing = MogrunGroup.get_command(cli, ctx, "list")
        assert listing is not None
        ctx.invoke(listing)


def _list_refusal(ctx: click.Context, command: str) -> str:
    """``--list`` beside a command, naming what was typed: ``mogrun -l a`` runs a job
    with a ``run`` no one typed (it said "got 'run'")."""
    typed = ctx.meta.get(_TYPED) or [command]
    if _IMPLIED_RUN not in ctx.meta:
        return f"--list lists the jobs; it takes no command (got {command!r})"
    return f"--list lists the jobs; it runs none (got {typed[0]!r})"


def _show_version(ctx: click.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        state_of(ctx).echo(f"mogrun {__version__}")
        ctx.exit()


def main(argv: list[str] | None = None) -> None:
    """The console entry point (kept here for ``mogrun.cli.main:main`` users)."""
    from mogrun.cli.app import main as app_main

    app_main(argv)


def run_cli(argv: list[str] | None = None) -> int:
    """This process's invocation, without exiting (see ``mogrun.cli.app``)."""
    from mogrun.cli.app import run_cli as app_run_cli

    return app_run_cli(argv)
