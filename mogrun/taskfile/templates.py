"""The ``{{ name }}`` template language of the task file.

Names: ``job``, ``repo``, ``date``, ``week``, ``now``, any ``[vars]`` entry
and ``env.NAME``; ``{{ name | default("text") }}`` makes a name optional;
``{{{{`` writes a literal ``{{``. The time names come from
one ``TemplateClock`` per invocation, so a retried start renders the very
same idempotency key. A ``[vars]`` value is a template too, rendered where it
is used with the same names (as make and just expand a variable that names
others); a ``--set`` value is taken as given, never rendered.
"""

import functools
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Self

from mogrun.errors import Location, MogrunError, TemplateError, UsageError
from mogrun.tomltext import toml_repr

if TYPE_CHECKING:
    from mogrun.taskfile.parse import TaskFile

BUILTIN_NAMES = ("job", "repo", "date", "week", "now")
TOKEN_NAME = "MOGPLEX_API_KEY"
UNSET_STAND_IN = "unset-env-"  # what an unset env.NAME renders as, followed by the NAME
# A name runs to its ``}}`` on the same line, never into another ``{{``: one that
# does not get there is an unclosed ``{{`` (not a name holding the next one).
_TOKEN = re.compile(r"\{\{\{\{|\{\{((?:(?!\{\{)[^\n])*?)\}\}|\{\{")
_LITERAL_HINT = "(write {{{{ for a literal {{)"
# A var rendered longer than this is refused: ten times the longest text any key
# accepts (a prompt: 100,000), and vars naming vars twice over cannot double on.
MAX_VAR_TEXT = 1_000_000
# Vars naming vars naming vars... at most this deep: each level is a few frames of
# Python's stack, which 500 levels ran out of (a traceback, not a message).
MAX_VAR_DEPTH = 32
# What {{ name }} can name: a [vars] entry, a built-in, or env.NAME.
VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
VAR_NAME_RULE = 'ASCII letters, digits, "_" and "-", not starting with a digit or "-"'
_NAME = re.compile(rf"(env\.)?{VAR_NAME.pattern}")
# name | default("text"): the text (either quote, no escapes, so not that quote)
# stands in for an unset env name or a name that is not a [vars] entry. Exactly
# one filter, with exactly one quoted argument: anything after its ")" (a second
# filter, a second argument) is no match, never part of the text.
# (A pattern, compiled by ``re`` on first use: most files have no filter.)
_FILTERED = (r"(?P<name>[^|]*?)\s*\|\s*default\s*\(\s*"
             r"(?:\"(?P<double>[^\"]*)\"|'(?P<single>[^']*)')\s*\)")


class TemplateClock(NamedTuple):
    """The time names and the random part of default keys, fixed per invocation.
    (Not a dataclass: start-up, see docs/architecture.md.)"""

    date: str
    week: str
    timestamp: str
    nonce: str = "0000000000"

    @classmethod
    def now(cls) -> Self:
        """Capture the current UTC time (and a fresh nonce) once."""
        import datetime
        import os

        # os.urandom is what secrets.token_hex reads; importing secrets pulls in
        # hashlib (~10 ms of every check, show and run).
        return cls.at(datetime.datetime.now(datetime.UTC), nonce=os.urandom(5).hex())

    @classmethod
    def at(cls, moment: object, nonce: str = "0000000000") -> Self:
        """A clock fixed at ``moment`` (an aware ``datetime``), for tests and docs."""
        import datetime

        assert isinstance(moment, datetime.datetime)
        utc = moment.astimezone(datetime.UTC).replace(microsecond=0)
        year, week, _ = utc.isocalendar()
        return cls(date=utc.strftime("%Y-%m-%d"), week=f"{year}-W{week:02d}",
                   timestamp=utc.strftime("%Y-%m-%dT%H:%M:%SZ"), nonce=nonce)


def _nowhere() -> Location | None:
    return None


def _no_var_location(name: str) -> Location | None:
    return None


class Scope(NamedTuple):
    """What a template may name while rendering one key of one job.

    ``repo`` is ``None`` where it may not be used (inside ``repo`` itself, or a
    fan-out's job-wide keys); ``location`` says where the key is written, asked
    only when an error is raised (finding positions costs a scan of the file).
    ``templated`` are the vars whose values are templates (the file's; a
    ``--set`` value never is), ``var_location`` where each var is written, and
    ``through`` the vars being rendered, outermost first (a cycle comes back).
    """

    job: str
    clock: TemplateClock
    vars: Mapping[str, str]
    env: Mapping[str, str]
    repo: str | None = None
    repo_reason: str = "inside repo itself"
    location: Callable[[], Location | None] = _nowhere
    templated: frozenset[str] = frozenset()
    var_location: Callable[[str], Location | None] = _no_var_location
    through: tuple[str, ...] = ()


class Rendered(NamedTuple):
    """A rendered string, the ``env.*`` values it used (secrets), and the unset
    ``env`` names it used (each with its placeholder as written), rendered as
    ``unset-env-NAME``: whether that is an error is the caller's to decide
    (``run`` refuses, ``check`` warns). ``env_names`` is every ``env`` name it
    reads, set or not, with a default or not: what a CI job must be given.
    All of these through the vars it names too."""

    text: str
    secrets: frozenset[str] = frozenset()
    unset_env: Mapping[str, str] = MappingProxyType({})
    env_names: frozenset[str] = frozenset()


class _Found:
    """What rendering one text collects, through its vars too; each var is
    rendered once per text (a var naming another twice, ten deep, stays cheap)."""

    __slots__ = ("env_names", "secrets", "unset", "vars")

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.unset: dict[str, str] = {}
        self.env_names: set[str] = set()
        self.vars: dict[str, str | TemplateError] = {}


class VarTemplateError(TemplateError):
    """A problem of a ``[vars]`` value itself, located there: the same whichever
    job uses the var, so said once (``building.said_once``)."""


class _VarProblems(TemplateError):
    """The problems of a var's value, each located already, passed up through the
    texts that name the var."""

    def __init__(self, errors: list[TemplateError]) -> None:
        super().__init__(errors[0].message)
        self.errors = tuple(errors)


def template_names(text: str) -> list[str]:
    """Every name used by ``text``'s templates, in order (filters left out)."""
    return [m.group(1).split("|", 1)[0].strip() for m in _TOKEN.finditer(text)
            if m.group(1) is not None]


def literal_text(text: str) -> str:
    """``text`` without its placeholders: what it says whatever they render as
    (``{{{{`` is the literal ``{{`` it writes)."""
    return _TOKEN.sub(lambda m: "{{" if m.group(0) == "{{{{" else "", text)


def render(text: str, scope: Scope, key: str) -> Rendered:
    """Substitute every ``{{ name }}`` of ``text``; ``TemplateError`` names job, key, template."""
    if "{{" not in text:  # most values: a repo, a branch, a duration
        return Rendered(text)
    found = _Found()
    try:
        out = _render(text, scope, key, found)
    except TemplateError as error:
        # What the text's other templates said of env names, which check warns of: a
        # template problem beside "{{ env.DEPLOY_HOOK }}" hid its warning until fixed.
        error.unset_env = dict(found.unset)
        raise
    return Rendered(out, frozenset(found.secrets), found.unset, frozenset(found.env_names))


def _render(text: str, scope: Scope, key: str, found: _Found) -> str:
    pieces: list[str] = []
    problems: list[TemplateError] = []
    from_vars: set[int] = set()  # the vars' problems taken (their errors are shared)
    lines = _Lines(text, key, scope) if "\n" in text.rstrip("\n") else None
    last = 0
    for match in _TOKEN.finditer(text):
        pieces.append(text[last : match.start()])
        last = match.end()
        if match.group(0) == "{{{{":
            pieces.append("{{")
            continue
        try:
            if match.group(1) is None:
                raise _error(f"unclosed {{{{ {_LITERAL_HINT}", scope, key,
                             None if lines else text)
            name, default = _parse(match.group(1), match.group(0), scope, key)
            pieces.append(_lookup(name, default, match.group(0), scope, key, found))
        except _VarProblems as exc:  # each located in its var already, and taken once:
            fresh = [e for e in exc.errors if id(e) not in from_vars]  # a var named twice
            from_vars.update(map(id, fresh))  # ... ten deep must not say it 2**10 times
            problems.extend(fresh)
            continue
        except TemplateError as exc:  # the next ones too: check lists them all at once
            own = bool(scope.through) == isinstance(exc, VarTemplateError)  # located at text
            problems.append(lines.on(exc, match.start()) if lines
                            else _pointed(exc, match.group(0), text, match.start()) if own
                            else exc)
            continue
        if name.startswith("env."):
            found.env_names.add(name[4:])
    if problems:
        raise problems[0] if len(problems) == 1 else TemplateProblems(problems)
    pieces.append(text[last:])
    return "".join(pieces)


def _pointed(error: TemplateError, token: str, text: str, start: int) -> TemplateError:
    """``error`` with its caret on the template ``token`` at ``start`` of ``text``,
    a one-line value, when its source line holds that template as often as the
    value does, as written or as a basic string escapes it (``default(\\"x\\")``:
    left at the key, its problem was listed before the line's earlier ones); other
    escapes, or other values on the line, leave the caret at the key."""
    where = error.location
    if where is None or where.source_line is None or where.column is None:
        return error
    import bisect

    from mogrun.tomltext import basic_string

    in_text = _places(text, token)
    for written in dict.fromkeys((token, basic_string(token)[1:-1])):
        in_line = _places(where.source_line, written)
        if len(in_line) == len(in_text):
            break
    else:
        return error
    column = in_line[bisect.bisect_left(in_text, start)]
    if column < where.column - 1:  # before the key: not this value's
        return error
    return error.evolve(location=where._replace(column=column + 1))


@functools.lru_cache(maxsize=16)
def _places(text: str, token: str) -> tuple[int, ...]:
    """Where ``token`` starts in ``text``, each place (overlapping too): remembered,
    as every problem of a line asks again (thousands of ``{{`` in one value were
    quadratic)."""
    found, at = [], text.find(token)
    while at >= 0:
        found.append(at)
        at = text.find(token, at + 1)
    return tuple(found)


class TemplateProblems(TemplateError):
    """Several template problems of one text: the first one's message, saying how
    many more; ``errors`` has each (``check`` lists them all)."""

    def __init__(self, errors: list[TemplateError]) -> None:
        first = errors[0]
        more = len(errors) - 1
        super().__init__(first.message, location=first.location, job=first.job, key=first.key,
                         context=[*first.context, f"({more} more template problem"
                                  f"{'s' * (more > 1)} in it)"])
        self.errors = tuple(errors)


class _Lines:
    """Says which line of a text of several lines an error is on, and that line
    (a prompt file of a hundred lines is located only at its key). The errors come
    in text order: lines are counted once, from the last one, so a text with a
    problem on each of its lines stays linear."""

    def __init__(self, text: str, key: str, scope: Scope) -> None:
        self.text, self.number, self.counted = text, 1, 0
        self.env = scope.env
        self.what = ("the prompt file" if key == "prompt_file" else f"the {key}"
                     ) if not scope.through else f"[vars] {scope.through[-1]}"

    def on(self, error: TemplateError, offset: int) -> TemplateError:
        text = self.text
        self.number += text.count("\n", self.counted, offset)
        self.counted = offset
        start = text.rfind("\n", 0, offset) + 1
        end = text.find("\n", offset)
        line = text[start:end if end >= 0 else len(text)].rstrip("\r").strip()
        shown = line if len(line) <= 100 else self.cut(line, 99) + "…"
        return error.evolve(context=[f"It is on line {self.number} of {self.what}: {shown}",
                                     *error.context])

    def cut(self, line: str, size: int) -> str:
        """``line`` cut before it is masked (the secrets are known later): never inside
        a value of the environment, as any may be a secret (the token, an ``env.*``)."""
        from mogrun.masking import clear_cut

        return clear_cut(line, size, self.env.values())


def _parse(inside: str, placeholder: str, scope: Scope, key: str) -> tuple[str, str | None]:
    """The name of ``{{ inside }}`` and its default, if it has the one filter."""
    if "|" not in inside:
        return inside.strip(), None
    match = re.fullmatch(_FILTERED, inside.strip())
    if match is None:
        raise _error(f'invalid filter in {placeholder}: the one filter is default("text")',
                     scope, key)
    default = match.group("double")
    return match.group("name"), match.group("single") if default is None else default


def _lookup(name: str, default: str | None, placeholder: str, scope: Scope, key: str,
            found: _Found) -> str:
    if not _NAME.fullmatch(name):
        raise _error(f"invalid template name {toml_repr(name)} in {placeholder} "
                     f"{_LITERAL_HINT}", scope, key)
    if name.startswith("env."):
        if name[4:].upper() == TOKEN_NAME:  # with a default too: set or not, never a template
            raise _error(f"{placeholder} is refused: the API token never goes into a template",
                         scope, key)
        if default is not None and scope.env.get(name[4:]) is None:
            return default
        return _env_value(name[4:], placeholder, scope, key, found)
    if name == "repo":
        if scope.repo is None:
            raise _error(f"{{{{ repo }}}} cannot be used {scope.repo_reason}", scope, key,
                         in_job=True)
        return scope.repo
    builtin = {"job": scope.job, "date": scope.clock.date, "week": scope.clock.week,
               "now": scope.clock.timestamp}
    if name in builtin:
        return builtin[name]
    if name in scope.vars:
        return _var_value(name, scope, key, found)
    if default is not None:
        return default
    raise _error(f'unknown template name "{name}" in {placeholder}', scope, key,
                 context=_suggest(name, scope))


def _var_value(name: str, scope: Scope, key: str, found: _Found) -> str:
    """Var ``name``'s value, its own templates rendered with the same scope (once
    per text); a ``_VarProblems`` when they cannot be."""
    if name in scope.through:  # the var's problem, not this template's: located there
        raise _VarProblems([_cycle_error(name, scope, key)])
    if len(scope.through) >= MAX_VAR_DEPTH:  # (``_var_depths`` counts every var named)
        raise _VarProblems([_too_deep_error(scope.through[0], scope, key)])
    value = str(scope.vars[name])
    if name not in scope.templated or "{{" not in value:
        return value
    done = found.vars.get(name)
    if done is None:
        inner = scope._replace(through=(*scope.through, name))
        try:
            done = _render(value, inner, key, found)
            if len(done) > MAX_VAR_TEXT:  # each var is capped, so no text outgrows twice this
                raise _error(f"the value renders to {len(done):,} characters, more than the "
                             f"{MAX_VAR_TEXT:,} a var may hold (its vars name others many "
                             "times over)", inner, key, var=name)
        except TemplateError as exc:
            done = _VarProblems(list(getattr(exc, "errors", (exc,))))
        found.vars[name] = done
    if isinstance(done, TemplateError):
        raise done
    return done


def _cycle_error(name: str, scope: Scope, key: str) -> TemplateError:
    """Vars that name each other in a circle, told from the one written first
    (the same error whichever of them a job names)."""
    members = list(scope.through[scope.through.index(name):])
    order = {var: index for index, var in enumerate(scope.vars)}
    first = members.index(min(members, key=lambda var: order.get(var, 0)))
    circle = [*members[first:], *members[:first]]
    return _error(f"the vars name each other in a cycle: {' -> '.join([*circle, circle[0]])}",
                  scope, key, var=circle[0],
                  context=["A var's value may name other vars, but not itself through them."])


def _too_deep_error(head: str, scope: Scope, key: str) -> TemplateError:
    """Var ``head`` names vars that name vars more than ``MAX_VAR_DEPTH`` deep: the
    same error whether a job's template or ``check``'s look at the vars finds it."""
    return _error(f"its value names vars that name vars more than {MAX_VAR_DEPTH} deep",
                  scope, key, var=head,
                  context=[f"A template goes through at most {MAX_VAR_DEPTH} vars, each "
                           "naming the next; put the text of the deepest ones in directly."])


def _var_depths(scope: Scope) -> dict[str, int]:
    """How deep each var's value names vars (1: it names none), found without
    recursion (the chain may be as long as the file); a cycle counts once around
    (it is an error of its own)."""
    names = {var: [n for n in template_names(str(scope.vars[var])) if n in scope.vars]
             if var in scope.templated else [] for var in scope.vars}
    depth: dict[str, int] = {}
    for start in names:
        if start in depth:
            continue
        stack, on_path = [(start, iter(names[start]))], {start}
        while stack:
            var, pending = stack[-1]
            nxt = next((n for n in pending if n not in on_path), None)
            if nxt is None:
                stack.pop()
                on_path.discard(var)
                depth[var] = 1 + max((depth.get(n, 0) for n in names[var]), default=0)
            elif nxt not in depth:
                stack.append((nxt, iter(names[nxt])))
                on_path.add(nxt)
    return depth


def _env_value(name: str, placeholder: str, scope: Scope, key: str, found: _Found) -> str:
    if name.upper() == TOKEN_NAME:  # any casing: some environments ignore case
        raise _error(f"{placeholder} is refused: the API token never goes into a template",
                     scope, key)
    value = scope.env.get(name)
    if value is None:
        where = f" in [vars] {scope.through[-1]}" if scope.through else ""
        found.unset.setdefault(name, placeholder + where)
        return f"{UNSET_STAND_IN}{name}"
    if not _is_text(value):  # bytes the locale could not decode: no request could carry them
        from mogrun.textsafety import locale_refusal

        said = locale_refusal(value) or "is not valid UTF-8 text"
        raise _error(f"environment variable {name} (used by {placeholder}) {said}", scope, key)
    if value and value == scope.env.get(TOKEN_NAME):
        raise _error(f"{placeholder} is refused: it holds the API token ({TOKEN_NAME}), which "
                     "never goes into a template", scope, key)
    found.secrets.add(value)
    return value


def _is_text(value: str) -> bool:
    """Whether ``value`` is real text, not undecodable bytes (surrogate escapes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _suggest(name: str, scope: Scope) -> list[str]:
    from mogrun.taskfile.schema import closest

    # Only names a template can write: "with space", refused itself, was offered in
    # "Names:" beside its own error.
    known = [*BUILTIN_NAMES, *(var for var in scope.vars
                               if var not in BUILTIN_NAMES and VAR_NAME.fullmatch(var))]
    close = closest(name, known)
    hint = [f'did you mean "{close}"?'] if close else []
    return [*hint, "Names: " + ", ".join([*known, "env.NAME"])]


def unset_env_error(name: str, placeholder: str, scope: Scope, key: str,
                    text: str = "") -> TemplateError:
    """The error for an unset ``env`` name, for a job that is about to run; under
    its template when ``text``, the key's one-line value, holds it (not a var's);
    with the line it is on when ``text`` has several (a prompt file), as every other
    template problem there says it."""
    error = _error(f"environment variable {name} is not set (used by {placeholder})", scope, key)
    error.unset_name = name  # (for GitHub's hint: a secret or variable of that name)
    at = text.find(placeholder)
    if at < 0:
        return error
    if "\n" in text.rstrip("\n"):
        return _Lines(text, key, scope).on(error, at)
    return _pointed(error, placeholder, text, at)


def _error(message: str, scope: Scope, key: str, text: str | None = None,
           context: list[str] | None = None, *, var: str | None = None,
           in_job: bool = False) -> TemplateError:
    """A template problem of job ``scope.job``'s ``key``; one inside a var's value
    is that var's (``VarTemplateError``, located there, naming no job), but for
    one of the job's use of it (``in_job``: ``{{ repo }}`` inside repo)."""
    extra = [f"Template: {text}"] if text is not None else []
    owner = var or (scope.through[-1] if scope.through and not in_job else None)
    if owner is not None:
        return VarTemplateError(f"[vars] {owner}: {message}", location=scope.var_location(owner),
                                job=scope.job, context=[*extra, *(context or [])])
    if scope.through:
        message += f" (through [vars] {' -> '.join(scope.through)})"
    where = f'job "{scope.job}", key "{key}"'
    return TemplateError(f"{where}: {message}", location=scope.location(), job=scope.job,
                         key=key, context=[*extra, *(context or [])])


def var_problems(scope: Scope) -> list[TemplateError]:
    """The problems of the ``[vars]`` values themselves, whether a job uses them or
    not (``check`` lists them once; ``scope`` stands for any job, with a repo)."""
    problems: list[TemplateError] = []
    depth = _var_depths(scope)
    deep = {var for var, levels in depth.items() if levels > MAX_VAR_DEPTH}
    named_by_deep = {n for var in deep for n in template_names(str(scope.vars[var]))}
    for name in scope.vars:
        if name in deep:  # said once, at the head of its chain (each var below it is deep)
            if name not in named_by_deep:
                problems.append(_too_deep_error(name, scope, ""))
            continue
        try:
            _var_value(name, scope, "", _Found())
        except TemplateError as exc:
            problems.extend(getattr(exc, "errors", (exc,)))
    return problems


def set_problems(taskfile: "TaskFile", sets: Mapping[str, str]) -> list[MogrunError]:
    """``--set NAME=VALUE`` for a name no ``[vars]`` entry and no template uses
    is a typo that would silently change nothing. Every command that loads the
    task file judges it (``list`` too: this module is light)."""
    from mogrun.taskfile.schema import closest

    unknown = [name for name in sets if name not in taskfile.vars]
    if not unknown:
        return []
    used = set(taskfile.vars) | _template_names_in(taskfile.data)
    if not used.issuperset(unknown):  # prompt files are templated too: read them only now
        from mogrun.taskfile.paths import prompt_file_texts

        used.update(name for text in prompt_file_texts(taskfile) for name in template_names(text))
    problems: list[MogrunError] = []
    for name in unknown:
        if name in used:
            continue
        hint = closest(name, used)
        problems.append(UsageError(
            f'--set {name}: no [vars] entry or template of {taskfile.path.name} uses "{name}"',
            context=[f'did you mean "{hint}"?'] if hint else []))
    return problems


def _template_names_in(data: Mapping[str, Any]) -> set[str]:
    """Every plain name the templates of the task file's strings use, but for the
    jobs' ``description``: it is shown as written, never rendered."""
    jobs = data.get("jobs")
    job_tables = [data.get("defaults"), *(jobs.values() if isinstance(jobs, dict) else ())]
    stack: list[object] = [v for k, v in data.items() if k not in ("defaults", "jobs")]
    for table in job_tables:
        if isinstance(table, dict):
            stack.extend(v for k, v in table.items() if k != "description")
    names: set[str] = set()
    while stack:
        value = stack.pop()
        if isinstance(value, str) and "{{" in value:
            names.update(template_names(value))
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return names
