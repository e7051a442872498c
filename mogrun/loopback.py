"""Whether a host is loopback: the one rule behind every "loopback only" check
(plain-http API URLs, task-file URLs, webhook URLs, the emulator's address).

It never resolves a name: only ``localhost`` and loopback IP literals count.
"""

from __future__ import annotations

import ipaddress


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or a loopback IP literal (127.0.0.0/8, ::1), brackets and a
    trailing dot allowed."""
    if not host:
        return False
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
