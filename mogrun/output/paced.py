"""Lines for a pipe or a file, flushed in batches; a terminal gets each at once.

A line flushed on its own is one write system call, and under a fan-out's
many threads each call also hands the interpreter lock to another thread and
waits to take it back: nine lines per run cost about a quarter of a
millisecond of CPU per run (an ablation of 1,000-run fan-outs; side by side in
``bench/fanout.py`` the saving is within that machine's noise). A person at a
terminal sees every line as it is written; a pipe or a file (CI logs,
``| jq``) gets the lines at most ``FLUSH_DELAY`` later, several in one write.
The lines wait here, not in the stream's buffer: ``PYTHONUNBUFFERED`` (set
in many CI images) leaves stdout without one.

Nothing mogrun sees itself exit is lost: ``close`` flushes, and its writer
flushes these lines before it writes to its other stream, so that a log that
merges the two (``2>&1``) keeps their order. Only a kill mogrun cannot see
(``SIGKILL``) can drop the last ``FLUSH_DELAY`` of lines.
"""

from __future__ import annotations

import contextlib
import errno
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, TextIO

from mogrun.threads import NoThread, start_without_signals

FLUSH_DELAY = 0.05  # seconds a line may wait for the next batch's write
# Seconds a line on the other stream (a notice on stderr) waits for the batch before
# it to be written: a log merging the two (2>&1) keeps their order, and a reader that
# stopped reading stdout holds no notice, nor the run that reports it, for long.
GRACE = 0.5
# A line this long (a fan-out's job_finished or summary object: ~300 bytes a run)
# goes out at once: held for its batch and joined into it, it was three copies at
# the session's end (tracemalloc: 0.9 MB for 1,000 runs), and it saves no call.
LONG_LINE = 65536


class PacedLines:
    """Lines on ``stream``. ``lock`` is the writer's (re-entrant): ``flush`` and
    ``close`` expect it held. ``write`` may be called with it or without: a line that
    waits for its batch is only appended (a deque's append needs no lock), so the
    threads of a fan-out do not queue on one lock for every line.

    Only the flushing thread writes a batch, and never under ``lock``: a reader that
    stops reading (``| less``, a stalled log shipper, ``timeout`` killing a pipeline's
    last command) blocks that thread alone. Held under the writer's lock, it held
    every run's thread that reports, and the signal's own notice: the runs were not
    cancelled until the reader read again. ``flush`` (before a line on the other
    stream) waits for the batch at most ``GRACE``, then lets that line go first."""

    def __init__(self, stream: TextIO, lock: Any, *, paced: bool = True) -> None:
        self.stream = stream
        self._lock = lock
        self._now = not (paced and _batched(stream))
        self._pending: deque[str] = deque()  # lines not yet written, oldest first
        self._due = threading.Event()  # set while lines are pending
        self._urgent = threading.Event()  # a flush waits: no FLUSH_DELAY for this batch
        self._thread: threading.Thread | None = None
        self._out = threading.RLock()  # held while lines are written: one writer at a time
        # ``_busy``: lines taken and not yet written, under ``_settled``'s own lock.
        self._settled = threading.Condition(threading.RLock())
        self._busy = False
        # The thread taking and writing a batch (one at a time: ``_out``), if any.
        self._taker: int | None = None

    def write(self, text: str) -> None:
        """``text`` as one line; the lines of a batch go out in one ``write``, so
        no other writer splits one, in the order their ``write`` calls were made."""
        if self._now or len(text) > LONG_LINE:
            with self._lock:
                self._write_now(text)
            return
        self._pending.append(text)
        if self._now:  # closed (or left without a thread) since the check above
            with self._lock:
                self._write_now(None)
        elif not self._due.is_set():  # the flushing thread clears it before it takes
            self._wake()

    def _wake(self) -> None:
        """The flushing thread writes the pending lines within ``FLUSH_DELAY``."""
        self._due.set()
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is not None:  # another line's write started it meanwhile
                return
            try:
                self._thread = start_without_signals(self._flush_when_due, "mogrun-lines")
            except NoThread:  # no thread to batch them: each line is written at once
                self._now = True
                self._write_now(None)

    def write_pieces(self, pieces: Iterable[str]) -> None:
        """One line made of ``pieces``, taken as they come and written in chunks of
        about ``LONG_LINE`` (never joined whole): a fan-out's ``summary`` is ~300
        bytes a run, and made whole it was three copies of itself at the end."""
        with self._lock:
            self._write_now(pieces)

    def flush(self) -> None:
        """Have the pending lines written now (before a line on another stream): by
        this thread when there is no flushing thread, else by that thread, waited
        for at most ``GRACE``."""
        if self._taker == threading.get_ident():  # a signal's notice inside this thread's
            return  # own batch: the lines it did not take wait for the next one
        if self._thread is None or self._now:
            self._write_now(None)
            return
        with self._settled:
            if not (self._pending or self._busy):
                return
            self._urgent.set()
            self._due.set()
            self._settled.wait_for(lambda: not (self._pending or self._busy), GRACE)

    def close(self) -> None:
        """Write what is pending, as long as the reader takes (as any program's
        output waits for its reader); any later line is written at once, and the
        flushing thread ends."""
        self._now = True  # first: a line appended after the write below writes itself
        self._write_now(None)
        flush_quietly(self.stream)
        self._due.set()  # wakes the thread, which sees ``_now`` and ends

    def _write_now(self, line: str | Iterable[str] | None) -> None:
        """On this thread: the pending lines, then ``line`` (if any), in their order
        (after the batch the flushing thread may be writing)."""
        with self._out:
            self._write_batch()
            if line is not None:
                write_line(self.stream, line)

    def _write_batch(self) -> None:
        """Take every pending line and write them as one batch (under ``_out``)."""
        me = threading.get_ident()
        if self._taker == me:  # a signal's notice, on this thread, inside this very batch:
            return  # the lines it did not take wait for the next one, in their order
        with self._settled:
            self._busy = True
        self._taker = me
        lines: list[str] = []
        try:
            with contextlib.suppress(IndexError):  # taken in order, as they were appended
                while True:
                    lines.append(self._pending.popleft())
            if lines:
                write_line(self.stream, "\n".join(lines))
        except RuntimeError:  # see flush_quietly: the lines wait for the next batch
            self._pending.extendleft(reversed(lines))
        finally:
            self._taker = None
            with self._settled:
                self._busy = False
                self._settled.notify_all()

    def _flush_when_due(self) -> None:
        while True:
            self._due.wait()
            self._urgent.wait(FLUSH_DELAY)  # a batch gathers, unless a flush waits
            if self._now:
                return
            self._urgent.clear()
            self._due.clear()  # before the lines are taken: a later one sets it again
            with self._out:
                self._write_batch()


def _batched(stream: TextIO) -> bool:
    """A pipe or a file: a descriptor that is not a terminal. A stream without one
    (``StringIO``) makes no system call to save, and shows each line at once."""
    try:
        stream.fileno()
        return not stream.isatty()
    except (OSError, ValueError, AttributeError):  # closed, or not a real file
        return False


def write_line(stream: TextIO, text: str | Iterable[str]) -> None:
    """One write per line (or batch of lines), so that other writers on the stream
    cannot split one; a line given in pieces (longer than a pipe writes at once
    anyway) is written in chunks of about ``LONG_LINE``. A closed or broken stream
    (``| head``) must never crash the runs. Output lost otherwise (a full
    disk, ``lost_by``) is remembered: the exit code says it."""
    try:  # not suppress(): a fan-out writes thousands of lines, each a context manager
        if isinstance(text, str):
            stream.write(text + "\n")
        else:
            _write_chunked(stream, text)
        stream.flush()
    except OSError as exc:
        if lost_by(exc):
            note_lost(exc)
        flush_quietly(stream)
    except ValueError:
        flush_quietly(stream)


class UnfailingStream:
    """``stream`` for a writer mogrun does not own (rich's ``Console``), whose
    writes fail as ``write_line``'s never do: output lost is remembered (the exit
    code says it), a reader that left or a closed stream is let go, and nothing
    raises into the run. A terminal closed under the live view (EIO at its last
    frame) must not replace the session's exit code (129 for that SIGHUP)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._quietly(self._stream.write, text)
        return len(text)  # (a text stream's count, whether it got there or not)

    def flush(self) -> None:
        self._quietly(self._stream.flush)

    @staticmethod
    def _quietly(call: Callable[..., object], *args: str) -> None:
        try:
            call(*args)
        except OSError as exc:
            if lost_by(exc):
                note_lost(exc)
        except ValueError:  # closed
            pass

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding: the stream's
        return getattr(self._stream, name)


def _write_chunked(stream: TextIO, pieces: Iterable[str]) -> None:
    chunk: list[str] = []
    size = 0
    for piece in pieces:
        chunk.append(piece)
        size += len(piece)
        if size >= LONG_LINE:
            stream.write("".join(chunk))
            chunk, size = [], 0
    chunk.append("\n")
    stream.write("".join(chunk))


# The one write error that loses nothing a reader wanted: the reader left (``| head``).
READER_LEFT = frozenset({errno.EPIPE})
# What a write to a stream meets (a full disk, ``1<file``, a non-blocking pipe): an
# OSError that ends a command with one of these is its output's, any other is a bug.
WRITE_FAILURES = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF,
                            errno.EAGAIN, errno.EWOULDBLOCK})
_LOST: list[Lost] = []  # the first such error, on any stream or file of the process


OUTPUT_LOST = 74  # sysexits EX_IOERR: the command's output could not be written


class Lost(NamedTuple):
    """Output that could not be written: why, and what it was (said at the exit)."""

    error: OSError
    what: str = "the output"


def reader_gone(stream: Any) -> bool:
    """Whether ``stream`` is a pipe whose reader has left, asked without writing:
    Linux says so of a pipe's write end (``POLLERR``). A command that writes only
    as its runs give it something (``logs --follow JOB | grep -m1 ready``) learnt
    it at its next write, minutes later for a quiet agent. False where it cannot
    be told (a terminal, a file, no ``poll``)."""
    import select

    if not hasattr(select, "poll"):
        return False
    try:
        fd = stream.fileno()
        watch = select.poll()
        watch.register(fd, 0)  # no events asked: errors and hang-ups come anyway
        return any(flags & (select.POLLERR | select.POLLHUP) for _, flags in watch.poll(0))
    except (AttributeError, OSError, ValueError):  # no file behind it (a test's buffer)
        return False


def lost_output() -> Lost | None:
    """The first output lost (stdout's, an NDJSON copy of it, stderr's, a GitHub
    step file's), if any."""
    return _LOST[0] if _LOST else None


def lost_by(error: OSError) -> bool:
    """Whether a write's ``error`` lost output a reader wanted: every one but a
    reader that left. Not only a full disk (ENOSPC, EDQUOT, EFBIG, EIO): a
    descriptor opened for reading (``1<file``: EBADF) lost every line with exit 0."""
    return error.errno not in READER_LEFT


def note_lost(error: OSError, what: str = "the output") -> None:
    """Output that could not be written, whatever the stream or file: remembered,
    with ``what`` it was (``$GITHUB_OUTPUT (/tmp/out)``) for the exit's message."""
    if not _LOST:
        _LOST.append(Lost(error, what))


def forget_lost() -> None:
    """A new invocation in this process (an embedder's, a test's) starts with none."""
    _LOST.clear()


def settled_exit_code(code: int) -> int:
    """``code``, but 74 for a 0 when output was lost: the one rule for the process's
    exit code and for the ``exit_code`` a GitHub step's outputs and summary give."""
    return OUTPUT_LOST if code == 0 and _LOST else code


def flush_quietly(stream: Any) -> None:
    """Flush, ignoring a closed or broken stream: output must never crash a run.
    A flush or write from a signal's handler (a notice flushes stdout's lines)
    that lands inside a write to the same stream is refused by ``io``
    (``RuntimeError``); that write's own flush follows."""
    with contextlib.suppress(OSError, ValueError, RuntimeError):
        stream.flush()
