"""Plain lines for logs and pipes: no colour, no animation, one line per thing.

Session lines share the event line's shape (``HH:MM:SS  label  kind  -  text``)
so a log reads as one column-aligned stream. Notices go to stderr.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable
from typing import TextIO

from mogrun.masking import mask
from mogrun.models import Event, ResolvedJob, RunPlan, RunResult, RunState
from mogrun.output.base import escape_agent_text, format_event_line, run_label
from mogrun.output.tables import render_summary


def clock_now() -> str:
    """The local wall clock as ``HH:MM:SS``, for lines that are not events."""
    return time.strftime("%H:%M:%S")


def result_detail(result: RunResult) -> str:
    """``outcome`` plus why, for a finished line or an annotation."""
    reasons = [
        f"gate {g.gate}: {g.reason}" if g.reason else f"gate {g.gate} failed"
        for g in result.gates
        if not g.passed
    ]
    detail = "; ".join([m for m in [result.message, *reasons] if m])
    run = f" ({result.run_id})" if result.run_id else ""
    return f"{result.outcome}{run}" + (f": {detail}" if detail else "")


def notice_text(message: str, label: str | None, level: str) -> str:
    """``warning: job: message``; info notices carry no level word."""
    text = f"{label}: {message}" if label else message
    return text if level == "info" else f"{level}: {text}"


class PlainReporter:
    """Lines on ``stdout``, notices on ``stderr``; every write whole, under a lock."""

    def __init__(
        self, *, stdout: TextIO, stderr: TextIO, quiet: bool = False, secrets: Iterable[str] = ()
    ) -> None:
        self._out = stdout
        self._err = stderr
        self._quiet = quiet
        self._lock = threading.RLock()
        self._secrets: set[str] = set(secrets)

    # -- the Reporter protocol -------------------------------------------------

    def job_started(self, job: ResolvedJob, run: RunPlan, state: RunState, attached: bool) -> None:
        verb = "attached to" if attached else "started"
        text = f"{verb} {state.run_id} ({state.status})"
        self._job_line(job, run_label(job, run), "run", text)

    def event(self, job: ResolvedJob, run: RunPlan, event: Event) -> None:
        self.learn_secrets(job)
        if not self._quiet:
            line = format_event_line(run_label(job, run), event, job.secrets)
            self._job_write(job.name, line)

    def status(self, job: ResolvedJob, run: RunPlan, old: str | None, state: RunState) -> None:
        self._job_line(job, run_label(job, run), "status", f"{old or '-'} -> {state.status}")

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
        label = run_label(job, run) if job and run else job.name if job else None
        self._write_notice(self._safe(notice_text(message, label, level)), job, level)

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
            label = f"{result.job}:{result.repo}" if len(results) > 1 else result.job
            self._job_line(job, label, "result", result_detail(result))
        if len(results) > 1:
            passed = sum(r.passed for r in results)
            text = f"{outcome} ({passed} of {len(results)} runs passed)"
            self._job_line(job, job.name, "result", text)

    def summary(self, results: tuple[RunResult, ...], exit_code: int) -> None:
        with self._lock:
            if results:
                self._write(self._out, "\n" + render_summary(results, self._secrets))
            self._write(self._out, f"exit code {exit_code}")

    def close(self) -> None:
        with self._lock:
            for stream in (self._out, self._err):
                flush_quietly(stream)

    # -- shared by the subclasses ----------------------------------------------

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

    def _job_line(self, job: ResolvedJob, label: str, kind: str, text: str) -> None:
        self.learn_secrets(job)
        if not self._quiet:
            line = f"{clock_now()}  {self._safe(label)}  {kind}  -  {self._safe(text)}"
            self._job_write(job.name, line)

    def _job_write(self, job_name: str, line: str) -> None:
        """A line that belongs to one job (the GitHub flavour groups them)."""
        with self._lock:
            self._write(self._out, line)

    def _write_notice(self, text: str, job: ResolvedJob | None, level: str) -> None:
        with self._lock:
            self._write(self._err, text)

    def _write(self, stream: TextIO, text: str) -> None:
        write_line(stream, text)


def write_line(stream: TextIO, text: str) -> None:
    """One write per line, so that other writers on the stream cannot split it;
    a closed or broken stream (``| head``) must never crash the runs."""
    with contextlib.suppress(OSError, ValueError):
        stream.write(text + "\n")
    flush_quietly(stream)


def flush_quietly(stream: TextIO) -> None:
    """Flush, ignoring a closed or broken stream: output must never crash a run."""
    with contextlib.suppress(OSError, ValueError):
        stream.flush()
