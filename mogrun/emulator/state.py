"""Everything the emulator remembers — tokens, repos, runs, idempotency keys,
limits, pending faults, the request log — behind one lock."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from mogrun.emulator.automation_store import AutomationStore
from mogrun.emulator.automations import JobScript
from mogrun.emulator.directives import Script
from mogrun.emulator.faults import FaultQueue
from mogrun.emulator.limits import Limiter, Limits
from mogrun.emulator.runs import Run
from mogrun.emulator.sandboxes import Policy, Sandboxes
from mogrun.emulator.validation import is_valid_ref, normalize_root

SCOPES = frozenset({"read", "write"})
DEFAULT_USER = "user_emulator"


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator answered (never its token). ``status`` is 0 when
    the connection was closed without an answer; ``fault`` names the injected
    fault that shaped the answer, if any."""

    method: str
    path: str
    status: int
    time: float
    idempotency_key: str | None = None
    query: str = ""
    fault: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Token:
    scopes: frozenset[str]
    user: str


def repo_spec(spec: str) -> tuple[str, str, str]:
    """``owner/name[@default-branch][#root-directory]`` as (full name, branch, root
    directory), "" for a part it leaves out (a monorepo's repo can name the
    directory its runs work in)."""
    named, _, root = spec.strip().partition("#")
    full_name, _, branch = named.partition("@")
    return full_name, branch, root


def repo_entry(spec: str, index: int) -> dict[str, Any]:
    """A repo from ``repo_spec``'s form, with a stable id; ``index`` numbers its
    GitHub installation (one per owner: see ``installation``)."""
    full_name, branch, root = repo_spec(spec)
    owner, sep, name = full_name.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ValueError(f"a repo must be owner/name, got {spec!r}")
    if branch and not is_valid_ref(branch):  # else every start naming no branch is a 400
        raise ValueError(f"a repo's default branch must be a valid branch name, got {branch!r}")
    directory = normalize_root(root) if root else None
    if directory is not None and ".." in directory.split("/"):
        raise ValueError(f"a repo's root directory must stay inside it, got {root!r}")
    digest = hashlib.sha256(full_name.lower().encode()).digest()
    return {"id": str(uuid.UUID(bytes=digest[:16], version=4)),  # a UUID, as on the server
            "full_name": full_name,
            "installation_id": 1000 + index, "default_branch": branch or "main",
            "root_directory": directory}


class State:
    """The emulator's memory. Callers hold ``lock`` around every method below."""

    def __init__(self, repos: Iterable[str], limits: Limits | None, script: Script) -> None:
        self.lock = threading.RLock()
        self.repos: dict[str, dict[str, Any]] = {}
        for spec in repos:
            self.add_repo(spec)
        self.tokens: dict[str, Token] = {}
        self.runs: dict[str, Run] = {}
        self.keys: dict[tuple[str, str], tuple[str, str]] = {}  # (user, key) -> (hash, run id)
        self.limiter = Limiter(limits)
        self.sandboxes = Sandboxes(Policy.of(limits), epoch=time.time())
        self.automations = AutomationStore()
        self.job_script = JobScript(duration=script.duration)
        self.faults = FaultQueue()
        self.log: list[RequestRecord] = []
        self.default_script = script

    def new_token(self, prefix: str, scopes: Iterable[str]) -> str:
        token = f"mog_{prefix}_{secrets.token_hex(12)}"
        self.add_token(token, scopes)
        return token

    def add_token(self, token: str, scopes: Iterable[str], user: str = DEFAULT_USER) -> None:
        wanted = frozenset(scopes)
        if not token or not wanted <= SCOPES:
            raise ValueError(f"scopes must be among {sorted(SCOPES)}, got {sorted(wanted)}")
        self.tokens[token] = Token(wanted, user)

    def set_limits(self, limits: Limits | None) -> None:
        self.limiter = Limiter(limits)
        self.sandboxes.set_policy(Policy.of(limits))

    def add_repo(self, spec: str) -> dict[str, Any]:
        """Add a repo; repos of one owner share its GitHub installation (1000, 1001, ...
        in the order owners first appear), as an organisation's repos do."""
        owner = spec.strip().partition("/")[0].lower()
        owners = list(dict.fromkeys(r["full_name"].partition("/")[0].lower()
                                    for r in self.repos.values()))
        index = owners.index(owner) if owner in owners else len(owners)
        entry = repo_entry(spec, index)
        self.repos[entry["id"]] = entry
        return entry

    def repo_named(self, name: str | None) -> dict[str, Any]:
        """A repo by ``owner/name``, case-insensitively (None: the first repo);
        ValueError naming the account's repos."""
        for repo in self.repos.values():
            if name is None or repo["full_name"].lower() == name.lower():
                return repo
        known = ", ".join(r["full_name"] for r in self.repos.values()) or "none"
        raise ValueError(f"no repo {name!r} on the emulator (repos: {known})")
