"""mogrun plugin: a run that never edited a file has not fixed anything.

Adds the job key ``edit_gate = { tool = "edit_file", min = 1, webhook = URL }``
(every sub-key optional; an empty ``webhook`` is none). For jobs that set it:

- a gate fails the run unless its events show at least ``min``
  ``tool_finished`` events of ``tool``;
- a notifier posts ``{"text": ...}`` (Slack incoming-webhook shape) to
  ``webhook`` when the job ended without passing that gate.

It uses only mogrun's public module for plugins, ``mogrun.plugin``: the hook
marker, the models, ``post_json``, the errors and the job-key validators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mogrun.plugin import (
    GateVerdict,
    NotifyError,
    ResolvedJob,
    RunResult,
    hookimpl,
    post_json,
    table,
    web_url,
)

KEY = "edit_gate"
GATE = "edit_gate"


def validate(value: Any) -> dict[str, Any]:
    """``edit_gate = true`` or a table; returns ``{"tool", "min", "webhook"}``."""
    raw = table({} if value is True else value, KEY, ("tool", "min", "webhook"))
    tool, least, webhook = raw.get("tool", "edit_file"), raw.get("min", 1), raw.get("webhook")
    if not isinstance(tool, str) or not tool:
        raise ValueError("edit_gate.tool must be a tool name")
    if isinstance(least, bool) or not isinstance(least, int) or least < 1:
        raise ValueError("edit_gate.min must be a whole number >= 1")
    if isinstance(webhook, str) and not webhook.strip():
        webhook = None  # "{{ env.X | default('') }}" with X unset: no chat, as notify does
    if webhook is not None:
        webhook = web_url(webhook, "edit_gate.webhook")
    return {"tool": tool, "min": least, "webhook": webhook}


def webhook_secret(value: dict[str, Any]) -> list[str]:
    """A chat webhook URL is a credential: mogrun masks it in output and history."""
    return [value["webhook"]] if value.get("webhook") else []


@hookimpl
def mogrun_job_keys(register: Callable[..., None]) -> None:
    register(KEY, validate, help="fail runs without file edits: {tool, min, webhook}",
             secrets=webhook_secret)


@hookimpl
def mogrun_gate(job: ResolvedJob, events: tuple) -> GateVerdict | None:
    settings = job.options.get(KEY)
    if settings is None:
        return None  # the job did not ask for this gate
    tool, least = settings["tool"], settings["min"]
    edits = sum(1 for e in events if e.type == "tool_finished" and e.tool_name == tool)
    if edits >= least:
        return GateVerdict(GATE, True, f"{edits} {tool} call(s)")
    return GateVerdict(GATE, False, f"no file edited: {edits} {tool} call(s), need {least}")


@hookimpl
def mogrun_job_finished(job: ResolvedJob, results: tuple[RunResult, ...], outcome: str) -> None:
    settings = job.options.get(KEY)
    if not settings or not settings["webhook"]:
        return
    lazy = [r for r in results if any(g.gate == GATE and not g.passed for g in r.gates)]
    if not lazy:
        return
    lines = [f"{job.name}: {r.repo} run {r.run_id} edited nothing ({r.outcome})" for r in lazy]
    status = post_json(settings["webhook"], {"text": "\n".join(lines)}, timeout=5.0)
    if not 200 <= status < 300:
        # mogrun reports this as a warning naming this plugin; the job's result stands.
        raise NotifyError(f"chat webhook answered HTTP {status}")
