"""The click every command is written with: plain click (cheap to import), with
commands whose ``--help`` is printed on the invocation's own stdout and
rendered by rich-click only when help is actually shown.

Command modules ``from mogrun.cli import framework as click`` and use it as
they would use click. Importing rich-click costs ~16 ms that ``mogrun list``
never needs; ``mogrun.cli.helptext`` pays it on the help path alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from click import (
    Abort,
    Argument,
    Choice,
    ClickException,
    Context,
    FloatRange,
    Option,
    Parameter,
    argument,
    exceptions,
    get_current_context,
    option,
    pass_context,
    pass_obj,
)
from click import Command as _ClickCommand
from click import Group as _ClickGroup
from click import IntRange as _ClickIntRange
from click import command as _click_command
from click import echo as _click_echo

__all__ = [
    "Abort", "Argument", "Choice", "ClickException", "Command", "Context", "FloatRange",
    "Group", "IntRange", "Option", "Parameter", "argument", "command", "echo", "exceptions",
    "option", "pass_context", "pass_obj",
]


class IntRange(_ClickIntRange):
    """click's ``IntRange``, reading a number as a script means one: ASCII digits.
    ``int()`` also takes ``-j ٣`` (an Arabic-Indic three) and ``-j 1_000``, which
    ``--timeout`` and ``--shard`` refuse; one rule for every number typed."""

    def convert(self, value: Any, param: Parameter | None, ctx: Context | None) -> Any:
        if isinstance(value, str):
            digits = value.strip().removeprefix("-").removeprefix("+")
            if not (digits.isascii() and digits.isdigit()):
                self.fail(f"{value!r} is not a valid integer.", param, ctx)
        return super().convert(value, param, ctx)


def echo(message: Any = None, file: Any = None, nl: bool = True, err: bool = False,
         color: bool | None = None) -> None:
    """``click.echo`` onto the streams of the invocation being run (the app's,
    found through click's context), not the process's ``sys.stdout``: through
    ``CliState.echo``, so a reader that left is treated as everywhere else."""
    if file is None:
        ctx = get_current_context(silent=True)
        if ctx is not None:
            from mogrun.cli.state import state_of

            state = state_of(ctx)
            if color is None and (message is None or isinstance(message, str)):
                state.echo(message or "", err=err, nl=nl)
                return
            file = state.stderr if err else state.stdout
    _click_echo(message, file=file, nl=nl, err=err, color=color)


def _show_help(ctx: Context, param: Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from mogrun.cli.state import state_of

    state_of(ctx).echo(ctx.get_help().rstrip("\n"))
    ctx.exit()


class Command(_ClickCommand):
    """A click command printing help through the invocation's streams (rich-click
    renders it, imported only now)."""

    def get_help_option(self, ctx: Context) -> Option | None:
        names = self.get_help_option_names(ctx)
        if not names or not self.add_help_option:
            return None
        if self._help_option is None:
            self._help_option = Option(names, is_flag=True, is_eager=True, expose_value=False,
                                       callback=_show_help, help="Show this message and exit.")
        return self._help_option

    def get_help(self, ctx: Context) -> str:
        from mogrun.cli.helptext import render_help

        return render_help(self, ctx)

    def shell_complete(self, ctx: Context, incomplete: str) -> list[Any]:
        """Its own completions, and after a command the global options it honours:
        they may stand anywhere on the line (``mogrun status --json``)."""
        results = super().shell_complete(ctx, incomplete)
        if ctx.parent is None or not incomplete.startswith("-"):
            return results
        from click.shell_completion import CompletionItem

        from mogrun.cli.main import command_of, global_options_honoured

        given = {item.value for item in results}
        for param in global_options_honoured(command_of(ctx), ctx.find_root()):
            for name in (*param.opts, *param.secondary_opts):
                if name.startswith(incomplete) and name not in given:
                    given.add(name)
                    results.append(CompletionItem(name, help=param.help))
        return results


class Group(Command, _ClickGroup):
    """A click group with :class:`Command`'s help."""


def command(name: str | None = None, cls: type[_ClickCommand] | None = None,
            **attrs: Any) -> Callable[[Callable[..., Any]], Any]:
    """``click.command`` making a :class:`Command` unless told otherwise."""
    return _click_command(name, cls=cls or Command, **attrs)
