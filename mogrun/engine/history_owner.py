"""Who wrote a history row, and whether that mogrun still runs.

A row names the mogrun that writes it (``host:pid``, ``owner``). A row with no
run yet and no end is still waiting to start while that process lives; one left
by a killed mogrun is not, even when its pid has since been taken by another
process (another mogrun, this one, pid 1 in a container): the process must run
mogrun and have begun before the row was written (``writer_alive``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

# A row's stamp has whole seconds, and the boot time that dates a process is read
# from a clock that may have been stepped since (NTP, by hand): the process must have
# begun this long after the row for its pid to count as taken by another.
BEGAN_SLACK = 60.0


@functools.cache
def _host() -> str:
    import socket

    return socket.gethostname()


def owner() -> str:
    """This process, as rows it writes name it."""
    return f"{_host()}:{os.getpid()}"


def owner_pid(owner: str) -> int | None:
    """The pid of the mogrun that wrote a row as ``owner``, when it ran on this machine."""
    host, _, pid = owner.rpartition(":")
    return int(pid) if host == _host() and pid.isascii() and pid.isdecimal() else None


def writer_alive(pid: int, written: str) -> bool:
    """Whether ``pid`` is the mogrun that wrote a row at ``written`` (ISO 8601): a
    process running mogrun (its command line says so: not ``tail -f mogrun.log``)
    that is not this one and began before the row was written. A killed mogrun's
    pid taken by another process (another mogrun, this one included), or pid 1 in
    a container, is not. Where there is no /proc, a live pid is taken for it."""
    if pid <= 1 or pid == os.getpid():
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return not Path("/proc/self").exists() and _alive(pid)
    except OSError:
        return _alive(pid)
    return _runs_mogrun(argv) and not _began_after(pid, written)


def _runs_mogrun(argv: list[bytes]) -> bool:
    """Whether a command line runs mogrun: its program or script is ``mogrun``
    (``mogrun ...``, ``python /venv/bin/mogrun ...``), or ``-m mogrun``."""
    from itertools import pairwise

    named = any(os.path.basename(arg) == b"mogrun" for arg in argv[:2])
    return named or any(arg == b"-m" and following in (b"mogrun", b"mogrun.__main__")
                        for arg, following in pairwise(argv))


def _began_after(pid: int, written: str) -> bool:
    """Whether process ``pid`` began after ``written`` (its pid was reused); False
    when either moment is unknown."""
    from mogrun.durations import parse_moment

    moment = parse_moment(written)
    if moment is None:
        return False
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[19])
    except (OSError, ValueError, IndexError):
        return False
    boot = _boot_time()
    return boot is not None and boot + ticks / os.sysconf("SC_CLK_TCK") > moment + BEGAN_SLACK


@functools.cache
def _boot_time() -> int | None:
    """When this machine booted (epoch seconds), read once: ``status`` of a history
    with many rows left by killed mogruns asked /proc/stat for each."""
    try:
        return next(int(line.split()[1]) for line in Path("/proc/stat").read_bytes().splitlines()
                    if line.startswith(b"btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # there, another user's: alive as far as a signal can tell
    return True
