"""Frozen value objects of a job before it runs, passed between the task file,
the engine, the API client and plugins: what to start and how. Plugins see these;
keep them small and stable. What a run is once started lives in ``mogrun.runs``,
which only commands that start or follow runs import.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_KEY = 200  # the server's limit on an Idempotency-Key, in characters


def fitted_key(base: str, suffix: str = "") -> str:
    """``base + suffix`` within ``MAX_KEY``: a base too long for the suffix is
    shortened and a digest of the whole of it added, so two long keys that share
    a prefix still differ. For the keys mogrun makes (attempts, its own default
    key); a key the task file wrote is never shortened, its length is an error."""
    if len(base) + len(suffix) <= MAX_KEY:
        return base + suffix
    import hashlib  # rare: a long key

    digest = hashlib.sha256(base.encode("utf-8")).hexdigest()[:12]
    return f"{base[:MAX_KEY - len(suffix) - len(digest) - 1]}-{digest}{suffix}"


# The working branch of a createBranch start that names none: the server makes one
# from its key and body (mogplex/external/...); NUL is in no branch name, so no listed
# sandbox serves it (``StartRequest.sandbox_branch``).
NEW_BRANCH = "\0new:"
CREATED_BRANCH_PREFIX = "mogplex/external/"  # how the server names a branch it makes

# The start's body fields after ``repoId`` (JSON key, StartRequest field), in the
# order ``body`` writes them: the one map between the API's names and ours.
_BODY_FIELDS = (("prompt", "prompt"), ("harness", "harness"), ("baseBranch", "base_branch"),
                ("workingBranch", "working_branch"), ("createBranch", "create_branch"),
                ("rootDirectory", "root_directory"))


@dataclass(frozen=True)
class StartRequest:
    """Exactly what ``POST /runs`` sends: the body plus its Idempotency-Key.

    ``repo`` is what the task file named (owner/name or an id); ``repo_id`` is
    filled once owner/name has been resolved through ``GET /repos``.
    """

    repo: str
    prompt: str
    idempotency_key: str
    repo_id: str | None = None
    harness: str | None = None
    base_branch: str | None = None
    working_branch: str | None = None
    create_branch: bool = False
    root_directory: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body, omitting fields left to the server's defaults."""
        body: dict[str, Any] = {"repoId": self.repo_id or self.repo}
        for key, name in _BODY_FIELDS:
            value = getattr(self, name)
            if value is not None:
                body[key] = value
        return body

    def sandbox_branch(self) -> str | None:
        """The working branch of the sandbox this start needs, by the server's rules
        (``normalizeStartRequest``): ``workingBranch``, else the base branch, or with
        ``createBranch`` a branch the server makes for this start, which no sandbox
        serves yet (``NEW_BRANCH`` and the key: one of its own). ``None``: the
        repo's default branch (a sandbox whose two branches agree serves it)."""
        if self.working_branch is not None:
            return self.working_branch
        return NEW_BRANCH + self.idempotency_key if self.create_branch else self.base_branch

    def with_body(self, body: Mapping[str, Any]) -> StartRequest:
        """This request with the fields ``body`` (one ``body()`` gave) sets, each of
        the type it has here (the repo stays: it is resolved again)."""
        import dataclasses

        kinds = {"create_branch": bool}
        return dataclasses.replace(self, **{
            name: body[key] for key, name in _BODY_FIELDS
            if key in body and isinstance(body[key], kinds.get(name, str))})


@dataclass(frozen=True)
class RunPlan:
    """One run of a job: a job with a single repo, or one repo of a fan-out."""

    job: str
    repo: str
    request: StartRequest
    inputs: Mapping[str, Any] = field(default_factory=dict)  # an automation job's input
    # The automation id this run's trigger goes to instead of its job's: a rerun sends
    # a trigger left unanswered again where it went (the job may name another now).
    automation: str | None = None

    @functools.cached_property
    def label(self) -> str:
        """``job`` or ``job:owner/name``, as status/logs/cancel accept it (made once:
        every line and event of the run names it)."""
        return f"{self.job}:{self.repo}"


@dataclass(frozen=True)
class ResolvedJob:
    """A job after defaults, templates and limits: ready to start.

    ``options`` holds the plugin-declared keys (``retry``, ``gates``,
    ``notify``, ...) already validated and templated. ``secrets`` lists string
    values that must be masked wherever mogrun prints or stores them.
    """

    name: str
    description: str
    needs: tuple[str, ...]
    runs: tuple[RunPlan, ...]
    timeout: float
    on_timeout: str = "cancel"
    harness: str | None = None
    capacity_wait: float = 1800.0  # seconds a run may wait for a sandbox slot
    options: Mapping[str, Any] = field(default_factory=dict)
    secrets: frozenset[str] = frozenset()
    automation: str | None = None  # id or name: the job triggers it instead of a run
    automation_secret: bool = False  # named from env.*: a secret however short
    # Its repos are several (a fan-out): its runs are named job:owner/name, also when a
    # rerun keeps one of them (``runs`` then holds one). Taken from ``runs`` if not given.
    fan_out: bool | None = None

    def __post_init__(self) -> None:
        if self.fan_out is None:
            object.__setattr__(self, "fan_out", len(self.runs) > 1)

    @property
    def automation_shown(self) -> str:
        """The automation as a message, ``show`` or the history may spell it: one
        named from ``env.*`` is ``***`` (masking skips values under 4 characters)."""
        return "***" if self.automation_secret else (self.automation or "")

    def for_run(self, run: RunPlan) -> ResolvedJob:
        """The job as ``run`` triggers, reads and records it: naming the run's own
        automation when it has one (``RunPlan.automation``), else itself."""
        if run.automation is None or run.automation == self.automation:
            return self
        import dataclasses

        return dataclasses.replace(self, automation=run.automation)

    def label_of(self, run: RunPlan) -> str:
        """How every line names ``run``: the job alone for a single-repo job,
        ``job:owner/name`` for a run of a fan-out."""
        return run.label if self.fan_out else self.name


@dataclass(frozen=True)
class SessionConfig:
    """What plugins learn about this invocation in ``mogrun_configure``.

    ``settings`` is the task file's ``[mogplex]`` table; ``options`` the
    values of plugin-declared ``run`` options (``mogrun_add_options``); a
    relative path among them is relative to ``cwd``.
    """

    task_file: str | None
    project_dir: str | None
    base_url: str | None
    local: bool = False
    command: str = "run"
    settings: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    cwd: str | None = None  # the invocation's directory: relative paths given on its line


@dataclass(frozen=True)
class KeySpec:
    """A job key a plugin declares through ``mogrun_job_keys``.

    ``validate`` turns the raw (templated) TOML value into the value stored in
    ``ResolvedJob.options`` or raises ``ValueError``; ``secrets`` names the
    strings of that value to mask when printed or stored.
    """

    name: str
    validate: Callable[[Any], Any]
    help: str = ""
    secrets: Callable[[Any], Iterable[str]] | None = None
    plugin: str | None = None
    # The key's JSON Schema fragment for `mogrun schema` (editors); never
    # stricter than ``validate``, and remember strings are templated first.
    schema: Mapping[str, Any] | None = None

    def judge(self, value: Any) -> tuple[Any, frozenset[str]]:
        """``value`` as the job keeps it, and the secrets in it: the one rule for a
        value of this key, whether the task file wrote it or ``mogrun_adjust_job``
        returned it. ``ValueError``: the value is wrong (a crash of the plugin's
        is its ``PluginError``)."""
        kept = self.validate(value)
        return kept, self.secrets_in(kept)

    def secrets_in(self, value: Any) -> frozenset[str]:
        """The secrets ``secrets`` lists for ``value`` (its non-empty strings)."""
        if self.secrets is None:
            return frozenset()
        return frozenset(s for s in self.secrets(value) if isinstance(s, str) and s)
