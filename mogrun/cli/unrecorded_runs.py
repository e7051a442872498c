"""A run id this project's history never recorded (another checkout or CI
started it): read from the API alone (an automation's job run through the
automations the task file names) and shaped as a history row for ``status``.
``logs`` and ``cancel`` learn its automation here too. Apart from
``run_targets``: only a run id history lacks comes this way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mogrun.cli.run_targets import Target, api_client, command_for, scope
from mogrun.cli.state import CliState
from mogrun.errors import MogrunError, NotFoundError, UsageError


def _as_recorded(stamp: object) -> str:
    """A server's timestamp as history writes its rows' (UTC, to the second):
    ``2026-12-04T23:01:19+00:00``, not ``...19.964123+00:00`` among them; an unreadable
    one as it came."""
    from mogrun.durations import parse_moment
    from mogrun.engine.history_row import iso_of

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
        from mogrun.engine.history_row import SHOWN_COLUMNS
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


# Said with it when the file names an automation through a template.
TEMPLATED_HINT = ("An automation named through a template is asked as it renders here: "
                  "one using an env.* variable that is not set here is not asked.")


def named_automations(state: CliState, taskfile: Any) -> list[str]:
    """The automations the task file's jobs name, rendered as a run renders them
    (``--set``, the environment): an automation named from ``{{ env.NAME }}`` —
    the secret name the docs suggest, CI's way — was left out, and the run it
    started in CI was "in none this task file names". One using an unset env
    name is left out."""
    from mogrun.taskfile import automations_named

    return [name for name, _ in automations_named(taskfile, state.sets, state.env)]


def unrecorded_run(state: CliState, client: Any, taskfile: Any, history: Any, run_id: str
                   ) -> tuple[Any, str | None]:
    """(its state, its automation or ``None``) of a run id history never recorded:
    ``GET /runs/{id}``, and on its 404 the automations the task file names (an
    automation's job run is read only through it); the 404 when none has it."""
    from mogrun.engine.automation_kind import automation_of_run
    from mogrun.taskfile.resolve import job_automation

    try:
        return client.get_run(run_id), None
    except NotFoundError as exc:
        found = automation_of_run(client, named_automations(state, taskfile), run_id)
        if found is None:
            looked = (f"this project's history, which cannot be read, was not looked in "
                      f"({history.path})" if history.unreadable is not None else
                      f"{run_id} is not in this project's history either ({history.path})")
            templated = any("{{" in (job_automation(taskfile, job) or "")
                            for job in taskfile.job_names)
            raise exc.evolve(context=[*exc.context, looked, AUTOMATION_RUN_HINT,
                                      *([TEMPLATED_HINT] if templated else [])]) from exc
        return found[1].state, found[0]


def located(state: CliState, client: Any, taskfile: Any, history: Any,
            targets: Sequence[Target], command: str) -> list[Target]:
    """``targets``, a run id history never recorded knowing its automation if it is
    an automation's job run (``logs`` and ``cancel`` then act through it)."""
    import dataclasses

    return [dataclasses.replace(t, automation=_unrecorded_run(
                state, lambda: client, taskfile, history, t.run_id, command)[1])
            if t.row is None and t.automation is None else t for t in targets]


def unrecorded_row(state: CliState, taskfile: Any, history: Any, run_id: str) -> UnrecordedRun:
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
    from mogrun.engine.history_row import LOCAL_BASE_URL

    there = history.recorded_under(run_id)
    if there is not None and (state.local or there == LOCAL_BASE_URL):
        raise _run_recorded_elsewhere(state, taskfile, run_id, there, command)
    if state.local:
        raise UsageError(f"no recorded run {run_id!r} against this API",
                         context=[f"History: {history.path} ({history.base_url})"])
    try:
        return unrecorded_run(state, client(), taskfile, history, run_id)
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
    from mogrun.engine.history_row import LOCAL_BASE_URL

    see = command_for(state, taskfile, url, [command, run_id])
    return MogrunError(f"run {run_id} was recorded {scope(url)}, not against this API",
                       context=[f"See it with: {see}" + (
                           " (local runs end with the emulator that ran them)"
                           if url == LOCAL_BASE_URL else "")])
