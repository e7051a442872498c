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
``post_json`` for webhooks; and the validators of job-key tables, whose
messages name the sub-key like the bundled plugins' do.

One rule for plugins that catch broadly: let ``Interrupted`` (and
``KeyboardInterrupt``) through — it is the user's Ctrl-C.
"""

from __future__ import annotations

from mogrun.durations import format_duration, parse_duration
from mogrun.errors import (
    ApiError,
    ConnectError,
    GateError,
    Interrupted,
    MogrunError,
    NotifyError,
    PluginError,
    RateLimitedError,
    RequestInfo,
    RequestRefusedError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    UsageError,
    is_retryable,
)
from mogrun.hookspecs import hookimpl
from mogrun.http import post_json
from mogrun.masking import MASK, mask, mask_data
from mogrun.models import (
    Event,
    GateVerdict,
    ResolvedJob,
    RunPlan,
    RunResult,
    RunState,
    SessionConfig,
    StartRequest,
)
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
    "NotifyError",
    "Outcome",
    "PluginError",
    "Problems",
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
    "hookimpl",
    "is_retryable",
    "mask",
    "mask_data",
    "parse_duration",
    "post_json",
    "start_without_signals",
    "strings",
    "table",
    "toml_repr",
    "type_name",
    "web_url",
]
