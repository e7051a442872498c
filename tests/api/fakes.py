"""In-memory stand-ins for unit tests of budget and retry arithmetic only;
every HTTP behaviour is also proven against the emulator."""

from __future__ import annotations

import json
from collections.abc import Mapping

from mogrun.api.transport import Response


class FakeClock:
    """A monotonic clock that only moves when something sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def envelope(status: int, data=None, *, code: str | None = None, message: str = "",
             headers: Mapping[str, str] | None = None) -> Response:
    doc = {"ok": True, "data": data} if code is None else {
        "ok": False, "error": {"code": code, "message": message}}
    return Response(status, dict(headers or {}), json.dumps(doc).encode())


class ScriptedTransport:
    """Answers each request with the next scripted Response (or raises it)."""

    def __init__(self, answers: list) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, str, dict, bytes | None]] = []

    def send(self, method, url, *, headers, body, timeout, stop=None, on_slow=None):
        self.sent.append((method, url, dict(headers), body))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer
