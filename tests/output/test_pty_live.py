"""The live view under a real terminal: `python -m mogrun` in a pty, several
jobs in parallel, and assertions on the frames it drew."""

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

import pytest

from mogrun.emulator import Emulator

COLOUR = re.compile(r"\x1b\[[0-9;]*m")
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")  # cursor moves, erases
TASKS = """\
[mogplex]
requests_per_minute = 600
starts_per_minute = 100

[jobs.lint]
repo = "acme/api"
prompt = "@emulator duration=1.5s events=3 interval=0.3s"

[jobs.test]
repo = ["acme/api", "acme/web"]
prompt = "@emulator duration=1.5s events=3 interval=0.3s"

[jobs.docs]
repo = "acme/web"
prompt = "@emulator duration=1s events=2"

[jobs.deploy]
repo = "acme/api"
needs = ["lint", "test"]
prompt = "@emulator duration=0.5s"
"""


@pytest.fixture
def emulator():
    with Emulator(default_duration=0.5) as emu:
        yield emu


def run_in_pty(emulator, cwd, *args, columns=100, rows=30, interrupt_on=None, extra_env=None,
               meanwhile=None):
    """Run mogrun on a pty of ``columns`` x ``rows``; return (exit code, screen text).
    ``interrupt_on``: Ctrl-C (SIGINT) once the screen shows that text; ``extra_env``: more
    variables; ``meanwhile(proc, chunks)``: called while it runs (the bytes so far)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MOGRUN_", "GITHUB_", "COLUMNS", "LINES")) and k != "NO_COLOR"}
    env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token,
               MOGRUN_POLL_INTERVAL="0.1", TERM="xterm-256color", **(extra_env or {}))
    # A process group of its own, as a shell runs a job: the kernel discards a Ctrl-Z
    # (SIGTSTP) sent to a group that no parent in the session watches over (an
    # "orphaned" one, as the tests' own may be under a CI runner), so it never stops.
    proc = subprocess.Popen([sys.executable, "-m", "mogrun", *args], cwd=cwd, env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                            process_group=0)
    os.close(slave)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(master, chunks), daemon=True)
    reader.start()
    try:
        if interrupt_on is not None:
            _await_text(chunks, interrupt_on)
            proc.send_signal(signal.SIGINT)
        if meanwhile is not None:
            meanwhile(proc, chunks)
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    reader.join(timeout=5)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def _await_text(chunks, text, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in COLOUR.sub("", b"".join(chunks).decode("utf-8", "replace")):
            return
        time.sleep(0.05)
    raise AssertionError(f"the screen never showed {text!r}")


def _drain(fd, chunks):
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        chunks.append(data)


def screen_lines(raw):
    """Every line drawn: a cursor move or an erase ends one, as on the screen."""
    return CONTROL.sub("\n", COLOUR.sub("", raw)).split("\n")


def test_frames_show_queued_blocked_running_and_done_rows_with_progress(emulator, tmp_path):
    (tmp_path / "mogplex.toml").write_text(TASKS)
    code, raw = run_in_pty(emulator, tmp_path, "-j", "2", "lint", "test", "docs", "deploy")
    assert code == 0, raw
    assert "\x1b[" in raw  # a live terminal view, not plain lines
    lines = screen_lines(raw)
    row = r"^{label}\s+{phase}\b"
    for label, phase in [("docs", "queued"), ("deploy", "blocked"), ("lint", "running"),
                         (r"test:acme/web", "(queued|running)"), ("lint", "done")]:
        assert any(re.search(row.format(label=label, phase=phase), x) for x in lines), (
            label, phase, raw)
    assert any(re.search(r"deploy\s+blocked\s+needs lint, test", x) for x in lines)
    progress = [x for x in lines if re.fullmatch(r"\d/5 done · \d running · \d queued.*", x)]
    assert "0/5 done · 2 running · 3 queued" in progress, progress
    assert any(x.startswith(("4/5 done", "5/5 done")) for x in progress), progress
    assert any(re.fullmatch(r"5 passed, 0 failed in \d+s", x) for x in lines)


@pytest.mark.parametrize("env", [{}, {"COLUMNS": "200"}])  # exported by a wider shell
def test_a_narrow_terminal_keeps_rows_and_summary_inside_60_columns(emulator, tmp_path, env):
    (tmp_path / "mogplex.toml").write_text(TASKS)
    code, raw = run_in_pty(emulator, tmp_path, "-j", "4", "lint", "test", columns=60,
                           extra_env=env)
    assert code == 0, raw
    lines = screen_lines(raw)
    # the lines above the area too: laid out at the screen's width, whatever COLUMNS says
    assert max(len(x) for x in lines) <= 60, [x for x in lines if len(x) > 60]
    for run_id in emulator.runs:  # one block per run: whole, never cut
        assert any(f"run {run_id}" in x for x in lines), (run_id, raw)
    assert any(re.fullmatch(r"\d/3 done · \d running · \d queued.*", x) for x in lines)


def test_a_columns_narrower_than_the_screen_cuts_no_run_id(emulator, tmp_path):
    """COLUMNS=40 left over in a 120-column terminal: the summary was laid out as a
    table for 120 columns and drawn at 40, every run id cut to three characters."""
    (tmp_path / "mogplex.toml").write_text(TASKS)
    code, raw = run_in_pty(emulator, tmp_path, "-j", "4", "lint", "test", columns=120,
                           extra_env={"COLUMNS": "40"})
    assert code == 0, raw
    lines = screen_lines(raw)
    for run_id in emulator.runs:
        assert any(run_id in x for x in lines), (run_id, raw)


def test_a_run_held_by_the_start_limit_shows_waiting_with_its_countdown(emulator, tmp_path):
    (tmp_path / "mogplex.toml").write_text(TASKS.replace("starts_per_minute = 100",
                                                         "starts_per_minute = 1"))
    code, raw = run_in_pty(emulator, tmp_path, "lint", "docs",
                           interrupt_on="0/2 done · 1 running · 1 queued · 1 waiting")
    assert code == 130, raw
    lines = screen_lines(raw)
    # Which of the two gets the one start a minute is a race: one runs, the other waits.
    running = {m[1] for x in lines if (m := re.search(r"^(lint|docs)\s+running\b", x))}
    waiting = {m[1] for x in lines if (m := re.search(
        r"^(lint|docs)\s+waiting\s+in 1m0[01]s\s+1 run queued for the start limit "
        r"\(1/min\); ends in 1m0[01]s", x))}
    assert len(running) == len(waiting) == 1 and running != waiting, raw
    assert any(x.startswith("0/2 done · 1 running · 1 queued · 1 waiting") for x in lines), raw


@pytest.mark.parametrize(("plain", "coloured"), [
    (("--no-color", "--help"), ("--help",)),
    (("run", "--help", "--no-color"), ("run", "--help")),
])
def test_no_color_makes_the_help_plain_on_a_terminal_too(emulator, tmp_path, plain, coloured):
    """--help is answered while the line is parsed, before --no-color was: the
    help kept its colours (NO_COLOR, which rich reads itself, did not)."""
    code, screen = run_in_pty(emulator, tmp_path, *plain)
    assert code == 0, screen
    assert "Usage:" in screen and "\x1b[" not in screen
    code, screen = run_in_pty(emulator, tmp_path, *coloured)
    assert code == 0 and "\x1b[" in screen  # the same help without the flag is coloured
    # NO_COLOR is the flag's twin (rich dropped its colours there, not bold and dim).
    code, screen = run_in_pty(emulator, tmp_path, *coloured, extra_env={"NO_COLOR": "1"})
    assert code == 0 and "Usage:" in screen and "\x1b[" not in screen, screen


ONE_JOB = '[jobs.one]\nrepo = "acme/api"\nprompt = "@emulator duration=2s events=3"\n'


def test_a_wait_goes_above_the_live_area_whole_and_its_row_shows_waiting(emulator, tmp_path):
    """A wait printed while the live area is up: the area is cleared first, the
    line written whole, the area drawn again under it (it was written straight
    after the progress line); the running row it holds shows ``waiting`` with
    its countdown."""
    (tmp_path / "mogplex.toml").write_text(ONE_JOB)
    emulator.add_fault("events", "503", 1, retry_after=2)
    code, raw = run_in_pty(emulator, tmp_path, "one", columns=200)
    assert code == 0, raw
    lines = screen_lines(raw)
    waits = [x for x in lines if "  wait  " in x]
    assert waits and all(re.fullmatch(
        r"\d\d:\d\d:\d\d  one  wait  retry  Service unavailable \(injected\) "
        r"\(SERVICE_UNAVAILABLE, HTTP 503\); retry 1; ends in 2s \(\d\d:\d\d:\d\dZ\)",
        x) for x in waits), waits
    assert any(re.match(r"one\s+waiting\s+pending\s+in [12]s\s+Service unavailable", x)
               for x in lines), raw
    assert "0/1 done · 1 running · 0 queued · 1 waiting" in lines, raw


def test_trace_lines_go_above_the_live_area(emulator, tmp_path):
    """``-v`` lines went straight onto stderr, into the middle of the live area."""
    (tmp_path / "mogplex.toml").write_text(ONE_JOB)
    code, raw = run_in_pty(emulator, tmp_path, "-v", "one", columns=200)
    assert code == 0, raw
    traces = [x for x in screen_lines(raw) if re.search(r"[<>] (\d+ )?(GET|POST) http", x)]
    assert traces and all(re.match(r"[<>] ", x) for x in traces), traces


AREA_ROW = re.compile(r"(lint|test:acme/api|test:acme/web|docs|deploy)\s+"
                      r"(queued|blocked|running|waiting|done)\b")


ALL = ("-j", "2", "lint", "test", "docs", "deploy")


@pytest.mark.parametrize(("columns", "rows", "env", "args"), [
    (20, 30, {}, ("lint",)),  # the grid gave up the label column to fit
    (30, 30, {"COLUMNS": "120"}, ALL),  # exported by a shell started wider: the screen wins
    (30, 7, {}, ALL),  # short and narrow: the progress line wraps at its dots, rows give way
])
def test_live_rows_fit_a_narrow_terminal_cut_never_wrapped(emulator, tmp_path, columns, rows,
                                                           env, args):
    """Rows wider than the screen wrapped onto several lines while the redraw moved
    up one line a row: every frame left stale copies above the area. Each row is
    cut to the screen, its label and phase first; a short screen says how many
    rows it leaves out."""
    (tmp_path / "mogplex.toml").write_text(TASKS)
    code, raw = run_in_pty(emulator, tmp_path, *args, columns=columns, rows=rows,
                           extra_env=env)
    assert code == 0, raw
    lines = screen_lines(raw)
    shown = [x for x in lines if AREA_ROW.match(x) or re.match(r"\d/\d done", x)]
    assert any(AREA_ROW.match(x) for x in shown), raw
    assert max(len(x) for x in shown) <= columns, [x for x in shown if len(x) > columns]
    assert not any(re.match(r"(queued|blocked|running|waiting|done)  ", x) for x in lines), raw
    if rows < 10:
        assert any("more not shown" in x for x in lines), raw


def test_lines_that_come_together_are_printed_with_one_redraw_of_the_area(emulator, tmp_path):
    """Each line printed redrew the whole area under it: a poll bringing 20
    events drew it 20 times, and a 300-run fan-out spent 18 s of CPU on 8 MB of
    frames. Lines now go out together, the area drawn once under them."""
    (tmp_path / "mogplex.toml").write_text(
        '[jobs.one]\nrepo = "acme/api"\nprompt = "@emulator duration=1s events=200"\n')
    code, raw = run_in_pty(emulator, tmp_path, "one")
    assert code == 0, raw
    lines = screen_lines(raw)
    events = [x for x in lines if re.match(r"\d\d:\d\d:\d\d  one  ", x)]
    frames = [x for x in lines if re.match(r"\d/1 done · ", x)]
    assert len(events) >= 200, raw
    assert len(frames) < len(events) / 4, (len(frames), len(events))


LONG_NAMES = ["acme-corporation/payments-service-backend",
              "acme-corporation/payments-service-frontend"]


def test_a_long_label_gives_way_and_status_and_elapsed_stay(tmp_path):
    """A fan-out with long repo names on an 80-column screen: the rows read
    'dependency-upgrade:acme-corporation/payments-service-backend   running  streami…',
    elapsed gone; longer still, every row read the same. The label is cut in its
    middle now, so each row keeps its repo's end, its status and its elapsed time."""
    (tmp_path / "mogplex.toml").write_text(
        "[mogplex]\nrequests_per_minute = 600\nstarts_per_minute = 100\n\n"
        f"[jobs.dependency-upgrade]\nrepo = {LONG_NAMES!r}\n".replace("'", '"')
        + 'prompt = "@emulator duration=2s events=4 interval=0.3s"\n')
    with Emulator(default_duration=0.5, repos=LONG_NAMES) as emulator:
        code, raw = run_in_pty(emulator, tmp_path, "dependency-upgrade", columns=60)
    assert code == 0, raw
    rows = [x for x in screen_lines(raw) if "streaming" in x and x.startswith("dependency")]
    assert rows, raw
    for row in rows:
        assert len(row) <= 60 and re.search(r"streaming\s+\d+s", row), row
    assert any(row.startswith("dependency-") and "…" in row and "-backend " in row
               for row in rows), rows
    assert any("-frontend " in row for row in rows), rows


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0]


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_ctrl_z_shows_the_cursor_while_stopped_and_the_run_goes_on_after_fg(emulator,
                                                                          tmp_path):
    """Ctrl-Z in the live view left the shell's prompt with no cursor: the live area
    had hidden it and nothing showed it before the process stopped."""
    (tmp_path / "mogplex.toml").write_text(
        '[jobs.slowish]\nrepo = "acme/api"\nprompt = "@emulator duration=3s events=3"\n')

    def suspend_and_resume(proc, chunks):
        _await_text(chunks, "slowish")
        time.sleep(0.5)  # the live area is up, the cursor hidden
        before = len(b"".join(chunks))
        proc.send_signal(signal.SIGTSTP)
        deadline = time.monotonic() + 10
        while _state(proc.pid) != "T":
            assert time.monotonic() < deadline, "never stopped"
            time.sleep(0.05)
        # Stopped, it writes nothing more: what arrives was written before it stopped
        # (waited for: under load the reader thread drains the pty late).
        while b"\x1b[?25h" not in b"".join(chunks)[before:]:
            assert time.monotonic() < deadline, "the cursor was not shown before it stopped"
            time.sleep(0.05)
        proc.send_signal(signal.SIGCONT)

    code, raw = run_in_pty(emulator, tmp_path, "slowish", meanwhile=suspend_and_resume)
    assert code == 0, raw
    assert any(re.fullmatch(r"1 passed, 0 failed in \d+s", x) for x in screen_lines(raw)), raw


def test_rows_on_a_terminal_whose_stream_is_ascii_are_cut_never_wrapped(emulator, tmp_path):
    """PYTHONIOENCODING=ascii on a 50-column screen: each row was cut to 50 with
    `…`, which the stream then wrote as `\\u2026`: 55 columns, wrapped."""
    (tmp_path / "mogplex.toml").write_text(
        '[jobs.wide]\nrepo = "acme/api"\nprompt = "@emulator duration=1.5s events=6"\n')
    code, raw = run_in_pty(emulator, tmp_path, "wide", columns=50,
                           extra_env={"PYTHONIOENCODING": "ascii"})
    assert code == 0, raw
    shown = [x for x in screen_lines(raw) if re.match(r"wide\s+(running|done)|\d/1 done", x)]
    assert any(x.endswith("...") for x in shown), raw
    assert max(len(x) for x in shown) <= 50, [x for x in shown if len(x) > 50]
    assert "\\u2026" not in raw and "\\xb7" not in raw, raw


def test_a_run_that_ended_is_never_drawn_running_under_its_result_line(emulator, tmp_path):
    """Each batch of lines was drawn with the area of the last refresh under it:
    a run that had just ended stayed "running" below its own result line (and
    below the next batch's too, when two runs ended within one refresh)."""
    (tmp_path / "mogplex.toml").write_text(
        '[jobs.short]\nrepo = "acme/api"\nprompt = "@emulator duration=1s events=4"\n\n'
        '[jobs.long]\nrepo = "acme/web"\nprompt = "@emulator duration=3s events=12"\n\n')
    code, raw = run_in_pty(emulator, tmp_path, "short", "long")
    assert code == 0, raw
    lines = screen_lines(raw)
    ended = next(i for i, x in enumerate(lines) if re.match(r"\d\d:\d\d:\d\d  short  result", x))
    drawn = [x for x in lines[ended:] if re.match(r"short\s+(running|done)\b", x)]
    assert drawn and all(re.match(r"short\s+done\b", x) for x in drawn), drawn
