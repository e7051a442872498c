"""PLACEHOLDER: replaced by the real commands."""

import rich_click as click

from mogrun.errors import MogrunError


@click.command("repos", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def repos_command(args: tuple[str, ...]) -> int:
    """Not built yet."""
    raise MogrunError("`repos` is not built yet")

