"""The files a GitHub Actions step leaves behind: its summary and its outputs.

``$GITHUB_STEP_SUMMARY`` (Markdown for people) and ``$GITHUB_OUTPUT`` (run
ids, branches and the exit code, which later steps read) are files, not
stdout, so every output mode that runs under GitHub Actions writes them the
same way: the GitHub reporter beside its annotated log, and ``--json`` beside
its NDJSON stream. What they say lives here alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from mogrun.ci.names import github_name, same_name_key
from mogrun.output.paced import note_lost, settled_exit_code
from mogrun.output.tables import SUMMARY_HEADERS, clip, is_failing, summary_rows
from mogrun.runs import RunResult

# GitHub drops a step summary over 1 MiB whole ("$GITHUB_STEP_SUMMARY upload
# aborted, supports content up to a size of 1024k"), and an agent's error has
# no size: every piece of it shown here is cut (saying how much), and the
# reasons past the budget are left out (the log keeps them whole).
REASON_LIMIT = 1000  # characters of one reason line of the step summary
CELL_LIMIT = 200  # characters of one cell of its table (a gate's reason)
SUMMARY_BUDGET = 512 * 1024  # bytes of the whole step summary, half GitHub's cap


class SessionLines(Protocol):
    """What the step files take from the reporter of the session's text: its
    masking (every secret seen so far) and the summary's tail."""

    def safe(self, text: str) -> str: ...

    def seen_secrets(self) -> tuple[str, ...]: ...

    def summary_tail(self, results: tuple[RunResult, ...], exit_code: int,
                     rerun: str | None) -> list[str]: ...


class StepFiles:
    """The step summary and outputs of one session, written once at its summary."""

    def __init__(self, env: Mapping[str, str], lines: SessionLines) -> None:
        self._env = env
        self._lines = lines
        self.written = False

    def write(self, results: tuple[RunResult, ...], exit_code: int,
              rerun: str | None) -> tuple[int, list[str], list[str]]:
        """Append both files. Returns the exit code they say (74 where it would be 0
        when the step log or ``$GITHUB_OUTPUT`` was lost: later steps branch on it),
        the summary's tail for the log (reasons, totals, rerun, exit code: the
        summary's with its reasons cut, ``REASON_LIMIT``; the log keeps them whole)
        and warnings to show, unmasked (a file not written, a shared name)."""
        exit_code = settled_exit_code(exit_code)
        shared = shared_output_names(results)
        problems = [self._append("GITHUB_OUTPUT", self._outputs(results, exit_code, shared))]
        exit_code = settled_exit_code(exit_code)  # a lost $GITHUB_OUTPUT makes it 74 too
        tail = self._lines.summary_tail(results, exit_code, rerun)  # once: one "in 3m12s"
        reasons = sum(1 for result in results if is_failing(result))  # its first lines
        cut = [clip(line, REASON_LIMIT) for line in tail[:reasons]] + tail[reasons:]
        problems.append(self._append("GITHUB_STEP_SUMMARY", self._markdown(results, cut)))
        self.written = True
        warnings = [problem for problem in problems if problem]
        for name, jobs in shared.items():
            said = " and ".join(f'"{job}"' for job in jobs)
            case = "" if len({output_name(job) for job in jobs}) == 1 else \
                " (GitHub ignores case)"
            warnings.append(f"jobs {said} share the step output name {name}{case}: their "
                            f"{name}_run_ids and {name}_branches are left out; rename one "
                            "of them")
        return exit_code, tail, warnings

    def _append(self, variable: str, text: str) -> str | None:
        return append_to_step_file(self._env, variable, text)

    def _markdown(self, results: tuple[RunResult, ...], tail: list[str]) -> str:
        """The step summary: the table, then the reasons, totals, rerun and exit code.

        Cells and reasons come cut (``CELL_LIMIT``, ``REASON_LIMIT``); the table,
        totals, rerun command and exit code are always kept, and the reasons
        that would take the summary past ``SUMMARY_BUDGET`` bytes are left out,
        saying how many."""
        rows = summary_rows(results, self._lines.seen_secrets())
        lines = ["## mogrun", "", "| " + " | ".join(SUMMARY_HEADERS) + " |"]
        lines.append("|" + " --- |" * len(SUMMARY_HEADERS))
        lines += ["| " + " | ".join(markdown_cell(clip(c, CELL_LIMIT)) for c in row) + " |"
                  for row in rows]
        if not rows:  # an empty shard leg, a rerun with none to start: a sentence, not an
            # empty table ("nothing to do" would be wrong where what failed is still going)
            lines[2:] = ["No run was started."]
        count = sum(1 for result in results if is_failing(result))
        reasons = [f"- {markdown_cell(line)}" for line in tail[:count]]
        ends = [f"- {markdown_cell(line)}" for line in tail[count:-1]]
        last = ["", tail[-1].replace("code", "code:"), ""]

        def size(parts: list[str]) -> int:
            return len(("\n".join(parts) + "\n").encode("utf-8"))

        budget = SUMMARY_BUDGET - size([*lines, "", "- " + "9" * 90, *ends, *last])
        kept: list[str] = []
        for reason in reasons:
            budget -= len(reason.encode("utf-8")) + 1
            if budget < 0:
                break
            kept.append(reason)
        if len(kept) < len(reasons):
            kept.append(f"- {len(reasons) - len(kept)} more reasons left out to keep this "
                        f"summary under {SUMMARY_BUDGET} bytes; the step's log has them all")
        return "\n".join([*lines, "", *kept, *ends, *last]) + "\n"

    def _outputs(self, results: tuple[RunResult, ...], exit_code: int,
                 shared: Mapping[str, list[str]]) -> str:
        """Run ids and working branches, all and per job, space-separated in
        graph order (a branch name holds no space: git refuses one); a run on its
        base branch has no working branch, so ``branches`` lists fewer than
        ``run_ids`` then. A per-job
        name that two jobs share (``a.b`` and ``a_b``, ``Lint`` and ``lint``) is left
        out, not mixed."""
        ids: dict[str, list[str]] = {}
        branches: dict[str, list[str]] = {}
        for result in results:
            name = output_name(result.job)
            if result.run_id and safe_run_id(result.run_id):
                ids.setdefault(name, []).append(safe_run_id(result.run_id))
            if result.branch and self._safe_value(result.branch):
                branches.setdefault(name, []).append(self._safe_value(result.branch))
            ids.setdefault(name, [])
            branches.setdefault(name, [])  # every job has both: a step reads either blind
        lines = [f"run_ids={' '.join(v for vs in ids.values() for v in vs)}",
                 f"branches={' '.join(v for vs in branches.values() for v in vs)}",
                 f"exit_code={exit_code}"]
        left_out = {same_name_key(name) for name in shared}
        lines += [f"{name}_run_ids={' '.join(values)}" for name, values in ids.items()
                  if same_name_key(name) not in left_out]
        lines += [f"{name}_branches={' '.join(values)}" for name, values in branches.items()
                  if same_name_key(name) not in left_out]
        return "\n".join(lines) + "\n"

    def _safe_value(self, text: str) -> str:
        """A value fit for one ``$GITHUB_OUTPUT`` line: masked, no whitespace or controls."""
        return re.sub(r"[\s\x00-\x1f\x7f]", "", self._lines.safe(text))


def output_name(job: str) -> str:
    """A job name as a step output name: letters, digits, ``_`` and ``-`` only."""
    return github_name(job, prefix="_")


def shared_output_names(results: Sequence[RunResult]) -> dict[str, list[str]]:
    """Output names that more than one job maps to, with those jobs. GitHub's
    outputs ignore case, so ``Lint`` and ``lint`` share one (keyed by
    ``same_name_key``; the name shown is the first job's)."""
    owners: dict[str, tuple[str, list[str]]] = {}
    for result in results:
        name = output_name(result.job)
        _, jobs = owners.setdefault(same_name_key(name), (name, []))
        if result.job not in jobs:
            jobs.append(result.job)
    return {name: jobs for name, jobs in owners.values() if len(jobs) > 1}


def safe_run_id(run_id: str) -> str:
    """A run id fit for ``$GITHUB_OUTPUT``: a forged newline could set other outputs."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "", run_id)


def markdown_cell(text: str) -> str:
    """Text shown as written in the step summary: it cannot end a table cell or row,
    open HTML, write a character by its entity (`&#x202E;`, a right-to-left
    override), or make a link, an image, emphasis or code (agent text wrote
    '[Approve](https://evil.example)'; a mask '***' became emphasis and vanished).
    A bare URL or www. address is not made a link either (GitHub's autolinks); an
    e-mail address still is, showing where it goes."""
    escaped = _MARKDOWN.sub(r"\\\g<0>", text).replace("&", "&amp;").replace("<", "&lt;")
    return _AUTOLINK.sub(r"\\\g<0>", escaped)


def markdown_block(lines: Sequence[str]) -> list[str]:
    """``lines`` as a fenced code block: shown as written, spaces kept (a task-file
    excerpt's caret under its column; as list items, Markdown folded them). The
    fence is longer than any run of backticks in the text, so none can close it."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", *lines, fence]


# Each shown literally once backslash-escaped; an underscore inside a word (gate_failed,
# a run id) makes no emphasis, so it stays as it is.
_MARKDOWN = re.compile(r"[\\`*\[\]!~|]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# What GitHub's Markdown makes a link of unasked: escaped, "://" and "www." are text.
_AUTOLINK = re.compile(r"(?<=[A-Za-z]):(?=//)|(?<=www)\.", re.IGNORECASE)


def append_to_step_file(env: Mapping[str, str], variable: str, text: str) -> str | None:
    """Append ``text`` to the file ``$variable`` names (none set: nothing to do);
    the problem, if it could not be written. After a line an earlier step left
    unfinished, a line break first: ``prev=value`` then ``run_ids=...`` would be
    one line, and an unfinished heredoc delimiter would fail the step. A file it
    cannot write is output lost: the exit code says it (``paced.note_lost``)."""
    path = env.get(variable)
    if not path:
        return None
    try:
        with Path(path).open("ab+") as handle:
            if not _ends_a_line(handle):
                text = "\n" + text
            handle.write(text.encode("utf-8"))
    except OSError as exc:
        if variable == "GITHUB_OUTPUT":  # later steps read it; the summary is for people
            note_lost(exc, f"${variable} ({path})")
        return f"cannot write ${variable} ({path}): {exc.strerror or exc}"
    return None


def _ends_a_line(handle: BinaryIO) -> bool:
    """Whether the file is empty or ends with a line break (a pipe: taken as yes)."""
    try:
        size = handle.seek(0, 2)
        if not size:
            return True
        handle.seek(size - 1)
        return handle.read(1) == b"\n"
    except OSError:
        return True
