"""PLACEHOLDER: replaced by the real commands."""

import rich_click as click

from mogrun.errors import MogrunError


@click.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run_command(args: tuple[str, ...]) -> int:
    """Not built yet."""
    raise MogrunError("`run` is not built yet")

