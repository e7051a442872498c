"""PLACEHOLDER: replaced by the real commands."""

import rich_click as click

from mogrun.errors import MogrunError


@click.command("status", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def status_command(args: tuple[str, ...]) -> int:
    """Not built yet."""
    raise MogrunError("`status` is not built yet")


@click.command("logs", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def logs_command(args: tuple[str, ...]) -> int:
    """Not built yet."""
    raise MogrunError("`logs` is not built yet")


@click.command("cancel", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def cancel_command(args: tuple[str, ...]) -> int:
    """Not built yet."""
    raise MogrunError("`cancel` is not built yet")


@click.command("history", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def history_command(args: tuple[str, ...]) -> int:
    """Not built yet."""
    raise MogrunError("`history` is not built yet")

