"""The local Mogplex API emulator: a real HTTP server on loopback with the real rules.

``from mogrun.emulator import Emulator, Limits`` — loaded on first use so that
importing this package costs nothing (the CLI and the pytest plugin import it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mogrun.emulator.limits import Limits
    from mogrun.emulator.server import Emulator
    from mogrun.emulator.state import RequestRecord

__all__ = ["Emulator", "Limits", "RequestRecord"]

_WHERE = {
    "Emulator": "mogrun.emulator.server",
    "Limits": "mogrun.emulator.limits",
    "RequestRecord": "mogrun.emulator.state",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
