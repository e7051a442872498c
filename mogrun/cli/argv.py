"""Reading the command line the way gh, just and task users type it, before
click parses it: run's options without the word ``run`` (``mogrun -k a b``), and
global options anywhere (``mogrun lint --local -q``, ``mogrun status --json``).

Both only move words; click still parses and reports every error.
"""

from __future__ import annotations

from collections.abc import Iterable

import click


def option_table(params: Iterable[click.Parameter]) -> dict[str, bool]:
    """Each option spelling -> whether it takes a value."""
    return {name: not (param.is_flag or param.count)
            for param in params if isinstance(param, click.Option)
            for name in (*param.opts, *param.secondary_opts)}


def _width(token: str, table: dict[str, bool]) -> int:
    """How many words the option ``token`` spans in ``table`` (0: not one of them)."""
    name = token.split("=", 1)[0]
    if name in table:
        return 2 if table[name] and "=" not in token else 1
    if _is_short_cluster(token, table):
        return 1
    return 0


def _is_short_cluster(token: str, table: dict[str, bool]) -> bool:
    """``-qv``: several short flags of ``table``, or ``-fFILE``, in one word."""
    if token.startswith("--") or not token.startswith("-") or len(token) < 3:
        return False
    if table.get("-" + token[1]):
        return True  # -fmogplex.toml
    return all(table.get("-" + letter) is False for letter in token[1:])


def _group_options_end(args: list[str], group: dict[str, bool]) -> int:
    """Where the group's own options end in ``args``: at the first word, ``--``,
    option the group does not know, or the end."""
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--" or not token.startswith("-"):
            return index
        width = _width(token, group)
        if not width:
            return index
        index += width
    return index


def command_index(args: list[str], group: dict[str, bool]) -> int | None:
    """Where the command word (or first job name) is, after the group's options;
    ``None`` when an option the group does not know (or ``--``) comes first."""
    index = _group_options_end(args, group)
    return index if index < len(args) and not args[index].startswith("-") else None


def jobs_after_dashes(args: list[str], group: dict[str, bool]) -> bool:
    """The group's options end at ``--`` (``mogrun --local -- a -q``): every word
    after it is a job name, as ``make -- -q`` takes it."""
    index = _group_options_end(args, group)
    return index < len(args) and args[index] == "--"


def route_run_options(args: list[str], group: dict[str, bool]) -> list[str]:
    """``args`` with ``run`` inserted before the first option that is not one of
    the group's own (``-j 8``, ``--detach``, ``-k``...), so the shorthand
    ``mogrun [OPTIONS] JOB...`` takes run's options as ``mogrun run`` does."""
    index = _group_options_end(args, group)
    if index < len(args) and args[index].startswith("-") and args[index] != "--":
        return [*args[:index], "run", *args[index:]]
    return args


def hoist_globals(args: list[str], start: int, group: dict[str, bool],
                  command: dict[str, bool]) -> list[str]:
    """``args`` with the global options found after the command word (at
    ``start``) moved in front of it. The command's own options win a spelling
    both have (``logs -f`` is ``--follow``); nothing after ``--`` moves."""
    kept, hoisted = args[: start + 1], []
    index = start + 1
    while index < len(args):
        token = args[index]
        if token == "--":
            kept += args[index:]
            break
        own = _width(token, command) if token.startswith("-") else 0
        width = 0 if own or not token.startswith("-") else _width(token, group)
        if index + width > len(args):  # `list -f`: moved, it would take the word `list`
            raise click.BadOptionUsage(token, f"Option '{token}' requires an argument.")
        if width:
            hoisted += args[index:index + width]
            index += width
        else:
            kept += args[index:index + max(own, 1)]
            index += max(own, 1)
    return [*args[:start], *hoisted, *kept[start:]]
