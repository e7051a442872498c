"""``mogrun ci github``: write (or ``--check``) the GitHub Actions workflow that
runs the task file's scheduled jobs.

The file goes to ``.github/workflows/mogrun.yml`` in the repository that
holds the task file (the nearest directory above it with a ``.git``; the
task file's own directory when there is none). ``-o PATH`` (relative to the
current directory) writes elsewhere. A file that does not start with the
generator's marker is never overwritten, nor, without ``--force``, one whose
body no longer matches the digest its header recorded (a hand edit).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from mogrun.ci.generate import DEFAULT_OUTPUT, NothingScheduled
from mogrun.cli import framework as click
from mogrun.cli.completion import complete_files
from mogrun.cli.state import CliState
from mogrun.errors import MogrunError, UsageError

if TYPE_CHECKING:
    from mogrun.ci.workflow import Recorded

CI_HELP = """Generate CI configuration from the task file."""

GITHUB_HELP = """Write the GitHub Actions workflow for the task file's schedules
(default: .github/workflows/mogrun.yml in the task file's repository).

\b
Examples:
  mogrun ci github                 write or update the workflow
  mogrun ci github --check         exit 1 (and a diff) if the file is stale
  mogrun ci github --shards 3      big fan-outs as a 3-leg matrix of one token
  mogrun ci github -o -            print it instead of writing it
  mogrun ci github --install git+https://github.com/acme/mogrun@v0.1.0
                                   install mogrun from a fork's tag, not PyPI
"""


class NotCurrent(MogrunError):
    """``--check`` found the committed workflow out of date (exit 1)."""

    exit_code = 1


@click.command("ci", cls=click.Group, help=CI_HELP)
def ci_group() -> None:
    pass


@ci_group.command("github", cls=click.Command, help=GITHUB_HELP)
@click.option("-o", "--output", metavar="PATH", shell_complete=complete_files,
              help=f"Where to write (default: {DEFAULT_OUTPUT}"
              " in the task file's repository; - for standard output).")
@click.option("--check", is_flag=True, help="Write nothing; exit 0 if the file is current, "
              "1 with a unified diff if not.")
@click.option("--shards", type=click.IntRange(min=1), default=None, metavar="N",
              help="Run jobs with at least 2N repos as N matrix legs, each with 1/N of the "
              "token's limits (default: as the existing file was generated, else 1; 1 with -o -).")
@click.option("--install", metavar="REQUIREMENT", default=None,
              help="What the workflow's pip install installs: a git URL with a tag or commit "
              "(git+https://github.com/acme/mogrun@v0.1.0), a wheel's URL, or mogrun==0.2.0 "
              "from an index (default: as the existing file was generated, else this mogrun's "
              "own version, mogrun==X; mogrun==X with -o -).")
@click.option("--force", is_flag=True, help="Overwrite a workflow mogrun wrote even when it "
              "was edited by hand since (the edits are lost).")
@click.pass_obj
def github_command(state: CliState, output: str | None, check: bool,
                   shards: int | None, install: str | None, force: bool) -> int:
    from mogrun.ci.generate import (
        generate,
        install_requirement,
        regenerating_command,
        repository_root,
    )
    from mogrun.cli.loading import check_config, load_host, load_taskfile

    if output is not None and not output.strip():  # a script's unset variable
        raise UsageError("-o/--output needs a file path (or - for standard output), "
                         "got an empty one")
    if install is not None:  # before the task file: the command line's mistake first
        install = install_requirement(install)
    to_stdout = output == "-"
    if to_stdout and check:
        raise UsageError("--check compares with a file: give -o a path, not -")
    # Before any plugin is imported: a plugin's print must not corrupt the workflow.
    state.stdout_is_data = to_stdout
    taskfile = load_taskfile(state)
    host = load_host(state, taskfile)
    # As ``check`` does (plugins may refuse), but the workflow sends nothing: no URL needed.
    host.configure(check_config(state, taskfile, honours_url=False))
    root = repository_root(taskfile.path)
    target = (state.cwd / output) if output and not to_stdout else root / DEFAULT_OUTPUT
    from mogrun.textsafety import escape_agent_text

    # Escaped once, here: every line that names the file (``wrote``, ``is current``,
    # the diff's headers, the errors) quotes it, and nothing in it may act on a terminal.
    shown = escape_agent_text(output if output and Path(output).is_absolute()
                              else _shown(target, state.cwd))
    if not to_stdout:
        _refuse_folder(output, target, shown)
        _warn_if_never_read(state, target, root)
    # What is not given is kept from the existing file's header; `-o -` reads no
    # file: --shards', else 1, and --install's, else this version's.
    kept = shards is None and not to_stdout
    typed = [option for option, value in (("--shards", shards), ("--install", install))
             if value is not None]  # --check's hint names them, defaults too
    recorded = None if to_stdout or (shards is not None and install is not None) \
        else _recorded(target, shown)
    if recorded and recorded.unreadable:
        state.warn(f"the command in the header of {shown} cannot be read "
                   f"({recorded.unreadable}), so the --shards and --install it may name are "
                   "not kept: give them again")
    if shards is None:
        shards = recorded.shards if recorded else 1
    if install is None and recorded and recorded.install is not None:
        install = install_requirement(recorded.install, recorded_in=shown)
    from mogrun.pluginload import SOURCE_ENTRY_POINT

    try:
        text, warnings = generate(taskfile, host.key_specs(), root=root, output=target,
                                  shards=shards, default_output=output is None or to_stdout,
                                  secrets=host.known_secrets,
                                  shards_from=shown if kept else None,
                                  installed_plugins=[p.name for p in host.describe()
                                                     if p.source == SOURCE_ENTRY_POINT],
                                  install=install)
    except NothingScheduled as nothing:
        if not to_stdout:
            _refuse_stale_schedules(nothing, *_or_twin(state, target, shown, root,
                                                       nothing.task_file), check=check)
        raise
    for warning in warnings:
        state.warn(warning)
    if to_stdout:  # `-o -`: for a look, or a pipe; the file is not read or written
        state.echo(text, nl=False)
        return 0
    example = _shown(_own_file(taskfile.path, root, target), state.cwd)
    _refuse_too_big(text, shown)
    _refuse_a_second_workflow(state, taskfile.path, root, target, shown, text, check=check)
    if check:
        command = regenerating_command(taskfile.path, root=root, output=target, shards=shards,
                                       default_output=output is None, install=install,
                                       typed=typed)
        return _check(state, target, shown, text, _hint(command, root, state.cwd),
                      _hint(f"{command} --force", root, state.cwd), example, root)
    _write(target, shown, text, example, root, force=force)
    state.echo(f"wrote {shown}", err=True)
    return 0


def _shown(path: Path, cwd: Path) -> str:
    """The path as the user would type it from here."""
    import os

    from mogrun.taskfile.discovery import resolved

    try:
        return os.path.relpath(resolved(path), resolved(cwd))
    except OSError:  # a symlink loop: named as given (``_mode`` says what is wrong)
        return os.path.relpath(path, cwd)
    except ValueError:  # another drive (Windows)
        return str(path)


def _own_file(task_file: Path, root: Path, target: Path) -> Path:
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


def _warn_if_never_read(state: CliState, target: Path, root: Path) -> None:
    """A workflow written to a ``.github/workflows`` folder below the repository's
    root (``-o`` typed from the task file's folder) is one GitHub never runs; so is
    one elsewhere in the root's ``.github`` than a ``.yml`` or ``.yaml`` file
    directly in its ``workflows``."""
    folder = target.parent
    if folder.name == "workflows" and folder.parent.name == ".github" \
            and _resolved(folder.parent.parent) != _resolved(root):
        where = _shown(root / DEFAULT_OUTPUT.parent, state.cwd)
        state.warn(f"GitHub runs only the workflows in {where} (the repository's root), "
                   f"not in {_shown(folder, state.cwd)}: this one will never run")
    elif _within(folder, root / ".github") and (
            _resolved(folder) != _resolved(root / DEFAULT_OUTPUT.parent)
            or target.suffix.lower() not in (".yml", ".yaml")):
        # -o .github/workflows/nightly, .github/workflow/x.yml: meant to run, never run
        where = _shown(root / DEFAULT_OUTPUT.parent, state.cwd)
        state.warn(f"GitHub runs only the .yml and .yaml files directly in {where}: "
                   f"{_shown(target, state.cwd)} will never run")


def _within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or below it (symlinks followed)."""
    return _resolved(path).is_relative_to(_resolved(folder))


def _resolved(path: Path) -> Path:
    from mogrun.taskfile.discovery import resolved

    try:
        return resolved(path)
    except OSError:  # a symlink loop: as given
        return path


def _refuse_folder(output: str | None, target: Path, shown: str) -> None:
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
    mode = _mode(target, shown)
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(f"{shown} is a directory; give -o a file path")


def _recorded(target: Path, shown: str) -> Recorded:
    """The options (``--shards``, ``--install``) the existing file was generated
    with: a plain ``ci github`` or ``--check`` (the pull-request step) neither
    drops a workflow's sharding or install nor calls such a workflow stale."""
    import stat

    from mogrun.ci.workflow import Recorded, recorded_options

    mode = _mode(target, shown)
    if mode is None or not stat.S_ISREG(mode):
        return Recorded()
    return recorded_options(_read(target, shown)) or Recorded()


def _refuse_stale_schedules(nothing: NothingScheduled, target: Path, shown: str, *,
                            check: bool) -> None:
    """No schedule is left, but the workflow written from this task file is still
    there and still starts what it had: removing the last schedule was told to add
    one. It is said, with how to stop those runs (``--check``: exit 1, stale)."""
    import stat

    from mogrun.ci.workflow import source_of

    mode = _mode(target, shown)
    if mode is None or not stat.S_ISREG(mode):
        return
    if source_of(_read(target, shown)) != nothing.task_file:
        return  # not this file's workflow: nothing to say of it
    what = (f"no job in the task file has a schedule any more, but {shown}, which mogrun "
            "ci github wrote from it, still runs the jobs it scheduled")
    todo = [f"To stop them, delete {shown} and commit that; to keep them, give a job a "
            "schedule again."]
    raise NotCurrent(what, context=todo) if check else UsageError(what, context=todo)


def _or_twin(state: CliState, target: Path, shown: str, root: Path,
             task_file: str) -> tuple[Path, str]:
    """``target`` (and how it is shown), or, when nothing is there, the workflow
    written from ``task_file`` under another name in the same folder GitHub runs."""
    from mogrun.ci.yamltext import in_comment
    from mogrun.textsafety import escape_agent_text

    twin = _twin(target, shown, root, in_comment(task_file))
    return (twin, escape_agent_text(_shown(twin, state.cwd))) if twin else (target, shown)


def _twin(target: Path, shown: str, root: Path, source: str | None) -> Path | None:
    """The workflow GitHub runs that a header says was written from ``source``, when
    ``target``, in that folder too, does not exist (renamed, or written with -o)."""
    folder = root / DEFAULT_OUTPUT.parent
    if _mode(target, shown) is not None or _resolved(target.parent) != _resolved(folder):
        return None
    return next((path for path in _workflows(folder) if _source_of_file(path) == source), None)


def _refuse_a_second_workflow(state: CliState, task_path: Path, root: Path, target: Path,
                              shown: str, text: str, *, check: bool) -> None:
    """No file at ``target`` (in the folder GitHub runs), but the workflow written
    from this task file is there under another name (renamed, or written with
    ``-o``): a second one would start every job twice at each schedule, so it is
    refused (``--check``: exit 1), with the command for the one there."""
    from mogrun.ci.generate import regenerating_command
    from mogrun.ci.workflow import Recorded, recorded_options, source_of
    from mogrun.textsafety import escape_agent_text

    source = source_of(text)
    twin = _twin(target, shown, root, source)
    if twin is None:
        return
    other = escape_agent_text(_shown(twin, state.cwd))
    recorded = recorded_options(_read(twin, other)) or Recorded()
    command = regenerating_command(task_path, root=root, output=twin, shards=recorded.shards,
                                   default_output=False, install=recorded.install)
    said = f"{other} is the workflow mogrun ci github wrote from {source}"
    if check:
        where = ("C" if _resolved(state.cwd) == _resolved(root) else
                 f"From the repository root ({_shown(root, state.cwd)}), c")
        raise NotCurrent(f"{shown} does not exist, but {said}",
                         context=[f"{where}heck it with `{command} --check`."])
    raise UsageError(f"{said}: another, {shown}, would start its jobs a second time at each "
                     "schedule", context=[_hint(command, root, state.cwd).removesuffix(".")
                                          + " (or delete that file first, to move the workflow)."])


def _workflows(folder: Path) -> list[Path]:
    """The workflow files GitHub would run from ``folder``, by name."""
    try:
        return sorted(path for path in folder.iterdir() if path.suffix in (".yml", ".yaml"))
    except OSError:
        return []


def _source_of_file(path: Path) -> str | None:
    """The task file the header of the workflow at ``path`` names (``None``: not one
    of mogrun's, or not readable); its first line only, as ``_read`` takes it."""
    from mogrun.ci.workflow import source_of

    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    return source_of(head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace"))


def _hint(command: str, root: Path, cwd: Path) -> str:
    """What to do about a stale file: the header's command, which is spelled
    from the repository root (its -f and -o paths are relative to it)."""
    if cwd.resolve() == root.resolve():
        return f"Run `{command}` and commit the result."
    return f"From the repository root ({_shown(root, cwd)}), run `{command}` and commit the result."


def _check(state: CliState, target: Path, shown: str, text: str, hint: str,
           forced: str, example: str, root: Path) -> int:
    """``--check``: 0 when current; else the diff and what to run (``forced``: the
    hint with ``--force``, for a file edited by hand, which regenerating keeps)."""
    from mogrun.ci.workflow import hand_edited, same_workflow

    exists = _mode(target, shown) is not None
    current = _read(target, shown) if exists else ""
    if exists and same_workflow(current, text):
        state.echo(f"{shown} is current", err=True)
        return 0
    foreign = _not_ours(current, text, shown, example, root) if exists else None
    context = [hint]
    what = f"{shown} {'does not exist' if not exists else 'is out of date'}"
    if foreign is not None:  # not this file's workflow, stale or not: said as it is
        what, context = foreign.why, foreign.todo
    elif hand_edited(current):
        context = [HAND_EDITED, forced]
    diff = difflib.unified_diff(current.splitlines(keepends=True), text.splitlines(keepends=True),
                                fromfile=f"{shown} (committed)", tofile=f"{shown} (generated)")
    # Both sides are a pull request's text in its checks; `-o -` (YAML) is not held.
    state.hold_github_commands()
    shown_diff = "".join(diff)  # its own line ends; a last line without one gets one
    state.echo(shown_diff, nl=bool(shown_diff) and not shown_diff.endswith("\n"))
    raise NotCurrent(what, context=context)


def _read(target: Path, shown: str) -> str:
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
    return text.replace("\r\n", "\n")


MAX_WORKFLOW = 1024 * 1024  # mogrun's workflows are a few KiB; a bigger file is not one


def _refuse_too_big(text: str, shown: str) -> None:
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

    mode = _mode(target, shown)
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise UsageError(f"{shown} is not a regular file; give -o a file path "
                         "(or -o - for standard output)")


def _mode(target: Path, shown: str) -> int | None:
    """The file type and mode at the output path; ``None`` when nothing is there
    (yet). Any other failure to look (a name too long, a folder it may not
    search) is one line and exit 2, never a traceback."""
    try:
        return target.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None  # the write makes the folders, or says why it cannot
    except OSError as exc:
        raise UsageError(f"cannot use {shown}: {exc.strerror or exc}") from exc


class _Foreign(NamedTuple):
    """A file at the workflow's path that is not this task file's workflow."""

    why: str  # what it is
    refusing: str  # what writing over it would do, refused
    todo: list[str]  # what works instead


def _not_ours(current: str, text: str, shown: str, example: str,
              root: Path) -> _Foreign | None:
    """Why ``current`` (the file at ``shown``) is not to be replaced by ``text``: it
    was not written by ``mogrun ci github``, or was for another task file (two
    task files of one repository would take turns overwriting one workflow);
    ``example``: a file of its own for this one, as typed from here."""
    from mogrun.ci.workflow import MARKER, source_of

    if not current.startswith(MARKER):
        return _Foreign(f'{shown} was not written by mogrun ci github (its first line is not '
                        f'"{MARKER} ...")', "refusing to overwrite it",
                        ["Move it away, or write elsewhere with -o PATH."])
    theirs, ours = source_of(current), source_of(text)
    if theirs is not None and theirs != ours:
        todo = [f"Give this one its own file with -o PATH (e.g. {example})."]
        if not _lexists(root / theirs):  # moved (or deleted): its workflow's runs fail
            todo = [f"{theirs}, which it was generated from, no longer exists (its runs fail "
                    f"without it): if {ours} is that file, moved, delete {shown}, then "
                    f"generate it again.", f"Else g{todo[0][1:]}"]
        return _Foreign(f"{shown} was generated from {theirs}, not {ours}",
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


def _write(target: Path, shown: str, text: str, example: str, root: Path, *,
           force: bool) -> None:
    from mogrun.atomic import write_atomically
    from mogrun.ci.workflow import hand_edited

    _refuse_no_regular_file(target, shown)
    if _mode(target, shown) is not None:
        current = _read(target, shown)
        foreign = _not_ours(current, text, shown, example, root)
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
