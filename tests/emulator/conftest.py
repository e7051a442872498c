"""An HTTP helper speaking to the emulator with the stdlib only (never mogrun's client)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from mogrun.emulator import Emulator


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def data(self) -> Any:
        assert self.json["ok"] is True, self.json
        return self.json["data"]

    @property
    def code(self) -> str:
        assert self.json["ok"] is False, self.json
        return self.json["error"]["code"]

    @property
    def message(self) -> str:
        return self.json["error"]["message"]


class Http:
    """Plain requests to one emulator over a fresh connection each time."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.token: str | None = emulator.write_token

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = "default",
             key: str | None = None, headers: dict[str, str] | None = None,
             raw: bytes | None = None, api: bool = True) -> Answer:
        url = urlsplit(self.emulator.url)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        sent = dict(headers or {})
        token = self.token if token == "default" else token
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if key is not None:
            sent["Idempotency-Key"] = key
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if payload is not None:
            sent["Content-Type"] = "application/json"
        try:
            conn.request(method, ("/api/v1/mogplex" if api else "") + path, payload, sent)
            response = conn.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                          response.read())
        finally:
            conn.close()

    def start(self, prompt: str = "do it", key: str = "key-1", repo: str = "acme/api",
              **fields: Any) -> Answer:
        body = {"repoId": self.emulator.repo_id(repo), "prompt": prompt, **fields}
        return self.call("POST", "/runs", body, key=key)


@pytest.fixture
def api(mogrun_emulator: Emulator) -> Http:
    return Http(mogrun_emulator)
