"""Which task file this invocation uses: ``-f``, then ``MOGRUN_FILE``, then
the first ``mogplex.toml`` in the working directory or one of its parents."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mogrun.errors import TaskFileError

FILE_NAME = "mogplex.toml"


def find_task_file(explicit: str | None, env: Mapping[str, str], cwd: Path) -> Path:
    """The task file's path; ``TaskFileError`` (exit 2) when there is none."""
    if explicit == "":
        raise TaskFileError("-f/--file needs a path, not an empty string")
    for given, origin in ((explicit, "-f/--file"), (env.get("MOGRUN_FILE"), "MOGRUN_FILE")):
        if given:
            path = (cwd / given).resolve()
            if path.is_dir():
                raise TaskFileError(f"task file {given} (from {origin}) is a directory; name "
                                    f"the {FILE_NAME} inside it")
            if not path.is_file():
                raise TaskFileError(f"task file {given} (from {origin}) does not exist")
            return path
    for folder in (cwd.resolve(), *cwd.resolve().parents):
        candidate = folder / FILE_NAME
        if candidate.is_file():
            return candidate
    raise TaskFileError(
        f"no {FILE_NAME} found in {cwd} or any parent directory",
        context=["Create one with `mogrun init`, or name one with -f PATH or MOGRUN_FILE."],
    )
