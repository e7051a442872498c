"""A plugin's hook that blocks the run's worker: a real `python -m mogrun` subprocess.

The first signal's cancel and a run's timeout were sent from the run's own
worker, which the hook held: SIGTERM waited for the hook (a second signal left
the run going on the server), and the timeout waited too."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from mogrun.emulator import Emulator

from .conftest import json_lines
from .test_signals import interrupt, mogrun_after, running, spawn, until, wait_following

# A plugin as people write one: a comment, tabs, blank lines at the end. It says when
# its hook is entered (a file), then blocks until its end of session lets it go.
BLOCKING = """\
# holds the run's worker, as an audit POST to a dead server would
import pathlib
import threading
from mogrun.plugin import hookimpl

_let_go = threading.Event()


@hookimpl
def {hook}({args}):
\tpathlib.Path("entered").write_text("{hook}")
\t_let_go.wait(600)


@hookimpl
def mogrun_session_finished():
\t_let_go.set()  # the worker comes back: it must end nothing twice
\tthreading.Event().wait(1.0)


"""

JOB = """\
plugins = ["./slow.py"]  # a local plugin

[jobs.long]
repo = "acme/api"
prompt = "@emulator duration=never interval=0.2s"
{extra}
"""


@pytest.fixture
def emulator():
    with Emulator(default_duration=0.5) as emu:
        yield emu


def blocking_project(tmp_path: Path, hook: str, args: str) -> None:
    (tmp_path / "slow.py").write_text(BLOCKING.format(hook=hook, args=args))


def entered(tmp_path: Path, proc) -> None:
    until(lambda: (tmp_path / "entered").exists(), "the plugin's hook was entered", proc)


def history_row(emulator, tmp_path) -> dict:
    (row,) = json_lines(mogrun_after(emulator, tmp_path, "--json", "history").stdout)
    return row


@pytest.mark.parametrize(("hook", "args"), [("mogrun_run_started", "job, run"),
                                            ("mogrun_event", "event")])
def test_sigterm_cancels_a_run_whose_worker_a_plugin_hook_holds(emulator, tmp_path, hook, args):
    blocking_project(tmp_path, hook, args)
    with running(spawn(emulator, tmp_path, "long", jobs=JOB.format(extra=""))) as proc:
        entered(tmp_path, proc)
        out, err, took = interrupt(proc, signum=signal.SIGTERM, timeout=20)
    (run_id,) = emulator.runs
    assert proc.returncode == 143, (out, err)
    assert took < 8.0, (took, err)  # the hook's grace, then the cancel: not the hook's 600 s
    assert emulator.run_detail(run_id)["status"] == "cancelled"
    assert emulator.count("POST", f"/runs/{run_id}/cancel") == 1  # the worker sent none later
    assert (f"warning: long: plugin slow's {hook} is still running after the signal; "
            f"ending run {run_id} without waiting for it") in err.splitlines(), err
    assert f"cancel of run {run_id} got through" in err
    assert "left going" not in err and "Traceback" not in err + out
    assert out.count("result  -  cancelled") == 1, out  # one result, after the hook let go
    row = history_row(emulator, tmp_path)
    assert (row["run_id"], row["status"], row["outcome"], row["exit_code"]) == (
        run_id, "cancelled", "cancelled", 143)
    assert row["finished_at"]


def test_a_runs_timeout_cancels_it_while_a_plugin_hook_holds_its_worker(emulator, tmp_path):
    blocking_project(tmp_path, "mogrun_event", "event")
    began = time.monotonic()
    with running(spawn(emulator, tmp_path, "long",
                       jobs=JOB.format(extra='timeout = "3s"\t# short'))) as proc:
        out, err = proc.communicate(timeout=20)
    took = time.monotonic() - began
    (run_id,) = emulator.runs
    assert proc.returncode == 1, (out, err)
    assert took < 10.0, (took, err)
    assert emulator.run_detail(run_id)["status"] == "cancelled"
    assert emulator.count("POST", f"/runs/{run_id}/cancel") == 1
    assert (f"warning: long: plugin slow's mogrun_event is still running at the run's "
            f"timeout; ending run {run_id} without waiting for it") in err.splitlines(), err
    assert f"warning: long: timed out after 3s; cancelled run {run_id}" in err.splitlines()
    row = history_row(emulator, tmp_path)
    assert (row["status"], row["outcome"]) == ("cancelled", "timeout")
    assert row["finished_at"]


# A gate that takes its time (a CI check it polls), until the test lets it go.
SLOW_GATE = """\
import pathlib
import time
from mogrun.plugin import hookimpl


@hookimpl
def mogrun_gate(job):
    pathlib.Path("entered").write_text("mogrun_gate")
    for _ in range(600):  # in slices: a second Ctrl-C must land
        if pathlib.Path("release").exists():
            return None
        time.sleep(0.05)

"""

QUICK = """\
plugins = ["./gate.py"]

[jobs.fix]
repo = "acme/api"
prompt = \"\"\"Fix it.
@emulator duration=0.3s events=2
\"\"\"

"""


def slow_gate_project(tmp_path: Path) -> None:
    (tmp_path / "gate.py").write_text(SLOW_GATE)


def said_on(stream, text: str) -> str:
    """The lines read from ``stream`` up to the first that holds ``text``."""
    said = ""
    while text not in said:
        line = stream.readline()
        assert line, (text, said)
        said += line
    return said


def ctrl_c_twice(proc) -> tuple[str, str]:
    """Two Ctrl-Cs, the second once the first was heard (its line said), then the
    exit: (stdout, stderr). Sent a set time apart, the second could come before
    the first's handler ran (mogrun held up), and Python runs it once for both."""
    proc.send_signal(signal.SIGINT)
    heard = said_on(proc.stderr, "warning: interrupted")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    return out, heard + err


def test_a_second_ctrl_c_while_a_gate_judges_an_ended_run_leaves_nothing_going(
        emulator, tmp_path):
    """The run had ended (streaming -> success) and a slow gate judged it: the first
    Ctrl-C said it was cancelling it, the second named it "left going" with a cancel
    command, and history recorded it `streaming`, as if it still went."""
    slow_gate_project(tmp_path)
    with running(spawn(emulator, tmp_path, "fix", jobs=QUICK)) as proc:
        entered(tmp_path, proc)
        out, err = ctrl_c_twice(proc)
    (run_id,) = emulator.runs
    assert proc.returncode == 130, (out, err)
    assert "cancelling" not in err and "left going:" not in err, err
    assert "no runs were left going" in err.splitlines(), err
    assert emulator.count("POST", f"/runs/{run_id}/cancel") == 0
    row = history_row(emulator, tmp_path)
    assert (row["run_id"], row["status"], row["outcome"], row["exit_code"]) == (
        run_id, "success", "error", 130), row
    assert row["message"] == ("interrupted again once the run had ended (success), before "
                              "its gates judged it"), row


def test_a_second_ctrl_c_while_a_gate_judges_says_the_run_ended_in_every_report(
        emulator, tmp_path):
    """The history said the run had ended (success) before its gates judged it, but
    the --json summary and the JUnit report (the plugins' end of session) said it was
    left going, its status null: a dashboard was told a finished run still went."""
    slow_gate_project(tmp_path)
    with running(spawn(emulator, tmp_path, "--json", "run", "--junit", "report.xml", "fix",
                       jobs=QUICK)) as proc:
        entered(tmp_path, proc)
        out, err = ctrl_c_twice(proc)
    (run_id,) = emulator.runs
    assert proc.returncode == 130, (out, err)
    summary = json_lines(out)[-1]
    assert summary["type"] == "summary", summary
    (result,) = summary["results"]
    said = "interrupted again once the run had ended (success), before its gates judged it"
    assert (result["run_id"], result["status"], result["outcome"], result["left_going"],
            result["message"]) == (run_id, "success", "error", False, said), result
    report = (tmp_path / "report.xml").read_text()
    assert said in report and "left going" not in report, report


# A gate before the slow one (its plugin is listed last: pluggy calls it first) that
# holds the run until the test has seen the Ctrl-C heard.
UNTIL_HEARD = """\
import pathlib
import time
from mogrun.plugin import hookimpl


@hookimpl
def mogrun_gate(job):
    pathlib.Path("entered").write_text("mogrun_gate")
    for _ in range(600):
        if pathlib.Path("heard").exists():
            return None
        time.sleep(0.05)
"""


def test_a_gate_slow_after_a_first_ctrl_c_says_one_more_leaves(emulator, tmp_path):
    """A hook call running long is said with the way out; after the Ctrl-C that
    stopped the session, that was still "Ctrl-C twice", where one more leaves.
    The slow gate is entered once the Ctrl-C was heard: with the Ctrl-C sent as it
    was entered, a test held up past its notice's second (load) met that notice said
    before the Ctrl-C, rightly "Ctrl-C twice"."""
    slow_gate_project(tmp_path)
    (tmp_path / "heard.py").write_text(UNTIL_HEARD)
    jobs = QUICK.replace('"./gate.py"]', '"./gate.py", "./heard.py"]')
    with running(spawn(emulator, tmp_path, "fix", jobs=jobs)) as proc:
        entered(tmp_path, proc)
        proc.send_signal(signal.SIGINT)
        said_on(proc.stderr, "warning: interrupted")  # said once the session's stop is set
        (tmp_path / "heard").write_text("")
        notice = said_on(proc.stdout, "plugin gate's mogrun_gate (running for")
        (tmp_path / "release").write_text("")
        out, err = proc.communicate(timeout=20)
    said = [line for line in (notice + out + err).splitlines()
            if "plugin gate's mogrun_gate (running for" in line]
    assert said and all(line.endswith("one more Ctrl-C leaves without it") for line in said), (
        notice, out, err)


def test_one_ctrl_c_while_a_gate_judges_an_ended_run_cancels_nothing(emulator, tmp_path):
    """It said "cancelling 1 run started here" though the run had ended; the gate
    still judges it, and its row keeps the run's own exit code (docs/cli.md: the
    exit column is per run) while the invocation, as its summary says, exits 130."""
    slow_gate_project(tmp_path)
    with running(spawn(emulator, tmp_path, "fix", jobs=QUICK)) as proc:
        entered(tmp_path, proc)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        (tmp_path / "release").write_text("")
        out, err = proc.communicate(timeout=20)
    (run_id,) = emulator.runs
    assert proc.returncode == 130, (out, err)
    assert "warning: interrupted; no run started here is going, stopping" in err.splitlines()
    assert "cancelling" not in err and emulator.count("POST", f"/runs/{run_id}/cancel") == 0
    assert f"fix  result  -  success ({run_id})" in out and "exit code 130" in out, out
    row = history_row(emulator, tmp_path)
    assert (row["status"], row["outcome"], row["exit_code"]) == ("success", "success", 0), row


# An event hook that lets the first events by, then holds the worker at the first log.
HOLD_AT_LOG = """\
import pathlib
import threading
from mogrun.plugin import hookimpl

_let_go = threading.Event()


@hookimpl
def mogrun_event(event):
    if event.type == "log":
        pathlib.Path("entered").write_text("mogrun_event")
        _let_go.wait(600)


@hookimpl
def mogrun_session_finished():
    _let_go.set()
"""


def test_a_signal_while_a_hook_holds_a_later_event_shows_no_event_twice(emulator, tmp_path):
    """The rescue that ends the run caught up on its events from none seen: every
    event shown before the hook held the worker (started, status_changed, ...) was
    shown a second time, in the plain lines and as --json `event` objects."""
    (tmp_path / "slow.py").write_text(HOLD_AT_LOG)
    with running(spawn(emulator, tmp_path, "--json", "long",
                       jobs=JOB.format(extra=""))) as proc:
        entered(tmp_path, proc)
        out, err, _ = interrupt(proc, timeout=20)
    assert proc.returncode == 130, (out, err)
    ids = [line["event"]["id"] for line in json_lines(out) if line["type"] == "event"]
    assert len(ids) > 4, out  # the events before the held one, the log, the cancel's
    assert len(ids) == len(set(ids)), out
    kinds = [line["event"]["type"] for line in json_lines(out) if line["type"] == "event"]
    assert kinds.count("started") == 1, kinds


# A retry policy that never answers: the start's retry pause is the plugin's to set.
HANGING_RETRY = """\
import pathlib
import time
from mogrun.plugin import hookimpl


@hookimpl(tryfirst=True)
def mogrun_retry_delay(error, attempt):
    pathlib.Path("entered").write_text("mogrun_retry_delay")
    time.sleep(3600)
"""


@pytest.mark.parametrize("fault", ["drop_after_commit", "500"])
def test_a_signal_while_a_retry_hook_holds_an_unanswered_start_cancels_its_run(
        emulator, tmp_path, fault):
    """The server may have made the run (its answer lost, or a 500), and the plugin's
    mogrun_retry_delay hung before the retry: after SIGTERM mogrun waited for the
    hook (far past the 10 s it said), never sent the start again to learn the run
    its key made, and so left that run going unnamed. A plain retry pause at the
    signal sends the start once more under its key and cancels what it finds."""
    (tmp_path / "slow.py").write_text(HANGING_RETRY)
    emulator.add_fault("start", fault)
    with running(spawn(emulator, tmp_path, "long", jobs=JOB.format(extra=""))) as proc:
        entered(tmp_path, proc)
        out, err, took = interrupt(proc, signum=signal.SIGTERM, timeout=20)
    assert proc.returncode == 143, (out, err)
    assert took < 8.0, (took, err)  # the hook's grace, one more start, the cancel
    assert ("SIGTERM; waiting up to 10s for 1 start in flight to answer, to cancel what it "
            "started") in err, err
    (run_id,) = emulator.runs  # the one its key made (the 500: the look made it)
    assert emulator.run_detail(run_id)["status"] == "cancelled"
    assert emulator.count("POST", f"/runs/{run_id}/cancel") == 1
    assert ("warning: long: plugin slow's mogrun_retry_delay is still running after the "
            "signal; sending its start once more without waiting for it, to find the run "
            "its Idempotency-Key mogrun-long-") in err, err
    assert ("interrupted while its start was unanswered: the start (Idempotency-Key "
            "mogrun-long-") in err, err
    assert f") is run {run_id}" in err and f"cancel of run {run_id} got through" in err
    assert "Traceback" not in err + out
    row = history_row(emulator, tmp_path)
    assert (row["run_id"], row["status"], row["outcome"], row["exit_code"]) == (
        run_id, "cancelled", "cancelled", 143), row


def test_a_signal_while_a_retry_hook_holds_a_start_turned_away_starts_no_run(
        emulator, tmp_path):
    """A start turned away at the door (a 503: the server asks its limit service
    before it makes a run) made no run; the retry's hook hung, and the signal
    waited for it past any end. As in a plain retry pause, nothing is sent again."""
    (tmp_path / "slow.py").write_text(HANGING_RETRY)
    emulator.add_fault("start", "503")
    with running(spawn(emulator, tmp_path, "long", jobs=JOB.format(extra=""))) as proc:
        entered(tmp_path, proc)
        out, err, took = interrupt(proc, signum=signal.SIGTERM, timeout=20)
    assert proc.returncode == 143, (out, err)
    assert took < 6.0, (took, err)
    assert "warning: SIGTERM: no run started here is going, stopping" in err.splitlines(), err
    assert ("warning: long: plugin slow's mogrun_retry_delay is still running after the "
            "signal; giving its start up without waiting for it (no attempt reached the "
            "server: it made no run)") in err.splitlines(), err
    assert emulator.runs == [], err
    assert emulator.count("POST", "/runs", path="/runs") == 1, emulator.requests
    assert "long  result  -  skipped: interrupted before it started" in out, out
    assert "Traceback" not in err + out


# The retry policy answers at last, once the session's end lets it go: its worker
# must then leave, the rescue having ended the run (an immediate retry, a result).
LATE_RETRY = """\
import pathlib
import threading
from mogrun.plugin import hookimpl

_let_go = threading.Event()


@hookimpl(tryfirst=True)
def mogrun_retry_delay(error, attempt):
    pathlib.Path("entered").write_text("mogrun_retry_delay")
    _let_go.wait(600)
    return 0.0


@hookimpl
def mogrun_session_finished():
    _let_go.set()
    threading.Event().wait(0.5)  # the worker's retry goes out meanwhile
"""


def test_a_retry_hook_let_go_after_the_rescue_ends_nothing_twice(emulator, tmp_path):
    """The worker, its hook answering 0 s after the rescue found and cancelled the
    run, sent its start once more (a replay, but a request for a run already ended)
    and said a retry after the run's result."""
    (tmp_path / "slow.py").write_text(LATE_RETRY)
    emulator.add_fault("start", "drop_after_commit")
    with running(spawn(emulator, tmp_path, "long", jobs=JOB.format(extra=""))) as proc:
        entered(tmp_path, proc)
        out, err, _ = interrupt(proc, signum=signal.SIGTERM, timeout=20)
    (run_id,) = emulator.runs
    assert proc.returncode == 143, (out, err)
    assert emulator.run_detail(run_id)["status"] == "cancelled"
    assert emulator.count("POST", f"/runs/{run_id}/cancel") == 1, emulator.requests
    assert out.count("result  -  cancelled") == 1, out
    # the one dropped, the rescue's look: the worker let go sends none
    assert emulator.count("POST", "/runs", path="/runs") == 2, emulator.requests
    assert "  wait  retry  " not in out, out
    assert "given up" not in err and "Traceback" not in err + out, err


@pytest.mark.parametrize("fault", ["500", "503"])
def test_a_signal_while_a_retry_hook_holds_a_runs_cancel_cancels_it(emulator, tmp_path, fault):
    """The first signal's cancel failed in a retryable way and the plugin's
    mogrun_retry_delay hung before the retry: mogrun waited for the hook with no end,
    and the run went on until a second signal left it going. The cancel is sent
    again on mogrun's own pause, without the hook, within the signal's grace; the
    worker, let go at the session's end, sends it no more."""
    (tmp_path / "slow.py").write_text(LATE_RETRY)
    emulator.add_fault("cancel", fault)
    with running(spawn(emulator, tmp_path, "long", jobs=JOB.format(extra=""))) as proc:
        (run_id,) = wait_following(emulator)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        entered(tmp_path, proc)  # the cancel failed: its retry's pause is the plugin's
        out, err = proc.communicate(timeout=20)
    took = time.monotonic() - signalled
    assert proc.returncode == 143, (out, err)
    assert took < 8.0, (took, err)
    assert emulator.run_detail(run_id)["status"] == "cancelled"
    assert emulator.count("POST", f"/runs/{run_id}/cancel") == 2, emulator.requests
    assert ("warning: long: plugin slow's mogrun_retry_delay is still running after the "
            f"signal; sending the cancel of run {run_id} once more without waiting for "
            "it") in err.splitlines(), err
    assert f"cancel of run {run_id} got through" in err, err
    assert "left going" not in err and "Traceback" not in err + out, err
    assert out.count("result  -  cancelled") == 1, out
    assert "  wait  retry  " not in out, out  # the worker let go says no retry
    row = history_row(emulator, tmp_path)
    assert (row["run_id"], row["status"], row["outcome"], row["exit_code"]) == (
        run_id, "cancelled", "cancelled", 143), row


def test_a_signal_while_a_retry_hook_holds_a_wait_for_a_sandbox_slot_leaves(
        emulator, tmp_path):
    """Every sandbox busy, the start waited for a slot, and the account's listing
    failed (a 500): the plugin's mogrun_retry_delay hung before its retry, and a
    signal waited for the hook with no end though nothing had been started."""
    (tmp_path / "slow.py").write_text(LATE_RETRY)
    emulator.occupy_sandboxes(3, busy=None)
    with running(spawn(emulator, tmp_path, "long", jobs=JOB.format(extra=""))) as proc:
        until(lambda: emulator.count("GET", "/sandboxes") > 0, "the slot was looked for", proc)
        emulator.add_fault("sandboxes", "500")
        entered(tmp_path, proc)
        out, err, took = interrupt(proc, signum=signal.SIGTERM, timeout=20)
    assert proc.returncode == 143, (out, err)
    assert took < 5.0, (took, err)  # the hook's grace, nothing to cancel
    assert emulator.runs == [], err
    assert emulator.count("POST", "/runs", path="/runs") == 0, emulator.requests
    assert "warning: SIGTERM: no run started here is going, stopping" in err.splitlines(), err
    assert ("warning: long: plugin slow's mogrun_retry_delay is still running after the "
            "signal; giving its start up without waiting for it (it was waiting for a "
            "sandbox slot: nothing was sent)") in err.splitlines(), err
    assert "long  result  -  skipped: interrupted before it started" in out, out
    assert "  wait  retry  " not in out, out  # the worker let go says no retry
    assert "Traceback" not in err + out
    row = history_row(emulator, tmp_path)
    assert (row["outcome"], row["exit_code"]) == ("skipped", 143), row


# A worker held by a hook (an event's, or a retry's), and a retry policy that hangs
# until the session's end: whatever a rescue sends must not ask it.
HELD_AND_HANGING_RETRY = """\
import pathlib
import threading
from mogrun.plugin import hookimpl

_let_go = threading.Event()


@hookimpl
def mogrun_event(event):
    pathlib.Path("entered").write_text("mogrun_event")
    _let_go.wait(600)


@hookimpl(tryfirst=True)
def mogrun_retry_delay(error, attempt):
    with open("retries", "a") as asked:
        asked.write(error.message + "\\n")
    pathlib.Path("entered").write_text("mogrun_retry_delay")
    _let_go.wait(600)
    return 0.0


@hookimpl
def mogrun_session_finished():
    _let_go.set()
"""


@pytest.mark.parametrize(("why", "endpoint"), [
    ("signal", "cancel"), ("signal", "events"), ("timeout", "cancel"), ("timeout", "events"),
    ("start", "cancel")])
def test_a_rescues_own_request_failing_is_retried_without_the_plugins(
        emulator, tmp_path, why, endpoint):
    """A rescue (a hook held the worker at a signal, or at the run's timeout, or held
    its start's retry at a signal) sent its requests under the plugins' retry policy:
    one failing once (a 500 to its cancel, to its read of the run's last events) asked
    mogrun_retry_delay, which hung, so the rescue hung with the worker, mogrun never
    left (but at a second signal) and the run went on. The plugins hear nothing more
    of a run a rescue ends: its requests retry on mogrun's own pause."""
    (tmp_path / "slow.py").write_text(HELD_AND_HANGING_RETRY)
    extra = 'timeout = "3s"' if why == "timeout" else ""
    if why == "start":
        emulator.add_fault("start", "drop_after_commit")
    with running(spawn(emulator, tmp_path, "long", jobs=JOB.format(extra=extra))) as proc:
        entered(tmp_path, proc)
        emulator.add_fault(endpoint, "500")
        began = time.monotonic()
        if why != "timeout":
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    took = time.monotonic() - began
    (run_id,) = emulator.runs
    assert proc.returncode == (1 if why == "timeout" else 143), (out, err)
    assert took < 6.0, (took, err)  # the hook's grace (or the timeout), a retry's 0.5 s
    assert emulator.run_detail(run_id)["status"] == "cancelled"
    asked = (tmp_path / "retries").read_text().splitlines() if why == "start" else []
    assert len(asked) == (1 if why == "start" else 0), asked  # the worker's start's only
    assert "  wait  retry  " in out, out  # the rescue's retry is said, as any is
    assert "left going" not in err and "Traceback" not in err + out, err
    row = history_row(emulator, tmp_path)
    assert (row["run_id"], row["status"], row["outcome"]) == (
        run_id, "cancelled", "timeout" if why == "timeout" else "cancelled"), row


def test_a_retry_hook_holding_a_timeouts_cancel_is_not_waited_for(emulator, tmp_path):
    """The run's timeout cancelled it, the cancel failed (a 500) and the plugin's
    mogrun_retry_delay hung before the retry: mogrun said "waiting up to 10s for
    its cancel" and then waited for the hook with no end, the run going, until a
    Ctrl-C (which ended it as interrupted, exit 130, not as its timeout). The cancel
    is sent again on mogrun's own pause once the hook has held it 2 s, within the
    10 s it was given; the worker, let go at the session's end, sends it no more."""
    (tmp_path / "slow.py").write_text(LATE_RETRY)
    emulator.add_fault("cancel", "500")
    with running(spawn(emulator, tmp_path, "long",
                       jobs=JOB.format(extra='timeout = "2s"'))) as proc:
        entered(tmp_path, proc)  # the cancel failed: its retry's pause is the plugin's
        held = time.monotonic()
        out, err = proc.communicate(timeout=15)
    took = time.monotonic() - held
    (run_id,) = emulator.runs
    assert proc.returncode == 1, (out, err)
    assert took < 6.0, (took, err)  # the hook's grace, the cancel once more
    assert emulator.run_detail(run_id)["status"] == "cancelled"
    assert emulator.count("POST", f"/runs/{run_id}/cancel") == 2, emulator.requests
    assert ("long  wait  plugins  waiting for plugin slow's mogrun_retry_delay (running for "
            "1s)") in out, out
    assert ("warning: long: plugin slow's mogrun_retry_delay is still running at the run's "
            f"timeout; sending the cancel of run {run_id} once more without waiting for "
            "it") in err.splitlines(), err
    assert f"warning: long: timed out after 2s; cancelled run {run_id}" in err.splitlines(), err
    assert "left going" not in err and "Traceback" not in err + out, err
    assert out.count("result  -  timeout") == 1, out
    assert "  wait  retry  " not in out, out  # the worker let go says no retry
    row = history_row(emulator, tmp_path)
    assert (row["run_id"], row["status"], row["outcome"], row["exit_code"]) == (
        run_id, "cancelled", "timeout", 1), row
