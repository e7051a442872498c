"""The rerun line: how a user is told to start new attempts of what did not pass
(the summary's last line and every "start a fresh attempt with" hint say it the
same way). Its own light module: job kinds use it, and ``show`` loads them."""

from __future__ import annotations

from collections.abc import Sequence

RERUN = "mogrun rerun"  # the rerun command line when the caller gives none


def rerun_for(command: str, jobs: Sequence[str]) -> str:
    """``mogrun -f v7.toml rerun a b``: ``command`` (how this invocation is rerun,
    with its ``-f`` and ``--local``) and the jobs, quoted for a shell."""
    from mogrun.textsafety import shell_word

    return " ".join([command, *(shell_word(job) for job in jobs)])
