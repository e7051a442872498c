"""Finding, importing and registering plugins: bundled, entry points, task file, ``-p``.

Discovery and load-time validation (typos, parameters, duplicates) are kept
apart from ``pluginhost`` (which calls the hooks) so each stays small.
Everything heavy (pluggy, entry-point scanning) is imported inside the functions
that need it, so ``mogrun list`` never pays for it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import FunctionType, MethodType, ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from mogrun.envswitches import OFF_WORDS, ON_WORDS, word
from mogrun.errors import PluginError
from mogrun.tomltext import toml_repr

if TYPE_CHECKING:
    import pluggy

BUNDLED = ("retry", "gates", "notify", "junit")
BUNDLED_PACKAGE = "mogrun_plugins"
ENTRY_POINT_GROUP = "mogrun"
DISABLE_ENV = "MOGRUN_DISABLE_PLUGINS"

SOURCE_BUNDLED = "bundled"
SOURCE_ENTRY_POINT = "entry point"
SOURCE_TASK_FILE = "task file"
SOURCE_OPTION = "-p"


class Candidate(NamedTuple):
    """A plugin found but not yet registered: its name, source and object."""

    name: str
    source: str
    origin: str
    plugin: Any
    dist: str = ""  # an entry point's installed distribution


# MOGRUN_DISABLE_PLUGINS set to one of these is a switch, as --no-plugins: the
# pytest-style "=1" a CI author writes to keep a pull request's code out. Read as a
# name, it left out nothing, and the task file's plugin had run before the warning.
SWITCH_WORDS = ON_WORDS | {"all", "*"}
# Set to one of envswitches.OFF_WORDS, the switch is off: nothing left out, and no
# plugin of that name warned of (a CI matrix's MOGRUN_DISABLE_PLUGINS=0 for the leg
# that keeps them).


def disables_every_plugin(env: Mapping[str, str] | None) -> bool:
    """Whether ``MOGRUN_DISABLE_PLUGINS`` is a switch (``SWITCH_WORDS``), not names."""
    return word((env or {}).get(DISABLE_ENV)) in SWITCH_WORDS


def switched_off_by(env: Mapping[str, str] | None) -> str:
    """What left out every external plugin, as a message names it:
    ``MOGRUN_DISABLE_PLUGINS=1`` when the variable is a switch (a CI step sets it
    and nobody typed ``--no-plugins``), else ``--no-plugins``."""
    if disables_every_plugin(env):
        return f"{DISABLE_ENV}={(env or {}).get(DISABLE_ENV, '').strip()}"
    return "--no-plugins"


def disabled_names(env: Mapping[str, str] | None) -> frozenset[str]:
    """Names listed in ``MOGRUN_DISABLE_PLUGINS=name1,name2``."""
    return frozenset(_disabled_listed(env))


def _disabled_listed(env: Mapping[str, str] | None) -> list[str]:
    """``disabled_names`` in the order written, each once (for messages)."""
    raw = (env or {}).get(DISABLE_ENV, "")
    if word(raw) in OFF_WORDS:
        return []
    return list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))


def entry_point_names() -> list[str]:
    """The names of the external plugins the ``mogrun`` entry-point group offers,
    without importing any (a disabled one may be broken)."""
    from mogrun.entrypoints import entry_points

    return [ep.name for ep in entry_points(ENTRY_POINT_GROUP)
            if not ep.value.split(":")[0].startswith(BUNDLED_PACKAGE + ".")]


def unmatched_disabled(env: Mapping[str, str] | None, external: Sequence[str]) -> list[str]:
    """A warning for each name of ``MOGRUN_DISABLE_PLUGINS`` that leaves out nothing:
    a bundled plugin's (always loaded), a typo, ``1`` taken for a switch. ``external``:
    the names of the plugins it can leave out (entry points, the task file's, ``-p``)."""
    from mogrun.taskfile.schema import closest

    notes = []
    for name in _disabled_listed(env):
        if name in external:
            continue
        if name in BUNDLED:
            notes.append(f'{DISABLE_ENV} names "{name}", a bundled plugin: bundled plugins '
                         "always load (their job keys are part of the task-file format)")
            continue
        guess = closest(name, sorted(set(external)))
        hint = (f'did you mean "{guess}"?' if guess else
                "it takes plugin names, comma-separated; --no-plugins leaves out every "
                "external plugin")
        notes.append(f'{DISABLE_ENV} names "{name}", which is no external plugin here, so '
                     f"it leaves out nothing ({hint})")
    return notes


def bundled_candidates() -> list[Candidate]:
    """The bundled plugins, imported by module name (always loaded)."""
    found = []
    for name in BUNDLED:
        module_name = f"{BUNDLED_PACKAGE}.{name}"
        module = _import_module(name, module_name, SOURCE_BUNDLED)
        found.append(Candidate(name, SOURCE_BUNDLED, module_name, module))
    return found


def entry_point_candidates(skip: frozenset[str] = frozenset(), *,
                           failed: list[PluginError] | None = None,
                           skipped: list[str] | None = None) -> list[Candidate]:
    """Plugins of the ``mogrun`` entry-point group, minus the bundled ones and
    those named in ``skip`` (never imported: a disabled plugin may be broken;
    their names are added to ``skipped``). One that fails to import is raised,
    or with ``failed``, added there and the others still imported (so that
    every broken one is said at once)."""
    from mogrun.entrypoints import entry_points  # importlib.metadata costs ~20 ms of imports

    found = []
    seen: dict[str, str] = {}  # name -> the value of the first entry point of that name
    for ep in entry_points(ENTRY_POINT_GROUP):
        if ep.value.split(":")[0].startswith(BUNDLED_PACKAGE + "."):
            continue
        if ep.name in seen:  # the same plugin twice on the path is one plugin; two are not
            if seen[ep.name] != ep.value and ep.name not in skip:
                clash = PluginError(f'two plugins are named "{ep.name}" ({SOURCE_ENTRY_POINT} '
                                    f"{seen[ep.name]} and {SOURCE_ENTRY_POINT} {ep.value})",
                                    context=[f'From: {_where(SOURCE_ENTRY_POINT)}'])
                if failed is None:
                    raise clash
                failed.append(clash)
            continue
        seen[ep.name] = ep.value
        if ep.name in skip:
            if skipped is not None:
                skipped.append(ep.name)
            continue
        try:
            with _importing(ep.name):
                plugin = ep.load()
        except (Exception, SystemExit) as exc:
            error = _entry_point_failed(ep, exc)
            if failed is None:
                raise error from exc
            error.__cause__ = exc
            failed.append(error)
            continue
        found.append(Candidate(ep.name, SOURCE_ENTRY_POINT, ep.value, plugin, ep.dist))
    return found


def spec_name(spec: str) -> str:
    """The name a plugin spec registers under: a path's stem, else the module name."""
    spec = spec.strip()
    return Path(spec).stem if is_path_spec(spec) else spec


def is_path_spec(spec: str) -> bool:
    """A ``.py`` file's path, not a module name (``plugins/team.py/`` too: a path
    typed as a folder's, which the task file's check refuses)."""
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def _resolved(spec: str, base_dir: Path | None) -> tuple[Path, Path | None]:
    """The folder a path spec is relative to, and the file it names through its
    links (``None``: a symlink loop): what a candidate's ``origin`` is made of."""
    from mogrun.taskfile.discovery import resolved

    base = (base_dir or Path.cwd()).resolve()
    try:
        return base, resolved(base / spec)
    except OSError:
        return base, None


def spec_origin(spec: str, base_dir: Path | None) -> str:
    """Where a spec's plugin comes from, as its ``Candidate.origin`` says, without
    importing it: two files of one name (``lint/check.py``, ``tests/check.py``)
    are two plugins, not one named twice."""
    spec = spec.strip()
    if not is_path_spec(spec):
        return spec
    path = _resolved(spec, base_dir)[1]
    return "" if path is None else str(path)  # a loop: never one in (its error comes next)


def spec_candidate(spec: str, source: str, base_dir: Path | None, *, confined: bool) -> Candidate:
    """A plugin named by a task file or ``-p``: a ``.py`` path or a module name.

    ``confined`` paths (from a committed task file) must stay inside
    ``base_dir``: no absolute paths, nothing that resolves outside it.
    """
    spec = spec.strip()
    if not spec:
        raise PluginError(f"empty plugin name in {_where(source)}")
    if "\0" in spec:  # no path or module name holds one (the OS would refuse it)
        raise PluginError(f"plugin name {toml_repr(spec)} in the {_where(source)} holds a "
                          "NUL character")
    if is_path_spec(spec):
        path = _plugin_path(spec, source, base_dir, confined=confined)
        with _importing(path.stem):
            return Candidate(path.stem, source, str(path), _import_path(path, source))
    with _importing(spec):
        return Candidate(spec, source, spec, _import_module(spec, spec, source))


def _plugin_path(spec: str, source: str, base_dir: Path | None, *, confined: bool) -> Path:
    raw = Path(spec)
    if confined and (raw.is_absolute() or ".." in raw.parts):
        raise PluginError(
            f'plugin path "{spec}" in the {_where(source)} must be relative to the task '
            "file's folder and may not leave it (no absolute paths, no ..)"
        )
    from mogrun.taskfile.discovery import MISSING, file_problem

    base, found = _resolved(spec, base_dir)
    path = base / raw if found is None else found  # a loop: said as ``file_problem`` says it
    if found is not None and confined and not path.is_relative_to(base):
        raise PluginError(f'plugin path "{spec}" leaves the task file\'s folder')
    problem = file_problem(path)
    if problem == MISSING:
        raise PluginError(f'plugin "{raw.stem}" not found: no file {path}',
                          context=[f"From: {_where(source)}"])
    if problem:
        raise PluginError(f'plugin file {path} {problem}', context=[f"From: {_where(source)}"])
    return path


def _importing(plugin: str) -> AbstractContextManager[None]:
    """While a plugin's module runs at import: a slow one is said, as a slow set-up
    hook is (``pluginguard.importing``; not for the bundled ones, imported by
    commands that load no other plugin and take no thread)."""
    from mogrun.pluginguard import importing

    return importing(plugin)


def _import_module(name: str, module_name: str, source: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:
        raise _import_failed(name, source, exc) from exc


def _import_path(path: Path, source: str) -> ModuleType:
    """Execute a plugin file as a module of its own (in sys.modules so that
    dataclasses and pickling inside it work)."""
    module_name = f"_mogrun_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f'plugin "{path.stem}" cannot be imported from {path}')
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(module_name, None)
        raise _import_failed(path.stem, source, exc) from exc
    return module


def _import_failed(name: str, source: str, exc: BaseException) -> PluginError:
    """What a plugin's import raised, in one line (``describe_exc``: even an
    exception whose text cannot be read). Secrets are masked by the host."""
    from mogrun.pluginguard import describe_exc

    return PluginError(f'plugin "{name}" failed to import: {describe_exc(exc)}',
                       context=[f"From: {_where(source)}"])


def _entry_point_failed(ep: Any, exc: BaseException) -> PluginError:
    """An installed plugin that cannot import, said with where it comes from."""
    return PluginError(_import_failed(ep.name, SOURCE_ENTRY_POINT, exc).message,
                       context=_entry_point_lines(ep.name, ep.value, ep.dist))


def from_entry_point(error: PluginError, cand: Candidate) -> PluginError:
    """``error`` (each of its problems) of an installed plugin, with where it comes
    from: it is no problem of the task file, though ``check`` counts it there."""
    lines = _entry_point_lines(cand.name, cand.origin, cand.dist)
    return together([PluginError(part.message, location=part.location, job=part.job,
                                 key=part.key, context=[*part.context, *lines])
                     for part in plugin_problems(error)])


def _entry_point_lines(name: str, value: str, dist: str) -> list[str]:
    """An installed plugin stops every command that loads plugins, in every project:
    which distribution holds it, and the ways past it."""
    from mogrun.entrypoints import EntryPoint

    fix = f"Fix or uninstall {dist}" if dist else "Fix or uninstall its distribution"
    return [f"From: {EntryPoint(name, value, ENTRY_POINT_GROUP, dist).declared()}",
            f"{fix}, or leave it out: MOGRUN_DISABLE_PLUGINS={name}"]


def _where(source: str) -> str:
    return {
        SOURCE_TASK_FILE: "task file's [mogplex].plugins",
        SOURCE_OPTION: "-p/--plugin option",
        SOURCE_ENTRY_POINT: f'entry-point group "{ENTRY_POINT_GROUP}"',
    }.get(source, f"{source} plugins")


def register(pm: pluggy.PluginManager, cand: Candidate, kept: Sequence[Candidate],
             guard: Callable[[Candidate, dict[str, tuple[str, Any]]], Any]) -> Any:
    """Register one plugin through ``guard`` (which wraps its hook functions);
    returns what was registered, or None when the very same plugin is already in.
    Every problem found before registering (its name taken, a hook not decorated,
    misspelled, taking a parameter never given...) is said in one ``PluginError``
    (``together``): fixing one does not reveal the next."""
    import pluggy

    if any(c.plugin is cand.plugin or c.origin == cand.origin for c in kept):
        return None
    problems: list[_Problem] = []
    if pm.has_plugin(cand.name):
        other = next(c for c in kept if c.name == cand.name)
        problems.append((0, PluginError(
            f'two plugins are named "{cand.name}" '
            f"({other.source} {other.origin} and {cand.source} {cand.origin})")))
    problems += _undecorated(cand)
    problems += _hooks_in_classes(cand)
    problems += _parameter_problems(pm, cand)
    hooks = hook_impls(pm, cand, problems)
    if problems:
        raise together([error for _, error in sorted(problems, key=lambda p: p[0])])
    guarded = guard(cand, hooks)
    try:
        pm.register(guarded, name=cand.name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f'plugin "{cand.name}" has an invalid hook: '
                          f"{' '.join(str(exc).split())}") from exc
    return guarded


# A problem of a plugin found while loading it, with the line of the function it
# is about (0: the plugin as a whole): a plugin's problems are said in its order.
_Problem = tuple[int, PluginError]


class PluginProblems(PluginError):
    """Several problems said as one error (``together``). ``problems`` keeps each
    as it was raised (unmasked: whoever shows one masks it), so that ``check``
    lists and counts them one by one (``plugin_problems``), as it does a plugin
    key's ``KeyProblems``."""

    def __init__(self, problems: Sequence[PluginError]) -> None:
        first, *more = problems
        context = [*first.context]
        for problem in more:
            context += [f"Also: {problem.message}", *problem.context]
        super().__init__(first.message, location=first.location, job=first.job,
                         key=first.key, context=context)
        self.problems = tuple(problems)


def together(problems: Sequence[PluginError]) -> PluginError:
    """Several problems as one error: the first as it is, each other after it as
    ``Also: `` and its message, then its own context lines (a plugin's problems,
    or those of the plugins of one load, are said at once)."""
    parts = [part for problem in problems for part in plugin_problems(problem)]
    return parts[0] if len(parts) == 1 else PluginProblems(parts)


def plugin_problems(error: PluginError) -> tuple[PluginError, ...]:
    """Each problem ``error`` says (one, unless ``together`` made it of several)."""
    return error.problems if isinstance(error, PluginProblems) else (error,)


def _line(function: Any) -> int:
    """The line of the plugin's file where ``function`` is defined (0: unknown)."""
    import inspect

    try:
        code = getattr(inspect.unwrap(function), "__code__", None)
    except ValueError:  # a __wrapped__ cycle
        return 0
    line = getattr(code, "co_firstlineno", 0)
    return line if isinstance(line, int) else 0


def hook_impls(pm: pluggy.PluginManager, cand: Candidate,
               problems: list[_Problem]) -> dict[str, tuple[str, Any]]:
    """``{attribute: (hook name, function)}`` of every ``@hookimpl`` of a plugin.
    A wrapper is refused (mogrun's containment works per implementation), and so
    are an ``async def`` and a hook that does not exist: each kept in ``problems``."""
    found: dict[str, tuple[str, Any]] = {}
    for attr in dir(cand.plugin):
        if not _may_be_hook(cand.plugin, attr):
            continue
        try:
            opts = pm.parse_hookimpl_opts(cand.plugin, attr)
        except Exception:  # a property that raises is not a hook
            continue
        if opts is None:
            continue
        hook = opts.get("specname") or attr
        function = getattr(cand.plugin, attr)
        problem = _impl_problem(pm, cand, hook, opts, function)
        if problem is not None:
            problems.append((_line(function), problem))
            continue
        found[attr] = (hook, function)
    return found


# What pluggy takes for a hook implementation (``_static_hook_attr``): anything else
# it passes over. Judged first by a look in a module's own namespace, which is ~10x
# cheaper than pluggy's ``inspect.getattr_static`` (that was ~2 ms of every start:
# the bundled plugin modules hold ~200 imported names and constants).
_HOOKABLE = (FunctionType, MethodType, classmethod, staticmethod)


def _may_be_hook(plugin: object, attr: str) -> bool:
    """Whether ``plugin.attr`` may be a hook implementation: for a module, only a
    function or method in its namespace (a class instance or class plugin: asked
    of pluggy, as its descriptors need)."""
    if not isinstance(plugin, ModuleType):
        return True
    return isinstance(vars(plugin).get(attr), _HOOKABLE)


def _impl_problem(pm: pluggy.PluginManager, cand: Candidate, hook: str, opts: Mapping[str, Any],
                  function: Any) -> PluginError | None:
    if opts.get("wrapper") or opts.get("hookwrapper"):
        return PluginError(f'plugin "{cand.name}" declares {hook} as a '
                           "wrapper; mogrun hooks do not support wrappers")
    if _is_async(function):
        return PluginError(f'plugin "{cand.name}" declares {hook} with async def; mogrun '
                           "calls hooks as plain functions, so it would never run",
                           context=["Make it a plain def (asyncio.run(...) inside it, if "
                                    "it needs an event loop)."])
    caller = getattr(pm.hook, hook, None)
    # ``optionalhook=True`` is pluggy's way of implementing a hook another plugin may
    # declare; here only mogrun declares hooks, so a mogrun_* name that matches none is
    # still a typo (a gate that would silently never run).
    if (caller is None or not caller.has_spec()) \
            and not (opts.get("optionalhook") and not hook.startswith("mogrun_")):
        return unknown_hook(cand.name, hook)
    return None


def unknown_hook(plugin: str, hook: str) -> PluginError:
    """``plugin implements unknown hook "mogrun_gatee"``, with the hook it most
    likely meant. Every hook's name starts ``mogrun_``, which made any name look
    close to some hook (``mogrun_notify``: "mogrun_event"?): the names are
    compared without it."""
    from mogrun.hookspecs import hook_names
    from mogrun.taskfile.schema import closest  # a misspelled hook's path only

    prefix = "mogrun_"
    guess = closest(hook.removeprefix(prefix), [h.removeprefix(prefix) for h in hook_names()])
    hint = [f'Did you mean "{prefix}{guess}"?'] if guess else []
    return PluginError(f'plugin "{plugin}" implements unknown hook "{hook}"', context=hint)


def _is_async(function: Any) -> bool:
    """Whether calling ``function`` only makes a coroutine (or an async generator)."""
    import inspect

    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


def _hook_functions(plugin: Any) -> list[tuple[str, Any]]:
    """(attribute, value) of every ``mogrun_*`` attribute that can be read."""
    found = []
    for attr in dir(plugin):
        if not attr.startswith("mogrun_"):
            continue
        try:
            found.append((attr, getattr(plugin, attr)))
        except Exception:  # a property that raises is not a hook
            continue
    return found


def _parameter_problems(pm: pluggy.PluginManager, cand: Candidate) -> list[_Problem]:
    """For each hook function, a parameter the hook does not pass, in words a
    plugin author reads at a glance (pluggy's own message is a multi-line dump)."""
    found = []
    for attr, func in _hook_functions(cand.plugin):
        caller = getattr(pm.hook, attr, None)
        if caller is None or caller.spec is None or not callable(func):
            continue
        problem = _parameter_problem(cand.name, attr, func, caller.spec.argnames)
        if problem is not None:
            found.append((_line(func), problem))
    return found


def _parameter_problem(plugin: str, attr: str, func: Any,
                       allowed: Sequence[str]) -> PluginError | None:
    """The first parameter of ``func`` that hook ``attr`` never gives, or ``None``."""
    import inspect

    called = (f"It is called as {attr}({', '.join(allowed)}); take any of those, by "
              "name, as ordinary (not keyword-only) parameters.")
    params = inspect.signature(func).parameters.values()
    catch_all = _catch_all_only(plugin, attr, params, allowed, called)
    if catch_all is not None:
        return catch_all
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.kind is param.KEYWORD_ONLY and param.name in allowed:  # default or not
            return PluginError(f'plugin "{plugin}": {attr} takes "{param.name}" as a '
                               "keyword-only parameter, which is never given",
                               context=[called])
        if param.default is not param.empty:
            continue
        if param.kind is param.KEYWORD_ONLY or param.name not in allowed:
            return PluginError(f'plugin "{plugin}": {attr} has no parameter "{param.name}"',
                               context=[called])
    return None


def _catch_all_only(plugin: str, attr: str, params: Any, allowed: Any,
                    called: str) -> PluginError | None:
    """pluggy passes only the parameters an implementation names: one that takes
    its arguments through ``*args``/``**kwargs`` alone is called with nothing."""
    catch_all = [p for p in params if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if catch_all and not any(p.name in allowed and p.kind is not p.KEYWORD_ONLY
                             for p in params):
        star = "*" if catch_all[0].kind is catch_all[0].VAR_POSITIONAL else "**"
        return PluginError(f'plugin "{plugin}": {attr} takes {star}{catch_all[0].name}, '
                           "which is never given anything", context=[called])
    return None


def _undecorated(cand: Candidate) -> list[_Problem]:
    """A ``mogrun_*`` function without ``@hookimpl`` would be silently ignored."""
    from mogrun.hookspecs import PROJECT

    return [(_line(value), PluginError(f'plugin "{cand.name}" defines {attr} without @hookimpl',
                                       context=["Decorate it: from mogrun.plugin import "
                                                "hookimpl"]))
            for attr, value in _hook_functions(cand.plugin)
            if callable(value) and not hasattr(value, f"{PROJECT}_impl")]


def _hooks_in_classes(cand: Candidate) -> list[_Problem]:
    """A module plugin is registered as the module: the hooks of a class it defines
    (``class Gate:`` with ``@hookimpl def mogrun_gate(self, ...)``) are never called,
    and the plugin would load doing nothing."""
    import types

    from mogrun.hookspecs import PROJECT

    module = cand.plugin
    if not isinstance(module, types.ModuleType):
        return []
    found = []
    for name, value in vars(module).items():
        if not isinstance(value, type) or value.__module__ != module.__name__:
            continue
        hooks = [attr for attr, func in _hook_functions(value)
                 if hasattr(func, f"{PROJECT}_impl")]
        if hooks:
            found.append((_line(getattr(value, hooks[0])), PluginError(
                f'plugin "{cand.name}" declares {", ".join(hooks)} in class {name}, '
                "which mogrun never calls: a plugin file's hooks are its module's functions",
                context=["Define them at module level (or, for an installed plugin, point its "
                         'entry point at an instance: name = "module:OBJECT")'])))
    return found


def check_pending(pm: pluggy.PluginManager) -> None:
    """An implementation matching no spec is a typo: name the plugin and hook
    (``register`` says it first; this is what pluggy itself holds)."""
    for name, caller in vars(pm.hook).items():
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook and not name.startswith("mogrun_"):
                continue
            raise unknown_hook(impl.plugin_name, name)
    pm.check_pending()
