"""``MogrunApp``: the whole CLI as an object of its inputs, and ``main``.

It takes the argument list, the environment, the working directory and the
streams, and returns an exit code (the shape of poethepoet's
``PoeThePoet(cwd, config, output, env)``). Only ``main`` (the console script)
reads the process's own and exits, so tests, ``mogrun.testing`` and embedders
run mogrun in-process without swapping ``os.environ``, the cwd or ``sys.stdout``.

Start-up: this module imports no click. The commonest line, listing the jobs
(``mogrun``, ``mogrun list``, ``-l``, with ``--json`` or ``-f FILE``), is
answered without it; everything else goes through the click group in
``mogrun.cli.main``.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from mogrun.cli.state import CliState
from mogrun.errors import MogrunError


@dataclass
class MogrunApp:
    """One configured CLI; call it with argv (without the program name)."""

    cwd: Path
    env: Mapping[str, str]
    stdout: TextIO
    stderr: TextIO
    stdin: TextIO = field(default_factory=io.StringIO)

    def __call__(self, argv: Sequence[str]) -> int:
        state = CliState(env=dict(self.env), cwd=Path(self.cwd), stdout=self.stdout,
                         stderr=self.stderr, stdin=self.stdin)
        args = [str(arg) for arg in argv]
        try:
            options = listing_options(args)
            if options is not None:
                return self._list(state, options)
            return self._invoke(state, args)
        finally:
            state.close()

    def _list(self, state: CliState, options: dict[str, object]) -> int:
        from mogrun.cli.listing import list_jobs

        try:
            return list_jobs(state.apply_options(options))
        except MogrunError as error:
            self._report(error)
            return error.exit_code

    def _invoke(self, state: CliState, argv: list[str]) -> int:
        import click

        from mogrun.cli.main import cli

        try:
            with cli.make_context("mogrun", argv, obj=state) as ctx:
                result = cli.invoke(ctx)
        except MogrunError as error:
            self._report(error)
            return error.exit_code
        except click.exceptions.Exit as done:
            return done.exit_code
        except click.ClickException as error:
            error.show(file=self.stderr)
            return 2 if error.exit_code == 1 else error.exit_code
        except click.Abort:
            self.stderr.write("Aborted.\n")
            return 130
        except KeyboardInterrupt:
            self.stderr.write("Interrupted.\n")
            return 130
        return result if isinstance(result, int) else 0

    def _report(self, error: MogrunError) -> None:
        from mogrun.textsafety import escape_agent_text

        # Messages quote task files and servers: nothing in them may act on the terminal.
        lines = [escape_agent_text(line) for line in error.lines()]
        self.stderr.write(f"Error: {lines[0]}\n")
        for line in lines[1:]:
            self.stderr.write(f"{line}\n")


# Flags of the root that a listing line may carry; anything else takes the full parser.
_LIST_FLAGS = {"--json": "json_output", "-q": "quiet", "--quiet": "quiet",
               "--no-color": "no_color", "--no-plugins": "no_plugins"}


def listing_options(args: list[str]) -> dict[str, object] | None:
    """The global options of a line that only lists the jobs (``mogrun``,
    ``mogrun list``, ``mogrun -l --json``, ``mogrun -f FILE list``), else ``None``."""
    options: dict[str, object] = {}
    listed = False
    index = 0
    while index < len(args):
        token = args[index]
        if token in ("list", "-l", "--list") and not listed:
            listed = True
        elif token in _LIST_FLAGS:
            options[_LIST_FLAGS[token]] = True
        elif token in ("-f", "--file") and index + 1 < len(args) and "file" not in options:
            index += 1
            options["file"] = args[index]
        elif token.startswith("--file=") and "file" not in options:
            options["file"] = token.partition("=")[2]
        else:
            return None
        index += 1
    return options


def main(argv: list[str] | None = None) -> None:
    """Console entry point: the one place that reads the process's argv,
    environment, cwd and streams, and exits."""
    if "_MOGRUN_COMPLETE" in os.environ:
        from mogrun.cli.completion import complete_from_process
        from mogrun.cli.main import cli

        sys.exit(complete_from_process(cli, os.environ, os.getcwd(), sys.stdout, sys.stderr))
    sys.exit(run_cli(argv))


def run_cli(argv: list[str] | None = None) -> int:
    """Run the CLI on this process's argv, environment, cwd and streams and
    return its exit code (``main`` without the exit)."""
    app = MogrunApp(cwd=Path.cwd(), env=os.environ, stdout=sys.stdout, stderr=sys.stderr,
                    stdin=sys.stdin)
    try:
        return app(sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:
        # `mogrun list | head`: the reader left; not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
