"""Regression tests from the engine/output review: each failed before its fix."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mogrun.engine.runner import RunExecutor
from mogrun.engine.scheduler import Scheduler

from .conftest import history_rows, json_lines, runs_by_repo
from .test_scheduler_unit import Recorder, job


def test_a_crashing_worker_hands_its_traceback_to_on_crash():
    def run(j, plan):
        raise RuntimeError("worker bug")

    crashes = []
    rec = Recorder()
    results = Scheduler([job("a")], run_fn=run, skip_fn=rec.skip, on_job_done=rec.job_done,
                        on_crash=lambda j, plan, text: crashes.append((j.name, text))).run()
    assert [(r.outcome, r.exit_code) for r in results] == [("error", 1)]
    assert len(crashes) == 1
    name, text = crashes[0]
    assert name == "a"
    assert text.startswith("Traceback (most recent call last):")
    assert "in run" in text and text.endswith("RuntimeError: worker bug")


@pytest.mark.parametrize("mode", ["-q", "--json"])
def test_internal_error_in_a_run_shows_its_traceback_on_stderr(project, mogrun, monkeypatch,
                                                               mode):
    project("""
        [jobs.hello]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s events=3"
    """)

    def broken(self, track, kind, followed):
        raise RuntimeError("engine bug")

    monkeypatch.setattr(RunExecutor, "_conclude", broken)
    result = mogrun(mode, "hello")
    assert result.exit_code == 1, result
    assert "internal error" in result.stderr
    assert "Traceback (most recent call last):" in result.stderr
    assert "RuntimeError: engine bug" in result.stderr
    assert "Traceback" not in result.stdout
    if mode == "--json":
        assert json_lines(result.stdout)[-1]["type"] == "summary"
    (row,) = history_rows(mogrun)  # closed, not left open with no outcome
    assert (row["outcome"], row["exit_code"]) == ("error", 1)
    assert row["message"] == "internal error: RuntimeError('engine bug')"


# --- events with odd field types (the API promises strings; a server may not) ------------

ODD_EVENTS = [
    {"id": None, "type": "log", "message": "first null id", "createdAt": "2026-01-01T00:00:00Z"},
    {"id": None, "type": "log", "message": "second null id", "createdAt": "2026-01-01T00:00:01Z"},
    {"type": None, "message": 42, "toolName": 7, "createdAt": 1767225600},
    {"id": "e4", "type": "log", "message": {"text": "a dict"}, "payload": ["not", "an", "object"],
     "createdAt": "2026-01-01T00:00:03Z"},
    {"id": "e5", "type": "log", "message": "string payload", "payload": "x=1",
     "createdAt": "2026-01-01T00:00:04Z"},
]


def odd_events_server():
    """A loopback API whose one run succeeds with ``ODD_EVENTS``."""

    def answer(method, path):
        if method == "POST":
            return 202, {**_run_detail("pending"), "replayed": False}
        return 200, {"run": _run_detail("success"), "events": ODD_EVENTS}

    return fake_api(answer)


def _run_detail(status: str) -> dict:
    return {"runId": "run_odd", "repoId": "repo_1", "status": status,
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:05Z",
            "error": None}


@contextmanager
def fake_api(answer):
    """A loopback API answering ``answer(method, path) -> (status, data)`` in the envelope,
    for answers the emulator never gives."""

    class Handler(BaseHTTPRequestHandler):
        def _send(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/api/v1/mogplex/sandboxes"):  # an idle account
                status, data = 200, {"sandboxes": []}
            else:
                status, data = answer(self.command, self.path)
            body = json.dumps({"ok": True, "data": data}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _send

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("mode", ["--no-color", "--json"])
def test_events_with_odd_field_types_are_shown_not_a_crash(project, mogrun, mode):
    project("""
        [jobs.odd]
        repo = "repo_1"
        prompt = "go"
    """)
    with odd_events_server() as url:
        result = mogrun(mode, "odd", env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_test"})
    assert result.exit_code == 0, result
    assert "internal error" not in result.output
    if mode == "--json":
        lines = json_lines(result.stdout)
        events = [line["event"] for line in lines if line["type"] == "event"]
        assert [e["message"] for e in events] == [
            "first null id", "second null id", 42, {"text": "a dict"}, "string payload"]
        assert lines[-1]["results"][0]["outcome"] == "success"
    else:
        for text in ("first null id", "second null id", "42", "a dict", "string payload"):
            assert text in result.stdout


def test_live_view_takes_events_whose_fields_are_not_strings():
    from mogrun.models import Event, RunState
    from mogrun.output.live import LiveReporter

    out = io.StringIO()
    live = job("live")
    reporter = LiveReporter(stdout=out, stderr=out, color=False, force_terminal=True, width=100)
    reporter.job_started(live, live.runs[0], RunState(run_id="r1", status="pending"), False)
    reporter.event(live, live.runs[0], Event(id="e1", type="log", created_at="x",
                                           tool_name=7, message={"text": "a dict"}))
    reporter.close()
    assert "{'text': 'a dict'}" in out.getvalue()


# --- history: every outcome is recorded, so status shows the latest invocation -----------

VETO_PLUGIN = """
from mogrun.errors import GateError
from mogrun.hookspecs import hookimpl


@hookimpl
def mogrun_start_request(job, run, request):
    if job.name == "frozen":
        raise GateError("frozen this week")
"""


def test_vetoed_and_skipped_runs_are_recorded_and_status_shows_them(project, mogrun,
                                                                    mogrun_emulator, tmp_path):
    project("""
        [jobs.frozen]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s"

        [jobs.after]
        repo = "acme/web"
        prompt = "@emulator duration=0.2s"
        needs = ["frozen"]
    """)
    assert mogrun("after").exit_code == 0  # both pass once: history has their runs
    (tmp_path / "veto.py").write_text(VETO_PLUGIN)
    result = mogrun("run", "-p", str(tmp_path / "veto.py"), "after")
    assert result.exit_code == 1, result
    assert len(mogrun_emulator.runs) == 2  # nothing new was sent
    latest = history_rows(mogrun, "-n", "2")
    assert sorted((r["job"], r["run_id"], r["outcome"], r["exit_code"]) for r in latest) == [
        ("after", None, "skipped", 1), ("frozen", None, "failed", 1)]
    assert latest[0]["invocation"] == latest[1]["invocation"]
    status = json_lines(mogrun("--json", "status", "after").stdout)
    assert [(s["run_id"], s["outcome"]) for s in status] == [(None, "skipped")]


def test_history_that_fails_mid_run_is_a_warning_not_a_lost_result(project, mogrun,
                                                                   monkeypatch):
    from mogrun.engine.history import History
    from mogrun.errors import MogrunError

    project("""
        [jobs.hello]
        repo = "acme/api"
        prompt = "@emulator duration=0.3s events=3"
    """)

    def full_disk(self, row_id, **fields):
        raise MogrunError(f"cannot write run history {self.path}: database or disk is full")

    monkeypatch.setattr(History, "update", full_disk)
    result = mogrun("--json", "hello")
    assert result.exit_code == 0, result
    assert json_lines(result.stdout)[-1]["results"][0]["outcome"] == "success"
    assert result.stderr.count("database or disk is full; runs are no longer recorded") == 1
    assert "internal error" not in result.output


def test_cancel_shows_a_hostile_status_escaped(project, mogrun):
    project("""
        [jobs.any]
        repo = "repo_1"
        prompt = "go"
    """)
    hostile = "cancelled\x1b]0;owned\x07\n::error::forged"

    def answer(method, path):
        return 200, {"run": _run_detail(hostile), "status": hostile, "alreadyTerminal": False}

    with fake_api(answer) as url:
        result = mogrun("cancel", "run_odd", env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"})
    assert result.exit_code == 0, result
    assert "\x1b" not in result.stdout and "\n::error::" not in result.stdout
    assert result.stdout.strip() == r"run_odd (run_odd) cancelled\x1b]0;owned\x07\n::error::forged"


def test_run_timestamps_that_are_not_strings_give_a_result_not_a_crash(project, mogrun):
    project("""
        [jobs.odd]
        repo = "repo_1"
        prompt = "go"
    """)

    def answer(method, path):
        run = {**_run_detail("pending" if method == "POST" else "success"),
               "createdAt": 1767225600, "updatedAt": ["not", "a", "time"]}
        if method == "POST":
            return 202, {**run, "replayed": False}
        return 200, {"run": run, "events": []}

    with fake_api(answer) as url:
        result = mogrun("--json", "odd", env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"})
    assert result.exit_code == 0, result
    summary = json_lines(result.stdout)[-1]
    assert summary["results"][0]["outcome"] == "success"
    assert summary["results"][0]["duration"] >= 0


def test_follower_keeps_its_run_id_when_an_answer_lacks_it(project, mogrun):
    project("""
        [jobs.odd]
        repo = "repo_1"
        prompt = "go"
    """)
    polls = []

    def answer(method, path):
        if method == "POST":
            return 202, {**_run_detail("pending"), "replayed": False}
        polls.append(path)
        run = _run_detail("streaming" if len(polls) < 3 else "success")
        del run["runId"]
        return 200, {"run": run, "events": []}

    with fake_api(answer) as url:
        result = mogrun("--json", "odd", env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"})
    assert result.exit_code == 0, result
    assert all(path.startswith("/api/v1/mogplex/runs/run_odd/events") for path in polls)
    summary = json_lines(result.stdout)[-1]
    assert [(r["run_id"], r["outcome"]) for r in summary["results"]] == [("run_odd", "success")]


def test_a_cancel_answer_without_run_id_keeps_the_run_in_the_result(project, mogrun):
    project("""
        [jobs.odd]
        repo = "repo_1"
        prompt = "go"
        timeout = "300ms"
    """)

    def answer(method, path):
        if path.endswith("/cancel"):
            run = _run_detail("cancelled")
            del run["runId"]
            return 200, {"run": run, "status": "cancelled", "alreadyTerminal": False}
        if method == "POST":
            return 202, {**_run_detail("pending"), "replayed": False}
        return 200, {"run": _run_detail("streaming"), "events": []}

    with fake_api(answer) as url:
        env = {"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"}
        result = mogrun("--json", "odd", env=env)
        history = json_lines(mogrun("--json", "history", env=env).stdout)
    assert result.exit_code == 1, result
    summary = json_lines(result.stdout)[-1]
    assert [(r["run_id"], r["outcome"], r["status"]) for r in summary["results"]] == [
        ("run_odd", "timeout", "cancelled")]
    assert [(r["run_id"], r["status"]) for r in history] == [("run_odd", "cancelled")]


def test_logs_masks_env_values_the_agent_echoes_as_run_does(project, mogrun, tmp_path):
    secret = "hunter2-very-secret"
    project("""
        [jobs.leak]
        repo = "acme/api"
        prompt_file = "leak.md"
    """)
    (tmp_path / "leak.md").write_text(
        "use {{ env.DEPLOY_KEY }}\n@emulator duration=0.3s events=4 tools=none "
        "message='key={{ env.DEPLOY_KEY }}'\n")
    env = {"DEPLOY_KEY": secret}
    run = mogrun("leak", env=env)
    assert run.exit_code == 0, run
    assert "key=***" in run.stdout and secret not in run.output
    for args in (("logs", "leak"), ("--json", "logs", "leak"), ("logs", "--follow", "leak")):
        result = mogrun(*args, env=env)
        assert result.exit_code == 0, result
        assert "key=***" in result.stdout
        assert secret not in result.output


def test_cancel_job_goes_on_past_a_run_the_server_no_longer_knows(project, mogrun,
                                                                  mogrun_emulator, tmp_path):
    import sqlite3

    project("""
        [jobs.fan]
        repo = ["acme/api", "acme/web"]
        prompt = "{{ repo }}\\n@emulator duration=never interval=0.2s"
    """)
    assert mogrun("run", "--detach", "fan").exit_code == 0
    api_run, web_run = runs_by_repo(mogrun_emulator, "acme/api", "acme/web")
    with sqlite3.connect(tmp_path / ".mogrun" / "history.db") as db:  # api's run: gone
        db.execute("UPDATE runs SET run_id = 'run_gone' WHERE run_id = ?", (api_run,))
    result = mogrun("cancel", "fan")
    assert result.exit_code == 1, result
    assert "run_gone" in result.stderr
    assert f"{web_run} (fan:acme/web) cancelled" in result.stdout
    assert mogrun_emulator.run_detail(web_run)["status"] == "cancelled"
    mogrun("cancel", api_run)


def test_logs_job_goes_on_past_a_run_the_server_no_longer_knows(project, mogrun,
                                                                mogrun_emulator, tmp_path):
    import sqlite3

    project("""
        [jobs.fan]
        repo = ["acme/api", "acme/web"]
        prompt = "{{ repo }}\\n@emulator duration=0.3s message='hello from {{ repo }}'"
    """)
    assert mogrun("fan").exit_code == 0
    (api_run,) = runs_by_repo(mogrun_emulator, "acme/api")
    with sqlite3.connect(tmp_path / ".mogrun" / "history.db") as db:
        db.execute("UPDATE runs SET run_id = 'run_gone' WHERE run_id = ?", (api_run,))
    for args in (("logs", "fan"), ("logs", "--follow", "fan")):
        result = mogrun(*args)
        assert result.exit_code == 1, result
        assert "run_gone" in result.stderr and "Run not found" in result.stderr
        assert "hello from acme/web" in result.stdout


def test_a_transitional_status_is_followed_not_judged(project, mogrun):
    project("""
        [jobs.odd]
        repo = "repo_1"
        prompt = "go"
    """)
    statuses = iter(["streaming", "cancellation_requested", "cancellation_requested"])

    def answer(method, path):
        if method == "POST":
            return 202, {**_run_detail("pending"), "replayed": False}
        return 200, {"run": _run_detail(next(statuses, "cancelled")), "events": []}

    with fake_api(answer) as url:
        result = mogrun("--json", "odd", env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"})
    assert result.exit_code == 1, result
    seen = [o["status"] for o in json_lines(result.stdout) if o["type"] == "status"]
    assert seen == ["streaming", "cancellation_requested", "cancelled"]
    assert json_lines(result.stdout)[-1]["results"][0]["outcome"] == "cancelled"


def test_second_ctrl_c_closes_the_history_rows_of_runs_left_going(tmp_path):
    import signal
    import subprocess
    import sys

    from mogrun.emulator import Emulator

    from .test_signals_e2e import spawn, wait_following

    with Emulator(default_duration=0.5) as emulator:
        emulator.add_fault("cancel", "delay", count=1, delay=5.0)
        proc = spawn(emulator, tmp_path, "long")
        try:
            (run_id,) = wait_following(emulator)
            proc.send_signal(signal.SIGINT)
            time.sleep(0.5)  # the cancel is now stuck in the emulator's delay
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
        assert proc.returncode == 130, (out, err)
        history = subprocess.run(
            [sys.executable, "-m", "mogrun", "--json", "history"], cwd=tmp_path, text=True,
            capture_output=True, env={**os.environ, "MOGPLEX_URL": emulator.url,
                                      "MOGPLEX_API_KEY": emulator.write_token}, check=True)
    (row,) = json_lines(history.stdout)
    assert (row["run_id"], row["outcome"], row["exit_code"]) == (run_id, "error", 130)
    assert row["message"] == "interrupted again; left going"
    assert row["finished_at"]


def test_local_detached_runs_get_no_resume_command_that_cannot_work(project, mogrun):
    project("""
        [jobs.long]
        repo = "acme/api"
        prompt = "@emulator duration=never interval=0.2s"
        [jobs.slow]
        repo = "acme/web"
        prompt = "@emulator duration=never interval=0.2s"
        timeout = "300ms"
        on_timeout = "detach"
    """)
    detached = mogrun("--local", "run", "--detach", "long")
    assert detached.exit_code == 0, detached
    timed_out = mogrun("--local", "slow")
    assert timed_out.exit_code == 1, timed_out
    for result in (detached, timed_out):
        assert "mogrun logs --follow" not in result.stderr
        assert "the --local emulator stops when mogrun exits" in result.stderr
    assert "mogrun --local logs" not in detached.stderr
    refused = mogrun("--local", "logs", "--follow", "long")
    assert refused.exit_code == 2  # which is why no such command is suggested


@pytest.mark.parametrize("repos", ['"acme/api"', '["acme/api", "acme/web"]'])
@pytest.mark.parametrize("listed_id", ["missing", None, ""])
def test_a_repo_listing_without_ids_is_a_clear_error(project, mogrun, repos, listed_id):
    project(f"""
        [jobs.odd]
        repo = {repos}
        prompt = "go"
    """)

    def answer(method, path):
        listing = [{"full_name": name} if listed_id == "missing"
                   else {"full_name": name, "id": listed_id} for name in ("acme/api", "acme/web")]
        return 200, {"repos": listing}

    with fake_api(answer) as url:
        result = mogrun("odd", env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_t"})
    assert result.exit_code == 69, result
    assert result.stderr.startswith("Error: ") and "acme/api" in result.stderr
    assert "Traceback" not in result.output



def test_a_repo_named_from_env_is_stored_masked_and_still_found(project, mogrun):
    project("""
        [jobs.fan]
        repo = ["acme/api", "acme/{{ env.SECRET_REPO }}"]
        prompt = "@emulator duration=0.2s"
    """)
    env = {"SECRET_REPO": "worker"}
    assert mogrun("fan", env=env).exit_code == 0
    rows = history_rows(mogrun)
    assert sorted(r["repo"] for r in rows) == ["acme/***", "acme/api"]
    assert "worker" not in mogrun("--json", "history", env=env).stdout
    status = mogrun("--json", "status", "fan:acme/worker", env=env)
    assert status.exit_code == 0, status
    assert [r["repo"] for r in json_lines(status.stdout)] == ["acme/***"]
