"""What stands between pluggy and a plugin: containment and answer checks.

pluggy does the calling (argument selection, order, ``firstresult``); it stops
at the first exception, though, and takes any answer. So the host registers
each plugin through a ``GuardedPlugin``: the same hook functions, each wrapped
once in the containment rule of its hook and checked against the return
annotation of its spec in ``hookspecs``:

- set-up hooks (options, configure, keys, adjust_job): a crash is a
  ``PluginError`` (exit 2) before any run starts;
- ``mogrun_start_request``: a crash or a bad request vetoes the run (``GateError``);
- ``mogrun_gate``: a crash or a wrong answer is a failing verdict;
- every other hook: a crash or a wrong answer is a warning, and pluggy moves
  on to the next implementation as if this one had no answer. A wrong answer is
  said once per plugin and hook, and so is a crash of a hook asked at every
  poll or event (``REPEATED_HOOKS``).

An interrupt (Ctrl-C, ``Interrupted`` and the engine's forced exit) is never
contained: a second Ctrl-C while a notifier delivers leaves at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NamedTuple

from mogrun.errors import GateError, Interrupted, LeaveNow, MogrunError, PluginError
from mogrun.masking import host_forms, mask, repr_forms
from mogrun.pluginspec import conforms, field_labels, field_problem, return_hint, type_label
from mogrun.reponames import is_repo_id

if TYPE_CHECKING:  # a gate's answer: imported where a gate is judged (check and show judge none)
    from mogrun.runs import GateVerdict

SETUP_HOOKS = frozenset({"mogrun_add_options", "mogrun_job_keys", "mogrun_configure",
                         "mogrun_adjust_job"})
VETO_HOOK = "mogrun_start_request"
ADJUST_HOOK = "mogrun_adjust_job"
GATE_HOOK = "mogrun_gate"
# Hooks asked at every poll, event, wait or failed request: a plugin failing in one
# fails at each call, and its warning is said once (the first), not at every call.
REPEATED_HOOKS = frozenset({"mogrun_retry_delay", "mogrun_event", "mogrun_status_changed",
                            "mogrun_wait", "mogrun_watch"})
_EXPECTED = {"mogrun_retry_delay": "seconds (0 to a year), False or None",
             "mogrun_watch": "a reason string or None"}

# What a plugin can do wrong: raise anything, sys.exit() and an asyncio
# CancelledError included (a BaseException), but for KeyboardInterrupt, which is
# the user's, and mogrun's own ways out (``Interrupted``, ``LeaveNow``), handled
# before this.
PLUGIN_FAULTS = (BaseException,)
# ...which every guard lets through first.
NOT_PLUGIN_FAULTS = (KeyboardInterrupt, LeaveNow)

_plugin: ContextVar[str] = ContextVar("mogrun_plugin", default="a plugin")


class RunningHook(NamedTuple):
    """A plugin's hook call still going: which, since when (``time.monotonic``),
    the job and run it was called for (if any), and on which thread (the engine
    ends a run whose worker a hook holds). A tuple: one is made at every hook call."""

    plugin: str
    hook: str
    since: float
    job: str | None = None
    run: str | None = None
    thread: int = 0
    key: str | None = None  # ``VALIDATING``: the job key whose value is checked


# Thread id -> the hook call it is in (the innermost): what ``running_hooks`` reads,
# so that a hook that blocks (a notifier's network call, a sleep) is said, not silent.
_RUNNING: dict[int, RunningHook] = {}


IMPORTING = "import"  # a plugin's module still running at import, as running_hooks lists it
VALIDATING = "validate"  # a plugin's validate of a job key's value (``RunningHook.key``)


def importing(plugin: str) -> contextlib.AbstractContextManager[None]:
    """While ``plugin``'s module is imported: listed by ``running_hooks`` as its
    ``IMPORTING`` (a module that sleeps or hangs at import is said, not silence)."""
    return _listed(plugin, IMPORTING)


def validating(plugin: str, key: str) -> contextlib.AbstractContextManager[None]:
    """While ``plugin`` checks a value of its job key ``key`` (a validator that asks a
    server, or sleeps, before the first line): listed as ``VALIDATING``."""
    return _listed(plugin, VALIDATING, key)


@contextlib.contextmanager
def _listed(plugin: str, what: str, key: str | None = None) -> Iterator[None]:
    thread = threading.get_ident()
    outer = _RUNNING.get(thread)
    _RUNNING[thread] = RunningHook(plugin, what, time.monotonic(), thread=thread, key=key)
    try:
        yield
    finally:
        if outer is None:
            _RUNNING.pop(thread, None)
        else:
            _RUNNING[thread] = outer


def running_hooks() -> list[RunningHook]:
    """The plugins' hook calls going on now, one per thread."""
    return list(dict(_RUNNING).values())  # a copy in C: no thread changes it midway
# The groups of secrets the running hook's messages mask, joined only when a message
# is made (a failure, a wrong answer), never on the way into every hook call.
_secrets: ContextVar[tuple[Iterable[str], ...]] = ContextVar("mogrun_secrets", default=())


def _masked() -> frozenset[str]:
    """The secrets the running hook's messages mask, in every form a plugin's message
    may quote them: an exception's ``repr`` (``KeyError``) and JSON text
    (``repr_forms``), and lower-cased, as a URL's host shows in a connection error
    (``host_forms``: a webhook host taken from ``env.*``)."""
    return _quoted_forms(frozenset().union(*_secrets.get()))


@functools.lru_cache(maxsize=64)
def _quoted_forms(secrets: frozenset[str]) -> frozenset[str]:
    """Remembered: a job's hook calls fail with the same secrets."""
    return frozenset(repr_forms(host_forms(secrets)))


def finite(value: Any) -> bool:
    """Whether a plugin's number is a finite one: ``math.isfinite`` raises for an
    int too large for a float (a runaway ``2 ** attempt``), which is no delay."""
    try:
        return math.isfinite(value)
    except (OverflowError, TypeError):
        return False


def describe_exc(exc: BaseException) -> str:
    """An exception in one line: a mogrun error's own message, else type and text.
    A plugin's exception whose own ``__str__`` fails (a field it never set) is
    still one line, its type: that failure was a traceback and a lost run."""
    if isinstance(exc, MogrunError):
        return exc.message
    try:
        text = str(exc)
    except Exception:  # whatever a plugin's __str__ raises
        return f"{type(exc).__name__} (its message could not be read)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _masked_error(exc: MogrunError) -> MogrunError:
    """``exc`` with the running hook's secrets masked in its message and context: a
    copy, or where a plugin's own class cannot be copied (a ``message`` property),
    the nearest mogrun class's error with the masked text."""
    secrets = _masked()
    message = mask(exc.message, secrets)
    context = [mask(line, secrets) for line in exc.context]
    if message == exc.message and context == list(exc.context):
        return exc
    try:
        return exc.evolve(message=message, context=context)
    except Exception:  # the plugin's class, not its words: they are shown all the same
        plain: type[MogrunError] = next(
            k for k in type(exc).__mro__ if k.__module__ == MogrunError.__module__)
        try:
            return plain(message, context=context)
        except TypeError:  # a mogrun class made with more than a message
            return MogrunError(message, context=context)


def current_plugin() -> str:
    """The plugin whose hook is running (names the plugin in a registrar's errors)."""
    return _plugin.get()


# The job name and run label of the hook call going on (``masking``): a slow call is
# said naming them, whichever parameters its implementation takes.
_subject: ContextVar[tuple[str | None, str | None]] = ContextVar(
    "mogrun_subject", default=(None, None))


class masking:
    """Secrets that the messages of this hook call must mask (the invocation's: its
    token and the task file's ``env.*`` values; the job's), and the job and run the
    call is about (``job``, ``run``: a name and a label), as the call passes them:
    ``def mogrun_event(event)`` takes neither, yet its slow call names both. A
    class, not a generator: hooks are called for every run, event and poll."""

    __slots__ = ("_about", "_groups", "_subject", "_token")

    def __init__(self, *groups: Iterable[str], job: str | None = None,
                 run: str | None = None) -> None:
        self._groups = groups
        self._subject = (job, run)

    def __enter__(self) -> None:
        self._token = _secrets.set(self._groups)
        self._about = _subject.set(self._subject)

    def __exit__(self, *exc: object) -> None:
        _subject.reset(self._about)
        _secrets.reset(self._token)


class GuardedPlugin:
    """What pluggy registers in place of ``plugin``: its hook functions, guarded."""

    def __init__(self, plugin: Any, name: str, hooks: dict[str, tuple[str, Any]],
                 warn: Callable[[str], None]) -> None:
        self.plugin = plugin
        self._hooks = tuple(hooks)
        for attr, (hook, function) in hooks.items():
            setattr(self, attr, _guard(function, hook, name, warn))

    def __dir__(self) -> list[str]:
        """Only the hooks: pluggy's ``register`` inspects every name ``dir`` gives,
        and an object's own dunders were three in four of them."""
        return list(self._hooks)

    def __repr__(self) -> str:
        return f"<guarded {self.plugin!r}>"


def _guard(function: Any, hook: str, plugin: str, warn: Callable[[str], None]) -> Any:
    """``function`` with its hook's containment; ``wraps`` keeps the signature
    (pluggy reads the parameters through ``__wrapped__``) and the hookimpl marks."""

    params = _parameter_names(function)
    warned: list[str] = []  # a wrong answer is said once per plugin and hook
    crashed: list[str] = []  # ...and so is a crash of a hook asked at every poll or event

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        token = _plugin.set(plugin)
        thread = threading.get_ident()
        outer = _RUNNING.get(thread)
        _RUNNING[thread] = RunningHook(plugin, hook, time.monotonic(), *_subject.get(),
                                       thread)
        try:
            answer = function(*args, **kwargs)
        except Interrupted:
            raise  # the user's Ctrl-C, or the engine leaving: never a plugin fault
        except MogrunError as exc:
            if hook in SETUP_HOOKS or (hook == VETO_HOOK and isinstance(exc, GateError)):
                # The plugin's own, deliberate error (a set-up refusal, the veto),
                # shown as it wrote it, but for the secrets it may quote.
                raise _masked_error(exc) from exc
            return _crashed(hook, plugin, exc, warn, crashed)  # a veto too, naming the plugin
        except KeyboardInterrupt as exc:
            if threading.current_thread() is threading.main_thread():
                raise  # the user's Ctrl-C
            # No Ctrl-C reaches a worker thread: this one is the plugin's own raise.
            return _crashed(hook, plugin, exc, warn, crashed)
        except NOT_PLUGIN_FAULTS:
            raise  # mogrun's own way out (a second signal)
        except PLUGIN_FAULTS as exc:
            return _crashed(hook, plugin, exc, warn, crashed)
        finally:
            _plugin.reset(token)
            if outer is None:
                _RUNNING.pop(thread, None)
            else:
                _RUNNING[thread] = outer
        if answer is None:  # an observer's, a watch's "go on": nothing to check
            return None
        given = {**dict(zip(params, args, strict=False)), **kwargs}
        return _checked(hook, plugin, answer, warn, given, warned)

    return guarded


def _parameter_names(function: Any) -> list[str]:
    """The names pluggy passes ``function``'s arguments under (in order)."""
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return []


def _crashed(hook: str, plugin: str, exc: BaseException, warn: Callable[[str], None],
             said: list[str]) -> Any:
    """The hook's fallback for a crash (see the module's docstring). ``said``: not
    empty once this plugin's hook, one of ``REPEATED_HOOKS``, was warned of a crash."""
    secrets = _masked()
    text = mask(f'plugin "{plugin}" failed in {hook}{_about()}: {describe_exc(exc)}', secrets)
    if hook in SETUP_HOOKS:
        raise PluginError(text) from exc
    if hook == VETO_HOOK:
        raise GateError(text) from exc
    if hook == GATE_HOOK:
        from mogrun.runs import GateVerdict

        reason = _kept_text(f"gate crashed: {describe_exc(exc)}")
        return [GateVerdict(gate=plugin, passed=False, reason=reason)]
    if hook in REPEATED_HOOKS:
        if said:  # 24 identical warnings in 5 s of polls said nothing the first did not
            return None
        said.append(hook)
        text += f" (said once: its later failures in {hook} are not repeated)"
    warn(text)
    return None


def _about() -> str:
    """`` (job a, run a:acme/api)``: what the hook call going on was about, as its
    caller said (``masking``), whichever parameters the plugin's function takes;
    nothing when it was about no job (the session's hooks)."""
    job, run = _subject.get()
    if run is not None and run != job:
        return f" (run {run})" if job is None or run.startswith(f"{job}:") else \
            f" (job {job}, run {run})"
    return f" (job {job})" if job is not None else ""


def _checked(hook: str, plugin: str, answer: Any, warn: Callable[[str], None],
             given: Mapping[str, Any], warned: list[str]) -> Any:
    """The answer if it is what the spec promises, else the hook's fallback.
    A spec returning ``None`` is an observer's: whatever it returns is ignored.
    ``given``: the hook's arguments, by name; ``warned``: not empty once this
    plugin's hook was warned of a wrong answer."""
    hint = return_hint(hook)
    if answer is None:
        return None
    if inspect.iscoroutine(answer):  # its code never ran, and never will: mogrun awaits none
        answer.close()  # (Python's own "never awaited" warning pointed into pluggy)
        if hint is type(None) and not warned:  # (any other hook warns of its type below)
            warned.append(hook)
            warn(mask(f'plugin "{plugin}" returned a coroutine from {hook}{_about()}: its '
                      "code never ran (mogrun calls a hook and never awaits what it "
                      "returns: write the hook as a plain def that does the work)", _masked()))
    if hint is type(None):
        return None
    if hook == GATE_HOOK:
        return [_kept_verdict(v) for v in _bounded(plugin, _verdicts(plugin, answer, hint))]
    if hook == ADJUST_HOOK and conforms(answer, hint, deep=False):
        return _adjusted(plugin, answer, given.get("job"))
    problem = None if conforms(answer, hint, deep=False) else "type"
    if problem is None:
        problem = _MEANING.get(hook, _no_problem)(answer)
    if problem is None:
        if hook == VETO_HOOK:
            _keeps_repo(plugin, answer, given)
        elif isinstance(answer, str):  # a reason (``mogrun_watch``): printed and kept
            return _kept_text(answer)
        return answer
    if hook in SETUP_HOOKS:
        raise PluginError(f'plugin "{plugin}" returned {type(answer).__name__} from {hook}, '
                          f"expected {type_label(hint)}")
    if hook == VETO_HOOK:
        raise GateError(_request_refused(plugin, answer, problem))
    if not warned:  # once: a watch hook is asked at every poll, and would fill the screen
        warned.append(hook)
        text = (f'plugin "{plugin}" returned {_short_repr(answer)} from {hook}{_about()}; '
                f"ignored (expected {_EXPECTED.get(hook, type_label(hint))})")
        if hook in REPEATED_HOOKS:
            text += " (said once: its later wrong answers are not repeated)"
        warn(mask(text, _masked()))
    return None


_REPR_MAX = 80
# A plugin's reason (a watch hook's, a gate verdict's, and a verdict's gate name) is
# shown in the cancel notice (a watch's), the result line, the summary, --json and
# JUnit, and kept in the history: a line's worth of it (100,000 characters were
# printed whole five times; a 5 MB verdict reason was 20 MB of output and a 5 MB
# history row).
_REASON_MAX = 200


def _short_repr(answer: Any) -> str:
    """An answer as a message quotes it: its start (a list of 200,000 numbers was
    six megabytes of warning), masked before it is cut (a secret cut in two is
    no longer recognised)."""
    try:
        text = mask(repr(answer), _masked())
    except Exception:  # a plugin's object whose __repr__ fails is still named
        return f"a {type(answer).__name__}"
    return _cut(text, _REPR_MAX)


def _cut(text: str, limit: int) -> str:
    """The start of a plugin's long text, ``...`` saying it goes on (mask it first)."""
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


def _kept_text(text: str) -> str:
    """A plugin's reason (or gate name) as mogrun shows and records it: masked, then
    cut to ``_REASON_MAX`` (a secret cut in two is no longer recognised)."""
    return _cut(mask(text, _masked()), _REASON_MAX)


def _adjusted(plugin: str, job: Any, given: Any) -> Any:
    """A job from ``mogrun_adjust_job`` the engine can run, its secrets as a
    frozenset; a field it cannot use is the hook's crash (exit 2, before any run
    starts), not a traceback once the run has started."""
    secrets = job.secrets
    if isinstance(secrets, set | frozenset | list | tuple) \
            and all(isinstance(s, str) for s in secrets):
        if not isinstance(secrets, frozenset):
            job = dataclasses.replace(job, secrets=frozenset(secrets))
        problem = _job_problem(job, given)
    else:
        problem = "secrets must be a frozenset of strings"
    if problem is None:
        return job
    raise PluginError(mask(f'plugin "{plugin}" failed in {ADJUST_HOOK}: it returned a job '
                           f"whose {problem}", _masked()))


def _job_problem(job: Any, given: Any) -> str | None:
    from mogrun.models import RunPlan, StartRequest
    from mogrun.taskfile.schema import JOB_KEYS, ON_TIMEOUT

    if given is not None and job.name != given.name:
        return f"name is changed ({given.name!r} to {job.name!r}): a job keeps its name"
    if given is not None and job.needs != given.needs:
        return (f"needs is changed ({given.needs!r} to {job.needs!r}): a job keeps its "
                "needs (the run graph is planned from the task file: change needs there)")
    for name in ("timeout", "capacity_wait"):
        value = getattr(job, name)
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not finite(value) or value <= 0:
            return f"{name} must be a positive number of seconds, not {value!r}"
        bound = JOB_KEYS[name](value)  # the task file's rule: at most its longest
        if bound is not None:
            return f"{name} {bound}"  # "timeout is an invalid duration ...: longer than ..."
    if job.on_timeout not in ON_TIMEOUT:
        return f"on_timeout must be {' or '.join(map(repr, ON_TIMEOUT))}, not {job.on_timeout!r}"
    if not isinstance(job.runs, tuple) or not all(
            isinstance(run, RunPlan) and isinstance(run.request, StartRequest)
            and field_problem(run) is None for run in job.runs):
        return "runs must be a tuple of RunPlan (dataclasses.replace a run to change it)"
    if not job.runs:
        return "runs is empty: a job makes at least one run (veto one in mogrun_start_request)"
    if len({run.label for run in job.runs}) != len(job.runs):
        return "runs names a run twice: one run per repo"
    problem = field_problem(job)
    return None if problem is None else problem


def _verdicts(plugin: str, answer: Any, hint: Any) -> list[GateVerdict]:
    """A gate's answer as a list; anything else is a failing verdict naming the gate."""
    from mogrun.runs import GateVerdict

    items = list(answer) if isinstance(answer, list | tuple) else [answer]
    if conforms(answer, hint, deep=True):
        return items
    bad = [item for item in items if not isinstance(item, GateVerdict)]
    if bad and isinstance(answer, list | tuple):  # ("x", False, "why"): the fields, unwrapped
        reason = (f"gate returned a {type(answer).__name__} holding {type(bad[0]).__name__}, "
                  "not GateVerdicts (return GateVerdict(gate, passed, reason), a list of "
                  "them, or None)")
    elif bad:
        reason = f"gate returned {type(bad[0]).__name__}, not a GateVerdict"
    else:  # the first field that is wrong, as a job's is said (``field_problem``)
        problem = next(filter(None, map(field_problem, items)), None)
        reason = (f"gate returned a GateVerdict whose {problem}" if problem else
                  f"gate returned a GateVerdict with fields of the wrong type "
                  f"(expected {field_labels(GateVerdict)})")
    return [GateVerdict(gate=plugin, passed=False, reason=reason)]


# The verdicts kept of one gate call: each is a line of output, JUnit and the history
# row (100,000 verdicts made a 104 MB row that `history` then read for 1.4 s).
_VERDICTS_MAX = 200


def _bounded(plugin: str, verdicts: list[GateVerdict]) -> list[GateVerdict]:
    """At most ``_VERDICTS_MAX`` of a gate's verdicts, in their order: its failing
    ones first kept, then its passing ones, and one more naming how many were
    left out, failing if any of those failed (the job's outcome never changes)."""
    if len(verdicts) <= _VERDICTS_MAX:
        return verdicts
    from mogrun.runs import GateVerdict

    room = _VERDICTS_MAX - 1
    failing = [i for i, v in enumerate(verdicts) if not v.passed]
    chosen = set(failing[:room])
    chosen.update([i for i, v in enumerate(verdicts) if v.passed][:room - len(chosen)])
    left = len(verdicts) - len(chosen)
    failed = len(failing) - len(failing[:room])
    said = f"{left:,} more verdicts not kept ({failed:,} of them failing)"
    return [verdicts[i] for i in sorted(chosen)] + [
        GateVerdict(gate=plugin, passed=failed == 0, reason=said)]


def _kept_verdict(verdict: GateVerdict) -> GateVerdict:
    """A verdict as it is shown and recorded: a gate's name or reason may quote the
    token or an ``env.*`` value, and may be of any length (``_kept_text``)."""
    gate, reason = _kept_text(verdict.gate), _kept_text(verdict.reason)
    if gate == verdict.gate and reason == verdict.reason:
        return verdict
    return dataclasses.replace(verdict, gate=gate, reason=reason)


def _request_refused(plugin: str, answer: Any, problem: str) -> str:
    if problem == "type":
        return (f'plugin "{plugin}" returned {type(answer).__name__} from {VETO_HOOK}, '
                "expected a StartRequest (dataclasses.replace the request given) or None")
    return mask(f'plugin "{plugin}" returned a start request the server would refuse: '
                f"{problem}", _masked())


def _keeps_repo(plugin: str, request: Any, given: Mapping[str, Any]) -> None:
    """``run`` resolves owner/name to ``repo_id`` before ``mogrun_start_request`` and
    the body sends ``repo_id or repo``: an answer whose body would start another repo
    than it names (a new ``repo`` with the old id), or an owner/name nothing will
    resolve (``repo_id`` cleared), is refused. Setting a new id is the plugin's
    choice, and so is an id as ``repo``. Compared with the request the plugin was
    given (else its run's: that is all it had to build from)."""
    before = given.get("request") or getattr(given.get("run"), "request", None)
    if before is None:
        return
    changed = request.repo.casefold() != before.repo.casefold()
    if request.repo_id is None:
        if is_repo_id(request.repo) or not (changed or before.repo_id is not None):
            return  # sends that id, or nothing was resolved and nothing changed (show)
    elif request.repo_id != before.repo_id or not changed:
        return
    what = (f"changed the run's repo from {before.repo} to {request.repo}" if changed
            else f"cleared the repo_id of {request.repo}")
    raise GateError(mask(f'plugin "{plugin}" {what} in {VETO_HOOK}; a run\'s repo is '
                         f"resolved before this hook: change it in {ADJUST_HOOK}",
                         _masked()))


def _no_problem(answer: Any) -> str | None:
    return None


def _finite_delay(answer: Any) -> str | None:
    """``True`` is no delay, and an endless one is no answer; nor is one longer
    than ``MAX_RETRY_DELAY`` (1e12 s: no clock can wait it, nor a date show it),
    nor a negative one (a sign slip, not "at once": that is 0)."""
    if answer is True or (not isinstance(answer, bool) and not finite(answer)):
        return "not a delay"
    if not isinstance(answer, bool) and float(answer) > MAX_RETRY_DELAY:
        return f"longer than {MAX_RETRY_DELAY // 86400:.0f} days"
    if not isinstance(answer, bool) and answer < 0:
        return "negative"
    return None


MAX_RETRY_DELAY = 365 * 86400.0  # a retry delay mogrun waits at most (a year)


def _reason(answer: Any) -> str | None:
    return None if answer.strip() else "blank"


def _server_limits(request: Any) -> str | None:
    """What the task file's checks would say of a rewritten request: the
    server's limits hold before the first request, whoever built it."""
    from mogrun.taskfile.limits import request_problem

    problem = field_problem(request)
    if problem is not None:
        return problem
    limit = request_problem(request)
    return limit[1] if limit else None


_MEANING: dict[str, Callable[[Any], str | None]] = {
    "mogrun_retry_delay": _finite_delay,
    "mogrun_watch": _reason,
    VETO_HOOK: _server_limits,
}
