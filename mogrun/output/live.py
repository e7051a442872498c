"""The terminal view: every run of the invocation in a live area, events above it.

Lines are the plain reporter's (same text, same masking and escaping) printed
through a rich Console so that they land above the live area. The live area
is the ``Board`` (``board.py``): one row per run of the invocation (queued,
blocked by needs, waiting with its countdown, running, done) under a
progress line. rich is imported here only, and this module only when stdout
is a terminal.

Locking: ``_lock`` (the plain reporter's) serialises printing; the board
has its own lock and is never held while calling rich, because rich's
refresh thread holds its own lock while it asks ``_render`` for the rows.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TextIO, cast

from rich.console import Console, ConsoleDimensions, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from mogrun.models import ResolvedJob, RunPlan
from mogrun.output.board import DONE, RUNNING, WAITING, Board
from mogrun.output.paced import FLUSH_DELAY, UnfailingStream, flush_quietly
from mogrun.output.plain import PlainReporter
from mogrun.output.tables import (
    STATUS_COLUMN,
    SUMMARY_HEADERS,
    render_stacked,
    summary_rows,
    table_width,
)
from mogrun.runs import Event, RunResult, RunState
from mogrun.tables import as_printed, cell_width, is_terminal
from mogrun.threads import start_without_signals
from mogrun.waits import Wait

LAST_EVENT_WIDTH = 60
LINE_BATCH = FLUSH_DELAY  # seconds a line may wait to go above the area with others
PHASE_STYLES = {RUNNING: "cyan", WAITING: "yellow", DONE: "dim"}
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
        command: str = "mogrun",
    ) -> None:
        super().__init__(stdout=stdout, stderr=stderr, quiet=quiet, secrets=secrets,
                         command=command)
        self.console = ScreenConsole(
            # a write rich makes that fails (a terminal closed under it: EIO) is output
            # lost, said by the exit code, never an error out of the session
            file=cast(TextIO, UnfailingStream(stdout)),  # (the stream's own, passed on)
            force_terminal=force_terminal,
            width=width,
            no_color=not color,
            color_system="auto" if color else None,
            markup=False,
            emoji=False,
            highlight=False,
        )
        self._refresh = refresh_per_second
        self.board = Board()
        self._live: LiveArea | None = None
        self._err_on_screen = is_terminal(stderr)  # the screen the live area is on
        self._batch: list[Text] = []  # lines waiting to go above the area together
        self._due = threading.Event()  # set while some do
        self._tty = _tty_fd(stdout)
        self._suspend_before = _on_suspend(self._tty, self._stopped)
        self._marks = marks_for(stdout)

    # -- the Reporter protocol (lines come from PlainReporter) -------------------

    def session_started(self, jobs: Sequence[ResolvedJob]) -> None:
        super().session_started(jobs)
        self.board.plan(jobs)
        self._ensure_live()

    def job_started(self, job: ResolvedJob, run: RunPlan, state: RunState, attached: bool) -> None:
        state = self._safe_state(state, job)
        self.board.started(job, run, self._safe(job.label_of(run), job.secrets), state)
        self._ensure_live()
        super().job_started(job, run, state, attached)

    def event(self, job: ResolvedJob, run: RunPlan, event: Event) -> None:
        text = " ".join(str(x) for x in (event.type, event.tool_name, event.message) if x)
        self.board.event(run, self._safe(text, job.secrets))
        super().event(job, run, event)

    def status(self, job: ResolvedJob, run: RunPlan, old: str | None, state: RunState) -> None:
        self.board.status(run, self._safe_state(state, job))
        super().status(job, run, old, state)

    def wait(self, wait: Wait) -> None:
        self.board.wait(wait)
        self._ensure_live()
        super().wait(wait)

    def trace(self, line: str) -> None:
        """Above the live area when stderr is this screen; a ``2>file`` keeps its own."""
        if self._quiet or not self._err_on_screen:
            super().trace(line)
        else:
            self._print_line(Text(self._marks.printed(line)))

    def job_finished(self, job: ResolvedJob, results: tuple[RunResult, ...], outcome: str) -> None:
        self.board.finished(job, results)
        super().job_finished(job, results, outcome)

    def summary(self, results: tuple[RunResult, ...], exit_code: int,
                rerun: str | None = None) -> None:
        self._stop_live()
        results = self.ordered(results)
        with self._lock:
            if results:
                self.console.print()
                self.console.print(self._summary_table(results))
            for line in self.summary_tail(results, exit_code, rerun)[:-1]:
                self.console.print(Text(line))
            self.console.print(Text(f"exit code {exit_code}", style=_exit_style(exit_code)))

    def close(self) -> None:
        self._stop_live()
        with self._lock:
            flush_quietly(self.console.file)
        if self._suspend_before is not None:
            _restore_suspend(self._suspend_before)
            self._suspend_before = None
        super().close()

    # -- printing through the console ------------------------------------------

    def _job_write(self, job_name: str, line: str) -> None:
        text = Text(self._marks.printed(line))  # wrapped as it will be written
        text.highlight_regex(LINE_PATTERN)
        self._print_line(text)

    def _wait_write(self, wait: Wait, line: str) -> None:
        self._job_write(wait.job or "", line)

    def _write_notice(self, text: str, job: ResolvedJob | None, level: str, *,
                      run: RunPlan | None = None) -> None:
        """Above the live area when stderr is this screen; a ``2>file`` gets its own
        (notices go to stderr in every mode), as ``trace`` does."""
        if not self._err_on_screen:
            super()._write_notice(text, job, level, run=run)
            return
        self._print_line(Text(self._marks.printed(text), style=LEVEL_STYLES.get(level, "")))

    def print_above(self, line: str) -> None:
        """A line a plugin's hook printed (``CliState.plugin_prints_above``): above
        the area, whole, as mogrun's own lines go; written to the terminal as it
        was, it landed on the progress line and the next frame erased it."""
        self._print_line(Text(line))

    def _print_line(self, text: Text) -> None:
        """One line above the live area (rich clears the area, prints, redraws it),
        whole: a long one is wrapped, never cut. While the area is up, lines
        wait up to ``LINE_BATCH`` to go out together: each print redraws the
        whole area, and a fan-out prints thousands of lines (300 runs drew
        20,000 rows, 8 MB, and took 18 s of CPU where plain lines take 1.3)."""
        with self._lock:
            if self._live is None:
                self.console.print(text)
                return
            self._batch.append(text)
            if not self._due.is_set():
                self._due.set()

    def _print_batches(self) -> None:
        """The batching thread: one print of the lines gathered, ``LINE_BATCH``
        after the first of them; it ends with the live area."""
        while True:
            self._due.wait()
            time.sleep(LINE_BATCH)
            with self._lock:
                self._flush_batch()
                if self._live is None:
                    return

    def _flush_batch(self) -> None:
        """The lines waiting, in one print (the lock held)."""
        lines, self._batch = self._batch, []
        self._due.clear()
        if lines:
            self.console.print(Group(*lines))

    def _summary_table(self, results: tuple[RunResult, ...]) -> Table | Text:
        """A table when it fits the terminal; else one block per run, so that
        no cell (a run id above all) is cut into a look-alike. Judged by the
        console's width, the one it is drawn at (``ScreenConsole``)."""
        if table_width(results, self._secrets) > self.console.width:
            return Text(render_stacked(results, self._secrets))
        table = Table(*SUMMARY_HEADERS, box=None, pad_edge=False, header_style="bold")
        for result, cells in zip(results, summary_rows(results, self._secrets), strict=True):
            style = OUTCOME_STYLES.get(result.outcome, "")
            table.add_row(*(Text(c, style=style if i == STATUS_COLUMN else "")
                            for i, c in enumerate(cells)))
        return table

    def _safe_state(self, state: RunState, job: ResolvedJob) -> RunState:
        """The status as shown: masked and escaped like every other cell."""
        import dataclasses

        return dataclasses.replace(state, status=self._safe(state.status, job.secrets))

    # -- the live area ---------------------------------------------------------

    def _ensure_live(self) -> None:
        if self._quiet:
            return
        with self._lock:
            if self._live is None:
                self._live = LiveArea(
                    console=self.console,
                    get_renderable=self._render,
                    refresh_per_second=self._refresh,
                    transient=True,
                    redirect_stdout=False,
                    redirect_stderr=False,
                )
                self._live.tty = self._tty
                self._live.start()
                start_without_signals(self._print_batches, "mogrun-live-lines")

    def _stop_live(self) -> None:
        with self._lock:
            self._flush_batch()  # above the area, before it goes
            live, self._live = self._live, None
            self._due.set()  # wakes the batching thread, which sees no area and ends
        if live is not None:
            live.stop()

    def _render(self) -> Group:
        """The progress line and the rows; called from rich's refresh thread.
        Every line fits the screen as it is now, so rich's redraw (cursor up
        one line a row) lands on the area it drew: a wrapped row left stale
        copies in the scrollback at every frame."""
        # the screen's own size (``ScreenConsole``): a frame is drawn at the width it
        # was laid out for
        columns, height = self.console.size
        room = max(1, height - 2)  # the area's lines: a short screen may show no row
        rows, hidden = self._rows(room - 1)
        progress = self._progress_lines(hidden, columns)
        if len(rows) + len(progress) > room:  # a narrow screen: fewer rows, so it fits
            rows, hidden = self._rows(max(0, room - len(progress)))
            progress = _fitted(self._progress_lines(hidden, columns), room - len(rows),
                               keep_last=bool(hidden))
        widths = [max((cell_width(r[i]) for r in rows), default=0) for i in range(4)]
        # phase, status and elapsed keep their width: a long job:owner/name gives way
        widths[0] = max(LABEL_LEAST, min(widths[0], columns - sum(widths[1:]) - 8))
        return Group(*(_row_text(row, widths, columns, self._marks) for row in rows),
                     *progress)

    def _rows(self, limit: int) -> tuple[list[tuple[str, ...]], int]:
        """The board's rows as the stream writes them (``caf\\xe9`` on an ASCII one),
        so that they are measured as they will take the screen."""
        rows, hidden = self.board.rows(limit)
        return [tuple(self._marks.printed(cell) for cell in row) for row in rows], hidden

    def _progress_lines(self, hidden: int, columns: int) -> list[Text]:
        """The progress line, wrapped at its ``·`` on a narrow screen (the count
        of rows not shown must stay in sight), each line cut to fit."""
        sep = self._marks.sep
        progress = self.board.progress(sep) + (f"{sep}{hidden} more not shown" if hidden else "")
        lines: list[str] = []
        for part in progress.split(sep):
            if lines and cell_width(lines[-1] + sep + part) <= columns:
                lines[-1] += sep + part
            else:
                lines.append(part)
        return [_cut(Text(line, style="bold"), columns, self._marks.ellipsis) for line in lines]

    @contextlib.contextmanager
    def _stopped(self) -> Iterator[None]:
        """Around the stop of Ctrl-Z (SIGTSTP). Before it, the live area is erased and
        the cursor it hid is shown: the frozen board stayed above the shell's
        ``Stopped`` line, which came back without a cursor. After ``fg`` the area's
        old height is forgotten, so the next frame starts below what the shell
        printed meanwhile: moving up over the old area erased ``$ fg`` and the
        prompt. The printing locks are held throughout, so that no frame is drawn
        between the erase and the stop, nor over the shell's lines after it."""
        live = self._live
        if live is None or self._tty is None:
            yield
            return
        with _held(self._lock), _held(live.lock):
            _write_quietly(self._tty, live.erasing() + SHOW_CURSOR)
            try:
                yield
            finally:
                live.forget_height()
                if self._live is live and live.in_foreground():
                    _write_quietly(self._tty, HIDE_CURSOR)
                elif self._live is live:  # `bg`: the shell owns the screen, and its cursor
                    live.went_away()


LABEL_LEAST = 12  # the fewest cells a row's label is cut to on a narrow screen


def _fitted(lines: list[Text], room: int, *, keep_last: bool) -> list[Text]:
    """The first ``room`` of the progress line's ``lines``, but with its last one,
    the count of rows not shown, kept in sight (``keep_last``): on a short, narrow
    screen it was the one cut, and every row was hidden with nothing saying so."""
    if len(lines) <= room or not keep_last:
        return lines[:room]
    return [*lines[:max(0, room - 1)], lines[-1]] if room > 0 else []


class ScreenConsole(Console):
    """A Console as wide as the screen it writes to, asked at each use (a resize
    counts at once): a summary is judged to fit by the width it is drawn at, and
    every line is laid out at it. rich's own takes ``COLUMNS`` at its word (one
    narrower than the screen cut run ids, a wider one wrapped rows) and fixes a
    dumb terminal at 80 columns, which cut a table judged for 100. Where the file
    is no terminal (a test's buffer) or one that says 0 (a bare pty), rich's size."""

    @property
    def size(self) -> ConsoleDimensions:
        try:
            screen = os.get_terminal_size(self.file.fileno())
        except (AttributeError, OSError, ValueError):
            return super().size
        if screen.columns and screen.lines:
            return ConsoleDimensions(screen.columns, screen.lines)
        own = super().size
        return ConsoleDimensions(screen.columns or own.width, screen.lines or own.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self.width, self.height = new_size


class LiveArea(Live):
    """rich's Live, with what Ctrl-Z needs of it that rich keeps to itself, drawn
    only while mogrun is its terminal's foreground job: after Ctrl-Z and ``bg``
    (or ``mogrun ... &``) the shell owns the screen, and each frame moved the
    cursor up over its prompt and what it printed, erasing the user's own lines,
    with the cursor hidden. In the background lines go out plain, no area is
    drawn and the cursor stays shown; back in front (``fg``), the area is drawn
    anew below what the shell printed meanwhile."""

    tty: int | None = None  # the terminal's descriptor (``None``: always in front)
    _away = False  # in the background when last looked

    def in_foreground(self) -> bool:
        """Whether this process's group is its terminal's foreground one."""
        if self.tty is None:
            return True
        try:
            return os.tcgetpgrp(self.tty) == os.getpgrp()
        except OSError:  # no longer a terminal of ours: draw as before
            return True

    def went_away(self) -> None:
        """In the background now: nothing drawn is moved over again, and the
        cursor rich hid is the shell's to show (it is shown, by whoever left)."""
        self._away = True
        self.forget_height()

    def refresh(self) -> None:
        with self._lock:
            if self._here():
                super().refresh()

    def process_renderables(self, renderables: list[Any]) -> list[Any]:
        """Lines printed in the background go out as they are, with no area. In
        front, the area drawn again below them is the board as it is now: rich
        redrew its last frame, so a run that had just ended stayed "running"
        under its own result line until the next refresh."""
        with self._lock:
            here = self._here()
            if here:  # the cursor still moves up by the height last drawn
                self._live_render.set_renderable(self.renderable)
        return super().process_renderables(renderables) if here else renderables

    def _here(self) -> bool:
        """Whether to draw (the lock held); what a move to or from the foreground
        asks of the screen is done as it is seen."""
        front = self.in_foreground()
        if self.tty is None or front != self._away:
            return front  # no move
        if front:
            self._away = False
            self.forget_height()
            _write_quietly(self.tty, HIDE_CURSOR)
        else:
            self.went_away()
            _write_quietly(self.tty, SHOW_CURSOR)
        return front

    @property
    def lock(self) -> threading.RLock:
        """Held by rich while it draws a frame."""
        return self._lock

    def erasing(self) -> bytes:
        """The bytes that erase the area last drawn, leaving the cursor at its top
        (none from a rich without the parts this reads: a signal's handler must not
        raise)."""
        try:
            return self._live_render.position_cursor().segment.text.encode()
        except AttributeError:
            return b""

    def forget_height(self) -> None:
        """The next frame is drawn where the cursor is, erasing nothing above it."""
        with contextlib.suppress(AttributeError):
            self._live_render._shape = None


SHOW_CURSOR, HIDE_CURSOR = b"\x1b[?25h", b"\x1b[?25l"
LOCK_PATIENCE = 0.5  # seconds Ctrl-Z waits for a frame being drawn to be done


def _tty_fd(stream: TextIO) -> int | None:
    """``stream``'s file descriptor when it is a terminal, else ``None``."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return fd if os.isatty(fd) else None


@contextlib.contextmanager
def _held(lock: threading.RLock) -> Iterator[None]:
    """``lock``, if it comes within ``LOCK_PATIENCE``: in a signal handler, this
    thread may hold what the holder waits for (the board's lock), so Ctrl-Z goes
    on without it rather than never stopping."""
    got = lock.acquire(timeout=LOCK_PATIENCE)
    try:
        yield
    finally:
        if got:
            lock.release()


def _on_suspend(fd: int | None,
                around_stop: Callable[[], contextlib.AbstractContextManager[None]]) -> Any:
    """Ctrl-Z (SIGTSTP) on a terminal: the process stops inside ``around_stop()``,
    which readies the screen for the shell and for the return. Returns the
    handler it replaced (``None`` where none is set: no terminal, not the main
    thread, no SIGTSTP)."""
    import signal

    tstp = getattr(signal, "SIGTSTP", None)
    if (tstp is None or fd is None
            or threading.current_thread() is not threading.main_thread()):
        return None

    def suspend(signum: int, frame: Any) -> None:
        with around_stop():
            signal.signal(tstp, signal.SIG_DFL)
            os.kill(os.getpid(), tstp)  # stopped here until the shell's fg or bg (SIGCONT)
            signal.signal(tstp, suspend)

    try:
        return signal.signal(tstp, suspend)
    except (OSError, ValueError):
        return None


def _restore_suspend(before: Any) -> None:
    import signal

    signal.signal(signal.SIGTSTP, before)


def _write_quietly(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):  # a terminal gone: nothing to show the cursor on
        os.write(fd, data)


def _row_text(row: tuple[str, ...], widths: list[int], columns: int, marks: Marks) -> Text:
    """``label  phase  status  elapsed  detail``: the first four keep their
    width, the detail (the last event, a wait's reason) takes what is left; a
    screen too narrow for even those cuts the row. One line, never wrapped."""
    label, phase, status, elapsed, detail = row
    label = _shortened(label, widths[0], marks.ellipsis)
    text = Text(no_wrap=True, overflow="ellipsis")
    styles = ("bold", PHASE_STYLES.get(phase, ""), OUTCOME_STYLES.get(status, ""), "dim")
    for cell, width, style in zip((label, phase, status, elapsed), widths, styles, strict=True):
        text.append(cell, style=style)
        text.append(" " * (width - cell_width(cell) + 2))
    if phase != WAITING and len(detail) > LAST_EVENT_WIDTH:
        detail = detail[: LAST_EVENT_WIDTH - len(marks.ellipsis)] + marks.ellipsis
    text.append(detail)
    text.rstrip()
    return _cut(text, columns, marks.ellipsis)


def _shortened(label: str, width: int, ellipsis: str) -> str:
    """``label`` in ``width`` cells, cut in the middle when longer: the end of
    ``job:owner/name`` is what tells a fan-out's rows apart (``…-backend`` and
    ``…-frontend``), so the job's start and the repo's end stay."""
    if cell_width(label) <= width:
        return label
    head_room = max(1, (width - len(ellipsis)) // 3)
    head = ""
    for char in label:
        if cell_width(head + char) > head_room:
            break
        head += char
    tail = ""
    for char in reversed(label):
        if cell_width(head + ellipsis + char + tail) > width:
            break
        tail = char + tail
    return head + ellipsis + tail


def _cut(text: Text, columns: int, ellipsis: str) -> Text:
    """``text`` on one line of at most ``columns`` cells, its end ``ellipsis`` if cut
    (rich's own is always ``…``, which an ASCII stream writes as six characters)."""
    text.no_wrap, text.overflow = True, "ellipsis" if ellipsis == UNICODE.ellipsis else "crop"
    if text.cell_len > columns:
        text.truncate(max(0, columns - cell_width(ellipsis)), overflow="crop")
        text.append(ellipsis)
        text.truncate(max(1, columns), overflow="crop")  # a screen narrower than the ellipsis
    return text


class Marks(NamedTuple):
    """The view's own decorations, in characters its stream can write, and how
    that stream writes the rest: a row is cut to the screen's width as it will
    be printed. On an ASCII stream ``…`` was written ``\\u2026`` after the row was
    cut to fit, and every row wrapped, leaving stale copies at each redraw."""

    ellipsis: str
    sep: str
    encoding: str | None = None  # a stream that escapes what it cannot encode

    def printed(self, text: str) -> str:
        """``text`` as the stream writes it (the CLI has it ``backslashreplace``)."""
        return text if self.encoding is None else as_printed(text, self.encoding)


UNICODE = Marks("…", " · ")


def marks_for(stream: TextIO) -> Marks:
    """``UNICODE``'s marks where ``stream``'s encoding has them, else ASCII ones."""
    try:
        encoding = codecs.lookup(getattr(stream, "encoding", None) or "utf-8").name
    except LookupError:
        encoding = "ascii"
    if encoding == "utf-8":
        return UNICODE

    def writable(mark: str, instead: str) -> str:
        try:
            mark.encode(encoding)
        except UnicodeEncodeError:
            return instead
        return mark

    return Marks(writable(UNICODE.ellipsis, "..."), writable(UNICODE.sep, " - "), encoding)


def _exit_style(exit_code: int) -> str:
    return "green" if exit_code == 0 else "bold red"
