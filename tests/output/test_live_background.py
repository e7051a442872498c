"""The live area on a real terminal whose foreground job mogrun stops being (Ctrl-Z
then ``bg``, or ``mogrun ... &``): it kept drawing at 5 frames a second over the
shell's prompt, moving up over and erasing what the shell printed, with the cursor
hidden under it (QA pass in a pty). In the background it draws nothing and leaves
the cursor shown; lines still go out, plain; back in front, it is drawn anew."""

from __future__ import annotations

import os
import pty
import signal
import sys
import time

import pytest

from mogrun.runs import RunState

from .ptys import read_all
from .values import make_event, make_job

UP, ERASE_LINE = b"\x1b[1A", b"\x1b[2K"
SHOW, HIDE = b"\x1b[?25h", b"\x1b[?25l"


def _child() -> None:
    """In the pty's session, its foreground job: draw, go to the background (the
    terminal given to another process group, as a shell's ``bg`` does), come back."""
    from mogrun.output.live import LiveReporter

    out = os.fdopen(1, "w", closefd=False)
    reporter = LiveReporter(stdout=out, stderr=out, refresh_per_second=20)
    job = make_job("build")
    reporter.job_started(job, job.runs[0], RunState("r_1", "streaming"), False)
    time.sleep(0.5)
    shell = os.fork()
    if shell == 0:  # the shell's group, which the terminal is handed to
        time.sleep(30)
        os._exit(0)
    os.setpgid(shell, shell)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # tcsetpgrp from the background
    os.tcsetpgrp(1, shell)
    os.write(1, b"<<AWAY>>\r\n")
    time.sleep(0.6)
    reporter.event(job, job.runs[0], make_event("said while away"))
    time.sleep(0.6)
    os.tcsetpgrp(1, os.getpgrp())
    os.write(1, b"<<BACK>>\r\n")
    time.sleep(0.6)
    reporter.close()
    os.kill(shell, signal.SIGKILL)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX job control")
def test_in_the_background_the_area_is_not_drawn_and_the_cursor_stays_shown() -> None:
    pid, master = pty.fork()
    if pid == 0:
        try:
            _child()
        finally:
            os._exit(0)
    seen = read_all(master, 20)
    os.waitpid(pid, 0)
    os.close(master)
    before, _, rest = seen.partition(b"<<AWAY>>")
    away, _, back = rest.partition(b"<<BACK>>")
    assert b"build" in before and HIDE in before, seen  # the area drawn, cursor hidden
    assert away and back, seen
    assert UP not in away and ERASE_LINE not in away, away  # nothing moved over the shell
    assert SHOW in away and HIDE not in away, away  # the shell's cursor is shown
    assert b"said while away" in away, away  # a line still goes out, plain
    assert HIDE in back and b"build" in back, back  # drawn anew in front
