"""The task file: discovery, parsing, validation, templates, the job graph.

The public names below load their modules on first use, so importing
``mogrun.durations`` (as plugins do) or running ``mogrun list``
pulls in only what it needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mogrun.taskfile.checking import Report, validate
    from mogrun.taskfile.discovery import find_task_file
    from mogrun.taskfile.parse import TaskFile, load_task_file
    from mogrun.taskfile.resolve import automations_named, repos_named, resolve_jobs
    from mogrun.taskfile.templates import TemplateClock

_EXPORTS = {
    "find_task_file": "mogrun.taskfile.discovery",
    "load_task_file": "mogrun.taskfile.parse",
    "TaskFile": "mogrun.taskfile.parse",
    "resolve_jobs": "mogrun.taskfile.resolve",
    "repos_named": "mogrun.taskfile.resolve",
    "automations_named": "mogrun.taskfile.resolve",
    "TemplateClock": "mogrun.taskfile.templates",
    "validate": "mogrun.taskfile.checking",
    "Report": "mogrun.taskfile.checking",
}
__all__ = [
    "Report",
    "TaskFile",
    "TemplateClock",
    "automations_named",
    "find_task_file",
    "load_task_file",
    "repos_named",
    "resolve_jobs",
    "validate",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mogrun.taskfile' has no attribute {name!r}")
    return getattr(import_module(module), name)
