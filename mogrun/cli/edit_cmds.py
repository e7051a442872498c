"""``init`` and ``add``: write task files without disturbing what people wrote."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mogrun.cli import framework as click
from mogrun.cli.state import CliState
from mogrun.errors import TaskFileError, UsageError

if TYPE_CHECKING:
    from mogrun.taskfile.parse import TaskFile

INIT_HELP = """Write a commented starter mogplex.toml in the current directory
(or at -f PATH). Refuses to overwrite; adds .mogrun/ to an existing .gitignore.

\b
Examples:
  mogrun init
  mogrun -f ci/mogplex.toml init
"""


@click.command("init", help=INIT_HELP)
@click.pass_obj
def init_command(state: CliState) -> int:
    from mogrun.taskfile.discovery import FILE_NAME
    from mogrun.taskfile.editing import starter_text, with_gitignore_entry

    target = (state.cwd / (state.file or FILE_NAME)).resolve()
    if target.exists():
        raise UsageError(f"{target} already exists; not overwriting it",
                         context=["Add jobs to it with `mogrun add JOB --repo R --prompt P`."])
    _write(target, starter_text(), create=True)
    click.echo(f"Created {target}")
    gitignore = target.parent / ".gitignore"
    if gitignore.is_file():
        # Bytes that are not UTF-8 go back exactly as they were (surrogateescape).
        updated = with_gitignore_entry(gitignore.read_bytes().decode("utf-8", "surrogateescape"))
        if updated is not None:
            _write(gitignore, updated)
            click.echo(f"Added .mogrun/ to {gitignore}")
    click.echo("Next: mogrun list, mogrun show hello, mogrun --local hello")
    return 0


ADD_HELP = """Append a job to the task file, keeping every comment and blank line.

\b
Examples:
  mogrun add lint-fix --repo acme/api --prompt "Fix every lint warning."
  mogrun add codemod --repo acme/api --repo acme/web --prompt "..." --needs lint-fix
"""


@click.command("add", help=ADD_HELP)
@click.argument("job")
@click.option("--repo", "repos", multiple=True, required=True, metavar="OWNER/NAME",
              help="Repo to run in (repeat to fan out over several).")
@click.option("--prompt", required=True, metavar="TEXT", help="The agent's instructions.")
@click.option("--needs", multiple=True, metavar="JOB", help="A job that must pass first "
              "(repeatable).")
@click.option("--description", metavar="TEXT", help="Shown by `mogrun list`.")
@click.pass_obj
def add_command(state: CliState, job: str, repos: tuple[str, ...], prompt: str,
                needs: tuple[str, ...], description: str | None) -> int:
    from mogrun.cli.loading import load_taskfile
    from mogrun.taskfile.editing import NewJob, append_job
    from mogrun.taskfile.validation import JOB_NAME, JOB_NAME_RULE

    if not JOB_NAME.fullmatch(job):
        raise UsageError(f'invalid job name "{job}": {JOB_NAME_RULE}')
    if any(not r.strip() or any(c.isspace() for c in r) for r in repos):
        raise UsageError("--repo expects owner/name or a repo id")
    if not prompt.strip():
        raise UsageError("--prompt must not be empty")
    taskfile = load_taskfile(state)
    unique: dict[str, str] = {}
    for repo in repos:  # owner/name ignores case: Acme/API is acme/api
        unique.setdefault(repo.casefold(), repo)
    new = NewJob(name=job, repos=tuple(unique.values()), prompt=prompt,
                 needs=tuple(dict.fromkeys(needs)), description=description)
    text = append_job(taskfile.text, taskfile.job_names, new)
    _refuse_what_check_refuses(state, taskfile, text, job)
    if taskfile.path.read_bytes().startswith(b"\xef\xbb\xbf"):
        text = "\ufeff" + text  # the byte order mark the file was read without
    _write(taskfile.path, text)
    click.echo(f'Added job "{job}" to {taskfile.path}')
    return 0


def _refuse_what_check_refuses(state: CliState, taskfile: TaskFile, text: str,
                               job: str) -> None:
    """``add`` writes nothing that ``check`` would refuse in the new job (a
    template typo, a server limit); problems elsewhere in the file are not its."""
    from mogrun.cli.loading import load_host
    from mogrun.taskfile.checking import validate
    from mogrun.taskfile.parse import parse_task_file

    added = parse_task_file(taskfile.path, text)
    host = load_host(state, added)
    report = validate(added, host.key_specs(), state.env, sets=state.sets)
    problems = [e for e in report.errors if getattr(e, "job", None) == job]
    if problems:
        first, more = problems[0], len(problems) - 1
        extra = [f"({more} more problem{'s' * (more > 1)} in this job)"] if more else []
        raise TaskFileError(first.message, context=[*first.context, *extra,
                                                    f"Nothing was written to {taskfile.path}."])


def _write(path: Path, text: str, create: bool = False) -> None:
    """Write ``text`` exactly (no newline translation); ``create`` refuses to overwrite."""
    try:
        with path.open("x" if create else "w", encoding="utf-8", errors="surrogateescape",
                       newline="") as handle:
            handle.write(text)
    except FileExistsError as exc:
        raise UsageError(f"{path} already exists; not overwriting it") from exc
    except OSError as exc:
        raise TaskFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
