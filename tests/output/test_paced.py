"""Paced lines: a pipe gets its lines in batches, a terminal each at once, and a
log merging stdout and stderr keeps their order."""

from __future__ import annotations

import contextlib
import io
import os
import pty
import re
import select
import threading
import time
from collections import deque

import pytest

from mogrun.output.ndjson import NdjsonReporter
from mogrun.output.paced import FLUSH_DELAY, LONG_LINE, PacedLines
from mogrun.output.plain import PlainReporter

from .values import make_event, make_job


def pipe_streams():
    """``(reader_fd, stdout, stderr)``: both streams write to one pipe, as ``2>&1`` does."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    out = open(os.dup(write_fd), "w", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    err = open(write_fd, "w", encoding="utf-8")  # noqa: SIM115
    return read_fd, out, err


@pytest.fixture
def merged():
    read_fd, out, err = pipe_streams()
    yield read_fd, out, err
    out.close()
    err.close()
    os.close(read_fd)


def drain(fd: int, wait: float = 0.0) -> str:
    """What the pipe holds now (after ``wait`` seconds, if given)."""
    if wait:
        time.sleep(wait)
    chunks = []
    while select.select([fd], [], [], 0)[0]:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


class CountingStream(io.StringIO):
    """Counts its writes, and the flushes that found something new to give the
    file: an unbuffered stdout (``PYTHONUNBUFFERED``) makes each write a system
    call, so the batch must be one write, not one flush."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd  # a pipe's: a stream with a descriptor is batched
        self.writes = 0
        self.flushes = 0
        self._flushed_at = 0

    def fileno(self) -> int:
        return self._fd

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def flush(self) -> None:
        if self.tell() != self._flushed_at:
            self.flushes += 1
            self._flushed_at = self.tell()


def test_a_pipe_gets_a_line_within_the_delay_and_many_lines_in_one_write(merged):
    read_fd, out, _ = merged
    lock = threading.RLock()  # re-entrant, as every writer's is
    lines = PacedLines(out, lock)
    with lock:
        lines.write("first")
    assert drain(read_fd) == ""  # not yet: it waits for its batch
    assert drain(read_fd, wait=FLUSH_DELAY * 6) == "first\n"
    stream = CountingStream(read_fd)
    counted = PacedLines(stream, lock)
    with lock:
        for n in range(500):
            counted.write(f"line {n}")
    time.sleep(FLUSH_DELAY * 6)
    assert stream.getvalue().splitlines() == [f"line {n}" for n in range(500)]
    assert (stream.writes, stream.flushes) == (1, 1)


def test_a_terminal_gets_every_line_at_once():
    primary, secondary = pty.openpty()
    tty = open(secondary, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        lines = PacedLines(tty, threading.RLock())
        lines.write("now")
        ready = select.select([primary], [], [], 1.0)[0]
        assert ready and b"now" in os.read(primary, 1024)
    finally:
        tty.close()
        os.close(primary)


@pytest.mark.parametrize("reporter", [PlainReporter, NdjsonReporter])
def test_a_notice_on_stderr_comes_after_the_stdout_lines_before_it(merged, reporter):
    read_fd, out, err = merged
    rep = reporter(stdout=out, stderr=err)
    job = make_job()
    rep.event(job, job.runs[0], make_event("cloning"))
    rep.notice("slow plugin", level="warning")
    said = drain(read_fd)  # the notice went out at once, the line before it too
    assert "cloning" in said and "warning: slow plugin" in said
    assert said.index("cloning") < said.index("warning: slow plugin")
    rep.event(job, job.runs[0], make_event("pushed"))
    rep.close()
    assert "pushed" in drain(read_fd)  # close writes what waits


def test_close_flushes_later_lines_go_out_at_once_and_the_thread_ends():
    stream = CountingStream(fd=2)  # any descriptor: only its existence is asked
    lock = threading.RLock()
    lines = PacedLines(stream, lock)
    with lock:
        lines.write("before close")
        thread = lines._thread
        lines.close()
    assert (stream.getvalue(), stream.flushes) == ("before close\n", 1)
    with lock:
        lines.write("after close")
    assert (stream.getvalue(), stream.flushes) == ("before close\nafter close\n", 2)
    assert thread is not None
    thread.join(FLUSH_DELAY * 20)
    assert not thread.is_alive()


def test_a_broken_pipe_is_never_an_error(monkeypatch):
    failures = []
    monkeypatch.setattr(threading, "excepthook", failures.append)
    read_fd, out, err = pipe_streams()
    os.close(read_fd)  # the reader went away (``| head``)
    rep = PlainReporter(stdout=out, stderr=err)
    job = make_job()
    for n in range(50):
        rep.event(job, job.runs[0], make_event(f"line {n}"))
    time.sleep(FLUSH_DELAY * 4)  # the flushing thread meets the broken pipe
    rep.notice("still fine", level="warning")
    rep.close()
    assert rep._lines._thread is not None and failures == []
    for stream in (out, err):
        with contextlib.suppress(BrokenPipeError):
            stream.close()


def test_a_stream_without_a_descriptor_shows_each_line_at_once():
    stream = io.StringIO()
    lines = PacedLines(stream, threading.RLock())
    lines.write("now")
    assert stream.getvalue() == "now\n" and lines._thread is None


def test_a_long_line_goes_out_at_once_after_the_lines_before_it():
    """A fan-out's summary is one line of ~300 bytes a run: held for a batch and
    joined into it, it would be copied twice more."""
    stream = CountingStream(fd=2)
    lock = threading.RLock()  # re-entrant, as every writer's is
    lines = PacedLines(stream, lock)
    long = "x" * (LONG_LINE + 1)
    with lock:
        lines.write("short")
        lines.write(long)
    assert stream.getvalue() == f"short\n{long}\n"


def test_many_writers_keep_whole_lines_their_order_and_stdout_before_stderr(merged):
    """Eight threads write events and now and then a notice through one reporter to
    one merged pipe (``2>&1``), with the flushing thread cutting batches as it
    pleases: every line arrives whole, each writer's lines in its order, and each
    notice after every line its writer wrote before it."""
    read_fd, out, err = merged
    rep = PlainReporter(stdout=out, stderr=err)
    writers, lines_each = 8, 150
    received: list[bytes] = []
    reading = threading.Event()

    def read() -> None:
        while not reading.is_set() or select.select([read_fd], [], [], 0.2)[0]:
            if select.select([read_fd], [], [], 0.05)[0]:
                with contextlib.suppress(BlockingIOError):
                    received.append(os.read(read_fd, 65536))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def write(w: int) -> None:
        job = make_job(f"w{w}", secrets=())
        for n in range(lines_each):
            rep.event(job, job.runs[0], make_event(f"line-{w}-{n}"))
            if n % 37 == 0:
                rep.notice(f"note-{w}-{n}", level="warning")
                time.sleep(0.001)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rep.close()
    reading.set()
    reader.join(10)
    said = b"".join(received).decode().splitlines()
    position: dict[str, int] = {}
    for index, line in enumerate(said):
        word = line.split()[-1]
        assert re.fullmatch(r"(line|note)-\d+-\d+", word), line  # whole lines only
        position[word] = index
    for w in range(writers):
        order = [position[f"line-{w}-{n}"] for n in range(lines_each)]
        assert order == sorted(order)
        for n in range(0, lines_each, 37):
            assert position[f"line-{w}-{n}"] < position[f"note-{w}-{n}"]


class ReentrantOnce(CountingStream):
    """A stream whose first write is refused as ``io`` refuses a write from a
    signal's handler that lands inside another write to the same stream."""

    def write(self, text: str) -> int:
        if not getattr(self, "refused", False):
            self.refused = True
            raise RuntimeError("reentrant call inside <_io.BufferedWriter name='<stdout>'>")
        return super().write(text)


def test_a_refused_write_keeps_its_lines_for_the_next_flush():
    stream = ReentrantOnce(fd=2)
    lock = threading.RLock()
    lines = PacedLines(stream, lock)
    with lock:
        lines.write("first")
        lines.flush()  # refused: a signal's notice inside a write, say
        lines.write("second")
        lines.flush()
    assert stream.getvalue() == "first\nsecond\n"


@pytest.mark.parametrize("reporter", [NdjsonReporter, PlainReporter])
def test_an_event_line_is_not_held_by_a_write_a_full_pipe_blocks(reporter):
    """``| slow-consumer``: the flushing thread blocks in ``write`` on a full pipe,
    holding the writer's lock. The runs' threads only append their lines: an
    event is not held up until the reader reads, so polls and timeouts go on;
    once it reads, every line arrives whole and in order."""
    read_fd, write_fd = os.pipe()
    out = open(write_fd, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    rep = reporter(stdout=out, stderr=io.StringIO())
    job = make_job(secrets=())
    for n in range(200):  # more than a pipe holds (64 KiB on Linux)
        rep.event(job, job.runs[0], make_event(f"line-{n:03d} " + "x" * 500))
    time.sleep(FLUSH_DELAY * 4)  # the flushing thread is now stuck in its write
    done = threading.Event()

    def one_more() -> None:
        rep.event(job, job.runs[0], make_event("line-200 one more"))
        done.set()

    threading.Thread(target=one_more, daemon=True).start()
    waited = done.wait(2.0)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.extend(read_to_end(read_fd)), daemon=True)
    reader.start()
    done.wait(10)  # read now: on the code before, the line went out only now
    rep.close()
    out.close()
    reader.join(10)
    lines = b"".join(received).decode().splitlines()
    assert [re.findall(r"line-\d{3}", line) for line in lines] == [
        [f"line-{n:03d}"] for n in range(201)]
    assert waited, "an event's line waited for the pipe's reader"


def read_to_end(fd: int) -> list[bytes]:
    chunks = []
    with open(fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            chunks.append(chunk)
    return chunks


class _SignalInsideTheTaking(deque):
    """The pending lines, where a signal's handler (a notice) flushes once, on the
    same thread, while a flush is taking them one by one."""

    def __init__(self, lines: PacedLines) -> None:
        super().__init__()
        self.lines, self.fired = lines, False

    def popleft(self) -> str:
        line = super().popleft()
        if not self.fired:
            self.fired = True
            self.lines.flush()
        return line


def test_a_flush_inside_a_flush_keeps_the_lines_in_order():
    stream = CountingStream(fd=2)
    lock = threading.RLock()
    lines = PacedLines(stream, lock)
    lines._pending = _SignalInsideTheTaking(lines)
    with lock:
        for n in range(4):
            lines.write(f"line {n}")
        lines.flush()
        lines.write("line 4")
        lines.flush()
    assert stream.getvalue().splitlines() == [f"line {n}" for n in range(5)]
