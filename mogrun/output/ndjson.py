"""``--json``: one JSON object per line on stdout, for scripts; notices on stderr.

Agent text is kept as the agent wrote it (JSON escapes it), but secrets are
masked and the output is ASCII-only, so no raw control character or escape
sequence ever reaches a terminal that shows the stream.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from mogrun.masking import json_forms, mask_data, maskable
from mogrun.models import ResolvedJob, RunPlan
from mogrun.output.base import SoFar
from mogrun.output.paced import PacedLines
from mogrun.output.plain import PlainReporter
from mogrun.output.tables import total_usage
from mogrun.runs import Event, RunResult, RunState
from mogrun.textsafety import inert_json
from mogrun.waits import Wait

if TYPE_CHECKING:
    from mogrun.output.stepfiles import StepFiles


def event_dict(event: Event) -> dict[str, Any]:
    """An event in the API's own field names."""
    return {
        "id": event.id,
        "type": event.type,
        "toolName": event.tool_name,
        "message": event.message,
        "payload": dict(event.payload) if isinstance(event.payload, Mapping) else event.payload,
        "createdAt": event.created_at,
    }


def result_dict(result: RunResult) -> dict[str, Any]:
    """One run's result, as ``job_finished`` and ``summary`` list it; a job or repo
    not known (a run id ``logs --follow`` was given that no history recorded) is
    ``null``, as ``status`` says it."""
    return {
        "job": result.job or None,
        "repo": result.repo or None,
        "run_id": result.run_id,
        "outcome": result.outcome,
        "status": result.status,
        "attached": result.attached,
        "duration": result.duration,
        "gates": [{"gate": g.gate, "passed": g.passed, "reason": g.reason} for g in result.gates],
        "message": result.message,
        "branch": result.branch,
        "left_going": result.left_going,
        **({"usage": dict(result.usage)} if result.usage else {}),
    }


class NdjsonReporter:
    """Every object one ``json.dumps`` line, written whole under a lock. Under GitHub
    Actions (``step_env``: the environment naming the step's files) the step summary
    and outputs are written as without ``--json``: they are files, not stdout."""

    def __init__(
        self, *, stdout: TextIO, stderr: TextIO, quiet: bool = False, secrets: Iterable[str] = (),
        step_env: Mapping[str, str] | None = None, command: str = "mogrun",
    ) -> None:
        # Re-entrant: a signal's notice, handled on the main thread, flushes these
        # lines, perhaps while that thread was writing one.
        self._lock = threading.RLock()
        self._lines = PacedLines(stdout, self._lock)
        self._secrets: set[str] = set(secrets)
        masks = maskable(self._secrets)  # sorted once, not per line
        self._masking = masks, json_forms(masks)  # and the forms they take in JSON
        self._learned: set[frozenset[str]] = set()  # the jobs' secrets taken in
        self._run_ids: dict[str, str] = {}  # run label -> run id, for events
        self._so_far = SoFar()  # for a second signal's summary
        # Notices are plain lines on stderr; quiet drops the info ones there only:
        # a script that asked for JSON gets the whole stream.
        self._notices = PlainReporter(stdout=stderr, stderr=stderr, quiet=quiet, secrets=secrets,
                                      command=command, inert_stderr=step_env is not None)
        self._files = None if step_env is None else _step_files(step_env, self._notices)

    @property
    def summarized(self) -> bool:
        """Whether the GitHub step summary and outputs are written."""
        return self._files is not None and self._files.written

    def session_started(self, jobs: Sequence[ResolvedJob]) -> None:
        """No object of its own (the stream's types are fixed); it sets the summary's order."""
        self._notices.session_started(jobs)
        with self._lock:
            for job in jobs:
                self._learn(job)

    def wait(self, wait: Wait) -> None:
        """``{"type": "wait", "kind", "reason", "ends_at", "seconds", "job", "run"}``."""
        self._emit(None, {"type": "wait", **wait.as_json()})

    def job_started(self, job: ResolvedJob, run: RunPlan, state: RunState, attached: bool) -> None:
        self._remember(run, state)
        self._emit(
            job,
            {
                "type": "job_started",
                **_run_ids(job, run, state.run_id),
                "status": state.status,
                "attached": attached,
            },
        )

    def event(self, job: ResolvedJob, run: RunPlan, event: Event) -> None:
        obj = {"type": "event", **_run_ids(job, run, None), "event": event_dict(event)}
        self._emit(job, obj, run_of=run.label)  # run_id filled in under the write lock

    def status(self, job: ResolvedJob, run: RunPlan, old: str | None, state: RunState) -> None:
        self._remember(run, state)
        self._emit(
            job,
            {"type": "status", **_run_ids(job, run, state.run_id), "old": old,
             "status": state.status},
        )

    def notice(
        self,
        message: str,
        *,
        job: ResolvedJob | None = None,
        run: RunPlan | None = None,
        level: str = "info",
    ) -> None:
        self._flush_lines()  # before a line on stderr: a log merging the two keeps their order
        self._notices.notice(message, job=job, run=run, level=level)

    def trace(self, line: str) -> None:
        self._flush_lines()
        self._notices.trace(line)

    def internal_error(self, job: ResolvedJob, run: RunPlan, traceback: str) -> None:
        self._flush_lines()
        self._notices.internal_error(job, run, traceback)

    def job_finished(self, job: ResolvedJob, results: tuple[RunResult, ...], outcome: str) -> None:
        self._so_far.finished(results)
        self._emit_listing(job, {"type": "job_finished", "job": job.name, "outcome": outcome},
                           "runs", results)

    def summary(self, results: tuple[RunResult, ...], exit_code: int,
                rerun: str | None = None) -> None:
        results = self._notices.ordered(results)
        warnings: list[str] = []
        if self._files is not None and not self._files.written:
            # The exit code the step's outputs say (74 for one lost), so the line says it too.
            exit_code, _, warnings = self._files.write(results, exit_code, rerun)
        after: dict[str, Any] = {"rerun": rerun if exit_code != 0 else None}
        usage = total_usage(results)
        if usage is not None:
            after["usage"] = usage
        self._emit_listing(None, {"type": "summary", "exit_code": exit_code}, "results",
                           results, after)
        for warning in warnings:  # stdout stays JSON: no ::warning:: annotation there
            self.notice(warning, level="warning")

    def left_going(self, exit_code: int, cancelling: Collection[str] = (),
                   ended: Mapping[str, str] | None = None) -> None:
        """The stream still ends with a ``summary``: the results so far, then each run
        left going (``left_going: true``, outcome ``error``), or seen to end with the
        status it ended with, so a script finds them."""
        self.summary(self._so_far.at_exit(exit_code, cancelling, ended), exit_code)

    def close(self) -> None:
        with self._lock:
            self._lines.close()
        self._notices.close()

    def _flush_lines(self) -> None:
        with self._lock:
            self._lines.flush()

    def _remember(self, run: RunPlan, state: RunState) -> None:
        """Events carry no run id: remember each run's from its start or status (one
        dict item set: no lock, for the run's own thread reads it)."""
        if state.run_id:
            self._run_ids[run.label] = state.run_id
            self._so_far.started(run, state.run_id)

    def _emit(self, job: ResolvedJob | None, obj: dict[str, Any], run_of: str = "") -> None:
        """Write ``obj`` as one line; ``run_of``: the label of the run whose id
        ``obj["run_id"]`` takes (an event does not carry it). The path of every
        event of a fan-out: no call it can do without, and the line is made
        without the lock a fan-out's 200 threads share (``PacedLines.write``
        appends it; their order is the order of the calls)."""
        fresh = self._take_in(job)
        if run_of:
            obj["run_id"] = self._run_ids.get(run_of)
        self._lines.write(self._line(obj))  # no lock taken for a line that waits its batch
        if fresh is not None:
            self._notices.learn_secrets(fresh)

    def _emit_listing(self, job: ResolvedJob | None, before: dict[str, Any], key: str,
                      results: Sequence[RunResult], after: Mapping[str, Any] | None = None
                      ) -> None:
        """``{**before, key: [each result], **after}`` as one line, made and written
        a result at a time (``PacedLines.write_pieces``): for a fan-out of thousands
        of runs, their dicts and the whole line are never in memory at once."""
        fresh = self._take_in(job)
        opening = self._line(before)[:-1] + f", {_ENCODER.encode(key)}: ["
        closing = "]" + (", " + self._line(after)[1:] if after else "}")

        def pieces() -> Iterator[str]:
            yield opening
            for n, result in enumerate(results):
                line = self._line(result_dict(result))
                yield line if n == 0 else ", " + line
            yield closing

        self._lines.write_pieces(pieces())
        if fresh is not None:
            self._notices.learn_secrets(fresh)

    def _take_in(self, job: ResolvedJob | None) -> ResolvedJob | None:
        """``job`` if its secrets were not taken in yet (each set once, not at every
        line): now they are, and the caller hands them to the notices after its line."""
        fresh = job if job and job.secrets and job.secrets not in self._learned else None
        if fresh is not None:
            with self._lock:
                self._learn(fresh)
        return fresh

    def _line(self, obj: Mapping[str, Any]) -> str:
        """``obj`` as one JSON line: secrets masked (the masks are taken in before: every
        secret of its job is among them) and, for agent text, no ``##[`` (a GitHub
        Actions workflow command) in it."""
        masks, forms = self._masking
        line = _ENCODER.encode(obj)
        if any(form in line for form in forms):  # rare: walk it, mask each string
            line = _ENCODER.encode(mask_data(obj, ordered=masks))
        return inert_json(line)

    def _learn(self, job: ResolvedJob) -> None:
        """Take in ``job``'s secrets (lock held); each set once, not at every line."""
        if not self._secrets.issuperset(job.secrets):
            self._secrets.update(job.secrets)
            masks = maskable(self._secrets)
            self._masking = masks, json_forms(masks)  # one value: read together, unlocked
        # Last: a thread that finds the job learned (unlocked) then reads its masks.
        self._learned.add(job.secrets)


def _step_files(env: Mapping[str, str], lines: PlainReporter) -> StepFiles:
    from mogrun.output.stepfiles import StepFiles

    return StepFiles(env, lines)


def _jsonable(value: Any) -> Any:
    """A value JSON has no type for: a set as a list (as ``mask_data`` gives it),
    anything else as its text."""
    return list(value) if isinstance(value, set | frozenset) else str(value)


# One encoder for every line (``json.dumps`` with ``default`` builds one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=True, default=_jsonable)


def _run_ids(job: ResolvedJob, run: RunPlan, run_id: str | None) -> dict[str, Any]:
    """What names a run in a line about it: as ``logs`` names it too (``label``)."""
    return {"job": run.job, "repo": run.repo, "run_id": run_id, "label": job.label_of(run)}
