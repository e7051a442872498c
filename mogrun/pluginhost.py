"""The plugin host: one pluggy manager per invocation and a typed method per hook.

Callers never touch pluggy: they call ``host.gates(...)``, ``host.event(...)``
and so on, and each method is one pluggy hook call with keyword arguments, so
pluggy's order and ``firstresult`` hold as ``hookspecs`` declares them.
Containment and answer checks live in ``pluginguard``, applied per
implementation: a crashing observer or notifier becomes a warning (plugin name
+ hook), a crashing gate a failing verdict, a crash while setting up a
``PluginError`` (exit 2) before any run starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from mogrun import pluginload
from mogrun.errors import PluginError
from mogrun.masking import mask
from mogrun.models import KeySpec, ResolvedJob, StartRequest
from mogrun.plugindecl import OptionSpec, key_registrar, option_registrar
from mogrun.pluginguard import GuardedPlugin, RunningHook, finite, masking, running_hooks
from mogrun.plugintables import problems_of

if TYPE_CHECKING:
    import pluggy

    from mogrun.errors import MogrunError, RequestInfo
    from mogrun.models import RunPlan, SessionConfig
    from mogrun.runs import Event, GateVerdict, RunResult, RunState
    from mogrun.waits import Wait


class PluginInfo(NamedTuple):
    """What ``mogrun plugins`` shows about one loaded plugin."""

    name: str
    source: str
    hooks: tuple[str, ...]
    origin: str = ""


class KeySpecs(dict[str, KeySpec]):
    """The job keys plugins declared (``PluginHost.key_specs``), and ``left_out``:
    what left external plugins out of this invocation, in words (``--no-plugins``,
    or ``MOGRUN_DISABLE_PLUGINS`` and the names it left out), or ``None``. An
    unknown job key's hint says it: the key may be a left-out plugin's."""

    left_out: str | None = None


class PluginHost:
    """Owns the pluggy ``PluginManager`` and calls its hooks."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._candidates: list[pluginload.Candidate] = []
        self._registered: dict[str, Any] = {}  # plugin name -> what pluggy holds
        # Hook name -> whether a plugin implements it: asked at every run, event and
        # status of a fan-out, and the answer changes only when plugins come or go.
        self._heard_of: dict[str, bool] = {}
        self.warnings: list[str] = []
        self.on_warning: Callable[[str], None] | None = None
        self._key_specs: dict[str, KeySpec] | None = None
        # Every secret of every job resolved in this invocation: for reports.
        self._secrets: frozenset[str] = frozenset()
        self._known: frozenset[str] = frozenset()  # see learn_secrets
        self._options: tuple[tuple[Any, ...], list[OptionSpec]] | None = None
        # id(job.options) -> (their shape, a copy, the options themselves) as
        # adjust_job left them: what the gates and notifiers judge by (``_as_kept``).
        self._kept: dict[int, tuple[Any, Any, Any]] = {}
        self._said_changed: set[int] = set()
        # The origins of plugins that failed to load (``add_plugins``): one named twice
        # (``./p.py`` and ``p.py`` too) is tried, and said, once, as it loads once.
        self._failed: set[str] = set()
        # What left external plugins out (``KeySpecs.left_out``).
        self._no_plugins = False
        self._switched_off_by = "--no-plugins"  # or MOGRUN_DISABLE_PLUGINS=1: said as given
        self._disabled: list[str] = []  # the names MOGRUN_DISABLE_PLUGINS left out

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
        installed_problems: list[PluginError] | None = None,
    ) -> PluginHost:
        """Bundled plugins always; external ones unless switched off by
        ``no_plugins`` or ``MOGRUN_DISABLE_PLUGINS`` in ``env`` (pass the
        invocation's environment; ``None`` disables nothing). With
        ``installed_problems``, an entry point that cannot load is added there and
        the host loads without it (``check`` lists it with the file's problems)."""
        failed: list[PluginError] = []  # every plugin's problem is said at once
        installed = failed if installed_problems is None else installed_problems
        skipped: list[str] = []
        external = []
        if not no_plugins and use_entry_points:
            external = pluginload.entry_point_candidates(
                skip=pluginload.disabled_names(env), failed=installed, skipped=skipped)
        host = cls.from_candidates(pluginload.bundled_candidates())
        host._left_out(skipped)
        for cand in external:  # one by one: one refused hides no other's problem
            try:
                host._register([cand])
            except PluginError as error:
                installed.append(pluginload.from_entry_point(error, cand))
        try:
            host.add_plugins(project_dir=project_dir, task_file_plugins=task_file_plugins,
                             extra=extra, no_plugins=no_plugins, env=env)
        except PluginError as error:
            failed.append(error)
        if failed:
            raise pluginload.together(failed)
        return host

    def add_plugins(self, *, project_dir: Path | None, task_file_plugins: Sequence[str] = (),
                    extra: Sequence[str] = (), no_plugins: bool = False,
                    env: Mapping[str, str] | None = None) -> None:
        """Load the task file's and ``-p`` plugins into this host (those not in yet).

        ``run`` builds its host before the task file is read (plugin options
        must exist before the command line is parsed) and adds the task
        file's plugins later: one manager per invocation. ``-p`` plugins are
        re-registered last, so they keep their place ahead in pluggy's order.
        """
        if no_plugins:
            self._no_plugins = True
            self._switched_off_by = pluginload.switched_off_by(env)
            return
        off = pluginload.disabled_names(env)  # skipped before import: they may be broken
        named = [(spec, pluginload.SOURCE_TASK_FILE, project_dir) for spec in task_file_plugins
                 if not self._has(pluginload.SOURCE_TASK_FILE, spec, project_dir)
                 # in already with -p: loaded before parsing, so its options exist
                 and not self._has(pluginload.SOURCE_OPTION, spec, project_dir)]
        named += [(spec, pluginload.SOURCE_OPTION, None) for spec in extra
                  if not self._has(pluginload.SOURCE_OPTION, spec, None)]
        found: list[pluginload.Candidate] = []
        failed: list[PluginError] = []
        for spec, source, base in named:
            if pluginload.spec_name(spec) in off:
                self._left_out([pluginload.spec_name(spec)])
                continue
            origin = pluginload.spec_origin(spec, base)
            if origin and origin in self._failed:
                continue  # said when it was first named
            try:
                found.append(pluginload.spec_candidate(
                    spec, source, base, confined=source == pluginload.SOURCE_TASK_FILE))
            except PluginError as error:
                if origin:
                    self._failed.add(origin)
                failed.append(error)
        if failed:
            failed += self._problems_of(found)
            raise pluginload.together(failed)
        if found:
            self._register(found)

    def _problems_of(self, candidates: Sequence[pluginload.Candidate]) -> list[PluginError]:
        """What registering ``candidates`` would refuse, with none of them left in:
        when another plugin of the same load failed to import, theirs are said with
        its (the load fails anyway)."""
        before = {id(cand) for cand in self._candidates}
        try:
            self._register(candidates)
        except PluginError as error:
            return [error]
        for cand in [c for c in self._candidates if id(c) not in before]:
            self._unregister(cand)
        self._key_specs = None
        return []

    def _left_out(self, names: Iterable[str]) -> None:
        """``names`` were left out by ``MOGRUN_DISABLE_PLUGINS``."""
        self._disabled += [name for name in names if name not in self._disabled]

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
        host = cls(pm)
        host._register(candidates)
        return host

    def _register(self, candidates: Sequence[pluginload.Candidate]) -> None:
        """Register ``candidates``, all or none: when one is refused (a hook typo
        is found only once it is in), those of this call are taken out again, so
        that ``check``, which loads the task file's plugins one by one, blames the
        next one for nothing."""
        late = [c for c in self._candidates if c.source == pluginload.SOURCE_OPTION]
        for cand in late:  # -p plugins go last again (first in pluggy's call order)
            self._unregister(cand)
        before = len(self._candidates)
        try:
            self._add([*candidates, *late])
        except PluginError:
            for cand in self._candidates[before:]:
                self._unregister(cand)
            held = {id(plugin) for plugin in self._registered.values()}
            for _, plugin in self.pm.list_name_plugin():  # one pluggy refused half-way
                if plugin is not None and id(plugin) not in held:
                    self.pm.unregister(plugin)
            self._add(late)
            raise
        finally:
            self._key_specs = None
            self._heard_of.clear()

    def _add(self, candidates: Sequence[pluginload.Candidate]) -> None:
        for cand in candidates:
            try:
                guarded = pluginload.register(self.pm, cand, self._candidates, self._guard)
            except PluginError:
                self._failed.add(cand.origin)  # named again, it is not said again
                raise
            if guarded is not None:
                self._candidates.append(cand)
                self._registered[cand.name] = guarded
        pluginload.check_pending(self.pm)

    def _unregister(self, cand: pluginload.Candidate) -> None:
        self.pm.unregister(self._registered.pop(cand.name))
        self._candidates.remove(cand)
        self._heard_of.clear()

    def _guard(self, cand: pluginload.Candidate, hooks: dict[str, tuple[str, Any]]) -> Any:
        return GuardedPlugin(cand.plugin, cand.name, hooks, self.warn)

    def _has(self, source: str, spec: str, base_dir: Path | None) -> bool:
        """The very plugin ``spec`` names is in already (from ``source``); another
        of its name is not, and loading it says that two plugins share one name."""
        name, origin = pluginload.spec_name(spec), pluginload.spec_origin(spec, base_dir)
        return any(c.source == source and c.name == name and c.origin == origin
                   for c in self._candidates)

    # --- introspection ---------------------------------------------------------

    def describe(self) -> list[PluginInfo]:
        """Each plugin, where it came from, and the hooks it implements."""
        from mogrun.hookspecs import hook_names

        order = {name: i for i, name in enumerate(hook_names())}
        infos = []
        for cand in self._candidates:
            callers = self.pm.get_hookcallers(self._registered[cand.name]) or []
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

    # --- set-up ------------------------------------------------------------------

    def learn_secrets(self, secrets: Iterable[str]) -> None:
        """Secrets of the invocation (its token, the task file's ``env.*`` values)
        that the errors of hooks called before any job is resolved must mask."""
        self._known |= frozenset(s for s in secrets if s)

    @property
    def known_secrets(self) -> frozenset[str]:
        """What ``learn_secrets`` was told: for errors raised outside any job
        (``check`` judging a ``[defaults]`` key alone) to mask the same way."""
        return self._known

    def cli_options(self) -> list[OptionSpec]:
        """What ``mogrun_add_options`` registers; a duplicate name is a PluginError.
        Asked once per set of plugins (``run`` asks before the task file's load)."""
        plugins = tuple(self._registered.values())
        if self._options is None or self._options[0] != plugins:
            options: dict[str, OptionSpec] = {}
            with masking(self._known):
                self.pm.hook.mogrun_add_options(register=option_registrar(options))
            self._options = (plugins, list(options.values()))
        return list(self._options[1])

    def late_options(self) -> list[tuple[OptionSpec, pluginload.Candidate]]:
        """The options the task file's plugins register, each with its plugin: they
        load after the command line is parsed, so no command has them."""
        late = {c.name: c for c in self._candidates if c.source == pluginload.SOURCE_TASK_FILE}
        return [(spec, late[spec.plugin]) for spec in self.cli_options()
                if spec.plugin in late]

    def key_specs(self) -> KeySpecs:
        """Job keys declared through ``mogrun_job_keys`` (computed once), and what
        left external plugins out (``KeySpecs.left_out``)."""
        if self._key_specs is None:
            specs: dict[str, KeySpec] = {}
            with masking(self._known):
                self.pm.hook.mogrun_job_keys(register=key_registrar(specs))
            self._key_specs = specs
        found = KeySpecs(self._key_specs)
        if self._no_plugins:
            found.left_out = (f"{self._switched_off_by} left out every plugin but the "
                              "bundled ones ([mogplex] plugins, -p and entry points)")
        elif self._disabled:
            found.left_out = (f"{pluginload.DISABLE_ENV} left out plugin"
                              f"{'s' * (len(self._disabled) > 1)} "
                              + ", ".join(f'"{name}"' for name in self._disabled))
        return found

    def configure(self, config: SessionConfig) -> SessionConfig:
        """Hand plugins the session's settings; a crash here stops before any run.
        Every declared option is in ``config.options``: one not given (or a
        command without options: ``check``, ``show``) is ``None``, a flag ``False``.
        Returns the config the plugins saw."""
        declared = {spec.name: False if spec.flag else None for spec in self.cli_options()}
        config = replace(config, options={**declared, **config.options})
        with masking(self._known):
            self.pm.hook.mogrun_configure(config=config)
        return config

    # --- resolving ---------------------------------------------------------------

    def adjust_job(self, job: ResolvedJob) -> ResolvedJob:
        """Chain ``mogrun_adjust_job``: each plugin sees the previous replacement."""
        with masking(self._known, job.secrets, job=job.name):
            adjusted: ResolvedJob = self._chain("mogrun_adjust_job", "job", job)
        self._secrets |= job.secrets | adjusted.secrets
        options = adjusted.options
        self._kept[id(options)] = (_options_shape(adjusted), _copied(options), options)
        return adjusted

    def _as_kept(self, job: ResolvedJob, hook: str) -> ResolvedJob:
        """``job`` with its options as ``mogrun_adjust_job`` left them. A plugin that
        changed them in place during the run (a gate's statuses widened in
        ``mogrun_run_started``) made a failed run pass: the gates and notifiers
        judge by the kept ones, and the change is warned of once per job."""
        kept = self._kept.get(id(job.options))
        if kept is None or _options_shape(job) == kept[0]:
            return job
        if id(job.options) not in self._said_changed:
            self._said_changed.add(id(job.options))
            self.warn(f'a plugin changed job "{job.name}"\'s options in place during the run; '
                      f"{hook} and the hooks after it use them as mogrun_adjust_job left "
                      "them (return a copy from mogrun_adjust_job to change them)")
        return replace(job, options=_copied(kept[1]))

    def start_request(self, job: ResolvedJob, run: RunPlan, request: StartRequest) -> StartRequest:
        """Chain ``mogrun_start_request``; a ``GateError`` is the veto and
        propagates; any other crash, or a request the server would refuse,
        vetoes the run with the plugin's name."""
        with masking(self._known, job.secrets, job=job.name, run=run.label):
            chained: StartRequest = self._chain("mogrun_start_request", "request", request,
                                                job=job, run=run)
        return chained

    # --- running -------------------------------------------------------------------

    def retry_delay(
        self, *, error: MogrunError, attempt: int, job: ResolvedJob | None,
        request: RequestInfo, retry_after: float | None,
    ) -> float | None:
        """Seconds to wait before retrying, or ``None`` to give up (first answer wins)."""
        with masking(self._known, job.secrets if job is not None else (),
                     job=job.name if job is not None else None):
            delay = self.pm.hook.mogrun_retry_delay(
                error=error, attempt=attempt, job=job, request=request, retry_after=retry_after)
        if delay is None or delay is False or not finite(delay):
            return None
        return max(0.0, float(delay))

    def run_started(self, *, job: ResolvedJob, run: RunPlan, state: RunState,
                    attached: bool) -> None:
        self._tell_run("mogrun_run_started", job, run, state=state, attached=attached)

    def event(self, *, job: ResolvedJob, run: RunPlan, event: Event) -> None:
        if not self._heard("mogrun_event"):  # (asked first: at every event of every run)
            return
        if getattr(event, "payload", None):
            # The plugins' own copy: the output and history show the event next.
            event = replace(event, payload=_copied(event.payload))
        self._tell_run("mogrun_event", job, run, event=event)

    def status_changed(self, *, job: ResolvedJob, run: RunPlan, old: str | None,
                       state: RunState) -> None:
        self._tell_run("mogrun_status_changed", job, run, old=old, state=state)

    def implements(self, name: str) -> bool:
        """Whether a plugin implements hook ``name``: what only such a plugin needs
        (``check`` handing every job to ``mogrun_adjust_job``) is skipped otherwise."""
        return self._heard(name)

    def _heard(self, name: str) -> bool:
        """Whether a plugin implements hook ``name`` (remembered until plugins change)."""
        heard = self._heard_of.get(name)
        if heard is None:
            heard = self._heard_of[name] = bool(getattr(self.pm.hook, name).get_hookimpls())
        return heard

    def _tell_run(self, name: str, job: ResolvedJob, run: RunPlan, **kwargs: Any) -> None:
        """Tell observers of hook ``name`` about one run: asked at every run, event and
        status, so no pluggy call (nor masking) when no plugin listens."""
        if self._heard(name):
            with masking(self._known, job.secrets, job=job.name, run=run.label):
                getattr(self.pm.hook, name)(job=job, run=run, **kwargs)

    def running_hooks(self) -> list[RunningHook]:
        """The plugins' hook calls going on now (one per thread): the engine says
        one that runs long (``engine.slowhooks``)."""
        return running_hooks()

    def wait(self, wait: Wait) -> None:
        """Tell observers that something of this invocation waits."""
        with masking(self._known, job=wait.job, run=wait.run):
            self.pm.hook.mogrun_wait(wait=wait)

    def watch(self, *, job: ResolvedJob, run: RunPlan, state: RunState,
              unchanged_for: float) -> str | None:
        """A reason to stop following (treated as timed out), or ``None``."""
        with masking(self._known, job.secrets, job=job.name, run=run.label):
            reason: str | None = self.pm.hook.mogrun_watch(
                job=job, run=run, state=state, unchanged_for=unchanged_for)
        return reason

    # --- finishing -------------------------------------------------------------------

    def gates(self, *, job: ResolvedJob, run: RunPlan, result: RunResult,
              state: RunState | None, events: tuple[Event, ...]) -> tuple[GateVerdict, ...]:
        """Every verdict of every gate; a crashing gate is a failing verdict."""
        job = self._as_kept(job, "mogrun_gate")
        with masking(self._known, job.secrets, job=job.name, run=run.label):
            answers = self.pm.hook.mogrun_gate(job=job, run=run, result=result, state=state,
                                               events=events)
        return tuple(verdict for answer in answers for verdict in answer)

    def job_finished(self, *, job: ResolvedJob, results: tuple[RunResult, ...],
                     outcome: str) -> None:
        job = self._as_kept(job, "mogrun_job_finished")
        with masking(self._known, job.secrets, job=job.name):
            self.pm.hook.mogrun_job_finished(job=job, results=results, outcome=outcome)

    def session_finished(self, *, config: SessionConfig, results: tuple[RunResult, ...],
                         exit_code: int,
                         each: Callable[[str], AbstractContextManager[object]] | None = None,
                         ) -> None:
        """Every plugin's end of session. With ``each``, the plugins are called one
        at a time, in pluggy's order, each inside ``each(its name)``: the engine
        can then say which plugin it is still waiting for, not every plugin that
        implements the hook (most have long finished, or had nothing to do)."""
        kwargs = {"config": config, "results": results, "exit_code": exit_code,
                  "secrets": self._secrets}
        with masking(self._known, self._secrets):
            if each is None:
                self.pm.hook.mogrun_session_finished(**kwargs)
                return
            for name, call in self._one_by_one("mogrun_session_finished"):
                with each(name):
                    call(**kwargs)

    # --- calling -----------------------------------------------------------------------

    def _one_by_one(self, hook: str) -> Iterator[tuple[str, Callable[..., Any]]]:
        """Each plugin implementing ``hook``, in pluggy's calling order: its name,
        and a caller of its implementation alone (a subset caller without the others)."""
        names = {id(plugin): name for name, plugin in self._registered.items()}
        impls = getattr(self.pm.hook, hook).get_hookimpls()[::-1]
        for impl in impls:
            others = [other.plugin for other in impls if other is not impl]
            yield (names.get(id(impl.plugin), impl.plugin_name),
                   self.pm.subset_hook_caller(hook, others))

    def _chain(self, hook: str, name: str, value: Any, **kwargs: Any) -> Any:
        """pluggy has no chaining call: call each implementation alone, through
        a subset caller in pluggy's order, handing it the previous answer."""
        impls = getattr(self.pm.hook, hook).get_hookimpls()[::-1]
        for impl in impls:
            others = [other.plugin for other in impls if other is not impl]
            before = _options_shape(value) if hook == "mogrun_adjust_job" else None
            answers = self.pm.subset_hook_caller(hook, others)(**{name: value}, **kwargs)
            if before is not None and _changed(value, before):
                raise PluginError(
                    f'plugin "{impl.plugin_name}" changed job.options in place in {hook}',
                    context=["Return a copy instead: dataclasses.replace(job, options=...) "
                             "with a copy.deepcopy of the options it changes (the job's "
                             "values are checked only then)."])
            if answers:
                value = answers[0] if before is None else \
                    self._judged(impl.plugin_name, value, answers[0])
        return value

    def _judged(self, plugin: str, given: ResolvedJob, job: ResolvedJob) -> ResolvedJob:
        """``job`` as ``mogrun_adjust_job`` returned it, each plugin key's value it set
        or changed judged as the task file's are (``KeySpec.judge``): kept as the
        key's validate gives it, its secrets added to the job's; a wrong one is the
        returning plugin's error (exit 2), not the declaring plugin's crash later."""
        specs, options, secrets = self.key_specs(), dict(job.options), set(job.secrets)
        for key, value in job.options.items():
            spec = specs.get(key)
            if spec is None or (key in given.options and _same(given.options[key], value)):
                continue
            try:
                options[key], found = spec.judge(value)
            except ValueError as exc:
                shown = self._known | given.secrets | job.secrets | _secrets_in(spec, value)
                raise PluginError(mask(
                    f'plugin "{plugin}" failed in mogrun_adjust_job: it returned a job whose '
                    f"{key} is wrong: " + "; ".join(m for _, m in problems_of(exc)), shown),
                    context=[f'Job key "{key}" is declared by plugin "{spec.plugin}"; a '
                             "value set in mogrun_adjust_job is checked as the task file's "
                             "is."]) from exc
            secrets |= found
        if options == job.options and secrets == job.secrets:
            return job
        return replace(job, options=options, secrets=frozenset(secrets))


def _same(before: Any, after: Any) -> bool:
    """Whether a job key's value is the one the hook was given (or equal to it: a
    deep copy of the options keeps the values the task file's checks took)."""
    try:
        return before is after or bool(before == after)
    except Exception:  # a plugin's object whose == fails: judged as changed
        return False


def _secrets_in(spec: KeySpec, value: Any) -> frozenset[str]:
    """The secrets a wrong value may hold, as far as its key can list them."""
    try:
        return spec.secrets_in(value)
    except Exception:  # a value its key cannot read: nothing more is known
        return frozenset()


def _copied(value: Any) -> Any:
    """A deep copy of ``value`` (``value`` itself where a plugin's object cannot be copied)."""
    import copy

    try:
        return copy.deepcopy(value)
    except Exception:  # a value a plugin put there, which deepcopy cannot take
        return value


def _options_shape(job: Any) -> Any:
    """What ``job.options`` hold, to compare with after a hook: every dict, list,
    tuple and set in them, with their plain values (a str, a number...), and any
    other object by its identity (a plugin's own object, equal to a copy or not, is
    never taken for a change). ``None`` where it cannot be told (nested too deep)."""
    try:
        return _shape(getattr(job, "options", None), set())
    except RecursionError:
        return None


def _changed(job: Any, before: Any) -> bool:
    return bool(_options_shape(job) != before)


_PLAIN = (str, int, bool, bytes, type(None))


def _shape(value: Any, seen: set[int]) -> Any:
    if isinstance(value, _PLAIN):
        return (type(value), value)
    if isinstance(value, float):  # by its text: nan is not equal to itself
        return (float, repr(value))
    if not isinstance(value, dict | list | tuple | set | frozenset) or id(value) in seen:
        return ("object", id(value))  # a cycle's second visit is its identity too
    seen = seen | {id(value)}
    if isinstance(value, dict):
        return ("dict", tuple((_shape(k, seen), _shape(v, seen)) for k, v in value.items()))
    items = sorted(map(repr, value)) if isinstance(value, set | frozenset) else value
    return (type(value).__name__, tuple(_shape(item, seen) for item in items))
