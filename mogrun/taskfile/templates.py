"""The ``{{ name }}`` template language of the task file.

Names: ``job``, ``repo``, ``date``, ``week``, ``now``, any ``[vars]`` entry
and ``env.NAME``; ``{{ name | default("text") }}`` makes a name optional;
``{{{{`` writes a literal ``{{``. The time names come from
one ``TemplateClock`` per invocation, so a retried start renders the very
same idempotency key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mogrun.errors import Location, MogrunError, TemplateError, UsageError
from mogrun.tomltext import toml_repr

if TYPE_CHECKING:
    from mogrun.taskfile.parse import TaskFile

BUILTIN_NAMES = ("job", "repo", "date", "week", "now")
TOKEN_NAME = "MOGPLEX_API_KEY"
_TOKEN = re.compile(r"\{\{\{\{|\{\{(.*?)\}\}|\{\{", re.DOTALL)
# What {{ name }} can name: a [vars] entry, a built-in, or env.NAME.
VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
VAR_NAME_RULE = 'ASCII letters, digits, "_" and "-", not starting with a digit or "-"'
_NAME = re.compile(rf"(env\.)?{VAR_NAME.pattern}")
# name | default("text"): the text (either quote, no escapes) stands in for an
# unset env name or a name that is not a [vars] entry.
_FILTERED = re.compile(r"(?P<name>[^|]*?)\s*\|\s*(?P<filter>[A-Za-z_]*)\s*"
                       r"(?:\(\s*(?P<q>[\"'])(?P<default>.*?)(?P=q)\s*\))?\s*", re.DOTALL)


@dataclass(frozen=True)
class TemplateClock:
    """The time names and the random part of default keys, fixed per invocation."""

    date: str
    week: str
    timestamp: str
    nonce: str = "0000000000"

    @classmethod
    def now(cls) -> TemplateClock:
        """Capture the current UTC time (and a fresh nonce) once."""
        import datetime
        import os

        # os.urandom is what secrets.token_hex reads; importing secrets pulls in
        # hashlib (~10 ms of every check, show and run).
        return cls.at(datetime.datetime.now(datetime.UTC), nonce=os.urandom(5).hex())

    @classmethod
    def at(cls, moment: object, nonce: str = "0000000000") -> TemplateClock:
        """A clock fixed at ``moment`` (an aware ``datetime``), for tests and docs."""
        import datetime

        assert isinstance(moment, datetime.datetime)
        utc = moment.astimezone(datetime.UTC).replace(microsecond=0)
        year, week, _ = utc.isocalendar()
        return cls(date=utc.strftime("%Y-%m-%d"), week=f"{year}-W{week:02d}",
                   timestamp=utc.strftime("%Y-%m-%dT%H:%M:%SZ"), nonce=nonce)


def _nowhere() -> Location | None:
    return None


@dataclass(frozen=True)
class Scope:
    """What a template may name while rendering one key of one job.

    ``repo`` is ``None`` where it may not be used (inside ``repo`` itself, or a
    fan-out's job-wide keys); ``location`` says where the key is written, asked
    only when an error is raised (finding positions costs a scan of the file).
    """

    job: str
    clock: TemplateClock
    vars: Mapping[str, str]
    env: Mapping[str, str]
    repo: str | None = None
    repo_reason: str = "inside repo itself"
    location: Callable[[], Location | None] = _nowhere


@dataclass(frozen=True)
class Rendered:
    """A rendered string, the ``env.*`` values it used (secrets), and the unset
    ``env`` names it used (each with its placeholder as written), rendered as
    ``unset-env-NAME``: whether that is an error is the caller's to decide
    (``run`` refuses, ``check`` warns). ``env_names`` is every ``env`` name it
    reads, set or not, with a default or not: what a CI job must be given."""

    text: str
    secrets: frozenset[str] = frozenset()
    unset_env: Mapping[str, str] = field(default_factory=dict)
    env_names: frozenset[str] = frozenset()


def template_names(text: str) -> list[str]:
    """Every name used by ``text``'s templates, in order (filters left out)."""
    return [m.group(1).split("|", 1)[0].strip() for m in _TOKEN.finditer(text)
            if m.group(1) is not None]


def render(text: str, scope: Scope, key: str) -> Rendered:
    """Substitute every ``{{ name }}`` of ``text``; ``TemplateError`` names job, key, template."""
    secrets: set[str] = set()
    unset: dict[str, str] = {}
    env_names: set[str] = set()
    pieces: list[str] = []
    problems: list[TemplateError] = []
    several_lines = "\n" in text.rstrip("\n")
    last = 0
    for match in _TOKEN.finditer(text):
        pieces.append(text[last : match.start()])
        last = match.end()
        if match.group(0) == "{{{{":
            pieces.append("{{")
            continue
        try:
            if match.group(1) is None:
                raise _error("unclosed {{ (write {{{{ for a literal {{)", scope, key,
                             None if several_lines else text)
            name, default = _parse(match.group(1), match.group(0), scope, key)
            pieces.append(_lookup(name, default, match.group(0), scope, key, secrets, unset))
        except TemplateError as exc:  # the next ones too: check lists them all at once
            problems.append(_on_line(exc, text, match.start(), key) if several_lines else exc)
            continue
        if name.startswith("env."):
            env_names.add(name[4:])
    if problems:
        raise problems[0] if len(problems) == 1 else TemplateProblems(problems)
    pieces.append(text[last:])
    return Rendered("".join(pieces), frozenset(secrets), unset, frozenset(env_names))


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


def _on_line(error: TemplateError, text: str, offset: int, key: str) -> TemplateError:
    """``error`` saying which line of a text of several lines it is on, and that
    line (a prompt file of a hundred lines is located only at its key)."""
    number = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    line = text[start:end if end >= 0 else len(text)].rstrip("\r").strip()
    shown = line if len(line) <= 100 else line[:99] + "…"
    what = "the prompt file" if key == "prompt_file" else f"the {key}"
    return error.evolve(context=[f"It is on line {number} of {what}: {shown}",
                                 *error.context])


def _parse(inside: str, placeholder: str, scope: Scope, key: str) -> tuple[str, str | None]:
    """The name of ``{{ inside }}`` and its default, if it has the one filter."""
    if "|" not in inside:
        return inside.strip(), None
    match = _FILTERED.fullmatch(inside.strip())
    if match is None or match.group("filter") != "default" or match.group("q") is None:
        raise _error(f'invalid filter in {placeholder}: the one filter is default("text")',
                     scope, key)
    return match.group("name"), match.group("default")


def _lookup(name: str, default: str | None, placeholder: str, scope: Scope, key: str,
            secrets: set[str], unset: dict[str, str]) -> str:
    if not _NAME.fullmatch(name):
        raise _error(f"invalid template name {toml_repr(name)} in {placeholder}", scope, key)
    if name.startswith("env."):
        if name[4:].upper() == TOKEN_NAME:  # with a default too: set or not, never a template
            raise _error(f"{placeholder} is refused: the API token never goes into a template",
                         scope, key)
        if default is not None and scope.env.get(name[4:]) is None:
            return default
        return _env_value(name[4:], placeholder, scope, key, secrets, unset)
    if name == "repo":
        if scope.repo is None:
            raise _error(f"{{{{ repo }}}} cannot be used {scope.repo_reason}", scope, key)
        return scope.repo
    builtin = {"job": scope.job, "date": scope.clock.date, "week": scope.clock.week,
               "now": scope.clock.timestamp}
    if name in builtin:
        return builtin[name]
    if name in scope.vars:
        return str(scope.vars[name])
    if default is not None:
        return default
    raise _error(f'unknown template name "{name}" in {placeholder}', scope, key,
                 context=_suggest(name, scope))


def _env_value(name: str, placeholder: str, scope: Scope, key: str,
               secrets: set[str], unset: dict[str, str]) -> str:
    if name.upper() == TOKEN_NAME:  # any casing: some environments ignore case
        raise _error(f"{placeholder} is refused: the API token never goes into a template",
                     scope, key)
    value = scope.env.get(name)
    if value is None:
        unset.setdefault(name, placeholder)
        return f"unset-env-{name}"
    if not _is_text(value):  # bytes the locale could not decode: no request could carry them
        raise _error(f"environment variable {name} (used by {placeholder}) is not valid "
                     "UTF-8 text", scope, key)
    if value and value == scope.env.get(TOKEN_NAME):
        raise _error(f"{placeholder} is refused: it holds the API token ({TOKEN_NAME}), which "
                     "never goes into a template", scope, key)
    secrets.add(value)
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

    known = [*BUILTIN_NAMES, *scope.vars]
    close = closest(name, known)
    hint = [f'did you mean "{close}"?'] if close else []
    return [*hint, "Names: " + ", ".join([*known, "env.NAME"])]


def unset_env_error(name: str, placeholder: str, scope: Scope, key: str) -> TemplateError:
    """The error for an unset ``env`` name, for a job that is about to run."""
    return _error(f"environment variable {name} is not set (used by {placeholder})", scope, key)


def _error(message: str, scope: Scope, key: str, text: str | None = None,
           context: list[str] | None = None) -> TemplateError:
    where = f'job "{scope.job}", key "{key}"'
    extra = [f"Template: {text}"] if text is not None else []
    return TemplateError(f"{where}: {message}", location=scope.location(), job=scope.job,
                         key=key, context=[*extra, *(context or [])])


def set_problems(taskfile: TaskFile, sets: Mapping[str, str]) -> list[MogrunError]:
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
