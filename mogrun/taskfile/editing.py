"""Writing task files: the commented starter of ``init`` and the job ``add``
appends. tomlkit builds the TOML (quoting, escaping); the existing text is
never re-serialised, so every comment and blank line stays byte for byte."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mogrun.errors import TaskFileError, UsageError

GITIGNORE_ENTRY = ".mogrun/"


@dataclass(frozen=True)
class NewJob:
    """What ``mogrun add`` was asked to append."""

    name: str
    repos: tuple[str, ...]
    prompt: str | None  # None: ``prompt_file`` holds it, or the job triggers ``automation``
    needs: tuple[str, ...] = ()
    description: str | None = None
    automation: str | None = None
    inputs: tuple[tuple[str, str], ...] = ()  # the automation's input, as given
    prompt_file: str | None = None  # in place of ``prompt``
    branch: str | None = None
    base_branch: str | None = None
    create_branch: bool | None = None
    harness: str | None = None
    timeout: str | None = None  # as typed ("25m"): check's rules judge it
    on_timeout: str | None = None
    capacity_wait: str | None = None  # as typed, as ``timeout``
    root: str | None = None
    idempotency_key: str | None = None
    schedules: tuple[str, ...] = ()  # cron lines for ``mogrun ci github``


def starter_text() -> str:
    """The commented starter ``mogplex.toml`` of ``mogrun init``."""
    import tomlkit

    doc = tomlkit.document()
    for line in ("mogplex.toml: jobs for Mogplex cloud agents, run with `mogrun JOB`.",
                 "Its keys: mogrun schema. The token never goes here: export MOGPLEX_API_KEY.",
                 "Try it offline first: mogrun --local hello"):
        doc.add(tomlkit.comment(line))
    doc.add(tomlkit.nl())
    defaults = tomlkit.table()
    defaults.add(tomlkit.comment("Keys every job gets unless it sets them itself."))
    defaults.add("harness", "codex")
    defaults.add("timeout", "30m")
    doc.add("defaults", defaults)
    variables = tomlkit.table()
    variables.add(tomlkit.comment("Used in templates as {{ team }}; override with --set team=..."))
    variables.add("team", "platform")
    doc.add("vars", variables)
    hello = tomlkit.table()
    hello.add("description", "A first job: a quick smoke test")
    hello.add("repo", "acme/api")
    hello["repo"].comment("owner/name, or a list of repos to fan out")
    hello.add("prompt", "Reply with a one-line greeting from team {{ team }}. Change no files.")
    hello.add("idempotency_key", "hello-{{ date }}")
    hello["idempotency_key"].comment("one run per day, however often it is retried")
    jobs = tomlkit.table(is_super_table=True)
    jobs.add("hello", hello)
    doc.add("jobs", jobs)
    return tomlkit.dumps(doc)


def job_text(job: NewJob) -> str:
    """``[jobs.NAME]`` and its keys, as tomlkit writes them."""
    import tomlkit

    table = tomlkit.table()
    if job.description is not None:
        table.add("description", job.description)
    table.add("repo", job.repos[0] if len(job.repos) == 1 else list(job.repos))
    if job.prompt is not None:
        # A multi-line string cannot hold \r (TOML reads its line breaks as \n).
        multiline = "\n" in job.prompt and "\r" not in job.prompt and '"""' not in job.prompt
        table.add("prompt", tomlkit.string(job.prompt, multiline=multiline))
    if job.prompt_file is not None:
        table.add("prompt_file", job.prompt_file)
    if job.automation is not None:
        table.add("automation", job.automation)
    if job.inputs:
        inputs = tomlkit.inline_table()
        inputs.update(dict(job.inputs))
        table.add("input", inputs)
    if job.needs:
        table.add("needs", list(job.needs))
    for key, value in (("branch", job.branch), ("base_branch", job.base_branch),
                       ("create_branch", job.create_branch), ("root", job.root),
                       ("harness", job.harness), ("timeout", job.timeout),
                       ("on_timeout", job.on_timeout), ("capacity_wait", job.capacity_wait),
                       ("idempotency_key", job.idempotency_key)):
        if value is not None:
            table.add(key, value)
    if job.schedules:
        table.add("schedule", job.schedules[0] if len(job.schedules) == 1
                  else list(job.schedules))
    jobs = tomlkit.table(is_super_table=True)
    jobs.add(job.name, table)
    doc = tomlkit.document()
    doc.add("jobs", jobs)
    from mogrun.tomltext import line_safe

    return line_safe(tomlkit.dumps(doc))  # every string tomlkit writes here is a basic one


def _separator(text: str, newline: str) -> str:
    """What goes between the file and the new table: one blank line, unless the file
    ends with one already (editors leave some: each ``add`` grew them by one)."""
    if not text:
        return ""
    if not text.endswith("\n"):
        return newline * 2
    last_line = text[:-1].rpartition("\n")[2]  # (a CRLF file's keeps its CR: blank too)
    return "" if not last_line.strip() else newline


def append_job(text: str, existing_jobs: Sequence[str], job: NewJob,
               need_hint: Callable[[str], list[str]] | None = None) -> str:
    """``text`` with ``job`` appended at the end; the original bytes are untouched.
    ``need_hint``: the hint for a need of no job (``graph.unknown_need_hint``'s, as
    ``check`` gives it; none without a file, which has no job to name)."""
    if job.name in existing_jobs:
        raise UsageError(f'job "{job.name}" already exists; choose another name')
    for need in job.needs:
        if need == job.name:  # check's words for it, as the file would hold it
            raise UsageError(f'--needs names job "{need}" itself: a job cannot need itself '
                             f"(needs cycle: {need} -> {need})")
        if need not in existing_jobs:
            raise UsageError(f'--needs names unknown job "{need}"',
                             context=need_hint(need) if need_hint is not None else [])
    newline = line_ending(text)  # the file's own
    result = text + _separator(text, newline) + job_text(job).replace("\n", newline)
    try:
        jobs = tomllib.loads(result).get("jobs", {})
    except tomllib.TOMLDecodeError as exc:
        raise TaskFileError(f'cannot append job "{job.name}": the file defines its jobs in a '
                            "way that a new [jobs.NAME] table would break",
                            context=["Write each job as its own [jobs.NAME] table, or add "
                                     "this one by hand."]) from exc
    added = jobs.get(job.name)
    if not isinstance(added, dict) or added.get("prompt") != job.prompt \
            or added.get("automation") != job.automation:
        raise TaskFileError(f'cannot append job "{job.name}" to this file')
    return result


def line_ending(text: str) -> str:
    """The line ending to write into ``text``: the one most of its lines use, on a
    tie the last line's, as editors pick it for a file with mixed endings
    (LF for a file of one unfinished line)."""
    lines, crlf = text.count("\n"), text.count("\r\n")
    if crlf * 2 != lines:
        return "\r\n" if crlf * 2 > lines else "\n"
    last = text.rfind("\n")  # a tie (or no line at all): the last line's ending
    return "\r\n" if last > 0 and text[last - 1] == "\r" else "\n"


def with_gitignore_entry(text: str) -> str | None:
    """``.gitignore`` text with ``.mogrun/`` added, or ``None`` if a line already
    decides about it: one that ignores it, or a ``!`` one that keeps it on purpose."""
    if gitignore_rule(text) is not None:
        return None
    eol = line_ending(text)  # as the file ends its lines
    body = text.removeprefix("\ufeff")
    newline = "" if not body or body.endswith("\n") else eol
    return f"{text}{newline}{GITIGNORE_ENTRY}{eol}"


def gitignore_rule(text: str) -> str | None:
    """The line of ``.gitignore`` text that decides whether ``.mogrun/`` is ignored
    (git's last matching pattern wins), as written, or ``None``."""
    for line in reversed(_patterns(text)):
        if line.removeprefix("!") in _IGNORING:
            return line
    return None


def _patterns(text: str) -> list[str]:
    """The pattern lines as git reads them: without a leading byte order mark
    (an editor's, not part of the first pattern), comments or blank lines."""
    lines = (_git_pattern(line) for line in text.removeprefix("\ufeff").split("\n"))
    return [line for line in lines if line and not line.startswith("#")]


def _git_pattern(line: str) -> str:
    """A line as git takes it: its CR and trailing spaces dropped (a space after a
    backslash is kept), anything else kept (`` .mogrun/`` is another name)."""
    line = line.removesuffix("\r")
    pattern = line.rstrip(" ")
    return pattern + " " if pattern.endswith("\\") and pattern != line else pattern


# Patterns that ignore the .mogrun/ beside the task file, or all it holds.
_IGNORING = frozenset(f"{lead}.mogrun{tail}" for lead in ("", "/", "**/")
                      for tail in ("", "/", "/*", "/**"))
