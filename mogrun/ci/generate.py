"""From a task file to the workflow text: validation, where the file lives,
the regenerating command, and the plan rendered."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from mogrun import __version__
from mogrun.errors import MogrunError, TaskFileError, UsageError

if TYPE_CHECKING:
    from mogrun.ci.plan import GitHubJob
    from mogrun.models import KeySpec
    from mogrun.taskfile.parse import TaskFile

DEFAULT_OUTPUT = Path(".github/workflows/mogrun.yml")
GITHUB_MAX_MATRIX = 256  # jobs one matrix may generate, per workflow run (GitHub's limit)


def repository_root(task_file: Path) -> Path:
    """The nearest directory at or above the task file's with a ``.git`` (a
    directory, or a file in a worktree or submodule); else the task file's own.
    A task file that is a symlink is where it is named, as everywhere in mogrun:
    the repository that holds the link, not the one its target is in."""
    start = _named(task_file).parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def generate(taskfile: TaskFile, key_specs: Mapping[str, KeySpec], *, root: Path,
             output: Path, shards: int = 1, default_output: bool = True,
             secrets: Collection[str] = (), shards_from: str | None = None,
             installed_plugins: Sequence[str] = (),
             install: str | None = None) -> tuple[str, list[str]]:
    """The workflow's text and warnings; ``TaskFileError``/``UsageError`` (exit 2)
    for a file that cannot be scheduled as it is (``secrets``: the invocation's,
    masked as ``check`` masks them; ``shards_from``: the file whose header gave
    ``shards``, when no ``--shards`` did; ``installed_plugins``: the plugins loaded
    here through entry points, which the runner will not have; ``install``: what
    the workflow's ``pip install`` installs, as ``install_requirement`` judged it,
    ``None`` for this version of mogrun)."""
    from mogrun.ci.plan import plan
    from mogrun.ci.runenv import EnvNames
    from mogrun.ci.workflow import render

    refuse_what_check_refuses(taskfile, key_specs, secrets)
    _refuse_names_one_to_github(taskfile)
    _refuse_too_many_legs(taskfile, shards, shards_from)
    built = plan(taskfile, shards)
    if not built.jobs:
        raise NothingScheduled(f"no job in {taskfile.path} has a schedule, so there is "
                               "nothing to put in a workflow",
                               context=['Add schedule = "17 6 * * 1" (cron, UTC) to a job.'],
                               task_file=_relative(taskfile.path, root))
    env_names = EnvNames(taskfile, key_specs)
    built = replace(built, jobs=tuple(replace(job, env=env_names.passed(job.runs, job.job))
                                      for job in built.jobs))
    task_file = _relative(taskfile.path, root)
    _refuse_expression_in(task_file)
    command = regenerating_command(taskfile.path, root=root, output=output, shards=shards,
                                   default_output=default_output, install=install)
    text = render(built, version=__version__, task_file=task_file, command=command,
                  install=install)
    from mogrun.ci.schedules import schedule_warnings

    # check's warnings of the schedules are the workflow's: a job GitHub starts twice.
    # Each once: a job of a sharded group is a matrix there and on its own (dispatched
    # by name), and what is said of it is said of both, word for word.
    return text, list(dict.fromkeys([
        *map(str, schedule_warnings(taskfile)), *built.warnings, *env_names.warnings,
        *_leg_slot_warnings(taskfile, key_specs, built.jobs),
        *_plugin_warnings(taskfile, installed_plugins), *_loopback_url_warnings(taskfile),
        *_unsharded_warnings(built.jobs, shards, shards_from)]))


def _leg_slot_warnings(taskfile: TaskFile, key_specs: Mapping[str, KeySpec],
                       jobs: Sequence[GitHubJob]) -> list[str]:
    """``check``'s warning of runs that will most likely give up waiting for a
    sandbox slot (``limits.slot_wait_problem``), judged on each matrix's legs: a
    leg takes 1/N of the account's slots (as ``run --shard`` does), so a job whose
    runs fit the account unsharded may not fit a leg."""
    from mogrun.ci.plan import leg_slots
    from mogrun.ci.shard import Shard, slice_jobs
    from mogrun.taskfile.limits import slot_wait_problem
    from mogrun.taskfile.resolve import check_job
    from mogrun.taskfile.templates import TemplateClock

    cap, clock = leg_slots(taskfile.settings), TemplateClock.now()  # the runner's slots
    found: list[str] = []
    for matrix in (job for job in jobs if job.shards > 1):
        built = check_job(taskfile, matrix.job, key_specs=key_specs, env={}, sets={},
                          clock=clock).job
        if built is None:
            continue
        share = leg_slots(taskfile.settings, matrix.shards)
        source = f"the account's {cap}, [mogplex] sandboxes, split {matrix.shards} ways"
        for index in range(1, matrix.shards + 1):
            legs = slice_jobs([built], Shard(index, matrix.shards))
            problem = legs and slot_wait_problem(
                legs[0], share, source, leg=f"leg {index} of --shards {matrix.shards}")
            if problem:
                found.append(problem)
                break
    return found


class NothingScheduled(UsageError):
    """No job has a schedule: no workflow. ``task_file``: the file as a workflow's
    header names it, to tell whether one written from it is still there."""

    def __init__(self, message: str, *, context: list[str], task_file: str) -> None:
        super().__init__(message, context=context)
        self.task_file = task_file


def _refuse_too_many_legs(taskfile: TaskFile, shards: int, shards_from: str | None) -> None:
    """More legs than the token's limits can be split into, or than one GitHub
    matrix may run; the message names whichever binds, and so the real maximum,
    and where the count came from: ``--shards``, or (``shards_from``) the
    header of the workflow being regenerated, which the user did not type."""
    from mogrun.ci.plan import is_sharded
    from mogrun.ci.shard import TooManyLegs, most_legs, too_many_legs

    # The legs' agent runs take slots and starts; automations' take neither. With no
    # job made a matrix at all, every job is judged: what fits is what N legs would.
    sharded = [name for name in taskfile.jobs if is_sharded(taskfile, name, shards)]
    runs = any("automation" not in taskfile.job_keys(name)
               for name in sharded or taskfile.jobs)
    most = most_legs(taskfile.settings, runs=runs)
    problem = too_many_legs(taskfile.settings, shards, runs=runs)
    context = []
    if problem is not None and problem.limit not in taskfile.settings:
        # run --shard counts on this shell's MOGRUN_SANDBOXES; the runner has none of it.
        context.append(f"{problem.most} is the API's default: the workflow's runner reads "
                       f"the task file's [mogplex] {problem.limit}, not this shell's "
                       "environment; set it there if the account has more.")
    if shards > GITHUB_MAX_MATRIX and (most is None or most >= GITHUB_MAX_MATRIX):
        problem = TooManyLegs(f"a GitHub Actions matrix runs at most {GITHUB_MAX_MATRIX} jobs",
                              GITHUB_MAX_MATRIX, "")
        context = []
    if problem is None:
        return
    if shards_from is None:
        raise UsageError(f"--shards {shards}: {problem.reason}; use at most {problem.most} "
                         "shards", context=context)
    most = problem.most
    fewer = f"--shards {most}" + (" (or --shards 1: unsharded)" if most > 1 else " (unsharded)")
    raise UsageError(f"{shards_from} was generated with --shards {shards} (its header's "
                     f"command), and {problem.reason}",
                     context=[f"Regenerate it with {fewer}.", *context])


def _refuse_expression_in(task_file: str) -> None:
    """GitHub evaluates ``${{ ... }}`` anywhere in ``MOGRUN_FILE``'s value, and
    allows none in the workflow's ``name``, both of which hold the task file's
    path: a folder named ``${{ github.actor }}`` would become the actor's. A path
    that is not UTF-8 (a folder named in Latin-1) is refused too: YAML holds no such
    bytes, and mogrun refuses it as ``MOGRUN_FILE``, so every run would fail."""
    from mogrun.textsafety import not_utf8

    shown = not_utf8(task_file)
    if shown is not None:
        raise UsageError(f"the task file's path, {shown}, is not UTF-8 text, which a workflow "
                         "cannot hold (and mogrun refuses as MOGRUN_FILE)",
                         context=["Rename the folder or the file."])
    if "${{" in task_file:
        raise UsageError(f"the task file's path, {task_file}, holds \"${{{{\", which GitHub "
                         "reads as the start of an expression in the workflow's name and "
                         "MOGRUN_FILE", context=["Rename the folder or the file."])


INSTALL_EXAMPLES = ("mogrun==0.2.0 (from an index), git+https://github.com/acme/mogrun@v0.1.0 "
                    "(a tag or commit of a repository) or a wheel's URL")


def install_requirement(value: str, *, recorded_in: str | None = None) -> str:
    """``--install``'s value as the workflow installs it (without surrounding
    blanks), or ``UsageError`` (exit 2) for one it cannot install: the workflow
    runs ``python -m pip install <value>`` with the value shell-quoted as one
    word, so it must be one requirement (not a pip option), on one line, with
    no GitHub expression. ``recorded_in``: the workflow whose header's command
    gave it (the user typed no ``--install``), which the message names."""
    import shlex

    problem = _install_problem(value)
    if problem is None:
        return value.strip()
    shown = _escaped(shlex.quote(value))
    if recorded_in is None:
        raise UsageError(f"--install {shown} {problem}",
                         context=[f"Give what pip installs: {INSTALL_EXAMPLES}."])
    raise UsageError(f"{recorded_in} was generated with --install {shown} (its header's "
                     f"command), which {problem}",
                     context=[f"Regenerate it with --install REQUIREMENT (--install "
                              f"mogrun=={__version__} for the default)."])


def _install_problem(value: str) -> str | None:
    """Why the workflow cannot ``pip install`` ``value`` (``None``: it can)."""
    if not value.strip():
        return "is empty, not a requirement"
    odd = next((c for c in value if _unwritable(c)), None)
    if odd is not None:
        return (f"holds U+{ord(odd):04X}, a line break or another control or invisible "
                "character, which no requirement holds")
    if value.strip().startswith("-"):
        return "is a pip option, not a requirement"
    if "${{" in value:
        return ("holds \"${{\", which GitHub reads as the start of an expression in the "
                "step's run line")
    return None


def _unwritable(char: str) -> bool:
    """A character a requirement has no use for and the workflow would hold other
    than as written: control and format characters (a line break, a tab, a
    right-to-left override), line and paragraph separators, surrogates (bytes
    that were no UTF-8), and those a YAML comment writes escaped (U+FFFE)."""
    import unicodedata

    from mogrun.ci.yamltext import in_comment

    return unicodedata.category(char) in {"Cc", "Cf", "Cs", "Zl", "Zp"} \
        or in_comment(char) != char


def _escaped(text: str) -> str:
    """``text`` to show in a message: what ``_unwritable`` refuses written as an escape."""
    import json

    return "".join(json.dumps(c)[1:-1] if _unwritable(c) else c for c in text)


def refuse_what_check_refuses(taskfile: TaskFile, key_specs: Mapping[str, KeySpec],
                              secrets: Collection[str] = ()) -> None:
    """Raise ``check``'s first error, if any: a workflow must not run a job that
    ``mogrun run`` would refuse. It is judged with no environment and no
    ``--set``, as the workflow runs it: an ``env`` name, whatever its value
    here, is only a warning of ``check``'s (the runner's value is unknown)."""
    from mogrun.taskfile.checking import validate

    errors = validate(taskfile, key_specs, env={}, sets={}, secrets=secrets).errors
    if errors:
        raise _first(errors)


def _refuse_names_one_to_github(taskfile: TaskFile) -> None:
    """The first job name GitHub would confuse with another (``names``' rule)."""
    from mogrun.ci.names import job_name_problems
    from mogrun.ci.schedules import scheduled_jobs

    for problem in job_name_problems(taskfile.jobs, scheduled_jobs(taskfile)):
        raise TaskFileError(problem.message, location=taskfile.location("jobs", problem.job),
                            job=problem.job, context=[problem.advice])


def _first(errors: list[MogrunError]) -> MogrunError:
    first = errors[0]
    if len(errors) > 1:
        return first.evolve(context=(*first.context, "(run `mogrun check` to see every problem)"))
    return first


def _relative(path: Path, root: Path) -> str:
    """``path`` from ``root``, as named (a symlink is not followed out of it), as the
    UTF-8 text the workflow holds: under a locale that is not UTF-8 a name comes as
    the bytes it is (``textsafety.as_typed``); one whose bytes are no UTF-8 is left
    for the refusal."""
    from mogrun.textsafety import as_typed

    relative = _named(path).as_posix()  # outside the root: as named
    for named, base in ((_named(path), _named(root)), (path.resolve(), root.resolve())):
        with contextlib.suppress(ValueError):
            relative = named.relative_to(base).as_posix()
            break
    return as_typed(relative) or relative


def _named(path: Path) -> Path:
    """``path`` made absolute without following symlinks (``..`` read as written)."""
    import os

    return Path(os.path.abspath(path))


def regenerating_command(task_path: Path, *, root: Path, output: Path, shards: int = 1,
                         default_output: bool = True, install: str | None = None,
                         typed: Collection[str] = ()) -> str:
    """The command that regenerates the file (the header's, and ``--check``'s
    hint), spelled from the repository root and quoted for a POSIX shell, so
    that it can be pasted as it is. ``--shards`` and ``--install`` are named unless
    they are the default, or when ``typed`` holds them: ``--check``'s hint repeats
    what its line gave (``--check --shards 1`` of a sharded file said "Run `mogrun
    ci github`", which keeps the header's shards, so the check never passed)."""
    import shlex

    from mogrun.ci.workflow import default_install

    task_file = _relative(task_path, root)
    output_path = None if default_output else _relative(output, root)
    parts = ["mogrun"]
    if task_file != "mogplex.toml":
        parts += ["-f", task_file]
    parts += ["ci", "github"]
    if output_path is not None and output_path != DEFAULT_OUTPUT.as_posix():
        parts += ["-o", output_path]
    if shards > 1 or "--shards" in typed:
        parts += ["--shards", str(shards)]
    if install is not None and (install != default_install(__version__) or "--install" in typed):
        parts += ["--install", install]
    return shlex.join(parts)


def _unsharded_warnings(jobs: Sequence[GitHubJob], shards: int,
                        shards_from: str | None) -> list[str]:
    """``--shards N`` that makes no scheduled job a matrix (none fans out over 2N
    repos or more): the header still records it, and nothing said it changed nothing."""
    if shards <= 1 or any(job.shards > 1 for job in jobs):
        return []
    given = "" if shards_from is None else f" (the header's of {shards_from})"
    return [f"--shards {shards}{given} splits no job: a scheduled job becomes {shards} legs "
            f"only when it fans out over {2 * shards} repos or more, so each runs whole"]


def _loopback_url_warnings(taskfile: TaskFile) -> list[str]:
    """A task file whose ``url`` is loopback (an emulator's, left from trying it
    out) reaches nothing from a runner: every scheduled run failed to connect, and
    generating said nothing. The repository variable comes first, so it mends it."""
    from urllib.parse import urlsplit

    from mogrun.loopback import is_loopback_host

    url = taskfile.url
    try:
        host = urlsplit(url).hostname if url else None
    except ValueError:  # check refused it already
        return []
    if not is_loopback_host(host):
        return []
    return [f"the task file's url is loopback ({host}), which no GitHub runner reaches: "
            "every scheduled run would fail to connect unless the repository variable "
            "MOGPLEX_URL names the API (the workflow passes it, and it comes first)"]


def _plugin_warnings(taskfile: TaskFile, installed: Sequence[str] = ()) -> list[str]:
    """Plugins the runner will not have: the task file's named as modules, and those
    installed here (``installed``: loaded through their entry points). The workflow
    installs only mogrun, and a step added by hand is an edit regenerating refuses."""
    modules = [p for p in taskfile.plugins if not p.endswith(".py")]
    found = []
    if modules:
        found.append(f"the task file loads plugin module(s) {', '.join(modules)}, which the "
                     "workflow does not install (it installs only mogrun)")
    if installed:
        found.append(f"plugin(s) {', '.join(installed)} are installed here (loaded through "
                     "their entry points), not on the runner: the workflow installs only "
                     "mogrun, so its jobs run without them")
    if found:
        found[-1] += ("; put a plugin in the repository and name it by its .py path in "
                      "[mogplex].plugins (the checkout brings it), or run these jobs from a "
                      "workflow of your own (an install step added to this one is an edit "
                      "that regenerating refuses)")
    return found
