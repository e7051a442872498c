"""A start (``POST /runs``) answered 2xx without a ``runId``: the server accepted
it, so the run may exist. It is a protocol error that says so (exit 69), never
sent again, and never recorded as a start that made no run: ``rerun`` sends the
same Idempotency-Key again, which the server answers with that run rather than
starting a second. Real HTTP, through a loopback server."""

from __future__ import annotations

import contextlib
import json
import sqlite3

import pytest

from mogrun.engine.runner import UNCONFIRMED
from mogrun.testing import write_taskfile

from .loopback import loopback_server

RUN_ID = "22222222-2222-2222-2222-222222222222"
REPO_ID = "5c0ffee0-1234-4321-8abc-0123456789ab"
JOB = f"""
    [jobs.hello]
    repo = "{REPO_ID}"
    prompt = "hi"
"""
ENV = {"MOGPLEX_API_KEY": "mog_x", "MOGRUN_POLL_INTERVAL": "0.05"}
DETAIL = {"runId": RUN_ID, "status": "success", "repoId": REPO_ID, "harness": "codex",
          "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:05Z"}


def _envelope(data: object) -> bytes:
    return json.dumps({"ok": True, "data": data}).encode()


def _unnamed(server) -> None:
    """Starts accepted with no run id; every read answers (the sandboxes: none busy)."""
    server.by_method = {
        "POST": (202, _envelope({"status": "pending", "replayed": False})),
        "GET": (200, _envelope({"run": DETAIL, "events": [], "sandboxes": []}))}


def _keys(server) -> list[str]:
    return [headers["idempotency-key"] for method, _, headers, _ in server.received
            if method == "POST"]


@pytest.mark.parametrize("key", ["", 'idempotency_key = "hello-{{ date }}"\n'])
def test_run_says_the_run_may_have_started_and_rerun_sends_the_same_key(mogrun_cli, tmp_path,
                                                                          key):
    write_taskfile(tmp_path, JOB + key)  # a default key is new at each invocation
    with loopback_server() as server:
        _unnamed(server)
        env = {**ENV, "MOGPLEX_URL": server.url}
        result = mogrun_cli("run", "hello", cwd=tmp_path, env=env)
        assert result.exit_code == 69, result
        assert "could not start" not in result.output
        assert "the run may have started" in result.stderr
        assert "mogrun status hello" in result.stderr and "rerun hello" in result.stderr
        assert "Traceback" not in result.output and "SPEC" not in result.output
        (sent,) = _keys(server)  # not retried
        with contextlib.closing(sqlite3.connect(tmp_path / ".mogrun" / "history.db")) as db:
            (message,) = db.execute("SELECT message FROM runs").fetchone()
        assert message == UNCONFIRMED
        status = mogrun_cli("status", "hello", cwd=tmp_path, env=env)
        assert "unconfirmed" in status.stdout and "not started" not in status.stdout, status
        assert "its start may have made a run whose id is unknown" in status.stdout

        # The server now answers the key with the run the first start made.
        server.by_method["POST"] = (202, _envelope({**DETAIL, "replayed": True}))
        rerun = mogrun_cli("rerun", cwd=tmp_path, env=env)
    assert _keys(server) == [sent, sent], rerun  # the same key: no second run
    assert "was accepted without a run id, so it may have made a run" in rerun.stderr
    assert f"attached to existing run {RUN_ID}" in rerun.output
    assert rerun.exit_code == 0, rerun


def test_a_replayed_flag_that_is_not_true_is_no_replay(mogrun_cli, tmp_path):
    """'"replayed": "false"' (a string) was read as true: a run this invocation started
    was said to be only attached to, and left going at its timeout, never cancelled."""
    write_taskfile(tmp_path, JOB)
    going = {**DETAIL, "status": "running", "updatedAt": "2026-01-01T00:00:01Z"}
    with loopback_server() as server:
        server.by_method = {
            "POST": (202, _envelope({**going, "replayed": "false",
                                     "run": {**going, "status": "cancelled"},
                                     "alreadyTerminal": "false"})),
            "GET": (200, _envelope({"run": going, "events": [], "sandboxes": []}))}
        result = mogrun_cli("run", "hello", "--timeout", "1s", cwd=tmp_path,
                            env={**ENV, "MOGPLEX_URL": server.url})
        cancels = [path for method, path, _, _ in server.received
                   if method == "POST" and path.endswith("/cancel")]
    assert "attached to existing run" not in result.output, result
    assert cancels, result  # its own run: cancelled at its timeout
    assert result.exit_code == 1, result
