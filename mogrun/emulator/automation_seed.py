"""Putting automations and other people's job-run keys on the emulator, from
Python, the command line and the control endpoint.

Automation spec (``mogrun emulator --automations``)::

    NAME[@OWNER/NAME][:unpublished][:inactive][,...]
    triage,nightly-fix@zorg/tool:unpublished

``@OWNER/NAME``: on that repo's GitHub installation (default: the first repo's).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mogrun.emulator.automations import Automation, check_script, new_id
from mogrun.emulator.jobruns import JobRun
from mogrun.emulator.state import DEFAULT_USER, State

FLAGS = ("unpublished", "inactive")


@dataclass(frozen=True)
class AutomationSpec:
    """An automation to create: on the installation of ``repo`` (None: the first repo)."""

    name: str
    published: bool = True
    active: bool | None = None  # None: as the server makes it (active once published)
    script: str = ""
    repo: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("an automation needs a name")
        check_script(self.script)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AutomationSpec:
        """From ``{"name", "published"?, "active"?, "script"?, "repo"?, "description"?}``."""
        unknown = set(data) - {"name", "published", "active", "script", "repo", "description"}
        if unknown:
            raise ValueError(f"unknown automation field(s): {', '.join(sorted(unknown))}")
        if not isinstance(data.get("name"), str):
            raise ValueError("an automation needs a name (a string)")
        for flag in ("published", "active"):
            if flag in data and not isinstance(data[flag], bool):
                raise ValueError(f"{flag} must be true or false")
        return cls(data["name"], data.get("published", True), data.get("active"),
                   str(data.get("script") or ""), data.get("repo"), data.get("description"))


def parse_automations(spec: str) -> list[AutomationSpec]:
    """Automations from the command-line syntax; ValueError naming the bad item."""
    found = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        named, *flags = item.split(":")
        name, at, repo = named.rpartition("@")
        if not at or "/" not in repo:  # an "@" of the name itself
            name, repo = named, ""
        bad = [flag for flag in flags if flag not in FLAGS]
        if bad or not name.strip():
            raise ValueError(f"bad automation {item!r}: expected "
                             "NAME[@OWNER/NAME][:unpublished][:inactive]")
        found.append(AutomationSpec(name.strip(), "unpublished" not in flags,
                                    False if "inactive" in flags else None,
                                    repo=repo.strip() or None))
    return found


def add_automation(state: State, spec: AutomationSpec, user: str = DEFAULT_USER) -> Automation:
    """Create it (caller holds the lock); each is 1 ms newer than the last, so the
    list order is the order of creation, newest first. Unless ``active`` is given,
    it is made as the server makes one: a new flow is ``inactive``, and publishing
    it makes it ``active``. ``active=True`` without a published version is the
    inconsistent row the server repairs on the next read that loads it."""
    repo = state.repo_named(spec.repo)
    existing = [a.created for a in state.automations.automations.values()]
    created = max([time.time(), *(t + 0.001 for t in existing)])
    automation = Automation(new_id(), user, spec.name, int(repo["installation_id"]), created,
                            spec.published, spec.published if spec.active is None else spec.active,
                            spec.description, spec.script)
    state.automations.automations[automation.id] = automation
    return automation


def seed_key(state: State, key: str, repo: str | None = None) -> JobRun:
    """Make ``key`` already used by another user's job run (caller holds the lock)."""
    return seed_keys(state, [key], repo)[0]


def seed_keys(state: State, keys: Sequence[str], repo: str | None = None) -> list[JobRun]:
    """``seed_key`` of each of ``keys``, all or none: the repo and every key (blank,
    taken, or twice in ``keys``) are checked before any is made."""
    found = state.repo_named(repo)
    free: list[str] = []
    for key in keys:
        if not key.strip():
            raise ValueError("a job-run key cannot be blank")
        if key.strip() in state.automations.keys or key.strip() in free:
            raise ValueError(f"the key {key.strip()!r} is already taken")
        free.append(key.strip())
    return [state.automations.seed_key(key, time.time(), found) for key in free]
