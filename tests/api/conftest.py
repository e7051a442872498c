"""Clients pointed at the emulator over real loopback HTTP."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.transport import Urllib3Transport
from mogrun.errors import is_retryable


class QuickRetry:
    """A retry policy for tests: retry retryable errors a few times, fast,
    recording each call (the client itself honours Retry-After)."""

    def __init__(self, attempts: int = 4, delay: float = 0.01) -> None:
        self.attempts = attempts
        self.delay = delay
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> float | bool:
        self.calls.append(kwargs)
        assert is_retryable(kwargs["error"])  # the client offers nothing else
        return self.delay if kwargs["attempt"] <= self.attempts else False


@pytest.fixture
def make_client(mogrun_emulator) -> Callable[..., MogplexClient]:
    """``make_client(token=write, retry=None, budget=None, read_timeout=5, trace=None)``."""
    transports: list[Urllib3Transport] = []

    def make(*, token: str | None = None, retry: Any = None, budget: RequestBudget | None = None,
             read_timeout: float = 5.0, trace: Any = None) -> MogplexClient:
        transport = Urllib3Transport(read_timeout=read_timeout)
        transports.append(transport)
        return MogplexClient(
            mogrun_emulator.api_url, token or mogrun_emulator.write_token,
            transport=transport, budget=budget or RequestBudget(requests_per_minute=10_000),
            retry=retry, trace=trace)

    yield make
    for transport in transports:
        transport.close()


@pytest.fixture
def client(make_client) -> MogplexClient:
    return make_client()


@pytest.fixture
def no_sockets(monkeypatch):
    """Fail loudly (and record) if anything tries to open a connection."""
    attempts: list[object] = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise AssertionError(f"a socket was connected to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts
