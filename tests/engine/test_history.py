"""The history store on its own: parallel writers, reading back, keying by base URL."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from mogrun.api.budget import RequestBudget
from mogrun.engine.history import History
from mogrun.engine.session import _interval_fn

from .conftest import as_older_mogrun_left, disk_full, room_again, subprocess_env


def test_parallel_writers_lose_nothing(tmp_path):
    history = History.for_project(tmp_path, "https://mogplex.com")

    def worker(n: int) -> None:
        for i in range(20):
            row = history.record_start("inv", f"job{n}", "acme/api", f"key-{n}-{i}")
            history.update(row, run_id=f"run_{n}_{i}", status="streaming")
            history.update(row, status="success", outcome="success", exit_code=0)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = history.recent(limit=1000)
    history.close()
    assert len(rows) == 160
    assert {r.status for r in rows} == {"success"}
    assert len({r.run_id for r in rows}) == 160
    mode = sqlite3.connect(tmp_path / ".mogrun" / "history.db").execute(
        "PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert (tmp_path / ".mogrun" / ".gitignore").read_text() == "*\n"


def test_rows_are_kept_apart_by_base_url(tmp_path):
    real = History.for_project(tmp_path, "https://mogplex.com")
    local = History.for_project(tmp_path, "local")
    real.update(real.record_start("a", "job", "acme/api", "k1"), run_id="r_real")
    local.update(local.record_start("b", "job", "acme/api", "k2"), run_id="r_local")
    assert [r.run_id for r in real.recent()] == ["r_real"]
    assert [r.run_id for r in local.recent()] == ["r_local"]
    assert real.by_run_id("r_local") is None


def test_rows_keyed_finds_the_jobs_rows_of_this_file_and_api_by_key(tmp_path):
    """rerun's look-up of the keys a job sent: by key, through runs_by_key, where it
    read every row the job ever had (3.5 s on a million rows)."""
    path = tmp_path / "history.db"
    ours = History(path, "https://mogplex.com", "mogplex.toml")
    for job, repo, key in (("fan", "acme/a", "k1"), ("fan", "acme/b", "k2"),
                           ("lint", "acme/a", "k3")):
        ours.record_start("inv1", job, repo, key)
    History(path, "https://mogplex.com", "nightly.toml").record_start("inv2", "fan", "x/y", "k4")
    History(path, "http://127.0.0.1:9", "mogplex.toml").record_start("inv3", "fan", "x/z", "k5")
    ours.record_start("inv4", "fan", "acme/a", "k1")  # a later attempt under the same key
    found = ours.rows_keyed("fan", {"k1", "k2", "k3", "k4", "k5", "nope"})
    assert sorted((row.invocation, row.idempotency_key) for row in found) == [
        ("inv1", "k1"), ("inv1", "k2"), ("inv4", "k1")]
    many = {f"k{n}" for n in range(1200)}  # past one query's _IN_CHUNK keys
    assert {row.idempotency_key for row in ours.rows_keyed("fan", many)} == {"k1", "k2"}
    sent: list[str] = []  # what rows_keyed itself asks sqlite, explained
    ours._db.set_trace_callback(sent.append)
    ours.rows_keyed("fan", {"k1", "k2"})
    ours._db.set_trace_callback(None)
    [query] = [sql for sql in sent if sql.startswith("SELECT")]
    plan = ours._db.execute(f"EXPLAIN QUERY PLAN {query}").fetchall()
    assert "runs_by_key" in str(plan) and "SCAN" not in str(plan), plan


def test_latest_invocation_of_a_job(tmp_path):
    history = History.for_project(tmp_path, "u")
    history.update(history.record_start("old", "fan", "acme/api", "k"), run_id="r0")
    for repo in ("acme/api", "acme/web"):
        history.update(history.record_start("new", "fan", repo, "k"), run_id=f"r-{repo}")
    rows = history.latest_invocation_of("fan")
    assert [r.run_id for r in rows] == ["r-acme/api", "r-acme/web"]
    assert history.is_fan_out(rows[0])


def _plans_of(history, ask):
    """The query plan of each query ``ask`` makes of ``history``."""
    sent: list[str] = []
    history._db.set_trace_callback(sent.append)
    try:
        ask()
    finally:
        history._db.set_trace_callback(None)
    return [str(history._db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall())
            for sql in sent if sql.lstrip().upper().startswith(("SELECT", "WITH"))
            and "NOT INDEXED" not in sql]  # (_FIRST_KNOWING_ROW: only where '' rows are)


def test_an_invocations_rows_are_found_by_index_not_by_every_row_of_the_job(tmp_path):
    """``status`` found each job's latest invocation by reading every row of the job
    (7 s on a cold cache at a million rows): runs_by_invocation is a range for it."""
    history = History.for_project(tmp_path, "u", "mogplex.toml")
    for n in range(3):
        history.record_start(f"inv{n}", "fan", "acme/api", f"k{n}")
    for ask in (lambda: history.latest_invocation_of("fan"), history.latest_invocation):
        plans = _plans_of(history, ask)
        assert any("runs_by_invocation (base_url=? AND invocation=? AND task_file=?" in plan
                   for plan in plans), plans
        assert not any("SCAN runs" in plan for plan in plans), plans
    assert [row.invocation for row in history.latest_invocation()] == ["inv2"]
    assert [row.idempotency_key for row in history.latest_invocation_of("fan")] == ["k2"]


def test_the_newest_rows_of_any_job_are_read_in_order_not_sorted(tmp_path):
    """``history -n 20``, and ``logs`` and ``rerun`` without a job (the newest row's
    invocation), sorted every row of the task file first: 0.7 s at a million rows."""
    history = History.for_project(tmp_path, "u", "mogplex.toml")
    for n in range(30):
        history.record_start(f"inv{n}", ("fan", "lint")[n % 2], "acme/api", f"k{n}")
    for ask in (lambda: history.recent(20), history.latest_invocation,
                lambda: list(history.stream_recent(20))):
        plans = _plans_of(history, ask)  # (an invocation's few rows are sorted)
        assert plans and not any("SCAN runs" in plan or ("TEMP B-TREE" in plan
                                 and "runs_by_invocation" not in plan) for plan in plans), plans
    assert [row.invocation for row in history.recent(3)] == ["inv29", "inv28", "inv27"]


def test_the_jobs_a_history_has_are_sought_not_sorted(tmp_path):
    """A typo's hint took the jobs of the newest 200 rows, which sorted every row of
    the task file first (0.2 s at a million rows); each job is now one seek, and a
    job not run lately is a hint too."""
    history = History.for_project(tmp_path, "u", "mogplex.toml")
    history.record_start("i0", "lint", "acme/api", "k0")
    for n in range(300):
        history.record_start(f"i{n}", "fan", "acme/api", f"k{n}")
    history.record_start("i9", "docs", "acme/api", "k9")
    assert history.job_names() == ["docs", "fan", "lint"]
    plans = _plans_of(history, history.job_names)
    assert plans and not any("SCAN runs" in plan or "TEMP B-TREE" in plan for plan in plans)


def test_a_run_recorded_under_another_url_is_found_by_seeks(tmp_path):
    """``status ID`` of a run this URL never recorded read every row (``base_url !=
    ?``): now one seek of runs_by_run_id per other URL, the newest of them named."""
    path = tmp_path / "history.db"
    for url, run_id in (("local", "r1"), ("https://b.example", "r1"),
                        ("https://a.example", "r2"), ("u", "r3")):
        History(path, url).update(History(path, url).record_start("i", "j", "x/y", "k"),
                                  run_id=run_id)
    history = History(path, "u")
    assert history.recorded_under("r1") == "https://b.example"  # the newer of the two
    assert history.recorded_under("r2") == "https://a.example"
    assert history.recorded_under("r3") is None  # this URL's own
    assert history.recorded_under("nope") is None
    plans = _plans_of(history, lambda: history.recorded_under("r1"))
    assert plans and not any("SCAN runs" in plan for plan in plans), plans


def test_poll_interval_is_set_by_the_budget_and_grows_with_runs():
    budget = RequestBudget()
    interval = _interval_fn(budget, None)
    assert 1.0 <= interval(1).seconds < 1.5  # one run may use the whole 60/min
    assert interval(30).seconds > 30.0  # 30 runs share 60 requests a minute
    assert interval(30).kind == "request_budget"
    fast = _interval_fn(budget, 0.1)  # the test-only floor
    assert (fast(1).seconds, fast(1).kind) == (0.1, "poll_interval")
    assert fast(30) == interval(30)  # the budget still holds, and says so


def test_the_test_poll_interval_leaves_half_the_request_window_free():
    """MOGRUN_POLL_INTERVAL=0.2 polled one run 5 times a second at 60/min: the
    window filled, the run's end went unseen ~50 s and a cancel found no room."""
    now = [0.0]
    budget = RequestBudget(clock=lambda: now[0], sleep=lambda s: None)
    fast = _interval_fn(budget, 0.2)
    for _ in range(29):  # polls every 0.2 s: under half of 60 in the window
        assert fast(1).kind == "poll_interval"
        budget.settle(budget.reserve("poll"))
        now[0] += 0.2
    budget.settle(budget.reserve("poll"))  # the 30th: half the window now
    assert fast(1) == _interval_fn(budget, None)(1)  # the budget's pace from here
    now[0] += 61.0  # the window empties: fast again
    assert fast(1).seconds == 0.2


def test_a_row_written_survives_mogrun_being_killed(tmp_path):
    """synchronous=NORMAL under WAL: a committed row is in the OS's hands, so a
    crash (here SIGKILL) of mogrun right after the write loses nothing."""
    import subprocess
    import sys

    script = (
        "import os, signal\n"
        "from mogrun.engine.history import History\n"
        f"h = History.for_project({str(tmp_path)!r}, 'u')\n"
        "row = h.record_start('inv', 'job', 'acme/api', 'k')\n"
        "h.update(row, run_id='run_1', status='running')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == -9, done.stderr
    (row,) = History.for_project(tmp_path, "u").recent()
    assert (row.run_id, row.status) == ("run_1", "running")
    db = sqlite3.connect(tmp_path / ".mogrun" / "history.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_every_attempt_is_a_row_and_the_latest_is_the_run(tmp_path):
    history = History.for_project(tmp_path, "u")
    first = history.record_start("inv", "fan", "acme/api", "k")
    history.update(first, run_id="r1", outcome="failed", message="Too many active sandboxes")
    history.update(history.record_start("inv", "fan", "acme/web", "k"), run_id="r2")
    history.update(history.record_start("inv", "fan", "acme/api", "k~attempt-2", attempt=2,
                                        why="capacity"), run_id="r3")
    rows = history.latest_invocation_of("fan")
    assert [(r.repo, r.run_id, r.attempt, r.why) for r in rows] == [
        ("acme/api", "r3", 2, "capacity"), ("acme/web", "r2", 1, "")]
    assert [r.run_id for r in history.latest_invocation()] == ["r3", "r2"]
    assert len(history.recent()) == 3


def test_a_repo_edited_in_case_only_is_one_run_of_its_job(tmp_path):
    """``acme/API`` edited to ``acme/api`` in the task file is the same repo
    (``repo_key``), but its rows from before and after the edit were two runs of
    the job: the latest of each was read, the old spelling's failure among them."""
    history = History.for_project(tmp_path, "u")
    history.update(history.record_start("old", "fan", "acme/API", "k1"), run_id="r1",
                   outcome="failed")
    history.update(history.record_start("old", "fan", "acme/web", "k2"), run_id="r2")
    history.update(history.record_start("new", "fan", "acme/api", "k3"), run_id="r3")
    assert [r.run_id for r in history.latest_runs_of("fan")] == ["r3", "r2"]


def test_an_older_database_gains_the_attempt_columns(tmp_path):
    _old_history(tmp_path / ".mogrun" / "history.db")
    (row,) = History.for_project(tmp_path, "u").recent()
    assert (row.job, row.attempt, row.why) == ("j", 1, "")


def test_an_older_database_opened_by_many_at_once_is_upgraded_once(tmp_path):
    """Six mogruns opening an old history at once each saw a column missing and
    added it: all but one failed on "duplicate column name" (and a run then went
    unrecorded)."""
    for attempt in range(5):  # a race: each round opens a fresh old file at once
        root = tmp_path / str(attempt)
        _old_history(root / ".mogrun" / "history.db")
        barrier = threading.Barrier(6)
        failures: list[BaseException] = []

        def open_it(root=root, barrier=barrier, failures=failures) -> None:
            barrier.wait()
            try:
                History.for_project(root, "u").close()
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        (row,) = History.for_project(root, "u").recent()
        assert (row.job, row.attempt, row.automation) == ("j", 1, "")


def test_rows_an_older_mogrun_keyed_by_the_url_as_typed_are_found_again(tmp_path):
    """mogrun 0.1 stored the API's URL as typed; one spelling per API came later, and
    rows under ``https://Mogplex.com:443`` were never found again after an upgrade:
    ``history`` pointed at ``--url https://Mogplex.com:443``, which is spelt the new
    way too, and said the same again."""
    path = tmp_path / ".mogrun" / "history.db"
    _old_history(path, base_urls=("https://Mogplex.com:443", "HTTP://LocalHost:80/x",
                                  "local", "https://mogplex.com", "https://h:99999"))
    rows = History.for_project(tmp_path, "https://mogplex.com").recent()
    assert [row.invocation for row in rows] == ["i3", "i0"]
    assert [r.invocation for r in History.for_project(tmp_path, "http://localhost/x").recent()
            ] == ["i1"]
    assert [r.invocation for r in History.for_project(tmp_path, "local").recent()] == ["i2"]
    stored = sqlite3.connect(path).execute("SELECT base_url FROM runs ORDER BY id").fetchall()
    assert stored == [("https://mogplex.com",), ("http://localhost/x",), ("local",),
                      ("https://mogplex.com",), ("https://h:99999",)]  # (no URL: left as is)


def test_a_history_of_one_spelling_is_not_written_on_open(tmp_path):
    _old_history(tmp_path / ".mogrun" / "history.db", base_urls=("https://mogplex.com", "local"))
    History.for_project(tmp_path, "u").close()  # (the columns added: a write, once)
    history = History.for_project(tmp_path, "u")
    assert history._db.total_changes == 0
    history.close()


def _old_history(path, base_urls=("u",)):
    """A history as mogrun 0.1 left it (before attempt, why, request, ...), a row
    under each of ``base_urls`` (invocation ``i0``, ``i1``...)."""
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, invocation TEXT NOT "
                "NULL, base_url TEXT NOT NULL, job TEXT NOT NULL, repo TEXT NOT NULL, run_id "
                "TEXT, idempotency_key TEXT, status TEXT, outcome TEXT, attached INTEGER NOT "
                "NULL DEFAULT 0, started_at TEXT NOT NULL, finished_at TEXT, exit_code INTEGER,"
                " gates TEXT NOT NULL DEFAULT '[]', message TEXT NOT NULL DEFAULT '')")
    for index, url in enumerate(base_urls):
        old.execute("INSERT INTO runs (invocation, base_url, job, repo, started_at) "
                    "VALUES (?, ?, 'j', 'acme/api', '2026-01-01T00:00:00+00:00')",
                    ("i" if base_urls == ("u",) else f"i{index}", url))
    old.commit()
    old.close()


def test_a_key_is_looked_up_by_index_in_an_old_history_too(tmp_path):
    """Every start asks whether its key was sent before (a replay needs no
    sandbox slot): without an index that scanned the whole history per start
    (1.5 ms a start at 20,000 rows). A history made before the index gains it."""
    path = tmp_path / "history.db"
    History(path, "x").close()
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX runs_by_key")  # as an older mogrun left it
    history = History(path, "x")
    plan = history._db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM runs WHERE base_url = ? AND (idempotency_key = ?"
        " AND invocation != ? AND request != '') ORDER BY id DESC LIMIT 1",
        ("x", "k", "i")).fetchall()
    assert "USING INDEX runs_by_key" in str(plan), plan
    history.record_start("inv-1", "job", "acme/api", "k", request="{}")
    assert history.earlier_start("k", "inv-2") is not None
    assert history.earlier_start("k", "inv-1") is None


def test_what_a_project_did_is_read_from_its_task_file_s_rows(tmp_path):
    """Two task files in one folder are two projects; a run id and a key sent
    before are the server's truth, found whichever file recorded them."""
    main = History.for_project(tmp_path, "u", task_file="mogplex.toml")
    nightly = History.for_project(tmp_path, "u", task_file="nightly.toml")
    main.update(main.record_start("i1", "fan", "acme/api", "k1", request="{}"), run_id="r1")
    nightly.update(nightly.record_start("i2", "fan", "acme/web", "k2", request="{}"),
                   run_id="r2")
    nightly.update(nightly.record_start("i2", "sweep", "acme/web", "k3"), run_id="r3")
    assert [r.run_id for r in main.latest_invocation()] == ["r1"]
    assert [r.run_id for r in main.latest_invocation_of("fan")] == ["r1"]
    assert [r.run_id for r in main.latest_per_job()] == ["r1"]
    assert [r.run_id for r in main.recent()] == ["r1"]
    assert main.latest_invocation_of("sweep") == []
    assert [r.run_id for r in nightly.latest_invocation()] == ["r2", "r3"]
    assert [r.run_id for r in nightly.recent(job="fan")] == ["r2"]
    assert [r.task_file for r in nightly.recent()] == ["nightly.toml"] * 2
    assert main.by_run_id("r3") is not None
    earlier = main.earlier_start("k2", "i9")
    assert earlier is not None and earlier.run_id == "r2"
    assert [r.run_id for r in History.for_project(tmp_path, "u").recent()] == ["r3", "r2", "r1"]


def test_rows_an_older_mogrun_writes_after_the_upgrade_are_no_file_s(tmp_path):
    """A teammate's older mogrun (or a CI leg pinned to one) writes rows without
    their task file (``''``) after this one has written rows that know theirs: read
    as every file's, its nightly.toml run became mogplex.toml's latest invocation,
    and ``rerun`` retried nothing and exited 0 while mogplex.toml's job had failed."""
    path = tmp_path / ".mogrun" / "history.db"
    History(path, "u").close()

    def older_mogrun(invocation: str, job: str, run_id: str) -> None:
        with sqlite3.connect(path) as db:
            db.execute("INSERT INTO runs (invocation, base_url, job, repo, started_at, run_id)"
                       " VALUES (?, 'u', ?, 'acme/api', '2026-01-01', ?)",
                       (invocation, job, run_id))

    older_mogrun("before", "bad", "r0")  # before the upgrade: every file's
    main = History(path, "u", task_file="mogplex.toml")
    main.update(main.record_start("mine", "bad", "acme/web", "k"), run_id="r1")
    older_mogrun("theirs", "nbad", "r2")  # nightly.toml's, by an older mogrun, since
    for history in (main, History(path, "u", task_file="mogplex.toml")):
        assert [r.run_id for r in history.latest_invocation()] == ["r1"]
        assert [r.run_id for r in history.recent()] == ["r1", "r0"]
        assert [r.run_id for r in history.latest_per_job()] == ["r1"]
        assert history.latest_invocation_of("nbad") == []
        assert [r.run_id for r in history.stream_recent(10)] == ["r1", "r0"]
    nightly = History(path, "u", task_file="nightly.toml")
    assert [r.run_id for r in nightly.recent()] == ["r0"]
    assert main.by_run_id("r2") is not None  # a run id is still the server's truth
    assert [r.run_id for r in History(path, "u").recent()] == ["r2", "r1", "r0"]


def test_rows_from_before_task_files_are_every_file_s(tmp_path):
    """An upgrade loses nothing: rows recorded before the column (``''``) are
    read by every task file, newest first among its own."""
    path = tmp_path / ".mogrun" / "history.db"
    History(path, "u").close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO runs (invocation, base_url, job, repo, started_at, run_id)"
                   " VALUES ('old', 'u', 'fan', 'acme/api', '2026-01-01', 'r0')")
    main = History(path, "u", task_file="mogplex.toml")
    nightly = History(path, "u", task_file="nightly.toml")
    for history in (main, nightly):
        assert [r.run_id for r in history.latest_invocation()] == ["r0"]
        assert [r.run_id for r in history.latest_invocation_of("fan")] == ["r0"]
    main.update(main.record_start("new", "fan", "acme/web", "k"), run_id="r1")
    assert [r.run_id for r in main.recent()] == ["r1", "r0"]
    assert [r.run_id for r in main.recent(limit=1)] == ["r1"]
    assert [r.run_id for r in main.latest_invocation_of("fan")] == ["r1"]
    assert [r.run_id for r in nightly.latest_invocation_of("fan")] == ["r0"]
    assert [r.run_id for r in nightly.recent()] == ["r0"]


def test_a_task_file_s_latest_run_of_a_job_is_read_by_index(tmp_path):
    """``status JOB``, ``logs JOB``, ``rerun JOB``: the newest row of a job in one
    task file is the end of one range of ``runs_by_file``, not a sort of all its
    runs; an older history gains that index in place of (base_url, job, id), so a
    start still writes no more index entries than before."""
    path = tmp_path / "history.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, invocation TEXT NOT NULL,
                base_url TEXT NOT NULL, job TEXT NOT NULL, repo TEXT NOT NULL, run_id TEXT,
                idempotency_key TEXT, status TEXT, outcome TEXT,
                attached INTEGER NOT NULL DEFAULT 0, started_at TEXT NOT NULL,
                finished_at TEXT, exit_code INTEGER, gates TEXT NOT NULL DEFAULT '[]',
                message TEXT NOT NULL DEFAULT '', attempt INTEGER NOT NULL DEFAULT 1,
                why TEXT NOT NULL DEFAULT '', request TEXT NOT NULL DEFAULT '');
            CREATE INDEX runs_by_job ON runs (base_url, job, id);
            CREATE INDEX runs_by_run_id ON runs (base_url, run_id);
            CREATE INDEX runs_by_key ON runs (base_url, idempotency_key);
        """)
    history = History(path, "x", task_file="mogplex.toml")
    indexes = {row[1] for row in history._db.execute("PRAGMA index_list(runs)")}
    assert indexes == {"runs_by_file", "runs_by_run_id", "runs_by_key",
                       "runs_by_invocation", "runs_by_recency"}
    plan = str(history._db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM runs WHERE base_url = ? AND task_file = ?"
        " AND (job = ?) ORDER BY id DESC LIMIT 1", ("x", "mogplex.toml", "j")).fetchall())
    assert "runs_by_file (base_url=? AND task_file=? AND job=?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_a_history_damaged_past_its_header_is_one_message_for_each_reader(tmp_path):
    """A page overwritten inside the file opens fine and failed at the first query:
    history, status, logs and rerun ended in sqlite's traceback."""
    from mogrun.testing import MogrunProject

    project = MogrunProject(tmp_path)
    project.write('[jobs.ok]\r\nrepo = "acme/api"\r\nprompt = "@emulator duration=0.2s"\r\n\r\n')
    assert project.run("--local", "-q", "ok").exit_code == 0
    db = tmp_path / ".mogrun" / "history.db"
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    with open(db, "r+b") as handle:  # the runs table's first page
        handle.seek(4096)
        handle.write(b"\xff" * 4096)
    for command in ("history", "status", "logs", "rerun"):
        result = project.run("--local", command)
        assert result.exit_code == 1, (command, result)
        assert result.stderr.startswith(f"Error: cannot read run history {db}: database disk "
                                        "image is malformed\n"), (command, result)
        assert "Traceback" not in result.output


def test_a_write_lock_held_elsewhere_is_waited_for_said_and_loses_nothing(tmp_path):
    """Another process holding the write lock for more than 10 s made mogrun say
    nothing for 10 s, then stop recording: the run went on unrecorded."""
    import time

    from mogrun.testing import MogrunProject

    project = MogrunProject(tmp_path)
    project.write('[jobs.ok]\nrepo = "acme/api"\nprompt = "@emulator duration=0.3s"\n')
    assert project.run("--local", "-q", "ok").exit_code == 0  # the history exists
    holder = sqlite3.connect(tmp_path / ".mogrun" / "history.db", isolation_level=None,
                             check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # as a sqlite shell left in a transaction

    def let_go() -> None:
        time.sleep(2.5)
        holder.execute("ROLLBACK")

    threading.Thread(target=let_go, daemon=True).start()
    result = project.run("--local", "ok")
    assert result.exit_code == 0, result
    assert ("warning: the run history " in result.stderr
            and " is locked by another process; waiting up to 60 s to record the runs"
            in result.stderr), result
    assert "no longer recorded" not in result.stderr
    rows = project.run("--local", "--json", "history").stdout.splitlines()
    assert len(rows) == 2 and '"outcome": "success"' in rows[0], rows


def test_a_history_that_cannot_be_written_is_still_read_and_run_goes_on(tmp_path):
    """A read-only .mogrun (a CI cache, a checkout of another user's): history and
    status failed ("attempt to write a readonly database"), and a --local run ended
    as an internal error when its events could not be kept. Made read-only with
    chattr +i, which binds root too (the suite may run as root)."""
    import shutil
    import subprocess

    import pytest

    from mogrun.testing import MogrunProject

    project = MogrunProject(tmp_path)
    project.write('[jobs.ok]\nrepo = "acme/api"\nprompt = "@emulator duration=0.2s"\n')
    assert project.run("--local", "-q", "ok").exit_code == 0
    state = tmp_path / ".mogrun"
    files = [state, *state.iterdir()]
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", *map(str, files)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        shown = project.run("--local", "--json", "history")
        assert shown.exit_code == 0, shown
        assert '"outcome": "success"' in shown.stdout
        status = project.run("--local", "status", "--exit-status")
        assert status.exit_code == 0, status
        again = project.run("--local", "ok")
        assert again.exit_code == 0, again
        assert "internal error" not in again.output
        assert "runs are no longer recorded" in again.stderr
        assert "cannot keep the --local runs' events" in again.stderr
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], check=False)


def test_ctrl_c_while_a_write_waits_for_a_lock_leaves_at_once(tmp_path):
    """It said "stopping" and then waited out the lock (up to 60 s); the summary then
    named `mogrun rerun`, which could not find the runs the history never kept."""
    import signal
    import subprocess
    import sys
    import time

    from mogrun.testing import MogrunProject

    project = MogrunProject(tmp_path)
    project.write('[jobs.ok]\nrepo = "acme/api"\nprompt = "@emulator duration=0.3s"\n')
    assert project.run("--local", "-q", "ok").exit_code == 0
    holder = sqlite3.connect(tmp_path / ".mogrun" / "history.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    env = subprocess_env()
    proc = subprocess.Popen([sys.executable, "-m", "mogrun", "--local", "ok"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said = ""
        while "is locked by another process" not in said:  # the wait is said first
            line = proc.stderr.readline()
            assert line, (said, proc.stdout.read())
            said += line
        began = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        # The try in sqlite at the signal (a second at most), then no write waits: each
        # one tried after it waited a second of its own too (4.2 s measured, unloaded).
        assert time.monotonic() - began < 2.5, err
        assert proc.returncode == 130, (out, err)
        assert "rerun what did not pass: mogrun --local run --rerun ok" in out, out
    finally:
        if proc.poll() is None:
            proc.kill()
        holder.execute("ROLLBACK")


def test_after_ctrl_c_a_write_still_outlasts_another_writers_commit(tmp_path):
    """After a Ctrl-C each write is tried once, not waited for (a lock held for
    minutes must not hold mogrun); but another mogrun's write in the same project
    holds the lock for milliseconds, and a try that met one refused at once: the
    run's end went unrecorded, named in the summary as not in the history."""
    path = tmp_path / "history.db"
    history = History(path, "u")
    row = history.record_start("inv", "job", "acme/api", "key")
    history.stop = threading.Event()
    history.stop.set()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another mogrun mid-write: let go 30 ms on
    letting_go = threading.Timer(0.03, other.execute, ("COMMIT",))
    letting_go.start()
    try:
        history.update(row, patience=0.0, status="cancelled")
    finally:
        letting_go.join()
        other.close()
    assert [r.status for r in history.recent()] == ["cancelled"]


def test_an_older_history_that_cannot_be_upgraded_is_read_with_its_defaults(tmp_path):
    """A read-only history (a CI cache) from an older mogrun lacks the columns added
    since; it became unreadable ('cannot open run history') when one was added."""
    import shutil
    import subprocess

    import pytest

    path = tmp_path / ".mogrun" / "history.db"
    _old_history(path)
    files = [path.parent, path]
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", *map(str, files)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        (row,) = History.for_project(tmp_path, "u").recent()
        assert (row.job, row.attempt, row.why, row.owner, row.waiting) == ("j", 1, "", "",
                                                                          False)
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], check=False)


def test_a_row_is_waiting_only_while_a_mogrun_owns_it(tmp_path):
    """A killed mogrun's pid taken by another process, or pid 1 (mogrun as a
    container's init), read as waiting for good, and cancel advised 'kill -INT 1'."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    import pytest

    from mogrun.engine.history_owner import _host
    from mogrun.engine.history_row import HistoryRow, iso_of

    if not Path("/proc/self/cmdline").exists():
        pytest.skip("no /proc here: a live pid is taken for the owner")

    def row(owner: str) -> HistoryRow:  # written after each process began
        return HistoryRow(1, "i", "u", "j", "acme/api", None, None, None, None, False,
                          iso_of(time.time() + 60), None, None, (), "", owner=owner)

    other = subprocess.Popen(["sleep", "30"])
    like = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "-m",
                             "mogrun"])
    for proc, word in ((other, b"sleep"), (like, b"mogrun")):  # until each has exec'd
        deadline = time.monotonic() + 10
        while word not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.01)
    try:
        assert not row(f"{_host()}:1").waiting
        assert not row(f"{_host()}:{other.pid}").waiting  # alive, but no mogrun
        assert row(f"{_host()}:{like.pid}").waiting
        assert not row(f"another-host:{like.pid}").waiting
    finally:
        other.kill()
        like.kill()
        other.wait()
        like.wait()
    assert not row(f"{_host()}:{like.pid}").waiting  # gone



def test_latest_per_job_fetches_no_row_of_older_invocations(tmp_path, monkeypatch):
    """``status`` with no job read the whole history (a HistoryRow per row) to find
    the job names: 3.9 s at 320k rows. The names and each one's newest row come from
    seeks in runs_by_file; only the latest invocations' rows are fetched."""
    import mogrun.engine.history_reads as module

    history = History.for_project(tmp_path, "u", task_file="mogplex.toml")
    other = History.for_project(tmp_path, "u", task_file="nightly.toml")
    with history._db:
        history._db.executemany(
            "INSERT INTO runs (invocation, base_url, job, repo, started_at, task_file)"
            " VALUES (?, 'u', ?, 'acme/api', 'now', ?)",
            [(f"old-{n}", f"job{n % 4}", ("mogplex.toml", "", "nightly.toml")[n % 3])
             for n in range(3000)])
    for job in ("job0", "job1", "job2"):
        history.update(history.record_start("new", job, "acme/api", "k"), run_id=f"r-{job}")
    other.update(other.record_start("n2", "job3", "acme/api", "k9"), run_id="x")
    built = []
    real_row = module._row
    monkeypatch.setattr(module, "_row", lambda values: built.append(1) or real_row(values))
    rows = history.latest_per_job()
    # newest job first; job3's newest row here (not nightly's) is an old invocation's
    assert [row.run_id for row in rows] == ["r-job2", "r-job1", "r-job0", None]
    assert len(built) <= 3 * len(rows), len(built)  # not 3000
    plan = " ".join(str(step) for step in history._db.execute(
        "EXPLAIN QUERY PLAN " + module._JOBS_OF_FILE, {"url": "u", "file": "mogplex.toml",
                                                  "end": 2**63 - 1}))
    assert "runs_by_file" in plan and "SCAN runs" not in plan, plan


def test_an_empty_gitignore_a_full_disk_left_is_written_again(tmp_path):
    """A full disk cut the first write of .mogrun/.gitignore short: the empty file was
    taken as written for good, and git listed history.db ever after. One a user
    wrote is left as it is."""
    folder = tmp_path / ".mogrun"
    folder.mkdir()
    (folder / ".gitignore").write_bytes(b"")
    History.for_project(tmp_path, "https://mogplex.com").close()
    assert (folder / ".gitignore").read_bytes() == b"*\n"
    (folder / ".gitignore").write_bytes(b"history.db\n")
    History.for_project(tmp_path, "https://mogplex.com").close()
    assert (folder / ".gitignore").read_bytes() == b"history.db\n"
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp")) == []


def test_a_fan_outs_runs_are_labelled_with_one_read_per_job(tmp_path):
    """logs, cancel and rerun label each run by whether its job fanned out: each
    label read the job's rows again, 1,000 reads of 1,000 rows for a 1,000-run
    fan-out (13 s for rerun -n, 46 s for cancel on a long history)."""
    history = History.for_project(tmp_path, "https://mogplex.com")
    runs = [("fan", f"acme/r{n:03d}", "") for n in range(40)] + [("solo", "acme/api", "")]
    history.record_planned("inv", runs)
    rows = history.recent(limit=100)
    statements: list[str] = []
    history._db.set_trace_callback(statements.append)
    fanned = {row.repo: history.is_fan_out(row) for row in rows}
    history._db.set_trace_callback(None)
    history.close()
    assert fanned == {**{f"acme/r{n:03d}": True for n in range(40)}, "acme/api": False}
    assert len([s for s in statements if s.startswith("SELECT")]) == 2, statements


def test_a_read_only_history_of_old_spellings_says_how_to_reach_them(tmp_path):
    """A read-only history (a CI cache, a mount) cannot be respelt on open: its hint
    named ``--url HTTP://Host/``, which is spelt the new way too, and said the same
    again, round and round."""
    import shutil
    import subprocess

    from mogrun.testing import run_mogrun

    if shutil.which("chattr") is None:
        pytest.skip("chattr makes a file read-only even for root")
    (tmp_path / "mogplex.toml").write_text('[jobs.quick]\nrepo = "acme/api"\nprompt = "q"\n')
    path = tmp_path / ".mogrun" / "history.db"
    _old_history(path, base_urls=("HTTPS://Mogplex.COM:443/",))
    folder = path.parent
    locked = subprocess.run(["chattr", "+i", str(path), str(folder)], capture_output=True)
    if locked.returncode != 0:
        pytest.skip(f"chattr +i refused here: {locked.stderr.decode().strip()}")
    try:
        result = run_mogrun("history", cwd=tmp_path, env={"MOGPLEX_URL": ""})
    finally:
        subprocess.run(["chattr", "-i", str(path), str(folder)], check=True)
    assert result.exit_code == 0, result
    assert ("1 run is recorded against HTTPS://Mogplex.COM:443/, this API as an older mogrun "
            "spelt it; a history it can write is respelt when opened, and this one cannot be "
            "written: make it writable, then run this again") in result.output, result
    assert "--url" not in result.output



@pytest.mark.parametrize("command", [["history"], ["status"], ["status", "quick"],
                                     ["history", "--job", "quick"]])
def test_a_read_only_history_older_than_task_files_is_read(tmp_path, command):
    """A read-only history (a CI cache, a mount) from before rows knew their task file
    cannot gain the column: ``status`` said "no such column: task_file" and to move
    the history away; this stop's reads had ``history`` say it too."""
    import shutil
    import subprocess

    from mogrun.testing import run_mogrun

    if shutil.which("chattr") is None:
        pytest.skip("chattr makes a file read-only even for root")
    (tmp_path / "mogplex.toml").write_text('[jobs.quick]\nrepo = "acme/api"\nprompt = "q"\n')
    path = tmp_path / ".mogrun" / "history.db"
    _old_history(path, base_urls=("https://mogplex.com",))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET job = 'quick', run_id = 'r-1', status = 'success'")
    locked = subprocess.run(["chattr", "+i", str(path), str(path.parent)], capture_output=True)
    if locked.returncode != 0:
        pytest.skip(f"chattr +i refused here: {locked.stderr.decode().strip()}")
    try:
        result = run_mogrun(*command, cwd=tmp_path, env={"MOGPLEX_URL": ""})
    finally:
        subprocess.run(["chattr", "-i", str(path), str(path.parent)], check=True)
    assert result.exit_code == 0, result
    assert "r-1" in result.output and "quick" in result.output, result


def test_an_older_file_with_no_room_for_its_indexes_is_written_without_them(tmp_path):
    """A full disk at the first open of an older file (the new indexes need room)
    fell back to a read-only copy: every row of the session was lost, though the
    rows had room (the mogrun before made no index). Now the session goes on
    without the indexes, and the next open builds them."""
    path = tmp_path / "history.db"
    History(path, "u", "mogplex.toml").record_start("i0", "fan", "acme/api", "k0")
    as_older_mogrun_left(path, "VACUUM;")  # (no free pages left)

    class NoRoom(History):
        def _upgrade(self) -> None:  # no room for an index (SQLITE_FULL), then for rows
            disk_full(self._db)
            try:
                super()._upgrade()
            finally:
                room_again(self._db)

    history = NoRoom(path, "u", "mogplex.toml")
    assert history.unreadable is None and not history._upgrade_due
    history.record_start("i1", "fan", "acme/web", "k1")
    assert [row.idempotency_key for row in history.recent(5)] == ["k1", "k0"]
    indexes = {row[1] for row in history._db.execute("PRAGMA index_list(runs)")}
    assert not {"runs_by_invocation", "runs_by_recency"} & indexes
    history.close()
    again = History(path, "u", "mogplex.toml")  # room now: built
    assert {"runs_by_invocation", "runs_by_recency"} <= {
        row[1] for row in again._db.execute("PRAGMA index_list(runs)")}
