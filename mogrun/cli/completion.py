"""Shell completion: ``mogrun completion SHELL`` prints the script; job names
come from the task file, quietly (a broken or missing file completes nothing
rather than printing an error into the shell)."""

from __future__ import annotations

from typing import Any

from mogrun.errors import MogrunError


def job_names(ctx: Any) -> list[str]:
    """The task file's job names, honouring a ``-f`` already on the command line
    (none when it cannot be read)."""
    try:
        return line_job_names(ctx)
    except (MogrunError, OSError):
        return []


def line_job_names(ctx: Any) -> list[str]:
    """``job_names``, raising what keeps the task file from being read."""
    from mogrun.cli.loading import load_taskfile
    from mogrun.cli.state import line_state

    return load_taskfile(line_state(ctx)).job_names  # the shell's line: its -f


def complete_jobs(ctx: Any, param: Any, incomplete: str) -> list[str]:
    """A click ``shell_complete`` callback for job-name arguments (``run``, ``show``)."""
    return [name for name in job_names(ctx) if name.startswith(incomplete)]


def complete_files(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    """A click ``shell_complete`` callback for options that take a path (``-f``,
    ``-o``, ``--prompt-file``, a plugin's ``.py``, a plugin option whose metavar is
    ``PATH``): the shell's own file names, as ``make -f`` completes them."""
    from click.shell_completion import CompletionItem

    return [CompletionItem(incomplete, type="file")]


def complete_from_process(cli: Any, env: Any, cwd: str, stdout: Any, stderr: Any) -> int:
    """Answer the shell's completion request (``_MOGRUN_COMPLETE`` set by the
    script ``mogrun completion SHELL`` prints); called by ``main`` only."""
    from click import ClickException
    from click.exceptions import Exit
    from click.shell_completion import shell_complete

    from mogrun.cli.state import CliState
    from mogrun.errors import MogrunError

    state = CliState(env=dict(env), workdir=cwd, stdout=stdout, stderr=stderr)
    try:
        return shell_complete(cli, {"obj": state}, "mogrun", "_MOGRUN_COMPLETE",
                              env["_MOGRUN_COMPLETE"])
    except (MogrunError, ClickException, Exit):  # `mogrun sho <TAB>`: no completions,
        return 1  # never a traceback on the line


SHELLS = ("bash", "zsh", "fish")


def completion_script(cli: Any, shell: str) -> str:
    """The script that makes ``shell`` complete ``mogrun`` (click's, for our
    ``_MOGRUN_COMPLETE`` variable)."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None, shell
    return cls(cli, {}, "mogrun", "_MOGRUN_COMPLETE").source()
