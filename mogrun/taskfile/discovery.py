"""Which task file this invocation uses: ``-f``, then ``MOGRUN_FILE``, then
the first ``mogplex.toml`` in the working directory or one of its parents."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from mogrun.errors import TaskFileError

FILE_NAME = "mogplex.toml"


def find_task_file(explicit: str | None, env: Mapping[str, str], cwd: Path) -> Path:
    """The task file's path; ``TaskFileError`` (exit 2) when there is none."""
    if explicit == "":
        raise TaskFileError("-f/--file needs a path, not an empty string")
    for given, origin in ((explicit, "-f/--file"), (env.get("MOGRUN_FILE"), "MOGRUN_FILE")):
        if given:
            path = cwd / given
            problem = file_problem(path)  # before resolving: /dev/fd/N resolves to no path
            if problem:
                _refuse(f"{given} (from {origin})", problem)
            return path.resolve()
    for folder in (cwd.resolve(), *cwd.resolve().parents):
        candidate = folder / FILE_NAME
        problem = file_problem(candidate)
        if problem is None:
            return candidate
        if problem in _IN_THE_WAY:  # the user's own thing of that name: not a parent's file
            _refuse(str(candidate), problem)
    raise TaskFileError(
        f"no {FILE_NAME} found in {cwd} or any parent directory",
        context=["Create one with `mogrun init`, or name one with -f PATH or MOGRUN_FILE."],
    )


# What ``file_problem`` says of something that exists under the name but is no file.
_IN_THE_WAY = ("is a directory", "is not a regular file")


def _refuse(named: str, problem: str) -> NoReturn:
    """The task file named (by the user, or found by its name) is no file; said
    the same whichever way it was named."""
    if problem == "is a directory":
        problem += f"; name the {FILE_NAME} inside it"
    hint = ["Save it as a file first, beside its prompt files."] if (
        problem == "is not a regular file") else []
    raise TaskFileError(f"task file {named} {problem}", context=hint)


def file_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable file's name, said after the name: "does not
    exist", "is a directory", "is not a regular file" or the system's reason
    ("cannot be used: File name too long"); ``None`` for a file. The one place
    file names from users are probed: ``Path.is_file`` raises for a name the
    system refuses."""
    try:
        if path.is_file():
            return None
        if path.is_dir():
            return "is a directory"
        # A pipe (-f <(git show ...)) or a device: it cannot be read twice, and the
        # prompt files and .mogrun/ that live beside a task file cannot be beside it.
        return "is not a regular file" if path.exists() else "does not exist"
    except OSError as exc:
        return f"cannot be used: {exc.strerror or exc}"
