"""``--help`` text, rendered by rich-click (imported here only, on the help path).

The commands are plain click objects (see ``framework``); for help each one in
the context chain gets a rich-click twin with the same parameters, so panels,
markup and colours are rich-click's while ``mogrun list`` never imports it. A
sub-command's help also lists the global options it honours, in their own panel.
"""

from __future__ import annotations

from typing import Any

import click

# What @click.rich_config would set for the root, without its eager `import rich`.
ROOT_NAME = "mogrun"


def render_help(command: click.Command, ctx: click.Context) -> str:
    """The help of ``command`` in ``ctx`` as rich-click renders it."""
    from mogrun.cli.state import state_of

    _seed_click_version()
    state = state_of(ctx)
    width = _width(state.env, state.stdout)
    chain = _chain(ctx)
    config = _help_config(chain[0], ctx)
    if state.no_color:  # NO_COLOR rich honours itself; --no-color is ours
        config["color_system"] = None
    rich_ctx = None
    for link in chain:
        twin = _twin(link.command, link, is_target=link is ctx)
        rich_ctx = _rich_context(twin, link, rich_ctx, width,
                                 config if link is chain[0] else None)
    assert rich_ctx is not None
    return rich_ctx.command.get_help(rich_ctx)


def _seed_click_version() -> None:
    """rich-click reads ``click.__version__``, which click answers through
    ``importlib.metadata`` (~20 ms of imports, a third of ``--help``). The
    installed distribution's folder name says the same for the price of a
    directory listing; without one, click's own answer is used. (os.path, not
    pathlib: nothing else on the help path imports pathlib.)"""
    import os

    if "__version__" in vars(click):
        return
    prefix, suffix = "click-", ".dist-info"
    site = os.path.dirname(os.path.dirname(os.path.realpath(click.__file__)))
    try:
        names = os.listdir(site)
    except OSError:
        return
    for name in names:
        version = name[len(prefix):-len(suffix)]
        if name.startswith(prefix) and name.endswith(suffix) and version[:1].isdecimal():
            click.__version__ = version  # type: ignore[attr-defined]
            return


def _chain(ctx: click.Context) -> list[click.Context]:
    links = []
    node: click.Context | None = ctx
    while node is not None:
        links.append(node)
        node = node.parent
    return links[::-1]


# The narrowest help is laid out at: below it rich-click cut option names to `--…`
# (at 30 columns `--ver…`, `--verbose` or `--version`; at 50 `add`'s
# `--idempoten…`), the one thing a reader of help looks for. A narrower terminal
# wraps the lines; the names stay whole.
HELP_LEAST = 64


def _width(env: Any, stream: Any = None) -> int | None:
    """The help's width: ``COLUMNS`` or the terminal's, never under ``HELP_LEAST``;
    ``None`` (rich's own: 80 where it cannot tell) for a stream that is no
    terminal, or one that says 0 columns (``docker exec -t`` before a resize)."""
    from mogrun.tables import screen_columns

    width = screen_columns(env, stream)
    return None if width is None else max(width, HELP_LEAST)


def _rich_context(twin: click.Command, link: click.Context, parent: Any,
                  width: int | None, config: dict[str, Any] | None) -> Any:
    from rich_click import RichContext

    return RichContext(twin, info_name=link.info_name, parent=parent, terminal_width=width,
                       max_content_width=width, rich_help_config=config,
                       help_option_names=["-h", "--help"])


def _help_config(root: click.Context, target: click.Context) -> dict[str, Any]:
    """The root's command panels; for a sub-command, its own options first and
    then the global options it honours."""
    from mogrun.cli.main import COMMANDS, command_of, global_options_honoured

    panels: dict[str, list[str]] = {}
    for name, (_, _, panel) in COMMANDS.items():
        panels.setdefault(panel, []).append(name)
    option_groups = {}
    if target is not root:
        own = [_longest(p) for p in target.command.get_params(target)
               if isinstance(p, click.Option)]
        honoured = global_options_honoured(command_of(target), root)
        option_groups[target.command_path] = [
            {"name": "Options", "options": own},
            {"name": "Global options", "options": [_longest(p) for p in honoured]}]
    return {"command_groups": {ROOT_NAME: [{"name": panel, "commands": names}
                                           for panel, names in panels.items()]},
            "option_groups": option_groups, "text_markup": "rich",
            # Not "Options": that title is rich-click's catch-all and would take every option.
            "options_panel_title": "Other options" if option_groups else "Options"}


def _summary(group: click.Group, link: click.Context, name: str) -> click.Command | None:
    """A command as the root help lists it: from ``summaries.py`` (no import of
    its module) when the root is the help shown, else the command itself."""
    from mogrun.cli.summaries import SUMMARIES

    entry = SUMMARIES.get(name) if link.parent is None else None
    if entry is None:
        return group.get_command(link, name)
    text, hidden, deprecated = entry
    return click.Command(name, help=text, hidden=hidden, deprecated=deprecated)


def _honoured(own: list[click.Parameter], link: click.Context) -> list[click.Parameter]:
    """The global options the command honours, without a spelling of its own
    (``logs -f`` is ``--follow``: the global shows as ``--file`` alone)."""
    import copy

    from mogrun.cli.main import command_of, global_options_honoured

    taken = {name for p in own for name in (*p.opts, *getattr(p, "secondary_opts", ()))}
    shown: list[click.Parameter] = []
    for option in global_options_honoured(command_of(link), link.find_root()):
        names = [name for name in option.opts if name not in taken]
        if names:
            twin = copy.copy(option)
            twin.opts = names
            shown.append(twin)
    return shown


def _longest(option: click.Parameter) -> str:
    return max(option.opts, key=len)


def _twin(command: click.Command, link: click.Context, *, is_target: bool) -> click.Command:
    """A rich-click command with ``command``'s parameters, help and usage."""
    from rich_click import RichCommand, RichGroup

    own_help = command.get_help_option(link)
    params = [p for p in command.get_params(link) if p is not own_help]
    if is_target and link.parent is not None:
        params += _honoured(params, link)
    base: type[click.Command] = RichGroup if isinstance(command, click.Group) else RichCommand
    methods: dict[str, Any] = {
        "collect_usage_pieces": lambda self, ctx: command.collect_usage_pieces(link)}
    if isinstance(command, click.Group):
        methods["list_commands"] = lambda self, ctx: command.list_commands(link)
        methods["get_command"] = lambda self, ctx, name: _summary(command, link, name)
    methods["format_help_text"] = lambda self, ctx, formatter: _write_help_text(
        command.help, formatter)
    cls = type("HelpTwin", (base,), methods)
    return cls(name=command.name, params=params, help=command.help,
               epilog=_epilog(command.epilog), short_help=command.short_help,
               options_metavar=command.options_metavar, hidden=command.hidden,
               deprecated=command.deprecated)


def _epilog(text: str | None) -> Any:
    """``text`` as rich-click shows an epilog, but with click's paragraphs
    (``_paragraphs``): rich-click joins every line of an epilog, which ran an install
    command per shell, or the list of exit codes, into one paragraph. A rich
    ``Text``, which rich-click prints as it is."""
    if not text:
        return text
    from rich.text import Text

    return Text(_paragraphs(text))


def _write_help_text(text: str | None, formatter: Any) -> None:
    """The help text as rich-click writes it (its first line, then the rest in the
    help text's style, rich markup read), but with click's paragraphs: rich-click
    dedents all that follows the first paragraph, so an Examples block lost its
    indent whenever nothing unindented came after it (root help, ``add``)."""
    if not text:
        return
    import inspect

    from rich.align import Align
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    config = formatter.config
    first, _, rest = inspect.cleandoc(text).partition("\n\n")
    parts: list[Any] = [Padding(formatter.rich_text(" ".join(first.split()),
                                                    config.style_helptext_first_line),
                                config.padding_helptext_first_line,
                                style=config.style_padding_helptext)]
    if rest:  # after a blank line, as click's own help has it
        parts.append(formatter.highlighter(Text.from_markup("\n" + _paragraphs(rest),
                                                            style=config.style_helptext)))
    formatter.write(Padding(Align(Group(*parts), pad=False), config.padding_helptext,
                            style=config.style_padding_helptext))


def _paragraphs(text: str) -> str:
    """click's paragraphs: a ``\\b`` one keeps its lines and their indent, any other is
    one line (the terminal wraps it), with a blank line between them."""
    import inspect

    paragraphs = []
    for block in inspect.cleandoc(text).split("\n\n"):
        kept = block.startswith("\b\n")
        paragraphs.append(block[2:] if kept else " ".join(block.split()))
    return "\n\n".join(paragraphs)
