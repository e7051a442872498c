"""The plugin hooks mogrun calls, grouped by the phase of an invocation.

Every hook is called with keyword arguments; an implementation may accept
any subset of a spec's arguments, so specs can gain arguments later without
breaking plugins. After loading, mogrun refuses an implementation whose name
matches no spec here (a typo in a hook name is an error, not silence).
The return annotations are the contract, not decoration: the host checks
every answer against them (``mogrun.pluginspec``), and ``firstresult=True``
stops at the first non-``None`` answer because the host calls through pluggy.
Plugin authors import ``hookimpl`` from ``mogrun.plugin``.

Phases: set-up (options, configure, keys: called in that order) -> resolving
(adjust each job, then each start request) -> running (retry, started, events,
status, watch) -> finishing (gates, job finished, session finished).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

import pluggy

if TYPE_CHECKING:
    from mogrun.errors import MogrunError, RequestInfo
    from mogrun.models import ResolvedJob, RunPlan, SessionConfig, StartRequest
    from mogrun.runs import Event, GateVerdict, RunResult, RunState
    from mogrun.waits import Wait

PROJECT = "mogrun"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- set-up --------------------------------------------------------------


@hookspec
def mogrun_add_options(register: Callable[..., None]) -> None:
    """Declare extra options of ``mogrun run`` (e.g. ``--junit PATH``).

    Called before the command line of ``run`` is parsed, for plugins that
    load from entry points or ``-p`` (task-file plugins load too late to add
    options), and once more when a task file's plugins have loaded (to tell
    theirs apart): register there and do nothing else. Call
    ``register(name, help=..., metavar="VALUE", flag=False)`` per option:
    ``name`` is the long option without dashes.
    The parsed value reaches ``mogrun_configure`` as ``config.options[name]``
    (``None``/``False`` when not given). All implementations are called.
    """


@hookspec
def mogrun_job_keys(register: Callable[..., None]) -> None:
    """Declare job keys this plugin owns (``retry``, ``gates``, ``notify``, ...).

    Called once per invocation, before the task file is validated. Call
    ``register(name, validate, help="", secrets=None)`` per key:

    - ``validate(value) -> value`` receives the raw TOML value (strings
      already templated) and returns the normalised value kept in
      ``ResolvedJob.options[name]``; it raises ``ValueError(message)`` to
      reject it, and mogrun reports the message with file, line, job and key.
      Any other exception (a ``TypeError`` too) is the plugin's bug: an error
      naming the plugin and the key, exit 2.
    - ``secrets(value) -> Iterable[str]`` (optional) names the strings of a
      normalised value to mask wherever mogrun prints or stores them (e.g.
      webhook URLs).

    An undeclared key stays an error, so validation remains strict. All
    implementations are called.
    """


@hookspec
def mogrun_configure(config: SessionConfig) -> None:
    """The task file is loaded and the command line parsed.

    ``config`` carries the task file's path, the API base URL, whether the
    run is ``--local``, the ``[mogplex]`` table and the values of options from
    ``mogrun_add_options``. Called before any job is resolved, for ``check``,
    ``show`` and ``run``. All implementations are called.
    """


# --- resolving ---------------------------------------------------------------


@hookspec
def mogrun_adjust_job(job: ResolvedJob) -> ResolvedJob | None:
    """Return a replacement for a resolved job, or ``None`` to keep it.

    Called for each job about to be shown or run, after defaults, templates
    and validation. Implementations are chained: each sees the previous
    one's replacement. Use ``dataclasses.replace`` on the frozen job. The
    replacement keeps the job's ``name`` and ``needs``: the run graph is
    planned from the task file before this hook is asked.
    """


@hookspec
def mogrun_start_request(
    job: ResolvedJob, run: RunPlan, request: StartRequest
) -> StartRequest | None:
    """Adjust (return a replacement) or veto a start request before it is sent.

    Called for each run just before ``show`` prints it and before ``run``
    sends it, after repos are resolved in ``run``. Return ``None`` to keep the
    request. Raise ``mogrun.plugin.GateError(reason)`` to veto the start: the
    run is reported failed with that reason and never sent. Implementations
    are chained like ``mogrun_adjust_job``. A replacement naming another
    ``repo`` with the same ``repo_id`` is refused like a veto (it would start
    the resolved repo): change a run's repo in ``mogrun_adjust_job``.
    """


# --- running -----------------------------------------------------------------


@hookspec(firstresult=True)
def mogrun_retry_delay(
    error: MogrunError,
    attempt: int,
    job: ResolvedJob | None,
    request: RequestInfo,
    retry_after: float | None,
) -> float | Literal[False] | None:
    """Decide whether, and after how long, a failed request is retried.

    Called after each failed API request with the error, the count of
    consecutive failures of this request (1 for the first), the job it
    serves (``None`` outside a job, e.g. ``mogrun repos``) and the server's
    ``Retry-After`` in seconds if it sent one. Return seconds to wait before
    retrying, ``False`` to give up now, or ``None`` for no opinion. The first
    non-``None`` answer wins; when no plugin answers, mogrun gives up. A
    retried start always reuses the same Idempotency-Key and body.
    """


@hookspec
def mogrun_run_started(job: ResolvedJob, run: RunPlan, state: RunState, attached: bool) -> None:
    """A start answered 202 (``attached`` is true when the run predates this
    invocation, i.e. the first attempt was a replay). All are called."""


@hookspec
def mogrun_event(job: ResolvedJob, run: RunPlan, event: Event) -> None:
    """A new event of a run was seen: called once per event id, in order.
    All implementations are called."""


@hookspec
def mogrun_status_changed(
    job: ResolvedJob, run: RunPlan, old: str | None, state: RunState
) -> None:
    """A run's status differs from the one last seen. All are called."""


@hookspec
def mogrun_wait(wait: Wait) -> None:
    """Something of this invocation waits: a start held back by the start
    limit, a 429's Retry-After, no free sandbox slot, needs not yet done, a
    retry after a transport error, a deferred automation trigger.

    Called each time a wait begins, with a ``mogrun.waits.Wait`` naming its
    kind, reason, job/run and when it ends: on a thread of its own, after
    mogrun has handed the wait to its output (a pipe's lines go out in
    batches: a plugin's own print may come first), in the order the waits
    came (a slow hook holds
    neither the wait nor the run); every wait is heard before
    ``mogrun_session_finished``. Observers only; all implementations are
    called and answers are ignored.
    """


@hookspec(firstresult=True)
def mogrun_watch(
    job: ResolvedJob, run: RunPlan, state: RunState, unchanged_for: float
) -> str | None:
    """Called after each poll of an active run.

    ``unchanged_for`` is how many seconds the run's status, event count and
    ``updatedAt`` have stayed the same. Return a reason string to stop
    following and treat the run as timed out (it is then cancelled or left
    going per the job's ``on_timeout``), or ``None`` to go on. First answer wins.
    """


# --- finishing -----------------------------------------------------------------


@hookspec
def mogrun_gate(
    job: ResolvedJob,
    run: RunPlan,
    result: RunResult,
    state: RunState | None,
    events: tuple[Event, ...],
) -> GateVerdict | Sequence[GateVerdict] | None:
    """Judge a run that reached a terminal status (not one that timed out).

    Return a ``GateVerdict``, a list of them, or ``None`` to abstain. Every
    verdict counts: any failing verdict fails the job with its reason. A gate
    that raises fails its job. All implementations are called.
    """


@hookspec
def mogrun_job_finished(job: ResolvedJob, results: tuple[RunResult, ...], outcome: str) -> None:
    """A job ended (or was skipped). ``outcome`` is the job's overall outcome
    (a fan-out passes only if all its runs pass). For notifiers: an exception
    here is reported as a warning and never changes the result. All are called.
    """


@hookspec
def mogrun_session_finished(
    config: SessionConfig, results: tuple[RunResult, ...], exit_code: int,
    secrets: frozenset[str],
) -> None:
    """The invocation is about to exit with ``exit_code`` (for reports such as
    JUnit). ``results`` holds every run, in the order the jobs finished.
    ``secrets`` holds every secret of the invocation's jobs (``env.*`` values,
    webhook URLs): a report must mask them (``mogrun.plugin.mask``), as the
    results still hold them (a repo named from ``env.*``, say). An exception
    here is a warning. All implementations are called."""


def hook_names() -> list[str]:
    """Names of every hook spec, for ``mogrun plugins`` and the docs."""
    return [name for name in globals() if name.startswith("mogrun_")]
