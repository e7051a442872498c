"""Unit tests of the needs-graph scheduler with in-memory run functions."""

from __future__ import annotations

import threading
import time

from mogrun.engine.scheduler import Scheduler
from mogrun.models import ResolvedJob, RunPlan, StartRequest
from mogrun.runs import RunResult


def job(name, needs=(), repos=("acme/api",)):
    runs = tuple(RunPlan(name, r, StartRequest(repo=r, prompt="p", idempotency_key=f"{name}:{r}"))
                 for r in repos)
    return ResolvedJob(name=name, description="", needs=tuple(needs), runs=runs, timeout=60)


class Recorder:
    def __init__(self, failing=(), delay=0.0):
        self.failing = set(failing)
        self.delay = delay
        self.started = []
        self.done_jobs = []
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def run(self, j, plan):
        with self.lock:
            self.started.append(plan.label)
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(self.delay)
        with self.lock:
            self.running -= 1
        outcome = "failed" if j.name in self.failing else "success"
        return RunResult(job=j.name, repo=plan.repo, outcome=outcome,
                         exit_code=1 if outcome == "failed" else 0)

    def skip(self, j, plan, reason):
        return RunResult(job=j.name, repo=plan.repo, outcome="skipped", message=reason,
                         exit_code=1)

    def job_done(self, j, results, outcome):
        self.done_jobs.append((j.name, outcome))


def schedule(jobs, rec, **kwargs):
    return Scheduler(jobs, run_fn=rec.run, skip_fn=rec.skip, on_job_done=rec.job_done,
                     **kwargs).run()


def test_needs_run_first_and_failed_need_skips_dependent():
    rec = Recorder(failing={"a"})
    results = schedule([job("a"), job("b", needs=["a"])], rec, keep_going=True)
    assert rec.started == ["a:acme/api"]
    assert rec.done_jobs == [("a", "failed"), ("b", "skipped")]
    skipped = next(r for r in results if r.job == "b")
    assert skipped.message == "needs a, which did not pass (failed)"


def test_without_keep_going_nothing_new_starts_after_a_failure():
    rec = Recorder(failing={"a"})
    schedule([job("a"), job("b", needs=["a"]), job("c", needs=["a"]), job("d", needs=["c"])],
             rec, max_parallel=1)
    assert rec.started == ["a:acme/api"]
    assert dict(rec.done_jobs) == {"a": "failed", "b": "skipped", "c": "skipped",
                                   "d": "skipped"}


def test_keep_going_runs_independent_jobs_after_a_failure():
    rec = Recorder(failing={"a"})
    schedule([job("a"), job("x"), job("y", needs=["x"])], rec, max_parallel=1, keep_going=True)
    assert rec.started == ["a:acme/api", "x:acme/api", "y:acme/api"]
    assert dict(rec.done_jobs) == {"a": "failed", "x": "success", "y": "success"}


def test_halt_skips_independent_job_without_keep_going():
    rec = Recorder(failing={"a"})
    schedule([job("a"), job("x")], rec, max_parallel=1)
    assert rec.started == ["a:acme/api"]
    assert dict(rec.done_jobs) == {"a": "failed", "x": "skipped"}


def test_fan_out_runs_count_toward_parallel_limit_and_all_must_pass():
    rec = Recorder(delay=0.05)
    repos = tuple(f"acme/r{i}" for i in range(6))
    results = schedule([job("fan", repos=repos)], rec, max_parallel=3)
    assert rec.peak == 3
    assert len(results) == 6
    assert rec.done_jobs == [("fan", "success")]


def test_a_fan_out_reuses_its_workers_and_leaves_none_behind():
    threads = set()
    rec = Recorder(delay=0.01)

    def run(j, plan):
        threads.add(threading.current_thread())
        return rec.run(j, plan)

    repos = tuple(f"acme/r{i}" for i in range(40))
    results = Scheduler([job("fan", repos=repos), job("after", needs=["fan"])], run_fn=run,
                        skip_fn=rec.skip, on_job_done=rec.job_done, max_parallel=4).run()
    assert len(results) == 41 and rec.peak <= 4
    assert len(threads) <= 4  # not one thread per run
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive()  # each left once the session ended


def test_workers_busy_when_a_session_is_left_by_an_exception_still_leave():
    release = threading.Event()
    threads = set()
    rec = Recorder()

    def run(j, plan):
        threads.add(threading.current_thread())
        if j.name == "slow":
            release.wait(5)
        return rec.run(j, plan)

    def job_done(j, results, outcome):
        if j.name == "quick":
            raise RuntimeError("the session ends here")  # like a second Ctrl-C would

    scheduler = Scheduler([job("quick"), job("slow", repos=("acme/a", "acme/b"))], run_fn=run,
                          skip_fn=rec.skip, on_job_done=job_done, max_parallel=3)
    try:
        scheduler.run()
    except RuntimeError:
        pass
    else:
        raise AssertionError("the session should have ended by its exception")
    release.set()
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive()  # its run ended, and so did it


def test_workers_leave_every_ctrl_c_to_the_main_thread():
    import signal

    masks = []
    rec = Recorder()

    def run(j, plan):
        masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        return rec.run(j, plan)

    Scheduler([job("fan", repos=("acme/a", "acme/b"))], run_fn=run, skip_fn=rec.skip,
              on_job_done=rec.job_done, max_parallel=2).run()
    assert len(masks) == 2
    assert all({signal.SIGINT, signal.SIGTERM, signal.SIGHUP} <= mask for mask in masks)
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_fan_out_fails_when_one_run_fails():
    class OneBad(Recorder):
        def run(self, j, plan):
            result = super().run(j, plan)
            if plan.repo == "acme/r1":
                return RunResult(job=j.name, repo=plan.repo, outcome="failed", exit_code=1)
            return result

    rec = OneBad()
    schedule([job("fan", repos=("acme/r0", "acme/r1", "acme/r2"))], rec, max_parallel=3,
             keep_going=True)
    assert rec.done_jobs == [("fan", "failed")]


def test_no_deps_ignores_needs():
    rec = Recorder(failing={"a"})
    schedule([job("a"), job("b", needs=["a"])], rec, use_needs=False, keep_going=True,
             max_parallel=1)
    assert rec.started == ["a:acme/api", "b:acme/api"]


def test_stop_skips_everything_not_started():
    rec = Recorder()
    stop = threading.Event()
    stop.set()
    results = schedule([job("a"), job("b")], rec, stop=stop)
    assert rec.started == []
    assert {r.outcome for r in results} == {"skipped"}


def test_independent_jobs_run_in_parallel():
    rec = Recorder(delay=0.1)
    schedule([job("a"), job("b"), job("c")], rec, max_parallel=4)
    assert rec.peak == 3


def test_a_4000_job_needs_chain_schedules_in_linear_time():
    """Each job is looked at when a need finishes, never by rescanning the graph
    (the O(n^2) rescans took minutes for such a chain)."""
    chain = [job("j0")] + [job(f"j{i}", needs=[f"j{i - 1}"]) for i in range(1, 4000)]
    rec = Recorder()
    began = time.perf_counter()
    results = schedule(chain, rec, max_parallel=1)
    elapsed = time.perf_counter() - began
    assert [r.outcome for r in results] == ["success"] * 4000
    assert rec.started[:2] == ["j0:acme/api", "j1:acme/api"]
    assert elapsed < 5.0, elapsed  # about 0.3 s on an idle 2-core machine


def test_a_failure_early_in_a_long_chain_skips_the_rest_at_once():
    chain = [job("j0")] + [job(f"j{i}", needs=[f"j{i - 1}"]) for i in range(1, 2000)]
    rec = Recorder(failing={"j0"})
    results = schedule(chain, rec)
    assert [r.outcome for r in results] == ["failed"] + ["skipped"] * 1999
    assert results[1].message == "needs j0, which did not pass (failed)"


def test_a_job_waiting_on_its_needs_is_announced_once_when_a_need_starts():
    waits = []
    jobs = [job("a"), job("b"), job("c", needs=["a", "b"]), job("d", needs=["c"])]
    schedule(jobs, Recorder(delay=0.05), on_wait=waits.append)
    bound = "; no end is known yet: each may run up to its timeout once started"
    assert [(w.kind, w.job, w.reason, w.ends_at) for w in waits] == [
        ("needs", "c", f"waiting for a, b{bound} (a 1m, b 1m)", None),
        ("needs", "d", "waiting for c; no end is known yet: it may run up to its timeout "
                       "once started (c 1m)", None)]  # one run: "it" ("each" read oddly)


def test_every_job_down_a_chain_says_its_wait_while_the_first_runs():
    """``c`` of ``a -> b -> c`` said nothing until ``b`` could start: silent for the
    whole of ``a``'s run (up to its timeout), though waits are never silent."""
    said = []
    a_ended = threading.Event()
    rec = Recorder(delay=0.3)

    def run(j, plan):
        try:
            return rec.run(j, plan)
        finally:
            if j.name == "a":
                a_ended.set()

    jobs = [job("a"), job("b", needs=["a"]), job("c", needs=["b"]), job("d", needs=["b", "c"])]
    Scheduler(jobs, run_fn=run, skip_fn=rec.skip, on_job_done=rec.job_done,
              on_wait=lambda wait: said.append((wait.job, a_ended.is_set()))).run()
    assert said[:3] == [("b", False), ("c", False), ("d", False)], said


def test_a_needs_wait_says_its_end_once_every_needed_run_started():
    """The NEEDS wait kept ends_at null for good, though once every run it waits on
    has started, each ends by its timeout at the latest: the wait is said again
    with that end, and again (unknown) when a capacity refusal starts a run anew."""
    waits = []
    fan = job("a", repos=("acme/x", "acme/y"))
    y_started = threading.Event()

    def run(j, plan):
        if plan.repo == "acme/x":
            sched.run_bound("a", plan.label, 1000.0)
            y_started.wait(5)
            time.sleep(0.5)
        else:
            time.sleep(0.5)  # a start that waits (the start limit, a sandbox slot)
            sched.run_bound("a", plan.label, 2000.0)
            y_started.set()
            time.sleep(0.5)
            sched.run_bound("a", plan.label, None)  # refused: attempt 2 is to start
            time.sleep(0.5)
            sched.run_bound("a", plan.label, 3000.0)
            time.sleep(0.5)
        return RunResult(job=j.name, repo=plan.repo, outcome="success", exit_code=0)

    rec = Recorder()
    sched = Scheduler([fan, job("c", needs=["a"])], run_fn=run, skip_fn=rec.skip,
                      on_job_done=rec.job_done, on_wait=waits.append)
    sched.run()
    assert [(w.job, w.ends_at) for w in waits] == [
        ("c", None), ("c", 2000.0), ("c", None), ("c", 3000.0)]
    assert waits[1].reason == ("waiting for a; all started: each ends by its timeout at "
                               "the latest (a 1m)")
    assert waits[2].reason.startswith("waiting for a; no end is known yet: ")


def test_a_run_that_can_start_at_once_goes_before_one_that_would_wait():
    """`prefer` (the session: it shares an active sandbox, or a slot is free) picks
    the next run to launch; otherwise the order is the file's."""
    rec = Recorder()
    fan = job("fan", repos=("acme/a", "acme/b", "acme/c"))
    schedule([fan], rec, max_parallel=1, prefer=lambda j, plan: plan.repo == "acme/c")
    assert rec.started == ["fan:acme/c", "fan:acme/a", "fan:acme/b"]


def test_a_run_handed_over_frees_its_slot_but_never_its_held_worker():
    """A plugin's hook holds job a's worker; a rescue ends the run and hands its result
    over. With -j 1, job b still starts, on a worker of its own: handed to the held
    worker, it would wait for that hook (600 s). The held worker, let go, leaves."""
    held, let_go, workers = threading.Event(), threading.Event(), {}
    rec = Recorder()
    scheduler = None

    def run(j, plan):
        workers[j.name] = threading.current_thread()
        if j.name != "a":
            return rec.run(j, plan)
        held.set()
        scheduler.hand_over(j, plan, RunResult(job="a", repo=plan.repo, outcome="cancelled",
                                               exit_code=143))
        let_go.wait(30)
        return None  # its result was handed over

    scheduler = Scheduler([job("a"), job("b")], run_fn=run, skip_fn=rec.skip,
                          on_job_done=rec.job_done, max_parallel=1, keep_going=True)
    results = scheduler.run()
    assert held.is_set() and not let_go.is_set()
    assert [(r.job, r.outcome) for r in results] == [("a", "cancelled"), ("b", "success")]
    assert workers["b"] is not workers["a"]
    let_go.set()
    workers["a"].join(5)
    assert not workers["a"].is_alive()  # it took no other run and left
