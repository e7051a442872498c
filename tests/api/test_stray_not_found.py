"""Only the API's own NOT_FOUND envelope says that a run does not exist. A 404
that is not the envelope (a proxy's page, a base URL that is not the API's) is
said as what it is: an HTTP 404 from that origin that is not the API's answer,
with the first bytes of its body (masked), never retried, exit 69 — and
``status``, ``logs``, ``rerun`` and ``cancel`` never take it for "no such run".
Real HTTP, through loopback servers that answer exactly that."""

from __future__ import annotations

import json

import pytest

from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.transport import Urllib3Transport
from mogrun.errors import NotFoundError, ProtocolError, RequestRefusedError
from mogrun.testing import write_taskfile

from .conftest import QuickRetry
from .loopback import loopback_server

RUN_ID = "11111111-1111-1111-1111-111111111111"
REPO_ID = "5c0ffee0-1234-4321-8abc-0123456789ab"
PAGE = b"<html><body><h1>404 Not Found</h1>nginx</body></html>\r\n"
JOB = f"""
    [jobs.hello]
    repo = "{REPO_ID}"
    prompt = "hi"
    retry = {{attempts = 1, max_delay = "0.1s"}}
"""
ENV = {"MOGPLEX_API_KEY": "mog_x", "MOGRUN_POLL_INTERVAL": "0.05"}


def _envelope(data: object) -> bytes:
    return json.dumps({"ok": True, "data": data}).encode()


def _client(server, policy: QuickRetry, token: str = "mog_x") -> MogplexClient:
    return MogplexClient(server.url + "/api/v1/mogplex", token, transport=Urllib3Transport(),
                         budget=RequestBudget(requests_per_minute=10_000), retry=policy)


def _said(server) -> str:
    return f"HTTP 404 from {server.url} is not the Mogplex API's answer"


# The client -------------------------------------------------------------------------


def test_a_404_page_is_not_the_api_saying_no_such_run():
    policy = QuickRetry(delay=0.0)
    with loopback_server(404, {"Content-Type": "text/html"}, PAGE) as server, \
            pytest.raises(ProtocolError) as caught:
        _client(server, policy).get_run(RUN_ID)
    error = caught.value
    assert not isinstance(error, RequestRefusedError)
    assert (error.exit_code, error.status) == (69, 404)
    assert len(server.received) == 1 and policy.calls == []  # the same URL: the same page
    assert error.message == (f"{_said(server)}: GET /runs/{RUN_ID} carried a body that is "
                             'not valid JSON: "<html><body><h1>404 Not Found</h1>nginx</body>'
                             '</html>\\r\\n"')


def test_a_404_page_is_quoted_with_the_token_masked():
    echoed = b"<html>404: no route for Bearer mog_s3cret_token_value</html>"
    with loopback_server(404, body=echoed) as server, pytest.raises(ProtocolError) as caught:
        _client(server, QuickRetry(delay=0.0), token="mog_s3cret_token_value").get_run(RUN_ID)
    assert "mog_s3cret_token_value" not in "\n".join(caught.value.lines())
    assert caught.value.message.startswith(_said(server))


@pytest.mark.parametrize("body, found", [
    (b'{"ok": false, "error": {"code": "NOT_FOUND", "message": "Run not found"}}', True),
    (b'{"ok": false, "error": {"code": "ROUTE_MISSING", "message": "no"}}', False),
    (b'{"error": "Not Found"}', False),  # JSON, but not the envelope
])
def test_only_the_not_found_envelope_is_not_found(body, found):
    with loopback_server(404, {"Content-Type": "application/json"}, body) as server, \
            pytest.raises(Exception) as caught:
        _client(server, QuickRetry(delay=0.0)).get_run(RUN_ID)
    assert isinstance(caught.value, NotFoundError) is found
    assert len(server.received) == 1


# The commands -------------------------------------------------------------------------


def _going(server) -> None:
    """Answer like the API with run RUN_ID going (one GET body serves every read:
    the run, its events, the sandboxes)."""
    detail = {"runId": RUN_ID, "status": "streaming", "repoId": REPO_ID, "harness": "codex",
              "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:05Z"}
    server.by_method = {"POST": (202, _envelope({**detail, "replayed": False})),
                        "GET": (200, _envelope({"run": detail, "events": [],
                                                "sandboxes": []}))}


def _started(mogrun_cli, tmp_path, server) -> None:
    """``hello`` started and left going (``--detach``); then every answer is a 404 page."""
    write_taskfile(tmp_path, JOB)
    _going(server)
    result = mogrun_cli("run", "hello", "--detach", cwd=tmp_path,
                        env={**ENV, "MOGPLEX_URL": server.url})
    assert result.exit_code == 0, result
    server.by_method, server.status, server.body = {}, 404, PAGE
    server.received.clear()


def _as_a_stray_404(result, server) -> None:
    assert result.exit_code == 69, result
    assert _said(server) in result.stderr
    text = result.output.lower()
    assert "unknown" not in text and "not found" not in text.replace("404 not found", "")
    assert "Traceback" not in result.output and "SPEC" not in result.output


def test_status_of_a_run_id_answered_by_a_404_page(mogrun_cli, tmp_path):
    write_taskfile(tmp_path, JOB)
    with loopback_server(404, body=PAGE) as server:
        result = mogrun_cli("status", RUN_ID, cwd=tmp_path, env={**ENV, "MOGPLEX_URL": server.url})
    _as_a_stray_404(result, server)
    assert "history either" not in result.stderr  # never "no such run, not here either"


@pytest.mark.parametrize("flags", [(), ("--exit-status",)])
def test_status_of_a_job_answered_by_a_404_page_shows_it_as_recorded(mogrun_cli, tmp_path,
                                                                       flags):
    with loopback_server() as server:
        _started(mogrun_cli, tmp_path, server)
        result = mogrun_cli("status", "hello", *flags, cwd=tmp_path,
                            env={**ENV, "MOGPLEX_URL": server.url})
    _as_a_stray_404(result, server)
    assert "cannot refresh from the API" in result.stderr
    assert "streaming" in result.stdout  # as last recorded, not "unknown"


def test_logs_of_a_run_id_answered_by_a_404_page(mogrun_cli, tmp_path):
    write_taskfile(tmp_path, JOB)
    with loopback_server(404, body=PAGE) as server:
        result = mogrun_cli("logs", RUN_ID, cwd=tmp_path, env={**ENV, "MOGPLEX_URL": server.url})
    _as_a_stray_404(result, server)
    assert "read through its automation" not in result.stderr


def test_rerun_answered_by_a_404_page_starts_nothing(mogrun_cli, tmp_path):
    with loopback_server() as server:
        _started(mogrun_cli, tmp_path, server)
        result = mogrun_cli("rerun", cwd=tmp_path, env={**ENV, "MOGPLEX_URL": server.url})
    _as_a_stray_404(result, server)
    assert [method for method, *_ in server.received] == ["GET"]  # read once; no start
    assert "nothing was started" in result.stderr


def test_cancel_answered_by_a_404_page(mogrun_cli, tmp_path):
    with loopback_server() as server:
        _started(mogrun_cli, tmp_path, server)
        result = mogrun_cli("cancel", "hello", cwd=tmp_path,
                            env={**ENV, "MOGPLEX_URL": server.url})
    _as_a_stray_404(result, server)
    assert [method for method, *_ in server.received] == ["POST"]  # sent once
