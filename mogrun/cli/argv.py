"""Reading the command line the way gh, just and task users type it, before
click parses it: run's options without the word ``run`` (``mogrun -k a b``), and
global options anywhere (``mogrun lint --local -q``, ``mogrun status --json``).

Both only move words (a cluster of short options may become two: ``logs -fv``
is ``-v logs -f``); click still parses and reports every error.
"""

from __future__ import annotations

from collections.abc import Iterable

import click


def option_table(params: Iterable[click.Parameter]) -> dict[str, bool]:
    """Each option spelling -> whether it takes a value."""
    return {name: not (param.is_flag or param.count)
            for param in params if isinstance(param, click.Option)
            for name in (*param.opts, *param.secondary_opts)}


# One word of an option: the word, and the option in it whose value is the next
# word ("" when none is: a flag, ``--file=x``, ``-fx``).
_Piece = tuple[str, str]


def _first_has(name: str, first: dict[str, bool], second: dict[str, bool]) -> bool:
    """Whether ``first`` takes the option ``name``: it wins a spelling both have
    (``logs -f`` is ``--follow``), and takes one neither has, so that click names it
    ("No such option") where it stood."""
    return name in first or name not in second


def _split_short(token: str, first: dict[str, bool], second: dict[str, bool]
                 ) -> dict[bool, _Piece]:
    """The short cluster ``token`` (``-kq``, ``-vfFILE``) split as click reads it,
    keyed by whether ``first`` takes the letters (``_first_has``): a letter taking a
    value ends the cluster, with the rest of the word, or else the next word, as
    its value."""
    letters, wants = {True: "", False: ""}, {True: "", False: ""}
    for at, letter in enumerate(token[1:], 2):
        name = "-" + letter
        mine = _first_has(name, first, second)
        letters[mine] += letter
        if (first if mine else second).get(name):
            letters[mine] += token[at:]
            wants[mine] = "" if token[at:] else name
            break
    return {side: ("-" + letters[side], wants[side]) for side in (True, False)
            if letters[side]}


def _sides(token: str, first: dict[str, bool], second: dict[str, bool]) -> dict[bool, _Piece]:
    """``token`` split between two option tables as ``_split_short`` splits a
    cluster (a word that is no option is ``first``'s)."""
    if not token.startswith("-") or token == "-":
        return {True: (token, "")}
    if token.startswith("--"):
        name = token.split("=", 1)[0]
        mine = _first_has(name, first, second)
        takes = (first if mine else second).get(name) and "=" not in token
        return {mine: (token, name if takes else "")}
    return _split_short(token, first, second)


def _width(token: str, table: dict[str, bool]) -> int:
    """How many words the option ``token`` spans in ``table`` (0: not all of it is
    ``table``'s)."""
    sides = _sides(token, {}, table)
    if True in sides or False not in sides:  # with no first table, True: unknown to it
        return 0
    return 2 if sides[False][1] else 1


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
                  command: dict[str, bool], *, resilient: bool = False) -> list[str]:
    """``args`` with the global options found after the command word (at
    ``start``) moved in front of it, a cluster's global letters too (``logs -fv``:
    ``-v``, then ``logs -f``). The command's own options win a spelling both have
    (``logs -f`` is ``--follow``); nothing after ``--`` moves. ``resilient`` (shell
    completion): a global option left without its value ends the line, so that the
    root completes its value as it does before the command."""
    kept: list[str] = [args[start]]
    hoisted: list[str] = []
    index = start + 1
    while index < len(args) and args[index] != "--":
        sides = _sides(args[index], command, group)
        index += 1
        for own, (word, wants) in sides.items():
            if wants and index == len(args) and not own:  # moved, it would take the command
                if resilient:
                    return [*args[:start], *hoisted, word]
                raise click.BadOptionUsage(wants, f"Option '{wants}' requires an argument.")
            words = [word, *args[index:index + 1]] if wants else [word]
            (kept if own else hoisted).extend(words)
            index += len(words) - 1
    return [*args[:start], *hoisted, *kept, *args[index:]]
