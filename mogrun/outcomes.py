"""The vocabulary of how runs stand and end: one enum each, with its behaviour.

``RunStatus`` is the server's word for a run; ``Outcome`` is mogrun's verdict
on a run or a job (after gates, timeouts, skips). Both are ``StrEnum``s, so
they compare equal to (and serialise as) the strings the API, history,
``--json`` and plugins use. Stdlib only: every layer imports it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """A run's ``status`` on the server. A newer server may send others:
    ``is_terminal`` treats any unknown status as still going."""

    PENDING = "pending"
    STREAMING = "streaming"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Not terminal: the agent's pass succeeded but stopped at a checkpoint to ask a
    # person something. Only a reply outside the API (Slack) or a cancel moves it on.
    AWAITING_INPUT = "awaiting_input"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL

    @classmethod
    def is_terminal(cls, status: str | None) -> bool:
        """Whether a raw status string is terminal; unknown ones are not."""
        return status in _TERMINAL_VALUES


_TERMINAL = frozenset({RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.CANCELLED})
_TERMINAL_VALUES = frozenset(str(status) for status in _TERMINAL)


def awaiting_input_way_on(cancel: str) -> str:
    """What a person can do with a run awaiting input (no API call answers it), given
    the ``cancel`` command line that ends it instead."""
    return f"answer it in Mogplex, or cancel it with: {cancel}"


class Outcome(StrEnum):
    """What a run or a job ended as, for gates, notifiers, the summary and exit codes.

    Declaration order of the failing members is their precedence: when a
    job's runs end differently, the first failing outcome present names the
    job (an ``error`` outweighs a ``timeout``, which outweighs ``failed``...).

    ``refused`` is an attempt's, never a run's: the server refused the attempt
    for capacity and the next attempt followed, so it is recorded (the history
    keeps every attempt) but fails nothing and takes no part in a job's outcome.
    """

    ERROR = "error"
    TIMEOUT = "timeout"
    FAILED = "failed"
    CANCELLED = "cancelled"
    GATE_FAILED = "gate_failed"
    SKIPPED = "skipped"
    SUCCESS = "success"
    DETACHED = "detached"  # started with --detach (or left going): not judged
    REFUSED = "refused"  # an attempt refused for capacity, followed by the next one

    @property
    def passed(self) -> bool:
        """Only a success passes; a detached start is not a failure either."""
        return self is Outcome.SUCCESS

    @property
    def failing(self) -> bool:
        """A failure of the run, and so of the invocation: not a pass, a detached
        start, or an attempt refused for capacity (the next attempt is the run)."""
        return self not in (Outcome.SUCCESS, Outcome.DETACHED, Outcome.REFUSED)

    @property
    def exit_code(self) -> int:
        """0 for a pass or a detached start; 1 for any failing outcome."""
        return 1 if self.failing else 0

    @classmethod
    def of_status(cls, status: str | None) -> Outcome:
        """The outcome a terminal server status stands for before gates."""
        if status in (RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.CANCELLED):
            return cls(status)
        return cls.ERROR

    @classmethod
    def of_job(cls, outcomes: Iterable[str]) -> Outcome:
        """A job passes only when every run passes (fan-out included); otherwise
        the failing outcome of highest precedence names it. No runs: skipped.
        A refused attempt is not a run's result: it is left out."""
        present = {cls(outcome) for outcome in outcomes} - {cls.REFUSED}
        for outcome in cls:
            if outcome.failing and outcome in present:
                return outcome
        if present == {cls.DETACHED}:
            return cls.DETACHED
        return cls.SUCCESS if present else cls.SKIPPED


# What a notifier's ``on`` may name: every outcome a person is told about, plus "always".
NOTIFY_OUTCOMES: tuple[str, ...] = tuple(
    str(o) for o in Outcome if o not in (Outcome.ERROR, Outcome.DETACHED, Outcome.REFUSED))


def left_at_a_second_signal(run_id: str | None, exit_code: int,
                            cancelling: Collection[str] = (),
                            ended: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A started run's result fields (``RunResult``'s, a history row's) when a
    second signal leaves before its result: left going (``cancelling``: run ids
    whose cancel was sent, not answered), unless it was seen to end (``ended``:
    run id -> its terminal status). One cancelled is what its result would have
    said; one that ended on its own was never judged (the signal came before or
    while its gates ran): an error that says so, which ``rerun`` starts again.
    The history, the reports and the plugins' results say it alike: --json and
    JUnit called a run whose gate the signal cut short "left going"."""
    status = (ended or {}).get(run_id or "")
    if status is None:
        return {"outcome": str(Outcome.ERROR), "exit_code": exit_code, "left_going": True,
                "message": left_going_message(run_id in cancelling)}
    if status == RunStatus.CANCELLED:
        return {"status": status, "outcome": str(Outcome.CANCELLED), "exit_code": exit_code,
                "left_going": False, "message": "interrupted"}
    return {"status": status, "outcome": str(Outcome.ERROR), "exit_code": exit_code,
            "left_going": False, "message": f"interrupted again once the run had ended "
                                            f"({status}), before its gates judged it"}


def left_going_message(cancel_sent: bool) -> str:
    """What a run's result and history row say when a second signal leaves it: one
    whose cancel was sent and not answered may well have been cancelled."""
    return ("interrupted again; its cancel was sent, not yet answered" if cancel_sent
            else "interrupted again; left going")


# What a run never started says when a second signal leaves (history, JUnit).
NOT_STARTED_AGAIN = "interrupted again before it started"


_REFUSED_MARK = " (refused for capacity; attempt "


def refused_message(reason: str, next_attempt: int) -> str:
    """The recorded message of an attempt the server refused for capacity (``reason``,
    the run's error), which ``refusal_reason`` reads back."""
    return f"{reason}{_REFUSED_MARK}{next_attempt} follows)"


def refusal_reason(message: str) -> str:
    """The server's reason in a ``refused_message`` (the whole message otherwise)."""
    return message.partition(_REFUSED_MARK)[0]
