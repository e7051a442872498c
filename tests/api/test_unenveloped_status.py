"""An answer whose body is not the envelope (a proxy's or an auth gateway's HTML
page, JSON without ``ok``) is what its HTTP status says: a 401 is a bad token
(64), a 403 a missing scope (65), a 429 is rate limited (retried after its
Retry-After, 75 when given up), any other 4xx a refusal never retried (1) —
but a 404, which is not the API's (``test_stray_not_found``). A 5xx, a 408 (a
proxy's Request Timeout) or a 2xx without the envelope is a transport failure,
retried (69). Real HTTP, through loopback servers that serve exactly those
answers."""

from __future__ import annotations

import json

import pytest

from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.transport import Urllib3Transport
from mogrun.errors import (
    ForbiddenError,
    RateLimitedError,
    RequestRefusedError,
    TransportError,
    UnauthorizedError,
)
from mogrun.models import StartRequest
from mogrun.testing import write_taskfile

from .conftest import QuickRetry
from .loopback import loopback_server

HTML = {"Content-Type": "text/html"}
RUN_ID = "11111111-1111-1111-1111-111111111111"


def _page(status: int) -> bytes:
    return f"<html>{status} Authorization Required</html>".encode()


def _client(server, policy: QuickRetry) -> MogplexClient:
    return MogplexClient(server.url + "/api/v1/mogplex", "mog_x", transport=Urllib3Transport(),
                         budget=RequestBudget(requests_per_minute=10_000), retry=policy)


@pytest.mark.parametrize("status, error, exit_code", [
    (401, UnauthorizedError, 64),
    (403, ForbiddenError, 65),
    (400, RequestRefusedError, 1),
    (409, RequestRefusedError, 1),
    (413, RequestRefusedError, 1),
    (422, RequestRefusedError, 1),
])
@pytest.mark.parametrize("body", [b"", b"<html>refused</html>", b'{"error": "refused"}',
                                  b"[" * 40 + b"]" * 40])  # empty, HTML, no "ok", too deep
def test_a_4xx_without_the_envelope_is_its_status_and_never_retried(status, error, exit_code,
                                                                    body):
    policy = QuickRetry(delay=0.0)
    with loopback_server(status, HTML, body) as server, pytest.raises(error) as caught:
        _client(server, policy).list_repos()
    assert len(server.received) == 1 and policy.calls == []
    assert type(caught.value) is error
    assert (caught.value.exit_code, caught.value.status) == (exit_code, status)
    assert caught.value.code == f"HTTP_{status}"
    assert caught.value.message.startswith(f"HTTP {status} from GET /repos?limit=200 carried ")


@pytest.mark.parametrize(("status", "error", "exit_code"), [
    (429, RateLimitedError, 75),  # rate limited: the budget pauses
    (408, TransportError, 69),  # a proxy's Request Timeout: a timeout like any other
])
def test_a_429_or_408_without_the_envelope_is_retried_after_its_retry_after(status, error,
                                                                             exit_code):
    policy = QuickRetry(attempts=2, delay=0.0)
    with (loopback_server(status, {**HTML, "Retry-After": "0.05"}, _page(status)) as server,
          pytest.raises(error) as caught):
        _client(server, policy).list_repos()
    assert len(server.received) == 3  # the first attempt and the policy's 2 retries
    assert [call["retry_after"] for call in policy.calls] == [0.05] * 3
    assert (caught.value.exit_code, caught.value.status) == (exit_code, status)


@pytest.mark.parametrize("status", [200, 408, 500, 502, 503])
def test_a_2xx_408_or_5xx_without_the_envelope_is_still_a_transport_error(status):
    policy = QuickRetry(attempts=2, delay=0.0)
    with (loopback_server(status, HTML, _page(status)) as server,
          pytest.raises(TransportError) as caught):
        _client(server, policy).list_repos()
    assert len(server.received) == 3
    assert (caught.value.exit_code, caught.value.status) == (69, status)


def test_a_start_answered_by_an_html_408_is_retried_under_its_key():
    policy = QuickRetry(attempts=1, delay=0.0)
    run = {"runId": RUN_ID, "status": "pending", "replayed": True}
    with loopback_server(408, HTML, _page(408)) as server:
        server.queued = [(408, _page(408)), (202, json.dumps({"ok": True, "data": run}).encode())]
        outcome = _client(server, policy).start_run(StartRequest(
            repo="acme/api", repo_id="r1", prompt="p", idempotency_key="k-408"))
    assert [headers["idempotency-key"] for *_, headers, _ in server.received] == ["k-408"] * 2
    assert outcome.state.run_id == RUN_ID and not outcome.attached  # its own run, replayed


def test_a_start_refused_by_an_html_400_is_sent_once():
    policy = QuickRetry(delay=0.0)
    with loopback_server(400, HTML, _page(400)) as server, pytest.raises(RequestRefusedError):
        _client(server, policy).start_run(StartRequest(
            repo="acme/api", repo_id="r1", prompt="p", idempotency_key="k-html"))
    assert [method for method, *_ in server.received] == ["POST"]


# Through the CLI (the bundled retry policy, the real exit codes) -----------------------


@pytest.mark.parametrize("status, exit_code, hint", [
    (401, 64, "Check MOGPLEX_API_KEY"),
    (403, 65, "lacks the scope"),
    (400, 1, None),
    (409, 1, None),
    (413, 1, None),
    (422, 1, None),
])
def test_repos_against_an_html_4xx_exits_with_its_code_after_one_request(
        mogrun_cli, tmp_path, status, exit_code, hint):
    with loopback_server(status, HTML, _page(status)) as server:
        result = mogrun_cli("--url", server.url, "repos", cwd=tmp_path,
                            env={"MOGPLEX_API_KEY": "mog_x"})
    assert result.exit_code == exit_code, result
    assert len(server.received) == 1
    assert result.stderr.splitlines()[0] == (
        f'Error: HTTP {status} from GET /repos?limit=200 carried a body that is not valid '
        f'JSON: "<html>{status} Authorization Required</html>"')
    assert "Gave up" not in result.stderr and "server is reachable" not in result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith("wait ")]
    if hint:
        assert hint in result.stderr


@pytest.mark.parametrize(("status", "exit_code", "wait"), [
    (429, 75, "wait rate_limited: GET /repos: the API answered 429 "),
    (408, 69, "wait retry: GET /repos: HTTP 408 "),  # a proxy's Request Timeout
])
def test_repos_against_an_html_429_or_408_waits_its_retry_after(mogrun_cli, tmp_path, status,
                                                                exit_code, wait):
    with loopback_server(status, {**HTML, "Retry-After": "1"}, _page(status)) as server:
        result = mogrun_cli("--url", server.url, "repos", cwd=tmp_path,
                            env={"MOGPLEX_API_KEY": "mog_x"})
    assert result.exit_code == exit_code, result
    assert len(server.received) == 6  # the bundled retry policy: 5 retries
    waits = [line for line in result.stderr.splitlines() if line.startswith("wait ")]
    assert len(waits) == 5 and all(line.startswith(wait) for line in waits), waits
    if status == 429:
        assert all("after its Retry-After" in line for line in waits), waits
        assert "try again after " in result.stderr
    assert "Gave up after 6 attempts." in result.stderr


def test_repos_against_an_html_502_is_retried_and_exits_69(mogrun_cli, tmp_path, quick_backoff):
    with loopback_server(502, HTML, _page(502)) as server:
        result = mogrun_cli("--url", server.url, "repos", cwd=tmp_path,
                            env={"MOGPLEX_API_KEY": "mog_x"})
    assert result.exit_code == 69, result
    assert len(server.received) == 6
    assert "Gave up after 6 attempts." in result.stderr
    assert "check it and that the server is reachable" in result.stderr


def test_cancel_answered_by_an_html_400_is_sent_once_and_exits_1(mogrun_cli, tmp_path):
    write_taskfile(tmp_path, f"""
        [jobs.a]
        repo = "{RUN_ID}"
        prompt = "p"
    """)
    run = {"runId": RUN_ID, "status": "streaming", "repoId": RUN_ID}
    with loopback_server(200, {"Content-Type": "application/json"},
                         json.dumps({"ok": True, "data": {"run": run}}).encode()) as server:
        server.by_method["POST"] = (400, _page(400))
        result = mogrun_cli("--url", server.url, "cancel", RUN_ID, cwd=tmp_path,
                            env={"MOGPLEX_API_KEY": "mog_x"})
    assert result.exit_code == 1, result
    posts = [path for method, path, *_ in server.received if method == "POST"]
    assert posts == [f"/api/v1/mogplex/runs/{RUN_ID}/cancel"]
    assert f"HTTP 400 from POST /runs/{RUN_ID}/cancel carried" in result.stderr


def test_a_407_names_the_proxy_that_asks_for_credentials_and_is_not_retried():
    """A proxy in the way that wants credentials (answering a request sent direct)
    exited 1 with "a body that is not valid JSON" and no word of a proxy."""
    from mogrun.errors import ProtocolError

    policy = QuickRetry(delay=0.0)
    page = b"<html>407 Proxy Authentication Required</html>"
    with loopback_server(407, HTML, page) as server, pytest.raises(ProtocolError) as caught:
        _client(server, policy).list_repos()
    assert len(server.received) == 1 and policy.calls == []
    assert caught.value.exit_code == 69
    assert caught.value.message.startswith(
        f"HTTP 407 from {server.url}: a proxy between here and the API asks for credentials")
    assert ("Give the proxy's address and credentials in https_proxy: "
            "https_proxy=http://user:password@host:port (percent-encoded).") in \
        caught.value.context
