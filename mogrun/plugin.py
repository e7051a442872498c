"""Everything a plugin author needs from mogrun, in one import.

Bundled plugins (``mogrun_plugins``) and the example in ``examples/`` use
this module and nothing else of mogrun; anything not named here is internal
and may change. ::

    from mogrun.plugin import GateVerdict, hookimpl

    @hookimpl
    def mogrun_gate(job, events):
        ...

What is here: ``hookimpl``; the value objects hooks receive and return; the
errors a plugin raises (``GateError`` to veto a start, ``NotifyError`` when a
notifier could not deliver, ``ValueError`` from a key validator); the outcome
and status vocabulary; durations, masking and values (``toml_repr``) as
mogrun writes them;
``post_json`` for webhooks (``post_json_answer`` also gives the answer's
Retry-After); ``write_file`` for a report written whole or not at all; and
the validators of job-key tables, whose messages name the sub-key like the
bundled plugins' do.

One rule for plugins that catch broadly: let ``Interrupted`` (and
``KeyboardInterrupt``) through — it is the user's Ctrl-C.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from mogrun.durations import format_duration, parse_duration, server_span
from mogrun.errors import (
    ApiError,
    ConnectError,
    GateError,
    Interrupted,
    MogrunError,
    NotFoundError,
    NotifyError,
    PluginError,
    ProtocolError,
    RateLimitedError,
    RequestInfo,
    RequestRefusedError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    UsageError,
    honoured_retry_after,
    is_retryable,
)
from mogrun.hookspecs import hookimpl
from mogrun.http import PostAnswer, post_json, post_json_answer
from mogrun.masking import MASK, mask, mask_data
from mogrun.models import ResolvedJob, RunPlan, SessionConfig, StartRequest
from mogrun.outcomes import NOTIFY_OUTCOMES, Outcome, RunStatus
from mogrun.plugintables import (
    KeyProblems,
    Problems,
    duration,
    strings,
    table,
    type_name,
    web_url,
)
from mogrun.threads import start_without_signals
from mogrun.tomltext import toml_repr

if TYPE_CHECKING:  # imported on first use (``__getattr__``); type checkers read them here
    from mogrun.runs import Event, GateVerdict, RunResult, RunState
    from mogrun.waits import Wait, WaitKind

__all__ = [
    "MASK",
    "NOTIFY_OUTCOMES",
    "ApiError",
    "ConnectError",
    "Event",
    "GateError",
    "GateVerdict",
    "Interrupted",
    "KeyProblems",
    "MogrunError",
    "NotFoundError",
    "NotifyError",
    "Outcome",
    "PluginError",
    "PostAnswer",
    "Problems",
    "ProtocolError",
    "RateLimitedError",
    "RequestInfo",
    "RequestRefusedError",
    "ResolvedJob",
    "RunPlan",
    "RunResult",
    "RunState",
    "RunStatus",
    "ServerError",
    "ServiceUnavailableError",
    "SessionConfig",
    "StartRequest",
    "TransportError",
    "UsageError",
    "Wait",
    "WaitKind",
    "duration",
    "format_duration",
    "honoured_retry_after",
    "hookimpl",
    "is_retryable",
    "mask",
    "mask_data",
    "parse_duration",
    "post_json",
    "post_json_answer",
    "server_span",
    "start_without_signals",
    "strings",
    "table",
    "toml_repr",
    "type_name",
    "web_url",
    "write_file",
]


def write_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Put ``data`` at ``path`` whole or not at all (a temporary file beside it,
    renamed over it): a full disk or a Ctrl-C mid-write leaves the old file, never
    half a report. ``OSError`` when it cannot be done, with nothing left behind.
    Imported when called: ``check`` and ``show`` load every plugin."""
    from pathlib import Path

    from mogrun.atomic import write_atomically

    write_atomically(Path(path), data)


def __getattr__(name: str) -> Any:
    """What only a run meets (``pluginspec.ON_FIRST_USE``: a run's state, events and
    result, waits), imported when a plugin first asks for it: check and show load
    every plugin, and need none."""
    from mogrun.pluginspec import first_use

    try:
        value = globals()[name] = first_use(name)
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return value
