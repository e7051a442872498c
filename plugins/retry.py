"""Bundled plugin: the retry policy and stall detection.

Job key ``retry = {attempts = 5, max_delay = "60s", stall_timeout = "10m"}``:

- ``attempts``: how many consecutive failures of one request are retried
  (the next failure gives up);
- ``max_delay``: the cap of each wait; a server ``Retry-After`` beyond it gives
  up at once rather than sleeping past what the job allows;
- ``stall_timeout``: a run whose status, events and ``updatedAt`` have not
  changed for that long is treated as timed out (off unless set).

Only transient failures are retried (429, 503, 500/502/504, connection
errors and timeouts); 400/401/403/404/409 never are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mogrun.plugin import (
    Problems,
    duration,
    format_duration,
    honoured_retry_after,
    hookimpl,
    is_retryable,
    table,
    toml_repr,
)

KEY = "retry"
DEFAULT_ATTEMPTS = 5
DEFAULT_MAX_DELAY = 60.0
BASE_DELAY = 0.5

if TYPE_CHECKING:
    import random

# Where the jitter comes from (made on first use: `check` loads this plugin and
# needs no random numbers); tests may set a seeded Random.
RNG: random.Random | None = None
# For `mogrun schema` (editors): never stricter than validate.
_DURATION = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}]}
SCHEMA = {"type": "object", "additionalProperties": False, "properties": {
    "attempts": {"type": "integer", "minimum": 1}, "max_delay": _DURATION,
    "stall_timeout": _DURATION}}


def default_policy() -> dict[str, Any]:
    """The policy of a job without ``retry`` (and of requests outside a job)."""
    return {"attempts": DEFAULT_ATTEMPTS, "max_delay": DEFAULT_MAX_DELAY, "stall_timeout": None}


def validate(value: Any) -> dict[str, Any]:
    """The ``retry`` table as a plain dict of numbers (seconds for durations)."""
    found = Problems()  # an unknown sub-key is one more problem: the others are still said
    raw = table(value, KEY, ("attempts", "max_delay", "stall_timeout"), found)
    policy = default_policy()
    if "attempts" in raw:
        policy["attempts"] = found.judge("attempts", _attempts, raw["attempts"])
    if "max_delay" in raw:
        policy["max_delay"] = found.judge("max_delay", duration, raw["max_delay"],
                                          "retry.max_delay")
    if "stall_timeout" in raw:
        policy["stall_timeout"] = found.judge("stall_timeout", _stall, raw["stall_timeout"])
    found.done()
    return policy


def _attempts(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"retry.attempts must be a whole number >= 1, not {toml_repr(value)}")
    return value


def _stall(value: Any) -> float:
    stall = duration(value, "retry.stall_timeout")
    if stall <= 0:
        raise ValueError("retry.stall_timeout must be longer than 0s")
    return stall


def policy_of(job: Any) -> dict[str, Any]:
    """The job's validated policy, or the defaults."""
    options = getattr(job, "options", None) or {}
    return {**default_policy(), **options.get(KEY, {})}


def backoff_delay(
    *, attempt: int, attempts: int, max_delay: float, retry_after: float | None,
    uniform: Callable[[float, float], float],
) -> float | None:
    """Seconds before retry number ``attempt``, or ``None`` to give up.

    A server's Retry-After is honoured exactly (up to ``max_delay``); otherwise
    exponential backoff with full jitter: uniform(0, min(max_delay, 0.5 * 2**(n-1))).
    A Retry-After under a second (a proxy's ``0`` or ``0.001``; the server never
    says less than 1) says no more than none does: taken at its word, every
    attempt would go in one second. The backoff then waits at least that long.
    """
    if attempt > attempts:
        return None
    honoured = honoured_retry_after(retry_after)
    if honoured is not None:
        return None if honoured > max_delay else float(honoured)
    ceiling = min(max_delay, BASE_DELAY * 2 ** min(attempt - 1, 62))
    return max(uniform(0.0, ceiling), retry_after or 0.0)


@hookimpl
def mogrun_job_keys(register: Callable[..., None]) -> None:
    register(KEY, validate, help="retry policy: {attempts, max_delay, stall_timeout}",
             schema=SCHEMA)


def _rng() -> random.Random:
    global RNG
    if RNG is None:
        import random

        RNG = random.Random()
    return RNG


@hookimpl
def mogrun_retry_delay(error: BaseException, attempt: int, job: Any,
                       retry_after: float | None) -> float | bool:
    if not is_retryable(error):
        return False
    policy = policy_of(job)
    delay = backoff_delay(attempt=attempt, attempts=policy["attempts"],
                          max_delay=policy["max_delay"], retry_after=retry_after,
                          uniform=_rng().uniform)
    return False if delay is None else delay


@hookimpl
def mogrun_watch(job: Any, unchanged_for: float) -> str | None:
    stall = policy_of(job)["stall_timeout"]
    if stall is not None and unchanged_for >= stall:
        return f"no change for {format_duration(stall)} (stall_timeout)"
    return None
