"""What the live view costs: one fan-out through a pipe (plain lines) and on a
pseudo-terminal (the live view), side by side in one run.

N runs of D s each, ``-j N``, every limit lifted (the emulator's and the task
file's, as in ``fanout.py``). For each output it prints wall time, the child's
CPU, the bytes written, and the rows that showed a run ``running`` longer than
it ran (elapsed past D + 2 s: a run the server finished, not shown done), then
the pty figures as ratios to the pipe's. With ``--before REV`` the mogrun of
git revision REV (a temporary worktree) runs in the same round too.

    python bench/live.py [--runs 300] [--duration 5] [--columns 120] [--rows 30]
                         [--before REV]

Target: the live view costs little however many runs there are: pty CPU
<= 2x the pipe's, pty wall <= 1.2x, no run shown running past its end.
Measured with ``--before 7df9cd5`` (300 runs of 5 s, 120x30, 2 CPUs): before
the fix, pty 27.8 s wall, 27.7 s CPU, 10.3 MB, 50,684 late ``running`` rows
against 6.8 s / 1.8 s through a pipe; after it, pty 6.8 s / 2.3 s (1.03x /
1.36x the pipe's), 0.76 MB, no late row.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import resource
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import checkouts, child_env, task_file

from mogrun.emulator import Emulator

COLOUR = re.compile(rb"\x1b\[[0-9;]*m")
ELAPSED = re.compile(rb"fan:bench/repo\d+\s+running\s+\S+\s+(?:(\d+)m)?(\d+)s")


def measure(args: argparse.Namespace, on_pty: bool, source: str | None) -> dict[str, float]:
    repos = [f"bench/repo{i:03d}" for i in range(args.runs)]
    with Emulator(repos=repos, limits=None) as emulator, tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "mogplex.toml").write_text(task_file(repos, args.duration, args.runs))
        env = child_env("COLUMNS", "LINES")
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token,
                   TERM="xterm-256color")
        if source is not None:
            env["PYTHONPATH"] = source
        command = [sys.executable, "-m", "mogrun", "run", "-j", str(args.runs), "fan"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.monotonic()
        out = _on_pty(command, tmp, env, args) if on_pty else _through_pipe(command, tmp, env)
        wall = time.monotonic() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    late = sum(1 for m in ELAPSED.finditer(COLOUR.sub(b"", out))
               if int(m[1] or 0) * 60 + int(m[2]) > args.duration + 2)
    return {"wall s": wall, "CPU s": cpu, "output MB": len(out) / 1e6, "late running rows": late}


def _through_pipe(command: list[str], cwd: str, env: dict[str, str]) -> bytes:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=True).stdout


def _on_pty(command: list[str], cwd: str, env: dict[str, str],
            args: argparse.Namespace) -> bytes:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", args.rows, args.columns, 0, 0))
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=slave, stdout=slave,
                            stderr=slave, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(master, chunks), daemon=True)
    reader.start()
    proc.wait(timeout=600)
    reader.join(timeout=10)
    os.close(master)
    return b"".join(chunks)


def _drain(fd: int, chunks: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        chunks.append(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--columns", type=int, default=120)
    parser.add_argument("--rows", type=int, default=30)
    parser.add_argument("--before", action="append", default=[], metavar="REV")
    args = parser.parse_args()
    print(f"{args.runs} runs of {args.duration:g}s, -j {args.runs}, limits lifted; "
          f"pty {args.columns}x{args.rows}; python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs")
    with checkouts(args.before) as sources:
        for name, source in [("this checkout", None), *sources.items()]:
            pipe = measure(args, False, source)
            live = measure(args, True, source)
            print(f"\n{name}")
            for key in pipe:
                ratio = live[key] / pipe[key] if pipe[key] else float("nan")
                print(f"  {key:<20} pipe {pipe[key]:>9.2f}  pty {live[key]:>9.2f}  "
                      f"pty/pipe {ratio:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
