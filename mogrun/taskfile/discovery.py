"""Which task file this invocation uses: ``-f``, then ``MOGRUN_FILE``, then
the first ``mogplex.toml`` in the working directory or one of its parents."""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from mogrun.errors import NoTaskFileError, TaskFileError

FILE_NAME = "mogplex.toml"
LOOP = "is a symlink loop"
BROKEN_LINK = "is a broken symlink"


def find_task_file(explicit: str | None, env: Mapping[str, str], cwd: Path) -> Path:
    """The task file's path; ``TaskFileError`` (exit 2) when there is none.

    However it is named, the path is its folder resolved plus its own name, not
    what a symlinked file points to: a task file linked into several projects
    reads each one's prompt files and keeps each one's history (as ``make`` and
    ``just`` read a linked Makefile). Edits still reach the real file
    (``atomic.write_atomically`` follows the link)."""
    refuse_no_file_name(explicit, env)
    for given, origin in ((explicit, "-f/--file"), (env.get("MOGRUN_FILE"), "MOGRUN_FILE")):
        if given:
            path = cwd / given
            # Before resolving: /dev/fd/N resolves to no path.
            problem = _typed_problem(cwd, given) if typed_as_folder(given) else file_problem(path)
            if problem:
                _refuse(f"{given} (from {origin})", problem,
                        _missing_hint(path, given, origin) if problem == MISSING else [])
            # (a loop is a problem above: never met here)
            return resolved(path.parent) / path.name
    for folder in (cwd.resolve(), *cwd.resolve().parents):
        candidate = folder / FILE_NAME
        problem = file_problem(candidate)
        if problem is None:
            return candidate
        # The user's own thing of that name (a broken link too: a file to be, not a
        # missing one): not a parent's file.
        if problem.startswith(_IN_THE_WAY):
            _refuse(str(candidate), problem, found=True)
    raise NoTaskFileError(
        f"no {FILE_NAME} found in {cwd} or any parent directory",
        context=[*_named_otherwise(cwd), *_recorded_beside(cwd),
                 "Create one with `mogrun init`, or name one with -f PATH or MOGRUN_FILE."],
    )


def _named_otherwise(cwd: Path) -> list[str]:
    """``Task files here under another name: mogplex.toml.example (mogrun -f ...)``:
    after the README's first command (``-f mogplex.toml.example``) the next one, with
    no ``-f``, was told only to create a file."""
    from mogrun.tables import listed
    from mogrun.textsafety import shell_word

    try:
        named = sorted(p.name for p in cwd.iterdir()
                       if p.name.lower().startswith("mogplex") and p.name != FILE_NAME
                       and p.is_file())  # ``Mogplex.toml``, found on a macOS disk, not here
    except OSError:
        return []
    if not named:
        return []
    return [f"Task files here under another name: {listed(named, 5)} "
            f"(name one: mogrun -f {shell_word(named[0])} ...)"]


def _recorded_beside(cwd: Path) -> list[str]:
    """``nightly.toml has runs recorded in .mogrun: name it, as mogrun -f
    nightly.toml ...``: the history of the nearest ``.mogrun`` here or above names
    its task files. After a run with ``-f nightly.toml``, or once the task file was
    deleted, a plain ``mogrun status`` beside that history was told only to create
    a file."""
    from mogrun.engine.history_reads import recorded_task_files
    from mogrun.statefolder import STATE_FOLDER
    from mogrun.tables import listed
    from mogrun.textsafety import escape_agent_text, shell_word

    here = cwd.resolve()
    for folder in (here, *here.parents):
        files = recorded_task_files(folder)
        if files:
            break
    else:
        return []
    # A history's file names are text from a file: shown safe, one line each.
    def shown(name: str) -> str:
        return escape_agent_text(os.path.relpath(folder / name, here))

    state = escape_agent_text(os.path.relpath(folder / STATE_FOLDER, here))
    there = [name for name in files if (folder / name).is_file()]
    gone = [name for name in files if name not in there]
    lines = []
    if there:
        one = len(there) == 1
        lines.append(f"{listed([shown(n) for n in there], 5)} {'has' if one else 'have'} "
                     f"runs recorded in {state}: name {'it' if one else 'one'}, as "
                     f"mogrun -f {shell_word(shown(there[0]))} ...")
    if gone:
        one = len(gone) == 1
        lines.append(f"{listed([shown(n) for n in gone], 5)} {'has' if one else 'have'} "
                     f"runs recorded in {state} but {'is' if one else 'are'} no longer "
                     f"there: put {'it' if one else 'them'} back to see and rerun those runs")
    return lines


def typed_as_folder(typed: str) -> bool:
    """Whether a path as typed names a folder (``newdir/``, ``.``): ``Path`` drops
    the trailing separator and reads ``newdir/`` as a file's name, so a command
    writing there made a file named like the folder the user meant."""
    ends = tuple(filter(None, (os.sep, os.altsep, "/")))
    return typed.endswith(ends) or os.path.basename(typed) in (".", "..")


def _typed_problem(cwd: Path, given: str) -> str:
    """What is wrong with a name typed as a folder's (``mogplex.toml/``): a file's
    name with a ``/`` after it is said so, not sent looking for a file inside it."""
    if (cwd / os.path.normpath(given)).is_file():
        return "names a file with a / after it; leave out the /"
    return "names a directory"


def refuse_no_file_name(explicit: str | None, env: Mapping[str, str] | None = None) -> None:
    """``-f ''`` (a script's unset variable) names no file, for every command
    (``init`` would otherwise write the default one); nor does a blank ``-f`` or
    ``MOGRUN_FILE`` (an empty ``MOGRUN_FILE`` is unset, as environment variables go):
    said so, not as a missing file named ``"  "`` (or one ``init`` makes). Nor does
    ``-`` (standard input, as ``ci github -o -`` is standard output): a task file's
    prompt files and ``.mogrun/`` are found beside it, so it is read from a path."""
    if explicit == "":
        raise TaskFileError("-f/--file needs a path, not an empty string")
    # -f wins over MOGRUN_FILE unread, as over one that names no file.
    from_env = None if explicit else (env or {}).get("MOGRUN_FILE")
    for given, origin in ((explicit, "-f/--file"), (from_env, "MOGRUN_FILE")):
        if given and not given.strip():
            raise TaskFileError(f"{origin} is blank: it names no task file")
        if given and not given.isascii():
            from mogrun.textsafety import text_refusal

            refusal = text_refusal(given)
        else:
            refusal = None
        if refusal is not None:  # -f is refused so as an argument: MOGRUN_FILE failed later
            raise TaskFileError(f"{origin} {refusal}")
        if given == "-":
            raise TaskFileError(
                f"{origin} is -, standard input: a task file is read from its path (its "
                "prompt files and .mogrun/ history are beside it)",
                context=["Save it as a file and name that; a file named - is ./-."])


MISSING = "does not exist"  # what ``file_problem`` says of a name with nothing there
# What ``file_problem`` says of something under the name that is no file.
_IN_THE_WAY = ("is a directory", "is not a regular file", LOOP, BROKEN_LINK)


def _refuse(named: str, problem: str, hint: list[str] | None = None, *,
            found: bool = False) -> NoReturn:
    """The task file named (by the user, or ``found`` by its name) is no file; said
    the same whichever way it was named, but for what to do about a directory: one
    named with -f holds the file, one found by its name is in the way."""
    if problem in ("is a directory", "names a directory"):
        problem += ("; rename it, or name the task file with -f PATH or MOGRUN_FILE"
                    if found else f"; name the {FILE_NAME} inside it")
    hint = hint or [text for start, text in _HINTS.items() if problem.startswith(start)]
    raise TaskFileError(f"task file {named} {problem}", context=hint)


def _missing_hint(path: Path, given: str, origin: str) -> list[str]:
    """A task file named that is not there: the ``.toml`` file of a close name in
    its folder (a typo, ``-f mogplx.toml``), else how to create it."""
    from mogrun.taskfile.schema import closest
    from mogrun.textsafety import shell_word

    try:  # by their stems: ".toml" alone made "x.toml" close to "mogplex.toml"
        stems = [p.stem for p in path.parent.iterdir() if p.suffix == ".toml" and p.is_file()]
    except OSError:  # no such folder (init makes it), or one that cannot be listed
        stems = []
    near = closest(Path(path.name).stem, stems)
    if near is not None:
        return [f"did you mean {shell_word(str(Path(given).with_name(near + '.toml')))}?"]
    try:
        above = next((p for p in path.parents if p.exists()), None)
        under_a_file = above is not None and not above.is_dir()  # `-f notes/x.toml`
    except OSError:  # a folder that cannot be looked into: init says what is wrong
        under_a_file = False
    if under_a_file:
        return [f"{above} is a file, not a folder: no task file can be made under it."]
    named = f" -f {shell_word(given)}" if origin == "-f/--file" else ""  # init reads MOGRUN_FILE
    return [f"Create it with `mogrun init{named}`."]


_HINTS = {
    "is not a regular file": "Save it as a file first, beside its prompt files.",
    BROKEN_LINK: "Create the file it points to (`mogrun init` does), or remove the link.",
    LOOP: "Point the link at a file, or remove it.",
}


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
        if path.exists():
            return "is not a regular file"
        return _link_problem(path) or MISSING
    except OSError as exc:
        return f"cannot be used: {exc.strerror or exc}"


def _link_problem(path: Path) -> str | None:
    """A name that is there as a link to nothing: ``exists`` reads it as absent, and
    a search upwards would then take a parent's file for it."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return LOOP
    return f"{BROKEN_LINK} (to {os.readlink(path)})"


def outer_task_file_with_job(taskfile: Path, job: str) -> Path | None:
    """The nearest task file above ``taskfile``'s folder whose jobs include ``job``
    (``mogrun top`` typed in a nested project, whose own task file is found first
    and lacks it); ``None`` when there is none. Only an unknown job's message asks,
    so the files are read then, and one that cannot be read is passed over."""
    import tomllib

    for folder in taskfile.parent.parents:
        candidate = folder / FILE_NAME
        if file_problem(candidate) is not None:
            continue
        try:
            jobs = tomllib.loads(candidate.read_text(encoding="utf-8-sig")).get("jobs")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        if isinstance(jobs, dict) and job in jobs:
            return candidate
    return None


def resolved(path: Path) -> Path:
    """``path.resolve()``, with a symlink loop an ``OSError`` like every other name
    the system cannot follow (pathlib raises ``RuntimeError`` for it before Python
    3.13): the one way mogrun resolves a name a user gave."""
    try:
        return path.resolve()
    except RuntimeError as exc:
        raise OSError(errno.ELOOP, LOOP.removeprefix("is a "), str(path)) from exc
