"""``mogrun ci github``: write (or ``--check``) the GitHub Actions workflow that
runs the task file's scheduled jobs.

The file goes to ``.github/workflows/mogrun.yml`` in the repository that
holds the task file (the nearest directory above it with a ``.git``; the
task file's own directory when there is none). ``-o PATH`` (relative to the
current directory) writes elsewhere. A file without the generator's marker
line among the comments it starts with is never overwritten, nor, without
``--force``, one whose body no longer matches the digest its header recorded
(a hand edit) or one a newer mogrun wrote (a downgrade). Notes a hand adds to
the header (or above it) are the user's: regenerating keeps them.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from mogrun.ci.generate import DEFAULT_OUTPUT, NothingScheduled
from mogrun.cli import framework as click
from mogrun.cli.ci_file import (
    HAND_EDITED,
    current_workflow,
    kept_options,
    mode_of,
    newer_writer,
    not_ours,
    or_twin,
    own_file,
    path_from_here,
    read_workflow,
    refuse_folder,
    refuse_too_big,
    resolved_or_given,
    twin_workflow,
    with_kept_notes,
    within,
    write_workflow,
)
from mogrun.cli.completion import complete_files
from mogrun.cli.state import CliState
from mogrun.errors import MogrunError, UsageError

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
              "was edited by hand since (the edits are lost), or by a newer mogrun.")
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
                              else path_from_here(target, state.cwd))
    current = None  # the existing workflow, read once (``-o -`` reads none)
    if not to_stdout:
        refuse_folder(output, target, shown)
        _warn_if_never_read(state, target, root)
        current = current_workflow(target, shown)
        _refuse_a_downgrade(current, shown, check=check, force=force)
    # What is not given is kept from the existing file's header; `-o -` reads no
    # file: --shards', else 1, and --install's, else this version's.
    kept = shards is None and not to_stdout
    typed = [option for option, value in (("--shards", shards), ("--install", install))
             if value is not None]  # --check's hint names them, defaults too
    recorded = None if to_stdout or (shards is not None and install is not None) \
        else kept_options(current)
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
            _refuse_stale_schedules(nothing, *or_twin(state, target, shown, root,
                                                       nothing.task_file), check=check)
        raise
    for warning in warnings:
        state.warn(warning)
    if to_stdout:  # `-o -`: for a look, or a pipe; the file is not read or written
        state.echo(text, nl=False)
        return 0
    example = path_from_here(own_file(taskfile.path, root, target), state.cwd)
    text = with_kept_notes(text, current)
    refuse_too_big(text, shown)
    _refuse_a_second_workflow(state, taskfile.path, root, target, shown, text, check=check)
    if check:
        command = regenerating_command(taskfile.path, root=root, output=target, shards=shards,
                                       default_output=output is None, install=install,
                                       typed=typed)
        return _check(state, target, shown, text, _hint(command, root, state.cwd),
                      _hint(f"{command} --force", root, state.cwd), example, root)
    write_workflow(target, shown, text, example, root, force=force)
    state.echo(f"wrote {shown}", err=True)
    return 0


def _warn_if_never_read(state: CliState, target: Path, root: Path) -> None:
    """A workflow written to a ``.github/workflows`` folder below the repository's
    root (``-o`` typed from the task file's folder) is one GitHub never runs; so is
    one elsewhere in the root's ``.github`` than a ``.yml`` or ``.yaml`` file
    directly in its ``workflows``."""
    folder = target.parent
    if folder.name == "workflows" and folder.parent.name == ".github" \
            and resolved_or_given(folder.parent.parent) != resolved_or_given(root):
        where = path_from_here(root / DEFAULT_OUTPUT.parent, state.cwd)
        state.warn(f"GitHub runs only the workflows in {where} (the repository's root), "
                   f"not in {path_from_here(folder, state.cwd)}: this one will never run")
    elif within(folder, root / ".github") and (
            resolved_or_given(folder) != resolved_or_given(root / DEFAULT_OUTPUT.parent)
            or target.suffix.lower() not in (".yml", ".yaml")):
        # -o .github/workflows/nightly, .github/workflow/x.yml: meant to run, never run
        where = path_from_here(root / DEFAULT_OUTPUT.parent, state.cwd)
        state.warn(f"GitHub runs only the .yml and .yaml files directly in {where}: "
                   f"{path_from_here(target, state.cwd)} will never run")


def _refuse_a_downgrade(current: str | None, shown: str, *, check: bool,
                        force: bool) -> None:
    """A workflow a newer mogrun wrote: this older one would pin itself in its
    install step (and drop what the newer one writes), a downgrade nobody asked
    for. Refused without ``--force``; ``--check`` cannot judge it (exit 1)."""
    from mogrun import __version__

    newer = newer_writer(current)
    if newer is None or (force and not check):
        return
    said = f"{shown} was written by mogrun {newer}, newer than this one ({__version__})"
    if check:
        raise NotCurrent(f"{said}, which cannot tell whether it is current",
                         context=[f"Check it with mogrun {newer} or later (install that "
                                  "version where the check runs)."])
    raise UsageError(f"{said}; refusing to write it as an older version",
                     context=[f"Upgrade mogrun to {newer} or later, then run again (or run "
                              f"again with --force to write it as mogrun {__version__} "
                              "would, older)."])


def _refuse_stale_schedules(nothing: NothingScheduled, target: Path, shown: str, *,
                            check: bool) -> None:
    """No schedule is left, but the workflow written from this task file is still
    there and still starts what it had: removing the last schedule was told to add
    one. It is said, with how to stop those runs (``--check``: exit 1, stale)."""
    import stat

    from mogrun.ci.workflow import source_of

    mode = mode_of(target, shown)
    if mode is None or not stat.S_ISREG(mode):
        return
    if source_of(read_workflow(target, shown)) != nothing.task_file:
        return  # not this file's workflow: nothing to say of it
    what = (f"no job in the task file has a schedule any more, but {shown}, which mogrun "
            "ci github wrote from it, still runs the jobs it scheduled")
    todo = [f"To stop them, delete {shown} and commit that; to keep them, give a job a "
            "schedule again."]
    raise NotCurrent(what, context=todo) if check else UsageError(what, context=todo)


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
    twin = twin_workflow(target, shown, root, source)
    if twin is None:
        return
    other = escape_agent_text(path_from_here(twin, state.cwd))
    recorded = recorded_options(read_workflow(twin, other)) or Recorded()
    command = regenerating_command(task_path, root=root, output=twin, shards=recorded.shards,
                                   default_output=False, install=recorded.install)
    said = f"{other} is the workflow mogrun ci github wrote from {source}"
    if check:
        where = ("C" if resolved_or_given(state.cwd) == resolved_or_given(root) else
                 f"From the repository root ({path_from_here(root, state.cwd)}), c")
        raise NotCurrent(f"{shown} does not exist, but {said}",
                         context=[f"{where}heck it with `{command} --check`."])
    raise UsageError(f"{said}: another, {shown}, would start its jobs a second time at each "
                     "schedule", context=[_hint(command, root, state.cwd).removesuffix(".")
                                          + " (or delete that file first, to move the workflow)."])


def _hint(command: str, root: Path, cwd: Path) -> str:
    """What to do about a stale file: the header's command, which is spelled
    from the repository root (its -f and -o paths are relative to it)."""
    if cwd.resolve() == root.resolve():
        return f"Run `{command}` and commit the result."
    return (f"From the repository root ({path_from_here(root, cwd)}), run `{command}` and "
            "commit the result.")


def _check(state: CliState, target: Path, shown: str, text: str, hint: str,
           forced: str, example: str, root: Path) -> int:
    """``--check``: 0 when current; else the diff and what to run (``forced``: the
    hint with ``--force``, for a file edited by hand, which regenerating keeps)."""
    from mogrun.ci.workflow import hand_edited, same_workflow

    exists = mode_of(target, shown) is not None
    current = read_workflow(target, shown) if exists else ""
    if exists and same_workflow(current, text):
        state.echo(f"{shown} is current", err=True)
        return 0
    foreign = not_ours(current, text, shown, example, root) if exists else None
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


