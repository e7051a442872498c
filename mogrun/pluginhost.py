"""The plugin host: one pluggy manager per invocation and a typed method per hook.

Callers never touch pluggy: they call ``host.gates(...)``, ``host.event(...)``
and so on. The host calls each implementation with keyword arguments and
contains what plugins do wrong: a crashing observer or notifier becomes a
warning (plugin name + hook), a crashing gate becomes a failing verdict, a
crash while setting up is a ``PluginError`` (exit 2) before any run starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mogrun import pluginload
from mogrun.errors import GateError, MogrunError, PluginError
from mogrun.masking import mask
from mogrun.models import GateVerdict, KeySpec, ResolvedJob, StartRequest
from mogrun.plugindecl import (
    PLUGIN_FAULTS,
    OptionSpec,
    describe_exc,
    key_registrar,
    option_registrar,
)

if TYPE_CHECKING:
    import pluggy

    from mogrun.errors import RequestInfo
    from mogrun.models import Event, RunPlan, RunResult, RunState, SessionConfig

@dataclass(frozen=True)
class PluginInfo:
    """What ``mogrun plugins`` shows about one loaded plugin."""

    name: str
    source: str
    hooks: tuple[str, ...]
    origin: str = ""


class PluginHost:
    """Owns the pluggy ``PluginManager``; calls hooks, contains plugin failures."""

    def __init__(self, pm: pluggy.PluginManager, infos: Sequence[pluginload.Candidate]) -> None:
        self.pm = pm
        self._candidates = list(infos)
        self.warnings: list[str] = []
        self.on_warning: Callable[[str], None] | None = None
        self._key_specs: dict[str, KeySpec] | None = None

    # --- loading -------------------------------------------------------------

    @classmethod
    def load(
        cls,
        *,
        project_dir: Path | None,
        task_file_plugins: Sequence[str] = (),
        extra: Sequence[str] = (),
        no_plugins: bool = False,
        env: Mapping[str, str] | None = None,
        use_entry_points: bool = True,
    ) -> PluginHost:
        """Bundled plugins always; external ones unless switched off by
        ``no_plugins`` or ``MOGRUN_DISABLE_PLUGINS`` in ``env`` (pass the
        invocation's environment; ``None`` disables nothing)."""
        found = pluginload.bundled_candidates()
        off = pluginload.disabled_names(env)  # skipped before import: they may be broken
        if not no_plugins:
            if use_entry_points:
                found += pluginload.entry_point_candidates(skip=off)
            for spec in task_file_plugins:
                if pluginload.spec_name(spec) not in off:
                    found.append(pluginload.spec_candidate(
                        spec, pluginload.SOURCE_TASK_FILE, project_dir, confined=True))
            for spec in extra:
                if pluginload.spec_name(spec) not in off:
                    found.append(pluginload.spec_candidate(
                        spec, pluginload.SOURCE_OPTION, None, confined=False))
        return cls.from_candidates(found)

    @classmethod
    def bundled_only(cls) -> PluginHost:
        """Just the bundled plugins: what tests and ``--no-plugins`` start from."""
        return cls.load(project_dir=None, use_entry_points=False)

    @classmethod
    def from_plugins(cls, *plugins: tuple[str, Any], bundled: bool = True) -> PluginHost:
        """A host with extra plugin objects registered by name (for tests and embedders)."""
        found = pluginload.bundled_candidates() if bundled else []
        found += [pluginload.Candidate(n, pluginload.SOURCE_OPTION, n, p) for n, p in plugins]
        return cls.from_candidates(found)

    @classmethod
    def from_candidates(cls, candidates: Sequence[pluginload.Candidate]) -> PluginHost:
        import pluggy

        from mogrun import hookspecs

        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        kept: list[pluginload.Candidate] = []
        for cand in candidates:
            if pluginload.register(pm, cand, kept):
                kept.append(cand)
        pluginload.check_pending(pm)
        return cls(pm, kept)

    @staticmethod
    def entry_point_options(
        env: Mapping[str, str] | None = None, no_plugins: bool = False,
        extra: Sequence[str] = (),
    ) -> list[OptionSpec]:
        """Options of ``run`` from plugins that load before the command line is
        parsed (bundled, entry points, ``-p``)."""
        host = PluginHost.load(project_dir=None, extra=extra, no_plugins=no_plugins, env=env)
        return host.cli_options()

    # --- introspection ---------------------------------------------------------

    def describe(self) -> list[PluginInfo]:
        """Each plugin, where it came from, and the hooks it implements."""
        from mogrun.hookspecs import hook_names

        order = {name: i for i, name in enumerate(hook_names())}
        infos = []
        for cand in self._candidates:
            callers = self.pm.get_hookcallers(cand.plugin) or []
            hooks = sorted((c.name for c in callers), key=lambda n: order.get(n, len(order)))
            infos.append(PluginInfo(cand.name, cand.source, tuple(hooks), cand.origin))
        return infos

    def plugin_names(self) -> list[str]:
        return [cand.name for cand in self._candidates]

    # --- warnings ----------------------------------------------------------------

    def warn(self, message: str) -> None:
        """Record a warning and pass it to ``on_warning`` (set by the engine/CLI)."""
        self.warnings.append(message)
        if self.on_warning is not None:
            self.on_warning(message)

    def _crashed(self, plugin: str, hook: str, exc: BaseException, secrets: Any = ()) -> str:
        text = f'plugin "{plugin}" failed in {hook}: {describe_exc(exc)}'
        return mask(text, secrets)

    # --- set-up ------------------------------------------------------------------

    def cli_options(self) -> list[OptionSpec]:
        """What ``mogrun_add_options`` registers; a duplicate name is a PluginError."""
        options: dict[str, OptionSpec] = {}
        self._collect("mogrun_add_options", lambda plugin: option_registrar(plugin, options))
        return list(options.values())

    def key_specs(self) -> dict[str, KeySpec]:
        """Job keys declared through ``mogrun_job_keys`` (computed once)."""
        if self._key_specs is None:
            specs: dict[str, KeySpec] = {}
            self._collect("mogrun_job_keys", lambda plugin: key_registrar(plugin, specs))
            self._key_specs = specs
        return dict(self._key_specs)

    def configure(self, config: SessionConfig) -> None:
        """Hand plugins the session's settings; a crash here stops before any run."""
        for impl in self._impls("mogrun_configure"):
            self._call_setup(impl, {"config": config}, "mogrun_configure")

    # --- resolving ---------------------------------------------------------------

    def adjust_job(self, job: ResolvedJob) -> ResolvedJob:
        """Chain ``mogrun_adjust_job``: each plugin sees the previous replacement."""
        for impl in self._impls("mogrun_adjust_job"):
            result = self._call_setup(impl, {"job": job}, "mogrun_adjust_job", job.secrets)
            if result is None:
                continue
            if not isinstance(result, ResolvedJob):
                raise PluginError(f'plugin "{impl.plugin_name}" returned '
                                  f"{type(result).__name__} from mogrun_adjust_job, "
                                  "expected a ResolvedJob or None")
            job = result
        return job

    def start_request(self, job: ResolvedJob, run: RunPlan, request: StartRequest) -> StartRequest:
        """Chain ``mogrun_start_request``; a ``GateError`` is the veto and
        propagates; any other crash vetoes the run with the plugin's name."""
        for impl in self._impls("mogrun_start_request"):
            try:
                result = _call(impl, {"job": job, "run": run, "request": request})
            except MogrunError:
                raise
            except PLUGIN_FAULTS as exc:
                raise GateError(self._crashed(impl.plugin_name, "mogrun_start_request", exc,
                                              job.secrets)) from exc
            if result is None:
                continue
            if not isinstance(result, StartRequest):
                raise GateError(f'plugin "{impl.plugin_name}" returned '
                                f"{type(result).__name__} from mogrun_start_request")
            problem = _request_problem(result)
            if problem is not None:
                raise GateError(mask(f'plugin "{impl.plugin_name}" returned a start request '
                                     f"the server would refuse: {problem}", job.secrets))
            request = result
        return request

    # --- running -------------------------------------------------------------------

    def retry_delay(
        self, *, error: MogrunError, attempt: int, job: ResolvedJob | None,
        request: RequestInfo, retry_after: float | None,
    ) -> float | None:
        """Seconds to wait before retrying, or ``None`` to give up (first answer wins)."""
        kwargs = {"error": error, "attempt": attempt, "job": job, "request": request,
                  "retry_after": retry_after}
        secrets = job.secrets if job is not None else ()
        for plugin, outcome in self._each("mogrun_retry_delay", kwargs,
                                          secrets=secrets):
            if outcome is None or isinstance(outcome, _Crash):
                continue
            if outcome is False:
                return None
            if isinstance(outcome, bool) or not isinstance(outcome, int | float) \
                    or not math.isfinite(outcome):
                self.warn(f'plugin "{plugin}" returned {outcome!r} from mogrun_retry_delay; '
                          "ignored (expected seconds, False or None)")
                continue
            return max(0.0, float(outcome))
        return None

    def run_started(self, *, job: ResolvedJob, run: RunPlan, state: RunState,
                    attached: bool) -> None:
        self._observe("mogrun_run_started", job,
                      {"job": job, "run": run, "state": state, "attached": attached})

    def event(self, *, job: ResolvedJob, run: RunPlan, event: Event) -> None:
        self._observe("mogrun_event", job, {"job": job, "run": run, "event": event})

    def status_changed(self, *, job: ResolvedJob, run: RunPlan, old: str | None,
                       state: RunState) -> None:
        self._observe("mogrun_status_changed", job,
                      {"job": job, "run": run, "old": old, "state": state})

    def watch(self, *, job: ResolvedJob, run: RunPlan, state: RunState,
              unchanged_for: float) -> str | None:
        """A reason to stop following (treated as timed out), or ``None``."""
        kwargs = {"job": job, "run": run, "state": state, "unchanged_for": unchanged_for}
        for plugin, outcome in self._each("mogrun_watch", kwargs, secrets=job.secrets):
            if outcome is None or isinstance(outcome, _Crash):
                continue
            if isinstance(outcome, str) and outcome.strip():
                return outcome
            self.warn(mask(f'plugin "{plugin}" returned {outcome!r} from mogrun_watch; '
                           "ignored (expected a reason string or None)", job.secrets))
        return None

    # --- finishing -------------------------------------------------------------------

    def gates(self, *, job: ResolvedJob, run: RunPlan, result: RunResult,
              state: RunState | None, events: tuple[Event, ...]) -> tuple[GateVerdict, ...]:
        """Every verdict of every gate; a crashing gate is a failing verdict."""
        kwargs = {"job": job, "run": run, "result": result, "state": state, "events": events}
        verdicts: list[GateVerdict] = []
        for plugin, outcome in self._each("mogrun_gate", kwargs, quiet=True):
            verdicts.extend(_verdicts(plugin, outcome, job.secrets))
        return tuple(verdicts)

    def job_finished(self, *, job: ResolvedJob, results: tuple[RunResult, ...],
                     outcome: str) -> None:
        self._observe("mogrun_job_finished", job,
                      {"job": job, "results": results, "outcome": outcome})

    def session_finished(self, *, config: SessionConfig, results: tuple[RunResult, ...],
                         exit_code: int) -> None:
        self._observe("mogrun_session_finished", None,
                      {"config": config, "results": results, "exit_code": exit_code})

    # --- calling -----------------------------------------------------------------------

    def _impls(self, hook: str) -> list[Any]:
        """Implementations in pluggy's call order (last registered first)."""
        return list(reversed(getattr(self.pm.hook, hook).get_hookimpls()))

    def _each(self, hook: str, kwargs: dict[str, Any], *, secrets: Any = (),
              quiet: bool = False) -> Iterator[tuple[str, Any]]:
        """Call each implementation, containing crashes; yield (plugin name,
        result or ``_Crash``). A crash is a warning unless ``quiet``."""
        for impl in self._impls(hook):
            try:
                yield impl.plugin_name, _call(impl, kwargs)
            except PLUGIN_FAULTS as exc:
                if not quiet:
                    self.warn(self._crashed(impl.plugin_name, hook, exc, secrets))
                yield impl.plugin_name, _Crash(exc)

    def _collect(self, hook: str, registrar: Callable[[str], Callable[..., None]]) -> None:
        """Call a ``register``-style hook, handing each plugin its own registrar."""
        for impl in self._impls(hook):
            self._call_setup(impl, {"register": registrar(impl.plugin_name)}, hook)

    def _call_setup(self, impl: Any, kwargs: dict[str, Any], hook: str,
                    secrets: Any = ()) -> Any:
        """Set-up and resolving hooks: a crash is a PluginError (exit 2)."""
        try:
            return _call(impl, kwargs)
        except MogrunError:
            raise
        except PLUGIN_FAULTS as exc:
            raise _setup_error(impl.plugin_name, hook, exc, secrets) from exc

    def _observe(self, hook: str, job: ResolvedJob | None, kwargs: dict[str, Any]) -> None:
        secrets = job.secrets if job is not None else ()
        for _ in self._each(hook, kwargs, secrets=secrets):
            pass


@dataclass(frozen=True)
class _Crash:
    exc: BaseException


def _call(impl: Any, kwargs: Mapping[str, Any]) -> Any:
    """Call one implementation with the arguments it asks for, like pluggy does."""
    args = [kwargs[name] for name in impl.argnames]
    extra = {name: kwargs[name] for name in impl.kwargnames if name in kwargs}
    return impl.function(*args, **extra)


def _setup_error(plugin: str, hook: str, exc: BaseException, secrets: Any = ()) -> PluginError:
    return PluginError(mask(f'plugin "{plugin}" failed in {hook}: {describe_exc(exc)}', secrets))


def _verdicts(plugin: str, outcome: Any, secrets: Any) -> list[GateVerdict]:
    if outcome is None:
        return []
    if isinstance(outcome, _Crash):
        reason = mask(f"gate crashed: {describe_exc(outcome.exc)}", secrets)
        return [GateVerdict(gate=plugin, passed=False, reason=reason)]
    items = outcome if isinstance(outcome, list | tuple) else [outcome]
    bad = [item for item in items if not isinstance(item, GateVerdict)]
    if bad:
        reason = f"gate returned {type(bad[0]).__name__}, not a GateVerdict"
        return [GateVerdict(gate=plugin, passed=False, reason=reason)]
    if not all(_well_typed(item) for item in items):
        reason = ("gate returned a GateVerdict with fields of the wrong type "
                  "(gate: str, passed: bool, reason: str)")
        return [GateVerdict(gate=plugin, passed=False, reason=reason)]
    return list(items)


_REQUEST_TYPES = {"repo": str, "prompt": str, "idempotency_key": str, "repo_id": str | None,
                  "harness": str | None, "base_branch": str | None,
                  "working_branch": str | None, "create_branch": bool,
                  "root_directory": str | None}


def _request_problem(request: StartRequest) -> str | None:
    """What the task file's checks would say of a request a plugin rewrote:
    the server's limits hold before the first request, whoever built it."""
    from mogrun.taskfile.limits import check_request

    for name, kind in _REQUEST_TYPES.items():
        value = getattr(request, name)
        if not isinstance(value, kind):
            wanted = "a boolean" if kind is bool else "a string"
            return f"{name} must be {wanted}, not {type(value).__name__}"
    try:
        check_request(request, lambda key, message: PluginError(message))
    except PluginError as problem:
        return problem.message
    return None


def _well_typed(verdict: GateVerdict) -> bool:
    """Reporters, history and notifiers rely on these types."""
    return (isinstance(verdict.gate, str) and isinstance(verdict.passed, bool)
            and isinstance(verdict.reason, str))
