"""What a task file may contain: sections, ``[mogplex]`` settings, job keys and
their types. Plugins extend the job keys through ``KeySpec`` (``mogrun_job_keys``),
so validation stays strict without knowing every key in advance."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from mogrun.durations import JSON_PATTERN, LONGEST_TIMEOUT, NotPositive, parse_duration
from mogrun.durations import LONGEST as LONGEST_WAIT
from mogrun.taskfile.jobnames import JOB_NAME
from mogrun.taskfile.parse import SECTIONS, TaskFile, type_name
from mogrun.tomltext import basic_string, toml_repr

HARNESSES = ("codex", "claude-code")
ON_TIMEOUT = ("cancel", "detach")
DEFAULT_TIMEOUT = 1800.0
DEFAULT_CAPACITY_WAIT = 1800.0  # how long a run may wait for a sandbox slot
DEFAULT_SANDBOXES = 3  # the account's sandbox cap ([mogplex] sandboxes)
LIMIT_KEYS = ("requests_per_minute", "starts_per_minute", "starts_per_hour", "starts_per_day")

Checker = Callable[[Any], str | None]



def quoting_hint(job: str, rest: tuple[str, ...]) -> str:
    """A table inside a job, named like no key, is most likely a job whose name
    holds a ".": ``[jobs.release.v1]`` is job ``release`` with a table ``v1``."""
    from mogrun.taskfile.positions import quote_key

    meant = ".".join((job, *rest))
    written = ".".join(quote_key(part) for part in (job, *rest))
    return (f"A job name holding \".\" is quoted: write [jobs.{quote_key(meant)}] "
            f"(without quotes, [jobs.{written}] is a table "
            f'"{rest[0]}" inside job "{job}").')


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"must be a string, not {type_name(value)}"


def _repo(value: Any) -> str | None:
    if isinstance(value, str):
        return None if value.strip() else "must not be empty"
    if not (isinstance(value, list) and value):
        return "must be a repo (owner/name or id) or a non-empty list of them"
    # Each entry's problem located at the entry: a fan-out lists dozens, one per line.
    problems = _not_strings(value, "repos (owner/name or id)")
    if not problems:  # (the names' own problems once all are names)
        problems = [(str(index), "must not contain an empty name")
                    for index, repo in enumerate(value) if not repo.strip()]
        problems += [(str(index), twice) for index, twice in listed_twice(value)]
    if problems:
        from mogrun.plugintables import KeyProblems

        raise KeyProblems(problems)
    return None


def listed_twice(repos: list[str], how: str = "") -> list[tuple[int, str]]:
    """Each repo that repeats one listed before it (GitHub ignores case), by its
    index: ``lists 'Acme/API' twice (as 'acme/api' before it; GitHub ignores
    case)``; ``how`` says what the repos are (``" templated"``)."""
    from mogrun.reponames import repo_key  # here: list imports this module, not that one

    first: dict[str, int] = {}
    found = []
    for index, repo in enumerate(repos):
        earlier = first.setdefault(repo_key(repo.strip()), index)
        if earlier != index and repo.strip():
            seen = repos[earlier]
            same = seen.strip() == repo.strip()
            found.append((index, f"lists{how} {toml_repr(repo)} twice" if same else
                          f"lists{how} {toml_repr(repo)} twice (as {toml_repr(seen)} before "
                          "it; GitHub ignores case)"))
    return found


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, not {type_name(value)}"


def _choice(choices: tuple[str, ...]) -> Checker:
    def check(value: Any) -> str | None:
        if isinstance(value, str) and value in choices:
            return None
        return f"must be one of {', '.join(map(toml_repr, choices))}, not {toml_repr(value)}"
    return check


def _duration(longest: float) -> Checker:
    """A duration key: longer than zero, at most ``longest`` (``mogrun.durations``
    holds the bounds and says why)."""
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return f'must be a duration like "90s", "25m" or "2h", not {type_name(value)}'
        try:
            parse_duration(value, longest=longest, positive=True)
        except NotPositive as exc:
            return str(exc)  # "must be longer than zero"
        except ValueError as exc:  # said after the key: "... key "timeout" is an invalid ..."
            return f"is an {exc}"
        return None
    return check


def _not_strings(value: list[Any], what: str) -> list[tuple[str, str]]:
    """Each entry of a list of names that is no string, located at the entry (not
    at the key: a list written one entry a line may be long)."""
    return [(str(index), f"must list {what} as strings, not {type_name(item)}")
            for index, item in enumerate(value) if not isinstance(item, str)]


def _names(value: Any) -> str | None:
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        from mogrun.plugintables import KeyProblems

        raise KeyProblems(_not_strings(value, "job names"))
    if isinstance(value, list):
        # As a repo listed twice is: a slip (actionlint says the same of a
        # workflow's needs), each repeat located at its own entry.
        seen: set[str] = set()
        twice = []
        for index, name in enumerate(value):
            if name in seen:
                twice.append((str(index), f"lists {toml_repr(name)} twice"))
            seen.add(name)
        if twice:
            from mogrun.plugintables import KeyProblems

            raise KeyProblems(twice)
        return None
    if isinstance(value, str):  # `needs = "lint"`, as `repo` takes one name
        return f"must be a list of job names: needs = [{toml_repr(value)}]"
    return "must be a list of job names"


def positive_int(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return None
    return f"must be a positive integer, not {toml_repr(value)}"


MAX_LIMIT = 1_000_000  # a request budget beyond this is a typo (and breaks the pacing maths)


def _limit(value: Any) -> str | None:
    problem = positive_int(value)
    if problem is None and value > MAX_LIMIT:
        shown = str(value) if len(str(value)) <= 20 else str(value)[:20] + "..."
        return f"must be a positive integer of at most {MAX_LIMIT:,}, not {shown}"
    return problem


def _schedule(value: Any) -> str | None:
    from mogrun.ci.cron import key_problems  # the cron reader loads only for files with schedules

    problems = key_problems(value)
    if any(sub for sub, _ in problems):  # an expression of a list: located at it
        from mogrun.plugintables import KeyProblems

        raise KeyProblems(problems)
    return problems[0][1] if problems else None


# Keys the server writes over an automation's input (mogplex trigger, "How input is stored").
RESERVED_INPUT = ("source", "source_type", "dispatch_source", "flow_id", "flow_version_id",
                  "repo_id", "repo_full_name", "installation_id", "default_branch")
# Keys that describe an agent run: they do not apply to a job that triggers an automation.
RUN_ONLY_KEYS = ("prompt", "prompt_file", "harness", "base_branch", "branch", "create_branch",
                 "root")


def _input(value: Any) -> str | None:
    if not isinstance(value, dict):
        return f"must be a table of the automation's input, not {type_name(value)}"
    problems = []
    reserved = [key for key in value if key in RESERVED_INPUT]
    if reserved:
        problems.append(("", f"sets {', '.join(map(toml_repr, reserved))}, which the server "
                             "reserves (it overwrites them with its own values)"))
    problems += _not_json(value)
    if problems:  # every one at once, each where it is written: fixing one shows no next
        from mogrun.plugintables import KeyProblems

        raise KeyProblems(problems)
    return None


def _not_json(value: Any) -> list[tuple[str, str]]:
    """What in ``value`` JSON cannot carry (TOML dates and times, nan, inf), as
    (sub-key, problem) pairs: the input is sent as JSON, and ``json.dumps`` would
    crash on a date or write ``NaN``, which no server parses."""
    return [(sub, f"holds {toml_repr(item) if isinstance(item, float) else type_name(item)}"
                  f" at {path}, which JSON cannot carry: quote it as a string")
            for sub, path, item in json_problems(value)]


JSON_DEPTH = 100  # far beyond a task file's (``parse.MAX_DEPTH``) or a schema fragment's


def json_problems(value: Any) -> Iterator[tuple[str, str, Any]]:
    """Each part of ``value`` that JSON cannot carry as it is, as (sub-key: dotted,
    arrays by index; path: as a message says it; the part), the first written first:
    a non-finite number, a key that is not a string, anything but dicts, lists,
    tuples, strings, numbers, booleans and None, or a part nested past
    ``JSON_DEPTH`` (a cycle never ends). The one rule for a job's automation input
    and a plugin's schema fragment; walked by hand, without recursion and without
    ``json`` (~3 ms of check's start)."""
    import math

    pending: list[tuple[str, str, Any, int]] = [("", "", value, 0)]
    while pending:
        sub, path, item, depth = pending.pop()
        if depth > JSON_DEPTH:
            yield sub, path, item
        elif isinstance(item, dict):
            for key in item:
                if not isinstance(key, str):
                    yield sub, path, key
            pending += reversed([(f"{sub}.{key}" if sub else str(key),
                                  f"{path}.{key}" if path else str(key), v, depth + 1)
                                 for key, v in item.items()])
        elif isinstance(item, list | tuple):
            pending += reversed([(f"{sub}.{n}", f"{path}[{n}]", v, depth + 1)
                                 for n, v in enumerate(item)])
        elif not (item is None or isinstance(item, str | int)
                  or (isinstance(item, float) and math.isfinite(item))):
            yield sub, path, item


def _plugins(value: Any) -> str | None:
    """The array as a whole; each entry is judged at its own string
    (``validation.plugin_entry_problem``)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return None
    return "must be a list of plugin names or .py paths"


class Rule:
    """What a key may hold, said once: the check ``check`` runs (a problem or
    ``None``) and the JSON Schema ``mogrun schema`` writes for editors, which
    must never be stricter than the check. A plain function is a rule too
    (its schema then allows anything). (Not a dataclass: start-up, see docs/architecture.md.)"""

    __slots__ = ("check", "help", "json")

    def __init__(self, check: Checker, json: Mapping[str, Any], help: str = "") -> None:
        self.check = check
        self.json = json
        self.help = help

    def __call__(self, value: Any) -> str | None:
        return "; ".join(problem for _, problem in key_problems(self.check, value)) or None


def key_problems(check: Checker, value: Any) -> list[tuple[str, str]]:
    """What ``check`` says of ``value`` as (sub-key, problem) pairs, as plugin
    validators say it (``mogrun.plugintables.KeyProblems``): a check that finds
    problems inside a table (``input``) raises them, each located where it is
    written; ``""`` is the value as a whole."""
    try:
        problem = (check.check if isinstance(check, Rule) else check)(value)
    except ValueError as exc:
        from mogrun.plugintables import problems_of

        return list(problems_of(exc))
    return [("", problem)] if problem else []


_STRING: dict[str, Any] = {"type": "string"}


def _duration_rule(longest: float, help: str) -> Rule:
    return Rule(_duration(longest), {"anyOf": [
        {"type": "number", "exclusiveMinimum": 0, "maximum": longest},
        {"type": "string", "pattern": JSON_PATTERN}]}, help)


# The longest each duration key may be (seconds): building reads them with the same bound.
LONGEST = {"timeout": LONGEST_TIMEOUT, "capacity_wait": LONGEST_WAIT}
_REPO: dict[str, Any] = {"anyOf": [
    {"type": "string", "minLength": 1},
    {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}]}


def _text(help: str) -> Rule:
    return Rule(_string, _STRING, help)


JOB_KEYS: dict[str, Checker] = {
    "description": _text("Shown by mogrun list."),
    "repo": Rule(_repo, _REPO, "owner/name or a repo id; a list fans out, one run per repo."),
    "prompt": _text("The agent's instructions (templated)."),
    "prompt_file": _text("A file holding the prompt, relative to the task file."),
    "harness": Rule(_choice(HARNESSES), {"enum": list(HARNESSES)}, "The agent harness."),
    "base_branch": _text("The branch the run starts from."),
    "branch": _text("The working branch."),
    "create_branch": Rule(_bool, {"type": "boolean"}, "Create the working branch."),
    "root": _text("The directory inside the repo the agent works in."),
    "idempotency_key": _text("One run per key, however often it is retried (templated)."),
    "timeout": _duration_rule(LONGEST["timeout"], 'How long the job may take: "90s", "25m", '
                              '"2h", or seconds (60 or "60"); at most 24h.'),
    "on_timeout": Rule(_choice(ON_TIMEOUT), {"enum": list(ON_TIMEOUT)},
                       "What happens to a run at the timeout."),
    "needs": Rule(_names, {"type": "array", "items": {"type": "string"},
                           "uniqueItems": True},
                  "Jobs that must pass first."),
    "schedule": Rule(_schedule, {"anyOf": [{"type": "string"},
                                           {"type": "array", "items": {"type": "string"}}]},
                     "UTC cron schedules for mogrun ci github (five fields); [] for none."),
    "automation": Rule(_string, _STRING, "A published automation (id or name): the job "
                       "triggers it for each repo instead of starting a run."),
    "input": Rule(_input, {"type": "object", "not": {"anyOf": [
        {"required": [key]} for key in RESERVED_INPUT]}},
        "The automation's input (string values templated); the server's own keys refused."),
    "capacity_wait": _duration_rule(LONGEST["capacity_wait"], "How long a run may wait for a "
                                    'sandbox slot (default "30m"; not part of timeout); at most '
                                    "7 days."),
}
# Keys a job may not take from [defaults]: they only make sense per job.
JOB_ONLY = ("description", "needs")
SETTINGS_KEYS: dict[str, Checker] = {
    "url": _text("The API base URL: https://mogplex.com or a loopback address."),
    "plugins": Rule(_plugins, {"type": "array", "items": {"type": "string", "minLength": 1}},
                    "Plugins: module names or .py paths relative to this file."),
    **dict.fromkeys(LIMIT_KEYS, Rule(_limit, {"type": "integer", "minimum": 1,
                                              "maximum": MAX_LIMIT},
                                     "A request budget of the token (mogrun paces itself).")),
    "sandboxes": Rule(_limit, {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                      "The account's sandbox slots (default 3)."),
}


# The job keys of the bundled plugins, which are always loaded: `list`, which
# loads no plugin, knows them by name (tests/taskfile/test_list_warnings.py
# keeps this in step with the plugins).
BUNDLED_JOB_KEYS = ("retry", "gates", "notify")


def glance(taskfile: TaskFile, other_plugins: Callable[[], bool]) -> list[str]:
    """What ``list`` can tell is wrong at a glance, without plugins or templates:
    unknown tables and keys, invalid job names and wrong values of the keys it
    shows, each said briefly (``check`` says all, and how to fix it). A job key
    unknown to the core and the bundled plugins counts only when
    ``other_plugins()`` says no other plugin could declare it (asked only then).
    One look at each key: no cost worth the name for a clean file."""
    found: list[tuple[str, bool]] = []  # (problem, whether a plugin may declare the key)
    for section, value in taskfile.data.items():  # tables in the order they first appear
        if section == "mogplex":
            found += [(f'unknown key "{key}" in [mogplex]', False)
                      for key in taskfile.settings if key not in SETTINGS_KEYS]
        elif section == "defaults":
            found += _glanced_keys(taskfile.defaults, "[defaults]")
        elif section == "jobs":
            for name, table in taskfile.jobs.items():
                if not JOB_NAME.fullmatch(name):
                    found.append((f"invalid job name {basic_string(name)}", False))
                found += _glanced_keys(table, f'job "{name}"')
        elif section not in SECTIONS:
            found.append((unknown_top_level(section, value), False))
    if any(maybe for _, maybe in found) and other_plugins():
        return [problem for problem, maybe in found if not maybe]
    return [problem for problem, _ in found]


# The job keys whose values ``list`` shows (a job's row, or ``--json list``).
LISTED_KEYS = ("description", "repo", "harness", "needs", "automation")


def _glanced_keys(table: Mapping[str, Any], where: str) -> list[tuple[str, bool]]:
    """``glance`` of a job's (or ``[defaults]``') keys: each unknown one, and each
    that ``list`` shows with a value ``check`` refuses (it is shown as written)."""
    known = (JOB_KEYS, BUNDLED_JOB_KEYS)
    found = []
    for key, value in table.items():
        if not any(key in k for k in known):
            found.append((f'unknown key "{key}" in {where}', True))
        elif key in LISTED_KEYS and key_problems(JOB_KEYS[key], value):
            found.append((f'invalid "{key}" in {where}', False))
    return found


def unknown_top_level(name: str, value: Any) -> str:
    """What ``check`` and ``list`` say of a top-level name the file may not have."""
    return f"unknown table [{name}]" if isinstance(value, dict) else (
        f'unknown top-level key "{name}"')


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The most similar valid key, for ``did you mean``; a short form a key begins
    with (``desc`` for ``description``) counts too, and case does not count
    (``OK`` for ``ok``: no two letters of them are alike to difflib)."""
    import difflib

    candidates = list(candidates)
    folded = name.casefold()
    # The one a short form begins first: `--det` is `--detach`, though difflib finds
    # `--set` closer (two letters of three alike).
    started = [c for c in candidates if len(folded) >= 3 and c.casefold().startswith(folded)]
    if len(started) == 1:
        return started[0]
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    by_fold = {c.casefold(): c for c in reversed(candidates)}  # the first of a fold wins
    matches = difflib.get_close_matches(folded, list(by_fold), n=1, cutoff=0.6)
    return by_fold[matches[0]] if matches else None


def job_key_names(key_specs: Mapping[str, Any]) -> list[str]:
    """Every key a job may have: built-in ones plus those plugins declared."""
    return [*JOB_KEYS, *key_specs]
