"""Sandboxes as the server keeps them: one per (repo, working branch, root) and
user, reused while active, booted only under the account's cap and boot rates,
stopped by a reaper once idle.

Like runs, a sandbox's state is computed from wall-clock time on read: it is
busy while one of its runs is active (or, for an occupant, until its busy
time ends); its idle clock (``last_active_at``) starts when the last of them
ends. The reaper sweeps every ``period`` seconds from the emulator's start; a
sweep that finds the sandbox idle longer than ``idle`` marks it, the next one
stops it — so it stops between ``idle + period`` and ``idle + 2 * period``
after its last activity, as on the server (30 min idle, 5 min sweeps: 35-40 min).

An idle running sandbox can be paused (``Sandbox.pause``, as the server's
auto-pause does): ``pausing`` for a while, then ``paused``. A pausing sandbox
is not counted against the cap (the server's cap query counts ``creating``,
``installing``, ``running``) but a start of its triple still reuses it (the
server's reuse look-up takes ``ACTIVE_SANDBOX_STATUSES``, which has
``pausing``); a paused one is neither counted nor reused.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from mogrun.emulator.limits import REAL_IDLE, Limits, SlidingWindow
from mogrun.emulator.stamps import stored, timestamptz

ACTIVE = frozenset({"creating", "installing", "running"})
REUSED = ACTIVE | {"pausing"}  # what a start of the triple runs in (not all counted)
TOO_MANY = "Too many active sandboxes"
BOOT_RATE = "Sandbox boot rate limit exceeded"
BOOT_DAILY = "Daily sandbox boot quota exceeded"
DAY = 86400.0


class Tenant(Protocol):
    """What a sandbox needs of a run: when it ends (None: not known yet)."""

    def end(self) -> float | None: ...


@dataclass(frozen=True)
class Policy:
    """The sandbox rules in force: ``cap`` active per user (0: no cap), boot
    windows, idle timeout and reaper period (seconds)."""

    cap: int = 0
    idle: float = REAL_IDLE
    period: float = 300.0
    boots: tuple[tuple[int, float], ...] = ()

    @classmethod
    def of(cls, limits: Limits | None) -> Policy:
        """The policy of ``limits``; lifted limits (None) keep no cap and no boot
        rate, but sandboxes still idle and get reaped as on the server."""
        if limits is None:
            return cls(idle=REAL_IDLE, period=Limits().reaper_period)
        return cls(max(0, limits.sandboxes), limits.idle, limits.reaper_period, limits.boots)


@dataclass(frozen=True)
class Triple:
    """What a sandbox is for: runs with the same triple share it."""

    repo_id: str
    working_branch: str
    root_directory: str | None


class Sandbox:
    """One sandbox record. Mutated only under the emulator's lock.

    Its stop time is remembered (``stop_time``): whether it is active is asked
    of every sandbox at each start, and a fan-out of a thousand repos keeps a
    thousand of them. Whatever moves that time tells it (``changed``): a new
    tenant, a tenant's end moved by a cancel, an occupant released."""

    def __init__(self, user: str, triple: Triple, base_branch: str, created: float,
                 boot: float, busy_until: float | None = None) -> None:
        self.id = str(uuid.uuid4())  # the server's sandboxes table keys by UUID
        self.provider_id = "sbx_" + uuid.uuid4().hex[:16]
        self.user = user
        self.triple = triple
        self.base_branch = base_branch
        self.created = created
        self.boot = boot
        self.busy_until = busy_until  # occupants: busy until then (math.inf: for ever)
        self.tenants: list[Tenant] = []
        self.stopped_at: float | None = None
        self.paused: tuple[float, float] | None = None  # (pausing from, paused from)
        self._stop: tuple[Policy, float, float] | None = None  # (policy, epoch, stop time)

    def add(self, tenant: Tenant) -> None:
        """``tenant`` runs here from now on."""
        self.tenants.append(tenant)
        self.changed()

    def release(self, now: float) -> bool:
        """End an occupant's busy time now (True if it was still busy)."""
        if self.busy_until is None or self.busy_until <= now:
            return False
        self.busy_until = now
        self.changed()
        return True

    def pause(self, now: float, seconds: float) -> None:
        """Pause it now, as the server's auto-pause claims an idle running sandbox:
        ``pausing`` for ``seconds`` (the provider's stop), then ``paused``. The
        caller checked it is running and idle."""
        self.paused = (now, now + seconds)
        self.changed()

    def changed(self) -> None:
        """Its work changed: the stop time is worked out again when next asked."""
        self._stop = None

    def busy(self, now: float) -> bool:
        if self.busy_until is not None and now < self.busy_until:
            return True
        return any(_active(t, now) for t in self.tenants)

    def last_active(self, now: float) -> float:
        """The idle clock: ``now`` while busy, else when the last activity ended."""
        if self.busy(now):
            return now
        ends = [t.end() for t in self.tenants]
        moments = [self.created, *(e for e in ends if e is not None)]
        if self.paused is not None and self.paused[0] <= now:
            moments.append(self.paused[0])  # the pause claim sets last_active_at
        if self.busy_until is not None:
            moments.append(min(self.busy_until, now))
        return max(moments)

    def stop_time(self, policy: Policy, epoch: float) -> float:
        """When the reaper stops it if no new work comes (inf while some work has
        no end): the sweep after the idle clock's last activity plus ``idle``.
        Before then it is busy or idle, never stopped; after, it is stopped."""
        cached = self._stop
        if cached is not None and cached[0] is policy and cached[1] == epoch:
            return cached[2]
        ends = [t.end() for t in self.tenants]
        if None in ends or self.busy_until == math.inf or self.paused is not None:
            stop = math.inf  # a pausing or paused sandbox is not the reaper's here
        else:
            last = max([self.created, *ends, *(() if self.busy_until is None
                                               else (self.busy_until,))])
            stop = reap_time(last, policy, epoch)
        self._stop = (policy, epoch, stop)
        return stop

    def status(self, now: float, policy: Policy, epoch: float) -> str:
        if self.stopped_at is None:
            stop = self.stop_time(policy, epoch)
            if stop <= now:
                self.stopped_at = stop  # frozen: nothing can wake it any more
        if self.stopped_at is not None and self.stopped_at <= now:
            return "stopped"
        if self.paused is not None and self.paused[0] <= now:
            return "pausing" if now < self.paused[1] else "paused"
        if now < self.created + self.boot / 2:
            return "creating"
        return "installing" if now < self.created + self.boot else "running"

    def is_active(self, now: float, policy: Policy, epoch: float) -> bool:
        """Creating, installing or running: what the cap counts."""
        if (self.paused is None and self.stopped_at is None
                and now < self.stop_time(policy, epoch)):
            return True  # the common case: one remembered time, asked of every sandbox
        return self.status(now, policy, epoch) in ACTIVE

    def is_reused(self, now: float, policy: Policy, epoch: float) -> bool:
        """Active or pausing: what a start of its triple runs in."""
        return self.is_active(now, policy, epoch) or (
            self.paused is not None and self.status(now, policy, epoch) in REUSED)

    def as_json(self, now: float, policy: Policy, epoch: float) -> dict[str, Any]:
        """The sandbox as ``GET /sandboxes`` lists it and ``POST /sandboxes``
        answers it (the server's ``toMogplexApiSandbox``, the same fields)."""
        status = self.status(now, policy, epoch)
        return {
            "id": self.id,
            "sandbox_id": "pending" if status == "creating" else self.provider_id,
            "repo_id": self.triple.repo_id,
            "status": status,
            "base_branch": self.base_branch,
            "working_branch": self.triple.working_branch,
            "root_directory": self.triple.root_directory,
            "preview_url": None,
            "created_at": timestamptz(self.created),
            "last_active_at": timestamptz(self.last_active(now)),
            "error": None,
        }


def _active(tenant: Tenant, now: float) -> bool:
    end = tenant.end()
    return end is None or now < end


def reap_time(last_active: float, policy: Policy, epoch: float) -> float:
    """When the reaper stops a sandbox idle since ``last_active``: the sweep after
    the first sweep that sees it idle for longer than ``policy.idle``."""
    first = epoch + (math.floor((last_active + policy.idle - epoch) / policy.period) + 1) \
        * policy.period
    return first + policy.period


class Sandboxes:
    """Every sandbox of every user, and the boot counters. Caller holds the lock."""

    def __init__(self, policy: Policy, epoch: float) -> None:
        self.policy = policy
        self.epoch = epoch
        self.all: list[Sandbox] = []
        self.peak: dict[str, int] = {}  # user -> most sandboxes active at once
        self._live: dict[str, list[Sandbox]] = {}  # user -> those not known to be stopped
        self._by_triple: dict[tuple[str, Triple], list[Sandbox]] = {}
        self._boots = [SlidingWindow(n, w) for n, w in policy.boots]

    def set_policy(self, policy: Policy) -> None:
        """New rules; the sandboxes stay, the boot counts start again."""
        self.policy = policy
        self._boots = [SlidingWindow(n, w) for n, w in policy.boots]

    def active(self, user: str, now: float) -> list[Sandbox]:
        """``user``'s sandboxes not yet stopped (those found stopped are let go:
        a stopped sandbox never wakes)."""
        live = self._live.get(user, [])
        policy, epoch = self.policy, self.epoch
        active = [s for s in live if s.is_active(now, policy, epoch)]
        if len(active) < len(live):
            self._live[user] = [s for s in live if s.stopped_at is None or s.stopped_at > now]
        return active

    def find(self, user: str, triple: Triple, now: float) -> Sandbox | None:
        """The newest active or pausing sandbox of ``user`` for ``triple``, as the
        server reuses."""
        matching = [s for s in self._by_triple.get((user, triple), ())
                    if s.is_reused(now, self.policy, self.epoch)]
        return max(matching, key=lambda s: s.created, default=None)

    def refusal(self, user: str, now: float) -> str | None:
        """Why a new sandbox may not boot now (the server's message), or None."""
        if self.policy.cap and len(self.active(user, now)) >= self.policy.cap:
            return TOO_MANY
        for window in self._boots:
            if window.wait(user, now) > 0:
                return BOOT_DAILY if window.seconds >= DAY else BOOT_RATE
        return None

    def boot(self, user: str, triple: Triple, base_branch: str, now: float,
             boot: float) -> Sandbox:
        """A new sandbox (the caller checked ``refusal``); counts against the boot rates."""
        for window in self._boots:
            window.record(user, now)
        return self._add(Sandbox(user, triple, base_branch, now, boot), now)

    def occupy(self, user: str, triple: Triple, base_branch: str, now: float,
               busy: float | None) -> Sandbox:
        """A sandbox held by other work of ``user`` for ``busy`` seconds (None: for
        ever), already running; it ignores the cap, as work that was there first."""
        until = math.inf if busy is None else now + busy
        return self._add(Sandbox(user, triple, base_branch, now, 0.0, busy_until=until), now)

    def pause(self, sandbox_id: str, now: float, seconds: float) -> Sandbox:
        """Pause the sandbox of record id ``sandbox_id`` now, for ``seconds`` of
        ``pausing``; ValueError unless it is running and idle, as the server's
        auto-pause claims only such a one (no run pending or streaming in it, no
        session attached: an occupant's busy time)."""
        sandbox = next((s for s in self.all if s.id == sandbox_id), None)
        if sandbox is None:
            raise ValueError(f"no sandbox {sandbox_id!r}")
        status = sandbox.status(now, self.policy, self.epoch)
        if status != "running" or sandbox.busy(now):
            raise ValueError(f"only an idle running sandbox pauses; {sandbox_id} is "
                             f"{'busy' if status == 'running' else status}")
        sandbox.pause(now, seconds)
        return sandbox

    def _add(self, sandbox: Sandbox, now: float) -> Sandbox:
        self.all.append(sandbox)
        self._live.setdefault(sandbox.user, []).append(sandbox)
        self._by_triple.setdefault((sandbox.user, sandbox.triple), []).append(sandbox)
        active = len(self.active(sandbox.user, now))
        self.peak[sandbox.user] = max(self.peak.get(sandbox.user, 0), active)
        return sandbox

    def row(self, sandbox: Sandbox, now: float) -> dict[str, Any]:
        """``sandbox`` as the API answers it, under the rules in force."""
        return sandbox.as_json(now, self.policy, self.epoch)

    def listing(self, user: str, now: float, *, repo_id: str | None = None,
                status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """``GET /sandboxes``: exact filters, newest ``last_active_at`` first (as
        the column compares: to the microsecond, not as text)."""
        found = [(s, self.row(s, now)) for s in self.all if s.user == user]
        found = [(s, r) for s, r in found if (repo_id is None or r["repo_id"] == repo_id)
                 and (status is None or r["status"] == status)]
        found.sort(key=lambda f: (stored(f[0].last_active(now)), stored(f[0].created)),
                   reverse=True)
        return [r for _, r in found[:limit]]
