"""``mogrun rerun`` never starts a second run of one that may still be going.

A run left going (following gave up, ``on_timeout = "detach"``, Ctrl-C) is
recorded with a failing outcome and a status that is not terminal. Before
rerun decides, it reads that run's state (``GET /runs/{id}``): still going,
it is not started again (the command that follows it is said); ended, it is
judged as it ended. The failing invocation's summary says the same: it
suggests following such runs, not rerunning them.
"""

from __future__ import annotations

import time

from .conftest import history_rows, json_lines, runs_by_repo, subprocess_env

SLOW = """
    [jobs.slow]
    repo = "acme/api"
    prompt = "@emulator duration={duration} interval=0.1s{status}"
    timeout = "0.4s"
    on_timeout = "detach"
"""


def _slow(duration: str = "never", status: str = "") -> str:
    return SLOW.format(duration=duration, status=f" status={status}" if status else "")


def _until_ended(emulator, run_id: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = emulator.run_detail(run_id)["status"]
        if status in ("success", "failed", "cancelled"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end")


def test_a_run_left_going_at_its_timeout_is_not_started_again(
        project, mogrun, mogrun_emulator) -> None:
    project(_slow())
    first = mogrun("slow")
    assert first.exit_code == 1, first
    [run_id] = mogrun_emulator.runs
    # The summary does not suggest a rerun of a run that is still going: it says how
    # to follow it.
    assert "rerun what did not pass" not in first.stdout, first
    assert f"still going: slow ({run_id}); follow with: mogrun logs --follow {run_id}" \
        in first.stdout.splitlines(), first

    mogrun_emulator.clear_requests()
    rerun = mogrun("rerun")
    assert rerun.exit_code == 1, rerun  # it has not passed (yet)
    assert mogrun_emulator.runs == [run_id]  # no second agent doing the same work
    assert mogrun_emulator.count("POST", "/runs") == 0
    assert mogrun_emulator.count("GET", f"/runs/{run_id}") == 1  # it was asked, once
    [said] = [line for line in rerun.stderr.splitlines() if run_id in line]
    assert said.startswith(f"slow: run {run_id} is still going ("), rerun  # its status now
    assert said.endswith(f"), not rerun; follow it with: mogrun logs --follow {run_id}")
    assert "nothing to rerun" in rerun.stderr
    assert len(history_rows(mogrun)) == 1  # no attempt recorded


def test_a_run_whose_following_failed_is_not_started_again(
        project, mogrun, mogrun_emulator) -> None:
    """``events:429@30``: the retry policy gives up at once (exit 75); the run goes on."""
    project("""
        [jobs.a]
        repo = "acme/api"
        prompt = "@emulator duration=never interval=0.1s"
        timeout = "3s"
    """)
    mogrun_emulator.add_fault("events", "429", retry_after=30)
    first = mogrun("a")
    assert first.exit_code == 75, first
    [run_id] = mogrun_emulator.runs
    assert f"may still be going — resume with: mogrun logs --follow {run_id}" in first.stderr
    assert "rerun what did not pass" not in first.stdout, first
    assert f"follow with: mogrun logs --follow {run_id}" in first.stdout, first

    rerun = mogrun("rerun", "a")
    assert rerun.exit_code == 1, rerun  # it has not passed (yet)
    assert mogrun_emulator.runs == [run_id]
    assert f"follow it with: mogrun logs --follow {run_id}" in rerun.stderr, rerun


def test_status_says_a_run_whose_following_failed_is_going_until_it_ends(
        project, mogrun, mogrun_emulator) -> None:
    """Its row's outcome is mogrun's error, not the run's: ``--exit-status`` said 1
    ("did not pass") while it went on, then 0 once it passed, and a CI loop waiting
    for "not 3" stopped at a failure the run never had."""
    project("""
        [jobs.a]
        repo = "acme/api"
        prompt = "@emulator duration=3s interval=0.1s"
        timeout = "20s"
    """)
    mogrun_emulator.add_fault("events", "429", retry_after=30)  # past the timeout: given up
    first = mogrun("a")
    assert first.exit_code == 75, first
    [run_id] = mogrun_emulator.runs
    mogrun_emulator.clear_faults()
    going = mogrun("status", "--exit-status", "a")
    assert going.exit_code == 3, going
    assert _until_ended(mogrun_emulator, run_id) == "success"
    ended = mogrun("status", "--exit-status", "a")
    assert ended.exit_code == 0, ended


def test_a_run_left_going_that_has_since_failed_is_rerun(
        project, mogrun, mogrun_emulator) -> None:
    project(_slow("1s", "failed"))
    assert mogrun("slow").exit_code == 1
    [run_id] = mogrun_emulator.runs
    assert _until_ended(mogrun_emulator, run_id) == "failed"

    rerun = mogrun("rerun")
    assert rerun.exit_code == 1, rerun  # timed out (and left going) again
    assert len(mogrun_emulator.runs) == 2
    rows = history_rows(mogrun)
    assert [(r["attempt"], r["why"]) for r in rows] == [(2, "rerun"), (1, "")]
    assert (rows[1]["status"], rows[1]["outcome"]) == ("failed", "failed")  # as it ended


def test_a_run_left_going_that_has_since_passed_is_not_rerun(
        project, mogrun, mogrun_emulator) -> None:
    project(_slow("1s"))
    assert mogrun("slow").exit_code == 1
    [run_id] = mogrun_emulator.runs
    assert _until_ended(mogrun_emulator, run_id) == "success"

    rerun = mogrun("rerun")
    assert rerun.exit_code == 0, rerun
    assert mogrun_emulator.runs == [run_id]
    assert f"slow: run {run_id} has since ended success; not rerun" in rerun.stderr, rerun
    # Not "no longer in the task file": the job is still there, and passed.
    assert rerun.stderr.splitlines()[-1] == (
        "nothing to rerun: every run of the latest invocation has passed (those left "
        "going ended well since)"), rerun
    [row] = history_rows(mogrun)
    assert (row["status"], row["outcome"], row["exit_code"]) == ("success", "success", 0)
    again = mogrun("rerun")  # judged once: no request the second time
    assert again.exit_code == 0 and mogrun_emulator.runs == [run_id], again


def test_a_job_whose_need_is_still_going_is_held_back_too(
        project, mogrun, mogrun_emulator) -> None:
    project(_slow() + """
    [jobs.after]
    repo = "acme/web"
    prompt = "@emulator duration=0.2s"
    needs = ["slow"]
    """)
    assert mogrun("after").exit_code == 1  # slow timed out (left going): after skipped
    [run_id] = mogrun_emulator.runs
    rerun = mogrun("rerun")
    # after has still not run: `mogrun rerun && deploy` must not go ahead (it exited 0)
    assert rerun.exit_code == 1, rerun
    assert mogrun_emulator.runs == [run_id]
    assert "after: not rerun while its need slow is still going" in rerun.stderr, rerun
    assert rerun.stderr.rstrip().endswith("nothing to rerun now: what did not pass is still "
                                          "going (or needs what is); follow it as said above")


def test_rerun_dry_run_says_what_it_would_check_and_sends_nothing(
        project, mogrun, mogrun_emulator) -> None:
    project(_slow())
    assert mogrun("slow").exit_code == 1
    [run_id] = mogrun_emulator.runs
    mogrun_emulator.clear_requests()
    preview = mogrun("rerun", "-n")
    assert preview.exit_code == 0, preview
    assert mogrun_emulator.requests == []
    assert "  run slow:acme/api (attempt 2)" in preview.stdout
    status = history_rows(mogrun)[0]["status"]
    assert (f"slow: run {run_id} was left going ({status}); a rerun first reads its state "
            f"(GET /runs/{run_id}/events) and starts attempt 2 only if it has ended without "
            "passing"
            ) in preview.stderr, preview


def test_local_runs_left_going_ended_with_their_emulator_and_are_rerun(
        project, mogrun) -> None:
    """``--local``: the emulator (and every run on it) stops when mogrun exits."""
    project(_slow())
    first = mogrun("--local", "slow")
    assert first.exit_code == 1, first
    assert "rerun what did not pass: mogrun --local rerun slow" in first.stdout, first
    rerun = mogrun("--local", "rerun")
    assert rerun.exit_code == 1, rerun
    assert [r["attempt"] for r in history_rows(mogrun, "--local")] == [2, 1]


def test_status_judges_a_run_left_going_as_it_ended_so_rerun_leaves_it(
        project, mogrun, mogrun_emulator) -> None:
    """``status`` reads the run first: it records it as it ended (not as the timeout
    that left it going), and rerun, finding it terminal, does not start it again."""
    project(_slow("1s"))
    assert mogrun("slow").exit_code == 1
    [run_id] = mogrun_emulator.runs
    assert _until_ended(mogrun_emulator, run_id) == "success"
    status = mogrun("status", "--exit-status", "slow")
    assert status.exit_code == 0, status
    [row] = history_rows(mogrun)
    assert (row["status"], row["outcome"], row["exit_code"]) == ("success", "success", 0)
    rerun = mogrun("rerun")
    assert rerun.exit_code == 0, rerun
    assert mogrun_emulator.runs == [run_id]


HELD = """
    [jobs.after]
    repo = "acme/web"
    prompt = "@emulator duration=0.2s"   # runs once slow has passed
    needs = ["slow"]

    [jobs.other]
    repo = "acme/worker"
    prompt = "@emulator duration=0.1s{status}"
"""


def _held(slow: str, other_status: str = "") -> str:
    """slow (left going at its timeout), after (needs it), other (on its own)."""
    return slow + HELD.format(status=f" status={other_status}" if other_status else "")


def _summary_line(result, start: str) -> str:
    [line] = [line for line in result.stdout.splitlines() if line.startswith(start)]
    return line


def test_a_job_held_behind_a_need_still_going_stays_for_the_next_rerun(
        project, mogrun, mogrun_emulator) -> None:
    """A rerun that holds ``after`` back (its need slow still goes) records it as not
    started, with why: the next plain rerun finds it, and starts it once slow passed.
    The summaries' rerun line names it too (rerun reads slow before starting it)."""
    project(_held(_slow("3s"), "failed"))
    first = mogrun("-k", "after", "other")
    assert first.exit_code == 1, first
    slow_id, _ = runs_by_repo(mogrun_emulator, "acme/api", "acme/worker")
    assert _summary_line(first, "rerun what did not pass") == \
        "rerun what did not pass: mogrun rerun after other", first

    project(_held(_slow("3s")))  # other passes from now on
    rerun = mogrun("rerun")
    assert "after: not rerun while its need slow is still going" in rerun.stderr, rerun
    assert rerun.exit_code == 1, rerun  # after has not run: `rerun && deploy` must stop
    assert len(mogrun_emulator.runs) == 3  # other, again; neither slow nor after
    assert _summary_line(rerun, "rerun what did not pass") == \
        "rerun what did not pass: mogrun rerun after", rerun
    latest = history_rows(mogrun)[:2]  # the rerun's invocation: other, and after held
    assert len({row["invocation"] for row in latest}) == 1
    held = next(row for row in latest if row["job"] == "after")
    assert (held["outcome"], held["run_id"], held["message"]) == (
        "skipped", None, "not rerun while its need slow is still going"), held

    assert _until_ended(mogrun_emulator, slow_id) == "success"
    again = mogrun("rerun")
    assert again.exit_code == 0, again
    assert f"slow: run {slow_id} has since ended success; not rerun" in again.stderr, again
    assert len(mogrun_emulator.runs) == 4  # after, at last
    [after] = [row for row in history_rows(mogrun) if row["job"] == "after" and row["run_id"]]
    # after never sent its key (skipped, then held): its first start is made under it
    skipped = [row for row in history_rows(mogrun) if row["job"] == "after"][-1]
    assert (after["outcome"], after["attempt"], after["idempotency_key"]) == (
        "success", 1, skipped["idempotency_key"]), after
    last = mogrun("rerun")
    assert (last.exit_code, last.stderr.strip()) == (
        0, "nothing to rerun: every run of the latest invocation passed"), last


def test_a_job_held_behind_a_held_need_says_what_that_need_waits_for(
        project, mogrun, mogrun_emulator) -> None:
    # "last: not rerun while its need after is still going": after was not going,
    # it was held itself, behind slow
    last = '\n[jobs.last]  # after after\nrepo = "acme/api"\nprompt = "x"\nneeds = ["after"]\n'
    project(_held(_slow("3s"), "failed") + last)
    assert mogrun("-k", "last", "other").exit_code == 1
    project(_held(_slow("3s")) + last)
    rerun = mogrun("rerun")
    assert rerun.exit_code == 1, rerun
    assert "after: not rerun while its need slow is still going" in rerun.stderr, rerun
    assert "last: not rerun while its need after waits for slow, still going" in \
        rerun.stderr, rerun


def test_a_job_held_behind_a_need_that_then_failed_reruns_the_need_first(
        project, mogrun, mogrun_emulator) -> None:
    project(_held(_slow("2s", "failed"), "failed"))
    assert mogrun("-k", "after", "other").exit_code == 1  # slow left going, after skipped
    project(_held(_slow("2s", "failed")))
    slow_id, _ = runs_by_repo(mogrun_emulator, "acme/api", "acme/worker")
    assert mogrun("rerun").exit_code == 1  # other passes; after held while slow goes
    assert len(mogrun_emulator.runs) == 3
    assert _until_ended(mogrun_emulator, slow_id) == "failed"
    again = mogrun("rerun")
    assert f"slow: run {slow_id} has since ended failed; rerun" in again.stderr, again
    assert again.exit_code == 1, again  # slow, attempt 2, left going again
    assert len(mogrun_emulator.runs) == 4  # slow again; not after, without slow passing
    slow = [row for row in history_rows(mogrun) if row["job"] == "slow"]
    # attempt 1 twice: left going, then kept (still going) by the rerun that held after
    assert [row["attempt"] for row in slow] == [2, 1, 1], slow
    assert _summary_line(again, "rerun what did not pass") == \
        "rerun what did not pass: mogrun rerun after", again


ON_ITS_OWN = """
    [jobs.other]   # no need: it reruns while slow goes on
    repo = "acme/worker"
    prompt = "@emulator duration=0.1s{status}"
"""


def _beside(slow: str, other_status: str = "") -> str:
    return slow + ON_ITS_OWN.format(status=f" status={other_status}" if other_status else "")


def _left_alone(mogrun, slow_id: str) -> dict:
    """The row the rerun kept of slow (left going, still going), in its invocation."""
    rows = history_rows(mogrun)
    latest = [row for row in rows if row["invocation"] == rows[0]["invocation"]]
    [kept] = [row for row in latest if row["job"] == "slow"]
    assert kept["run_id"] == slow_id, latest
    return kept


def test_a_run_left_going_and_still_going_stays_in_the_reruns_invocation(
        project, mogrun, mogrun_emulator) -> None:
    """A rerun that starts other but leaves slow alone (still going) keeps slow in its
    own invocation: it exits 1 (slow has not passed), its summary says how to follow
    slow (not to rerun it), status shows it, and the next plain rerun reads slow
    first and reruns it once it has ended failed."""
    project(_beside(_slow("2s", "failed"), "failed"))
    assert mogrun("-k", "slow", "other").exit_code == 1  # slow left going, other failed
    slow_id, _ = runs_by_repo(mogrun_emulator, "acme/api", "acme/worker")
    project(_beside(_slow("2s", "failed")))  # other passes from now on

    rerun = mogrun("rerun")
    assert f"slow: run {slow_id} is still going (" in rerun.stderr, rerun
    assert rerun.exit_code == 1, rerun  # slow has not passed: `rerun && deploy` must stop
    assert len(mogrun_emulator.runs) == 3  # other, again; not slow
    assert f"still going: slow ({slow_id}); follow with: mogrun logs --follow {slow_id}" \
        in rerun.stdout.splitlines(), rerun
    assert "rerun what did not pass" not in rerun.stdout, rerun  # nothing to rerun now
    kept = _left_alone(mogrun, slow_id)
    assert kept["status"] in ("pending", "streaming"), kept
    assert (kept["outcome"], kept["exit_code"], kept["attempt"]) == ("error", 1, 1), kept
    assert kept["message"].endswith("; not rerun while it is still going"), kept
    status = mogrun("--json", "status")
    assert slow_id in {row["run_id"] for row in json_lines(status.stdout)}, status

    assert _until_ended(mogrun_emulator, slow_id) == "failed"
    again = mogrun("rerun")
    assert f"slow: run {slow_id} has since ended failed; rerun" in again.stderr, again
    assert len(mogrun_emulator.runs) == 4  # slow, attempt 2 (left going again)
    slow = [row for row in history_rows(mogrun) if row["job"] == "slow"]
    assert [(row["attempt"], row["run_id"] == slow_id) for row in slow] == [
        (2, False), (1, True), (1, True)], slow
    # Both rows of slow's first run say how it ended: neither reads as still going.
    assert [(row["status"], row["outcome"]) for row in slow[1:]] == [
        ("failed", "failed"), ("failed", "failed")], slow


def test_a_run_left_alone_that_then_passed_is_not_rerun_and_status_says_so(
        project, mogrun, mogrun_emulator) -> None:
    project(_beside(_slow("2s"), "failed"))
    assert mogrun("-k", "slow", "other").exit_code == 1
    slow_id, _ = runs_by_repo(mogrun_emulator, "acme/api", "acme/worker")
    project(_beside(_slow("2s")))
    assert mogrun("rerun").exit_code == 1
    assert _until_ended(mogrun_emulator, slow_id) == "success"
    status = mogrun("status", "--exit-status")  # reads slow: it has passed since
    assert status.exit_code == 0, status
    slow = [row for row in history_rows(mogrun) if row["job"] == "slow"]
    assert [(row["status"], row["outcome"], row["exit_code"]) for row in slow] == [
        ("success", "success", 0)] * 2, slow
    again = mogrun("rerun")
    assert (again.exit_code, again.stderr.strip()) == (
        0, "nothing to rerun: every run of the latest invocation passed"), again
    assert len(mogrun_emulator.runs) == 3


def test_a_run_another_mogrun_here_follows_is_said_to_be_followed_by_it(
        project, mogrun, mogrun_emulator) -> None:
    """A second terminal's rerun (and its -n) named a run the first mogrun was still
    following "left going": it is followed by that mogrun, and the closing line
    says both ways on (follow it; rerun once that mogrun has ended)."""
    import signal
    import subprocess
    import sys

    root = project("""
        [jobs.slow]   # followed in the other terminal until it is killed
        repo = "acme/api"
        prompt = "@emulator duration=never interval=0.1s"
        timeout = "2m"

    """)
    env = subprocess_env(mogrun_emulator)
    other = subprocess.Popen([sys.executable, "-m", "mogrun", "run", "slow"], cwd=root, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not any(row["run_id"] for row in history_rows(mogrun)):
            assert time.monotonic() < deadline and other.poll() is None
            time.sleep(0.1)
        [run_id] = mogrun_emulator.runs
        by = f"followed by mogrun (pid {other.pid}) on this machine"
        preview = mogrun("rerun", "-n")
        assert f"slow: run {run_id} is {by} (" in preview.stderr, preview
        assert "left going" not in preview.stderr, preview
        rerun = mogrun("rerun")
        assert rerun.exit_code == 1, rerun
        assert f"slow: run {run_id} is still going (" in rerun.stderr, rerun
        assert (f"), {by}, not rerun; follow it with: mogrun logs --follow {run_id}"
                in rerun.stderr), rerun
        assert rerun.stderr.splitlines()[-1] == (
            "nothing to rerun now: what did not pass is still going (or needs what is); "
            f"follow it as said above; rerun once mogrun (pid {other.pid}) on this machine "
            "has ended"), rerun
        assert len(mogrun_emulator.runs) == 1
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait(timeout=20)


def test_the_row_a_rerun_keeps_of_a_run_another_mogrun_follows_says_so(
        project, mogrun, mogrun_emulator) -> None:
    """The rerun said on stderr that slow was followed by the other mogrun, but the
    row it recorded (history, its summary) said 'left going by invocation ...'."""
    import signal
    import subprocess
    import sys

    root = project("""
        [jobs.slow]
        repo = "acme/api"
        prompt = "@emulator duration=never interval=0.1s"
        timeout = "2m"

        [jobs.fail]
        repo = "acme/web"
        prompt = "@emulator duration=0.1s status=failed"
    """)
    env = subprocess_env(mogrun_emulator)
    other = subprocess.Popen([sys.executable, "-m", "mogrun", "run", "-k", "slow", "fail"],
                             cwd=root, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not any(row["job"] == "fail" and row["outcome"] for row in history_rows(mogrun)):
            assert time.monotonic() < deadline and other.poll() is None
            time.sleep(0.1)
        slow_id = next(row["run_id"] for row in history_rows(mogrun) if row["job"] == "slow")
        rerun = mogrun("rerun")
        assert rerun.exit_code == 1, rerun
        kept = _left_alone(mogrun, slow_id)
        assert kept["message"].startswith(
            f"followed by mogrun (pid {other.pid}) on this machine, invocation "), kept
        assert kept["message"].endswith("; not rerun while it is still going"), kept
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait(timeout=20)


def test_a_rerun_after_a_429_sends_the_key_again_and_attaches_to_its_run(
        project, mogrun, mogrun_emulator) -> None:
    """A fixed key's run went on (--detach); the next invocation's start under it was
    refused 429 (the server stored nothing), and rerun gave attempt 2 a key of its
    own: a second run of the job beside the first. It sends the key again: the
    server replays that run, and rerun follows it."""
    project("""
        [jobs.fx]
        repo = "acme/api"
        idempotency_key = "fx-once"
        prompt = "@emulator duration=2s"
    """)
    assert mogrun("run", "fx", "--detach").exit_code == 0
    [run_id] = mogrun_emulator.runs
    mogrun_emulator.add_fault("start", "429", count=1, retry_after=900)
    assert mogrun("run", "fx").exit_code == 75
    rerun = mogrun("rerun", "fx")
    assert rerun.exit_code == 0, rerun
    assert mogrun_emulator.runs == [run_id]  # no second run of the same key's job
    assert "was refused (429) before the server stored it" in rerun.stderr, rerun.stderr
    assert f"attached to existing run {run_id}" in rerun.stderr


def test_a_retry_of_the_read_of_a_run_left_going_is_said(
        project, mogrun, mogrun_emulator) -> None:
    """The read came before the session that shows waits: a 503's retry (and its
    Retry-After) left the terminal silent, the wait said nowhere."""
    project(_slow())
    assert mogrun("slow").exit_code == 1
    [run_id] = mogrun_emulator.runs
    mogrun_emulator.add_fault("events", "503")
    rerun = mogrun("rerun")
    assert rerun.exit_code == 1, rerun  # still going: not rerun
    assert mogrun_emulator.runs == [run_id]
    said = [line for line in rerun.stderr.splitlines() if line.startswith("wait retry: ")]
    assert len(said) == 1 and said[0].startswith(f"wait retry: GET /runs/{run_id}/events: "), rerun
