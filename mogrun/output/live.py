"""The terminal view: a live line per active run above which events scroll.

Lines are the plain reporter's (same text, same masking and escaping) printed
through a rich Console so that they land above the live area. rich is
imported here only, and this module only when stdout is a terminal.

Locking: ``_lock`` (the plain reporter's) serialises printing; ``_state_lock``
guards the live rows and is never held while calling rich, because rich's
refresh thread holds its own lock while it asks ``_render`` for the rows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from mogrun.durations import format_duration
from mogrun.models import Event, ResolvedJob, RunPlan, RunResult, RunState
from mogrun.output.base import run_label
from mogrun.output.plain import PlainReporter, flush_quietly
from mogrun.output.tables import SUMMARY_HEADERS, summary_rows

MAX_ROWS = 12
LAST_EVENT_WIDTH = 60
OUTCOME_STYLES = {
    "success": "green",
    "failed": "red",
    "error": "red",
    "gate_failed": "red",
    "cancelled": "yellow",
    "timeout": "yellow",
    "skipped": "dim",
}
LEVEL_STYLES = {"info": "", "warning": "yellow", "error": "bold red"}
LINE_PATTERN = r"^(?P<dim>\S+)\s+(?P<bold>\S+)"


@dataclass
class LiveRow:
    """What the live area shows for one active run."""

    label: str
    job: str
    status: str
    started: float
    last: str = ""
    ended: float | None = None  # when a terminal status arrived: elapsed stops there
    spinner: Spinner = field(default_factory=lambda: Spinner("dots"))


class LiveReporter(PlainReporter):
    """rich Live on a terminal; ``quiet`` shows no live area, only warnings and the summary."""

    def __init__(
        self,
        *,
        stdout: TextIO,
        stderr: TextIO,
        quiet: bool = False,
        secrets: Iterable[str] = (),
        color: bool = True,
        force_terminal: bool | None = None,
        width: int | None = None,
        refresh_per_second: float = 5,
    ) -> None:
        super().__init__(stdout=stdout, stderr=stderr, quiet=quiet, secrets=secrets)
        self.console = Console(
            file=stdout,
            force_terminal=force_terminal,
            width=width,
            no_color=not color,
            color_system="auto" if color else None,
            markup=False,
            emoji=False,
            highlight=False,
        )
        self._refresh = refresh_per_second
        self._state_lock = threading.Lock()
        self._rows: dict[str, LiveRow] = {}
        self._live: Live | None = None

    # -- the Reporter protocol (lines come from PlainReporter) -------------------

    def job_started(self, job: ResolvedJob, run: RunPlan, state: RunState, attached: bool) -> None:
        label = self._safe(run_label(job, run), job.secrets)
        with self._state_lock:
            self._rows[run.label] = LiveRow(label, job.name, state.status, time.monotonic())
        self._ensure_live()
        super().job_started(job, run, state, attached)

    def event(self, job: ResolvedJob, run: RunPlan, event: Event) -> None:
        text = " ".join(str(x) for x in (event.type, event.tool_name, event.message) if x)
        self._update(run, last=self._safe(text, job.secrets))
        super().event(job, run, event)

    def status(self, job: ResolvedJob, run: RunPlan, old: str | None, state: RunState) -> None:
        ended = time.monotonic() if state.terminal else None
        self._update(run, status=self._safe(state.status, job.secrets), ended=ended)
        super().status(job, run, old, state)

    def job_finished(self, job: ResolvedJob, results: tuple[RunResult, ...], outcome: str) -> None:
        with self._state_lock:
            for key in [k for k, row in self._rows.items() if row.job == job.name]:
                del self._rows[key]
        super().job_finished(job, results, outcome)

    def summary(self, results: tuple[RunResult, ...], exit_code: int) -> None:
        self._stop_live()
        with self._lock:
            if results:
                self.console.print()
                self.console.print(self._summary_table(results))
            self.console.print(Text(f"exit code {exit_code}", style=_exit_style(exit_code)))

    def close(self) -> None:
        self._stop_live()
        with self._lock:
            flush_quietly(self.console.file)
        super().close()

    # -- printing through the console ------------------------------------------

    def _job_write(self, job_name: str, line: str) -> None:
        text = Text(line)
        text.highlight_regex(LINE_PATTERN)
        with self._lock:
            self.console.print(text)

    def _write_notice(self, text: str, job: ResolvedJob | None, level: str) -> None:
        with self._lock:
            self.console.print(Text(text, style=LEVEL_STYLES.get(level, "")))

    def _summary_table(self, results: tuple[RunResult, ...]) -> Table:
        table = Table(*SUMMARY_HEADERS, box=None, pad_edge=False, header_style="bold")
        for result, cells in zip(results, summary_rows(results, self._secrets), strict=True):
            style = OUTCOME_STYLES.get(result.outcome, "")
            table.add_row(*(Text(c, style=style if i == 3 else "") for i, c in enumerate(cells)))
        return table

    # -- the live area ---------------------------------------------------------

    def _ensure_live(self) -> None:
        if self._quiet:
            return
        with self._lock:
            if self._live is None:
                self._live = Live(
                    console=self.console,
                    get_renderable=self._render,
                    refresh_per_second=self._refresh,
                    transient=True,
                    redirect_stdout=False,
                    redirect_stderr=False,
                )
                self._live.start()

    def _stop_live(self) -> None:
        with self._lock:
            live, self._live = self._live, None
        if live is not None:
            live.stop()

    def _update(self, run: RunPlan, **changes: Any) -> None:
        with self._state_lock:
            row = self._rows.get(run.label)
            if row is not None:
                for name, value in changes.items():
                    setattr(row, name, value)

    def _render(self) -> Group:
        """The live rows; called from rich's refresh thread."""
        now = time.monotonic()
        with self._state_lock:
            rows = list(self._rows.values())
        grid = Table.grid(padding=(0, 2))
        for _ in range(5):
            grid.add_column(no_wrap=True, overflow="ellipsis")
        for row in rows[:MAX_ROWS]:
            last = row.last if len(row.last) <= LAST_EVENT_WIDTH else row.last[:59] + "…"
            grid.add_row(
                row.spinner,
                Text(row.label, style="bold"),
                Text(row.status, style="cyan"),
                Text(format_duration((row.ended or now) - row.started), style="dim"),
                Text(last),
            )
        more = [Text(f"… and {len(rows) - MAX_ROWS} more running", style="dim")]
        return Group(grid, *(more if len(rows) > MAX_ROWS else []))


def _exit_style(exit_code: int) -> str:
    return "green" if exit_code == 0 else "bold red"
