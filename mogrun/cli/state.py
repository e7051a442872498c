"""Global options of one invocation, and the lazily built things commands share
(task file, API client, plugin host, local emulator).

Commands receive this as ``ctx.obj``. Nothing here imports urllib3, pluggy,
rich or the emulator until a command asks for them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mogrun.errors import UsageError
from mogrun.taskfile.templates import BUILTIN_NAMES


def parse_sets(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--set NAME=VALUE`` pairs as a dict; a pair without ``=`` is a usage error."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set expects NAME=VALUE, got {pair!r}")
        if name.strip() in BUILTIN_NAMES:  # they always win: the value would be ignored
            raise UsageError(f"--set {name.strip()}=...: {name.strip()} is a built-in template "
                             f"name ({', '.join(BUILTIN_NAMES)}); --set overrides [vars] "
                             "entries only")
        result[name.strip()] = value
    return result


@dataclass
class CliState:
    """The global options plus caches; one per invocation."""

    file: str | None = None
    url: str | None = None
    local: bool = False
    sets: dict[str, str] = field(default_factory=dict)
    json_output: bool = False
    quiet: bool = False
    verbose: bool = False
    no_color: bool = False
    no_plugins: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = field(default_factory=Path.cwd)
    _cleanups: list[Any] = field(default_factory=list)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> CliState:
        state = cls(
            file=options.get("file"),
            url=options.get("url"),
            local=bool(options.get("local")),
            sets=parse_sets(options.get("sets") or ()),
            json_output=bool(options.get("json_output")),
            quiet=bool(options.get("quiet")),
            verbose=bool(options.get("verbose")),
            no_color=bool(options.get("no_color")) or "NO_COLOR" in os.environ,
            no_plugins=bool(options.get("no_plugins")),
        )
        if state.local and state.url:
            raise UsageError("--local and --url cannot be used together",
                             context=["--local always talks to the embedded emulator."])
        return state

    def add_cleanup(self, callback: Any) -> None:
        """Run ``callback()`` when the command ends (e.g. stop the emulator)."""
        self._cleanups.append(callback)

    def close(self) -> None:
        while self._cleanups:
            self._cleanups.pop()()
