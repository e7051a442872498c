"""``status``, ``logs``, ``cancel`` and ``history``: what past runs did and are doing.

They read ``.mogrun/history.db`` beside the task file (found, and parsed for
its ``url`` and job names, but its plugins are never loaded) and talk to the
API with the history's run ids. A target is a run id, a job name (every run
of that job's latest invocation) or ``JOB:owner/name`` (one run of a fan-out).
``--local`` runs live only inside the invocation that started them, so their
history is shown as recorded.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mogrun.cli import framework as click
from mogrun.cli.completion import complete_jobs
from mogrun.cli.loading import env_secrets
from mogrun.cli.state import CliState
from mogrun.errors import (
    MogrunError,
    NotFoundError,
    NotStartedError,
    RateLimitedError,
    RequestRefusedError,
    ServerError,
    ServiceUnavailableError,
    TaskFileError,
    TransportError,
    UsageError,
)
from mogrun.masking import mask
from mogrun.tables import listed
from mogrun.textsafety import run_command

if TYPE_CHECKING:
    from mogrun.runs import RunResult


@dataclass(frozen=True)
class Target:
    """One run a state command acts on: its history row if known, else just an id."""

    run_id: str
    label: str
    row: Any = None
    automation: str | None = None  # the automation a run of an automation job belongs to


def with_automations(targets: Sequence[Target], taskfile: Any) -> list[Target]:
    """``targets`` knowing which are automation job runs (read, never cancelled,
    through their automation)."""
    import dataclasses

    return [dataclasses.replace(t, automation=row_automation(t.row, taskfile))
            if t.row is not None else t for t in targets]


def row_automation(row: Any, taskfile: Any) -> str | None:
    """The automation a recorded run belongs to (``None``: a run): as the run
    rendered it, else (a row from before rows knew) as the task file names it;
    never for a row whose request was a run's (the job may be an automation's now)."""
    from mogrun.taskfile.resolve import job_automation

    if row.automation:
        return str(row.automation)
    return None if _run_request(row.request) else job_automation(taskfile, row.job)


def _run_request(request: str) -> bool:
    """Whether a recorded request is ``POST /runs``'s: it has a prompt, which a
    trigger's (``repoId`` and ``input``) never has."""
    import json

    try:
        body = json.loads(request)
    except ValueError:  # none recorded (an old row, or one that never started)
        return False
    return isinstance(body, dict) and "prompt" in body


def open_state(state: CliState, *, lenient: bool = True,
               by_id: bool = True) -> tuple[Any, Any]:
    """(task file, history) for this invocation's task file and API base URL. A
    task file that does not parse (half edited) still names the history beside
    it: a running agent can be seen and cancelled meanwhile, with a warning; not
    when ``lenient`` is off (``logs`` prints agent text, masked with the file's
    ``env.*`` values, which only the file names). ``by_id``: the command can act on
    a run id alone, so a history that cannot be opened (a read-only folder,
    ``.mogrun`` a file) is a warning and an empty one: the run a ``--detach`` there
    started can still be followed and cancelled. One that is there but cannot be
    read (not a database, a directory) is that error for a job's runs
    (``History.stand_in``), and a warning for a run id."""
    from mogrun.cli.loading import history_key, load_taskfile, project_history
    from mogrun.taskfile.discovery import find_task_file
    from mogrun.taskfile.parse import stand_in

    path = find_task_file(state.file, state.env, state.cwd)
    try:
        taskfile = load_taskfile(state, path=path)
    except TaskFileError as exc:
        if not lenient or not path.is_file():
            raise
        taskfile = stand_in(path)
        where = exc.location or path
        state.warn(f"the task file cannot be read ({exc.message}, at {where}); going on "
                   "with the history beside it, as recorded (job names, the API URL and "
                   "secrets to mask need the file)")
    key = history_key(state, taskfile)  # a refused API URL is an error here, not a warning
    try:
        return taskfile, project_history(state, taskfile)
    except MogrunError as exc:
        if not by_id:
            raise
        from mogrun.engine.history import History, history_path

        history = History.stand_in(history_path(taskfile.project_dir), exc, key,
                                   taskfile.path.name)
        if history.unreadable is None:  # none there (.mogrun a file): no runs to miss
            _going_on_without(exc)
        return taskfile, history


# The errors ``_going_on_without`` said: ``cancel`` reads a run id's rows twice.
_SAID_WITHOUT: weakref.WeakSet[MogrunError] = weakref.WeakSet()


def _going_on_without(error: MogrunError) -> None:
    if error in _SAID_WITHOUT:
        return
    _SAID_WITHOUT.add(error)
    _echo_safe(f"warning: {error.message}; going on without it (a run is found by its "
               "id only)", err=True)


def rows_for(history: Any, taskfile: Any, target: str,
             secrets: frozenset[str] = frozenset(), *, state: CliState,
             command: str = "status") -> list[Any]:
    """A run id's row, else the runs of a job's latest invocation (also a job since
    removed from the task file); ``[]`` for a run id mogrun never recorded. A repo
    named from ``env.*`` is stored masked, so ``JOB:owner/name`` matches it masked too.
    A name that is neither a job nor a run id is refused here, before any request; a
    job with no run here names the other APIs it ran against, and the ``command`` to
    see them with."""
    job, sep, repo = job_and_repo(target)
    try:
        row = None if sep else history.by_run_id(target)
    except MogrunError as exc:  # a page damaged past what opening the file checks
        if not looks_like_run_id(target):
            raise
        history.go_on_without(exc)
        _going_on_without(exc)
        return []
    if row is not None:
        return [row]
    if history.unreadable is not None and not sep and looks_like_run_id(target):
        _going_on_without(history.unreadable)  # a job's runs: its error (``_scoped``)
        return []
    rows = history.latest_invocation_of(job)
    if not rows and job not in taskfile.job_names and (
            sep or not looks_like_run_id(target) or _closest_job(job, taskfile, history)):
        raise unknown_target(target, job, taskfile, history)
    if sep:
        # owner/name in any case, as GitHub (and the task file) take it
        named = {repo.casefold(), mask(repo, secrets).casefold()}
        picked = [row for row in rows if row.repo.casefold() in named]
        if rows and not picked:
            # Not in the latest invocation: a rerun repeats only what did not pass, so
            # the run that passed before it is still this repo's latest run.
            picked = [row for row in history.latest_runs_of(job)
                      if row.repo.casefold() in named]
        if rows and not picked:
            raise _unknown_repo(target, repo, rows, history)
        rows = picked
    if not rows and sep and job in taskfile.job_names:
        not_its = _not_its_repo(target, job, repo, taskfile)
        if not_its is not None:
            raise not_its
    if not rows and (sep or job in taskfile.job_names):
        raise NotStartedError(f"no recorded runs of {target!r} against this API", context=[
            *recorded_elsewhere(state, taskfile, history, [command, target], job,
                                repo if sep else None),
            f"History: {history.path} ({history.base_url})"])
    return rows


def job_and_repo(target: str) -> tuple[str, str, str]:
    """``JOB:owner/name`` as (job, ":", repo), a job alone as (job, "", ""). A colon with
    no repo after it (``hello:``, a script's unset variable) is refused (exit 2): it
    names no run, and read as a repo it matched none."""
    job, sep, repo = target.partition(":")
    if sep and job and not repo.strip():
        raise UsageError(f"no repo after the colon of {target!r}",
                         context=[f'Name the job ("{job}") or one of its runs '
                                  f'("{job}:owner/name").'])
    if sep and not job.strip():  # ":acme/web", a script's "$JOB:$REPO" with JOB unset
        raise UsageError(f"no job before the colon of {target!r}",
                         context=["Name a run as JOB:owner/name, or the job alone."])
    return job, sep, repo


def _unknown_repo(target: str, repo: str, rows: list[Any], history: Any) -> UsageError:
    """``JOB:owner/name`` naming no run of the job's latest invocation: the closest
    of its runs, and all of them (exit 2, nothing sent)."""
    from mogrun.taskfile.schema import closest

    labels = {row.repo: f"{row.job}:{row.repo}" for row in rows}
    hint = closest(repo, list(labels))
    context = [f'did you mean "{labels[hint]}"?'] if hint else []
    return UsageError(f"no recorded runs of {target!r} against this API",
                      # sorted: a fan-out's runs are recorded in whatever order they start
                      context=[*context, "Runs: " + listed(sorted(labels.values())),
                               f"History: {history.path} ({history.base_url})"])


def _not_its_repo(target: str, job: str, repo: str, taskfile: Any) -> UsageError | None:
    """``JOB:owner/name`` for a job that has not run here, naming a repo its task-file
    entry lists (its own or ``[defaults]``'): the closest of those it does (exit 2, as
    ``_unknown_repo`` says for a job that ran). ``None`` when its repos are not all
    owner/names there (a template, or a repo id whose name only the API knows): it
    cannot be told."""
    from mogrun.reponames import is_full_name, name_problem
    from mogrun.taskfile.schema import closest

    written = taskfile.job_keys(job).get("repo")
    names = [written] if isinstance(written, str) else written
    if not isinstance(names, list) or not names or not all(
            isinstance(n, str) and is_full_name(n) and name_problem(n) is None for n in names):
        return None
    if repo.casefold() in {n.casefold() for n in names}:  # names resolve in any case
        return None
    hint = closest(repo, names)
    return UsageError(f"job {job!r} has no repo {repo!r}", context=[
        *([f'did you mean "{job}:{hint}"?'] if hint else []),
        f"Its repos: {listed(names)}"])


def looks_like_run_id(text: str) -> bool:
    """Run ids are UUIDs (the server's runs table keys them so, and answers any
    other id with a 500 after its query fails): anything else is a mistyped job
    or id, refused before a request (and its retries) is spent on it."""
    from mogrun.reponames import is_uuid

    return is_uuid(text)


def run_id_case(_ctx: Any, _param: Any, value: str | None) -> str | None:
    """A ``[JOB|RUN_ID]`` argument with a run id in lower case, as the server writes
    ids and history keys them: one pasted in capitals is the same run."""
    return value.lower() if value is not None and looks_like_run_id(value) else value


def _closest_job(name: str, taskfile: Any, history: Any) -> str | None:
    """The job of the file (or of the history) ``name`` is probably a typo of."""
    from mogrun.taskfile.schema import closest

    known = list(dict.fromkeys([*taskfile.job_names, *history.job_names()]))
    return closest(name, known)


def unknown_target(target: str, job: str, taskfile: Any, history: Any) -> UsageError:
    """``unknown job or run "fanuot"`` with the closest job name, or the run ids a
    short one begins (``dbdd4d23``, as git and a summary's narrow column read): exit 2."""
    started = history.run_ids_starting(target.lower()) if len(target) >= 4 else []
    hint = None if started else _closest_job(job, taskfile, history)
    if hint is not None and target != job:  # `FAN:acme/web`: the repo part kept
        hint += target[len(job):]
    context = [f'did you mean "{hint}"?'] if hint else []
    if started:
        context.append(f"a run id is its whole UUID: did you mean {' or '.join(started)}?")
    from mogrun.taskfile.graph import jobs_line

    return UsageError(f'unknown job or run "{target}"', context=[*context, jobs_line(taskfile)])


def targets_for(history: Any, taskfile: Any, target: str,
                secrets: frozenset[str] = frozenset(), *,
                state: CliState, command: str = "status") -> list[Target]:
    rows = rows_for(history, taskfile, target, secrets, state=state, command=command)
    if not rows:
        return [Target(target, target)]
    return [Target(row.run_id, row_label(history, row), row) for row in rows if row.run_id]


def row_label(history: Any, row: Any) -> str:
    """``job``, or ``job:owner/name`` for a run of a fan-out (as ``run`` shows them)."""
    return f"{row.job}:{row.repo}" if history.is_fan_out(row) else row.job


def going_in_a_local_mogrun(targets: Sequence[Target], what: str,
                            way_on: Callable[[int], str]) -> UsageError | None:
    """The refusal for a ``--local`` run that is still going, in the emulator of the
    mogrun on this machine that started and follows it: "--local runs end with
    the invocation that started them" was said of it, while that mogrun ran.
    ``what``: what only that mogrun can do; ``way_on(pid)``: what to do instead."""
    for target in targets:
        pid = target.row.live_owner if target.row is not None else None
        if pid is not None:
            return UsageError(
                f"{target.label}: run {target.run_id} is going in the --local emulator of "
                f"mogrun (pid {pid}) on this machine; only that mogrun can {what}",
                context=[way_on(pid)])
    return None


def api_client(state: CliState, taskfile: Any, sleep: Any = None) -> Any:
    """The client of ``status``, ``logs``, ``cancel`` (``sleep``: how its retries
    wait, ``cancel``'s ended by a signal)."""
    if state.local:
        raise UsageError("--local runs live only inside the invocation that started them",
                         context=["Their recorded state: mogrun --local status"])
    from mogrun.cli.connect import connect

    return connect(state, taskfile=taskfile, sleep=sleep).client


def _echo_safe(text: str, err: bool = False) -> None:
    """A line with server text in it (a status, a run id): escaped onto one line."""
    from mogrun.output.base import escape_agent_text

    click.echo(escape_agent_text(text), err=err)


def _outcome_cell(row: Any) -> str:
    """A row's outcome as the run summary says it: ``success (attached)`` for a run
    the invocation attached to, so two rows of one run are told apart."""
    from mogrun.output.tables import attached_mark

    return attached_mark(row.outcome or "-", row.attached)


def _table(state: CliState, headers: list[str], rows: list[list[str]]) -> None:
    """A table of runs; wider than the terminal, a block per run (``fitted_lines``).
    Each row's cells are made safe in place and the lines written a batch at a
    time: ``history -n`` of a year's runs held four copies of its table at once."""
    from mogrun.output.base import escape_agent_text
    from mogrun.tables import fitted_lines, table_columns

    for row in rows:
        row[:] = [escape_agent_text(str(cell)) for cell in row]
    lines = fitted_lines(headers, rows, table_columns(state.env, state.stdout))
    while batch := list(itertools.islice(lines, 1000)):
        click.echo("\n".join(batch))


# --- status ---------------------------------------------------------------------


# `status --exit-status`: what a script learns without parsing the table.
EXIT_PASSED, EXIT_NOT_PASSED, EXIT_GOING = 0, 1, 3

EXIT_STATUS_HELP = """\b
--exit-status codes:
  0  every shown run passed
  1  a shown run did not pass (failed, cancelled, gate failed, never started;
     timed out or interrupted, even if it goes on on the server; unknown to
     the server), is not known to have passed (ended, but its gates are the
     task file's plugins, which status does not load: logs --follow or rerun
     judges it), or no run is recorded at all
  3  none failed, but one is still going (pending, streaming, detached,
     left when following it failed, or waiting to start in a mogrun still
     running on this machine)
"""


@click.command("status", epilog=EXIT_STATUS_HELP)
@click.argument("target", required=False, metavar="[JOB|JOB:owner/name|RUN_ID]",
                shell_complete=complete_jobs, callback=run_id_case)
@click.option("--exit-status", is_flag=True, help="Exit 0 if every shown run passed, 1 if "
              "one did not, 3 while one is still going.")
@click.pass_obj
def status_command(state: CliState, target: str | None, exit_status: bool) -> int:
    """Latest runs from local history, refreshed from the API.

    \b
    Examples:
      mogrun status                    the latest runs of every job of the file
      mogrun status codemod            every run of codemod's latest invocation
      mogrun --json status 3f9c2e41-7b1d-4c8a-9e55-0d6b2a7f1c38
      mogrun status --exit-status nightly && echo all green

    A job no longer in the task file (removed, renamed) is not shown, nor
    judged by --exit-status, unless it is named (mogrun status OLD-NAME); mogrun
    history still has its runs.

    Each task file in a folder (-f nightly.toml) has its own history. A run
    id this project never recorded (another checkout or CI started it) is
    read from the API and shown, not recorded (an automation's job run
    through the automations the task file names; its repo by owner/name, one
    GET /repos?id= for a run; with --json, what only history knows is null:
    id, job, invocation, idempotency_key, attempt, why, request, task_file;
    attached is false, gates []). Runs are
    kept per API
    (--local runs apart): with none here, the APIs that have some are named
    (mogrun --local status), and so is the one a run id was recorded under.
    A --local run recorded as going whose mogrun is gone (killed) is shown
    unknown: its emulator ended with that mogrun, and the run with it.
    When the API cannot be reached, the runs are shown as last recorded,
    with a warning, and the exit code is 69 (75 when it answers 429, rate
    limited, past every retry).
    """
    state.hold_github_commands()  # server and agent text follows
    state.repository_code = False  # no task-file plugin, even for a retry or a gate
    taskfile, history = open_state(state)
    try:
        # Rows without a run id (refused or skipped) are shown too: they are the latest.
        try:
            rows = (history.latest_per_job(set(taskfile.jobs) or None) if target is None
                    else rows_for(history, taskfile, target, env_secrets(state, taskfile),
                                  state=state))
        except NotStartedError as exc:  # --exit-status: what never ran has not passed
            raise exc.as_not_passed() if exit_status else exc from exc
        unreachable: MogrunError | None = None
        if target is not None and not rows:  # a run id: history has not seen it
            rows = [_unrecorded(state, taskfile, history, target)]
        else:
            try:
                rows = _refresh(state, taskfile, history, rows)
            except (TransportError, ServiceUnavailableError, ServerError,
                    RateLimitedError) as exc:
                # The API cannot be asked now: what history knows is still worth showing
                # (a rate-limited CI check lost the table, where a 503 kept it).
                unreachable = exc
                state.warn(f"cannot refresh from the API ({exc.message}); showing the runs "
                           "as last recorded")
        if not rows:
            nothing_recorded(state, taskfile, history, ["status"])
            # Nothing ran here yet, so nothing passed: `status --exit-status && deploy`
            # on a fresh checkout must not read as green.
            return EXIT_NOT_PASSED if exit_status else 0
        _show_status(state, rows, history, taskfile.jobs)
        if unreachable is not None:
            return unreachable.exit_code  # what is going now is not known
        return exit_status_code(rows) if exit_status else 0
    finally:
        history.close()


def _as_recorded(stamp: object) -> str:
    """A server's timestamp as history writes its rows' (UTC, to the second):
    ``2026-12-04T23:01:19+00:00``, not ``...19.964123+00:00`` among them; an unreadable
    one as it came."""
    from mogrun.durations import parse_moment
    from mogrun.engine.history import iso_of

    moment = parse_moment(stamp)
    return str(stamp or "") if moment is None else iso_of(moment)


@dataclass(frozen=True)
class UnrecordedRun:
    """A run ``status`` read from the API alone, shaped as a history row for the
    table, ``--json`` and ``--exit-status``: what only history knows (its job,
    invocation, key) is null, its repo is the repo's owner/name when the server
    lists it (else the run's ``repoId``), its automation the one it was read
    through, and no invocation of this history attached to it."""

    base_url: str
    run: Any  # RunState
    repo_name: str | None = None
    automation: str | None = None

    @property
    def run_id(self) -> str:
        return str(self.run.run_id)

    @property
    def status(self) -> str:
        return str(self.run.status)

    @property
    def job(self) -> str:
        return ""

    waiting = False  # the API has it: it started
    # No invocation here attached to it (none here recorded it): the table shows no
    # "(attached)", and --json says false, as for a run one of ours started.
    attached = False

    @property
    def repo(self) -> str:
        repo = self.repo_name or self.run.raw.get("repoId")
        return repo if isinstance(repo, str) else ""

    @property
    def outcome(self) -> str | None:
        from mogrun.outcomes import Outcome

        return str(Outcome.of_status(self.status)) if self.run.terminal else None

    @property
    def started_at(self) -> str:
        return _as_recorded(self.run.created_at)

    @property
    def message(self) -> str:
        from mogrun.engine.run_kind import error_text

        return error_text(self.run)

    def as_dict(self) -> dict[str, Any]:
        from mogrun.engine.history import SHOWN_COLUMNS
        from mogrun.outcomes import Outcome

        known: dict[str, Any] = {
                 "base_url": self.base_url, "repo": self.repo or None, "run_id": self.run_id,
                 "status": self.status, "outcome": self.outcome, "attached": self.attached,
                 "started_at": self.started_at or None,
                 "finished_at": _as_recorded(self.run.updated_at) or None
                 if self.run.terminal else None,
                 "exit_code": Outcome(self.outcome).exit_code if self.outcome else None,
                 "gates": [], "message": self.message, "automation": self.automation}
        return {name: known.get(name) for name in SHOWN_COLUMNS}


# The API reads an automation's job run only through its automation, which a run id
# alone does not name: the history that recorded the run knows it, else the task
# file's automations are asked.
AUTOMATION_RUN_HINT = ("A run of an automation job is read through its automation, and none "
                       "this task file names has it: ask from the project whose history "
                       "recorded it (where it was started).")


def named_automations(taskfile: Any) -> list[str]:
    """The automations the task file's jobs name, as written (one named through a
    template is rendered only by a run: left out)."""
    from mogrun.taskfile.resolve import job_automation

    names = (job_automation(taskfile, job) for job in taskfile.job_names)
    return [name for name in names if name and "{{" not in name]


def unrecorded_run(client: Any, taskfile: Any, history: Any, run_id: str
                   ) -> tuple[Any, str | None]:
    """(its state, its automation or ``None``) of a run id history never recorded:
    ``GET /runs/{id}``, and on its 404 the automations the task file names (an
    automation's job run is read only through it); the 404 when none has it."""
    from mogrun.engine.automation_kind import automation_of_run

    try:
        return client.get_run(run_id), None
    except NotFoundError as exc:
        found = automation_of_run(client, named_automations(taskfile), run_id)
        if found is None:
            looked = (f"this project's history, which cannot be read, was not looked in "
                      f"({history.path})" if history.unreadable is not None else
                      f"{run_id} is not in this project's history either ({history.path})")
            raise exc.evolve(context=[*exc.context, looked, AUTOMATION_RUN_HINT]) from exc
        return found[1].state, found[0]


def located(state: CliState, client: Any, taskfile: Any, history: Any,
            targets: Sequence[Target], command: str) -> list[Target]:
    """``targets``, a run id history never recorded knowing its automation if it is
    an automation's job run (``logs`` and ``cancel`` then act through it)."""
    import dataclasses

    return [dataclasses.replace(t, automation=_unrecorded_run(
                state, lambda: client, taskfile, history, t.run_id, command)[1])
            if t.row is None and t.automation is None else t for t in targets]


def _unrecorded(state: CliState, taskfile: Any, history: Any, run_id: str) -> UnrecordedRun:
    """``status RUN_ID`` of a run this project never recorded (see ``_unrecorded_run``)."""
    made: list[Any] = []  # the client, made only once a request is to be sent

    def client() -> Any:
        if not made:
            made.append(api_client(state, taskfile))
        return made[0]

    run, automation = _unrecorded_run(state, client, taskfile, history, run_id, "status")
    return UnrecordedRun(history.base_url, run, _repo_name(client(), run), automation)


def _repo_name(client: Any, run: Any) -> str | None:
    """The owner/name of an unrecorded run's repo: an automation's run says it; a
    run names only ``repoId``, which one ``GET /repos?id=`` turns into a name (none
    when the server does not answer it: the id is shown instead)."""
    from mogrun.reponames import is_uuid

    named = run.raw.get("repoName")
    if isinstance(named, str) and named:
        return named
    repo_id = run.raw.get("repoId")
    if not isinstance(repo_id, str) or not is_uuid(repo_id):
        return None
    try:
        return client.repo_name(repo_id)  # type: ignore[no-any-return]
    except MogrunError:
        return None


def _unrecorded_run(state: CliState, client: Callable[[], Any], taskfile: Any, history: Any,
                    run_id: str, command: str) -> tuple[Any, Any]:
    """``unrecorded_run`` of a run id this API's history has not: ``GET /runs/{id}``,
    whose 404 says it. One recorded under another API (``--local``, another URL) is
    said with the ``command`` that reaches it (``--local``: no request, no API has
    it); ``--local`` runs exist only in history."""
    from mogrun.engine.history import LOCAL_BASE_URL

    there = history.recorded_under(run_id)
    if there is not None and (state.local or there == LOCAL_BASE_URL):
        raise _run_recorded_elsewhere(state, taskfile, run_id, there, command)
    if state.local:
        raise UsageError(f"no recorded run {run_id!r} against this API",
                         context=[f"History: {history.path} ({history.base_url})"])
    try:
        return unrecorded_run(client(), taskfile, history, run_id)
    except NotFoundError as exc:
        if there is None:
            raise
        raise _run_recorded_elsewhere(state, taskfile, run_id, there, command) from exc


def _run_recorded_elsewhere(state: CliState, taskfile: Any, run_id: str, url: str,
                            command: str = "status") -> MogrunError:
    """``run X was recorded with --local: mogrun --local status X``: a run id this API's
    history has not, found in another's (exit 1, as the API's 404 of it). A local
    run ended with its emulator: there is none to cancel, so ``cancel`` points at
    ``status``."""
    from mogrun.engine.history import LOCAL_BASE_URL

    see = _command_for(state, taskfile, url, [command, run_id])
    return MogrunError(f"run {run_id} was recorded {_scope(url)}, not against this API",
                       context=[f"See it with: {see}" + (
                           " (local runs end with the emulator that ran them)"
                           if url == LOCAL_BASE_URL else "")])


def exit_status_code(rows: Sequence[Any]) -> int:
    """0 all passed, 1 one did not, is unknown to the server or ended with its
    gates still to judge (it wins), 3 one is still going."""
    from mogrun.cli.judging import awaits_judgement
    from mogrun.outcomes import Outcome, RunStatus

    going = False
    for row in rows:
        if row.waiting or _lost_going(row):  # judged once it ends
            going = True
            continue
        # Ended, its gates still to judge: status never will (3 would poll forever).
        if not row.run_id or row.status == UNKNOWN_TO_SERVER or awaits_judgement(row) or (
                row.outcome not in (None, Outcome.DETACHED) and not Outcome(row.outcome).passed):
            return EXIT_NOT_PASSED
        if not RunStatus.is_terminal(row.status):
            going = True
        elif row.status != RunStatus.SUCCESS and row.outcome != Outcome.SUCCESS:
            return EXIT_NOT_PASSED
    return EXIT_GOING if going else EXIT_PASSED


def _lost_going(row: Any) -> bool:
    """A run still going whose mogrun stopped following it for its own reasons (the
    server failed, a bug), not the user's (a timeout, a signal): not known to have
    failed, so going. It was 1, then 0 once it passed: a CI loop waiting for "not 3"
    stopped at a failure the run never had."""
    from mogrun.engine.signals import is_interrupt_code
    from mogrun.outcomes import Outcome, RunStatus

    return (bool(row.run_id) and row.outcome == Outcome.ERROR
            and not RunStatus.is_terminal(row.status) and row.status != UNKNOWN_TO_SERVER
            and not is_interrupt_code(row.exit_code))


def _refresh(state: CliState, taskfile: Any, history: Any, rows: Sequence[Any]) -> list[Any]:
    """Rows with the current status of every run not yet known to have ended (one
    ``GET /runs/{id}/events`` each; a terminal row is never asked again). A detached
    run found ended is judged by its job's gates, as ``run`` would have, and
    completed in history: status, outcome, end, exit code — unless the task file
    names plugins (``GateJudge.verdict``): then it is shown ended, and left in
    history for ``logs --follow`` or ``rerun`` to judge."""
    import dataclasses

    from mogrun.outcomes import RunStatus

    def going(row: Any) -> bool:
        return bool(row.run_id) and not RunStatus.is_terminal(row.status)

    if state.local:  # no API to ask
        return [as_left_locally(row) for row in rows]
    live = [row for row in rows if going(row)]
    if not live:
        return list(rows)

    from mogrun.cli.judging import GateJudge
    from mogrun.engine.automation_kind import reader_for

    client = api_client(state, taskfile)
    judge = GateJudge(state, [row.job for row in live])
    fresh = {}
    for row in live:
        try:
            run, events = reader_for(client, row_automation(row, taskfile)).get_events(
                row.run_id)
        except RequestRefusedError as exc:
            state.warn(f"{row.run_id}: {exc.message}")
            if isinstance(exc, NotFoundError):  # not going, nor passed, as far as known
                fresh[row.id] = dataclasses.replace(row, status=UNKNOWN_TO_SERVER)
            continue
        judged = judge.verdict(row, run, events, taskfile) if run.terminal else None
        if run.terminal and judged is None:  # its gates are the plugins': shown, not kept
            fresh[row.id] = dataclasses.replace(row, status=run.status)
            continue
        fresh[row.id] = record_status(history, row, run, judged, judge.secrets_of(row))
    return [fresh.get(row.id, row) for row in rows]


def as_left_locally(row: Any) -> Any:
    """A ``--local`` row as it stands: recorded as going, with no mogrun of this
    machine following it any more, its run ended with that mogrun's emulator, its
    end unseen (``UNKNOWN_TO_SERVER``); any other row as recorded."""
    import dataclasses

    from mogrun.outcomes import RunStatus

    if row.run_id and not RunStatus.is_terminal(row.status) and row.live_owner is None:
        return dataclasses.replace(row, status=UNKNOWN_TO_SERVER)
    return row


# What ``status`` shows (never records) for a run the API answers NOT_FOUND for: an
# ``--exit-status`` poller waiting for it to stop being 3 would wait forever.
UNKNOWN_TO_SERVER = "unknown"


def record_status(history: Any, row: Any, run: Any, judged: RunResult | None = None,
                  secrets: Collection[str] = ()) -> Any:
    """Write what mogrun learnt of ``row``'s run; a run that ended gets its outcome
    (``judged``'s when gates were applied, else the status's own) and exit code,
    and with ``judged`` what ``run`` keeps of a run it follows to its end: each
    gate's verdict and the message (masked of ``secrets``). A run recorded
    while it was still going (detached, or left going at a timeout, an interrupt or
    a failed follow) is judged as it ended, not as it was left. Every other row of
    the run not yet seen to end (a rerun recorded it again while it went) learns it
    too: no row of it goes on reading as going."""
    from mogrun.outcomes import RunStatus

    fresh = _record_one(history, row, run, judged, secrets)
    for other in history.also_of_run(row):
        if not RunStatus.is_terminal(other.status):
            _record_one(history, other, run, judged, secrets)
    return fresh


def _record_one(history: Any, row: Any, run: Any, judged: RunResult | None,
                secrets: Collection[str]) -> Any:
    """``record_status`` of one row."""
    import dataclasses

    from mogrun.outcomes import Outcome, RunStatus

    fields: dict[str, Any] = {"status": run.status}
    if run.terminal and (judged or row.outcome in (None, Outcome.DETACHED)
                         or not RunStatus.is_terminal(row.status)):
        from mogrun.engine.history import ended_fields, gates_json

        final = Outcome(judged.outcome) if judged else Outcome.of_status(run.status)
        kept = None if judged is None else (gates_json(judged.gates, secrets),
                                            mask(judged.message, secrets))
        fields.update(ended_fields(row, run.status, str(final), run.updated_at, kept))
        from mogrun.engine.run_kind import capacity_refusal

        refused = capacity_refusal(run)
        if refused and not row.message:  # a fixed text of the server's: no secret in it
            fields["message"] = refused  # what ``refused_unfollowed`` says
    changed = {k: v for k, v in fields.items() if getattr(row, k) != v}
    if changed:
        try:
            history.update(row.id, **changed)
        except MogrunError as exc:  # read-only, or locked too long: shown, not kept
            if history not in _SAID_UNRECORDED:
                _SAID_UNRECORDED.add(history)
                _echo_safe(f"warning: {exc.message}; what the API said is shown, not "
                           "recorded", err=True)
    return dataclasses.replace(row, **changed)


# The histories a failed write was said of, once each. Weak: an id() kept here could
# be a later history's (in-process tests open many), whose warning would then be lost.
_SAID_UNRECORDED: weakref.WeakSet[Any] = weakref.WeakSet()


def nothing_recorded(state: CliState, taskfile: Any, history: Any, argv: Sequence[str],
                     job: str | None = None, repo: str | None = None) -> None:
    """``No runs recorded yet.`` (on stderr; not with ``--json``) — unless this task
    file recorded runs under another API (``--local``, another URL): then that, how
    many, and the command that shows them (``argv``: this command's own words)."""
    elsewhere = recorded_elsewhere(state, taskfile, history, argv, job, repo)
    if not elsewhere:
        if not state.json_output:
            click.echo("No runs recorded yet.", err=True)
        return
    for line in [f"No runs recorded yet {_scope(history.base_url)}.", *elsewhere]:
        _echo_safe(line, err=True)  # a URL is the user's text: shown escaped


def recorded_elsewhere(state: CliState, taskfile: Any, history: Any,
                       argv: Sequence[str], job: str | None = None,
                       repo: str | None = None) -> list[str]:
    """``1 run is recorded with --local: see mogrun --local logs hello``: a line for
    each other API (``--local``, another URL) this task file recorded runs under (of
    ``job``, on ``repo``), with ``argv`` as the command against it. What a command
    that found nothing here says: `mogrun --local hello` then `mogrun logs hello` is
    the usual slip."""
    from mogrun.api.settings import normalised_base

    lines = []
    for url, count in history.elsewhere(job, repo):
        runs = "1 run is" if count == 1 else f"{count} runs are"
        if normalised_base(url) == history.base_url:  # no --url reaches them: it is respelt
            lines.append(f"{runs} recorded against {url}, this API as an older mogrun spelt "
                         "it; a history it can write is respelt when opened, and this one "
                         "cannot be written: make it writable, then run this again")
            continue
        lines.append(f"{runs} recorded {_scope(url)}: "
                     f"see {_command_for(state, taskfile, url, argv)}")
    return lines


def _scope(url: str) -> str:
    """``with --local`` or ``against URL``: where runs were recorded, as messages say."""
    from mogrun.engine.history import LOCAL_BASE_URL

    return "with --local" if url == LOCAL_BASE_URL else f"against {url}"


def _command_for(state: CliState, taskfile: Any, url: str, argv: Sequence[str]) -> str:
    """``mogrun [-f FILE] [--local | --url URL] ARGV``: this command against ``url``'s
    runs (no ``--url`` for the URL mogrun uses without one). A local run ended with
    its emulator: there is none to cancel, so ``cancel`` becomes ``status``."""
    from mogrun.api.settings import resolve_endpoint
    from mogrun.engine.history import LOCAL_BASE_URL
    from mogrun.textsafety import shell_word

    parts = ["mogrun"]
    if state.file:
        parts += ["-f", str(state.file)]
    if url == LOCAL_BASE_URL:
        parts.append("--local")
        if argv[:1] == ["cancel"]:
            argv = ["status", *argv[1:]]
    else:
        try:
            default = resolve_endpoint(cli_url=None, env=state.env,
                                       file_url=taskfile.url).base_url.rstrip("/")
        except MogrunError:
            default = None
        if url != default:
            parts += ["--url", url]
    return " ".join(["mogrun", *(shell_word(word) for word in [*parts[1:], *argv])])


def _show_status(state: CliState, rows: Sequence[Any], history: Any,
                 jobs: Collection[str]) -> None:
    """The table, then a note under it for each run that needs one (``--json``: its
    ``note``): its latest attempt never started after a capacity refusal, the
    server refused it unfollowed, its gates are still to judge, its --local
    emulator ended before it did, or its start may have made a run never named.
    ``jobs``: the task file's, which rerun can start again."""
    notes = [never_started(history, row) or refused_unfollowed(state, history, row, jobs)
             or unjudged(state, history, row) or ended_unseen(state, row, jobs)
             or unconfirmed(state, row) for row in rows]
    if state.json_output:
        for row, note in zip(rows, notes, strict=True):
            state.echo_json({**_shown_row(row), "note": note})
        return
    if not rows:  # said by nothing_recorded
        return
    _table(state, ["job", "repo", "run id", "status", "outcome", "started"],
           [[row.job or "-", row.repo or "-", row.run_id or "-", shown, _outcome_cell(row),
             "-" if shown in (NOT_STARTED, WAITING) else row.started_at]
            for row in rows for shown in [shown_status(row)]])
    for row, note in zip(rows, notes, strict=True):
        if note is not None:
            _echo_safe(f"{row_label(history, row)}: {note}")


def never_started(history: Any, row: Any) -> str | None:
    """``run 3f9c... (attempt 1) was refused for capacity (Too many active sandboxes);
    attempt 2 never started: no sandbox slot freed within ...``: what happened to a
    run whose latest attempt, made after a capacity refusal, never started (no slot
    within its capacity_wait, an interrupt); ``None`` for any other row."""
    if row.run_id or row.why != "capacity" or row.outcome is None:
        return None  # it started, was not made after a refusal, or is still to start
    before = history.attempt_before(row)
    refused = ""
    if before is not None and before.run_id:
        from mogrun.outcomes import refusal_reason

        error = refusal_reason(before.message) or before.status
        refused = (f"run {before.run_id} (attempt {before.attempt}) was refused for capacity "
                   f"({error}); ")
    return f"{refused}attempt {row.attempt} never started: {row.message or row.outcome}"


def refused_unfollowed(state: CliState, history: Any, row: Any,
                       jobs: Collection[str]) -> str | None:
    """``run 3f9c... was refused for capacity (Too many active sandboxes): it never
    ran; mogrun rerun starts it again``: a run no mogrun followed to its end
    (``--detach``, left going) that the server refused after its start, which a
    followed run would have retried by itself; ``None`` for any other row."""
    from mogrun.engine.capacity import BootRefusal
    from mogrun.outcomes import Outcome

    if (row.outcome != Outcome.FAILED or not row.run_id or not row.job  # rerun knows no other
            or BootRefusal.of(row.message or "") is None):  # as capacity_refusal recorded it
        return None
    return (f"run {row.run_id} was refused for capacity ({row.message}): it never ran; "
            f"{starts_again(state, row, jobs)}")


def ended_unseen(state: CliState, row: Any, jobs: Collection[str]) -> str | None:
    """What a ``--local`` run recorded as going, whose mogrun is gone (killed), is
    now: its emulator ended with that mogrun, and the run with it. It read as
    going for ever, and ``status --exit-status`` said 3 for ever."""
    if not state.local or row.status != UNKNOWN_TO_SERVER:
        return None
    return ("its --local emulator ended with the mogrun that ran it, before the run's end "
            f"was seen: {starts_again(state, row, jobs)}")


def starts_again(state: CliState, row: Any, jobs: Collection[str]) -> str:
    """``mogrun rerun starts it again``, for a run of a job still in the task file
    (``jobs``): said of a removed job's run, the command it named failed on
    "unknown job"."""
    if row.job not in jobs:
        return (f"its job {row.job} is no longer in the task file, so rerun cannot start it "
                "again")
    from mogrun.cli.run_cmd import command_prefix

    return f"{command_prefix(state)} rerun starts it again"


def unjudged(state: CliState, history: Any, row: Any) -> str | None:
    """``ended success; its gates are judged by the task file's plugins, which status
    does not load: mogrun logs --follow fix (or mogrun rerun) judges it``; ``None``
    for a row that is judged or still going."""
    from mogrun.cli.judging import awaits_judgement
    from mogrun.cli.run_cmd import command_prefix

    if not awaits_judgement(row):
        return None
    command = command_prefix(state)
    return (f"ended {row.status}; its gates are judged by the task file's plugins, which "
            f"status does not load: {command} logs --follow {row_label(history, row)} "
            f"(or {command} rerun) judges it")


def start_unanswered(row: Any) -> bool:
    """Whether ``row``'s start may have made a run whose id was never learnt: the
    server accepted it without naming the run, a signal left it unanswered (its
    message says either), or the mogrun that recorded its key was killed before
    recording how it ended (no outcome, and that mogrun gone). A key is recorded
    just before the start is sent, and also before a sandbox slot is waited for:
    the history cannot tell those apart, so such a start may have been sent. A
    row that never got a key (killed while it waited for its needs) sent nothing;
    one whose mogrun still runs is ``waiting``. The one rule of ``status`` and
    ``history`` (``unconfirmed``) and of ``rerun`` (``rerun_cmd.unanswered``: its
    next attempt sends the same key)."""
    from mogrun.engine.runner import may_have_started

    if row.run_id:
        return False
    if row.outcome is None:
        return bool(row.idempotency_key) and row.live_owner is None
    return may_have_started(row.message)


def unconfirmed(state: CliState, row: Any) -> str | None:
    """``its start may have made a run whose id is unknown: mogrun rerun sends ...``:
    a row without a run whose start may have made one (``start_unanswered``);
    ``None`` for any other row."""
    if not start_unanswered(row):
        return None
    from mogrun.cli.run_cmd import command_prefix

    return (f"its start may have made a run whose id is unknown: {command_prefix(state)} "
            f"rerun sends its Idempotency-Key ({row.idempotency_key}) again, which finds "
            "such a run rather than starting a second")


# A run not started yet by a mogrun still running on this machine (its needs, a slot).
WAITING = "waiting"
NOT_STARTED = "not started"  # a row with no run, and no mogrun left to start it
UNCONFIRMED_START = "unconfirmed"  # a row with no run id whose start may have made a run


def shown_status(row: Any) -> str:
    """A row's status as status and history show it: a waiting one says so, one
    that never started too, and one whose start may have made a run (its id never
    learnt) does not read as never started."""
    if row.waiting:
        return WAITING
    if row.status or row.run_id:
        return row.status or "-"
    return UNCONFIRMED_START if start_unanswered(row) else NOT_STARTED


def _shown_row(row: Any) -> dict[str, Any]:
    """A row as ``--json`` status and history show it: a waiting one says so, and
    so does one whose start may have made a run (a script deciding whether to
    start it again reads that, not a null it would take for "never started")."""
    word = shown_status(row)  # the one rule; "not started" stays JSON's null
    return {**row.as_dict(), **({"status": word} if word in (WAITING, UNCONFIRMED_START)
                                else {})}


# --- cancel ---------------------------------------------------------------------


@click.command("cancel")
@click.argument("target", metavar="JOB|JOB:owner/name|RUN_ID", shell_complete=complete_jobs,
                callback=run_id_case)
@click.pass_obj
def cancel_command(state: CliState, target: str) -> int:
    """Request cancellation of a run (every run of a job's latest invocation).

    Ctrl-C or SIGTERM sends no more cancels (the one sent is answered; a
    second signal leaves at once), names each run whose cancel was not sent
    or not answered, with the command for it, and exits 130 or 143.

    \b
    Examples:
      mogrun cancel 3f9c2e41-7b1d-4c8a-9e55-0d6b2a7f1c38
      mogrun cancel codemod            every run of its latest invocation
    """
    state.hold_github_commands()  # server and agent text follows
    taskfile, history = open_state(state)
    try:
        secrets = env_secrets(state, taskfile)
        targets = targets_for(history, taskfile, target, secrets, state=state,
                              command="cancel")
        if not targets:
            waiting = still_to_start(
                target, rows_for(history, taskfile, target, secrets, state=state),
                _stop_that_mogrun)
            if waiting is not None:
                raise waiting
            raise UsageError(f"no started runs recorded for {target!r}")
        targets = with_automations(targets, taskfile)
        if state.local:
            going = going_in_a_local_mogrun(
                targets, "cancel it", lambda pid: f"Stop that mogrun (Ctrl-C there, or kill "
                f"-INT {pid}): it cancels what it started.")
            if going is not None:
                raise going
        import threading
        import time

        from mogrun.engine.signals import InterruptibleSleep

        stop = threading.Event()  # set at the first signal: a retry's wait ends there
        sleeper = InterruptibleSleep(stop, time.sleep)
        client = api_client(state, taskfile, sleeper)
        code = _cancel_all(state, client, history,
                           located(state, client, taskfile, history, targets, "cancel"),
                           stop, sleeper)
        return _unstarted_left(state, history, rows_for(history, taskfile, target, secrets,
                                                        state=state), code)
    finally:
        history.close()


def _unstarted_left(state: CliState, history: Any, rows: Sequence[Any], code: int) -> int:
    """After the cancels: each run of the invocation a mogrun here is still to start,
    named with what stops it (``cancel fan`` said only the runs started so far were
    cancelled, exit 0, and that mogrun then started the rest)."""
    from mogrun.errors import combine_exit_codes

    waiting = [row for row in rows if row.waiting]
    for row in waiting:
        pid = row.owner_pid
        _echo_safe(f"warning: {row_label(history, row)}: not started yet: mogrun (pid {pid}) on "
                   f"this machine is still to start it. {_stop_that_mogrun(pid)}", err=True)
    return combine_exit_codes([code, 1]) if waiting else code


def _stop_that_mogrun(pid: int | None) -> str:
    """What ends another mogrun's runs still to start: ``cancel`` cannot."""
    return (f"Stop that mogrun (Ctrl-C there, or kill -INT {pid}): it starts nothing more, "
            "and cancels what it started.")


def still_to_start(target: str, rows: Sequence[Any],
                   advice: Callable[[int | None], str]) -> MogrunError | None:
    """``'b' has not started yet: mogrun (pid N) on this machine is waiting to start
    it``, when ``target``'s latest invocation started none of ``rows`` and one is
    ``waiting``: no older invocation's run stands for it (``cancel``, ``logs``).
    ``advice(pid)``: the caller's line of what to do about that mogrun.
    ``None`` otherwise."""
    if any(row.run_id for row in rows):
        return None
    waiting = [row for row in rows if row.waiting]
    if not waiting:
        return None
    pid = waiting[0].owner_pid
    return MogrunError(f"{target!r} has not started yet: mogrun (pid {pid}) on this machine "
                       "is waiting to start it (for its needs or a sandbox slot)",
                       context=[advice(pid)])


NO_PUBLIC_CANCEL = "NO_PUBLIC_CANCEL"  # an automation run's cancel, refused by mogrun itself


def _named(target: Target) -> str:
    """``ID (job:owner/name)``; a run id alone (history never recorded it) once."""
    return target.run_id if target.label == target.run_id else (
        f"{target.run_id} ({target.label})")


def _cancel_all(state: CliState, client: Any, history: Any, targets: Sequence[Target],
                stop: Any, sleeper: Any) -> int:
    """Every run gets its cancel even when the server refuses one (a run it no longer
    knows): that one is an error line, the rest go on, and the exit code is 1. A
    signal sends no more cancels, nor retries of one (``stop`` ends a retry's wait,
    ``sleeper``'s; the request in flight is answered; a second signal leaves it):
    each run whose cancel was not sent, or not answered, is named with its command,
    and the exit code is the signal's, as ``run`` does."""
    from mogrun.engine.signals import ForcedExit, SignalWatch

    pending = list(targets)  # pending[0] is in flight while a cancel is sent
    in_flight = [False]  # its cancel was sent, its answer (or retry) cut short
    with SignalWatch(stop, on_first=lambda code: _say_cancel_signal(code, pending)) as watch:
        try:
            code = _cancel_each(state, client, history, pending, watch, sleeper, in_flight)
        except ForcedExit as forced:
            return _cancels_left(state, pending, forced.exit_code, in_flight=True)
    if watch.exit_code is None:
        return code
    return _cancels_left(state, pending, watch.exit_code, worst=code, in_flight=in_flight[0])


def _cancel_each(state: CliState, client: Any, history: Any, pending: list[Target],
                 watch: Any, sleeper: Any, in_flight: list[bool]) -> int:
    """Send the cancels of ``pending`` in turn, each removed once answered, until all
    are or a signal lands (``watch``). One run's refusal is an error (exit 1)."""
    from mogrun.errors import Interrupted

    failed = False
    single = len(pending) == 1
    while pending and not watch.interrupted:
        target = pending[0]
        try:
            with sleeper.armed():
                _cancel_one(state, client, history, target)
        except Interrupted:  # a signal during a retry's wait: no more tries
            in_flight[0] = True
            break
        except RequestRefusedError as exc:
            if single:
                raise
            failed = True
            said = (exc.message if exc.code == NO_PUBLIC_CANCEL  # it names the run itself
                    else f"{_named(target)}: {exc.message}")
            _echo_safe(f"error: {said}", err=True)
        pending.pop(0)
    return 1 if failed else 0


def _say_cancel_signal(exit_code: int, pending: Sequence[Target]) -> None:
    """At the first signal: no more cancels are sent; the one in flight is waited for."""
    from mogrun.engine.signals import signal_name

    rest = len(pending) - 1
    more = f"; {rest} more not sent" if rest > 0 else ""
    _echo_safe(f"warning: {signal_name(exit_code)}: sending no more cancels; waiting for "
               f"the answer to the cancel sent{more} (a second signal leaves at once)",
               err=True)


def _cancels_left(state: CliState, pending: Sequence[Target], exit_code: int, *,
                  in_flight: bool = False, worst: int = 0) -> int:
    """Name each run a signal left without a cancel (or with one unanswered), with
    the command for it; the exit code, said as ``run`` says it."""
    from mogrun.cli.run_cmd import command_prefix
    from mogrun.errors import combine_exit_codes

    command = command_prefix(state)
    for n, target in enumerate(pending):
        if in_flight and n == 0:
            _echo_safe(f"cancel sent, not yet answered: {_named(target)}; see whether it "
                       f"ended with: {run_command(command, 'status', target.run_id)}", err=True)
        else:
            _echo_safe(f"cancel not sent: {_named(target)}; cancel it with: "
                       f"{run_command(command, 'cancel', target.run_id)}", err=True)
    code = combine_exit_codes([worst, exit_code])
    _echo_safe(f"exit code {code}", err=True)
    return code


def _cancel_one(state: CliState, client: Any, history: Any, target: Target) -> None:
    if target.automation is not None:
        if _automation_run_ended(state, client, history, target):
            return
        raise RequestRefusedError(
            f"{_named(target)} is a run of automation {target.automation!r}: "
            "the Mogplex API has no cancel for automation runs; it is left going",
            status=0, code=NO_PUBLIC_CANCEL)
    try:
        outcome = client.cancel_run(target.run_id)
    except RequestRefusedError as exc:
        if exc.status != 409:
            raise
        from mogrun.cli.run_cmd import command_prefix

        # (a conflict the client could not settle: "Sandbox is not ready", a run
        # starting). The server's words alone left the run's fate unsaid.
        raise exc.evolve(context=[*exc.context, (
            f"Nothing was cancelled: the run goes on. Cancel it again in a moment with: "
            f"{run_command(command_prefix(state), 'cancel', target.run_id)}")]) from exc
    if target.row is not None:  # an ended run's row is completed, outcome included
        record_status(history, target.row, outcome.state)
    _say_cancelled(state, target, outcome.state.status, outcome.already_terminal)


def _automation_run_ended(state: CliState, client: Any, history: Any, target: Target) -> bool:
    """An automation run has no cancel, but one that has ended needs none: said as
    a run's cancel says it, its row completed (``False``: it is going)."""
    from mogrun.engine.automation_kind import reader_for

    run, _ = reader_for(client, target.automation).get_events(target.run_id)
    if not run.terminal:
        return False
    if target.row is not None:
        record_status(history, target.row, run)
    _say_cancelled(state, target, run.status, already_terminal=True)
    return True


def _say_cancelled(state: CliState, target: Target, status: str | None,
                   already_terminal: bool) -> None:
    if state.json_output:
        state.echo_json({"run_id": target.run_id, "label": target.label, "status": status,
                         "already_terminal": already_terminal})
    elif already_terminal:
        _echo_safe(f"{_named(target)} had already ended: {status}")
    else:
        _echo_safe(f"{_named(target)} {status}")


# --- history --------------------------------------------------------------------


@click.command("history")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=30, show_default=True,
              help="How many runs to list, newest first.")
@click.option("--job", "job_name", metavar="JOB", help="Only runs of this job (or of one "
              "of its runs: JOB:owner/name, as logs takes it, or a run id: its rows).",
              shell_complete=complete_jobs)
@click.pass_obj
def history_command(state: CliState, limit: int, job_name: str | None) -> int:
    """Past runs recorded locally in .mogrun/history.db (newest first).

    \b
    Examples:
      mogrun history
      mogrun history --job codemod -n 5
      mogrun history --job codemod:acme/api
      mogrun --json history | jq -r .run_id

    Each task file in a folder has its own history (mogrun -f nightly.toml
    history: nightly.toml's runs); runs recorded before mogrun kept them
    apart are listed for every one. Runs are kept per API (--local runs
    apart): with none here, the APIs that have some are named, with the
    command that lists them (mogrun --local history).

    The exit column is each run's own exit code: 0 passed, 1 did not,
    130/143/129 when a signal cut the run short, - for a detached run not yet
    seen to end (--json: exit_code and finished_at null until status, logs
    --follow or rerun sees it end). The invocation's exit code
    is the worst of its runs' and can differ: a signal that lands after a
    run ended (while its gates judge it, while a notify is sent, or as the
    cancel finds it already ended) makes mogrun exit 130 while the run's row
    keeps 0 or 1; so does a KeyboardInterrupt a plugin's notifier raises,
    taken as a Ctrl-C. The summary says both: each run's result, and the
    exit code.
    """
    if job_name is not None and not job_name.strip():  # a script's unset variable
        raise UsageError(f"--job needs a job name, not {'a blank' if job_name else 'an empty'}"
                         " string", context=["Leave it out to list the runs of every job."])
    state.hold_github_commands()  # server and agent text follows
    taskfile, history = open_state(state, by_id=False)  # the history is all it shows
    job, sep, repo = job_and_repo(job_name or "")
    rest: Iterator[Any] = iter(())  # --json's rows after the first, read as printed
    try:
        run = (history.by_run_id(job_name.lower()) if job_name and job not in taskfile.job_names
               and looks_like_run_id(job_name) else None)
        if run is not None:  # every row of that run (a rerun that left it going has two)
            rows = sorted([run, *history.also_of_run(run)], key=lambda r: -r.id)[:limit]
        else:  # streamed: a year's history held at once took 310 MB as --json, 1.6 GB
            # as a table (which keeps each row's cells, not its request, for its widths)
            rest = history.stream_recent(limit, job=job or None, repo=repo if sep else None)
            rows = list(itertools.islice(rest, 1))
        if job_name is not None and not rows:
            known = history.recent(200, job=job)
            if not known and job not in taskfile.job_names:
                raise unknown_target(job_name, job, taskfile, history)
            if sep and known:  # the job ran, not on that repo: say which repos it did
                raise _unknown_repo(job_name, repo, known, history)
        if not rows:
            nothing_recorded(state, taskfile, history,
                             ["history", *(["--job", job_name] if job_name else [])],
                             job or None, repo if sep else None)
            return 0
        if state.json_output:
            for row in itertools.chain(rows, rest):
                state.echo_json(_shown_row(row))
            return 0
        cells = [[row.started_at, row.job, row.repo, row.run_id or "-", shown_status(row),
                  _outcome_cell(row), "-" if row.exit_code is None else str(row.exit_code),
                  row.invocation] for row in itertools.chain(rows, rest)]
    finally:
        history.close()
    _table(state, ["started", "job", "repo", "run id", "status", "outcome", "exit", "invocation"],
           cells)
    return 0

