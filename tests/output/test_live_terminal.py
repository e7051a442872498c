"""The live view as a terminal shows it: `python -m mogrun --local` in a pty, its
bytes replayed onto a small model of the screen (and, for Ctrl-Z, a shell's
lines written to the same terminal while mogrun is stopped)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from typing import NamedTuple

import pytest

from mogrun.testing import write_taskfile

CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")
RUN_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class Screen:
    """What a terminal of ``columns`` x ``rows`` keeps (its scrollback included) of
    the bytes the live view writes: text, CR, LF, cursor up and erase line."""

    def __init__(self, columns: int, rows: int) -> None:
        self.columns, self.rows = columns, rows
        self.lines: list[list[str]] = [[]]
        self.row = self.col = 0

    def feed(self, text: str) -> list[str]:
        """The screen's lines, top of the scrollback first, after ``text``."""
        at = 0
        for match in CSI.finditer(text):
            self._write(text[at:match.start()])
            self._control(*match.groups())
            at = match.end()
        self._write(text[at:])
        return ["".join(line).rstrip() for line in self.lines]

    def _write(self, text: str) -> None:
        for char in text:
            if char == "\r":
                self.col = 0
            elif char == "\n":
                self._down()
            elif char >= " ":
                if self.col == self.columns:  # the terminal wraps the line
                    self.col = 0
                    self._down()
                line = self.lines[self.row]
                line.extend(" " * (self.col + 1 - len(line)))
                line[self.col] = char
                self.col += 1

    def _down(self) -> None:
        self.row += 1
        if self.row == len(self.lines):
            self.lines.append([])

    def _control(self, params: str, command: str) -> None:
        if command == "A":  # never above the screen's top line
            top = max(0, len(self.lines) - self.rows)
            self.row = max(top, self.row - int(params or 1))
        elif command == "K" and params == "2":
            self.lines[self.row] = []
        elif command == "K":
            del self.lines[self.row][self.col:]


class InPty(NamedTuple):
    proc: subprocess.Popen
    slave: int  # the pty's terminal end, which a test writes to as the shell would
    chunks: list[bytes]  # the bytes read so far, which grow as it runs
    reader: threading.Thread

    def shown(self) -> str:
        return b"".join(self.chunks).decode("utf-8", "replace")

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Its exit code and every byte it wrote, once it has ended."""
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            self.proc.kill()
        os.close(self.slave)  # the last end of the terminal: the reader sees its end
        self.reader.join(timeout=5)
        return code, self.shown()


def start_in_pty(cwd, *args, columns, rows, term="xterm-256color") -> InPty:
    """``mogrun --local ARGS`` on a pty of ``columns`` x ``rows``, in a process group of
    its own as a shell runs a job (the kernel drops a Ctrl-Z sent to an orphaned one)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MOGRUN_", "MOGPLEX_", "GITHUB_", "COLUMNS", "LINES"))}
    env.update(TERM=term, MOGRUN_POLL_INTERVAL="0.1")
    proc = subprocess.Popen([sys.executable, "-m", "mogrun", "--local", *args], cwd=cwd,
                            env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                            process_group=0)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(master, chunks), daemon=True)
    reader.start()
    return InPty(proc, slave, chunks, reader)


def _drain(fd: int, chunks: list[bytes]) -> None:
    try:
        while data := os.read(fd, 65536):
            chunks.append(data)
    except OSError:  # EIO: the terminal's every other end is closed
        pass
    finally:
        os.close(fd)


def await_until(condition, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_dumb_terminal_gets_the_summary_table_and_lines_at_the_screens_width(tmp_path):
    """TERM=dumb on a 100-column screen: the table was judged to fit 100 columns
    and drawn at rich's 80 for a dumb terminal, every run id cut into a
    look-alike (``bdf63725-949b-4e52-b069-9e2ff…``), and the lines above wrapped
    at 80."""
    write_taskfile(tmp_path, '[jobs.twelve-chars]\nrepo = "acme/api"\n'
                             'prompt = "@emulator duration=0.3s events=2"\n')
    code, raw = start_in_pty(tmp_path, "twelve-chars", columns=100, rows=30,
                             term="dumb").finish()
    assert code == 0, raw
    lines = Screen(100, 30).feed(raw)
    started = [x for x in lines if re.search(rf"  twelve-chars  run  -  started {RUN_ID} ", x)]
    assert started and len(started[0]) > 80, lines  # one line, as wide as the screen lets it
    assert any(re.fullmatch(rf"twelve-chars  acme/api  {RUN_ID}  success  .*", x)
               for x in lines), lines


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0]


SHELL_LINES = ["[1]+  Stopped                 mogrun --local slowish", "$ fg",
               "mogrun --local slowish"]
AREA_LINE = re.compile(r"slowish\s+(queued|running|waiting)\b|\d/1 done · ")


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_ctrl_z_leaves_no_board_behind_and_fg_erases_none_of_the_shells_lines(tmp_path):
    """Ctrl-Z left the frozen board above the shell's ``Stopped`` line, and after
    ``fg`` the first frame moved up as many lines as the old board had and erased
    them: the shell's ``$ fg`` and the command it echoed. The area is erased
    before mogrun stops now, and drawn afresh below the shell's lines after."""
    write_taskfile(tmp_path, '[jobs.slowish]\nrepo = "acme/api"\n'
                             'prompt = "@emulator duration=3s events=3"\n')
    run = start_in_pty(tmp_path, "slowish", columns=100, rows=30)
    await_until(lambda: "0/1 done · 1 running" in run.shown(),
                "the live area never showed a running row")
    run.proc.send_signal(signal.SIGTSTP)
    await_until(lambda: _state(run.proc.pid) == "T", "never stopped", timeout=10)
    # stopped, it writes nothing more: what comes was written before it stopped
    await_until(lambda: "\x1b[?25h" in run.shown().rsplit("0/1 done", 1)[-1],
                "the cursor was not shown before it stopped", timeout=10)
    os.write(run.slave, ("\n" + "\n".join(SHELL_LINES) + "\n").encode())  # as a shell does
    await_until(lambda: SHELL_LINES[-1] in run.shown(), "the shell's lines never came",
                timeout=10)
    run.proc.send_signal(signal.SIGCONT)
    code, raw = run.finish()
    assert code == 0, raw
    lines = Screen(100, 30).feed(raw)
    assert SHELL_LINES[0] in lines, lines
    stopped = lines.index(SHELL_LINES[0])
    assert lines[stopped:stopped + 3] == SHELL_LINES, lines
    assert not [x for x in lines[:stopped] if AREA_LINE.match(x)], lines  # no stale board
    assert any(re.fullmatch(r"1 passed, 0 failed in \d+s", x) for x in lines[stopped:]), lines


def test_a_plugins_print_goes_above_the_area_whole_and_stays(tmp_path):
    """plugins.md: a hook may print, and it goes to stdout. On a terminal it was
    written onto the progress line, and the next frame erased it: the screen kept
    none of it (a pipe kept both lines)."""
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "say.py").write_text(
        "from mogrun.plugin import hookimpl\n\n\n@hookimpl\n"
        "def mogrun_status_changed(run, old, state):\n"
        "    print(f'{run.label}: now', end=' ')\n"  # a line written in two parts
        "    print(state.status)\n")
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["plugins/say.py"]\n\n[jobs.fix]\n'
                             'repo = "acme/api"\nprompt = "@emulator duration=1.5s events=4"\n')
    code, raw = start_in_pty(tmp_path, "fix", columns=100, rows=30).finish()
    assert code == 0, raw
    lines = Screen(100, 30).feed(raw)
    assert "fix:acme/api: now streaming" in lines, lines
    assert "fix:acme/api: now success" in lines, lines
    assert not any(AREA_LINE.search(line) for line in lines if "now" in line), lines


def test_list_on_a_narrow_terminal_gives_a_block_per_job_as_status_does(tmp_path):
    """`mogrun list` (the default command) wrote the example file's rows at 168
    columns whatever the screen: at 80 each wrapped over three lines, a repo name
    cut in two. Wider than the screen, each job is a block of `header: value`."""
    write_taskfile(tmp_path, '[jobs.codemod]\nrepo = ["acme/api", "acme/web", "acme/worker"]\n'
                             'description = "Apply the codemod to every service, then open a '
                             'pull request for each"\nprompt = "x"\n')
    code, raw = start_in_pty(tmp_path, "list", columns=60, rows=30).finish()
    assert code == 0, raw
    lines = [line for line in Screen(60, 30).feed(raw) if line]
    assert all(len(line) <= 60 for line in lines), lines
    assert any(line.startswith("job: codemod") for line in lines), lines
    assert any("acme/api, acme/web, acme/worker" in line for line in lines), lines
