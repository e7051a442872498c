"""A real terminal: `mogrun --local` under a pseudo-terminal gets the live view."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from mogrun.testing import write_taskfile

from .ptys import read_all
from .test_cli_output import SECRET_VALUE, TASKFILE


def run_in_pty(args, cwd, env, timeout=30.0) -> tuple[int, str]:
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True
    )
    os.close(secondary)
    shown = read_all(primary, timeout, ended=lambda: proc.poll() is not None)
    os.close(primary)
    code = proc.wait(timeout=10)
    return code, shown.decode("utf-8", "replace")


def test_a_terminal_gets_spinner_rows_escaped_agent_text_and_the_summary(tmp_path):
    write_taskfile(tmp_path, TASKFILE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGPLEX_", "GITHUB_"))}
    env.update(OUT_SECRET=SECRET_VALUE, TERM="xterm-256color", COLUMNS="120")
    env.pop("NO_COLOR", None)
    code, shown = run_in_pty([sys.executable, "-m", "mogrun", "--local", "leak"], tmp_path, env)
    assert code == 0, shown
    assert "\x1b[?25l" in shown  # rich hid the cursor for the live area ...
    assert "\x1b[32msuccess" in shown  # colour on a terminal without NO_COLOR
    assert "\x1b[?25h" in shown  # ... and showed it again
    assert "\\x1b[2J ::error::x" in shown and "\x1b[2J" not in shown
    assert "exit code 0" in shown and SECRET_VALUE not in shown


def test_no_color_on_a_terminal_keeps_the_live_view_without_colour(tmp_path):
    write_taskfile(tmp_path, TASKFILE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGPLEX_", "GITHUB_"))}
    env.update(OUT_SECRET=SECRET_VALUE, TERM="xterm-256color", COLUMNS="120", NO_COLOR="1")
    code, shown = run_in_pty([sys.executable, "-m", "mogrun", "--local", "leak"], tmp_path, env)
    assert code == 0, shown
    assert "\x1b[?25l" in shown and "exit code 0" in shown
    assert "\x1b[32m" not in shown and "\x1b[1m" not in shown
