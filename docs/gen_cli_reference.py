"""Generate docs/cli.md from the click commands, so the reference cannot drift.

    python docs/gen_cli_reference.py          # rewrite docs/cli.md
    python docs/gen_cli_reference.py --check  # exit 1 if docs/cli.md is stale

tests/test_cli_reference.py runs the check in CI.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
from pathlib import Path

import click
from rich.markup import render as render_markup

from mogrun.cli.main import COMMANDS, cli, global_options_honoured

TARGET = Path(__file__).with_name("cli.md")
SUMMARIES = Path(__file__).resolve().parent.parent / "mogrun" / "cli" / "summaries.py"


def _context(command: click.Command, path: str) -> click.Context:
    """A context as a user's invocation builds it: sub-commands under the root
    (and a group's under the group), so they inherit its settings (e.g. ``-h``
    as a help option)."""
    ctx = cli.make_context("mogrun", [], resilient_parsing=True)
    for name in path.split()[1:]:
        group = ctx.command
        assert isinstance(group, click.Group), path
        sub = group.get_command(ctx, name)
        assert sub is not None, path
        ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
    assert ctx.command is command, path
    return ctx


def _usage(command: click.Command, path: str) -> str:
    ctx = _context(command, path)
    pieces = " ".join(command.collect_usage_pieces(ctx))
    return f"{ctx.command_path} {pieces}".rstrip()


def _options(command: click.Command, path: str) -> list[str]:
    ctx = _context(command, path)
    rows = []
    for param in command.get_params(ctx):
        if isinstance(param, click.Argument):  # no help of its own: the text above says it
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        # Option help is plain text but for rich-click's "\\[" escape.
        escaped = help_text.replace("\\[", "[").replace("|", "\\|")
        cell = names.replace("|", "\\|")
        rows.append(f"| `{cell}` | {escaped} |")
    if not rows:
        return []
    return ["| option | meaning |", "| --- | --- |", *rows, ""]


def _plain(text: str | None) -> str:
    text = inspect.cleandoc(text or "").replace("\b\n", "")
    return render_markup(text).plain  # rich-click markup, shown as plain text


def _globals(command: click.Command, path: str) -> list[str]:
    """The global options the command honours (they may stand anywhere on the line)."""
    if command is cli:
        return []
    root = _context(cli, "mogrun")
    # A group's sub-command honours what its group does (``ci github`` as ``ci``).
    names = [f"`{p.opts[-1]}`" for p in global_options_honoured(path.split()[1], root)]
    return [f"Global options it honours: {', '.join(names) or 'none'}.", ""]


def _section(command: click.Command, path: str, level: str) -> list[str]:
    epilog = _plain(command.epilog)
    return [
        f"{level} `{path}`",
        "",
        "```text",
        "$ " + _usage(command, path),
        "",
        _plain(command.help),
        *(["", epilog] if epilog else []),
        "```",
        "",
        *_options(command, path),
        *_globals(command, path),
    ]


def render() -> str:
    """The whole reference as Markdown."""
    lines = [
        "# Command reference",
        "",
        "Generated from the code by `python docs/gen_cli_reference.py`; do not edit.",
        "",
        "Global options (`-f`, `--url`, `--local`, `--set`, `--json`, `-q`, `-v`,",
        "`--no-color`, `--no-plugins`) may stand anywhere on the line: `mogrun run",
        "--local lint`, `mogrun lint --local -q` and `mogrun status --json` all work. A",
        "command's own option wins a spelling both have (`logs -f` is `--follow`);",
        "nothing after `--` moves. `mogrun JOB...` is short for `mogrun run JOB...`.",
        "",
    ]
    lines += _section(cli, "mogrun", "##")
    ctx = click.Context(cli, info_name="mogrun")
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None, name
        lines += _section(command, f"mogrun {name}", "##")
        lines += _subcommands(command, f"mogrun {name}")
    return "\n".join(lines).rstrip() + "\n"


def _subcommands(command: click.Command, path: str) -> list[str]:
    """A group's sub-commands (``mogrun ci github``), each in a section under it."""
    if not isinstance(command, click.Group):
        return []
    ctx = _context(command, path)
    lines: list[str] = []
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is None or sub.hidden:
            continue
        lines += _section(sub, f"{path} {name}", "###")
        lines += _subcommands(sub, f"{path} {name}")
    return lines


def render_summaries() -> str:
    """mogrun/cli/summaries.py: what the root help lists for each command, so
    ``mogrun --help`` need not import every command module."""
    ctx = click.Context(cli, info_name="mogrun")
    rows = []
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        text = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
        pieces = textwrap.wrap(" ".join(text.split()), 72, drop_whitespace=False,
                               break_on_hyphens=False) or [""]
        rows += [f"    {name!r}: (", *(f"        {piece!r}" for piece in pieces),
                 f"        , {command.hidden!r}, {command.deprecated!r}),"]
    return "\n".join([
        '"""What ``mogrun --help`` lists for each command (first paragraph of its help,',
        "hidden, deprecated), so the root help need not import every command module.",
        "",
        "Generated by ``python docs/gen_cli_reference.py`` from the commands; do not",
        'edit (tests/test_cli_reference.py fails when it is stale)."""',
        "",
        "SUMMARIES: dict[str, tuple[str, bool, bool | str]] = {",
        *rows,
        "}",
        "",
    ])


def main(argv: list[str]) -> int:
    outputs = {TARGET: render(), SUMMARIES: render_summaries()}
    if "--check" in argv:
        stale = [p.name for p, text in outputs.items() if p.read_text(encoding="utf-8") != text]
        if stale:
            print(f"{', '.join(stale)} stale: run python docs/gen_cli_reference.py")
            return 1
        return 0
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
