"""``MogrunApp``: the whole CLI as an object of its inputs.

It takes the argument list, the environment, the working directory and the
streams, and returns an exit code (the shape of poethepoet's
``PoeThePoet(cwd, config, output, env)``). Only ``mogrun.cli.main.main`` reads
the process's own and exits, so tests, ``mogrun.testing`` and embedders run
mogrun in-process without swapping ``os.environ``, the cwd or ``sys.stdout``.
"""

from __future__ import annotations

import io
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
        try:
            return self._invoke(state, [str(arg) for arg in argv])
        finally:
            state.close()

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
