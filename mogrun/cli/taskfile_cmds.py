"""``list``, ``check`` and ``show``: what the task file says and what a run
would send, instantly and without network.

``list`` must start fast: it loads the task file with tomllib only — no
plugins, no rich, no HTTP code — and so does not reject plugin keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mogrun.cli import framework as click
from mogrun.cli.completion import complete_jobs
from mogrun.cli.listing import job_summary as job_summary  # its home is listing.py
from mogrun.cli.loading import load_taskfile
from mogrun.cli.state import CliState
from mogrun.errors import MogrunError, TaskFileError
from mogrun.taskfile.parse import TaskFile

if TYPE_CHECKING:
    from mogrun.models import ResolvedJob

LIST_HELP = """List the jobs of the task file.

\b
Examples:
  mogrun list
  mogrun --json list | jq -r .job
"""


@click.command("list", help=LIST_HELP)
@click.pass_obj
def list_command(state: CliState) -> int:
    from mogrun.cli.listing import list_jobs

    return list_jobs(state)


CHECK_HELP = """Validate the task file without network: keys, types, templates,
prompt files, server limits, the needs graph and plugins. Exit 0 or 2.

\b
Examples:
  mogrun check
  mogrun -f ci/mogplex.toml check
"""


@click.command("check", help=CHECK_HELP)
@click.option("-p", "--plugin", "plugins", multiple=True, metavar="NAME",
              help="Load an extra plugin (module name or .py path).")
@click.pass_obj
def check_command(state: CliState, plugins: tuple[str, ...]) -> int:
    from mogrun.cli.loading import check_config, load_host
    from mogrun.cli.main import COMMANDS
    from mogrun.taskfile.checking import validate

    loaded: TaskFile | None = None
    try:
        taskfile = loaded = load_taskfile(state)
        host = load_host(state, taskfile, plugins)
        host.configure(check_config(state, taskfile))
    except TaskFileError as error:
        if not state.json_output:
            raise
        # --json: a file that cannot even be loaded (or its plugins) is still reported as JSON.
        location = error.location
        path = str(loaded.path) if loaded else location.path if location else None
        click.echo(json.dumps({"ok": False, "file": path, "errors": [_error_json(error)],
                               "warnings": []}))
        return 2
    report = validate(taskfile, host.key_specs(), state.env, sets=state.sets,
                      command_names=list(COMMANDS))
    if state.json_output:
        click.echo(json.dumps({"ok": not report.errors, "file": str(taskfile.path),
                               "errors": [_error_json(e) for e in report.errors],
                               "warnings": report.warnings}))
    else:
        _print_report(taskfile, report)
    return 2 if report.errors else 0


def _print_report(taskfile: TaskFile, report: Any) -> None:
    from mogrun.textsafety import escape_agent_text

    for error in report.errors:
        lines = [escape_agent_text(line) for line in error.lines()]
        click.echo(f"Error: {lines[0]}", err=True)
        for line in lines[1:]:
            click.echo(line, err=True)
    for warning in report.warnings:
        click.echo(f"Warning: {escape_agent_text(warning)}", err=True)
    if report.errors:
        count = len(report.errors)
        click.echo(f"{count} problem{'s' * (count > 1)} in {taskfile.path}", err=True)
    else:
        count = len(taskfile.jobs)
        click.echo(f"{taskfile.path}: ok ({count} job{'s' * (count != 1)})")


def _error_json(error: MogrunError) -> dict[str, Any]:
    location = getattr(error, "location", None)
    return {"message": error.message, "context": list(error.context),
            "file": location.path if location else None,
            "line": location.line if location else None,
            "column": location.column if location else None}


SHOW_HELP = """Show the fully resolved jobs, needs first, and the exact start
request(s) a run would send (token and secrets masked). No network.

\b
Examples:
  mogrun show weekly-cleanup
  mogrun --set team=web show codemod
  mogrun --json show codemod
"""


@click.command("show", help=SHOW_HELP)
@click.argument("jobs", nargs=-1, required=True, shell_complete=complete_jobs)
@click.option("--no-deps", is_flag=True, help="Do not include the jobs' needs.")
@click.option("-p", "--plugin", "plugins", multiple=True, metavar="NAME",
              help="Load an extra plugin (module name or .py path).")
@click.pass_obj
def show_command(state: CliState, jobs: tuple[str, ...], no_deps: bool,
                 plugins: tuple[str, ...]) -> int:
    return show_jobs(state, jobs, no_deps=no_deps, extra_plugins=plugins)


def show_jobs(state: CliState, names: Sequence[str], *, no_deps: bool = False,
              timeout_override: float | None = None, rerun: bool = False,
              extra_plugins: Sequence[str] = (), shard: Any = None) -> int:
    """Print what ``run`` would do (``run --dry-run`` calls this; with ``--shard``,
    only that leg's runs); returns 0."""
    from mogrun.cli.loading import load_session
    from mogrun.masking import mask_data
    from mogrun.textsafety import escape_agent_text

    session = load_session(state, command="show", names=names, with_needs=not no_deps,
                           extra_plugins=extra_plugins, timeout_override=timeout_override,
                           rerun=rerun)
    if shard is not None:
        from mogrun.ci.shard import slice_jobs

        session = replace(session, jobs=slice_jobs(session.jobs, shard))
    for job in session.jobs:
        document = mask_data(job_document(session, job), job.secrets)
        if state.json_output:
            click.echo(json.dumps(document))
        else:
            click.echo("\n".join(escape_agent_text(line) for line in job_text(document)))
    return 0


def job_document(session: Any, job: ResolvedJob) -> dict[str, Any]:
    """The resolved job and each run's start request, as plain data (unmasked)."""
    from mogrun.durations import format_duration
    from mogrun.engine.kinds import describing_kinds, kind_of

    kind = kind_of(job, describing_kinds())  # what the job starts describes its request
    runs = []
    for run in job.runs:
        request = session.host.start_request(job, run, run.request)
        described = kind.describe(job, replace(run, request=request))
        runs.append({"run": run.label, "repo": run.repo,
                     "resolves_repo": "/" in run.repo and request.repo_id is None,
                     "request": _request_document(session, described)})
    return {"job": job.name, "description": job.description, "needs": list(job.needs),
            "harness": job.harness, "timeout": format_duration(job.timeout),
            "timeout_seconds": job.timeout, "on_timeout": job.on_timeout,
            "options": _plain(job.options), "runs": runs,
            **({"automation": job.automation} if job.automation is not None else {})}


def _request_document(session: Any, described: Mapping[str, Any]) -> dict[str, Any]:
    """A job kind's description of its start, as the exact HTTP request."""
    base = session.config.base_url
    path = "/api/v1/mogplex" + described["path"]
    # --local: the emulator's address is only known once it has started.
    return {"method": described["method"], "path": path,
            "url": base.rstrip("/") + path if base else None,
            "headers": {"Authorization": "Bearer mog_***", "Content-Type": "application/json",
                        "Idempotency-Key": described["idempotency_key"]},
            "body": described["body"]}


def _at_timeout(doc: dict[str, Any]) -> str:
    """An automation run has no public cancel: at its timeout it is left going."""
    return "left going: automation runs cannot be cancelled" if doc.get("automation") else (
        doc["on_timeout"])


def job_text(doc: dict[str, Any]) -> list[str]:
    """``show``'s human form of a job document."""
    lines = [f"job {doc['job']}"]
    for label, value in (("description", doc["description"]),
                         ("needs", ", ".join(doc["needs"])), ("harness", doc["harness"]),
                         ("automation", doc.get("automation")),
                         ("timeout", f"{doc['timeout']} (then {_at_timeout(doc)})")):
        if value:
            lines.append(f"  {label}: {value}")
    for key, value in doc["options"].items():
        lines.append(f"  {key}: {json.dumps(value)}")
    for run in doc["runs"]:
        request = run["request"]
        where = request["url"] or "<emulator>" + request["path"]
        lines += ["", f"  run {run['run']}", f"    {request['method']} {where}"]
        lines += [f"    {name}: {value}" for name, value in request["headers"].items()]
        body = json.dumps(request["body"], indent=2, ensure_ascii=False)
        lines += ["    " + line for line in body.splitlines()]
        if run["resolves_repo"]:
            lines.append(f'    note: repoId "{run["repo"]}" is an owner/name; it is resolved '
                         "to the repo's id through GET /repos when the job runs")
    return [*lines, ""]


def _plain(value: Any) -> Any:
    """Plugin option values as JSON-able data (dataclasses and others as dicts/str)."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
