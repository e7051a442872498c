"""``init`` and ``add``: write task files without disturbing what people wrote."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

from mogrun.cli import framework as click
from mogrun.cli.completion import complete_files
from mogrun.cli.state import CliState
from mogrun.errors import MogrunError, TaskFileError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from mogrun.taskfile.checking import CheckWarning, Report
    from mogrun.taskfile.parse import TaskFile

INIT_HELP = """Write a commented starter mogplex.toml in the current directory
(or at -f PATH, else MOGRUN_FILE). Refuses to overwrite; adds .mogrun/ to an
existing .gitignore.

\b
Examples:
  mogrun init
  mogrun -f ci/mogplex.toml init
"""


@click.command("init", help=INIT_HELP)
@click.pass_obj
def init_command(state: CliState) -> int:
    from mogrun.taskfile.discovery import FILE_NAME, refuse_no_file_name, typed_as_folder
    from mogrun.taskfile.editing import starter_text
    from mogrun.textsafety import shell_word

    refuse_no_file_name(state.file, state.env)
    # Where every other command will look first: -f, then MOGRUN_FILE.
    given = state.file or state.env.get("MOGRUN_FILE") or FILE_NAME
    if typed_as_folder(given):  # newdir/ made a file named newdir
        named = "-f" if state.file else "MOGRUN_FILE"
        raise UsageError(f"{given} names a directory; give {named} a file path "
                         f"(e.g. {os.path.join(given, FILE_NAME)})")
    # -f is needed again where discovery (here and above) would not find the file.
    named = f"-f {shell_word(state.file)} " if state.file else ""
    target = _new_file(state.cwd / given, given, named)
    if os.path.islink(state.cwd / given) and not target.parent.is_dir():
        # A link to a file to be is written through, as an editor would; the folders
        # of its target, anywhere on disk, are not made for it.
        raise TaskFileError(f"cannot write {given}: it is a symlink to {target}, whose "
                            "folder does not exist",
                            context=["Make that folder first, or point the link elsewhere."])
    try:  # -f ci/mogplex.toml on a fresh checkout: the folder is made, as git init does
        target.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise TaskFileError(f"cannot write {target}: {_file_on_the_way(target)} is a file, "
                            "not a folder") from exc
    except OSError as exc:
        raise TaskFileError(f"cannot write {target}: {exc.strerror or exc}") from exc
    _write(target, starter_text(), create=True)
    _say(state, f"Created {target}")
    hidden = _found_until_now(target) if target.name == FILE_NAME else None
    if hidden is not None:  # every command run here took it, and now takes this one
        _say(state, f"note: {hidden} is no longer found from {target.parent}: this one "
                    "comes first there")
    _ignore_history(state, target.parent / ".gitignore")
    _say(state, f"Next: mogrun {named}list, mogrun {named}show hello, mogrun {named}--local hello")
    return 0


def _found_until_now(target: Path) -> Path | None:
    """The task file of a folder above ``target``'s that discovery found from there
    until ``target`` was made (``init`` in a subfolder of a project): discovery's
    own answer from the folder above."""
    from mogrun.taskfile.discovery import find_task_file

    above = target.parent.parent
    if above == target.parent:  # the root has no folder above
        return None
    try:
        return find_task_file(None, {}, above)
    except TaskFileError:  # none above, or something in the way of one
        return None


def _say(state: CliState, text: str) -> None:
    """One line of what ``init`` or ``add`` did. Paths are the user's: a name with
    escape codes in it must not act on the terminal. Under ``--json`` (which these
    commands have no objects for) on stderr: stdout then holds JSON only, as the
    option promises, and is empty."""
    from mogrun.textsafety import escape_agent_text

    state.echo(escape_agent_text(text), err=state.json_output)


def _new_file(path: Path, given: str, named: str) -> Path:
    """``path`` resolved (through links), refused if a file is there already or the
    name cannot be one. ``named``: the ``-f PATH `` a command needs to find it."""
    from mogrun.taskfile.discovery import LOOP, resolved

    try:
        target = resolved(path)
        taken = target.exists()
    except OSError as exc:
        why = f"it {LOOP}" if exc.errno == errno.ELOOP else exc.strerror or exc
        raise TaskFileError(f"cannot write {given}: {why}") from exc
    if taken and target.is_dir():  # "add jobs to it" would be no help
        raise UsageError(f"{target} is a directory; not making a task file there",
                         context=["Move it away, or name a file with -f PATH."])
    if taken and not target.is_file():  # a FIFO, a device: add would refuse it too
        raise UsageError(f"{target} already exists and is not a file; not making a task "
                         "file there", context=["Name a file with -f PATH."])
    if taken:
        raise UsageError(f"{target} already exists; not overwriting it",
                         context=[f"Add jobs to it with `mogrun {named}add JOB --repo R "
                                  "--prompt P`."])
    return target


def _file_on_the_way(target: Path) -> Path:
    """The nearest folder of ``target`` that exists as something else than a folder."""
    return next((p for p in reversed(target.parents) if p.exists() and not p.is_dir()),
                target.parent)


def _ignore_history(state: CliState, gitignore: Path) -> None:
    """Add ``.mogrun/`` to an existing ``.gitignore``. The task file is written by
    now, and ``.mogrun/`` ignores itself, so a ``.gitignore`` that cannot take the
    line (not a file, unreadable, not text, a symlink: a checkout's link would have
    the line written wherever it leads) is one warning line, not a failure."""
    from mogrun.statefolder import refuse_links
    from mogrun.taskfile.editing import GITIGNORE_ENTRY, with_gitignore_entry

    try:
        text = _gitignore_text(gitignore)
        if text is None:
            return
        updated = with_gitignore_entry(text)
        if updated is None:
            _say_if_kept(state, gitignore, text)
            return
        refuse_links(gitignore, "init writes through no link")  # as .mogrun's own files
        _write(gitignore, updated)
    except (OSError, TaskFileError, _CannotAdd) as exc:
        _not_added(state, gitignore, _why(exc))
        return
    _say(state, f"Added {GITIGNORE_ENTRY} to {gitignore}")


class _CannotAdd(Exception):
    """Why a ``.gitignore`` that is there cannot take the line: a warning, and
    ``init`` goes on."""


def _gitignore_text(gitignore: Path) -> str | None:
    """The text of ``gitignore`` (``None``: there is none). Bytes that are not
    UTF-8 go back exactly as they were (surrogateescape); NUL bytes (UTF-16, as
    PowerShell writes it) would make the added line one git does not match."""
    if not os.path.lexists(gitignore):
        return None
    if not gitignore.is_file():  # read no pipe or device: it could block init
        raise _CannotAdd(_not_a_file(gitignore))
    raw = gitignore.read_bytes()
    if b"\0" in raw:
        raise _CannotAdd("it is not UTF-8 text (it holds NUL bytes, as UTF-16 does)")
    return raw.decode("utf-8", "surrogateescape")


def _not_a_file(path: Path) -> str:
    """What ``path``, there but not a regular file, is instead."""
    if path.is_dir():
        return "it is a directory"
    if path.is_symlink():
        return "it is a symbolic link to nothing"
    return "it is not a regular file"


def _why(exc: OSError | TaskFileError | _CannotAdd) -> str:
    """The system's reason, without the path ``_write``'s message repeats."""
    cause = exc.__cause__ if isinstance(exc, TaskFileError) else exc
    if isinstance(cause, OSError):
        return cause.strerror or str(cause)
    return exc.message if isinstance(exc, TaskFileError) else str(exc)


def _not_added(state: CliState, gitignore: Path, why: str) -> None:
    """The one line saying the history is not in ``gitignore``, and what to do."""
    from mogrun.taskfile.editing import GITIGNORE_ENTRY

    state.warn(f"could not add {GITIGNORE_ENTRY} to {gitignore}: {why}; add the line "
               f"{GITIGNORE_ENTRY} to your ignore rules by hand")


def _say_if_kept(state: CliState, gitignore: Path, text: str) -> None:
    """A ``!.mogrun/`` line un-ignores the history on purpose: the user hears why
    ``init`` left the file alone, rather than nothing (or a line undoing theirs)."""
    from mogrun.taskfile.editing import GITIGNORE_ENTRY, gitignore_rule

    rule = gitignore_rule(text)
    if rule is not None and rule.startswith("!"):
        _say(state, f"Not adding {GITIGNORE_ENTRY} to {gitignore}: its line {rule} keeps it "
                    "in git on purpose")


ADD_HELP = """Append a job to the task file, keeping every comment and blank line.

\b
Examples:
  mogrun add lint-fix --repo acme/api --prompt "Fix every lint warning."
  mogrun add codemod --repo acme/api --repo acme/web --needs lint-fix \\
      --prompt "..."
  mogrun add triage --repo acme/api --automation issue-triage \\
      --input label=bug
  mogrun add nightly --repo acme/api --prompt "..." --schedule "17 3 * * *"
"""


@click.command("add", help=ADD_HELP)
@click.argument("job")
@click.option("--repo", "repos", multiple=True, required=True, metavar="OWNER/NAME",
              help="Repo to run in (repeat to fan out over several).")
@click.option("--prompt", metavar="TEXT", help="The agent's instructions (or --prompt-file, "
              "or --automation).")
@click.option("--prompt-file", metavar="PATH", shell_complete=complete_files,
              help="A file holding them, relative to the "
              "task file (templated as a prompt).")
@click.option("--automation", metavar="NAME", help="Trigger this published automation "
              "instead of starting a run (its name or id; see mogrun automations).")
@click.option("--input", "inputs", multiple=True, metavar="KEY=VALUE",
              help="One key of the automation's input (repeatable; values are strings).")
@click.option("--needs", multiple=True, metavar="JOB", help="A job that must pass first "
              "(repeatable).")
@click.option("--description", metavar="TEXT", help="Shown by `mogrun list`.")
@click.option("--branch", metavar="NAME", help="The working branch (a template, as "
              "fix/{{ date }}; default: the server's).")
@click.option("--base-branch", metavar="NAME", help="The branch to start from (default: the "
              "repo's default branch).")
@click.option("--create-branch", is_flag=True, default=None,
              help="Create the working branch.")
@click.option("--root", metavar="PATH", help="The directory inside the repo the agent works "
              "in (a monorepo's package; default: the repo's root).")
@click.option("--harness", metavar="NAME", help="The agent: codex or claude-code (default: "
              r"\[defaults], else the server's).")
@click.option("--timeout", metavar="DURATION", help="How long mogrun follows the run, as 25m or "
              r"1h30m (default: \[defaults], else 30m).")
@click.option("--on-timeout", metavar="ACTION", help="At the timeout: cancel the run, or "
              r"detach (leave it going, stop following it); default: \[defaults], else cancel.")
@click.option("--capacity-wait", metavar="DURATION", help="How long a start may wait for a "
              r"free sandbox (default: \[defaults], else 30m).")
@click.option("--idempotency-key", metavar="KEY", help="One run per key, however often the job "
              'is retried (a template, as "nightly-{{ date }}"; default: a new key each time).')
@click.option("--schedule", "schedules", multiple=True, metavar="CRON",
              help='When `mogrun ci github` runs it, five fields in UTC, as "17 3 * * 1" '
              "(repeatable).")
@click.pass_obj
def add_command(state: CliState, job: str, repos: tuple[str, ...], prompt: str | None,
                prompt_file: str | None, automation: str | None, inputs: tuple[str, ...],
                needs: tuple[str, ...], description: str | None, branch: str | None,
                base_branch: str | None, create_branch: bool | None, root: str | None,
                harness: str | None, timeout: str | None, on_timeout: str | None,
                capacity_wait: str | None, idempotency_key: str | None,
                schedules: tuple[str, ...]) -> int:
    from mogrun.atomic import editing
    from mogrun.taskfile.discovery import find_task_file
    from mogrun.taskfile.editing import NewJob, append_job
    from mogrun.taskfile.jobnames import JOB_NAME, JOB_NAME_RULE
    from mogrun.tomltext import basic_string

    if not JOB_NAME.fullmatch(job):
        raise UsageError(f"invalid job name {basic_string(job)}: {JOB_NAME_RULE}")
    if any(not r.strip() for r in repos):  # the rest of a repo's form is check's to judge
        raise UsageError("--repo expects owner/name or a repo id")
    _one_of_prompt_or_automation({"--prompt": prompt, "--prompt-file": prompt_file,
                                  "--automation": automation}, inputs)
    path = find_task_file(state.file, state.env, state.cwd)
    unique: dict[str, str] = {}
    for repo in repos:  # owner/name ignores case: Acme/API is acme/api
        unique.setdefault(repo.strip().casefold(), repo.strip())  # stripped, as it is sent
    new = NewJob(name=job, repos=tuple(unique.values()), prompt=prompt, prompt_file=prompt_file,
                 branch=branch, base_branch=base_branch, create_branch=create_branch,
                 needs=tuple(dict.fromkeys(needs)), description=description,
                 automation=automation, inputs=_input_pairs(inputs), root=root,
                 harness=harness, timeout=timeout, on_timeout=on_timeout,
                 capacity_wait=capacity_wait, idempotency_key=idempotency_key,
                 schedules=tuple(dict.fromkeys(schedules)))
    def waiting() -> None:
        state.warn(f"waiting for another mogrun editing a file of {path.parent} to end "
                   "(Ctrl-C leaves, writing nothing)")

    with editing(path, waiting):  # another add at once waits: each adds to what it wrote
        original, before, bom, raw = _existing(path)
        try:
            text = append_job(original, before.job_names if before else [], new,
                              _need_hint(before) if before is not None else None)
        except TaskFileError as refused:  # the file's way with its jobs: said where
            if refused.location is not None or before is None:
                raise
            raise refused.evolve(location=before.location("jobs")) from None
        _refuse_the_token(state, original, text, path, job)
        warnings = _refuse_what_check_refuses(state, path, text, job, before)
        if bom:
            text = "\ufeff" + text  # the byte order mark the file was read without
        _write(path, text, unchanged=raw)
    _say(state, f'Added job "{job}" to {path}')
    for warning in warnings:
        state.warn(str(warning))
    # A job without --schedule still takes [defaults]' schedule, and so ci github's too.
    inherited = before is not None and "schedule" in before.defaults
    _say(state, _next_for(state, job, scheduled=bool(schedules) or inherited))
    return 0


def _next_for(state: CliState, job: str, *, scheduled: bool) -> str:
    """What to try with the job just added, as ``init`` says it of ``hello``: -f
    again where discovery would not find the file, ``run`` before a job named like
    a command, and ``ci github`` for a schedule."""
    from mogrun.cli.commands import COMMANDS
    from mogrun.textsafety import shell_word

    named = f"-f {shell_word(state.file)} " if state.file else ""
    running = f"run {job}" if job in COMMANDS else job
    steps = [f"mogrun {named}show {job}", f"mogrun {named}--local {running}"]
    if scheduled:
        steps.append(f"mogrun {named}ci github")
    return "Next: " + ", ".join(steps)


def _one_of_prompt_or_automation(given: dict[str, str | None],
                                 inputs: tuple[str, ...]) -> None:
    """A job starts a run (``--prompt`` or ``--prompt-file``) or triggers an
    automation: one of the three (``given``: each flag's value)."""
    named = [(flag, value) for flag, value in given.items() if value is not None]
    if len(named) != 1:
        raise UsageError("give --prompt or --prompt-file (an agent run) or --automation "
                         "(trigger an automation), one of them")
    flag, value = named[0]
    if not value.strip():
        raise UsageError(f"{flag} must not be empty")
    if inputs and flag != "--automation":
        raise UsageError("--input is an automation's input: give --automation too")


def _input_pairs(inputs: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` items as pairs, each key once (the last one given wins)."""
    pairs: dict[str, str] = {}
    for item in inputs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--input expects KEY=VALUE, not {item!r}")
        pairs[key.strip()] = value
    return tuple(pairs.items())


def _existing(path: Path) -> tuple[str, TaskFile | None, bool, bytes]:
    """The text of the task file at ``path`` (read once), the file it makes,
    whether it starts with a byte order mark, and its bytes as read (the file must
    still hold them when the new one replaces it). A file of nothing but blank space
    (as a bare ``touch`` leaves it) has no job (``None``), and adding the first is
    what it needs: only other commands refuse it as empty."""
    from mogrun.taskfile.parse import NotUtf8, is_blank, load_task_file, parse_task_file, utf8_text

    try:
        raw = path.read_bytes()
        text = utf8_text(raw)
    except (OSError, NotUtf8):
        load_task_file(path)  # says what is wrong, located
        raise
    bom = raw.startswith(b"\xef\xbb\xbf")
    if is_blank(text):
        return text, None, bom, raw
    return text, parse_task_file(path, text), bom, raw


def _need_hint(taskfile: TaskFile) -> Callable[[str], list[str]]:
    """``check``'s hint for a need of no job (``graph.unknown_need_hint``): beside
    ``[jobs.release.v1]`` (no quotes: a job "release"), ``--needs release.v1`` was
    told 'did you mean "release"?', which ``check`` then refused with the quoting
    hint. Judged with mogrun's own keys (its plugins are loaded later)."""
    from mogrun.taskfile.graph import unknown_need_hint
    from mogrun.taskfile.validation import misdotted_jobs, names_meant

    meant = names_meant(taskfile, misdotted_jobs(taskfile, {}), {})
    return lambda need: unknown_need_hint(need, taskfile, meant)


def _refuse_the_token(state: CliState, original: str, text: str, path: Path, job: str) -> None:
    """The new job may not hold the API token (``--prompt "... $MOGPLEX_API_KEY"``):
    the file is committed. Said without the value."""
    from mogrun.taskfile.validation import WRITTEN_TOKEN, written_token

    if written_token(original, state.env) is None and written_token(text, state.env):
        raise TaskFileError(f'job "{job}" {WRITTEN_TOKEN}',
                            context=[f"Nothing was written to {path}."])


def _refuse_what_check_refuses(state: CliState, path: Path, text: str, job: str,
                               before: TaskFile | None) -> list[CheckWarning]:
    """``add`` writes nothing that ``check`` would refuse in the new job (a
    template typo, a server limit); problems elsewhere in the file are not its.
    What ``check`` would warn of that the file ``before`` it did not warn of (a
    schedule at minute 0, a job named like a command) is returned, to be said.
    The job is judged as the file will be, without ``--set`` (a name given only
    on this line would be unknown to every later command), though a ``--set``
    no template uses is a typo here as for every command; its plugins load as
    for ``check`` (``--no-plugins`` leaves them out): one that cannot load is a
    warning, the job judged with the others, unless the job would inherit a key
    no loaded plugin declares."""
    from mogrun.cli.commands import COMMANDS
    from mogrun.cli.loading import checked_host, refuse_unused_sets
    from mogrun.taskfile.checking import validate
    from mogrun.taskfile.parse import parse_task_file

    added = parse_task_file(path, text)
    refuse_unused_sets(state, added)
    from mogrun.taskfile.graph import find_cycles

    # check says a cycle at its first job in the file: one through the new job's
    # needs is the new job's (a needs ["b"] already there, and b added needing a).
    for cycle in find_cycles(added):
        if job in cycle:
            raise TaskFileError(f'job "{job}" would close a needs cycle: {" -> ".join(cycle)}',
                                context=[f"Nothing was written to {path}."])
    host, unloaded = checked_host(state, added)

    def judged(taskfile: TaskFile) -> Report:
        return validate(taskfile, host.key_specs(), state.env, sets={},
                        command_names=COMMANDS.keys(), secrets=host.known_secrets,
                        found=unloaded)

    report = judged(added)
    problems = [e for e in report.errors if _is_of_the_job(e, added, job, bool(unloaded))]
    if problems:
        first, more = problems[0], len(problems) - 1
        extra = [f"({more} more problem{'s' * (more > 1)} in this job)"] if more else []
        # The new job's lines are not written: only a line already in the file is shown.
        ours = getattr(first, "job", None) == job
        inherited = [] if ours else [f'Job "{job}" would inherit it.']
        shown = None if ours else getattr(first, "location", None)
        raise TaskFileError(first.message, location=shown,
                            context=[*inherited, *first.context, *extra,
                                     f"Nothing was written to {path}."])
    for problem in unloaded:  # the file's problem, not the new job's: check lists it
        where = f" ({problem.location})" if problem.location else ""
        state.warn(f"{problem.message}{where}")
    # The new job is appended: the lines before it, and what they are warned of, stay.
    known = set(judged(before).warnings) if before is not None and report.warnings else set()
    return [warning for warning in report.warnings if warning not in known]


def _is_of_the_job(error: MogrunError, taskfile: TaskFile, job: str, unloaded: bool) -> bool:
    """A problem of ``job``, or (a plugin of the file did not load) an unknown
    ``[defaults]`` key it inherits: most likely that plugin's, and the job cannot be
    judged without it."""
    from mogrun.errors import UnknownKeyError

    if getattr(error, "job", None) == job:
        return True
    key = getattr(error, "key", None)
    return (unloaded and isinstance(error, UnknownKeyError) and getattr(error, "job", None) is None
            and key in taskfile.defaults and key not in taskfile.jobs[job])


def _write(path: Path, text: str, create: bool = False, unchanged: bytes | None = None) -> None:
    """Write ``text`` exactly (no newline translation), whole or not at all;
    ``create`` refuses to overwrite; ``unchanged``: the bytes ``text`` was made
    from, which the file must still hold (``atomic.write_atomically``)."""
    from mogrun.atomic import ChangedMeanwhile, write_atomically

    try:
        write_atomically(path, text.encode("utf-8", "surrogateescape"), create=create,
                         unchanged=unchanged)
    except ChangedMeanwhile as exc:
        raise UsageError(f"{path} changed while mogrun read it (saved by an editor, or "
                         "written by another program): nothing written, so that change "
                         "is kept", context=["Run the same command again."]) from exc
    except FileExistsError as exc:
        raise UsageError(f"{path} already exists; not overwriting it") from exc
    except OSError as exc:
        raise TaskFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
