"""What a rerun's attempt is sent under: its Idempotency-Key, the request that key
carried, and (a trigger) the automation it went to.

A start that may have made a run is sent again as it was (the server replays the
run, never doubles it); a key never sent is the run's first start still to make;
any other attempt derives a key of its own from the run's first key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mogrun.engine.history import History
    from mogrun.engine.history_row import HistoryRow
    from mogrun.models import ResolvedJob, RunPlan


def never_sent(row: HistoryRow) -> bool:
    """Whether ``row``'s start surely never went out: skipped (a need did not pass,
    a signal came before it was sent, a rerun held it back) with no run, and not a
    start a signal left unanswered (``may_have_started``). Its key is recorded
    (just before a start would be sent), yet no server has seen it."""
    from mogrun.engine.runner import may_have_started
    from mogrun.outcomes import Outcome

    return (not row.run_id and row.outcome == Outcome.SKIPPED
            and not may_have_started(row.message))


def keys_never_sent(history: History, rows: Sequence[HistoryRow]) -> frozenset[int]:
    """The ids of ``rows`` whose key no start has carried: neither the row's own
    (``never_sent``) nor any other row's of its job here (a rerun that holds a job
    back records it again under the key it held), nor the latest of another
    invocation (of any job, any task file: keys are per account) unless that one is
    the run's own, never sent either. Such a run's next start is its first: under
    that key, so a later run under the same key (``verify-{{ date }}``) attaches to
    it. Any doubt leaves the row out (its next attempt gets a key of its own)."""
    candidates = [row for row in rows if row.idempotency_key and never_sent(row)]
    unsent: set[int] = set()
    for job in dict.fromkeys(row.job for row in candidates):
        mine = [row for row in candidates if row.job == job]
        sent = _keys_sent_by(history, job, {str(row.idempotency_key) for row in mine})
        unsent.update(row.id for row in mine if row.idempotency_key not in sent
                      and not _sent_elsewhere(history, row))
    return frozenset(unsent)


def _keys_sent_by(history: History, job: str, keys: set[str]) -> set[str]:
    """Those of ``keys`` a row of ``job`` here (any invocation) may have sent."""
    return {str(row.idempotency_key) for row in history.rows_keyed(job, keys)
            if not never_sent(row)}


def _sent_elsewhere(history: History, row: HistoryRow) -> bool:
    """Whether the latest start another invocation recorded under ``row``'s key may
    have been sent: one that never was counts only if it is of ``row``'s run and
    task file (``_keys_sent_by`` read every row of those: a file's and older ones')."""
    earlier = history.earlier_start(str(row.idempotency_key), row.invocation)
    return earlier is not None and not (
        never_sent(earlier) and (earlier.job, earlier.repo) == (row.job, row.repo)
        and earlier.task_file in (row.task_file, ""))


def unanswered(row: HistoryRow, base: str | None) -> bool:
    """Whether ``row``'s start may have made a run whose id was never learnt
    (``shown_rows.start_unanswered``: the rule ``status`` shows ``unconfirmed``
    by). Its next attempt sends the same key (the server replays such a run), not
    a new one: only when that key is known (``base``, from ``recorded_base_key``)."""
    from mogrun.cli.shown_rows import start_unanswered

    return base is not None and start_unanswered(row)


def refused_unstored(history: History, rows: Sequence[HistoryRow]) -> frozenset[int]:
    """The ids of ``rows`` whose start the request limit refused (a 429 given up, exit
    75: the server stored nothing) under a key that made a run in another
    invocation: their next attempt sends that key again, which attaches to that run.
    A new key (``~attempt-2``) started a second run of a fixed key's job beside the
    one still going under it. One look-up per invocation (a 429 refuses a fan-out's
    runs together)."""
    from mogrun.outcomes import Outcome

    refused = [row for row in rows if not row.run_id and row.exit_code == 75
               and row.outcome == Outcome.ERROR and row.idempotency_key]
    found: set[int] = set()
    for invocation in dict.fromkeys(row.invocation for row in refused):
        mine = [row for row in refused if row.invocation == invocation]
        made = history.keys_sent_before({str(row.idempotency_key) for row in mine}, invocation)
        found.update(row.id for row in mine if row.idempotency_key in made)
    return frozenset(found)


def recorded_base_key(row: HistoryRow, now: str = "",
                      secrets: Iterable[str] = ()) -> str | None:
    """The key a recorded run's attempt 1 was sent under (an attempt's key is it plus
    ``~attempt-N``), which its next attempt derives its own from: a default key
    (``mogrun-JOB-<nonce>``) or one of ``{{ date }}`` is not the same today.
    History keeps keys masked: a mask is filled with the secret the job's key
    resolved ``now`` holds at that place (``secrets``: the job's), when that masks
    back to what was recorded. ``None`` when it cannot be told: masked and the key
    now differs, shortened with a digest, or not a key mogrun could have sent (an
    edited history: not a header's printable ASCII)."""
    from mogrun.engine.track import attempt_key
    from mogrun.masking import MASK, unmasked
    from mogrun.models import MAX_KEY

    key = row.idempotency_key
    if key and MASK in key:
        key = unmasked(key, now, secrets)
    if not key or len(key) > MAX_KEY or not all(" " <= c <= "~" for c in key):
        return None
    suffix = attempt_key("", row.attempt)
    if not key.endswith(suffix):
        return None
    base = key[:len(key) - len(suffix)]
    return base if attempt_key(base, row.attempt) == key else None


def as_sent(plan: RunPlan, row: HistoryRow, secrets: Iterable[str] = ()) -> RunPlan:
    """``plan`` with the start ``row`` recorded, for an attempt sent again under
    its key: the server takes the same key only with the same request, and a
    ``{{ date }}`` or ``{{ now }}`` renders differently today (409
    IDEMPOTENCY_CONFLICT, then a new key and a second run). History keeps the
    body masked: a mask is filled with the secret the field holds now, when
    that masks back to what was recorded; a field it cannot tell stays as now
    (the conflict's hint then says what changed)."""
    import dataclasses
    import json

    from mogrun.masking import MASK, unmasked

    try:
        recorded = json.loads(row.request) if row.request else None
    except ValueError:
        return plan
    if not isinstance(recorded, dict) or plan.inputs:  # an automation's trigger: as now
        return plan
    now = plan.request.body()
    sent = {key: value for key, value in recorded.items() if key != "repoId"}
    for key, was in recorded.items():
        if isinstance(was, str) and MASK in was:
            current = now.get(key)
            filled = unmasked(was, current if isinstance(current, str) else "", secrets)
            if filled is None:
                del sent[key]
            else:
                sent[key] = filled
    return dataclasses.replace(plan, request=plan.request.with_body(sent))


def went_to(job: ResolvedJob, row: HistoryRow) -> str | None:
    """The automation id ``row``'s trigger went to, when the job names its automation
    otherwise now (by a name, which a rename may have given another): its key is sent
    there again, as the run it may have made is that automation's (sent to the one
    the name finds now, it is a new key, a second run)."""
    from mogrun.engine.recorder import recorded_automation
    from mogrun.reponames import is_uuid

    if job.automation is None or not is_uuid(row.automation):
        return None
    return None if row.automation == recorded_automation(job) else row.automation
