"""``mogrun completion bash|zsh|fish``: print the shell's completion script."""

from __future__ import annotations

from mogrun.cli import framework as click
from mogrun.cli.completion import SHELLS
from mogrun.cli.state import CliState

INSTALL = """\b
Install (then open a new shell; a fresh account has no such folder yet):
  bash   d=~/.local/share/bash-completion/completions; mkdir -p $d
         mogrun completion bash > $d/mogrun
  zsh    mogrun completion zsh > "${fpath[1]}/_mogrun"
  fish   mkdir -p ~/.config/fish/completions
         mogrun completion fish > ~/.config/fish/completions/mogrun.fish
Or for this shell only:  source <(mogrun completion bash)
"""


@click.command("completion", epilog=INSTALL)
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion_command(ctx: click.Context, shell: str) -> int:
    """Print the completion script for SHELL: commands, options and the task
    file's job names (`mogrun <TAB>`, `mogrun show <TAB>`, `history --job <TAB>`)."""
    from mogrun.cli.completion import completion_script

    state: CliState = ctx.obj
    state.echo(completion_script(ctx.find_root().command, shell).rstrip("\n"))
    return 0
