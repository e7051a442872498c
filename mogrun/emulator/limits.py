"""Rate limits as the real server applies them: requests per token in a sliding
window, and run starts per user in several windows at once. A refusal carries
the whole seconds (rounded up) until a slot frees, for ``Retry-After``."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from mogrun.emulator.durations import parse_seconds

REAL_STARTS: tuple[tuple[int, float], ...] = ((10, 60.0), (30, 3600.0), (150, 86400.0))


@dataclass(frozen=True)
class Limits:
    """Request limit per token (``requests`` per ``window`` s) and run-start windows
    per user (``(count, seconds)`` pairs). ``requests <= 0`` lifts the request limit."""

    requests: int = 60
    window: float = 60.0
    starts: tuple[tuple[int, float], ...] = REAL_STARTS

    @classmethod
    def real(cls) -> Limits:
        """The limits of mogplex.com: 60/60 s per token; starts 10/min, 30/h, 150/day."""
        return cls()

    @classmethod
    def parse(cls, spec: str) -> Limits:
        """``"60/60s,starts=10/60s,starts=30/1h"``: a bare ``N/WINDOW`` (or
        ``requests=N/WINDOW``) sets the request limit; ``starts=`` items replace
        the start windows (``starts=none`` removes them)."""
        requests, window = cls.requests, cls.window
        starts: list[tuple[int, float]] | None = None
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            name, sep, value = item.partition("=")
            if not sep:
                name, value = "requests", item
            name = name.strip()
            if name == "requests":
                requests, window = _rate(value)
            elif name == "starts":
                starts = starts if starts is not None else []
                if value.strip() != "none":
                    starts.append(_rate(value))
            else:
                raise ValueError(f"unknown limit {name!r} in {spec!r} (use requests= or starts=)")
        return cls(requests, window, tuple(starts) if starts is not None else REAL_STARTS)

    def describe(self) -> str:
        """The limits in the syntax ``parse`` reads."""
        parts = [f"{self.requests}/{_fmt(self.window)}"]
        parts += [f"starts={n}/{_fmt(w)}" for n, w in self.starts] or ["starts=none"]
        return ",".join(parts)


def _rate(text: str) -> tuple[int, float]:
    count, sep, window = text.strip().partition("/")
    if not sep or not count.strip().isdigit():
        raise ValueError(f"expected COUNT/WINDOW such as 60/60s, got {text!r}")
    seconds = parse_seconds(window)
    if seconds <= 0:
        raise ValueError(f"a limit window must be positive, got {text!r}")
    return int(count), seconds


def _fmt(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


class SlidingWindow:
    """At most ``count`` events per ``seconds`` for each key (a log of times)."""

    def __init__(self, count: int, seconds: float) -> None:
        self.count = count
        self.seconds = seconds
        self._times: dict[str, deque[float]] = {}

    def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` may act again (0.0 if it may act now)."""
        times = self._times.setdefault(key, deque())
        while times and times[0] <= now - self.seconds:
            times.popleft()
        if len(times) < self.count:
            return 0.0
        return times[len(times) - self.count] + self.seconds - now

    def record(self, key: str, now: float) -> None:
        self._times.setdefault(key, deque()).append(now)


def retry_after_header(wait: float) -> str:
    """Whole seconds, rounded up, never 0 (a client must wait at least a second)."""
    return str(max(1, math.ceil(wait - 1e-9)))


class Limiter:
    """The live counters for one ``Limits``; the caller holds the state lock."""

    def __init__(self, limits: Limits | None) -> None:
        self.limits = limits
        lifted = limits is None or limits.requests <= 0
        self._requests = None if lifted else SlidingWindow(limits.requests, limits.window)
        self._starts = [SlidingWindow(n, w) for n, w in (limits.starts if limits else ())]

    def take_request(self, token: str, now: float) -> float:
        """Count one request for ``token``; the wait instead if its window is full."""
        if self._requests is None:
            return 0.0
        wait = self._requests.wait(token, now)
        if wait <= 0:
            self._requests.record(token, now)
        return wait

    def take_start(self, user: str, now: float) -> float:
        """Count one run start for ``user`` in every window, or the longest wait."""
        wait = max((w.wait(user, now) for w in self._starts), default=0.0)
        if wait <= 0:
            for window in self._starts:
                window.record(user, now)
        return wait
