"""mogrun.http.post_json: the plugins' webhook helper over the same transport."""

from __future__ import annotations

import json

import pytest

from mogrun.errors import TransportError, UsageError
from mogrun.http import post_json

from .loopback import loopback_server


def test_post_json_sends_json_and_returns_the_status():
    with loopback_server(204) as server:
        status = post_json(server.url + "/hooks/T0/secret-part", {"job": "a", "n": 1},
                           headers={"X-Team": "platform"})
    assert status == 204
    method, path, headers, body = server.received[0]
    assert (method, path) == ("POST", "/hooks/T0/secret-part")
    assert json.loads(body) == {"job": "a", "n": 1}
    assert headers["content-type"] == "application/json"
    assert headers["x-team"] == "platform"
    assert headers["user-agent"].startswith("mogrun/")
    assert "authorization" not in headers


def test_post_json_never_forwards_an_api_token():
    with loopback_server(200) as server:
        post_json(server.url, {}, headers={"Authorization": "Bearer mog_leaked"})
    assert "authorization" not in server.received[0][2]


def test_post_json_does_not_follow_redirects():
    with loopback_server(307, {"Location": "http://127.0.0.1:1/elsewhere"}) as server:
        assert post_json(server.url, {"a": 1}) == 307
    assert len(server.received) == 1


def test_post_json_refuses_non_loopback_http(no_sockets):
    with pytest.raises(UsageError):
        post_json("http://10.255.255.1/hook", {})
    assert no_sockets == []


def test_post_json_failure_names_only_the_host():
    with loopback_server(200) as server:
        url = server.url
    with pytest.raises(TransportError) as caught:
        post_json(url + "/hooks/very-secret-path", {}, timeout=1.0)
    assert caught.value.message.startswith(f"cannot connect to {url}")
    assert "very-secret-path" not in caught.value.message
    assert "very-secret-path" not in str(caught.value.request)
