"""PLACEHOLDER: replaced by the real commands."""

import rich_click as click

from mogrun.errors import MogrunError


@click.command("init", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def init_command(args: tuple[str, ...]) -> int:
    """Not built yet."""
    raise MogrunError("`init` is not built yet")


@click.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def add_command(args: tuple[str, ...]) -> int:
    """Not built yet."""
    raise MogrunError("`add` is not built yet")

