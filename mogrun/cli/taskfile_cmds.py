"""PLACEHOLDER: replaced by the real commands."""

import rich_click as click

from mogrun.errors import MogrunError


@click.command("list", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def list_command(args: tuple[str, ...]) -> int:
    """Not built yet."""
    raise MogrunError("`list` is not built yet")


@click.command("check", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def check_command(args: tuple[str, ...]) -> int:
    """Not built yet."""
    raise MogrunError("`check` is not built yet")


@click.command("show", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def show_command(args: tuple[str, ...]) -> int:
    """Not built yet."""
    raise MogrunError("`show` is not built yet")

