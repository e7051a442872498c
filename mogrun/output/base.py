"""The contract between the run engine and whatever shows a run session.

The engine calls a ``Reporter`` from its worker threads; every implementation
serialises its writes with a lock so that each line comes out whole.
``make_reporter`` picks the implementation from the invocation's options and
environment; the implementations themselves (and rich) load only when picked.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol, TextIO

from mogrun.durations import event_clock
from mogrun.envswitches import in_ci, under_github_actions
from mogrun.masking import mask
from mogrun.models import ResolvedJob, RunPlan
from mogrun.runs import Event, RunResult, RunState
from mogrun.tables import is_terminal
from mogrun.textsafety import escape_agent_text
from mogrun.waits import Wait

LEVELS = ("info", "warning", "error")


class Reporter(Protocol):
    """Receives everything a run session shows. Called from worker threads:
    implementations lock."""

    def session_started(self, jobs: Sequence[ResolvedJob]) -> None:
        """Every job of the invocation, in graph order, before anything starts:
        the live view lists them all (queued) and the summary keeps this order."""

    def job_started(self, job: ResolvedJob, run: RunPlan, state: RunState, attached: bool) -> None:
        """A run of ``job`` was started (or attached to, ``attached=True``)."""

    def event(self, job: ResolvedJob, run: RunPlan, event: Event) -> None:
        """One new event of a run, each shown once and in order."""

    def status(self, job: ResolvedJob, run: RunPlan, old: str | None, state: RunState) -> None:
        """A run's status changed from ``old`` to ``state.status``."""

    def notice(
        self,
        message: str,
        *,
        job: ResolvedJob | None = None,
        run: RunPlan | None = None,
        level: str = "info",
    ) -> None:
        """A diagnostic for the person watching; ``level`` is info, warning or error."""

    def wait(self, wait: Wait) -> None:
        """Something waits (start limit, Retry-After, capacity, needs, retry):
        shown at once with its reason and when it ends, in every output mode."""

    def trace(self, line: str) -> None:
        """A ``-v`` trace line (already masked and escaped) for stderr, from any
        thread; the live view prints it above its area, so the two never mix."""

    def internal_error(self, job: ResolvedJob, run: RunPlan, traceback: str) -> None:
        """A bug in mogrun ended ``run``: shown with its traceback (on stderr), even
        with ``quiet``, since the run's result only says "internal error"."""

    def job_finished(self, job: ResolvedJob, results: tuple[RunResult, ...], outcome: str) -> None:
        """Every run of ``job`` has ended (or the job was skipped); ``outcome`` is the job's."""

    def summary(self, results: tuple[RunResult, ...], exit_code: int,
                rerun: str | None = None) -> None:
        """The session is over: the table of every run (graph order, then the file's
        repo order), the totals, why each run did not pass, and ``rerun`` (the
        command that retries what did not pass) when the engine gives one."""

    def left_going(self, exit_code: int, cancelling: Collection[str] = (),
                   ended: Mapping[str, str] | None = None) -> None:
        """A second signal: the process leaves now, runs still going, with no summary
        (the error that ends it lists those runs). ``--json`` ends its stream with one.
        ``cancelling``: the run ids whose cancel was sent and not answered; ``ended``:
        run id -> the status of a run seen to end, its result unwritten."""

    def close(self) -> None:
        """Stop any live display and flush; safe to call more than once."""


class SoFar:
    """The runs of a session as a reporter saw them, for a summary at a second signal
    (the process leaves without the session's own): every result so far, then each
    run started and not finished, as left going. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: list[RunResult] = []
        self._going: dict[str, tuple[RunPlan, str | None]] = {}  # label -> (plan, run id)

    def started(self, run: RunPlan, run_id: str | None) -> None:
        with self._lock:
            self._going[run.label] = (run, run_id)

    def finished(self, results: tuple[RunResult, ...]) -> None:
        with self._lock:
            self._results += results
            for result in results:
                self._going.pop(result.label, None)

    def at_exit(self, exit_code: int, cancelling: Collection[str] = (),
                ended: Mapping[str, str] | None = None) -> tuple[RunResult, ...]:
        """The results so far, then the runs started and not finished
        (``outcomes.left_at_a_second_signal``: left going, or seen to end)."""
        from mogrun.outcomes import left_at_a_second_signal

        with self._lock:
            going = [RunResult(job=plan.job, repo=plan.repo, run_id=run_id,
                               **left_at_a_second_signal(run_id, exit_code, cancelling, ended))
                     for plan, run_id in self._going.values()]
            return (*self._results, *going)


def make_reporter(
    *,
    stdout: TextIO,
    stderr: TextIO,
    json: bool = False,
    quiet: bool = False,
    color: bool = True,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
    command: str = "mogrun",
) -> Reporter:
    """The reporter this invocation asked for.

    ``--json`` wins (NDJSON on stdout, notices on stderr; under GitHub Actions the
    step summary and outputs too, which are files); then GitHub Actions
    (plain lines plus workflow commands); then a terminal gets the live
    display (not under ``CI``: ``in_ci``), in colour unless ``color`` is false (the
    CLI's ``--no-color`` and ``NO_COLOR``, read once: ``CliState.no_color``).
    ``secrets`` are masked from the first line on (each job's own are learnt as it
    reports), e.g. for plugin warnings printed before any job starts. ``command``
    (``mogrun -f night.toml``) starts every command a summary suggests.
    """
    secrets = tuple(secrets)
    env = os.environ if env is None else env
    github = under_github_actions(env)
    if json:
        from mogrun.output.ndjson import NdjsonReporter

        return NdjsonReporter(stdout=stdout, stderr=stderr, quiet=quiet, secrets=secrets,
                              step_env=env if github else None, command=command)
    if github:
        from mogrun.output.github import GithubReporter

        return GithubReporter(stdout=stdout, stderr=stderr, quiet=quiet, env=env, secrets=secrets,
                              command=command)
    if is_terminal(stdout) and not in_ci(env):
        from mogrun.output.live import LiveReporter
        from mogrun.tables import columns_from

        return LiveReporter(
            stdout=stdout, stderr=stderr, quiet=quiet, color=color, secrets=secrets,
            width=columns_from(env, stdout), command=command,
        )
    from mogrun.output.plain import PlainReporter

    return PlainReporter(stdout=stdout, stderr=stderr, quiet=quiet, secrets=secrets,
                         command=command)


def graph_order(results: Iterable[RunResult], jobs: Sequence[ResolvedJob]) -> tuple[RunResult, ...]:
    """``results`` in the jobs' graph order, a fan-out's runs in the file's repo
    order; results of jobs not listed keep their place at the end."""
    rank: dict[tuple[str, str], tuple[int, int]] = {}
    for j, job in enumerate(jobs):
        for r, plan in enumerate(job.runs):
            rank[(job.name, plan.repo)] = (j, r)
    unknown = (len(jobs), 0)
    indexed = list(enumerate(results))
    indexed.sort(key=lambda item: (*rank.get((item[1].job, item[1].repo), unknown), item[0]))
    return tuple(result for _, result in indexed)


def format_event_line(label: str, event: Event, secrets: Iterable[str] = (),
                      clock: str | None = None) -> str:
    """One event as one line: ``HH:MM:SS  label  type  tool  message``.

    Everything but the clock comes from the server or the agent, so every
    field is escaped; ``secrets`` are masked before and after escaping.
    ``clock`` replaces the event's own (``createdAt``) when given.
    """
    secrets = tuple(secrets)
    fields = (label, event.type or "-", event.tool_name or "-", event.message or "")
    safe = [escape_agent_text(mask(str(value), secrets)) for value in fields]
    line = "  ".join([clock or event_clock(event.created_at), *safe]).rstrip()
    return mask(line, secrets)
