"""Plain lines for logs and pipes: no colour, no animation, one line per thing.

Session lines share the event line's shape (``HH:MM:SS  label  kind  -  text``)
so a log reads as one column-aligned stream. Every clock is UTC; a line about
a run carries the server's time of what it reports (an event's ``createdAt``,
the run's ``createdAt`` for its start, ``updatedAt`` for a status). Events
can only be shown once a poll brings them, possibly after a line mogrun
printed itself (a retry's wait): so that a run's lines never go back in
time, a line is never stamped earlier than the line before it of the same
label (``_stamp``). Waits are stream lines too (stdout); notices go to stderr.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TextIO

from mogrun.durations import UNKNOWN_CLOCK, line_clock, parse_moment
from mogrun.masking import mask
from mogrun.models import ResolvedJob, RunPlan
from mogrun.output.base import escape_agent_text, format_event_line, graph_order
from mogrun.output.paced import PacedLines, flush_quietly, write_line
from mogrun.output.tables import result_detail, summary_lines, summary_tail
from mogrun.runs import Event, RunResult, RunState
from mogrun.waits import Wait

__all__ = ["PlainReporter", "notice_text", "result_detail"]
WAIT_KIND = "wait"


def notice_text(message: str, label: str | None, level: str) -> str:
    """``warning: job: message``; info notices carry no level word."""
    text = f"{label}: {message}" if label else message
    return text if level == "info" else f"{level}: {text}"


class PlainReporter:
    """Lines on ``stdout``, notices on ``stderr``; every write whole, under a lock."""

    def __init__(
        self, *, stdout: TextIO, stderr: TextIO, quiet: bool = False, secrets: Iterable[str] = (),
        command: str = "mogrun", inert_stderr: bool = False,
    ) -> None:
        self._command = command  # `mogrun -f FILE`: what the summary's hints start with
        self._out = stdout
        self._err = stderr
        # Under GitHub Actions: the runner reads stderr for workflow commands too, and
        # no ``::stop-commands::`` reliably covers it (``textsafety.inert_text``).
        self._inert_stderr = inert_stderr
        self._quiet = quiet
        self._lock = threading.RLock()
        self._lines = PacedLines(stdout, self._lock, paced=stdout is not stderr)
        self._secrets: set[str] = set(secrets)
        self._jobs: tuple[ResolvedJob, ...] = ()
        self._labels: dict[str, str] = {}  # run label -> the label its lines show
        self._began = time.monotonic()
        self._last: dict[str, float] = {}  # label -> the time on its latest line

    # -- the Reporter protocol -------------------------------------------------

    def session_started(self, jobs: Sequence[ResolvedJob]) -> None:
        with self._lock:
            self._jobs = tuple(jobs)
            self._began = time.monotonic()
            # A wait names its run ``job:owner/name``; its line takes the label the
            # run's other lines have (the job alone when it has one run).
            self._labels = {plan.label: job.label_of(plan) for job in jobs for plan in job.runs}
        for job in jobs:
            self.learn_secrets(job)

    def job_started(self, job: ResolvedJob, run: RunPlan, state: RunState, attached: bool) -> None:
        verb = "attached to" if attached else "started"
        text = f"{verb} {state.run_id} ({state.status})"
        self._job_line(job, job.label_of(run), "run", text, at=state.created_at)

    def event(self, job: ResolvedJob, run: RunPlan, event: Event) -> None:
        self.learn_secrets(job)
        if not self._quiet:
            label = job.label_of(run)
            clock = self._stamp(label, event.created_at, now_if_unknown=False)
            self._job_write(job.name, format_event_line(label, event, job.secrets, clock))

    def status(self, job: ResolvedJob, run: RunPlan, old: str | None, state: RunState) -> None:
        self._job_line(job, job.label_of(run), "status", f"{old or '-'} -> {state.status}",
                       at=state.updated_at)

    def wait(self, wait: Wait) -> None:
        """``HH:MM:SS  label  wait  kind  reason; ends in 43s (17:52:31Z)`` on stdout,
        in the stream's order, like the run's other lines. A wait is never silent:
        ``-q`` says it on stderr, where warnings go, and keeps stdout quiet."""
        label = self._labels.get(wait.run, wait.run) if wait.run else wait.job or "mogrun"
        line = f"{self._stamp(label)}  {self._safe(label)}  {WAIT_KIND}  {wait.kind}  "
        if self._quiet:
            with self._lock:
                self._write(self._err, line + self._safe(wait.describe()))
            return
        self._wait_write(wait, line + self._safe(wait.describe()))

    def notice(
        self,
        message: str,
        *,
        job: ResolvedJob | None = None,
        run: RunPlan | None = None,
        level: str = "info",
    ) -> None:
        self.learn_secrets(job)
        if self._quiet and level == "info":
            return
        label = job.label_of(run) if job and run else job.name if job else None
        self._write_notice(self._safe(notice_text(message, label, level)), job, level, run=run)

    def trace(self, line: str) -> None:
        with self._lock:
            self._write(self._err, line)

    def internal_error(self, job: ResolvedJob, run: RunPlan, traceback: str) -> None:
        self.notice("internal error (a bug in mogrun; please report it with this traceback)",
                    job=job, run=run, level="error")
        for line in traceback.splitlines():
            self._write_notice(self._safe(line), job, "info")

    def job_finished(self, job: ResolvedJob, results: tuple[RunResult, ...], outcome: str) -> None:
        self.learn_secrets(job)
        if self._quiet:
            return
        for result in results:
            label = result.label if len(results) > 1 else result.job
            self._job_line(job, label, "result", result_detail(result))
        if len(results) > 1:
            passed = sum(r.passed for r in results)
            text = f"{outcome} ({passed} of {len(results)} runs passed)"
            self._job_line(job, job.name, "result", text)

    def summary(self, results: tuple[RunResult, ...], exit_code: int,
                rerun: str | None = None) -> None:
        results = self.ordered(results)
        with self._lock:
            if results:  # a blank line, then the table, written as its lines are made
                lines = summary_lines(results, self._secrets)  # -q: the table comes first
                self._lines.write_pieces(
                    line if self._quiet and at == 0 else "\n" + line
                    for at, line in enumerate(lines))
            for line in self.summary_tail(results, exit_code, rerun):
                self._write(self._out, line)

    def left_going(self, exit_code: int, cancelling: Collection[str] = (),
                   ended: Mapping[str, str] | None = None) -> None:
        """Nothing more: the error that ends the process lists the runs left going."""

    def close(self) -> None:
        with self._lock:
            self._lines.close()
            flush_quietly(self._err)

    # -- shared by the subclasses ----------------------------------------------

    def ordered(self, results: Iterable[RunResult]) -> tuple[RunResult, ...]:
        """The session's results in graph order (fan-out runs in repo order)."""
        with self._lock:
            jobs = self._jobs
        return graph_order(results, jobs)

    def summary_tail(self, results: tuple[RunResult, ...], exit_code: int,
                     rerun: str | None) -> list[str]:
        """Reasons, totals, the rerun command and the exit code: every text mode's end
        (and the step summary's, which cuts each reason)."""
        elapsed = time.monotonic() - self._began
        with self._lock:
            fan_outs = [job.name for job in self._jobs if job.fan_out]
        return summary_tail(results, exit_code, elapsed, rerun, self.seen_secrets(),
                            self._command, fan_outs)

    def seen_secrets(self) -> tuple[str, ...]:
        """Every secret seen so far (the session's and each job's)."""
        with self._lock:
            return tuple(self._secrets)

    def safe(self, text: str) -> str:
        """``text`` masked and escaped onto one line, as every line here is."""
        return self._safe(text)

    def learn_secrets(self, job: ResolvedJob | None) -> None:
        """Remember a job's secrets so that job-less lines (the summary) mask them too."""
        if job is not None and job.secrets:
            with self._lock:
                self._secrets.update(job.secrets)

    def _safe(self, text: str, secrets: Iterable[str] = ()) -> str:
        """Masked with every secret seen so far, then escaped onto one line."""
        with self._lock:
            known = self._secrets.union(secrets)
        return mask(escape_agent_text(mask(text, known)), known)

    def _job_line(self, job: ResolvedJob, label: str, kind: str, text: str,
                  at: str | None = None) -> None:
        """A session line about ``job``; ``at`` is the server's time of it, if any."""
        self.learn_secrets(job)
        if not self._quiet:
            line = f"{self._stamp(label, at)}  {self._safe(label)}  {kind}  -  {self._safe(text)}"
            self._job_write(job.name, line)

    def _stamp(self, label: str, stamp: str | None = None, *,
               now_if_unknown: bool = True) -> str:
        """The clock of a line about ``label``: the server's ``stamp`` (now when
        there is none), but never earlier than that label's previous line, nor later
        than now: one event dated in the future (a server's clock glitch) held every
        later line of its run, mogrun's own result too, at that time."""
        now = time.time()
        moment = parse_moment(stamp) if stamp is not None else None
        if moment is None:
            if not now_if_unknown:
                return UNKNOWN_CLOCK
            moment = now
        # No lock: a label's lines come from its run's thread (another's, a wait's,
        # is ordered against them by neither the stamp nor the write anyway).
        moment = max(min(moment, now), self._last.get(label, 0.0))
        self._last[label] = moment
        return line_clock(moment)

    def _wait_write(self, wait: Wait, line: str) -> None:
        """A wait line; the GitHub flavour puts a job's wait in its group."""
        with self._lock:
            self._write(self._out, line)

    def _job_write(self, job_name: str, line: str) -> None:
        """A line that belongs to one job (the GitHub flavour groups them). No lock:
        a line that waits for its batch is only appended (``PacedLines.write``)."""
        self._lines.write(line)

    def _write_notice(self, text: str, job: ResolvedJob | None, level: str, *,
                      run: RunPlan | None = None) -> None:
        with self._lock:
            self._write(self._err, text)

    def _write(self, stream: TextIO, text: str) -> None:
        """A line on stdout waits for its batch (see ``paced``); one on stderr
        goes out at once, after the stdout lines written before it."""
        if self._inert_stderr and stream is self._err:
            from mogrun.textsafety import inert_text

            text = "\n".join(map(inert_text, text.split("\n")))
        if stream is self._out:
            self._lines.write(text)
        else:
            self._lines.flush()
            write_line(stream, text)
