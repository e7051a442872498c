"""What a target of ``status``, ``logs``, ``cancel`` and ``history`` names, and
where its runs are read from.

They read ``.mogrun/history.db`` beside the task file (found, and parsed for
its ``url`` and job names, but its plugins are never loaded) and talk to the
API with the history's run ids. A target is a run id, a job name (every run
of that job's latest invocation) or ``JOB:owner/name`` (one run of a fan-out).
``--local`` runs live only inside the invocation that started them, so their
history is shown as recorded. When this API's history has none, the runs the
task file recorded under another API are named. One module, so every state
command (and ``rerun``) finds a target's runs the same way.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from mogrun.cli import framework as click
from mogrun.cli.state import CliState
from mogrun.errors import MogrunError, NotStartedError, TaskFileError, UsageError
from mogrun.masking import mask
from mogrun.tables import listed


@dataclass(frozen=True)
class Target:
    """One run a state command acts on: its history row if known, else just an id."""

    run_id: str
    label: str
    row: Any = None
    automation: str | None = None  # the automation a run of an automation job belongs to


def with_automations(targets: Sequence[Target], taskfile: Any) -> list[Target]:
    """``targets`` knowing which are automation job runs (read, never cancelled,
    through their automation)."""
    import dataclasses

    return [dataclasses.replace(t, automation=row_automation(t.row, taskfile))
            if t.row is not None else t for t in targets]


def row_automation(row: Any, taskfile: Any) -> str | None:
    """The automation a recorded run belongs to (``None``: a run): as the run
    rendered it, else (a row from before rows knew) as the task file names it;
    never for a row whose request was a run's (the job may be an automation's now)."""
    from mogrun.taskfile.resolve import job_automation

    if row.automation:
        return str(row.automation)
    return None if _run_request(row.request) else job_automation(taskfile, row.job)


def _run_request(request: str) -> bool:
    """Whether a recorded request is ``POST /runs``'s: it has a prompt, which a
    trigger's (``repoId`` and ``input``) never has."""
    import json

    try:
        body = json.loads(request)
    except ValueError:  # none recorded (an old row, or one that never started)
        return False
    return isinstance(body, dict) and "prompt" in body


def open_state(state: CliState, *, lenient: bool = True,
               by_id: bool = True) -> tuple[Any, Any]:
    """(task file, history) for this invocation's task file and API base URL. A
    task file that does not parse (half edited) still names the history beside
    it: a running agent can be seen and cancelled meanwhile, with a warning; not
    when ``lenient`` is off (``logs`` prints agent text, masked with the file's
    ``env.*`` values, which only the file names). ``by_id``: the command can act on
    a run id alone, so a history that cannot be opened (a read-only folder,
    ``.mogrun`` a file) is a warning and an empty one: the run a ``--detach`` there
    started can still be followed and cancelled. One that is there but cannot be
    read (not a database, a directory) is that error for a job's runs
    (``History.stand_in``), and a warning for a run id."""
    from mogrun.cli.loading import history_key, load_taskfile, project_history
    from mogrun.taskfile.discovery import find_task_file
    from mogrun.taskfile.parse import stand_in

    path = find_task_file(state.file, state.env, state.cwd)
    try:
        taskfile = load_taskfile(state, path=path)
    except TaskFileError as exc:
        if not lenient or not path.is_file():
            raise
        taskfile = stand_in(path)
        where = exc.location or path
        state.warn(f"the task file cannot be read ({exc.message}, at {where}); going on "
                   "with the history beside it, as recorded (job names, the API URL and "
                   "secrets to mask need the file)")
    key = history_key(state, taskfile)  # a refused API URL is an error here, not a warning
    try:
        return taskfile, project_history(state, taskfile)
    except MogrunError as exc:
        if not by_id:
            raise
        from mogrun.engine.history import History
        from mogrun.engine.history_file import history_path

        history = History.stand_in(history_path(taskfile.project_dir), exc, key,
                                   taskfile.path.name)
        if history.unreadable is None:  # none there (.mogrun a file): no runs to miss
            _going_on_without(exc)
        return taskfile, history


# The errors ``_going_on_without`` said: ``cancel`` reads a run id's rows twice.
_SAID_WITHOUT: weakref.WeakSet[MogrunError] = weakref.WeakSet()


def _going_on_without(error: MogrunError) -> None:
    if error in _SAID_WITHOUT:
        return
    _SAID_WITHOUT.add(error)
    echo_safe(f"warning: {error.message}; going on without it (a run is found by its "
              "id only)", err=True)


def rows_for(history: Any, taskfile: Any, target: str,
             secrets: frozenset[str] = frozenset(), *, state: CliState,
             command: str = "status") -> list[Any]:
    """A run id's row, else the runs of a job's latest invocation (also a job since
    removed from the task file); ``[]`` for a run id mogrun never recorded. A repo
    named from ``env.*`` is stored masked, so ``JOB:owner/name`` matches it masked too.
    A name that is neither a job nor a run id is refused here, before any request; a
    job with no run here names the other APIs it ran against, and the ``command`` to
    see them with."""
    job, sep, repo = job_and_repo(target)
    try:
        row = None if sep else history.by_run_id(target)
    except MogrunError as exc:  # a page damaged past what opening the file checks
        if not looks_like_run_id(target):
            raise
        history.go_on_without(exc)
        _going_on_without(exc)
        return []
    if row is not None:
        return [row]
    if history.unreadable is not None and not sep and looks_like_run_id(target):
        _going_on_without(history.unreadable)  # a job's runs: its error (``_scoped``)
        return []
    rows = history.latest_invocation_of(job)
    if not rows and job not in taskfile.job_names and (
            sep or not looks_like_run_id(target) or _closest_job(job, taskfile, history)):
        raise unknown_target(target, job, taskfile, history)
    if sep:
        from mogrun.reponames import repo_key

        # owner/name in any case, as GitHub (and the task file) take it
        named = {repo_key(repo), repo_key(mask(repo, secrets))}
        picked = [row for row in rows if repo_key(row.repo) in named]
        if rows and not picked:
            # Not in the latest invocation: a rerun repeats only what did not pass, so
            # the run that passed before it is still this repo's latest run: its newest
            # row (every row of the job, read, took 12 s at 300,000 rows).
            picked = list({row.id: row for name in dict.fromkeys([repo, mask(repo, secrets)])
                           for row in history.recent(1, job=job, repo=name)}.values())
        if rows and not picked and not lists_repo(job, repo, taskfile):
            raise unknown_repo(target, repo, rows, history)
        rows = picked
    if not rows and sep and job in taskfile.job_names:
        not_its = _not_its_repo(target, job, repo, taskfile)
        if not_its is not None:
            raise not_its
    if not rows and (sep or job in taskfile.job_names):
        raise NotStartedError(f"no recorded runs of {target!r} against this API", context=[
            *recorded_elsewhere(state, taskfile, history, [command, target], job,
                                repo if sep else None),
            f"History: {history.path} ({history.base_url})"])
    return rows


def repo_dropped(row: Any, fan_out: bool, listed: Collection[str]) -> bool:
    """Whether ``row`` is a run of a repo its job, still in the task file and listing
    ``listed`` now (as recorded: masked), no longer lists: a fan-out's run of a repo
    taken out of its list, or a one-repo job's now that it lists others. A one-repo
    job edited to one other repo keeps its run (``rerun`` starts it there), and so
    does a repo whose case alone was edited (``repo_key``: the same repo). The one
    rule of ``rerun`` (said, never started again) and ``status`` (neither shown nor
    judged, unless named as ``JOB:owner/name``), as a job removed from the file is."""
    from mogrun.reponames import repo_key

    return (repo_key(row.repo) not in {repo_key(repo) for repo in listed}
            and (fan_out or len(listed) != 1))


def still_listed(rows: Sequence[Any], taskfile: Any, history: Any, state: CliState,
                 secrets: frozenset[str] = frozenset()) -> list[Any]:
    """``rows`` without those of a repo their job no longer lists (``repo_dropped``);
    a job whose repos cannot be told now (an unset ``env.NAME``) keeps them all."""
    from mogrun.taskfile.resolve import job_repos

    listed: dict[str, list[str] | None] = {}
    kept = []
    for row in rows:
        if row.job not in listed:
            repos = job_repos(taskfile, row.job, state.sets, state.env)
            listed[row.job] = None if repos is None else [mask(r, secrets) for r in repos]
        repos = listed[row.job]
        if repos is None or not repo_dropped(row, history.is_fan_out(row), repos):
            kept.append(row)
    return kept


def job_and_repo(target: str) -> tuple[str, str, str]:
    """``JOB:owner/name`` as (job, ":", repo), a job alone as (job, "", ""). A colon with
    no repo after it (``hello:``, a script's unset variable) is refused (exit 2): it
    names no run, and read as a repo it matched none."""
    job, sep, repo = target.partition(":")
    if sep and job and not repo.strip():
        raise UsageError(f"no repo after the colon of {target!r}",
                         context=[f'Name the job ("{job}") or one of its runs '
                                  f'("{job}:owner/name").'])
    if sep and not job.strip():  # ":acme/web", a script's "$JOB:$REPO" with JOB unset
        raise UsageError(f"no job before the colon of {target!r}",
                         context=["Name a run as JOB:owner/name, or the job alone."])
    return job, sep, repo


def unknown_repo(target: str, repo: str, rows: list[Any], history: Any) -> UsageError:
    """``JOB:owner/name`` naming no run of the job's latest invocation: the closest
    of its runs, and all of them (exit 2, nothing sent)."""
    from mogrun.taskfile.schema import closest

    labels = {row.repo: f"{row.job}:{row.repo}" for row in rows}
    hint = closest(repo, list(labels))
    context = [f'did you mean "{labels[hint]}"?'] if hint else []
    return UsageError(f"no recorded runs of {target!r} against this API",
                      # sorted: a fan-out's runs are recorded in whatever order they start
                      context=[*context, "Runs: " + listed(sorted(labels.values())),
                               f"History: {history.path} ({history.base_url})"])


def _not_its_repo(target: str, job: str, repo: str, taskfile: Any) -> UsageError | None:
    """``JOB:owner/name`` for a job that has not run here, naming a repo its task-file
    entry lists (its own or ``[defaults]``'): the closest of those it does (exit 2, as
    ``unknown_repo`` says for a job that ran). ``None`` when its repos are not all
    owner/names there (a template, or a repo id whose name only the API knows): it
    cannot be told."""
    from mogrun.taskfile.schema import closest

    names = written_repos(job, taskfile)
    if names is None or lists_repo(job, repo, taskfile):
        return None
    hint = closest(repo, names)
    return UsageError(f"job {job!r} has no repo {repo!r}", context=[
        *([f'did you mean "{job}:{hint}"?'] if hint else []),
        f"Its repos: {listed(names)}"])


def written_repos(job: str, taskfile: Any) -> list[str] | None:
    """The owner/names ``job``'s task-file entry lists (its own or ``[defaults]``');
    ``None`` when they are not all owner/names there (a template, a repo id whose
    name only the API knows): they cannot be told; or when ``job`` is not in the file."""
    from mogrun.reponames import is_full_name, name_problem

    if job not in taskfile.jobs:
        return None
    written = taskfile.job_keys(job).get("repo")
    names = [written] if isinstance(written, str) else written
    if not isinstance(names, list) or not names or not all(
            isinstance(n, str) and is_full_name(n) and name_problem(n) is None for n in names):
        return None
    return names


def lists_repo(job: str, repo: str, taskfile: Any) -> bool:
    """Whether ``job``, a job of the task file, lists ``repo`` there now (in any case,
    as names resolve): ``JOB:owner/name`` of a run it has not made yet (a repo added
    since it ran) is a run never started, not a mistyped one."""
    from mogrun.reponames import repo_key

    names = written_repos(job, taskfile)
    return names is not None and repo_key(repo) in {repo_key(n) for n in names}


def never_run_repos(history: Any, rows: Sequence[Any], job: str, taskfile: Any) -> list[str]:
    """The owner/names fan-out ``job``'s task-file entry lists that it has no run of
    here, in ``rows`` (its latest runs) or any invocation before: repos added since
    it ran. A fan-out passes only with every run, so it has not passed without them
    (``status --exit-status`` is 1; ``rerun`` starts them). ``[]`` where that cannot
    be told: repos not all owner/names there (a template, an id), a one-repo job,
    or latest runs made by ``--shard`` legs of which some are not in this history
    (another machine ran them). The rows lacked are looked for newest first, one
    repo at a time: every row of the job, read at once, took 12 s at 300,000 rows."""
    from mogrun.engine.history_reads import leg_count
    from mogrun.reponames import repo_key

    names = written_repos(job, taskfile)
    if names is None or len(names) < 2:
        return []
    shards = {row.shard for row in rows if row.job == job}  # I/N legs share N
    if any(shards) and len(shards) != leg_count(next(iter(shards))):
        return []
    read = {repo_key(row.repo) for row in rows if row.job == job}
    return [name for name in names
            if repo_key(name) not in read and not history.recent(1, job=job, repo=name)]


def say_never_run(state: CliState, history: Any, taskfile: Any,
                  rows: Sequence[Any]) -> dict[str, list[str]]:
    """The fan-outs of ``rows`` that list repos they never ran here
    (``never_run_repos``), by job, each said on stderr (not with ``--json``): the
    fan-out has not passed without them. ``status --exit-status`` and ``logs
    --follow`` judge it so (they exited 0 with a repo added since it ran)."""
    from mogrun.cli.run_cmd import command_prefix

    found: dict[str, list[str]] = {}
    for job in dict.fromkeys(row.job for row in rows):
        repos = never_run_repos(history, rows, job, taskfile)
        if not repos:
            continue
        found[job] = repos
        if not state.json_output:
            echo_safe(f"{job}: {listed(repos)} never ran here (added to its repos since it "
                      f"ran), so it has not passed: {command_prefix(state)} rerun {job} "
                      f"starts {'them' if len(repos) > 1 else 'it'}", err=True)
    return found


def looks_like_run_id(text: str) -> bool:
    """Run ids are UUIDs (the server's runs table keys them so, and answers any
    other id with a 500 after its query fails): anything else is a mistyped job
    or id, refused before a request (and its retries) is spent on it."""
    from mogrun.reponames import is_uuid

    return is_uuid(text)


def run_id_case(_ctx: Any, _param: Any, value: str | None) -> str | None:
    """A ``[JOB|RUN_ID]`` argument with a run id in lower case, as the server writes
    ids and history keys them: one pasted in capitals is the same run."""
    return value.lower() if value is not None and looks_like_run_id(value) else value


def _closest_job(name: str, taskfile: Any, history: Any) -> str | None:
    """The job of the file (or of the history) ``name`` is probably a typo of."""
    from mogrun.taskfile.schema import closest

    known = list(dict.fromkeys([*taskfile.job_names, *history.job_names()]))
    return closest(name, known)


def unknown_target(target: str, job: str, taskfile: Any, history: Any) -> UsageError:
    """``unknown job or run "fanuot"`` with the closest job name, or the run ids a
    short one begins (``dbdd4d23``, as git and a summary's narrow column read): exit 2."""
    started = history.run_ids_starting(target.lower()) if len(target) >= 4 else []
    hint = None if started else _closest_job(job, taskfile, history)
    # A job of past runs only (removed, renamed) is not on the Jobs line that follows.
    past = hint is not None and hint not in taskfile.job_names
    if hint is not None and target != job:  # `FAN:acme/web`: the repo part kept
        hint += target[len(job):]
    context = [f'did you mean "{hint}"{" (a job of past runs)" if past else ""}?'] if hint else []
    if started:
        context.append(f"a run id is its whole UUID: did you mean {' or '.join(started)}?")
    from mogrun.taskfile.graph import jobs_line

    return UsageError(f'unknown job or run "{target}"', context=[*context, jobs_line(taskfile)])


def targets_for(history: Any, taskfile: Any, target: str,
                secrets: frozenset[str] = frozenset(), *,
                state: CliState, command: str = "status") -> list[Target]:
    rows = rows_for(history, taskfile, target, secrets, state=state, command=command)
    if not rows:
        return [Target(target, target)]
    return [Target(row.run_id, row_label(history, row), row) for row in rows if row.run_id]


def row_label(history: Any, row: Any) -> str:
    """``job``, or ``job:owner/name`` for a run of a fan-out (as ``run`` shows them)."""
    return f"{row.job}:{row.repo}" if history.is_fan_out(row) else row.job


def api_client(state: CliState, taskfile: Any, sleep: Any = None) -> Any:
    """The client of ``status``, ``logs``, ``cancel`` (``sleep``: how its retries
    wait, ``cancel``'s ended by a signal)."""
    if state.local:
        raise UsageError("--local runs live only inside the invocation that started them",
                         context=["Their recorded state: mogrun --local status"])
    from mogrun.cli.connect import connect

    return connect(state, taskfile=taskfile, sleep=sleep).client


def echo_safe(text: str, err: bool = False) -> None:
    """A line with server text in it (a status, a run id): escaped onto one line."""
    from mogrun.output.base import escape_agent_text

    click.echo(escape_agent_text(text), err=err)


def nothing_recorded(state: CliState, taskfile: Any, history: Any, argv: Sequence[str],
                     job: str | None = None, repo: str | None = None, *,
                     run_id: str | None = None) -> None:
    """``No runs recorded yet.`` (on stderr; not with ``--json``) — unless this task
    file recorded runs under another API (``--local``, another URL): then that, how
    many, and the command that shows them (``argv``: this command's own words).
    ``run_id``: the API that run was recorded under instead, whichever file ran it."""
    elsewhere = recorded_elsewhere(state, taskfile, history, argv, job, repo, run_id=run_id)
    if not elsewhere:
        if not state.json_output:
            click.echo("No runs recorded yet.", err=True)
        return
    for line in [f"No runs recorded yet {scope(history.base_url)}.", *elsewhere]:
        echo_safe(line, err=True)  # a URL is the user's text: shown escaped


def recorded_elsewhere(state: CliState, taskfile: Any, history: Any,
                       argv: Sequence[str], job: str | None = None,
                       repo: str | None = None, *, run_id: str | None = None) -> list[str]:
    """``1 run is recorded with --local: see mogrun --local logs hello``: a line for
    each other API (``--local``, another URL) this task file recorded runs under (of
    ``job``, on ``repo``), with ``argv`` as the command against it. What a command
    that found nothing here says: `mogrun --local hello` then `mogrun logs hello` is
    the usual slip."""
    from mogrun.api.settings import normalised_base

    lines = []
    there = None if run_id is None else history.recorded_under(run_id)
    found = history.elsewhere(job, repo) if run_id is None else [(there, 1)] if there else []
    for url, count in found:
        runs = "1 run is" if count == 1 else f"{count} runs are"
        if normalised_base(url) == history.base_url:  # no --url reaches them: it is respelt
            lines.append(f"{runs} recorded against {url}, this API as an older mogrun spelt "
                         "it; a history it can write is respelt when opened, and this one "
                         "cannot be written: make it writable, then run this again")
            continue
        lines.append(f"{runs} recorded {scope(url)}: "
                     f"see {command_for(state, taskfile, url, argv)}")
    return lines


def scope(url: str) -> str:
    """``with --local`` or ``against URL``: where runs were recorded, as messages say."""
    from mogrun.engine.history_row import LOCAL_BASE_URL

    return "with --local" if url == LOCAL_BASE_URL else f"against {url}"


def command_for(state: CliState, taskfile: Any, url: str, argv: Sequence[str]) -> str:
    """``mogrun [-f FILE] [--local | --url URL] ARGV``: this command against ``url``'s
    runs (no ``--url`` for the URL mogrun uses without one). A local run ended with
    its emulator: there is none to cancel, so ``cancel`` becomes ``status``."""
    from mogrun.api.settings import resolve_endpoint
    from mogrun.engine.history_row import LOCAL_BASE_URL
    from mogrun.textsafety import shell_word

    parts = ["mogrun"]
    if state.file:
        parts += ["-f", str(state.file)]
    if url == LOCAL_BASE_URL:
        parts.append("--local")
        if argv[:1] == ["cancel"]:
            argv = ["status", *argv[1:]]
    else:
        try:
            default = resolve_endpoint(cli_url=None, env=state.env,
                                       file_url=taskfile.url).base_url.rstrip("/")
        except MogrunError:
            default = None
        if url != default:
            parts += ["--url", url]
    return " ".join(["mogrun", *(shell_word(word) for word in [*parts[1:], *argv])])
