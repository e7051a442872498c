"""Rate limits as the real server applies them: requests per token in a sliding
window, and run starts per user and token in several windows. A refusal carries
the whole seconds (rounded up) until a slot frees, for ``Retry-After``."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mogrun.durations import format_duration
from mogrun.emulator.directives import whole
from mogrun.emulator.durations import parse_seconds

REAL_STARTS: tuple[tuple[int, float], ...] = ((10, 60.0), (30, 3600.0), (150, 86400.0))
REAL_BOOTS: tuple[tuple[int, float], ...] = ((120, 3600.0), (10_000, 86400.0))
REAL_IDLE = 1800.0  # the workspace idle timeout's default: 30 minutes
REAPER_PERIOD = 300.0  # the server's sandbox reaper runs every 5 minutes
LOCAL_IDLE = 2.0  # ``mogrun --local``: sandboxes free up seconds after their run


@dataclass(frozen=True)
class Limits:
    """Request limit per token (``requests`` per ``window`` s) and run-start windows
    per user and token (``(count, seconds)`` pairs). ``requests <= 0`` lifts the request limit.

    Sandboxes: at most ``sandboxes`` active per user (``<= 0``: no cap), ``boots``
    windows per user, and an idle sandbox is stopped by the reaper after ``idle``
    seconds (see ``reaper_period``)."""

    requests: int = 60
    window: float = 60.0
    starts: tuple[tuple[int, float], ...] = REAL_STARTS
    sandboxes: int = 3
    idle: float = REAL_IDLE
    boots: tuple[tuple[int, float], ...] = REAL_BOOTS
    reap: float | None = None

    @classmethod
    def real(cls) -> Limits:
        """The limits of mogplex.com: 60/60 s per token; starts 10/min, 30/h, 150/day;
        3 active sandboxes, 120 boots/h, 10,000/day, 30 minutes idle timeout."""
        return cls()

    @classmethod
    def local(cls) -> Limits:
        """``mogrun --local``: the real limits, the cap of 3 active sandboxes
        included, but an idle sandbox freed seconds after its run, not half an
        hour: a fan-out wider than the cap, or a needs chain, waits for a slot as
        it would on the server (and says so), for seconds."""
        return cls(idle=LOCAL_IDLE)

    def at_least(self, requests: int, starts: Sequence[tuple[int, float]],
                 sandboxes: int | None) -> Limits:
        """These limits raised to an account's plan where it is bigger: ``requests``
        per minute, ``starts`` (count, seconds) for the windows these have, and
        ``sandboxes`` (``None``: not known). A smaller value is a client's own
        restraint, not the server's limit: it is left as it is. A lifted limit
        stays lifted."""
        declared = dict((span, count) for count, span in starts)
        raised = replace(self, starts=tuple((max(count, declared.get(span, 0)), span)
                                            for count, span in self.starts))
        if self.requests > 0 and self.window == 60.0:
            raised = replace(raised, requests=max(self.requests, requests))
        if sandboxes is not None and self.sandboxes > 0:
            raised = replace(raised, sandboxes=max(self.sandboxes, sandboxes))
        return raised

    @property
    def reaper_period(self) -> float:
        """Seconds between two reaper sweeps: ``reap``, else as the server (5
        minutes) but at most a sixth of ``idle`` so short idle times stay short."""
        return self.reap if self.reap is not None else min(REAPER_PERIOD, self.idle / 6)

    @classmethod
    def parse(cls, spec: str) -> Limits:
        """``"60/60s,starts=10/60s,starts=30/1h"``: a bare ``N/WINDOW`` (or
        ``requests=N/WINDOW``) sets the request limit; ``starts=`` items replace
        the start windows (``starts=none`` removes them)."""
        fields: dict[str, object] = {}
        windows: dict[str, list[tuple[int, float]]] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            name, sep, value = item.partition("=")
            if not sep:
                name, value = "requests", item
            _parse_item(name.strip(), value.strip(), fields, windows, spec)
        fields.update({name: tuple(found) for name, found in windows.items()})
        return replace(cls(), **fields)  # type: ignore[arg-type]

    def describe(self) -> str:
        """The limits in the syntax ``parse`` reads."""
        parts = [f"{self.requests}/{_fmt(self.window)}" if self.requests > 0
                 else "requests=none"]
        parts += [f"starts={n}/{_fmt(w)}" for n, w in self.starts] or ["starts=none"]
        parts.append(f"sandboxes={self.sandboxes}" if self.sandboxes > 0 else "sandboxes=none")
        parts.append(f"idle={format_duration(self.idle)}")
        parts += [f"boots={n}/{_fmt(w)}" for n, w in self.boots] or ["boots=none"]
        if self.reap is not None:
            parts.append(f"reap={format_duration(self.reap)}")
        return ",".join(parts)


_NAMES = "requests=, starts=, sandboxes=, idle=, boots= or reap="


def _parse_item(name: str, value: str, fields: dict[str, object],
                windows: dict[str, list[tuple[int, float]]], spec: str) -> None:
    """One ``name=value`` of a ``--limits`` spec into ``fields``/``windows``."""
    if name == "requests":
        fields["requests"], fields["window"] = (0, 60.0) if value == "none" else _rate(value)
    elif name in ("starts", "boots"):
        found = windows.setdefault(name, [])
        if value != "none":
            found.append(_rate(value))
    elif name == "sandboxes":
        fields["sandboxes"] = 0 if value == "none" else _count(value)
    elif name in ("idle", "reap"):
        seconds = parse_seconds(value)
        if seconds <= 0:  # the reaper's period comes from both: zero would divide by it
            raise ValueError(f"{name} must be positive, got {value!r}")
        fields[name] = seconds
    else:
        raise ValueError(f"unknown limit {name!r} in {spec!r} (use {_NAMES})")


def _count(text: str) -> int:
    count = whole(text, 1)
    if count is None:
        raise ValueError(f"sandboxes must be a whole number of at least 1 (or none), "
                         f"got {text!r}")
    return count


def _rate(text: str) -> tuple[int, float]:
    written, sep, window = text.strip().partition("/")
    if not sep or whole(written.strip(), 0) is None:
        raise ValueError(f"expected COUNT/WINDOW such as 60/60s, got {text!r}")
    count = whole(written.strip(), 1)
    if count is None:  # no start at all is --limits with that limit at 1 and a long window
        raise ValueError(f"a limit's count must be at least 1, got {text!r}")
    seconds = parse_seconds(window)
    if seconds <= 0:
        raise ValueError(f"a limit window must be positive, got {text!r}")
    return count, seconds


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
        self._requests = None if limits is None or lifted else \
            SlidingWindow(limits.requests, limits.window)
        self._starts = [SlidingWindow(n, w) for n, w in (limits.starts if limits else ())]

    def take_request(self, token: str, now: float) -> float:
        """Count one request for ``token``; the wait instead if its window is full."""
        if self._requests is None:
            return 0.0
        wait = self._requests.wait(token, now)
        if wait <= 0:
            self._requests.record(token, now)
        return wait

    def request_window(self, token: str, now: float) -> str | None:
        """``take_request`` as the server answers it: ``None`` when counted, else
        the whole window as ``Retry-After`` (the server always sends its 60 s,
        not the time until a slot frees)."""
        if self.take_request(token, now) <= 0:
            return None
        assert self.limits is not None
        return retry_after_header(self.limits.window)

    def take_start(self, key: str, now: float) -> tuple[float, float]:
        """Count one run start for ``key`` (the server counts per user and token) in
        every window, or refuse as the server does: the first full window, in the
        order given, with its wait and length (0.0, 0.0 when counted)."""
        for window in self._starts:
            wait = window.wait(key, now)
            if wait > 0:
                return wait, window.seconds
        for window in self._starts:
            window.record(key, now)
        return 0.0, 0.0
