"""The history work a fan-out no longer does on each run's thread: writes made
together (``History.together``), status updates that do not wait for another
thread's write (``HistoryObserver``), and the keys sent before read once for all
the planned runs (``session._sent_before``)."""

from __future__ import annotations

import dataclasses
import gc
import sqlite3
import threading
import time
import weakref

import pytest

from mogrun.engine import recorder
from mogrun.engine.history import History
from mogrun.engine.recorder import HistoryObserver
from mogrun.engine.track import RunTrack
from mogrun.errors import MogrunError
from mogrun.models import ResolvedJob, RunPlan, StartRequest
from mogrun.runs import RunState

from .conftest import disk_full, room_again


def make_job(*repos: str) -> ResolvedJob:
    runs = tuple(RunPlan("build", repo, StartRequest(repo, "do it", f"key-{repo}"))
                 for repo in repos)
    return ResolvedJob("build", "", (), runs, 60.0)


def _status(path, row_id: int) -> str | None:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT status FROM runs WHERE id = ?", (row_id,)).fetchone()[0]


def test_writes_made_together_are_every_one_or_none(tmp_path):
    history = History(tmp_path / "h.db", "local")
    first = history.record_start("inv", "build", "acme/api", "k1")
    second = history.record_start("inv", "build", "acme/web", "k2")
    with pytest.raises(MogrunError, match="cannot write run history"):
        history.together([
            lambda: history.update(first, status="running"),
            lambda: history.record_start("inv", None, "acme/x", "k3"),  # NOT NULL: refused
        ])
    assert _status(history.path, first) is None  # the update before it was not kept
    with pytest.raises(ValueError, match="not history columns"):  # not sqlite's error
        history.together([lambda: history.update(first, status="queued"),
                           lambda: history.update(second, bogus=1)])
    assert _status(history.path, first) is None
    # No transaction was left open: the next writes, alone or together, are made.
    history.update(second, status="queued")
    history.together([lambda: history.update(first, status="running"),
                      lambda: history.update(second, status="success")])
    assert (_status(history.path, first), _status(history.path, second)) == (
        "running", "success")
    with sqlite3.connect(history.path) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == 2


class _SlowClaim(History):
    """A history whose claim of one row holds its write until told to go on."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.writing, self.go_on = threading.Event(), threading.Event()

    def claim(self, row_id, key, **kwargs) -> None:
        if key == "slow":
            self.writing.set()
            assert self.go_on.wait(10)
        super().claim(row_id, key, **kwargs)


def test_a_status_change_does_not_wait_for_another_thread_s_write(tmp_path):
    """Every status change of a fan-out waited its turn at the history: 200 threads
    queued on one lock. Now the thread writing makes it, and the run goes on."""
    history = _SlowClaim(tmp_path / "h.db", "local")
    job = make_job("acme/api", "acme/web")
    observer = HistoryObserver(history, "inv", warn=lambda message: None)
    observer.session_started([job])
    slow, quick = (RunTrack.of(job, plan) for plan in job.runs)
    slow.rebase(dataclasses.replace(slow.base, idempotency_key="slow"))
    observer.run_pending(quick)
    claiming = threading.Thread(target=observer.run_pending, args=(slow,))
    claiming.start()
    assert history.writing.wait(10)
    went_on = threading.Event()

    def change() -> None:
        observer.status(quick, "queued", RunState("r_2", "running"))
        went_on.set()

    threading.Thread(target=change, daemon=True).start()
    assert went_on.wait(5), "the status change waited for the other thread's write"
    history.go_on.set()
    claiming.join(10)
    # Made by the thread that was writing, once its write ended: not left for the end.
    quick_row = observer._rows[id(quick)].id
    assert _status(history.path, quick_row) == "running"


def test_a_status_change_alone_is_written_within_a_moment_and_its_thread_ends(tmp_path):
    """No other write comes to make it: the writing thread does, within WRITE_DELAY
    (a status read from another terminal is never stale for long), then ends."""
    history = History(tmp_path / "h.db", "local")
    job = make_job("acme/api")
    observer = HistoryObserver(history, "inv", warn=lambda message: None)
    observer.session_started([job])
    track = RunTrack.of(job, job.runs[0])
    observer.run_pending(track)
    row = observer._rows[id(track)].id
    observer.status(track, "queued", RunState("r_1", "running"))
    assert _status(history.path, row) is None  # not made by the run's own thread
    deadline = time.monotonic() + 5
    while _status(history.path, row) != "running":
        assert time.monotonic() < deadline, "never written"
        time.sleep(0.01)
    while any(thread.name == "mogrun-history" for thread in threading.enumerate()):
        assert time.monotonic() < deadline + recorder.WRITER_IDLE, "the thread stayed"
        time.sleep(0.05)


def test_the_session_s_end_makes_the_writes_still_waiting(tmp_path, monkeypatch):
    """Whatever the writing thread had not made yet is made by ``kept``, before the
    command says what the history holds, and no lock wait is said for it."""
    monkeypatch.setattr(recorder, "WRITE_DELAY", 30.0)  # the thread would come late
    said: list[str] = []
    history = History(tmp_path / "h.db", "local")
    job = make_job("acme/api", "acme/web")
    observer = HistoryObserver(history, "inv", warn=said.append)
    observer.session_started([job])
    tracks = [RunTrack.of(job, plan) for plan in job.runs]
    for track in tracks:
        observer.run_pending(track)
        observer.status(track, "queued", RunState(f"r_{track.label}", "running"))
    began = time.monotonic()
    assert observer.kept()
    assert time.monotonic() - began < 5 and said == []
    assert [_status(history.path, observer._rows[id(t)].id) for t in tracks] == [
        "running", "running"]


def test_no_row_handle_is_kept_for_a_run_that_ended(tmp_path):
    """A long fan-out's memory per run: once a run's result is recorded, and once
    the planned rows are written, the observer keeps no handle of its row; every
    row is still written whole."""
    history = History(tmp_path / "h.db", "local")
    job = make_job(*(f"acme/r{n}" for n in range(5)))
    observer = HistoryObserver(history, "inv", warn=lambda message: None)
    observer.session_started([job])
    tracks = [RunTrack.of(job, plan) for plan in job.runs]
    handles = []
    for n, track in enumerate(tracks):
        observer.run_pending(track)
        track.started(RunState(f"r_{n}", "queued"), attached=False)
        observer.run_started(track)
        handles.append(weakref.ref(observer._rows[id(track)]))
        track.state = RunState(f"r_{n}", "success")
        observer.run_finished(track, track.result("success"))
    assert observer.kept()
    gc.collect()
    assert [handle() for handle in handles] == [None] * len(tracks)
    with sqlite3.connect(history.path) as db:
        rows = db.execute("SELECT repo, run_id, outcome FROM runs ORDER BY id").fetchall()
    assert rows == [(f"acme/r{n}", f"r_{n}", "success") for n in range(5)]


class _BrokenUpdate(History):
    """A history whose record_start of one key waits to be told to go on, and whose
    status updates fail as a full disk would."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.writing, self.go_on = threading.Event(), threading.Event()

    def record_start(self, invocation, job, repo, key, **kwargs) -> int:
        if key == "slow":
            self.writing.set()
            assert self.go_on.wait(10)
        return super().record_start(invocation, job, repo, key, **kwargs)

    def update(self, row_id, **fields) -> None:
        if fields.get("status") == "running":
            raise MogrunError(f"cannot write run history {self.path}: disk I/O error")
        super().update(row_id, **fields)


def test_a_batch_that_fails_takes_back_the_rows_it_gave_out(tmp_path):
    """A row inserted in a batch rolled back has no id: the end names its run as not
    in the history at all, not as a row missing only its last changes."""
    said: list[str] = []
    history = _BrokenUpdate(tmp_path / "h.db", "local")
    job = make_job("acme/api", "acme/web")
    observer = HistoryObserver(history, "inv", warn=said.append)
    slow, other = (RunTrack.of(job, plan) for plan in job.runs)  # no planned rows
    slow.rebase(dataclasses.replace(slow.base, idempotency_key="slow"))
    first = threading.Thread(target=observer.run_pending, args=(slow,))
    first.start()
    assert history.writing.wait(10)
    second = threading.Thread(target=observer.run_pending, args=(other,))
    second.start()
    observer.status(other, "queued", RunState("r_2", "running"))  # joins the same batch
    time.sleep(0.2)  # the second start's write waits its turn behind the first
    history.go_on.set()
    first.join(10)
    second.join(10)
    assert observer._rows[id(other)].id is None  # the batch's INSERT was rolled back
    assert not observer.kept()
    assert any("runs are no longer recorded" in line for line in said), said
    unrecorded = [line for line in said if line.startswith("not recorded")]
    assert len(unrecorded) == 1 and "build:acme/web (no run, key key-acme/web)" in (
        unrecorded[0]), unrecorded


class _CountedReads(History):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reads = 0

    def _read(self, sql, params):
        self.reads += 1
        return super()._read(sql, params)


def test_keys_sent_before_are_read_for_a_whole_fan_out_at_once(tmp_path):
    """A 1,000-run fan-out read the history before each start (is its key an earlier
    invocation's, whose start only replays?): now once per 500 planned keys, and a
    key that is not planned (a later attempt's) is still read when asked."""
    from mogrun.engine.session import _sent_before

    history = _CountedReads(tmp_path / "h.db", "local")
    repos = [f"acme/r{i:04d}" for i in range(1200)]
    job = make_job(*repos)
    # An earlier invocation sent two of the keys (with a body); a third it only planned.
    for repo in repos[:2]:
        history.claim(history.record_start("old", "build", repo, None), f"key-{repo}",
                      request='{"prompt": "do it"}')
    history.record_planned("old", [("build", repos[2], "")])
    history.claim(history.record_start("inv", "build", repos[3], None), f"key-{repos[3]}",
                  request='{"prompt": "do it"}')  # this invocation's own: not earlier
    history.reads = 0
    sent_before = _sent_before(history, "inv", [job],
                               lambda key: history.earlier_start(key, "inv"))
    assert history.reads == 3  # 1,200 keys, 500 a query
    assert [sent_before(f"key-{repo}") for repo in repos[:5]] == [
        True, True, False, False, False]
    assert [sent_before(f"key-{repo}") for repo in repos].count(True) == 2
    assert history.reads == 3
    assert not sent_before("key-acme/r0000~attempt-2")
    assert history.reads == 4  # not planned: read when asked


def _full_disk_session(tmp_path, runs: int) -> tuple[History, HistoryObserver, list, list[str]]:
    """An observer whose history's disk is full (sqlite's page limit, which fails a
    write as ENOSPC does: SQLITE_FULL), and ``runs`` tracks of 5 KB prompts (each
    row needs pages of its own)."""
    said: list[str] = []
    history = History(tmp_path / "h.db", "local")
    observer = HistoryObserver(history, "inv", warn=said.append)
    plans = tuple(RunPlan("build", f"acme/r{n}", StartRequest(f"acme/r{n}", "x" * 5000,
                                                              f"key-{n}")) for n in range(runs))
    job = ResolvedJob("build", "", (), plans, 60.0)
    disk_full(history._db)
    return history, observer, [RunTrack.of(job, plan) for plan in job.runs], said


def _run_through(observer: HistoryObserver, track: RunTrack, run_id: str) -> None:
    observer.run_pending(track)
    track.started(RunState(run_id, "running"), False)
    observer.run_started(track)
    observer.run_finished(track, track.result("success"))


def test_a_full_disk_holds_the_rows_back_until_there_is_room(tmp_path):
    """One write the disk had no room for stopped recording for the whole session:
    the runs that passed were missing, and ``rerun`` started them again (new keys:
    paid duplicates). Now they wait, and the first write that finds room makes them."""
    history, observer, tracks, said = _full_disk_session(tmp_path, 3)
    for n, track in enumerate(tracks[:2]):
        _run_through(observer, track, f"r{n}")
    room_again(history._db)
    _run_through(observer, tracks[2], "r2")
    assert observer.kept()
    with sqlite3.connect(history.path) as db:
        rows = db.execute("SELECT repo, run_id, outcome FROM runs ORDER BY id").fetchall()
    assert rows == [(f"acme/r{n}", f"r{n}", "success") for n in range(3)]
    assert said == [f"cannot write run history {history.path}: database or disk is full; "
                    "the runs' rows are kept and written once there is room"], said


def test_a_disk_still_full_at_the_end_names_the_runs_without_waiting(tmp_path):
    """A lock is waited for at the session's end (it is let go); a full disk is not
    (room rarely comes): the runs not recorded are named at once."""
    _history, observer, tracks, said = _full_disk_session(tmp_path, 2)
    for n, track in enumerate(tracks):
        _run_through(observer, track, f"r{n}")
    ended = threading.Thread(target=lambda: said.append(f"kept={observer.kept()}"))
    ended.start()
    ended.join(10)
    assert not ended.is_alive() and said[-1] == "kept=False", said
    [named] = [line for line in said if line.startswith("not recorded in the run history")]
    assert "build:acme/r0 (run r0" in named and "build:acme/r1 (run r1" in named, named
    assert not any("no longer recorded" in line or "waiting" in line for line in said), said
