"""A start given up on after an attempt that may have reached the server (its
answer lost, then retried until the retries ran out): the run may exist. It is
never said or recorded as a start that could not start: ``status`` shows it
unconfirmed and ``rerun`` sends the same Idempotency-Key, which the server answers
with the run the lost attempt made, never a second. End to end against the
emulator (``drop_after_commit``: the run is stored, its answer dropped)."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

from mogrun.engine.runner import UNANSWERED
from mogrun.testing import write_taskfile

JOB = """
    [jobs.hello]
    repo = "acme/api"
    prompt = "hi\\n@emulator duration=0.2s"
    retry = { attempts = 2, max_delay = "0.05s" }
"""


def _keys(emulator) -> list[str]:
    return [r.idempotency_key for r in emulator.requests if r.method == "POST"]


def _message(tmp_path) -> str:
    with contextlib.closing(sqlite3.connect(tmp_path / ".mogrun" / "history.db")) as db:
        (message,) = db.execute("SELECT message FROM runs").fetchone()
    return message


# Then: lost answers until the retries run out, or an answer that gives it up at once
# (a Retry-After past max_delay), which says nothing of what the lost attempt made.
@pytest.mark.parametrize(("then", "count", "code"), [("drop_after_commit", 2, 69),
                                                     ("503", 1, 69), ("429", 1, 75)])
def test_a_start_given_up_after_a_lost_answer_is_unconfirmed_and_rerun_attaches(
        mogrun_cli, mogrun_emulator, tmp_path, then, count, code):
    write_taskfile(tmp_path, JOB)
    mogrun_emulator.add_fault("start", "drop_after_commit")  # the run is made, unanswered
    mogrun_emulator.add_fault("start", then, count=count)
    result = mogrun_cli("hello", cwd=tmp_path)
    assert result.exit_code == code, result
    assert len(mogrun_emulator.runs) == 1
    sent = _keys(mogrun_emulator)
    assert len(sent) >= 2 and len(set(sent)) == 1, sent  # every attempt under one key
    assert "could not start" not in result.output
    assert "the run may have started" in result.stderr, result
    assert "mogrun status hello" in result.stderr and "rerun hello" in result.stderr
    assert "Traceback" not in result.output
    assert _message(tmp_path) == UNANSWERED

    status = mogrun_cli("status", "hello", cwd=tmp_path)
    assert "unconfirmed" in status.stdout and "not started" not in status.stdout, status

    rerun = mogrun_cli("rerun", cwd=tmp_path)
    assert rerun.exit_code == 0, rerun
    assert _keys(mogrun_emulator) == [*sent, sent[0]]  # the same key: no second run
    assert len(mogrun_emulator.runs) == 1
    assert "was never answered, so it may have made a run" in rerun.stderr, rerun
    assert "attached to existing run" in rerun.output


def test_a_start_refused_at_the_door_every_time_made_no_run(mogrun_cli, mogrun_emulator,
                                                           tmp_path):
    # 503 at each attempt: the server acted on none, so the start could not start, and
    # a rerun may make it under its next attempt's key.
    write_taskfile(tmp_path, JOB)
    mogrun_emulator.add_fault("start", "503", count=3)
    result = mogrun_cli("hello", cwd=tmp_path)
    assert result.exit_code == 69, result
    assert "could not start" in result.output
    assert mogrun_emulator.runs == []
    assert _message(tmp_path) != UNANSWERED
    status = mogrun_cli("status", "hello", cwd=tmp_path)
    assert "unconfirmed" not in status.stdout, status
