"""What the task file says, as ``check`` and ``show`` print it, without click.

``mogrun check`` and ``mogrun show JOB`` are typed as often as ``list``; like
``list`` (``mogrun.cli.listing``) they are answered without loading click
when their line needs no parser (``mogrun.cli.app.quick_line``), and through
the click commands of ``mogrun.cli.taskfile_cmds`` otherwise. Both paths end
here, so they print the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mogrun.cli.loading import load_taskfile
from mogrun.cli.state import CliState
from mogrun.errors import GateError, Interrupted, MogrunError, TaskFileError
from mogrun.taskfile.parse import TaskFile

if TYPE_CHECKING:
    from mogrun.errors import Location
    from mogrun.models import ResolvedJob
    from mogrun.taskfile.checking import CheckWarning


def check_file(state: CliState, plugins: Sequence[str] = ()) -> int:
    """``mogrun check``: every problem of the task file; 0 (clean) or 2."""
    from mogrun.cli.commands import COMMANDS
    from mogrun.cli.loading import check_config, checked_host, plugin_notes
    from mogrun.taskfile.checking import CheckWarning, validate

    loaded: TaskFile | None = None
    try:
        taskfile = loaded = load_taskfile(state, judge_sets=False)  # validate lists it
        host, unloaded = checked_host(state, taskfile, plugins)
        host.configure(check_config(state, taskfile))
        report = validate(taskfile, host.key_specs(), state.env, sets=state.sets,
                          command_names=list(COMMANDS), secrets=host.known_secrets,
                          found=unloaded)
        report.warnings[:0] = map(CheckWarning, plugin_notes(state, host, taskfile, plugins))
        if not report.errors and host.implements("mogrun_adjust_job"):  # 1.5 ms for 50 jobs
            report.errors.extend(_adjust_job_problems(host, report.jobs))
    except Interrupted:
        raise
    except MogrunError as caught:
        # check's answer is 0 or 2 (docs/cli.md): a plugin's own error (from a key's validate,
        # its configure) or a missing file is a problem of what is checked, too.
        error = caught if isinstance(caught, TaskFileError) else TaskFileError(
            caught.message, context=caught.context)
        if not state.json_output:
            raise error from caught
        # --json: a file that cannot even be loaded or judged (a plugin's crash) is still
        # reported as JSON.
        location = error.location
        path = str(loaded.path) if loaded else location.path if location else _found(state)
        from mogrun.masking import mask

        state.echo_json({"ok": False,
                         "file": None if path is None else mask(path, state.secrets),
                         "errors": [_error_json(state, error)], "warnings": []})
        return 2
    if state.json_output:
        from mogrun.masking import mask

        state.echo_json({"ok": not report.errors,
                         "file": mask(str(taskfile.path), state.secrets),
                         "errors": [_error_json(state, e) for e in report.errors],
                         "warnings": [_warning_json(state, w) for w in report.warnings]})
    else:
        _print_report(state, taskfile, report)
    return 2 if report.errors else 0


def _adjust_job_problems(host: Any, jobs: Sequence[Any]) -> list[MogrunError]:
    """What ``mogrun_adjust_job`` makes of a sound file's jobs that ``show`` and ``run``
    refuse (exit 2): a plugin's crash or a replacement they would not run, each said
    once. Asked only of a file with no other problem, as a run asks it only then."""
    problems: dict[str, MogrunError] = {}
    for job in jobs:
        try:
            host.adjust_job(job)
        except Interrupted:
            raise
        except MogrunError as refused:
            problems.setdefault(refused.message, refused)
    return list(problems.values())


def _print_report(state: CliState, taskfile: TaskFile, report: Any) -> None:
    from mogrun.masking import mask
    from mogrun.textsafety import escape_agent_text

    state.hold_github_commands()  # before the problems, which quote the file
    for error in report.errors:
        lines = state.error_lines(error)
        state.echo(f"Error: {lines[0]}", err=True)
        for line in lines[1:]:
            state.echo(line, err=True)
    for warning in report.warnings:
        state.warn(str(warning))
    path = escape_agent_text(mask(str(taskfile.path), state.secrets))  # as in each location
    if report.errors:
        count = len(report.errors)
        state.echo(f"{count} problem{'s' * (count > 1)} in {path}", err=True)
    else:
        count = len(taskfile.jobs)
        state.echo(f"{path}: ok ({count} job{'s' * (count != 1)})")


def _error_json(state: CliState, error: MogrunError) -> dict[str, Any]:
    location = getattr(error, "location", None)  # the file's own column, not the masked one
    shown = state.shown_error(error)
    shown_location = getattr(shown, "location", None)
    return _problem_json(shown.message, shown.context,
                         shown_location.path if shown_location else None, location)


def _warning_json(state: CliState, warning: CheckWarning) -> dict[str, Any]:
    """A warning in an error's shape: ``file``, ``line`` and ``column`` are null when
    it is about no one place of the file."""
    from mogrun.masking import mask

    location = warning.location
    return _problem_json(mask(warning.message, state.secrets), (),
                         mask(location.path, state.secrets) if location else None, location)


def _problem_json(message: str, context: Sequence[str], path: str | None,
                  location: Location | None) -> dict[str, Any]:
    """The one shape of ``check --json``'s errors and warnings."""
    return {"message": message, "context": list(context), "file": path,
            "line": location.line if location else None,
            "column": location.column if location else None}


def show_jobs(state: CliState, names: Sequence[str], *, no_deps: bool = False,
              timeout_override: float | None = None, rerun: bool = False,
              extra_plugins: Sequence[str] = (), shard: Any = None, select: Any = None,
              options: Mapping[str, Any] | None = None) -> int:
    """Print what ``run`` would do (``run --dry-run`` calls this; with ``--shard``,
    only that leg's runs); returns 0. ``select`` (``rerun --dry-run``) picks the
    runs to show and the attempt each would start (as ``execute`` takes it);
    ``options``: the plugins' own ``run`` options, which ``mogrun_configure`` gets
    here as for the run (a plugin that changes the request by one showed the
    request without the change)."""
    from mogrun.cli.loading import load_session
    from mogrun.engine.slowhooks import said_when_slow
    from mogrun.masking import mask_data
    from mogrun.pluginguard import VETO_HOOK
    from mogrun.textsafety import escape_agent_text

    session = load_session(state, command="show", names=names, with_needs=not no_deps,
                           extra_plugins=extra_plugins, timeout_override=timeout_override,
                           rerun=rerun, options=options)
    if shard is not None:
        from mogrun.cli.loading import this_leg

        session = this_leg(state, session, shard)
    jobs, attempts = (session.jobs, None) if select is None else select(session.jobs, None)
    if select is not None and not any(job.runs for job in jobs):  # as the rerun would say
        state.echo(select.nothing_left(None if shard is None else f"shard {shard}"), err=True)
    state.hold_github_commands()  # the file's text (a prompt): a pull request's, in CI
    refused = []
    with said_when_slow(state.say_wait, VETO_HOOK):  # a request's slow plugin: not silent
        for job in jobs:
            document = mask_data(job_document(session, job, attempts), job.secrets)
            if state.json_output:
                state.echo_json(document)
            else:
                state.echo("\n".join(escape_agent_text(line) for line in job_text(document)))
            refused += [f"{job.label_of(run)}: could not start: {doc['refused']}"
                        for run, doc in zip(job.runs, document["runs"], strict=True)
                        if "refused" in doc]
    if refused:  # every job shown, as run starts the others; the exit code is run's
        raise GateError(refused[0], context=[f"Also: {line}" for line in refused[1:]])
    return 0


def job_document(session: Any, job: ResolvedJob,
                 attempts: Mapping[str, tuple[int, str]] | None = None) -> dict[str, Any]:
    """The resolved job and each run's start request, as plain data (unmasked).
    With ``attempts`` (run label -> attempt, why: ``rerun``), each run's request is
    that attempt's (its key derived as the engine derives it), and says which."""
    from mogrun.durations import format_duration
    from mogrun.engine.kinds import describing_kinds, kind_of

    kind = kind_of(job, describing_kinds())  # what the job starts describes its request
    # A job that names no key gets one made for each invocation, as --rerun's suffix
    # is (it holds the invocation's nonce): shown, and said so.
    made_key = "idempotency_key" not in session.taskfile.job_keys(job.name)
    runs: list[dict[str, Any]] = []
    for run in job.runs:
        try:
            request = session.host.start_request(job, run, run.request)
        except GateError as exc:  # a plugin's veto: the run is shown refused, as run goes on
            runs.append({"run": run.label, "repo": run.repo, "refused": exc.message,
                         "request": None})
            continue
        attempt = {} if attempts is None else {"attempt": attempts.get(run.label, (1, ""))[0]}
        if attempt:
            from mogrun.engine.track import attempt_key

            request = replace(request, idempotency_key=attempt_key(request.idempotency_key,
                                                                   attempt["attempt"]))
        described = kind.describe(job, replace(run, request=request))
        # A rerun's attempt of a recorded run derives its key from the recorded one.
        recorded = attempts is not None and run.label in attempts
        runs.append({"run": run.label, "repo": run.repo, **attempt,
                     "resolves_repo": "/" in run.repo and request.repo_id is None,
                     "key_per_invocation": (made_key and not recorded) or session.clock.nonce
                     in str(described["idempotency_key"]),
                     "request": _request_document(session, described),
                     # a trigger rerun sends again where it went, not to the job's now
                     **({"automation": job.for_run(run).automation_shown} if run.automation
                        else {})})
    return {"job": job.name, "description": job.description, "needs": list(job.needs),
            **_schedule(session.taskfile, job.name),
            "harness": job.harness, "timeout": format_duration(job.timeout),
            "timeout_seconds": job.timeout,
            # What happens at the timeout: an automation run, which has no public cancel,
            # is left going whatever the key says.
            "on_timeout": "detach" if job.automation is not None else job.on_timeout,
            "capacity_wait": format_duration(job.capacity_wait),
            "capacity_wait_seconds": job.capacity_wait,
            "options": _plain(job.options), "runs": runs,
            **({"automation": job.automation_shown} if job.automation is not None else {})}


def _schedule(taskfile: Any, name: str) -> dict[str, Any]:
    """The job's ``schedule`` and next run as ``list`` gives them, for a job that has
    one (its own or ``[defaults]``'): show left it out, though it shows every other
    key the job resolved to."""
    from mogrun.cli.listing import job_summary

    summary, _ = job_summary(taskfile, name)
    return {key: summary[key] for key in ("schedule", "next_run") if key in summary}


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


def _schedule_text(doc: dict[str, Any]) -> str | None:
    """``17 6 1 * 1 (next run 2026-12-07T06:17:00Z)``, or ``None`` without one."""
    if "schedule" not in doc:
        return None
    listed = ", ".join(doc["schedule"]) or "-"
    return f"{listed} (next run {doc['next_run']})" if doc.get("next_run") else listed


def _capacity_wait(doc: dict[str, Any]) -> str | None:
    """How long a start waits for a sandbox, said where the job sets it: the
    default would be one more line on every job."""
    from mogrun.taskfile.schema import DEFAULT_CAPACITY_WAIT

    return None if doc["capacity_wait_seconds"] == DEFAULT_CAPACITY_WAIT else (
        f"{doc['capacity_wait']} for a free sandbox")


def job_text(doc: dict[str, Any]) -> list[str]:
    """``show``'s human form of a job document."""
    import json

    from mogrun.textsafety import json_line_safe

    lines = [f"job {doc['job']}"]
    for label, value in (("description", doc["description"]),
                         ("needs", ", ".join(doc["needs"])), ("harness", doc["harness"]),
                         ("automation", doc.get("automation")),
                         ("timeout", f"{doc['timeout']} (then {_at_timeout(doc)})"),
                         ("capacity wait", _capacity_wait(doc)),
                         ("schedule", _schedule_text(doc))):
        if value:
            lines.append(f"  {label}: {value}")
    for key, value in doc["options"].items():
        lines.append(f"  {key}: {json.dumps(value)}")
    for run in doc["runs"]:
        request = run["request"]
        if request is None:  # a plugin's veto: run would report it failed, and send nothing
            lines += ["", f"  run {run['run']}",
                      f"    not sent: a plugin refused it: {run['refused']}"]
            continue
        where = request["url"] or "<emulator>" + request["path"]
        attempt = f" (attempt {run['attempt']})" if "attempt" in run else ""
        lines += ["", f"  run {run['run']}{attempt}", f"    {request['method']} {where}"]
        lines += [f"    {name}: {value}" for name, value in request["headers"].items()]
        body = json.dumps(request["body"], indent=2, ensure_ascii=False)
        # split("\n"), not splitlines(): a prompt's U+2028 or NEL is text of its line,
        # which stays JSON when it is made safe to print (json_line_safe).
        lines += ["    " + json_line_safe(line) for line in body.split("\n")]
        if run["key_per_invocation"]:
            lines.append("    note: this Idempotency-Key is made anew at each invocation (the "
                         "task file names no idempotency_key, or --rerun suffixes it): the "
                         "run sends its own")
        if run["resolves_repo"]:
            lines.append(f'    note: repoId "{run["repo"]}" is an owner/name; it is resolved '
                         "to the repo's id through GET /repos when the job runs")
        if automation := run.get("automation") or doc.get("automation"):
            lines.append(f'    note: the path names automation "{automation}" as written; '
                         "it is resolved to the automation's id (by id, else by name) through "
                         "GET /automations when the job runs")
    return [*lines, ""]


PLAIN_DEPTH = 100  # how deep a plugin option value is shown; below it, "..."


def _plain(value: Any, seen: frozenset[int] = frozenset(), depth: int = 0) -> Any:
    """Plugin option values as JSON-able data (dataclasses and others as dicts/str).
    A value a plugin's ``validate`` returned may hold itself (a cycle) or nest
    deeper than anyone reads: each such part is shown as ``"..."``, never a
    RecursionError."""
    import dataclasses
    import math

    container = isinstance(value, dict | list | tuple | set | frozenset) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type))
    if container:
        if depth >= PLAIN_DEPTH or id(value) in seen:
            return "..."
        seen = seen | {id(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), seen, depth + 1)
                for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v, seen, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, seen, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # TOML has nan and inf; JSON has neither: "nan", "inf"
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _found(state: CliState) -> str | None:
    """The task file's path when it was found but could not be loaded (it is empty,
    say): ``--json`` names the file its error is about."""
    from mogrun.taskfile.discovery import find_task_file

    try:
        return str(find_task_file(state.file, state.env, state.cwd))
    except TaskFileError:
        return None
