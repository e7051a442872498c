"""The workflow file of ``mogrun ci github`` on disk: where it goes (the task
file's repository, or a file of its own), how a path is shown, reading it back
as mogrun wrote it (CRLF and a BOM do not count), what is there (nothing,
mogrun's workflow of this task file, another task file's, a hand-edited one, a
file that is no workflow) and writing it atomically. ``ci_cmds`` decides what
to do with each; nothing here prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from mogrun.ci.generate import DEFAULT_OUTPUT
from mogrun.errors import UsageError

if TYPE_CHECKING:
    from mogrun.ci.workflow import Recorded
    from mogrun.cli.state import CliState


def path_from_here(path: Path, cwd: Path) -> str:
    """The path as the user would type it from here."""
    import os

    from mogrun.taskfile.discovery import resolved

    try:
        return os.path.relpath(resolved(path), resolved(cwd))
    except OSError:  # a symlink loop: named as given (``mode_of`` says what is wrong)
        return os.path.relpath(path, cwd)
    except ValueError:  # another drive (Windows)
        return str(path)


def own_file(task_file: Path, root: Path, target: Path) -> Path:
    """A workflow file the task file can have as its own (``mogrun-ops.yml``): not
    ``target`` (refused as another file's) nor one that exists (another's, likely:
    ``ops/mogplex.toml`` and ``ops.toml`` make one name), numbered till free."""
    slug = _slug(task_file, root)
    path, number = root / DEFAULT_OUTPUT.with_name(f"mogrun-{slug}.yml"), 2
    while path == target or path.exists():
        path, number = root / DEFAULT_OUTPUT.with_name(f"mogrun-{slug}-{number}.yml"), number + 1
    return path


def _slug(task_file: Path, root: Path) -> str:
    """A name for the task file's own workflow: its folder and stem under the
    repository root, a plain ``mogplex.toml`` by its folder alone (``ops``,
    ``nightly``, ``ci-nightly``)."""
    import re

    try:
        parts = list(task_file.relative_to(root).parts)
    except ValueError:
        parts = [task_file.name]
    parts[-1] = Path(parts[-1]).stem
    if parts[-1] == "mogplex" and len(parts) > 1:
        parts.pop()
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join(parts)).strip("-.") or "other"


def within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or below it (symlinks followed)."""
    return resolved_or_given(path).is_relative_to(resolved_or_given(folder))


def resolved_or_given(path: Path) -> Path:
    from mogrun.taskfile.discovery import resolved

    try:
        return resolved(path)
    except OSError:  # a symlink loop: as given
        return path


def refuse_folder(output: str | None, target: Path, shown: str) -> None:
    """The workflow is a file: a folder at the path is refused, and so is a path
    typed as a folder's (``newdir/``, which ``Path`` reads as ``newdir``: it
    wrote a file named like the folder the user meant)."""
    import os
    import stat

    from mogrun.taskfile.discovery import typed_as_folder

    typed = output or ""
    if typed_as_folder(typed):
        raise UsageError(f"{typed} names a directory; give -o a file path "
                         f"(e.g. {os.path.join(typed, DEFAULT_OUTPUT.name)})")
    mode = mode_of(target, shown)
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(f"{shown} is a directory; give -o a file path")


def current_workflow(target: Path, shown: str) -> str | None:
    """The workflow file at ``target`` as ``read_workflow`` reads it (``None``: no
    regular file there): read once, for what regenerating it keeps of it
    (``kept_options``, ``with_kept_notes``) and the downgrade it refuses
    (``newer_writer``)."""
    import stat

    mode = mode_of(target, shown)
    return read_workflow(target, shown) if mode is not None and stat.S_ISREG(mode) else None


def kept_options(current: str | None) -> Recorded:
    """The options (``--shards``, ``--install``) the existing file (``current``) was
    generated with: a plain ``ci github`` or ``--check`` (the pull-request step)
    neither drops a workflow's sharding or install nor calls such a workflow stale."""
    from mogrun.ci.workflow import Recorded, recorded_options

    return (recorded_options(current) if current is not None else None) or Recorded()


def with_kept_notes(text: str, current: str | None) -> str:
    """``text`` with the notes a hand added to the header of this task file's
    existing workflow (``current``): what both the write and ``--check`` compare with."""
    from mogrun.ci.workflow import source_of, with_notes

    if current is None or source_of(current) != source_of(text):
        return text
    return with_notes(text, current)


def newer_writer(current: str | None) -> str | None:
    """The version of the newer mogrun that wrote the existing workflow (``current``;
    ``None``: no file, not ours, or not newer than this one): regenerating it here
    would pin this older version in its install step."""
    from mogrun import __version__
    from mogrun.ci.versions import is_newer
    from mogrun.ci.workflow import written_by

    version = written_by(current) if current is not None else None
    return version if version is not None and is_newer(version, __version__) else None


def or_twin(state: CliState, target: Path, shown: str, root: Path,
             task_file: str) -> tuple[Path, str]:
    """``target`` (and how it is shown), or, when nothing is there, the workflow
    written from ``task_file`` under another name in the same folder GitHub runs."""
    from mogrun.ci.yamltext import in_comment
    from mogrun.textsafety import escape_agent_text

    twin = twin_workflow(target, shown, root, in_comment(task_file))
    return (twin, escape_agent_text(path_from_here(twin, state.cwd))) if twin else (target, shown)


def twin_workflow(target: Path, shown: str, root: Path, source: str | None) -> Path | None:
    """The workflow GitHub runs that a header says was written from ``source``, when
    ``target``, in that folder too, does not exist (renamed, or written with -o)."""
    folder = root / DEFAULT_OUTPUT.parent
    if mode_of(target, shown) is not None \
            or resolved_or_given(target.parent) != resolved_or_given(folder):
        return None
    return next((path for path in _workflows(folder) if _source_of_file(path) == source), None)


def _workflows(folder: Path) -> list[Path]:
    """The workflow files GitHub would run from ``folder``, by name."""
    try:
        return sorted(path for path in folder.iterdir() if path.suffix in (".yml", ".yaml"))
    except OSError:
        return []


def _source_of_file(path: Path) -> str | None:
    """The task file the header of the workflow at ``path`` names (``None``: not one
    of mogrun's, or not readable); from its first 4 KiB, CRLF and a BOM dropped, as
    ``read_workflow`` takes it."""
    from mogrun.ci.workflow import source_of

    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    return source_of(_as_written(head.decode("utf-8", "replace")))  # (cut mid-character)


def read_workflow(target: Path, shown: str) -> str:
    """The file as mogrun would have written it: what a checkout or an editor
    adds without changing it (CRLF line ends, a leading BOM) does not count,
    for ``--check`` as for knowing the file is ours."""
    from mogrun.taskfile.parse import NotUtf8, utf8_text

    _refuse_no_regular_file(target, shown)
    try:
        with target.open("rb") as handle:
            raw = handle.read(MAX_WORKFLOW + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {shown}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_WORKFLOW:
        raise UsageError(f"{shown} is over {MAX_WORKFLOW // 1024} KiB: not a workflow mogrun "
                         "ci github wrote; refusing to overwrite it",
                         context=["Move it away, or write elsewhere with -o PATH."])
    try:
        text = utf8_text(raw)  # as a task file's bytes are judged and said
    except NotUtf8 as exc:
        raise UsageError(f"cannot read {shown}: it {exc}") from exc
    return _as_written(text)


def _as_written(text: str) -> str:
    """A workflow's text without what a checkout or an editor adds to the file
    mogrun wrote: CRLF line ends, a leading BOM."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


MAX_WORKFLOW = 1024 * 1024  # mogrun's workflows are a few KiB; a bigger file is not one


def refuse_too_big(text: str, shown: str) -> None:
    """A workflow over ``MAX_WORKFLOW`` is never written: the next ``ci github`` would
    refuse it as no workflow of mogrun's. ``--check`` says so too, where it said the
    file was out of date and named the command that then refused to write it."""
    size = len(text.encode("utf-8"))
    if size > MAX_WORKFLOW:
        raise UsageError(f"the workflow would be {size // 1024} KiB, over the "
                         f"{MAX_WORKFLOW // 1024} KiB of a file mogrun reads back as its own; "
                         f"nothing written to {shown}",
                         context=["Split the scheduled jobs over task files, each with its "
                                  "own workflow (-o PATH)."])


def _refuse_no_regular_file(target: Path, shown: str) -> None:
    """A device, FIFO or socket as ``-o``: reading /dev/zero to learn whether mogrun
    wrote it took all memory, and ``-o /dev/stdout`` into a pipe read its own pipe."""
    import stat

    mode = mode_of(target, shown)
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise UsageError(f"{shown} is not a regular file; give -o a file path "
                         "(or -o - for standard output)")


def mode_of(target: Path, shown: str) -> int | None:
    """The file type and mode at the output path; ``None`` when nothing is there
    (yet). Any other failure to look (a name too long, a folder it may not
    search) is one line and exit 2, never a traceback."""
    try:
        return target.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None  # the write makes the folders, or says why it cannot
    except OSError as exc:
        raise UsageError(f"cannot use {shown}: {exc.strerror or exc}") from exc


class Foreign(NamedTuple):
    """A file at the workflow's path that is not this task file's workflow."""

    why: str  # what it is
    refusing: str  # what writing over it would do, refused
    todo: list[str]  # what works instead


def not_ours(current: str, text: str, shown: str, example: str,
              root: Path) -> Foreign | None:
    """Why ``current`` (the file at ``shown``) is not to be replaced by ``text``: it
    was not written by ``mogrun ci github``, or was for another task file (two
    task files of one repository would take turns overwriting one workflow);
    ``example``: a file of its own for this one, as typed from here."""
    from mogrun.ci.workflow import MARKER, marker_line, source_of

    if marker_line(current) is None:
        return Foreign(f'{shown} was not written by mogrun ci github (no comment line it '
                        f'starts with is "{MARKER} ...")', "refusing to overwrite it",
                        ["Move it away, or write elsewhere with -o PATH."])
    theirs, ours = source_of(current), source_of(text)
    if theirs is not None and theirs != ours:
        todo = [f"Give this one its own file with -o PATH (e.g. {example})."]
        if not _lexists(root / theirs):  # moved (or deleted): its workflow's runs fail
            todo = [f"{theirs}, which it was generated from, no longer exists (its runs fail "
                    f"without it): if {ours} is that file, moved, delete {shown}, then "
                    f"generate it again.", f"Else g{todo[0][1:]}"]
        return Foreign(f"{shown} was generated from {theirs}, not {ours}",
                        "refusing to overwrite another task file's workflow", todo)
    return None


def _lexists(path: Path) -> bool:
    """Whether anything is at ``path`` (a dangling link too); ``True`` when it
    cannot be told: only a file surely gone is said to be."""
    try:
        path.lstat()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


HAND_EDITED = "It was edited by hand since mogrun wrote it: put what the edits do in the " \
    "task file (or a workflow of your own), or they are lost."


def write_workflow(target: Path, shown: str, text: str, example: str, root: Path, *,
           force: bool) -> None:
    from mogrun.atomic import write_atomically
    from mogrun.ci.workflow import hand_edited

    _refuse_no_regular_file(target, shown)
    if mode_of(target, shown) is not None:
        current = read_workflow(target, shown)
        foreign = not_ours(current, text, shown, example, root)
        if foreign is not None:
            raise UsageError(f"{foreign.why}; {foreign.refusing}", context=foreign.todo)
        if not force and current != text and hand_edited(current):
            raise UsageError(f"{shown} was edited by hand since mogrun ci github wrote it; "
                             "refusing to overwrite the edits",
                             context=[HAND_EDITED, "Then run again with --force."])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, text.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write {shown}: {_write_failure(target, exc)}") from exc


def _write_failure(target: Path, exc: OSError) -> str:
    """Why ``target`` could not be written, in words: a folder of its path that is
    a file made mkdir say "File exists", of the file being written."""
    for folder in target.parents:
        if folder.is_dir():
            break
        if folder.exists() or folder.is_symlink():
            try:
                named = folder.relative_to(Path.cwd())
            except ValueError:
                named = folder
            return f"{named} is not a folder"
    return str(exc.strerror or exc)
