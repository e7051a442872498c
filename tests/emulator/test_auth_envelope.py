"""Bearer auth, scopes, the envelope, unknown paths and wrong methods."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_missing_token_is_401(api):
    answer = api.call("GET", "/repos", token=None)
    assert answer.status == 401
    assert answer.json == {"ok": False, "error": {"code": "UNAUTHORIZED",
                                                  "message": "Unauthorized"}}


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer   ", "mog_x",
                                    "bearer mog_x", "Bearer  mog_x"])
def test_malformed_authorization_is_401(api, header):
    answer = api.call("GET", "/repos", token=None, headers={"Authorization": header})
    assert (answer.status, answer.code) == (401, "UNAUTHORIZED")


def test_unknown_token_is_401(api):
    answer = api.call("GET", "/repos", token="mog_not_a_token")
    assert (answer.status, answer.code) == (401, "UNAUTHORIZED")
    assert answer.message == "Unauthorized"  # the server's one message for every refusal


def test_revoked_token_is_401(api, mogrun_emulator):
    assert api.call("GET", "/repos").status == 200
    mogrun_emulator.revoke(mogrun_emulator.write_token)
    assert api.call("GET", "/repos").code == "UNAUTHORIZED"


def test_every_401_carries_the_servers_bearer_challenge(api, mogrun_emulator):
    """resolveMogplexApiUser answers every refusal with WWW-Authenticate pointing at
    the MCP resource's OAuth metadata (buildMogplexMcpBearerChallenge), on every
    endpoint; a 403 or a 429 carries none."""
    challenge = (f'Bearer resource_metadata="{mogrun_emulator.url}'
                 '/.well-known/oauth-protected-resource/api/v1/mogplex/mcp"')
    run_id = api.start().data["runId"]
    refused = [api.call("GET", "/repos", token=None),
               api.call("GET", "/repos", token=None, headers={"Authorization": "Basic abc"}),
               api.call("GET", f"/runs/{run_id}", token="mog_not_a_token"),
               api.call("POST", "/runs", {}, token="oauth-looking-token", key="k"),
               api.call("GET", "/automations", token=None)]
    for answer in refused:
        assert answer.status == 401
        assert answer.headers.get("www-authenticate") == challenge
        assert answer.json == {"ok": False, "error": {"code": "UNAUTHORIZED",
                                                      "message": "Unauthorized"}}
    api.token = mogrun_emulator.read_token
    assert "www-authenticate" not in api.start(key="other").headers  # 403


def test_read_token_reads_but_cannot_start_or_cancel(api, mogrun_emulator):
    run_id = api.start("@emulator duration=never").data["runId"]
    api.token = mogrun_emulator.read_token
    assert api.call("GET", "/repos").status == 200
    assert api.call("GET", f"/runs/{run_id}").status == 200
    start = api.start(key="other")
    assert (start.status, start.code) == (403, "FORBIDDEN")
    assert start.message == ("Missing required scope: write. Issue a new token with the "
                             "'write' scope at /settings/api-keys.")
    cancel = api.call("POST", f"/runs/{run_id}/cancel")
    assert (cancel.status, cancel.code) == (403, "FORBIDDEN")
    assert mogrun_emulator.runs == [run_id]


def test_only_the_automation_reads_need_the_read_scope(api, mogrun_emulator):
    # The server's repos, sandboxes and run GETs check no scope; its automation
    # GETs require "read".
    run_id = api.start("@emulator duration=never").data["runId"]
    mogrun_emulator.add_token("mog_writeonly", ["write"])
    for path in ("/repos", "/sandboxes", f"/runs/{run_id}", f"/runs/{run_id}/events"):
        assert api.call("GET", path, token="mog_writeonly").status == 200, path
    answer = api.call("GET", "/automations", token="mog_writeonly")
    assert (answer.status, answer.code) == (403, "FORBIDDEN")


def test_added_token_works_and_bad_scopes_are_refused(api, mogrun_emulator):
    mogrun_emulator.add_token("mog_extra", ["read", "write"])
    assert api.call("GET", "/repos", token="mog_extra").status == 200
    with pytest.raises(ValueError, match="scopes"):
        mogrun_emulator.add_token("mog_bad", ["admin"])


def test_runs_of_another_user_are_not_found(api, mogrun_emulator):
    run_id = api.start().data["runId"]
    mogrun_emulator.add_token("mog_other_user", ["read", "write"], user="someone-else")
    answer = api.call("GET", f"/runs/{run_id}", token="mog_other_user")
    assert (answer.status, answer.code) == (404, "NOT_FOUND")


def is_next_not_found_page(answer) -> bool:
    """Next.js's own 404 page: HTML, no API envelope (the server has no catch-all
    route), which is how a client tells a wrong base URL from the API's NOT_FOUND."""
    return (answer.status == 404 and answer.headers["content-type"].startswith("text/html")
            and b"This page could not be found" in answer.body)


@pytest.mark.parametrize("path", ["/nope", "/runs/x/y/z", "", "/repos/extra"])
def test_unknown_api_path_is_the_servers_html_404(api, path):
    assert is_next_not_found_page(api.call("GET", path))


def test_paths_outside_the_api_prefix_are_the_servers_html_404(api):
    assert is_next_not_found_page(api.call("GET", "/api/v2/mogplex/repos", api=False))
    assert is_next_not_found_page(api.call("GET", "/", api=False))


def test_a_wrong_base_url_is_said_as_such_not_as_a_missing_thing(tmp_path, mogrun_emulator):
    """With a JSON NOT_FOUND for every unknown path, `repos` under a wrong base URL
    said "No such endpoint ... (NOT_FOUND, HTTP 404)" and exit 1 under the
    emulator, where the real server's HTML 404 gives the wrong-URL hint."""
    result = subprocess.run(
        [sys.executable, "-m", "mogrun", "repos"], capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "MOGPLEX_URL": mogrun_emulator.url + "/v2",
             "MOGPLEX_API_KEY": mogrun_emulator.read_token}, timeout=60)
    assert result.returncode == 69, result
    assert "is not the Mogplex API's answer" in result.stderr, result.stderr
    assert "(NOT_FOUND, HTTP 404)" not in result.stderr, result.stderr
    assert "The API URL is " in result.stderr, result.stderr


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/repos"),
    ("DELETE", "/runs"),
    ("GET", "/runs/run_x/cancel"),
    ("PUT", "/runs/run_x"),
    ("OPTIONS", "/runs/run_x/cancel"),  # no GET: Next.js implements neither
    ("HEAD", "/runs"),
])
def test_wrong_method_is_a_bare_405_as_nextjs_sends_it(api, mogrun_emulator, method, path):
    """Next.js's handleMethodNotAllowedResponse: no body, no Allow header, before the
    token is read (the emulator sent a METHOD_NOT_ALLOWED envelope with Allow)."""
    answer = api.call(method, path, token=None)
    assert (answer.status, answer.body) == (405, b"")
    assert "allow" not in answer.headers and "content-type" not in answer.headers
    assert mogrun_emulator.requests[-1].status == 405


def test_options_on_a_route_with_get_is_a_204_naming_its_methods_before_the_token(api):
    # Next.js answers OPTIONS itself for a route module with GET: no handler, no token.
    for path, allow in (("/repos", "GET, HEAD, OPTIONS"), ("/runs/run_x", "GET, HEAD, OPTIONS"),
                        ("/sandboxes", "GET, HEAD, OPTIONS, POST")):
        answer = api.call("OPTIONS", path, token=None)
        assert (answer.status, answer.headers["allow"], answer.body) == (204, allow, b"")


def test_head_is_the_get_handler_without_its_body(api):
    get, head = api.call("GET", "/repos"), api.call("HEAD", "/repos")
    assert (head.status, head.body) == (200, b"")
    assert head.headers["content-length"] == get.headers["content-length"]
    refused = api.call("HEAD", "/repos", token=None)  # the same checks as GET
    assert (refused.status, refused.body) == (401, b"")


def test_every_answer_is_a_json_envelope_with_content_length(api):
    for answer in (api.call("GET", "/repos"), api.call("GET", "/repos", token=None)):
        assert answer.headers["content-type"] == "application/json"
        assert int(answer.headers["content-length"]) == len(answer.body)
        assert set(answer.json) in ({"ok", "data"}, {"ok", "error"})
    page = api.call("GET", "/x")  # no route: the server's page, as long as it says
    assert int(page.headers["content-length"]) == len(page.body) > 0


def test_keep_alive_serves_several_requests_on_one_connection(mogrun_emulator):
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", mogrun_emulator.port, timeout=5)
    headers = {"Authorization": f"Bearer {mogrun_emulator.read_token}"}
    try:
        for _ in range(3):
            conn.request("GET", "/api/v1/mogplex/repos", headers=headers)
            response = conn.getresponse()
            assert json.loads(response.read())["ok"] is True
            assert response.getheader("Connection") != "close"
    finally:
        conn.close()
    assert mogrun_emulator.count("GET", "/repos") == 3


def test_chunked_request_body_is_read(mogrun_emulator):
    import http.client
    import json

    body = json.dumps({"repoId": mogrun_emulator.repo_id("acme/web"), "prompt": "chunked"})
    conn = http.client.HTTPConnection("127.0.0.1", mogrun_emulator.port, timeout=5)
    headers = {"Authorization": f"Bearer {mogrun_emulator.write_token}",
               "Idempotency-Key": "chunky", "Content-Type": "application/json"}
    try:
        conn.request("POST", "/api/v1/mogplex/runs", iter([body[:10].encode(), body[10:].encode()]),
                     headers, encode_chunked=True)
        response = conn.getresponse()
        assert (response.status, json.loads(response.read())["data"]["replayed"]) == (202, False)
        conn.request("GET", "/api/v1/mogplex/repos", headers=headers)  # same connection
        assert conn.getresponse().status == 200
    finally:
        conn.close()
