"""GitHub Actions: plain lines plus workflow commands.

Every line mogrun prints here may carry text from an agent or a server, so
the whole stream runs inside ``::stop-commands::<token>``; commands are
turned back on only around the workflow commands mogrun issues itself. The
token is random per session and masked out of everything else, so no event
can end the stop and issue a command of its own.

Jobs run concurrently but groups cannot nest or interleave: the first job
to print owns the open group and streams live; other jobs' lines wait in a
buffer. When a waiting job finishes, the open group is closed and the
finished job's group is shown whole at once; the interrupted job goes on
later in a "<job> (continued)" group.

A job's warnings are annotated when the job ends, and only if it passed: a
failed job's ``::error::`` already says why (a timeout is one annotation,
not a warning plus an error). The warning's text line is shown at once.
"""

from __future__ import annotations

import secrets as secrets_module
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TextIO

from mogrun import errors
from mogrun.masking import mask
from mogrun.models import ResolvedJob, RunPlan
from mogrun.output.base import SoFar, escape_agent_text
from mogrun.output.paced import write_line
from mogrun.output.plain import PlainReporter, result_detail
from mogrun.output.stepfiles import (
    StepFiles,
    append_to_step_file,
    markdown_block,
    markdown_cell,
    output_name,
)
from mogrun.output.tables import clip, is_failing, summary_lines
from mogrun.runs import RunResult, RunState
from mogrun.threads import NoThread, start_without_signals
from mogrun.waits import Wait

__all__ = ["GithubReporter", "markdown_cell", "output_name", "report_failure"]

_COMMAND = "command"
_TEXT = "text"

ANNOTATION_LIMIT = 4000  # characters of one ::error::/::warning:: message
# Seconds a job's line may wait for the open group's job to let go of it: then
# the group is handed over (and continued later), so no job is hidden for longer.
HAND_OVER = 1.0


def command_data(text: str) -> str:
    """Escape a workflow command's message the way the runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def command_property(text: str) -> str:
    """Escape a workflow command property (``title=...``): also ``:`` and ``,``."""
    return command_data(text).replace(":", "%3A").replace(",", "%2C")


def report_failure(*, stdout: TextIO, env: Mapping[str, str], command: str,
                   lines: Sequence[str], exit_code: int, error: BaseException | None = None,
                   secrets: Iterable[str] = (), json_stderr: TextIO | None = None) -> None:
    """A ``run``/``rerun`` that failed without a session summary (no token, a
    refused token, a task-file error, a bad option): what the session would
    have said, in short. One ``::error::`` with the message, a step summary
    saying what failed and what to do, and ``exit_code`` (with empty
    ``run_ids`` and ``branches``) in ``$GITHUB_OUTPUT``. ``lines``: the
    message, then its context lines; masked with ``secrets`` and escaped.
    ``json_stderr`` (``--json``: stdout is JSON lines alone): no annotation, and the
    files are written all the same, a problem with one a ``warning:`` line there."""
    secrets = tuple(secrets)
    said = [clip(mask(escape_agent_text(mask(line, secrets)), secrets), ANNOTATION_LIMIT)
            for line in lines] or ["failed"]
    title = command_property(f"mogrun {command}")
    if json_stderr is None:
        write_line(stdout, f"::error title={title}::{command_data(chr(10).join(said))}")
    hint = failure_hint(error, exit_code)
    summary = ["## mogrun", "", f"`mogrun {command}` failed: {markdown_cell(said[0])}", ""]
    summary += markdown_block(said[1:]) if said[1:] else []
    summary += ["", f"**What to do:** {hint}"] if hint else []
    summary += ["", f"exit code: {exit_code}", ""]
    outputs = f"run_ids=\nbranches=\nexit_code={exit_code}\n"
    for variable, text in (("GITHUB_STEP_SUMMARY", "\n".join(summary) + "\n"),
                           ("GITHUB_OUTPUT", outputs)):
        problem = append_to_step_file(env, variable, text)
        if problem and json_stderr is not None:
            write_line(json_stderr, "warning: " + escape_agent_text(mask(problem, secrets)))
        elif problem:
            write_line(stdout, "::warning::" + command_data(mask(problem, secrets)))


_SECRET_STEP = "`env: MOGPLEX_API_KEY: ${{ secrets.MOGPLEX_API_KEY }}`"


def failure_hint(error: BaseException | None, exit_code: int) -> str | None:
    """What a workflow's author does about a failure, in GitHub's terms."""
    if isinstance(error, errors.NoTokenError):
        return ("add a Mogplex API token as the repository secret MOGPLEX_API_KEY "
                "(Settings, Secrets and variables, Actions) and pass it to this step: "
                f"{_SECRET_STEP}.")
    if isinstance(error, errors.UnauthorizedError):
        return ("the server refused the token: put a current one (not expired or revoked) "
                "in the repository secret MOGPLEX_API_KEY, passed to this step as "
                f"{_SECRET_STEP}.")
    if isinstance(error, errors.ForbiddenError):
        return ("the token lacks a scope this needs: issue one with the scope the message "
                "names and put it in the repository secret MOGPLEX_API_KEY.")
    if isinstance(error, errors.TemplateError) and error.unset_name is not None:
        unset = error.unset_name  # the workflow passes it; the repository has none
        return (f"the task file takes {unset} from the environment: create a repository "
                f"secret or variable named {unset} (Settings, Secrets and variables, "
                "Actions); the workflow `mogrun ci github` writes passes either to this "
                "step.")
    if isinstance(error, errors.NothingRecordedError):
        return ("`mogrun rerun` retries what this checkout recorded (.mogrun/), and a fresh "
                "checkout has no record: name the jobs instead, with `mogrun run --rerun "
                "JOB...` (new runs even where a key was used before).")
    if exit_code == 2:
        return ("fix the task file or the command line of this step; `mogrun check` finds "
                "task-file errors before a push. A workflow `mogrun ci github` wrote may be "
                "older than the task file: run it again (`mogrun ci github --check` in a pull "
                "request's checks catches that).")
    if exit_code in (69, 75):
        return "the Mogplex API could not serve the request now: re-run the job later."
    return None


class GithubReporter(PlainReporter):
    """Plain lines in ``::group::`` blocks; failures as ``::error::``; step summary and outputs."""

    def __init__(
        self,
        *,
        stdout: TextIO,
        stderr: TextIO,
        quiet: bool = False,
        secrets: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        command: str = "mogrun",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(stdout=stdout, stderr=stderr, quiet=quiet, secrets=secrets,
                         command=command, inert_stderr=True)
        self._clock = clock
        self._held_since: dict[str, float] = {}  # job -> when its oldest held line came
        self._env = dict(env or {})
        self._token = secrets_module.token_hex(16)
        self._stopped = False
        self._owner: str | None = None
        self._waiting: dict[str, list[tuple[str, str]]] = {}
        self._finished: set[str] = set()
        self._opened: set[str] = set()
        self._warnings: dict[str, list[str]] = {}  # job -> annotations held until it ends
        self._files = StepFiles(self._env, self)
        self._so_far = SoFar()  # for a second signal's summary and outputs
        self._handing: bool = False  # a thread hands held lines over when due
        self._closed = False

    @property
    def summarized(self) -> bool:
        """Whether the step summary and outputs are written (the session ended
        its own way: the CLI's failure summary is not needed)."""
        return self._files.written

    @property
    def token(self) -> str:
        """The session's stop-commands token (tests check it never leaks)."""
        return self._token

    def job_started(self, job: ResolvedJob, run: RunPlan, state: RunState,
                    attached: bool) -> None:
        super().job_started(job, run, state, attached)
        self._so_far.started(run, state.run_id)

    def left_going(self, exit_code: int, cancelling: Collection[str] = (),
                   ended: Mapping[str, str] | None = None) -> None:
        """The step still gets its summary and outputs: ``run_ids`` names the runs left
        going too, which an ``if: always()`` step may want to cancel; and each run
        that did not pass, of a job not finished, its ``::error::`` (GitHub cancels
        a job with SIGINT, then SIGTERM: this is how its runs end there)."""
        if self.summarized:
            return
        results = self._so_far.at_exit(exit_code, cancelling, ended)
        with self._lock:
            for result in results:
                if result.job not in self._finished and is_failing(result):
                    self._to_job(result.job, _COMMAND, self._error_annotation(result))
        self.summary(results, exit_code)

    def job_finished(self, job: ResolvedJob, results: tuple[RunResult, ...], outcome: str) -> None:
        self._so_far.finished(results)
        super().job_finished(job, results, outcome)
        with self._lock:
            warnings = self._warnings.pop(job.name, [])
            failed = [result for result in results if is_failing(result)]
            for result in failed:
                self._to_job(job.name, _COMMAND, self._error_annotation(result))
            for warning in [] if failed else warnings:
                self._to_job(job.name, _COMMAND, warning)
            self._finished.add(job.name)
            if self._owner == job.name or job.name in self._waiting:
                self._close_group()

    def _error_annotation(self, result: RunResult) -> str:
        """A run that did not pass, as its one ``::error::``, with the reason."""
        title = command_property(f"mogrun: {result.job}")
        detail = clip(self._safe(f"{result.job} {result.repo}: {result_detail(result)}"),
                      ANNOTATION_LIMIT)
        return f"::error title={title}::{command_data(detail)}"

    def summary(self, results: tuple[RunResult, ...], exit_code: int,
                rerun: str | None = None) -> None:
        results = self.ordered(results)
        with self._lock:
            _, tail, warnings = self._files.write(results, exit_code, rerun)
            self._flush_all_groups()
            if results:
                self._text("")
                self._text_lines(summary_lines(results, self._secrets))
            self._text("\n".join(tail))
            for warning in warnings:
                self._put(_COMMAND, "::warning::" + command_data(self._safe(warning)))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._flush_all_warnings()
            self._flush_all_groups()
            if self._stopped:
                self._lines.write(f"::{self._token}::")
                self._stopped = False
        super().close()

    # -- routing ---------------------------------------------------------------

    def _safe(self, text: str, secrets: Iterable[str] = ()) -> str:
        return super()._safe(text, secrets).replace(self._token, "***")

    def _job_write(self, job_name: str, line: str) -> None:
        with self._lock:
            self._to_job(job_name, _TEXT, line.replace(self._token, "***"))

    def _wait_write(self, wait: Wait, line: str) -> None:
        with self._lock:
            line = line.replace(self._token, "***")
            if wait.job is not None:  # said now, in its job's group (never silent: docs/output.md)
                self._to_job(wait.job, _TEXT, line, at_once=True)
            else:
                self._put(_TEXT, line)

    def _write_notice(self, text: str, job: ResolvedJob | None, level: str, *,
                      run: RunPlan | None = None) -> None:
        """A warning or an error is also an annotation, but not a run's own error:
        its result is that run's one ``::error::`` (docs/output.md), with the reason."""
        with self._lock:
            entries = [(_TEXT, text)]
            if level == "warning" or (level == "error" and run is None):
                plain = clip(text.removeprefix(f"{level}: "), ANNOTATION_LIMIT)
                command = f"::{level}::{command_data(plain)}"
                if level == "warning" and job is not None and job.name not in self._finished:
                    self._warnings.setdefault(job.name, []).append(command)
                else:
                    entries.append((_COMMAND, command))
            for kind, line in entries:
                if job is not None:
                    self._to_job(job.name, kind, line)
                else:
                    self._put(kind, line)

    def _to_job(self, job_name: str, kind: str, line: str, *, at_once: bool = False) -> None:
        """Stream a job's line if it owns the group (or can), else hold it, for
        ``HAND_OVER`` at most: a job blocked on its needs owned the group while
        another ran for minutes, whose lines and waits all came at its end. A wait
        (``at_once``) takes the group at once."""
        now = self._clock()
        if self._owner is None and job_name not in self._finished:
            self._open_group(job_name)
        if self._owner == job_name:
            self._put(kind, line)
        else:
            self._waiting.setdefault(job_name, []).append((kind, line))
            self._held_since.setdefault(job_name, now)
            if at_once:
                self._hand_over(job_name)
            self._hand_over_when_due()
        self._hand_over_overdue(now)

    def _hand_over_overdue(self, now: float) -> None:
        """Hand the group to the job whose line has been held longest, once that is
        ``HAND_OVER`` or more (lock held)."""
        overdue = [name for name, since in self._held_since.items() if now - since >= HAND_OVER]
        if overdue:
            self._hand_over(min(overdue, key=self._held_since.__getitem__))

    def _hand_over_when_due(self) -> None:
        """A thread that hands the group over once a held line is due, though no other
        line comes (lock held): agents go quiet for minutes, and a job's line held
        behind another's quiet group was shown only at the next line anyone wrote
        (58 s in a QA run). Without a thread to be had, the next line does it."""
        if self._handing or self._closed:
            return
        try:
            start_without_signals(self._watch_held, "mogrun-github-groups")
        except NoThread:
            return
        self._handing = True

    def _watch_held(self) -> None:
        """``_hand_over_when_due``'s thread: it ends once nothing is held (or the
        reporter closed, or a write failed: the next line is then the one to try)."""
        while True:
            with self._lock:
                try:
                    now = self._clock()
                    if self._held_since and not self._closed:
                        self._hand_over_overdue(now)
                    if not self._held_since or self._closed:
                        self._handing = False
                        return
                    wait = min(self._held_since.values()) + HAND_OVER - now
                except Exception:
                    self._handing = False
                    return
            time.sleep(min(max(wait, 0.05), HAND_OVER))

    def _hand_over(self, job_name: str) -> None:
        """Close the open group and show ``job_name``'s held lines in its own (its
        owner's next line continues the one it had): a finished job's group is
        closed at once, as ``_close_group`` shows it."""
        if self._owner is not None:
            self._put(_COMMAND, "::endgroup::")
            self._owner = None
        self._open_group(job_name)
        if job_name in self._finished:
            self._put(_COMMAND, "::endgroup::")
            self._owner = None

    def _open_group(self, job_name: str) -> None:
        self._owner = job_name
        name = escape_agent_text(self._safe(job_name))
        if job_name in self._opened:
            name += " (continued)"
        self._opened.add(job_name)
        self._put(_COMMAND, f"::group::{command_data(name)}")
        self._held_since.pop(job_name, None)
        for kind, line in self._waiting.pop(job_name, []):
            self._put(kind, line)

    def _close_group(self) -> None:
        """End the open group, show each finished job that waited (whole, so its
        failure is visible at once), then let the next waiting job stream."""
        if self._owner is not None:
            self._put(_COMMAND, "::endgroup::")
            self._owner = None
        for job_name in [name for name in self._waiting if name in self._finished]:
            self._open_group(job_name)
            self._put(_COMMAND, "::endgroup::")
            self._owner = None
        if self._waiting:
            self._open_group(next(iter(self._waiting)))

    def _flush_all_warnings(self) -> None:
        """An interrupted session still shows the warnings of jobs that never ended."""
        for job_name, warnings in list(self._warnings.items()):
            for warning in warnings:
                self._to_job(job_name, _COMMAND, warning)
        self._warnings.clear()

    def _flush_all_groups(self) -> None:
        """At the end (or an interrupt) show whatever still waits, each in its group."""
        self._finished.update(self._waiting)
        if self._owner is not None:
            self._finished.add(self._owner)
        self._close_group()

    def _put(self, kind: str, line: str) -> None:
        """Write one line; commands only ever run between a resume and a re-stop."""
        if kind == _COMMAND:
            if self._stopped:
                self._lines.write(f"::{self._token}::")
                self._stopped = False
        elif not self._stopped:
            self._lines.write(f"::stop-commands::{self._token}")
            self._stopped = True
        self._lines.write(line)

    def _text(self, text: str) -> None:
        self._text_lines(text.split("\n"))

    def _text_lines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self._put(_TEXT, line.replace(self._token, "***"))

    # -- files -----------------------------------------------------------------
