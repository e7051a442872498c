"""The server's limits on a start request, checked before any request so that
a 400 can never be the first sign of a mistake (docs/taskfile.md lists them)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from mogrun.durations import format_duration
from mogrun.envnumbers import env_number
from mogrun.models import MAX_KEY, ResolvedJob, StartRequest
from mogrun.reponames import repo_key
from mogrun.taskfile.gitrefs import ref_problem
from mogrun.taskfile.schema import DEFAULT_SANDBOXES, JOB_KEYS, MAX_LIMIT
from mogrun.tomltext import toml_repr

MAX_PROMPT = 100_000
# By default a sandbox slot frees 35-40 min after its run ends: the workspace's idle
# timeout (30m), then the reaper, which sweeps every 5 minutes and stops a sandbox on
# its second idle sighting.
SLOT_FREES_AFTER = 40 * 60.0


def server_length(text: str) -> int:
    """``text.length`` as the server's JavaScript counts it: UTF-16 code units (a
    lone surrogate, which only a file read with ``surrogateescape`` holds, is one)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def request_problem(request: StartRequest) -> tuple[str, str] | None:
    """The first limit ``request`` breaks, as (key, message), or ``None``."""
    problems = request_problems(request)
    return problems[0] if problems else None


def request_problems(request: StartRequest) -> list[tuple[str, str]]:
    """Every limit ``request`` breaks, as (key, message), one per key in the order
    the server checks them: ``check`` lists them all at once."""
    found = (_prompt_problem(request), _harness_problem(request), _key_problem(request),
             *_branch_problems(request), _root_problem(request))
    return [problem for problem in found if problem is not None]


def _prompt_problem(request: StartRequest) -> tuple[str, str] | None:
    if not request.prompt.strip():
        return "prompt", "the prompt is empty"
    length = server_length(request.prompt.strip())
    if length > MAX_PROMPT:
        counted = "" if length == len(request.prompt.strip()) else (
            " as the server counts them (UTF-16 units: an emoji is 2)")
        return "prompt", (f"the prompt is {length:,} characters{counted} after "
                          f"templating; the server accepts at most {MAX_PROMPT:,}")
    return None


def _harness_problem(request: StartRequest) -> tuple[str, str] | None:
    """A harness the server does not run (anything else is its 400 Invalid harness),
    said as the task file's rule says it."""
    problem = JOB_KEYS["harness"](request.harness) if request.harness is not None else None
    return ("harness", f"harness {problem}") if problem else None


def key_length_problem(key: str) -> str | None:
    """Why ``key`` is no key the server takes for its length (1..``MAX_KEY`` after
    trimming), or ``None``."""
    length = len(key.strip())
    if 1 <= length <= MAX_KEY:
        return None
    return f"the idempotency key must be 1..{MAX_KEY} characters after trimming, not {length}"


def _key_problem(request: StartRequest) -> tuple[str, str] | None:
    key = request.idempotency_key.strip()
    too_long_or_empty = key_length_problem(key)
    if too_long_or_empty is not None:
        return "idempotency_key", too_long_or_empty
    unsendable = sorted({c for c in key if not " " <= c <= "~"})
    if unsendable:
        return "idempotency_key", ("the idempotency key is sent as an HTTP header and may "
                                   "hold only printable ASCII characters, not "
                                   + ", ".join(map(toml_repr, unsendable)))
    return None


def _branch_problems(request: StartRequest) -> list[tuple[str, str]]:
    problems = []
    for name, value in (("branch", request.working_branch), ("base_branch", request.base_branch)):
        problem = ref_problem(value) if value is not None else None
        if problem:
            problems.append((name, f"{toml_repr(value)} is not a valid git branch name: "
                                   f"it {problem}"))
    # The server's rule (normalizeStartRequest): only a branch to create must differ
    # from its base; without create_branch the working branch defaults to the base.
    working, base = (request.working_branch or "").strip(), (request.base_branch or "").strip()
    if not problems and request.create_branch and working and working == base:
        problems.append(("branch", "create_branch needs a working branch different from the "
                         f"base branch ({toml_repr(request.base_branch)})"))
    return problems


def _root_problem(request: StartRequest) -> tuple[str, str] | None:
    if request.root_directory is None:
        return None
    problem = root_problem(request.root_directory)
    return ("root", f"root {toml_repr(request.root_directory)} {problem}") if problem else None


def root_problem(root: str) -> str | None:
    """Why ``root`` is not a relative path inside the repo, or ``None``."""
    if not root.strip():
        return "is empty (leave root out for the repo root)"
    if root.startswith(("/", "\\")) or (len(root) > 1 and root[1] == ":"):
        return "must be relative to the repo"
    if ".." in root.replace("\\", "/").split("/"):
        return 'may not contain ".."'
    if "\0" in root or _ENCODED_DOTS.search(root):  # the server refuses these too
        return 'may not contain a NUL or a percent-encoded "." or ".." part'
    return None


_ENCODED_DOTS = re.compile(r"(?:^|/)%2e(?:%2e)?(?:/|$)", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)  # every listed sandbox's root, at each listing
def server_root(root: str | None) -> str | None:
    """``root`` as the server stores it and lists it on sandboxes: trimmed, without
    a leading ``./`` or ``/``, runs of ``/`` as one, no trailing ``/``; ``None``
    for the repo root (``""``, ``"."``). A start is matched to the sandbox that
    will serve it in this form (``./apps/web/`` is ``apps/web``)."""
    if root is None:
        return None
    text = re.sub(r"^\./+", "", root.strip()).lstrip("/")
    text = re.sub(r"/+", "/", text).rstrip("/")
    return None if text in ("", ".") else text


SANDBOXES_ENV = "MOGRUN_SANDBOXES"


def sandboxes_override(env: Mapping[str, str]) -> int | None:
    """``MOGRUN_SANDBOXES``: the account's sandbox slots for this environment (a CI
    runner on a bigger plan, an uncapped test server), over ``[mogplex] sandboxes``
    and within its bounds (``UsageError`` for a value out of them)."""
    return env_number(env, SANDBOXES_ENV, int, 1, MAX_LIMIT)


def account_slots(settings: Mapping[str, Any], env: Mapping[str, str]) -> int | None:
    """The account's sandbox slots a session counts on: ``MOGRUN_SANDBOXES``, else
    ``[mogplex] sandboxes``, else the server's 3; ``None`` when the file's value is
    wrong (the task file's error, said where it is read: no count is said beside it)."""
    override = sandboxes_override(env)
    if override is not None:
        return override
    cap = settings.get("sandboxes", DEFAULT_SANDBOXES)
    return cap if isinstance(cap, int) and not isinstance(cap, bool) and 1 <= cap <= MAX_LIMIT \
        else None


def slot_wait_problem(job: ResolvedJob, cap: int, source: str = "[mogplex] sandboxes", *,
                      leg: str | None = None) -> str | None:
    """Why ``job``'s runs beyond the account's ``cap`` sandbox slots will most likely
    give up waiting for one, or ``None``: they need more sandboxes than ``cap`` (runs
    of one repo, branch and root share one), and a slot frees later than their
    ``capacity_wait`` lets them wait, by default. Said before the first run: a
    fan-out over more repos than slots otherwise failed its extra runs 30 minutes in.
    ``leg``: ``job`` is one leg's runs, ``cap`` its share, and ``leg`` says of how
    many legs and whose slots (``ci github --shards``)."""
    if job.automation is not None or job.capacity_wait >= SLOT_FREES_AFTER:
        return None
    needed = {(repo_key(plan.request.repo), plan.request.sandbox_branch(),
               server_root(plan.request.root_directory)) for plan in job.runs}
    if len(needed) <= cap:
        return None
    other = len(needed) - cap
    runs = "run waits" if other == 1 else "runs wait"
    held = (f"and the account has {cap} ({source})" if leg is None
            else f"in {leg}, which takes {cap} of them ({source})")
    return (f'job "{job.name}" needs {len(needed)} sandboxes {held}: its other {other} {runs} '
            "for a slot, "
            "which frees 35-40 min after a run ends by default (the idle timeout, 30m, "
            "then the reaper), later than its capacity_wait "
            f"{format_duration(job.capacity_wait)}; set capacity_wait = \"1h\" or more "
            "(a bound: a slot that frees sooner is taken at once)")
