"""The engine's ports: what it needs of the API client and of the plugin host.

The engine is written against these ``Protocol``s, not against
``MogplexClient`` or ``PluginHost``, so it can be read (and type-checked)
without knowing how requests are sent or hooks are called. The reporter's
port is ``mogrun.output.base.Reporter``; the engine reaches it only through
the lifecycle channel (``lifecycle.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from mogrun.models import ResolvedJob, RunPlan, SessionConfig, StartRequest
from mogrun.runs import Event, GateVerdict, RunResult, RunState

if TYPE_CHECKING:
    import threading

    from mogrun.api.client import Answer, CancelOutcome, StartOutcome
    from mogrun.waits import Wait


class Budget(Protocol):
    """The part of the request budget the engine reads (poll pacing)."""

    def poll_interval(self, active_runs: int) -> float: ...

    def used(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WaitSource(Protocol):
    """Where the API layer announces its waits (budget pacing, 429s, retries)."""

    def subscribe(self, listener: Callable[[Wait], None]) -> Callable[[], None]: ...

    def emit(self, wait: Wait) -> None: ...


class ApiClient(Protocol):
    """The calls the engine makes to the Mogplex API."""

    @property
    def budget(self) -> Budget: ...

    @property
    def waits(self) -> WaitSource: ...

    def list_repos(self, query: str | None = None, limit: int = 200, *,
                   job: ResolvedJob | None = None) -> list[dict[str, Any]]: ...

    def list_sandboxes(self, *, limit: int = 200, job: ResolvedJob | None = None,
                       deadline: float | None = None,
                       stop: threading.Event | None = None) -> list[dict[str, Any]]: ...

    def resolve_repo(self, name: str, *, job: ResolvedJob | None = None) -> Mapping[str, Any]: ...

    def default_root(self, repo_id: str) -> str | None: ...

    def default_branch(self, repo_id: str) -> str | None: ...

    def repo_name(self, repo_id: str, *, deadline: float | None = None) -> str | None: ...

    def sending_keys(self) -> frozenset[str]: ...

    def resolve_repos(self, names: Iterable[str], *, secrets: Iterable[str] = (),
                      stop: threading.Event | None = None) -> dict[str, str]: ...

    def start_run(self, request: StartRequest, *, job: ResolvedJob | None = None,
                  deadline: float | None = None, stop: threading.Event | None = None,
                  run: str | None = None, retry: bool = True) -> StartOutcome: ...

    def get_run(self, run_id: str, *, job: ResolvedJob | None = None,
                deadline: float | None = None, run: str | None = None) -> RunState: ...

    def get_events(self, run_id: str, *, limit: int = 200, job: ResolvedJob | None = None,
                   deadline: float | None = None, stop: threading.Event | None = None,
                   known: Collection[str] = (),
                   run: str | None = None) -> tuple[RunState, list[Event]]: ...

    def cancel_run(self, run_id: str, *, job: ResolvedJob | None = None,
                   deadline: float | None = None, run: str | None = None,
                   stop: threading.Event | None = None) -> CancelOutcome: ...

    def own_pauses(self) -> AbstractContextManager[None]: ...

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, key: str | None = None, job: ResolvedJob | None = None,
                deadline: float | None = None, kind: str = "request",
                stop: threading.Event | None = None, run: str | None = None,
                retry: bool = True) -> Answer: ...


class Hooks(Protocol):
    """The plugin hooks the engine calls (the plugin host contains their crashes)."""

    def start_request(self, job: ResolvedJob, run: RunPlan,
                      request: StartRequest) -> StartRequest: ...

    def run_started(self, *, job: ResolvedJob, run: RunPlan, state: RunState,
                    attached: bool) -> None: ...

    def event(self, *, job: ResolvedJob, run: RunPlan, event: Event) -> None: ...

    def status_changed(self, *, job: ResolvedJob, run: RunPlan, old: str | None,
                       state: RunState) -> None: ...

    def watch(self, *, job: ResolvedJob, run: RunPlan, state: RunState,
              unchanged_for: float) -> str | None: ...

    def gates(self, *, job: ResolvedJob, run: RunPlan, result: RunResult,
              state: RunState | None, events: tuple[Event, ...]) -> tuple[GateVerdict, ...]: ...

    def job_finished(self, *, job: ResolvedJob, results: tuple[RunResult, ...],
                     outcome: str) -> None: ...

    def session_finished(self, *, config: SessionConfig, results: tuple[RunResult, ...],
                         exit_code: int,
                         each: Callable[[str], AbstractContextManager[object]] | None = None,
                         ) -> None:
        """Every plugin's end of session; ``each(plugin)`` wraps each one's call."""
        ...

    def wait(self, wait: Wait) -> None: ...
