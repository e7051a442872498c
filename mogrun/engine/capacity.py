"""Sandbox slots: never start more runs needing a new sandbox than are free.

Every run needs a sandbox for its (repo, working branch, root); the server
reuses an active one with the same triple and otherwise boots one only while
the account has fewer than its cap active (``[mogplex] sandboxes``, default
3) — a sandbox stays active until it has been idle for the workspace's idle
timeout. So before a start that needs a new sandbox, ``SandboxSlots`` reads
``GET /sandboxes`` (one request, inside the budget) and counts the active
ones plus the sandboxes this invocation's own starts are booting. A run that
shares a triple already active never waits; nor does one whose triple's
sandbox is ``pausing`` (the server reuses it, though its cap counts only
``creating``, ``installing``, ``running``). When the account is full the run
waits — announced as a CAPACITY wait — re-reading the list each poll
interval, until a slot frees or its ``capacity_wait`` runs out.

The server refuses a boot for three reasons (``BootRefusal``): the account's
active sandboxes are at the cap, or a boot window (120 an hour, 10,000 a day)
is spent. Only the first says anything of the cap; after the others a new
sandbox is held back for a while (``BootHold``), whatever slots are free.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, NamedTuple

from mogrun.durations import event_clock, format_duration, parse_moment
from mogrun.engine.boothold import BootHold
from mogrun.engine.kinds import Sandbox
from mogrun.engine.lifecycle import Observer
from mogrun.engine.track import RunTrack
from mogrun.errors import Interrupted, MogrunError
from mogrun.models import CREATED_BRANCH_PREFIX, NEW_BRANCH
from mogrun.runs import RunState
from mogrun.taskfile.limits import server_root
from mogrun.waits import Wait, WaitKind, clock_in

ACTIVE = frozenset({"creating", "installing", "running"})
# Listed but not counted: a start of its triple still runs there (the server reuses a
# ``pausing`` sandbox, and its cap counts only ``ACTIVE``).
PAUSING = "pausing"
PAUSED = frozenset({PAUSING, "paused"})  # paused by the server, not reaped
BOOTING_ID = "pending"  # a listed sandbox's ``sandbox_id`` until its VM exists
# How long a sandbox whose booting run ended before it was listed (a detached start)
# is taken as booting: the server lists it once the run's task launches it, seconds
# after the start; one never listed by then was not booted (refused, say).
UNLISTED_BOOT = 30.0
IDLE_HINT = "a sandbox frees once idle for the workspace's idle timeout (30m by default)"

Lister = Callable[[Any, float | None], list[dict[str, Any]]]  # (job, deadline) -> sandboxes
Namer = Callable[[str], str | None]  # repo id -> owner/name (one look-up), None: unknown
SHOWN = 5  # busy sandboxes a message names
# Blind (the list unreadable): the list is tried again after BLIND_HOLD, and a start
# refused for capacity holds the next one back BLIND_HOLD, doubling to BLIND_HOLD_MAX.
BLIND_HOLD = 5.0
BLIND_HOLD_MAX = 60.0
# The least time a listing is fresh, and between two: a poll interval of 1 us
# (MOGRUN_POLL_INTERVAL=0.000001 is accepted) made each listing stale before
# it was read, and every start waited on "0 of 10 busy".
LISTING_FLOOR = 0.05
RESAY = 30.0  # seconds between looks at whether a capacity wait's reason changed
JOIN_LOOK = 0.25  # seconds between a run's looks while it waits for a sandbox to boot


class BootRefusal(StrEnum):
    """Why the server refused to boot a sandbox, as the refused run's ``error`` says
    (casefolded; the server checks them in this order)."""

    CAP = "too many active sandboxes"
    HOURLY = "sandbox boot rate limit exceeded"
    DAILY = "daily sandbox boot quota exceeded"

    @classmethod
    def of(cls, error: str) -> BootRefusal | None:
        """The refusal ``error`` names, or ``None`` for any other failure."""
        try:
            return cls(error.strip().casefold())
        except ValueError:
            return None

    @property
    def limit(self) -> str:
        """The server's limit that refused it, as messages name it."""
        return {BootRefusal.CAP: "sandbox cap", BootRefusal.HOURLY: "boot rate limit",
                BootRefusal.DAILY: "daily boot quota"}[self]


# The run's ``error`` when it joined its triple's sandbox still booting (no VM yet):
# the server's harness refuses such a sandbox, and the run failed having done nothing.
NOT_READY = "Sandbox is not ready"


def joined_unready(error: str) -> bool:
    """Whether a failed run's ``error`` is ``NOT_READY``: it joined a sandbox still
    booting (one another client, or another mogrun, was booting, not yet listed)."""
    return error.strip().casefold() == NOT_READY.casefold()


def is_refusal(error: str) -> bool:
    """Whether a failed run's ``error`` says the server refused it before it did
    anything, so a new attempt is safe: a boot refused (``BootRefusal``), or a
    sandbox joined before it had its VM (``NOT_READY``)."""
    return BootRefusal.of(error) is not None or joined_unready(error)


class NoSlot(MogrunError):
    """No sandbox slot freed within the run's ``capacity_wait``."""


class Busy(NamedTuple):
    """One active sandbox as ``GET /sandboxes`` listed it. A tuple: a listing of 200
    is read before each start that needs a slot (every start of a sequential
    fan-out), and a frozen dataclass took longer to build than the JSON to decode."""

    sid: str
    repo_id: str
    working_branch: str | None
    base_branch: str | None
    root: str | None
    status: str
    last_active: str

    @classmethod
    def of(cls, box: Mapping[str, Any], status: str) -> Busy:
        """One listed sandbox of ``status``: its fields as text (``None`` where the
        server has none); the server's are text already, and kept as they are."""
        get = box.get
        sid, repo, working, base, root, active = (
            get("id"), get("repo_id"), get("working_branch"), get("base_branch"),
            get("root_directory"), get("last_active_at"))
        return tuple.__new__(cls, (  # the fields in order, without the generated __new__
            sid if type(sid) is str else _text(sid) or "",
            repo if type(repo) is str else _text(repo) or "",
            working if type(working) is str else _text(working),
            base if type(base) is str else _text(base),
            root if type(root) is str else _text(root), status,
            active if type(active) is str else _text(active) or ""))

    def serving(self) -> tuple[_Triple, ...]:
        """The ``_key`` of every run this sandbox serves: the same repo and root and,
        when the run names a working branch, that branch (without one, the run works
        on its base branch, as does a sandbox whose two branches agree). Looked up
        in a set, so a fan-out over many repos is not a scan of the listing per start."""
        root = server_root(self.root)
        keys: list[_Triple] = [(self.repo_id, root, self.working_branch)] if (
            self.working_branch is not None) else []
        if self.working_branch == self.base_branch:
            keys.append((self.repo_id, root, None))
        return tuple(keys)


_Triple = tuple[str, str | None, str | None]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _status(value: Any) -> str:
    return value if type(value) is str else str(value or "")


def capacity_wait_said(job: Any) -> str:
    """``capacity_wait (10m)``: the job's, as a failure names it."""
    wait = getattr(job, "capacity_wait", None)
    return "capacity_wait" if wait is None else f"capacity_wait ({format_duration(wait)})"


def sandbox_placed(state: RunState) -> bool:
    """Whether the run has its sandbox: it streams (or has passed), or its RunDetail
    names a sandbox record. A run refused a boot stays ``pending`` with none, then
    fails."""
    return state.status in ("streaming", "success") or bool(state.raw.get("sandboxRecordId"))


class BootWatch(Observer):
    """Tells ``slots`` when a run this invocation started has its sandbox (a
    status, or the start's answer, says so): a boot that succeeded ends the
    doubling of the boot hold. A run only attached to booted nothing now."""

    def __init__(self, slots: SandboxSlots) -> None:
        self.slots = slots

    def run_started(self, track: RunTrack) -> None:
        self._seen(track, track.state)

    def status(self, track: RunTrack, old: str | None, state: RunState) -> None:
        self._seen(track, state)

    def _seen(self, track: RunTrack, state: RunState | None) -> None:
        if state is not None and not track.attached and sandbox_placed(state):
            self.slots.booted(track)


def _key(want: Sandbox) -> _Triple:
    return (want.repo_id, server_root(want.root_directory), want.working_branch)


class SandboxSlots:
    """The account's sandbox slots as this invocation sees them (thread-safe)."""

    def __init__(self, cap: int, lister: Lister, *, interval: Callable[[], float],
                 stop: threading.Event, names: Mapping[str, str] | None = None,
                 warn: Callable[[str], None] = lambda text: None,
                 legs: int = 1, name_of: Namer | None = None,
                 branches: Mapping[str, frozenset[str | None]] | None = None) -> None:
        self.cap = max(1, cap)
        # One of N shard legs sharing the account: at most 1/N of the slots may hold
        # this leg's own repos (``names``), so the legs never race for the last one.
        self.legs = legs
        self.share = max(1, self.cap // legs) if legs > 1 else None
        self.lister = lister
        self.interval = interval
        self.stop = stop
        self.names = dict(names or {})  # repo id -> owner/name, for messages
        # repo id -> the working branches this leg's runs there work on (their
        # ``sandbox_branch``): a listed sandbox on one of its repos is the leg's own only
        # on one of them (``_is_own``); ``None``: any sandbox on its repos is.
        self.branches = dict(branches) if branches is not None else None
        # The account's other repos, named once each when a message shows them.
        self._name_of = name_of
        self._other_names: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self._busy: list[Busy] = []
        self._serves: frozenset[_Triple] = frozenset()  # what the listed ones serve
        # ... those served only by a sandbox still booting (no VM yet: ``sandbox_id``
        # "pending"): the server hands such a one to a start of its triple, whose
        # harness then refuses it ("Sandbox is not ready"), so a start waits for it.
        self._unready: frozenset[_Triple] = frozenset()
        # Triples whose sandbox a run of ours was booting when it ended (detached, say),
        # not listed since: -> when. Taken as booting for ``UNLISTED_BOOT`` at most.
        self._booted_unlisted: dict[_Triple, float] = {}
        # Triples the server refused a boot for though a listing seemed to serve them (a
        # sandbox reaped since, a default branch guessed wrong): from then on, a start
        # for one waits for a free slot, never again taken to share.
        self._unshared: set[_Triple] = set()
        self._own_serve: frozenset[_Triple] = frozenset()  # ... those of this leg's repos
        self._claims: dict[int, Sandbox] = {}  # id(owner) -> sandbox its start may boot
        self._claimed: dict[Sandbox, int] = {}  # sandbox -> how many claims (each once)
        # Sandboxes of runs that ended since the listing was read: still active on the
        # server (idle until reaped), so still counted until a listing says otherwise.
        self._released: set[Sandbox] = set()
        self._pending: set[Sandbox] = set()  # claimed or released, not in the listing
        # id(owner) of each run waiting for a new slot, in the order they came to wait.
        self._waiting: dict[int, None] = {}
        self.warn = warn
        # The list could not be read: start, and let refusals tell; read it again
        # after a while, and at once after a refusal (a burst of 503s is not forever).
        self._blind = False
        self._read_again_at = 0.0  # blind: no GET /sandboxes before this time
        self._hold_until = 0.0  # blind: after a refusal, no start before this time
        self._blind_hold = 0.0  # blind: that pause, doubled at each refusal
        self._blind_refusals = 0  # starts refused for capacity while blind (for a message)
        self._listed_at = -1e9  # when the listing was read (monotonic)
        self._reading = threading.Lock()  # one GET /sandboxes at a time
        self.idle: float | None = None  # the idle timeout, learnt from a sandbox that went
        # A boot refused for a boot window holds new sandboxes back; a claim that boots
        # one (id(owner) -> when claimed), once booted, ends the hold's doubling.
        self.boot_hold = BootHold()
        self._boot_claims: dict[int, float] = {}

    def acquire(self, owner: object, want: Sandbox, deadline: float,
                announce: Callable[[Wait], None], label: str = "", job: Any = None) -> None:
        """Return once ``owner`` may start a run needing ``want``; raise ``NoSlot``
        at ``deadline`` (a ``time.monotonic`` time) or ``Interrupted`` at a signal."""
        said, said_at = "", 0.0  # the wait as last announced, and when
        try:
            while True:
                # A listing serves every start for one poll interval.
                max_age = max(LISTING_FLOOR, self.interval())
                if self._try(owner, want, max_age):
                    return
                self._refresh(max_age, job, deadline)  # one listing per interval, all waiters
                if self._try(owner, want, max_age):
                    return
                now = time.monotonic()
                left = deadline - now
                with self._lock:
                    joining = self._joins_booting(owner, want)
                    outlasts = not joining and self.boot_hold.outlasts(deadline)
                if left <= 0:
                    raise NoSlot(self.not_booted(want, job) if joining else self.exhausted(job))
                if outlasts:  # it cannot boot in time: said now, not after a silent wait
                    raise NoSlot(self.held_past(deadline, job))
                if not said or now - said_at >= RESAY:  # a long wait says what it waits for
                    described = self.describe_booting(want) if joining else self.describe(owner)
                    if described != said:
                        announce(Wait.for_seconds(WaitKind.CAPACITY, described, left,
                                                  run=label or None,
                                                  job=getattr(job, "name", None)))
                    said, said_at = described, now
                # A boot of this invocation's own ends without a listing saying so (its
                # start may never reach the server): a run waiting for it looks again soon.
                look = min(self._next_look(), JOIN_LOOK) if joining else self._next_look()
                if self.stop.wait(min(look, left)):
                    raise Interrupted(130, "interrupted while waiting for a sandbox slot")
                # Past the deadline after a wait, no start: blind, the next try took a
                # slot and started an attempt after the capacity_wait had ended.
                if time.monotonic() >= deadline:
                    with self._lock:
                        joining = self._joins_booting(owner, want)
                    raise NoSlot(self.not_booted(want, job) if joining else self.exhausted(job))
        finally:
            with self._lock:
                self._waiting.pop(id(owner), None)

    def can_start_now(self, want: Sandbox) -> bool:
        """Whether a run needing ``want`` would start without waiting (as last seen),
        as ``_try`` decides: one that shares a sandbox still booting waits for its VM,
        so the scheduler gives a worker to another run first."""
        with self._lock:
            if self._shared(want) or self._ours(want):
                return not self._joins_booting(None, want)
            if self.boot_hold.held(time.monotonic()):
                return False
            return self._blind or self._used() + len(self._waiting) < self.cap

    def release(self, owner: object, *, refused: str | None = None, sent: bool = True) -> None:
        """``owner``'s run ended: its sandbox, if any, stays active on the server
        until reaped, so it is counted until the next listing says. A run the server
        refused (``refused``: its error, ``is_refusal``) made none: it is not counted
        as booting. One that joined a sandbox still booting (``NOT_READY``) leaves
        its triple to the next listing, read before the next start of it: that
        start waits for the sandbox's VM (``_joins_booting``). A start that never
        reached the server (``sent=False``: a 4xx, a 429 given up; no run, and
        none that may exist) booted nothing: no run of its triple waits for it,
        and it takes no slot."""
        booted = refused is None
        with self._lock:
            booting = id(owner) in self._boot_claims
            want = self._unclaim(owner)
            if want is None or not sent:
                return
            if refused is not None and joined_unready(refused):
                self._listed_at = -1e9  # the listing read before that boot says nothing
                return
            if not booted:
                self._unshared.add(_key(want))
            elif _key(want) not in self._serves:
                if booting:
                    self._booted_unlisted[_key(want)] = time.monotonic()
                self._released.add(want)
                self._pending.add(want)

    def refused(self, job: Any = None, error: str = "",
                sent_at: float | None = None) -> str | None:
        """The server refused a boot (``error``, the run's, whose start was answered
        at ``sent_at``). For want of a slot, it counts fewer than ``cap``: re-read the
        list and take what is active now as the cap (a message when it is lower). For
        a boot window, the cap stands: new sandboxes are held back instead (a message
        saying so). A run that joined a sandbox still booting (``NOT_READY``) had no
        boot refused: the cap stands, and only a blind start is held back."""
        why = BootRefusal.of(error)
        if why is not None and why is not BootRefusal.CAP:
            return self._hold_boots(why, error.strip(), sent_at)
        with self._lock:
            if self._blind:  # each refusal waits longer: a start spent is a start lost
                self._blind_refusals += 1
                self._blind_hold = min(BLIND_HOLD_MAX, max(BLIND_HOLD, self.interval(),
                                                           2 * self._blind_hold))
                self._hold_until = time.monotonic() + self._blind_hold
                self._read_again_at = 0.0  # and the list is tried again first (by the
                return None  # next attempt's wait, within its deadline: not here, unbound)
            if joined_unready(error):  # no boot was refused: the cap stands
                return None
            # Active as the last listing showed them: the listing read next may come
            # after some were reaped (a short idle timeout), and took "1 active" for a
            # 3-slot account, which then ran one sandbox at a time. (Not our starts
            # in flight: the server may refuse those too.)
            known = len(self._busy)
        self._refresh(0.0, job, None)
        with self._lock:
            if self._blind:
                return None
            active = max(len(self._busy), known)
            if active == 0 or active >= self.cap:
                return None
            self.cap = active
        return (f"the server refused a sandbox with {active} active: taking {active} as the "
                "account's sandbox cap (set [mogplex] sandboxes to match)")

    def _hold_boots(self, why: BootRefusal, error: str, sent_at: float | None) -> str:
        """A boot window is spent: no new sandbox for a while, longer at each such
        refusal of a start sent after the last. How long the window stays spent the
        server does not say."""
        with self._lock:
            hold = self.boot_hold.refused(why.limit, error, time.monotonic(), sent_at)
        return (f"the server refused to boot a sandbox for its {why.limit} ({error}), not "
                f"for want of a slot: new sandboxes wait {format_duration(hold)}, longer "
                "after each such refusal until a sandbox boots")

    def booted(self, owner: object) -> None:
        """``owner``'s run has its sandbox: if its start booted a new one, a boot
        window has room again (``BootHold.booted``)."""
        with self._lock:
            claimed_at = self._boot_claims.pop(id(owner), None)
            if claimed_at is not None:
                self.boot_hold.booted(claimed_at)

    def _try(self, owner: object, want: Sandbox, max_age: float) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._blind:
                if (now < self._hold_until or now >= self._read_again_at
                        or self.boot_hold.held(now)):
                    return False  # held back, or the list is to be tried again first
                self._claim(owner, want)
                return True
            shares = self._shared(want) or self._ours(want)
            if shares and self._joins_booting(owner, want):
                self._waiting.pop(id(owner), None)  # in line once the listing was stale
                return False  # waits for that sandbox's VM, not in line for a new slot
            fresh = now - self._listed_at < max_age
            if shares or (fresh and not self.boot_hold.held(now)
                          and self._ahead(owner) < self.cap - self._used()
                          and self._within_share()):
                self._claim(owner, want)
                return True
            self._waiting.setdefault(id(owner), None)  # in line from its first look
            return False

    def _ahead(self, owner: object) -> int:
        """How many runs wait for a new slot ahead of ``owner`` (all of them when it
        is not in line yet; lock held): a freed slot goes to the run that has waited
        longest, not to whichever looks first, which left an early run to give up at
        its ``capacity_wait`` while later ones started."""
        for ahead, waiter in enumerate(self._waiting):
            if waiter == id(owner):
                return ahead
        return len(self._waiting)

    def _shared(self, want: Sandbox) -> bool:
        """A listed sandbox serves ``want``, and the server never refused to boot one
        for it this invocation."""
        key = _key(want)
        return key in self._serves and key not in self._unshared

    def _joins_booting(self, owner: object | None, want: Sandbox) -> bool:
        """Whether ``want``'s sandbox exists but has no VM yet (lock held): listed
        so (``sandbox_id`` "pending"), or booting for another run of this invocation
        than ``owner`` (``None``: any) and not yet listed with one. The server would
        hand it to this start, whose harness refuses a sandbox without a VM: the run
        would fail "Sandbox is not ready" having done nothing."""
        key = _key(want)
        if key in self._unready:
            return key not in self._unshared
        if key in self._serves:
            return False  # listed with its VM
        since = self._booted_unlisted.get(key)
        if since is not None and time.monotonic() - since < UNLISTED_BOOT:
            return True
        return any(_key(claim) == key for other in self._boot_claims
                   if other != id(owner) and (claim := self._claims.get(other)) is not None)

    def _ours(self, want: Sandbox) -> bool:
        """``want`` is a sandbox this invocation's starts hold or held (not yet listed)."""
        return want in self._claimed or want in self._released

    def _unlisted(self, serves: frozenset[_Triple]) -> set[Sandbox]:
        """Our sandboxes the listing (``serves``) does not show yet, each once."""
        return {c for c in (*self._claimed, *self._released) if _key(c) not in serves}

    def _claim(self, owner: object, want: Sandbox) -> None:
        self._unclaim(owner)
        if not (self._shared(want) or self._ours(want)):  # its start boots a sandbox
            self._boot_claims[id(owner)] = time.monotonic()
        self._claims[id(owner)] = want
        self._claimed[want] = self._claimed.get(want, 0) + 1
        if _key(want) not in self._serves:
            self._pending.add(want)

    def _unclaim(self, owner: object) -> Sandbox | None:
        self._boot_claims.pop(id(owner), None)
        want = self._claims.pop(id(owner), None)
        if want is not None:
            left = self._claimed.pop(want) - 1
            if left:
                self._claimed[want] = left
            elif want not in self._released:
                self._pending.discard(want)
        return want

    def _within_share(self) -> bool:
        """A shard leg's own sandboxes (its repos' listed ones and its claims) are
        fewer than its share of the slots; always true for an unsharded run."""
        return self.share is None or self._own_used() < self.share

    def _own_used(self) -> int:
        """This leg's sandboxes: its repos' listed ones plus its claims not listed yet."""
        listed = sum(1 for b in self._busy if self._is_own(b))
        return listed + len(self._unlisted(self._own_serve))

    def _is_own(self, box: Busy) -> bool:
        """Whether a listed sandbox counts against this leg's share: one on its repos,
        on a branch its runs work on. Another sandbox on one of its repos (the user's
        own session on another branch) is the account's, as another repo's is: the
        leg counted it as its whole share and started nothing, for hours, while the
        account had slots free."""
        if box.repo_id not in self.names:
            return False
        if self.branches is None:
            return True
        wanted = self.branches.get(box.repo_id, frozenset())
        working = box.working_branch
        return (working in wanted
                or (None in wanted and working == box.base_branch)
                or (NEW_BRANCH in wanted and working is not None
                    and working.startswith(CREATED_BRANCH_PREFIX)))

    def _share_binds(self) -> bool:
        """A shard leg waits for its share, not the account (which has a free slot)."""
        with self._lock:  # blind, no start waits for the share (``_try``)
            return not self._blind and not self._within_share() and self._used() < self.cap

    def _share_said(self) -> str:
        """``each of --shard's 2 legs takes 1 of the account's 3 slots``."""
        return (f"each of --shard's {self.legs} legs takes {self.share} of the account's "
                f"{self.cap} slots")

    def _used(self) -> int:
        """Active sandboxes listed, plus ours the listing does not show yet."""
        return len(self._busy) + len(self._pending)

    def _refresh(self, max_age: float, job: Any, deadline: float | None) -> None:
        """Read the list unless a valid one is younger than ``max_age`` (one reader at
        a time). A server that cannot list sandboxes (an error that is not about the
        token) leaves mogrun blind: it starts, and refusals tell it."""
        with self._reading:
            with self._lock:
                now = time.monotonic()
                if (now < self._read_again_at if self._blind
                        else now - self._listed_at < max_age):
                    return
            self._read(job, deadline)

    def _read(self, job: Any, deadline: float | None) -> None:
        """One ``GET /sandboxes`` under the job's retry policy and deadline."""
        try:
            boxes = self.lister(job, deadline)
        except Interrupted:  # a signal (the listing is given up then): no start follows
            raise
        except MogrunError as exc:
            # The token refused (64, 65), or its request limit spent for longer than the
            # job may wait (75: a 429 past max_delay): the start would meet the same, so
            # it gives up at once as any request does, never started blind into it.
            if exc.exit_code in (64, 65, 75):
                raise
            with self._lock:
                first, self._blind = not self._blind, True
                self._read_again_at = time.monotonic() + max(BLIND_HOLD, self.interval())
            if first:
                self.warn(f"cannot read the account's sandboxes ({exc.message}); starting "
                          "without knowing the free slots")
            return
        busy: list[Busy] = []
        pausing: list[Busy] = []
        paused: set[str] = set()  # ids of those paused, not reaped
        unready: set[_Triple] = set()  # served by a sandbox with no VM yet
        for box in boxes:
            status = _status(box.get("status"))
            if status in ACTIVE:
                busy.append(Busy.of(box, status))
                if box.get("sandbox_id") == BOOTING_ID:
                    unready.update(busy[-1].serving())
            elif status in PAUSED:
                paused.add(_text(box.get("id")) or "")
                if status == PAUSING:
                    pausing.append(Busy.of(box, status))
        serves: set[_Triple] = set()
        own: set[_Triple] = set()
        for seen in (*busy, *pausing):  # each one's keys once: a listing holds up to 200
            keys = seen.serving()
            serves.update(keys)
            if self._is_own(seen):
                own.update(keys)
        with self._lock:
            self._blind, self._blind_hold, self._hold_until = False, 0.0, 0.0
            self._blind_refusals = 0  # "meanwhile" is this blind spell's, not the last's
            self._learn(busy, paused)
            self._busy, self._listed_at = busy, time.monotonic()
            self._released.clear()  # the listing is the truth now
            self._serves = frozenset(serves)
            self._unready = frozenset(unready)
            for key in serves & self._booted_unlisted.keys():  # the listing says now
                del self._booted_unlisted[key]
            # Against this listing: a start's sandbox it shows is no longer also booting.
            self._pending = self._unlisted(self._serves)
            self._own_serve = frozenset(own)

    def _learn(self, busy: list[Busy], paused: set[str]) -> None:
        """A sandbox that was active and is not now was reaped: the time since its
        last activity bounds the idle timeout (reaper lag included; keep the least).
        One listed ``pausing`` or ``paused`` (``paused``: their ids) was paused, not
        reaped: it says nothing of the timeout."""
        now, ids = time.time(), {b.sid for b in busy} | paused
        for gone in (b for b in self._busy if b.sid and b.sid not in ids):
            moment = parse_moment(gone.last_active)
            if moment is not None:
                seen = now - moment
                self.idle = seen if self.idle is None else min(self.idle, seen)

    def _next_look(self) -> float:
        """When to read the list again: each poll interval, or sooner when a listed
        sandbox's idle time (learnt) is about to run out."""
        base = max(LISTING_FLOOR, self.interval())
        with self._lock:
            idle, busy = self.idle, list(self._busy)
        if idle is None or not busy:
            return base
        now = time.time()
        moments = (parse_moment(b.last_active) for b in busy)
        frees = [moment + idle - now for moment in moments if moment is not None]
        soonest = min(frees, default=base)
        return min(base, max(0.25, soonest + 0.05)) if soonest > 0 else min(base, 1.0)

    def describe(self, owner: object | None = None) -> str:
        """``waiting for a sandbox slot: 3 of 3 busy (acme/api@main running, ...)``.
        Our starts not yet listed fill the free slots as booting; any beyond the cap
        (in flight when a refusal taught a lower cap) are said apart, as starts the
        server may refuse: never "4 of 3 busy". A free slot that goes to a run in
        line ahead of ``owner`` (one that came to wait first, not yet on its way) is
        said as that run's: its wait read "2 of 3 busy" while a slot was free."""
        held = self._held_text()
        if held is not None:
            return f"waiting to boot a sandbox: {held[0]}; next try in {held[1]}"
        if self._share_binds():
            return self._describe_share()
        with self._lock:
            busy, used, cap = list(self._busy), self._used(), self.cap
            ahead = self._ahead(owner) if owner is not None else 0
        self._look_up(busy[:SHOWN])
        names = [self._name(b) for b in busy[:SHOWN]] + (["..."] if len(busy) > SHOWN else [])
        ours = used - len(busy)
        booting = self._booting(len(busy), used)
        if booting:
            names.append(f"{booting} booting for this invocation")
        promised = min(ahead, max(0, cap - len(busy) - booting))
        if promised:
            names.append(f"{promised} for {'a run' if promised == 1 else 'runs'} of this "
                         "invocation ahead in line")
        text = f"waiting for a sandbox slot: {len(busy) + booting + promised} of {cap} busy"
        if names:
            text += f" ({', '.join(names)})"
        beyond = ours - booting
        if beyond:
            starts = "start" if beyond == 1 else "starts"
            text += (f"; {beyond} more {starts} of this invocation in flight, which the "
                     "server may refuse")
        return text

    def describe_booting(self, want: Sandbox) -> str:
        """``waiting for acme/api@main's sandbox to boot: ...``: a start that shares
        a sandbox still booting waits for it, taking no slot."""
        return (f"waiting for {self._want_name(want)}'s sandbox to boot: a start that "
                "joins it before it has a VM fails (\"Sandbox is not ready\")")

    def not_booted(self, want: Sandbox, job: Any = None) -> str:
        """The failure when the shared sandbox did not finish booting in time."""
        return (f"{self._want_name(want)}'s sandbox did not finish booting within the "
                f"job's {capacity_wait_said(job)}; a start joining it before then fails "
                "(\"Sandbox is not ready\")")

    def _want_name(self, want: Sandbox) -> str:
        repo = self.names.get(want.repo_id) or want.repo_id
        branch = f"@{want.working_branch}" if want.working_branch else ""
        return f"{repo}{branch}"

    def _booting(self, listed: int, used: int) -> int:
        """Our starts the listing does not show yet that fill a free slot: what a
        wait or its failure says is booting for this invocation (never "4 of 3")."""
        return min(used - listed, max(0, self.cap - listed))

    def _describe_share(self) -> str:
        """``waiting for a sandbox slot of this leg's share: 1 of its 1 in use (...)``:
        the account has a free slot, but this leg holds all it may."""
        with self._lock:
            own = [b for b in self._busy if self._is_own(b)]
            booting = len(self._unlisted(self._own_serve))
        self._look_up(own[:SHOWN])
        names = [self._name(b) for b in own[:SHOWN]] + (["..."] if len(own) > SHOWN else [])
        if booting:
            names.append(f"{booting} booting for this invocation")
        listed = f" ({', '.join(names)})" if names else ""
        return (f"waiting for a sandbox slot of this leg's share: {len(own) + booting} of "
                f"its {self.share} in use{listed}; {self._share_said()}")

    def _held_text(self) -> tuple[str, str] | None:
        """While new sandboxes are held back after a boot-window refusal: why, and
        how long yet."""
        with self._lock:
            return self.boot_hold.reason(time.monotonic())

    def exhausted(self, job: Any = None) -> str:
        """The failure: which sandboxes are busy and when they free (or which boot
        window the server said was spent). When each was last active is said on
        every line's clock (UTC ``HH:MM:SS``), not as the server writes it."""
        held = self._held_text()
        if held is not None:
            return (f"no sandbox could boot within the job's {capacity_wait_said(job)}: "
                    f"{held[0]}; it frees as the boots of its window age out")
        with self._lock:
            blind, refusals = self._blind, self._blind_refusals
        if blind:  # nothing listed to name ("0 of 3 busy: ;"): say what is known
            starts = (f"the server refused {refusals} start{'s' * (refusals != 1)} for "
                      "capacity meanwhile" if refusals else "none was tried")
            return (f"no sandbox slot freed within the job's {capacity_wait_said(job)}: the "
                    f"account's sandboxes could not be read (GET /sandboxes), and {starts}; "
                    f"{IDLE_HINT}")
        share = self._share_binds()
        with self._lock:
            busy = sorted((b for b in self._busy if not share or self._is_own(b)),
                          key=lambda b: b.last_active)
            # Ours the listing does not show yet, as the wait said them: the slot this
            # invocation's own run holds ("0 of 1 busy: ;" when the list was read before it).
            booting = (len(self._unlisted(self._own_serve)) if share
                       else self._booting(len(busy), self._used()))
        self._look_up(busy[:SHOWN])
        names = "; ".join([f"{self._name(b)}, last active {event_clock(b.last_active)}"
                           for b in busy[:SHOWN]]
                          + ([f"{booting} booting for this invocation"] if booting else []))
        waited = f"the job's {capacity_wait_said(job)}"
        if share:
            return (f"no sandbox slot of this leg's share freed within {waited}: "
                    f"{len(busy) + booting} of its {self.share} in use: {names}; "
                    f"{self._share_said()}; {IDLE_HINT}")
        return (f"no sandbox slot freed within {waited}: {len(busy) + booting} "
                f"of {self.cap} busy: {names}; {IDLE_HINT}")

    def held_past(self, deadline: float, job: Any = None) -> str:
        """The failure when the boot hold ends after the wait's ``deadline``: no try
        could come in time, so none is waited for."""
        now = time.monotonic()
        with self._lock:
            until, why = self.boot_hold.until, self.boot_hold.reason(now)
        reached = why[0] if why is not None else "a boot window was spent"
        return (f"no sandbox can boot within the job's {capacity_wait_said(job)}, which ends "
                f"at {clock_in(deadline - now)}: {reached}, and new sandboxes are held back "
                f"until {clock_in(until - now)} (in {format_duration(until - now)})")

    def _look_up(self, busy: list[Busy]) -> None:
        """Name the repos of ``busy`` the task file does not (the account's other
        work): one look-up per repo per invocation; a failed one keeps the id."""
        if self._name_of is None:
            return
        for repo_id in dict.fromkeys(b.repo_id for b in busy):
            if repo_id and repo_id not in self.names and repo_id not in self._other_names:
                try:
                    name = self._name_of(repo_id)
                except MogrunError:
                    name = None
                self._other_names[repo_id] = name

    def _name(self, busy: Busy) -> str:
        repo = self.names.get(busy.repo_id) or self._other_names.get(busy.repo_id) or (
            busy.repo_id)
        branch = f"@{busy.working_branch}" if busy.working_branch else ""
        return f"{repo}{branch} {busy.status}"
