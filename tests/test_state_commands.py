"""status, logs, cancel and history as scripts and people use them, end to end
against the emulator over loopback: typos caught before any request,
``--exit-status``, detached runs completed, ``logs`` of whole invocations and
fan-outs with gates, and ``--local`` runs kept after their emulator is gone."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time

import pytest

from mogrun.durations import parse_moment
from mogrun.engine.history_row import iso_of
from mogrun.testing import job, task_file

FAST = {"MOGRUN_POLL_INTERVAL": "0.1"}
LIMITS = {"requests_per_minute": 600, "starts_per_minute": 100}
JOBS = task_file(job("lint"), job("fanout", repo=["acme/api", "acme/web"]),
                 job("broken", prompt="@emulator duration=0.2s status=failed"),
                 job("slow", prompt="@emulator duration=1.5s"), mogplex=LIMITS)


@pytest.fixture
def project(mogrun_project, mogrun_emulator):
    mogrun_project.write(JOBS)
    mogrun_project.env.update(FAST)
    return mogrun_project


def wait_until_ended(emulator, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(emulator.run_detail(r)["status"] in ("success", "failed", "cancelled")
               for r in emulator.runs):
            return
        time.sleep(0.1)
    raise AssertionError("the emulator's runs did not end")


@pytest.mark.parametrize("argv", [["logs", "fanuot"], ["cancel", "fanuot"],
                                  ["status", "fanuot"], ["history", "--job", "fanuot"],
                                  ["logs", "--follow", "fanuot:acme/api"]])
def test_a_mistyped_job_is_refused_before_any_request(project, mogrun_emulator, argv) -> None:
    assert project("fanout").exit_code == 0
    mogrun_emulator.clear_requests()
    result = project(*argv)
    assert result.exit_code == 2, result
    target = argv[-1]
    meant = "fanout" + target[len("fanuot"):]  # `fanuot:acme/api`: its repo part kept
    assert result.stderr.splitlines()[:3] == [f'Error: unknown job or run "{target}"',
                                              f'did you mean "{meant}"?',
                                              "Jobs: lint, fanout, broken, slow"]
    assert mogrun_emulator.requests == []


@pytest.mark.parametrize("argv", [["history", "--job", "fanuot"], ["status", "fanuot"]])
def test_a_hint_of_a_job_of_past_runs_says_so(project, argv) -> None:
    """The hint named a job only history knows (renamed since) above a Jobs line
    that does not list it: which of the two was right?"""
    assert project("fanout").exit_code == 0
    project.write(JOBS.replace("[jobs.fanout]", "[jobs.fan-out]"))
    result = project(*argv)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[1:3] == [
        'did you mean "fanout" (a job of past runs)?', "Jobs: lint, fan-out, broken, slow"]


@pytest.mark.parametrize("target", ["run_3f9c2e41", "12345", "fan0ut"])
def test_what_is_neither_a_job_nor_a_run_id_is_refused_without_a_request(
        project, mogrun_emulator, target) -> None:
    # Run ids are UUIDs; the server answers any other id with a 500 (its query on
    # the UUID column fails), which a client would retry: refused here, exit 2.
    for command in ("status", "logs", "cancel"):
        result = project(command, target)
        assert result.exit_code == 2, result
        assert result.stderr.startswith(f'Error: unknown job or run "{target}"')
    assert mogrun_emulator.requests == []


@pytest.mark.parametrize("command", ["status", "cancel"])
def test_the_run_id_in_the_help_examples_is_one_mogrun_accepts(project, command) -> None:
    """People paste the help's example: its run id must not be refused as a typo."""
    from mogrun.cli.cancel_cmd import cancel_command
    from mogrun.cli.run_targets import looks_like_run_id
    from mogrun.cli.status_cmd import status_command

    doc = (status_command if command == "status" else cancel_command).help or ""
    # "  mogrun status codemod     what it shows": the command line, then its gloss
    lines = [line.strip().split("  ")[0] for line in doc.splitlines()]
    targets = [line.split(f" {command} ", 1)[1].split()[0] for line in lines
               if line.startswith("mogrun") and f" {command} " in line]
    ids = [target for target in targets
           if not target.startswith("-") and target not in ("codemod", "nightly")]
    assert ids, f"{command} --help shows no run id example"
    for run_id in ids:
        assert looks_like_run_id(run_id), run_id
        result = project(command, run_id)
        assert "unknown job or run" not in result.stderr, result


def test_a_run_id_mogrun_never_recorded_is_still_asked_for(project, mogrun_emulator) -> None:
    result = project("logs", "00000000-0000-4000-8000-000000000000")
    assert result.exit_code == 1, result
    assert "NOT_FOUND" in result.stderr
    assert mogrun_emulator.count("GET", "/runs/00000000-0000-4000-8000-000000000000") == 1


def test_a_run_never_recorded_here_is_not_attached(project, mogrun_project, tmp_path) -> None:
    """`status --json RUN` of a run another checkout started said "attached": null, where
    the table marks no "(attached)": no invocation of this history attached to it."""
    assert project("run", "lint").exit_code == 0
    run_id = json.loads(project("--json", "status", "lint").stdout)["run_id"]
    elsewhere = tmp_path / "other-checkout"
    elsewhere.mkdir()
    (elsewhere / "mogplex.toml").write_text(JOBS)
    result = mogrun_project.run("--json", "status", run_id, cwd=elsewhere, env=FAST)
    assert result.exit_code == 0, result
    row = json.loads(result.stdout)
    assert (row["invocation"], row["job"], row["attached"]) == (None, None, False)
    table = mogrun_project.run("status", run_id, cwd=elsewhere, env=FAST)
    assert "(attached)" not in table.stdout


@pytest.mark.parametrize("jobs, code", [(["lint"], 0), (["lint", "broken"], 1)])
def test_status_exit_status_after_runs_ended(project, jobs, code) -> None:
    project("-k", *jobs)
    result = project("status", "--exit-status")
    assert result.exit_code == code, result


def test_a_job_removed_from_the_task_file_no_longer_holds_status_back(project) -> None:
    """`status --exit-status && deploy` never passed again once a failed job was
    deleted from the file (rerun said there was nothing to rerun), and plain
    status listed every job ever recorded: 315 after a year, beside 5."""
    assert project("-k", "lint", "broken").exit_code == 1
    assert project("status", "--exit-status").exit_code == 1
    project.write(task_file(job("lint"), mogplex=LIMITS) + "\n# broken: gone\n\n")
    result = project("status", "--exit-status")
    assert result.exit_code == 0, result
    assert "lint" in result.stdout and "broken" not in result.stdout, result
    assert "broken" in project("history").stdout  # its runs are still recorded


def test_status_after_a_job_is_renamed_says_its_runs_are_still_recorded(project) -> None:
    """Renaming the one job that had run made status say "No runs recorded yet."
    with its runs all in history: wrong, and no word of how to see them."""
    assert project("broken").exit_code == 1
    project.write(task_file(job("broken2", prompt="x"), mogplex=LIMITS))
    result = project("status")
    assert result.exit_code == 0, result
    assert result.stdout == "", result
    assert "No runs recorded yet" not in result.stderr, result
    assert result.stderr.splitlines() == [
        "No runs of the task file's jobs are recorded yet; runs are recorded of jobs it "
        "no longer has (broken): see them with mogrun status broken, or mogrun history"]
    assert project("status", "--exit-status").exit_code == 1  # nothing of the file passed
    assert "broken" in project("status", "broken").stdout  # as the line says


def test_status_exit_status_is_3_while_a_run_is_going(project, mogrun_emulator) -> None:
    assert project("--detach", "slow").exit_code == 0
    going = project("status", "--exit-status", "slow")
    assert going.exit_code == 3, going
    wait_until_ended(mogrun_emulator)
    assert project("status", "--exit-status", "slow").exit_code == 0


def test_a_ctrl_c_while_status_asks_shows_what_it_learnt(project, mogrun_emulator,
                                                         monkeypatch) -> None:
    """status asks each going run in turn: against a slow server a hundred of them can
    take minutes, and a Ctrl-C ended it with "Interrupted." and no row at all. The
    runs asked are shown as learnt, the others as last recorded, said, exit 130.
    (The Ctrl-C is raised where the second run would be asked: a timed signal would
    race the first answer.)"""
    from mogrun.engine import automation_kind

    assert project("--detach", "fanout").exit_code == 0
    wait_until_ended(mogrun_emulator)
    real, asked = automation_kind.Readers, []

    class CtrlCAtTheSecond:
        def __init__(self, reader) -> None:
            self.reader = reader

        def get_events(self, run_id):
            if asked:
                raise KeyboardInterrupt
            asked.append(run_id)
            return self.reader.get_events(run_id)

    monkeypatch.setattr(automation_kind, "Readers", lambda client: lambda automation:
                        CtrlCAtTheSecond(real(client)(automation)))
    result = project("--json", "status", "fanout")
    assert result.exit_code == 130, result
    rows = {row["run_id"]: row for row in map(json.loads, result.stdout.splitlines())}
    [first] = asked
    assert rows[first]["status"] == "success"  # asked: learnt, and recorded
    [other] = [run_id for run_id in rows if run_id != first]
    assert rows[other]["status"] not in ("success", "failed", "cancelled")  # as recorded
    assert "interrupted: 1 of the 2 going runs were not asked; they are shown as last " \
        "recorded" in result.stderr, result
    assert "Interrupted." not in result.stderr


MANY = [f"acme/r{n}" for n in range(8)]


@pytest.mark.mogrun_emulator(repos=MANY)
def test_status_asks_the_going_runs_at_once(project, mogrun_emulator) -> None:
    """status asked each going run in turn (no endpoint lists runs): against a server
    taking 8 s an answer, 120 runs took 16 minutes. A few are asked at once now:
    8 runs, each answer 1.5 s late, take about one answer's time, where in turn they
    took 12 s (asserted under half that: a loaded machine stays well inside it).
    Each is learnt and recorded, once, in the task file's order."""
    project.write(task_file(job("fan", repo=MANY), mogplex=LIMITS))
    assert project("--detach", "fan").exit_code == 0
    wait_until_ended(mogrun_emulator)
    mogrun_emulator.add_fault("events", "delay", count=len(MANY), delay=1.5)
    began = time.monotonic()
    shown = project("--json", "status", "fan")
    took = time.monotonic() - began
    assert shown.exit_code == 0, shown
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [row["repo"] for row in rows] == MANY
    assert {row["status"] for row in rows} == {"success"}
    assert took < len(MANY) * 1.5 / 2, took
    assert mogrun_emulator.count("GET", "/runs/") == len(MANY)  # one each
    kept = [json.loads(line) for line in project("--json", "history").stdout.splitlines()]
    assert {row["outcome"] for row in kept} == {"success"}


def test_status_with_no_thread_to_be_had_asks_the_runs_in_turn(project, mogrun_emulator,
                                                               monkeypatch) -> None:
    """The system's thread limit (a container's): no helper thread at all, and status
    asks each going run itself, in turn, as it did before it asked them at once."""
    import threading

    assert project("--detach", "fanout").exit_code == 0
    wait_until_ended(mogrun_emulator)
    start = threading.Thread.start

    def limited(thread: threading.Thread) -> None:
        if thread.name.startswith("mogrun-status-"):
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", limited)
    result = project("--json", "status", "fanout")
    assert result.exit_code == 0, result
    assert [row["status"] for row in map(json.loads, result.stdout.splitlines())] == [
        "success", "success"]
    assert "Traceback" not in result.stderr


def test_status_shows_what_it_learnt_before_the_api_stopped_answering(
        project, mogrun_emulator, quick_backoff) -> None:
    """The server stopped answering after the first run was asked: every run was
    shown as last recorded, the one learnt too (and recorded: history and status
    disagreed). Now it is shown as learnt, the others as recorded, with one warning
    that says so, and the exit code of an unreachable API (69)."""
    fan = ["acme/api", "acme/web", "acme/worker"]
    project.write(task_file(job("fan", repo=fan), mogplex=LIMITS))
    assert project("--detach", "fan").exit_code == 0
    wait_until_ended(mogrun_emulator)
    mogrun_emulator.add_fault("events", "delay", count=1, delay=0.001)  # the first answers
    mogrun_emulator.add_fault("events", "drop", count=1000)  # then none
    shown = project("--json", "status", "fan")
    assert shown.exit_code == 69, shown
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [row["repo"] for row in rows] == fan
    assert sorted(row["status"] for row in rows) == ["pending", "pending", "success"], rows
    warnings = [line for line in shown.stderr.splitlines() if "cannot refresh" in line]
    [warning] = warnings
    assert warning.startswith("warning: cannot refresh from the API (the connection to "), warning
    assert warning.endswith("); 2 of the 3 going runs are shown as last recorded, the others "
                            "as the API said"), warning


def test_a_detached_row_is_completed_and_never_fetched_again(project, mogrun_emulator) -> None:
    assert project("--detach", "lint").exit_code == 0
    [run_id] = mogrun_emulator.runs
    wait_until_ended(mogrun_emulator)
    first = project("--json", "status", "lint")
    row = json.loads(first.stdout)
    assert (row["status"], row["outcome"], row["exit_code"]) == ("success", "success", 0)
    assert row["finished_at"]
    history = json.loads(project("--json", "history", "-n", "1").stdout)
    assert (history["status"], history["outcome"]) == ("success", "success")
    before = mogrun_emulator.count("GET", f"/runs/{run_id}")
    assert project("status").exit_code == 0
    assert mogrun_emulator.count("GET", f"/runs/{run_id}") == before


def test_a_detached_row_has_no_end_or_exit_code_until_its_end_is_seen(
        project, mogrun_emulator) -> None:
    """A detached row said finished_at = the moment of detaching and exit 0: ``history``
    showed running runs as passed (``jq 'select(.exit_code==0)'`` counted them), and
    the end was never corrected. Now both are null until a command sees it end."""
    assert project("--detach", "fanout").exit_code == 0
    rows = [json.loads(line) for line in project("--json", "history").stdout.splitlines()]
    assert [(r["outcome"], r["finished_at"], r["exit_code"]) for r in rows] == [
        ("detached", None, None)] * 2
    table = project("history").stdout.splitlines()[2:]
    assert [line.split()[5:7] for line in table] == [["detached", "-"]] * 2, table
    wait_until_ended(mogrun_emulator)
    assert project("status", "--exit-status").exit_code == 0
    # The server's end, in history's own form (its started_at's): one form per column.
    ended = {run_id: iso_of(parse_moment(mogrun_emulator.run_detail(run_id)["updatedAt"]))
             for run_id in mogrun_emulator.runs}
    rows = [json.loads(line) for line in project("--json", "history").stdout.splitlines()]
    assert [(r["outcome"], r["exit_code"]) for r in rows] == [("success", 0)] * 2
    assert {r["run_id"]: r["finished_at"] for r in rows} == ended


def test_a_run_left_going_at_its_timeout_ends_when_the_run_did(mogrun_project,
                                                                mogrun_emulator) -> None:
    """on_timeout = "detach": the row kept the moment mogrun stopped following as its
    finished_at after status saw the run succeed, seconds before the run's end."""
    mogrun_project.write(task_file(job("d", prompt="@emulator duration=2.5s", timeout="1s",
                                       on_timeout="detach"), mogplex=LIMITS))
    mogrun_project.env.update(FAST)
    assert mogrun_project("d").exit_code == 1
    left = json.loads(mogrun_project("--json", "history").stdout)
    wait_until_ended(mogrun_emulator)
    assert mogrun_project("status", "--exit-status").exit_code == 0
    (run_id,) = mogrun_emulator.runs
    row = json.loads(mogrun_project("--json", "history").stdout)
    ended = iso_of(parse_moment(mogrun_emulator.run_detail(run_id)["updatedAt"]))
    assert (row["outcome"], row["exit_code"], row["finished_at"]) == ("success", 0, ended)
    assert row["finished_at"] > left["finished_at"], (left, row)


@pytest.mark.parametrize("gate", [{"max_duration": "1s"},
                                  {"require_events": ["pull_request_opened"]}])
def test_a_detached_run_found_ended_is_judged_by_its_gates(mogrun_project, mogrun_emulator,
                                                           gate) -> None:
    """``status`` judged a run that ended unfollowed by its status alone: a run
    over its max_duration (or lacking a required event) was "success", exit 0,
    and ``rerun`` said every run passed — where ``run`` says gate_failed."""
    mogrun_project.write(task_file(job("g", prompt="@emulator duration=1.5s", gates=gate),
                                   mogplex=LIMITS))
    mogrun_project.env.update(FAST)
    assert mogrun_project("--detach", "g").exit_code == 0
    wait_until_ended(mogrun_emulator)
    result = mogrun_project("status", "g", "--exit-status")
    assert result.exit_code == 1, result
    assert result.stdout.splitlines()[-1].split()[3:5] == ["success", "gate_failed"], result
    row = json.loads(mogrun_project("--json", "history", "-n", "1").stdout)
    assert (row["outcome"], row["exit_code"]) == ("gate_failed", 1)
    # Which gate and why, as a followed run's row keeps them: the row said only
    # gate_failed (gates []), and a script reading history could not say why.
    (failed,) = [g for g in row["gates"] if not g["passed"]]
    assert failed["gate"] == next(iter(gate)), row
    assert ("longer than max_duration 1s" if "max_duration" in gate
            else "pull_request_opened") in failed["reason"], row
    rerun = mogrun_project("rerun", "-n")
    assert rerun.exit_code == 0 and "attempt 2" in rerun.stdout + rerun.stderr, rerun


def test_status_never_loads_the_task_files_plugins(mogrun_project, mogrun_emulator) -> None:
    """Task-file plugins are code from the repository: never for ``status``. Its
    gates (a run found ended) and its retry policy (a failed request) loaded them."""
    mogrun_project.write(task_file(
        job("g", prompt="@emulator duration=0.5s", gates={"max_duration": "1s"}),
        mogplex={**LIMITS, "plugins": ["mark.py"]}))
    (mogrun_project.root / "mark.py").write_text(
        "import pathlib\npathlib.Path(__file__).with_name('loaded').write_text('x')\n")
    mogrun_project.env.update(FAST)
    assert mogrun_project("--detach", "g").exit_code == 0
    (mogrun_project.root / "loaded").unlink()
    wait_until_ended(mogrun_emulator)
    mogrun_emulator.add_fault("events", "503", count=1, retry_after=0)
    result = mogrun_project("status", "g", "--exit-status")
    assert result.exit_code == 1, result  # ended; what its plugins say is not known here
    assert not (mogrun_project.root / "loaded").exists()


TEAM_GATE = ("# the team's own gate\r\n"
             "from mogrun.plugin import GateVerdict, hookimpl\r\n\r\n"
             "@hookimpl\r\n"
             "def mogrun_gate(job, events):\r\n"
             "\treturn GateVerdict('team_gate', False, 'team gate always fails')\r\n\r\n")


def test_status_leaves_a_run_its_plugins_judge_to_logs_and_rerun(mogrun_project,
                                                                 mogrun_emulator) -> None:
    """``status`` (which loads no repository code) judged a detached run without the
    task file's plugin gate and recorded it "success": ``--exit-status`` said 0 and
    ``rerun`` found nothing to rerun, where ``run`` and ``logs --follow`` say
    gate_failed. Now it shows the run ended, says who judges it, and records nothing."""
    (mogrun_project.root / "plugins").mkdir()
    (mogrun_project.root / "plugins" / "team_gate.py").write_bytes(TEAM_GATE.encode())
    mogrun_project.write(task_file(job("fix", prompt="Fix.\n@emulator duration=0.5s"),
                                   mogplex={**LIMITS, "plugins": ["plugins/team_gate.py"]}))
    mogrun_project.env.update(FAST)
    assert mogrun_project("--detach", "fix").exit_code == 0
    wait_until_ended(mogrun_emulator)
    result = mogrun_project("status", "--exit-status")
    assert result.exit_code == 1, result
    assert result.stdout.splitlines()[2].split()[3:5] == ["success", "detached"], result
    assert ("fix: ended success; its gates are judged by the task file's plugins, which "
            "status does not load: mogrun logs --follow fix (or mogrun rerun) judges it"
            ) in result.stdout
    row = json.loads(mogrun_project("--json", "history", "-n", "1").stdout)
    assert (row["status"], row["outcome"]) == ("pending", "detached")
    again = json.loads(mogrun_project("--json", "status", "fix").stdout)
    assert again["note"].startswith("ended success; its gates are judged"), again
    rerun = mogrun_project("rerun")
    assert "has since ended success, gate_failed; rerun" in rerun.stderr, rerun
    assert len(mogrun_emulator.runs) == 2


def test_a_half_edited_task_file_does_not_stop_status_or_cancel(project,
                                                                 mogrun_emulator) -> None:
    """Mid-edit, the task file did not parse, and status, history and cancel (by
    job or run id) all stopped at its syntax error: a running agent could not be
    stopped until the file was fixed. ``logs`` still refuses (it masks agent text
    with the file's env values)."""
    assert project("--detach", "slow").exit_code == 0
    [run_id] = mogrun_emulator.runs
    with project.path.open("a") as handle:
        handle.write("\r\nbroken = [\r\n")
    for argv in (["status"], ["history"], ["status", "slow"], ["status", run_id]):
        result = project(*argv)
        assert result.exit_code == 0, (argv, result)
        assert "warning: the task file cannot be read (invalid TOML" in result.stderr
        assert run_id in result.stdout
    assert project("logs", "slow").exit_code == 2
    result = project("cancel", run_id)
    assert result.exit_code == 0, result
    assert mogrun_emulator.run_detail(run_id)["status"] == "cancelled"
    # A job of the file with no run here: "Jobs: (none)" read as a file with no job.
    unread = project("cancel", "lint")
    assert unread.exit_code == 2, unread
    assert unread.stderr.splitlines()[-2:] == [
        'Error: unknown job or run "lint"',
        "Jobs: not known (the task file cannot be read: mogrun check says why)"], unread


def test_rerun_judges_a_run_left_going_by_its_gates(mogrun_project, mogrun_emulator) -> None:
    mogrun_project.write(task_file(job("g", prompt="@emulator duration=1.5s",
                                       gates={"max_duration": "1s"}), mogplex=LIMITS))
    mogrun_project.env.update(FAST)
    assert mogrun_project("--detach", "g").exit_code == 0
    wait_until_ended(mogrun_emulator)
    result = mogrun_project("rerun", "g")
    assert "has since ended success, gate_failed; rerun" in result.stderr, result
    assert len(mogrun_emulator.runs) == 2


def test_logs_without_a_name_shows_the_latest_invocation(project) -> None:
    assert project("lint").exit_code == 0
    assert project("fanout").exit_code == 0
    result = project("logs")
    assert result.exit_code == 0, result
    labels = {line.split()[1] for line in result.stdout.splitlines() if line.strip()}
    assert labels == {"fanout:acme/api", "fanout:acme/web"}


def test_logs_follow_follows_a_fan_out_at_once(project, mogrun_emulator) -> None:
    assert project("--detach", "fanout").exit_code == 0
    result = project("logs", "--follow", "fanout")
    assert result.exit_code == 0, result
    ends = [line for line in result.stdout.splitlines() if line.endswith("success")]
    assert sorted(line.split()[0] for line in ends) == ["fanout:acme/api", "fanout:acme/web"]
    events = [line for line in result.stdout.splitlines() if line not in ends]
    both = {line.split()[1] for line in events}
    assert both == {"fanout:acme/api", "fanout:acme/web"}
    rows = [json.loads(line) for line in project("--json", "history").stdout.splitlines()]
    assert {(r["status"], r["outcome"]) for r in rows} == {("success", "success")}


def test_logs_follow_with_one_thread_to_be_had_follows_the_runs_in_turn(
        project, mogrun_emulator, monkeypatch) -> None:
    """The system's thread limit (a container's): one follower thread, and the other
    run is followed once the first ended, never a traceback."""
    import threading

    assert project("--detach", "fanout").exit_code == 0
    start = threading.Thread.start

    def limited(thread: threading.Thread) -> None:
        if thread.name.startswith("mogrun-logs-") and thread.name != "mogrun-logs-1":
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", limited)
    result = project("logs", "--follow", "fanout")
    assert result.exit_code == 0, result
    assert "following at most 1 run at a time (the others in turn)" in result.stderr, result
    assert "Traceback" not in result.stderr
    ends = [line for line in result.stdout.splitlines() if line.endswith("success")]
    assert sorted(line.split()[0] for line in ends) == ["fanout:acme/api", "fanout:acme/web"]


def test_logs_follow_applies_the_jobs_gates(mogrun_project, mogrun_emulator) -> None:
    mogrun_project.write(task_file(
        job("gated", repo=["acme/api", "acme/web"], prompt="@emulator duration=0.6s",
            gates={"status": ["success"], "max_duration": "100ms"}), mogplex=LIMITS))
    assert mogrun_project.run("--detach", "gated", env=FAST).exit_code == 0
    result = mogrun_project.run("logs", "--follow", "gated", env=FAST)
    assert result.exit_code == 1, result
    ends = [line for line in result.stdout.splitlines() if "gate_failed" in line]
    assert sorted(line.split()[0] for line in ends) == ["gated:acme/api", "gated:acme/web"]
    for line in ends:  # which gate, and why, as run's result line says it
        assert "  success  gate_failed: gate max_duration: took " in line, line
        assert line.endswith("longer than max_duration 100ms"), line
    assert mogrun_project.run("status", "--exit-status", "gated").exit_code == 1


def test_logs_follow_json_says_which_gate_failed(mogrun_project, mogrun_emulator) -> None:
    """The stream had events and statuses, then exit 1: nothing told a failed gate
    from a failed run or a lost follow. Now as run --json: job_finished, summary."""
    mogrun_project.write(task_file(
        job("gated", repo=["acme/api", "acme/web"], prompt="@emulator duration=0.6s",
            gates={"status": ["success"], "max_duration": "100ms"}),
        job("bad", prompt="@emulator duration=0.2s status=failed"), mogplex=LIMITS))
    assert mogrun_project.run("--detach", "gated", "bad", env=FAST).exit_code == 0
    result = mogrun_project.run("--json", "logs", "--follow", "gated", env=FAST)
    assert result.exit_code == 1, result
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    finished = [o for o in objects if o["type"] == "job_finished"]
    assert [(o["job"], o["outcome"], len(o["runs"])) for o in finished] == [
        ("gated", "gate_failed", 2)]
    summary = objects[-1]
    assert (summary["type"], summary["exit_code"], summary["rerun"]) == ("summary", 1, None)
    assert [r["repo"] for r in summary["results"]] == ["acme/api", "acme/web"]
    for run in summary["results"]:
        assert (run["outcome"], run["status"]) == ("gate_failed", "success"), run
        failed = [g for g in run["gates"] if not g["passed"]]
        assert [g["gate"] for g in failed] == ["max_duration"], run
        assert "longer than max_duration 100ms" in failed[0]["reason"]
    # Its events and statuses name a run as run --json's do (job, repo, run_id, label),
    # and a status not known before is null, as elsewhere (it was "").
    lines = [o for o in objects if o["type"] in ("event", "status")]
    assert lines and all({"job", "repo", "run_id", "label"} <= set(o) for o in lines), lines
    assert {(o["job"], o["repo"], o["label"]) for o in lines} == {
        ("gated", "acme/api", "gated:acme/api"), ("gated", "acme/web", "gated:acme/web")}
    assert all(o["old"] != "" for o in lines if o["type"] == "status"), lines
    bad = mogrun_project.run("--json", "logs", "--follow", "bad", env=FAST)
    (run,) = json.loads(bad.stdout.splitlines()[-1])["results"]
    assert (bad.exit_code, run["outcome"], run["message"]) == (1, "failed",
                                                               "The agent run failed")
    # The history keeps what logs --follow said, as it keeps a followed run's end:
    # the gates and the message were said, then lost (gates [], message "").
    rows = {r["repo"] + r["job"]: r for r in map(json.loads, mogrun_project.run(
        "--json", "history").stdout.splitlines())}
    assert rows["acme/apibad"]["message"] == "The agent run failed", rows
    for repo in ("acme/api", "acme/web"):
        (failed,) = [g for g in rows[repo + "gated"]["gates"] if not g["passed"]]
        assert "longer than max_duration 100ms" in failed["reason"], rows


def test_logs_after_a_refused_start_shows_the_runs_that_started(project) -> None:
    assert project("lint").exit_code == 0
    project.write(JOBS.replace('prompt = "@emulator duration=0.2s"\n',
                               'prompt = "@emulator status=exploded"\n', 1))
    assert project("lint").exit_code == 1
    result = project("logs", "lint")
    assert result.exit_code == 0, result
    assert result.stderr.startswith("note: the latest invocation of lint started no run (")
    assert "showing the runs of invocation" in result.stderr
    assert result.stdout.strip()


def test_local_runs_are_kept_with_their_events(mogrun_project) -> None:
    mogrun_project.write(task_file(job("hello", prompt="@emulator duration=0.3s events=5")))
    assert mogrun_project.run("--local", "hello", env=FAST).exit_code == 0
    history = mogrun_project.run("--local", "--json", "history")
    [row] = [json.loads(line) for line in history.stdout.splitlines()]
    assert (row["job"], row["status"]) == ("hello", "success")
    logs = mogrun_project.run("--local", "logs", "hello")
    assert logs.exit_code == 0, logs
    lines = logs.stdout.splitlines()
    assert len(lines) == 6 and all(" hello " in f" {line} " for line in lines)
    assert lines[-1] == f"hello  {row['run_id']}  success  success"
    # Not the API's runs: but said to be there, with the command that shows them.
    assert mogrun_project.run("history").stderr == (
        "No runs recorded yet against https://mogplex.com.\n"
        "1 run is recorded with --local: see mogrun --local history\n")


@pytest.mark.parametrize("command", [["history"], ["status"], ["history", "--job", "hello"]])
def test_an_empty_scope_names_the_api_scopes_that_have_runs(mogrun_project, command) -> None:
    """The README's first step is a --local run: status and history right after it
    do not say "No runs recorded yet." as if nothing had run."""
    mogrun_project.write(task_file(job("hello")))
    for _ in range(2):
        assert mogrun_project.run("--local", "hello", env=FAST).exit_code == 0
    result = mogrun_project.run(*command)
    assert result.exit_code == 0, result
    assert result.stdout == ""
    assert result.stderr == ("No runs recorded yet against https://mogplex.com.\n"
                             f"2 runs are recorded with --local: see mogrun --local "
                             f"{' '.join(command)}\n"), result
    other = mogrun_project.write(task_file(job("other")), "nightly.toml")
    result = mogrun_project.run("-f", other.name, *command[:1])  # its own history: empty
    assert result.stderr == "No runs recorded yet.\n", result


@pytest.mark.parametrize(("command", "see"), [
    (["status", "hello"], "status hello"), (["logs", "hello"], "logs hello"),
    (["logs", "hello:acme/api"], "logs hello:acme/api"), (["logs"], "logs"),
    (["cancel", "hello"], "status hello"),  # a local run ended with its emulator
    (["rerun", "hello"], "rerun hello"), (["rerun"], "rerun")])
def test_a_job_run_only_with_local_is_pointed_at_by_each_command(mogrun_project, command,
                                                                  see) -> None:
    """`mogrun --local hello` then `mogrun logs hello` (no --local) said only that
    hello had no recorded runs, as if it had never run."""
    mogrun_project.write(task_file(job("hello")))
    assert mogrun_project.run("--local", "hello", env=FAST).exit_code == 0
    result = mogrun_project.run(*command)
    assert result.exit_code == 2, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: "), result
    assert "project's history" not in lines[0], result  # it holds the local run
    assert f"1 run is recorded with --local: see mogrun --local {see}" in lines, result


def test_history_of_a_run_id_recorded_with_local_points_at_it(mogrun_project) -> None:
    """`mogrun history --job ID` of a --local run said `unknown job or run "ID"` and
    exited 2, where `status ID` and `logs ID` name the API it was recorded under."""
    mogrun_project.write(task_file(job("hello")))
    assert mogrun_project.run("--local", "hello", env=FAST).exit_code == 0
    shown = mogrun_project.run("--local", "--json", "history")
    run_id = json.loads(shown.stdout)["run_id"]
    result = mogrun_project.run("history", "--job", run_id.upper())
    assert (result.exit_code, result.stdout) == (0, ""), result
    assert result.stderr == ("No runs recorded yet against https://mogplex.com.\n"
                             "1 run is recorded with --local: see mogrun --local history "
                             f"--job {run_id}\n"), result


@pytest.mark.parametrize("command", [["history", "--job"], ["status"], ["logs"]])
def test_local_runs_of_a_repo_whose_case_was_edited_are_pointed_at(mogrun_project,
                                                                     command) -> None:
    """After ``acme/API`` was edited to ``acme/api`` in the task file, `mogrun history
    --job fan:acme/api` said "No runs recorded yet." (status and logs: no pointer)
    though `mogrun --local history --job fan:acme/api` shows the run: the count of
    the other scopes' runs took the repo's case as mattering, the rest of mogrun not."""
    mogrun_project.write(task_file(job("fan", repo=["acme/API", "acme/web"])))
    assert mogrun_project.run("--local", "fan", env=FAST).exit_code == 0
    mogrun_project.write(task_file(job("fan", repo=["acme/api", "acme/web"])))
    result = mogrun_project.run(*command, "fan:acme/api")
    assert result.exit_code == (0 if command[0] == "history" else 2), result
    see = " ".join([*command, "fan:acme/api"])
    assert f"1 run is recorded with --local: see mogrun --local {see}" \
        in result.stderr.splitlines(), result
    shown = mogrun_project.run("--local", "--json", "history", "--job", "fan:acme/api")
    assert [json.loads(line)["repo"] for line in shown.stdout.splitlines()] == ["acme/API"]


def test_a_repo_added_to_a_fan_out_since_it_ran_is_a_run_never_started(project) -> None:
    """After acme/worker was added to fanout, `status --exit-status fanout:acme/worker`
    exited 2, a usage error, with `did you mean "fanout:acme/web"?` (a run of another
    repo), where a job named that never ran exits 1: it has not passed."""
    assert project("fanout").exit_code == 0
    project.write(JOBS.replace('"acme/api", "acme/web"]', '"acme/api", "acme/web", '
                               '"acme/worker"]'))
    result = project("status", "--exit-status", "fanout:acme/worker")
    assert result.exit_code == 1, result
    assert result.stderr.startswith(
        "Error: no recorded runs of 'fanout:acme/worker' against this API\n"), result
    assert "did you mean" not in result.stderr, result
    assert project("status", "fanout:acme/worker").exit_code == 2  # nothing to show
    shown = project("history", "--job", "fanout:acme/worker")
    assert (shown.exit_code, shown.stderr) == (0, "No runs recorded yet.\n"), shown
    typo = project("status", "fanout:acme/wrker")  # no repo of the job: still a hint
    assert typo.exit_code == 2 and "did you mean" in typo.stderr, typo


def test_a_fan_out_with_a_repo_it_never_ran_has_not_passed(project) -> None:
    """`status --exit-status fanout && deploy` was green after acme/worker was added
    to fanout, which had passed on acme/api and acme/web: it exited 0, though the
    fan-out passes only with every run (rerun starts the added one)."""
    assert project("fanout").exit_code == 0
    assert project("status", "--exit-status", "fanout").exit_code == 0
    project.write(JOBS.replace('"acme/api", "acme/web"]', '"acme/api", "acme/web", '
                               '"acme/worker"]'))
    for argv in (["status", "--exit-status", "fanout"], ["status", "--exit-status"]):
        result = project(*argv)
        assert result.exit_code == 1, result
        assert ("fanout: acme/worker never ran here (added to its repos since it ran), so "
                "it has not passed: mogrun rerun fanout starts it\n") in result.stderr, result
        assert "acme/web" in result.stdout, result  # the runs it made, shown
    quiet = project("--json", "status", "--exit-status", "fanout")
    assert (quiet.exit_code, quiet.stderr) == (1, ""), quiet
    assert project("status", "fanout").exit_code == 0  # shown, not judged
    # logs --follow asks the same ("exit 0 if each passed"): it followed the two
    followed = project("logs", "--follow", "fanout")
    assert followed.exit_code == 1, followed
    assert "fanout: acme/worker never ran here" in followed.stderr, followed
    summary = json.loads(project("--json", "logs", "--follow", "fanout").stdout.splitlines()[-1])
    assert summary["exit_code"] == 1, summary
    assert [(r["repo"], r["outcome"]) for r in summary["results"]
            if r["repo"] == "acme/worker"] == [("acme/worker", "skipped")], summary
    one = project("logs", "--follow", "fanout:acme/web")  # one run: that run is judged
    assert (one.exit_code, "never ran" in one.stderr) == (0, False), one


def test_a_shard_legs_status_does_not_count_other_legs_repos_as_never_run(project) -> None:
    """A leg of `--shard I/N` holds only its share of a fan-out's runs here (the other
    legs ran on other machines): their repos are not ones the job never ran."""
    assert project("run", "--shard", "1/2", "fanout").exit_code == 0
    result = project("status", "--exit-status", "fanout")
    assert (result.exit_code, "never ran" in result.stderr) == (0, False), result


def test_a_run_of_an_older_invocation_is_found_without_reading_every_row(
        project, monkeypatch) -> None:
    """`status fanout:acme/web` when fanout's latest invocation had no web run read
    every row of fanout to find it: 12 s and 400 MB at 300,000 rows (logs: 21 s)."""
    from mogrun.engine.history import History

    assert project("fanout").exit_code == 0
    project.write(JOBS.replace('["acme/api", "acme/web"]', '["acme/api"]'))
    assert project("fanout").exit_code == 0  # its latest invocation: acme/api alone

    def every_row(*_args: object) -> None:
        raise AssertionError("every row of the job read")

    monkeypatch.setattr(History, "latest_runs_of", every_row)
    result = project("--json", "status", "fanout:acme/WEB")
    assert result.exit_code == 0, result
    assert [json.loads(line)["repo"] for line in result.stdout.splitlines()] == ["acme/web"]


@pytest.mark.parametrize("command", [["status"], ["logs"], ["logs", "--follow"], ["cancel"],
                                     ["history", "--job"]])
@pytest.mark.parametrize("target", ["fanout:", "fanout: "])
def test_a_colon_with_no_repo_after_it_is_refused_as_such(project, command, target) -> None:
    """`mogrun logs "fanout:$REPO"` with REPO unset said fanout had no recorded runs
    (it had: the empty repo matched none of them)."""
    assert project("fanout").exit_code == 0
    result = project(*command, target)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines() == [
        f"Error: no repo after the colon of {target!r}",
        'Name the job ("fanout") or one of its runs ("fanout:owner/name").'], result


@pytest.mark.parametrize("command", [["status"], ["logs"], ["cancel"], ["history", "--job"]])
@pytest.mark.parametrize("target", [":acme/web", ":", " :acme/web"])
def test_a_colon_with_no_job_before_it_is_refused_as_such(project, command, target) -> None:
    """`history --job "$JOB:$REPO"` with JOB unset listed every run of every job, exit 0
    (the repo was dropped with the job); status said "unknown job or run"."""
    assert project("fanout").exit_code == 0
    result = project(*command, target)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines() == [
        f"Error: no job before the colon of {target!r}",
        "Name a run as JOB:owner/name, or the job alone."], result


@pytest.mark.parametrize("args", [(), ("--json",), ("--local",)])
def test_exit_status_with_nothing_recorded_is_not_green(mogrun_project, args) -> None:
    """It exited 0 ("every shown run passed"), so `status --exit-status && deploy` on
    a fresh checkout went ahead; with a job named it already exited 2."""
    mogrun_project.write(task_file(job("hello")))
    result = mogrun_project.run(*args, "status", "--exit-status")
    assert result.exit_code == 1, result
    assert result.stdout == ""
    plain = mogrun_project.run(*args, "status")
    assert plain.exit_code == 0, plain  # without --exit-status: nothing wrong


def test_local_scope_names_the_api_runs_and_how_to_see_them(project) -> None:
    assert project("lint").exit_code == 0
    for command in ("history", "status"):
        result = project("--local", command)
        assert result.exit_code == 0, result
        assert result.stderr == ("No runs recorded yet with --local.\n"
                                 f"1 run is recorded against {project.env['MOGPLEX_URL']}: "
                                 f"see mogrun {command}\n"), result
    nightly = project.write(JOBS, "nightly.toml")
    assert project("-f", nightly.name, "lint").exit_code == 0
    result = project("-f", nightly.name, "--local", "status")
    assert result.stderr.splitlines()[-1].endswith(f"see mogrun -f {nightly.name} status")


def test_local_logs_follow_is_a_usage_error(mogrun_project) -> None:
    mogrun_project.write(task_file(job("hello")))
    result = mogrun_project.run("--local", "logs", "--follow", "hello")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --local runs end with the invocation")


def test_cancel_of_a_local_run_that_ended_says_it_ended(mogrun_project) -> None:
    """It said "--local runs live only inside the invocation that started them" and
    exited 2, of a run recorded as ended: a cancel of an ended run says so, exit 0."""
    mogrun_project.write(task_file(job("quick", prompt="@emulator duration=0.2s")))
    assert mogrun_project.run("--local", "-q", "quick").exit_code == 0
    [row] = [json.loads(line) for line in
             mogrun_project.run("--local", "--json", "history").stdout.splitlines()]
    result = mogrun_project.run("--local", "cancel", "quick")
    assert (result.exit_code, result.stdout) == (
        0, f"{row['run_id']} (quick) had already ended: success\n"), result
    as_json = mogrun_project.run("--local", "--json", "cancel", row["run_id"])
    assert json.loads(as_json.stdout) == {"run_id": row["run_id"], "label": "quick",
                                          "status": "success", "already_terminal": True}
    unknown = mogrun_project.run("--local", "cancel", "0" * 8 + "-0000-4000-8000-" + "0" * 12)
    assert unknown.exit_code == 2, unknown  # no run of its own to speak of


def test_a_local_run_whose_mogrun_was_killed_is_not_going_for_ever(mogrun_project) -> None:
    """Its row read "streaming" for ever, and status --exit-status said 3 (still
    going) for ever: a script polling until it stops being 3 never stopped. The
    run ended with the emulator of the mogrun that was killed."""
    import os
    import signal
    import subprocess
    import sys

    mogrun_project.write(task_file(job("long", prompt="@emulator duration=30s")))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "MOGPLEX_"))}
    proc = subprocess.Popen([sys.executable, "-m", "mogrun", "--local", "-q", "long"],
                            cwd=mogrun_project.root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:  # until its run is recorded started
            shown = mogrun_project.run("--local", "--json", "status")
            if shown.exit_code == 0 and '"run_id": "' in shown.stdout:
                break
            assert time.monotonic() < deadline, shown
            time.sleep(0.1)
        going = mogrun_project.run("--local", "status", "--exit-status")
        assert going.exit_code == 3, going  # its mogrun runs: going, as it is
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    result = mogrun_project.run("--local", "status", "--exit-status")
    assert result.exit_code == 1, result
    assert "  unknown  " in result.stdout
    assert ("long: its --local emulator ended with the mogrun that ran it, before the run's "
            "end was seen: mogrun --local rerun starts it again") in result.stdout
    [row] = [json.loads(line) for line in
             mogrun_project.run("--local", "--json", "status").stdout.splitlines()]
    assert (row["status"], row["outcome"]) == ("unknown", None)  # shown so, not recorded
    assert row["note"].startswith("its --local emulator ended")
    # logs says it as status does: it showed the run "streaming", a run that never ends
    logs = mogrun_project.run("--local", "logs", "long")
    assert logs.exit_code == 0, logs
    label, _, status, outcome = logs.stdout.splitlines()[-2].split()
    assert (label, status, outcome) == ("long", "unknown", "-"), logs
    assert logs.stdout.splitlines()[-1].startswith(
        "long: its --local emulator ended with the mogrun that ran it"), logs
    # history says it as status does: it went on showing "streaming" for ever
    history = mogrun_project.run("--local", "history")
    assert history.stdout.splitlines()[-1].split()[4:6] == ["unknown", "-"], history
    [recorded] = [json.loads(line) for line in
                  mogrun_project.run("--local", "--json", "history").stdout.splitlines()]
    assert (recorded["status"], recorded["outcome"]) == ("unknown", None)
    # cancel says it has ended (it said --local runs "live only inside the invocation
    # that started them", exit 2): there is nothing to cancel
    cancel = mogrun_project.run("--local", "cancel", "long")
    assert cancel.exit_code == 0, cancel
    assert cancel.stdout.splitlines() == [
        f"{recorded['run_id']} (long) had already ended: unknown",
        "long: its --local emulator ended with the mogrun that ran it, before the run's end "
        "was seen: mogrun --local rerun starts it again"], cancel
    # Its job removed from the task file (another job kept): the note named
    # "mogrun --local rerun", which then failed on an unknown job.
    mogrun_project.write(task_file(job("other", prompt="@emulator duration=1s")) + "\n\n")
    named = mogrun_project.run("--local", "status", "long")
    assert named.stdout.splitlines()[-1] == (
        "long: its --local emulator ended with the mogrun that ran it, before the run's end "
        "was seen: its job long is no longer in the task file, so rerun cannot start it "
        "again"), named
    assert "rerun" not in mogrun_project.run("--local", "logs", "long").stdout.replace(
        "rerun cannot", ""), "logs names no rerun either"


@pytest.mark.parametrize("command", ["status", "logs", "cancel"])
def test_a_mistyped_repo_of_a_fan_out_suggests_the_run(project, mogrun_emulator,
                                                       command) -> None:
    assert project("fanout").exit_code == 0
    mogrun_emulator.clear_requests()
    result = project(command, "fanout:acme/wbe")
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[:3] == [
        "Error: no recorded runs of 'fanout:acme/wbe' against this API",
        'did you mean "fanout:acme/web"?',
        "Runs: fanout:acme/api, fanout:acme/web"]
    assert mogrun_emulator.requests == []


@pytest.mark.parametrize("command", ["status", "logs", "cancel"])
def test_a_mistyped_repo_of_a_job_that_never_ran_is_checked_against_the_task_file(
        mogrun_project, command) -> None:
    """It said only "no recorded runs of 'fanout:acme/wbe'", as for the right repo."""
    repos = ["acme/api", "acme/web", *(f"acme/svc{i:02d}" for i in range(12))]
    mogrun_project.write(task_file(
        job("fanout", repo=repos), job("templated", repo="{{ env.REPO }}"),
        job("by-id", repo=["acme/api", "0b6f3c1e-4a5d-4e8f-9c2b-7d1e2f3a4b5c"])))
    result = mogrun_project.run(command, "fanout:acme/wbe")
    assert result.exit_code == 2, result
    assert result.stderr.splitlines() == [
        "Error: job 'fanout' has no repo 'acme/wbe'",
        'did you mean "fanout:acme/web"?',
        "Its repos: acme/api, acme/web, acme/svc00, acme/svc01, acme/svc02, acme/svc03, "
        "acme/svc04, acme/svc05, acme/svc06, acme/svc07 and 4 more"], result
    # One of its repos in another case (names resolve in any case), or a job whose
    # repos the file names through a template or by id: nothing recorded, and
    # nothing to check the name against.
    for target in ("fanout:ACME/Web", "templated:acme/api", "by-id:acme/web"):
        result = mogrun_project.run(command, target)
        assert result.exit_code == 2, result
        assert result.stderr.startswith(f"Error: no recorded runs of {target!r}"), result
    # Repos a job takes from [defaults] are its repos too (they were not read).
    mogrun_project.write('[defaults]\nrepo = ["acme/api", "acme/web"]\n\n'
                         '[jobs.fan]\nprompt = "x"  # its repos: the defaults\n\n')
    inherited = mogrun_project.run(command, "fan:acme/wbe")
    assert inherited.exit_code == 2, inherited
    assert inherited.stderr.splitlines() == [
        "Error: job 'fan' has no repo 'acme/wbe'", 'did you mean "fan:acme/web"?',
        "Its repos: acme/api, acme/web"], inherited


def test_a_detached_run_cancelled_by_mogrun_cancel_is_completed_as_cancelled(
        project, mogrun_emulator) -> None:
    """cancel wrote only the status: the row kept outcome "detached" for ever, since
    status never asks again about a run whose status has ended."""
    assert project("--detach", "slow").exit_code == 0
    assert project("cancel", "slow").exit_code == 0
    row = json.loads(project("--json", "history", "-n", "1").stdout)
    assert (row["status"], row["outcome"], row["exit_code"]) == ("cancelled", "cancelled", 1)
    assert row["finished_at"]
    assert project("status", "--exit-status", "slow").exit_code == 1


def started_elsewhere(project, *args: str) -> str:
    """A run of this token that this project's history does not know (another
    checkout started it): its run id."""
    other = project.root / "elsewhere"
    project.write(JOBS, name="elsewhere/mogplex.toml")
    result = project(*args, cwd=other)
    assert result.exit_code in (0, 1), result
    return json.loads(project("--json", "history", "-n", "1", cwd=other).stdout)["run_id"]


def test_status_of_a_run_id_not_in_history_reads_it_from_the_api(project,
                                                                 mogrun_emulator) -> None:
    """``gh run view <id>``: a run id is looked up in the API, not only in history."""
    run_id = started_elsewhere(project, "broken")
    mogrun_emulator.clear_requests()
    result = project("status", run_id)
    assert result.exit_code == 0, result
    [header, _, row] = result.stdout.splitlines()
    assert header.split() == ["job", "repo", "run", "id", "status", "outcome", "started"]
    cells = row.split()
    # its repo by name, as every row says it (one GET /repos?id=), not its id
    assert cells[:5] == ["-", "acme/api", run_id, "failed", "failed"]
    assert mogrun_emulator.count("GET", f"/runs/{run_id}") == 1
    shown = json.loads(project("--json", "status", run_id).stdout)
    assert {k: shown[k] for k in ("job", "repo", "run_id", "status", "outcome", "exit_code",
                                  "invocation")} == {
        "job": None, "repo": "acme/api", "run_id": run_id,
        "status": "failed", "outcome": "failed", "exit_code": 1, "invocation": None}
    assert shown["started_at"] and shown["finished_at"]
    # started as history writes it (its rows beside), not the server's "...19.964123+00:00"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", shown["started_at"]), shown
    assert cells[5] == shown["started_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", shown["finished_at"]), shown
    assert project("status", "--exit-status", run_id).exit_code == 1
    assert project("--json", "history").stdout == ""  # looked at, not recorded here
    # The keys of a recorded run, no more: an "owner" key (this machine's bookkeeping,
    # never shown of a recorded row) broke consumers that check the keys they get.
    assert project("lint").exit_code == 0
    recorded = json.loads(project("--json", "status", "lint").stdout)
    assert list(shown) == list(recorded), (shown, recorded)


def test_status_of_a_going_run_not_in_history_exit_status_3(project, mogrun_emulator) -> None:
    run_id = started_elsewhere(project, "--detach", "slow")
    going = project("--json", "status", "--exit-status", run_id)
    assert going.exit_code == 3, going
    shown = json.loads(going.stdout)
    assert shown["status"] in ("pending", "streaming"), shown
    assert (shown["outcome"], shown["finished_at"], shown["exit_code"]) == (None, None, None)


def test_logs_follow_of_a_run_not_in_history_has_no_job_or_repo_null(
        project, mogrun_emulator) -> None:
    """Its --json summary said "job": "" and "repo": "" where status says null."""
    run_id = started_elsewhere(project, "broken")
    followed = project("--json", "logs", "--follow", run_id)
    assert followed.exit_code == 1, followed  # broken failed
    [result] = json.loads(followed.stdout.splitlines()[-1])["results"]
    assert (result["job"], result["repo"], result["run_id"]) == (None, None, run_id), result


def test_status_of_a_run_id_the_api_does_not_know_says_so(project, mogrun_emulator) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    result = project("status", unknown)
    assert result.exit_code == 1, result  # the API's refusal, as logs and cancel exit
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: Run not found (NOT_FOUND, HTTP 404)"
    assert (f"{unknown} is not in this project's history either "
            f"({project.root / '.mogrun' / 'history.db'})") in lines
    assert mogrun_emulator.count("GET", f"/runs/{unknown}") == 1
    assert project("logs", unknown).exit_code == project("cancel", unknown).exit_code == 1
    # An automation's job run started from another checkout is such an id too: the API
    # reads it only through its automation, which the id does not name (the task
    # file's automations were asked: tests/automations/test_unrecorded_runs.py).
    hint = ("A run of an automation job is read through its automation, and none this "
            "task file names has it: ask from the project whose history recorded it "
            "(where it was started).")
    assert hint in lines
    assert hint in project("logs", unknown).stderr.splitlines()


@pytest.mark.parametrize(("fault", "code"), [("drop", 69), ("429", 75)])
def test_status_shows_what_history_knows_when_the_api_cannot_be_reached(
        project, mogrun_emulator, quick_backoff, fault: str, code: int) -> None:
    """It retried, then said only "cannot connect" and exit 69: the local rows,
    which need no API, were not shown. A 429 past every retry (a rate-limited CI
    check) still lost them."""
    assert project("--detach", "slow").exit_code == 0
    mogrun_emulator.add_fault("events", fault, count=1000, retry_after=0)
    shown = project("--json", "status", "slow")
    assert shown.exit_code == code, shown
    [row] = [json.loads(line) for line in shown.stdout.splitlines()]
    assert row["job"] == "slow" and row["status"] == "pending"  # as last recorded
    assert "warning: cannot refresh from the API (" in shown.stderr
    assert shown.stderr.rstrip().endswith("showing the runs as last recorded")


def test_a_run_started_where_history_cannot_be_kept_is_still_followed_by_its_id(
        project, mogrun_emulator) -> None:
    """.mogrun a file (or a read-only folder): run --detach warned and printed
    "follow with: mogrun logs --follow ID", but logs, status and cancel then failed
    on the history they could do without: the run could not be cancelled from there."""
    (project.root / ".mogrun").write_text("not a folder\n", encoding="utf-8")
    started = project.run("run", "--detach", "slow")
    assert started.exit_code == 0, started
    [run_id] = mogrun_emulator.runs
    assert f"mogrun logs --follow {run_id}" in started.output
    warning = "; going on without it (a run is found by its id only)"
    for args in (("status", run_id), ("logs", run_id), ("cancel", run_id)):
        result = project.run(*args)
        assert result.exit_code == 0, (args, result)
        assert warning in result.stderr and run_id in result.stdout, (args, result)
    assert mogrun_emulator.run_detail(run_id)["status"] == "cancelled"
    shown = project.run("history")  # the history is all it shows: an error
    assert shown.exit_code == 1, shown
    assert shown.stderr.startswith("Error: cannot open run history "), shown


def test_where_runs_are_not_recorded_the_summary_names_run_not_rerun(
        project, mogrun_emulator) -> None:
    """It said "rerun what did not pass: mogrun rerun broken", and rerun then found
    nothing (or an older invocation) in the history that could not be kept."""
    (project.root / ".mogrun").write_text("not a folder\n", encoding="utf-8")
    result = project.run("broken")
    assert result.exit_code == 1, result
    assert "rerun what did not pass: mogrun run --rerun broken" in result.stdout, result
    assert "mogrun rerun" not in result.output


def test_a_read_only_history_shows_what_the_api_says_without_failing(
        project, mogrun_emulator) -> None:
    """With .mogrun read-only (chattr +i binds root too), status, cancel and logs
    --follow failed on writing what they learnt ("attempt to write a readonly
    database"); logs --follow died in its thread with a traceback."""
    import shutil
    import subprocess

    project.write(JOBS + '\n[jobs.never]\nrepo = "acme/api"\n'
                  'prompt = "@emulator duration=never interval=0.2s"\n')
    assert project.run("run", "--detach", "never").exit_code == 0
    [run_id] = mogrun_emulator.runs
    files = [project.root / ".mogrun", *(project.root / ".mogrun").iterdir()]
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", *map(str, files)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        going = project.run("status", "--exit-status", "never")
        assert going.exit_code == 3, going  # still going, as the API says
        assert run_id in going.stdout
        cancelled = project.run("cancel", "never")
        assert cancelled.exit_code == 0, cancelled
        assert f"{run_id} (never) cancelled" in cancelled.stdout
        assert "what the API said is shown, not recorded" in cancelled.stderr
        logs = project.run("logs", "--follow", "never")
        assert logs.exit_code == 1, logs  # cancelled: it did not pass
        assert "Traceback" not in logs.output and "Exception in thread" not in logs.output
        shown = project.run("--json", "status", "never")
        assert shown.exit_code == 0, shown
        assert json.loads(shown.stdout)["status"] == "cancelled"
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], check=False)


def test_a_refused_url_is_one_error_not_a_warning_that_it_goes_on(mogrun_project) -> None:
    """'warning: ... refused ...; going on without it' came right before the same
    refusal as the error (exit 2): the warning said the opposite of what happened."""
    from mogrun.testing import job, task_file

    mogrun_project.write(task_file(job("a")))
    for args in (["status"], ["logs", "a"], ["cancel", "a"]):
        result = mogrun_project.run("--url", "http://example.com", *args)
        assert result.exit_code == 2, result
        assert "going on without it" not in result.stderr
        assert result.stderr.count("refused") == 1, result.stderr


@pytest.mark.parametrize("kind", ["text", "truncated", "directory", "another schema",
                                  "damaged page"])
def test_a_history_that_cannot_be_read_is_said_not_taken_for_none(project, mogrun_emulator,
                                                                   kind) -> None:
    """A history there but unreadable read as empty: ``status`` said "No runs
    recorded yet." and exited 0, and ``logs JOB``/``cancel JOB`` named the history
    ``:memory:``. Now they say it cannot be read, where and why (exit 1, as
    ``history`` does); a run id is still found through the API. A page overwritten
    (the file opens, a read fails) refused the run id too: the run a ``--detach``
    started could not be followed or cancelled by its id."""
    assert project("lint").exit_code == 0
    [run_id] = mogrun_emulator.runs
    path = project.root / ".mogrun" / "history.db"
    opening = "read" if kind == "damaged page" else "open"
    if kind == "damaged page":
        sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
        with open(path, "r+b") as handle:  # the runs table's first page
            handle.seek(4096)
            handle.write(b"\xff" * 4096)
    elif kind == "text":
        path.write_bytes(b"# runs\r\nlint\tsuccess\r\n\r\n")
    elif kind == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif kind == "another schema":  # another tool's database at mogrun's path
        path.unlink()
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")
            db.commit()
    else:
        path.unlink()
        path.mkdir()
    for argv in (["status"], ["status", "--exit-status"], ["status", "lint"],
                 ["logs", "lint"], ["cancel", "lint"], ["logs"], ["history"]):
        result = project(*argv)
        assert result.exit_code == 1, (argv, result)
        assert result.stderr.startswith(f"Error: cannot {opening} run history {path}: "), (
            argv, result)
        assert "No runs recorded" not in result.stderr and ":memory:" not in result.stderr
        if kind == "another schema":  # not sqlite's "no such column: base_url"
            assert result.stderr.splitlines()[:2] == [
                f"Error: cannot open run history {path}: it is not a run history mogrun "
                "wrote (its runs table has other columns)",
                f"Move it away to start a new one: mv {path} {path}.broken"], result
        if kind == "directory":  # sqlite said "unable to open database file"
            assert result.stderr.startswith(f"Error: cannot open run history {path}: it is "
                                            "a folder, not a file\n"), result
        # What to do about it, said for each kind (it was for two of them only).
        assert f"Move it away to start a new one: mv {path} {path}.broken" in \
            result.stderr.splitlines(), (argv, result)
    for command in ("status", "logs", "cancel"):  # cancel said the warning twice
        by_id = project(command, run_id)
        assert by_id.exit_code == 0, by_id
        assert by_id.stderr.count(f"warning: cannot {opening} run history {path}: ") == 1, (
            command, by_id)
        assert "Traceback" not in by_id.output


@pytest.mark.parametrize(("command", "shown"), [("logs", "logs"), ("cancel", "status")])
def test_logs_and_cancel_of_a_local_run_id_name_the_scope_that_has_it(
        project, mogrun_emulator, command: str, shown: str) -> None:
    """``logs ID`` and ``cancel ID`` of a ``--local`` run (without --local) said the
    API's plain 404, as ``status ID`` did before 2113ae4. A local run ended with its
    emulator: ``cancel`` points at ``status``, never at a cancel that cannot be."""
    assert project("--local", "lint").exit_code == 0
    local = json.loads(project("--local", "--json", "history", "-n", "1").stdout)["run_id"]
    mogrun_emulator.clear_requests()
    result = project(command, local)
    assert result.exit_code == 1, result
    assert result.stderr.splitlines() == [
        f"Error: run {local} was recorded with --local, not against this API",
        f"See it with: mogrun --local {shown} {local} "
        "(local runs end with the emulator that ran them)"], result
    assert mogrun_emulator.requests == []


def test_status_of_a_local_run_id_names_the_scope_that_has_it(project, mogrun_emulator) -> None:
    """``status ID`` of a ``--local`` run (without --local) asked the API, and said
    the 404, that the id was not in this project's history "either" (it is, under
    --local) and a sentence about automation jobs. Now: where it was recorded, and
    the command that shows it, with no request; and the other way round."""
    assert project("--local", "lint").exit_code == 0
    local = json.loads(project("--local", "--json", "history", "-n", "1").stdout)["run_id"]
    mogrun_emulator.clear_requests()
    result = project("status", local)
    assert result.exit_code == 1, result
    assert result.stderr.splitlines() == [
        f"Error: run {local} was recorded with --local, not against this API",
        f"See it with: mogrun --local status {local} "
        "(local runs end with the emulator that ran them)"], result
    assert mogrun_emulator.requests == []
    assert project("lint").exit_code == 0
    served = json.loads(project("--json", "history", "-n", "1").stdout)["run_id"]
    for command in ("status", "logs"):  # --local logs ID printed nothing, exit 0
        result = project("--local", command, served)
        assert result.exit_code == 1, result
        assert result.stderr.splitlines() == [
            f"Error: run {served} was recorded against {mogrun_emulator.url}, "
            "not against this API", f"See it with: mogrun {command} {served}"], result


def test_local_logs_of_a_run_id_it_never_recorded_is_refused(project) -> None:
    """``--local logs ID`` of an id no --local run has (a typo) printed nothing and
    exited 0, as if the run had no events; ``--local status ID`` refused it. Now
    both say it is nowhere (the API's runs: the test above)."""
    assert project("--local", "lint").exit_code == 0  # the kept events exist
    unknown = "00000000-0000-0000-0000-000000000000"
    result = project("--local", "logs", unknown)
    assert result.exit_code == 2, result
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: no recorded run '{unknown}' against this API\n")


def test_a_run_id_in_capitals_is_the_recorded_run(project) -> None:
    """A run id pasted in capitals (the server takes it so) was not found in history:
    ``status`` showed it with no job (``-``), ``logs`` labelled it by the id and judged
    it by no gates."""
    assert project("lint").exit_code == 0
    run_id = json.loads(project("--json", "history", "-n", "1").stdout)["run_id"]
    status = project("--json", "status", run_id.upper())
    assert status.exit_code == 0, status
    row = json.loads(status.stdout)
    assert (row["job"], row["run_id"]) == ("lint", run_id), row
    logs = project("logs", run_id.upper())
    assert logs.exit_code == 0, logs
    assert logs.stdout.splitlines()[-1].split()[1] == "lint", logs


@pytest.mark.parametrize("command", ["status", "logs", "cancel"])
def test_a_short_run_id_is_answered_with_the_whole_one(project, mogrun_emulator,
                                                       command) -> None:
    """``logs dbdd4d23`` (a short id, as git takes them) said only "unknown job or run":
    the run ids it begins are named, and nothing is asked of the server."""
    assert project("lint").exit_code == 0
    [run_id] = mogrun_emulator.runs
    mogrun_emulator.clear_requests()
    result = project(command, run_id[:8])
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[:2] == [
        f'Error: unknown job or run "{run_id[:8]}"',
        f"a run id is its whole UUID: did you mean {run_id}?"], result
    assert mogrun_emulator.requests == []


def test_json_history_streams_every_row_a_batch_at_a_time(project, monkeypatch) -> None:
    """--json history held every row it printed at once (310 MB for 125,900): it now
    reads them as it prints them, the same rows, newest first, -n and --job kept."""
    from mogrun.engine import history_reads

    assert project("fanout").exit_code == 0
    assert project("lint").exit_code == 0
    assert project("fanout").exit_code == 0
    whole = [json.loads(line) for line in project("--json", "history").stdout.splitlines()]
    monkeypatch.setattr(history_reads, "STREAM_BATCH", 2)
    paged = [json.loads(line) for line in project("--json", "history").stdout.splitlines()]
    assert [r["run_id"] for r in paged] == [r["run_id"] for r in whole] and len(whole) == 5
    three = [json.loads(line) for line in project("--json", "history", "-n", "3").stdout
             .splitlines()]
    assert [r["run_id"] for r in three] == [r["run_id"] for r in whole[:3]]
    fan = [json.loads(line) for line in project("--json", "history", "--job", "fanout").stdout
           .splitlines()]
    assert [r["run_id"] for r in fan] == [r["run_id"] for r in whole if r["job"] == "fanout"]


def test_a_run_that_never_started_shows_no_start_time_in_status(mogrun_project,
                                                               mogrun_emulator) -> None:
    """A run skipped because its need failed was "not started" beside a started
    time (when its row was recorded), in the column saying when it started.
    ``history`` keeps the time: it orders the invocation's rows by it."""
    mogrun_project.write(task_file(
        job("broken", prompt="@emulator duration=0.2s status=failed"),
        job("after", needs=["broken"]), mogplex=LIMITS) + "\n\n")
    mogrun_project.env.update(FAST)
    assert mogrun_project("after").exit_code == 1
    result = mogrun_project("status")
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[2:]}
    assert rows["after"][-3:] == ["started", "skipped", "-"], result  # "not started"
    assert parse_moment(rows["broken"][-1]) is not None, result
    history = mogrun_project("history").stdout.splitlines()[2:]
    assert all(parse_moment(line.split()[0]) is not None for line in history), history


# acme/web's start of fan conflicts with prep's (its key, another prompt): refused.
CONFLICTED_FAN = """
[mogplex]
requests_per_minute = 600
starts_per_minute = 100

[jobs.prep]  # takes acme/web's key with another prompt: fan's start there conflicts
repo = "acme/web"
idempotency_key = "k-acme/web"
prompt = "something else\\n@emulator duration=0.2s"

[jobs.fan]
repo = ["acme/api", "acme/web"]
idempotency_key = "k-{{ repo }}"
prompt = "fan\\n@emulator duration=0.2s"
"""


@pytest.mark.parametrize("command", ["status", "logs"])
def test_a_fan_out_run_that_passed_before_a_rerun_is_still_picked_by_its_repo(
        mogrun_project, mogrun_emulator, command) -> None:
    """The rerun repeated only acme/web: 'fan:acme/api' (passed, in the invocation
    before) was 'no recorded runs', with "did you mean fan:acme/web" (exit 2)."""
    mogrun_project.write(CONFLICTED_FAN)
    env = {"MOGRUN_POLL_INTERVAL": "0.1"}
    assert mogrun_project.run("prep", env=env).exit_code == 0
    assert mogrun_project.run("fan", env=env).exit_code == 1
    assert mogrun_project.run("rerun", env=env).exit_code == 0
    result = mogrun_project.run(command, "fan:acme/api", env=env)
    assert result.exit_code == 0, result
    assert "acme/api" in result.stdout and "no recorded runs" not in result.output, result


@pytest.mark.parametrize("target", [["fan"], []])
def test_logs_follow_of_a_job_with_a_refused_start_does_not_pass(
        mogrun_project, mogrun_emulator, target) -> None:
    """'run --detach fan' started acme/api; acme/web's start was refused. 'logs
    --follow fan' followed acme/api, said nothing of acme/web, and exited 0: a CI
    step 'logs --follow fan && deploy' went on."""
    mogrun_project.write(CONFLICTED_FAN)
    env = {"MOGRUN_POLL_INTERVAL": "0.1"}
    assert mogrun_project.run("prep", env=env).exit_code == 0
    assert mogrun_project.run("--detach", "fan", env=env).exit_code == 1
    result = mogrun_project.run("logs", "--follow", *target, env=env)
    assert result.exit_code == 1, result
    assert "note: fan:acme/web: no run to show (error: " in result.stderr, result
    assert "acme/api" in result.stdout, result
