"""Reading what a program wrote to a pseudo-terminal, for the tests that give
mogrun a real one."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable


def read_all(fd: int, timeout: float, ended: Callable[[], bool] = lambda: False) -> bytes:
    """Everything written to the terminal's other side ``fd`` until it is closed
    (the program exited), ``ended()`` says so while nothing comes, or ``timeout``."""
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            if ended():
                break
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # the program closed its side
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)
