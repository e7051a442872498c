"""``SandboxSlots``' counting, checked against the plain rule it implements:
a listed sandbox serves a run with the same repo and root and, when the run
names a working branch, that branch (without one, a sandbox whose two
branches agree). Counting is by set look-ups, so it must agree with that rule
on any listing. A run's end frees no slot (its sandbox stays active until
reaped): it is counted until a listing says otherwise. The behaviour end to
end is in test_capacity.py."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mogrun.engine.capacity import Busy, NoSlot, SandboxSlots, _key
from mogrun.engine.kinds import Sandbox
from mogrun.errors import Interrupted, MogrunError
from mogrun.models import NEW_BRANCH

names = st.sampled_from(["r1", "r2", "r3"])
branches = st.sampled_from([None, "", "main", "fix"])
roots = st.sampled_from([None, "", "svc"])
wants = st.builds(Sandbox, names, branches, roots)
boxes = st.builds(lambda repo, working, base, root, n: Busy(
    f"sb{n}", repo, working, base, root, "running", "2026-01-01T00:00:00Z"),
    names, branches, branches, roots, st.integers(0, 99))


def serves_by_rule(box: Busy, want: Sandbox) -> bool:
    if box.repo_id != want.repo_id or (box.root or None) != (want.root_directory or None):
        return False
    if want.working_branch is not None:
        return box.working_branch == want.working_branch
    return box.working_branch == box.base_branch


def slots_listing(busy: list[Busy], cap: int = 100, **kwargs: Any) -> SandboxSlots:
    listing = [_row(b) for b in busy]
    slots = SandboxSlots(cap, lambda job, deadline: listing, interval=lambda: 1.0,
                         stop=threading.Event(), **kwargs)
    slots._refresh(0.0, None, None)
    return slots


@given(boxes, wants)
def test_a_sandbox_serves_what_the_rule_says(box, want) -> None:
    assert (_key(want) in box.serving()) == serves_by_rule(box, want)


@given(st.lists(st.tuples(boxes, st.booleans()), max_size=8), st.lists(wants, max_size=8),
       wants, st.integers(1, 12))
def test_slots_count_as_the_rule_counts(listed, claimed, want, cap) -> None:
    """... and a run starts at once as the rule says: one sharing a sandbox only once
    it has its VM (listed ``creating``, "pending", or booting for a claim, no VM:
    the server fails a run that joins it), one needing a new sandbox into a free
    slot. The scheduler's guess (``can_start_now``) is what a start does (``_try``)."""
    busy = [b if ready else b._replace(status="creating") for b, ready in listed]
    slots, probe = slots_listing(busy, cap), slots_listing(busy, cap)
    owners = [object() for _ in claimed]
    for owner, claim in zip(owners, claimed, strict=True):
        slots._claim(owner, claim)
        probe._claim(owner, claim)
    pending = {c for c in claimed if not any(serves_by_rule(b, c) for b in busy)}
    assert slots._used() == len(busy) + len(pending)
    serving = [b for b in busy if serves_by_rule(b, want)]
    shares = bool(serving) or want in claimed
    booting = (any(b.status == "creating" for b in serving) if serving
               else any(_key(c) == _key(want) for c in claimed))
    can = not booting if shares else len(busy) + len(pending) < cap
    assert slots.can_start_now(want) == can
    assert probe._try(object(), want, 1e9) == can
    for owner in owners:  # a run's end frees no slot: its sandbox idles until reaped
        slots.release(owner)
        assert slots._used() == len(busy) + len(pending)
    assert not slots._claimed
    slots._refresh(0.0, None, None)  # the next listing is the truth (here: unchanged)
    assert slots._used() == len(busy)


@given(st.lists(boxes, max_size=6), st.lists(wants, max_size=6), st.data())
def test_a_claim_the_next_listing_shows_is_counted_once(busy, claimed, data) -> None:
    """A start's sandbox appears in the listing read after it: from then on it is
    a listed sandbox, not also one "booting for this invocation"."""
    listing: list[dict[str, object]] = [_row(b) for b in busy]
    slots = SandboxSlots(100, lambda job, deadline: listing, interval=lambda: 1.0,
                         stop=threading.Event())
    slots._refresh(0.0, None, None)
    owners = [object() for _ in claimed]  # alive: a claim is keyed by its owner's id
    for owner, claim in zip(owners, claimed, strict=True):
        slots._claim(owner, claim)
    booted = data.draw(st.lists(st.sampled_from(claimed), unique=True) if claimed
                       else st.just([]))
    now_busy = busy + [Busy(f"new{i}", c.repo_id, c.working_branch or "main", "main",
                            c.root_directory, "creating", "2026-01-01T00:00:00Z")
                       for i, c in enumerate(booted)]
    listing[:] = [_row(b) for b in now_busy]
    slots._refresh(0.0, None, None)
    unlisted = {c for c in claimed if not any(serves_by_rule(b, c) for b in now_busy)}
    assert slots._used() == len(now_busy) + len(unlisted)


def _row(b: Busy) -> dict[str, object]:
    """As the server lists it: no VM yet (``sandbox_id`` "pending") while ``creating``."""
    return {"id": b.sid, "repo_id": b.repo_id, "working_branch": b.working_branch,
            "base_branch": b.base_branch, "root_directory": b.root, "status": b.status,
            "last_active_at": b.last_active,
            "sandbox_id": "pending" if b.status == "creating" else f"sbx_{b.sid}"}


def test_a_run_refused_for_capacity_is_not_counted_as_booting() -> None:
    """The server made no sandbox for it; it was counted 'booting for this
    invocation' until the next listing, so other runs waited for it."""
    slots = slots_listing([])
    refused, ran = object(), object()
    slots._claim(refused, Sandbox("r1", None, None))
    slots._claim(ran, Sandbox("r2", None, None))
    slots.release(refused, refused="Too many active sandboxes")
    slots.release(ran)
    assert slots._used() == 1  # r2's sandbox idles until reaped; r1 never had one


def test_a_freed_slot_goes_to_the_run_that_has_waited_longest() -> None:
    """Runs waiting for a new slot take freed ones in the order they came to wait: a
    late run that looked first took the slot while an early one gave up at its
    capacity_wait. A run that shares a sandbox needs no slot and waits for none, only
    for one still booting to have its VM (the server fails a run that joins it before:
    "Sandbox is not ready")."""
    busy = Busy("sb0", "r0", "main", "main", None, "running", "2026-01-01T00:00:00Z")
    listing = [_row(busy)]
    slots = SandboxSlots(2, lambda job, deadline: listing, interval=lambda: 1.0,
                         stop=threading.Event())
    slots._refresh(0.0, None, None)
    early, middle, late, sharing = object(), object(), object(), object()
    assert slots._try(early, Sandbox("r1", None, None), 10.0)  # the second slot
    assert not slots._try(middle, Sandbox("r2", None, None), 10.0)  # both busy: in line
    assert not slots._try(late, Sandbox("r3", None, None), 10.0)
    assert not slots.can_start_now(Sandbox("r4", None, None))
    listing.clear()  # sb0 was reaped: one slot free (r1's claim still holds the other)
    slots._refresh(0.0, None, None)
    assert not slots.can_start_now(Sandbox("r4", None, None))  # two wait ahead of it
    assert not slots._try(late, Sandbox("r3", None, None), 10.0)  # looked first
    assert not slots._try(object(), Sandbox("r4", None, None), 10.0)  # newly come
    assert slots._try(middle, Sandbox("r2", None, None), 10.0)  # longest in line
    slots._waiting.pop(id(middle))  # what acquire does once its run has the slot
    assert not slots._try(sharing, Sandbox("r2", None, None), 10.0)  # r2's still boots
    assert id(sharing) not in slots._waiting  # it waits for that VM, not for a slot
    slots.booted(middle)  # middle's run has its sandbox, VM and all
    assert slots._try(sharing, Sandbox("r2", None, None), 10.0)  # shares r2's: no slot


def test_a_run_sharing_a_listed_sandbox_without_a_vm_waits_for_it() -> None:
    """A listed sandbox whose ``sandbox_id`` is still "pending" has no VM: a run that
    joins it then fails on the server, so the start waits until a listing shows one."""
    row = {**_row(Busy("sb0", "r0", "main", "main", None, "creating",
                       "2026-01-01T00:00:00Z")), "sandbox_id": "pending"}
    listing = [row]
    slots = SandboxSlots(1, lambda job, deadline: listing, interval=lambda: 1.0,
                         stop=threading.Event())
    slots._refresh(0.0, None, None)
    joining = object()
    assert not slots._try(joining, Sandbox("r0", None, None), 10.0)
    assert slots._waiting == {}
    listing[0] = {**row, "status": "installing", "sandbox_id": "sbx_1"}
    slots._refresh(0.0, None, None)
    assert slots._try(joining, Sandbox("r0", None, None), 10.0)


def test_a_run_that_joined_a_sandbox_still_booting_waits_for_its_vm_and_teaches_nothing(
        ) -> None:
    """A start the server handed a sandbox still booting (another client's, in no
    listing read before it) failed "Sandbox is not ready": no boot was refused, so
    the cap stands and the triple is not taken for one never to share; the listing
    read before that boot is stale, and the next attempt waits for the VM the next
    listing shows is missing, holding no place in line for a slot."""
    listing: list[dict[str, object]] = []
    slots = SandboxSlots(3, lambda job, deadline: listing, interval=lambda: 60.0,
                         stop=threading.Event())
    slots._refresh(0.0, None, None)
    owner, want = object(), Sandbox("r0", None, None)
    assert slots._try(owner, want, 60.0)  # none listed: its start would boot one
    booting = Busy("sb0", "r0", "main", "main", None, "creating", "2026-01-01T00:00:00Z")
    listing.append({**_row(booting), "sandbox_id": "pending"})  # another client's boot
    slots.release(owner, refused="Sandbox is not ready")
    assert slots.refused(None, "Sandbox is not ready") is None  # it teaches no cap
    assert (slots.cap, slots._unshared, slots._used()) == (3, set(), 0)
    assert not slots._try(owner, want, 60.0)  # not on the listing read before that boot
    slots._refresh(60.0, None, None)
    assert not slots._try(owner, want, 60.0)  # listed, booting: it waits for the VM
    assert slots._waiting == {}
    assert slots.describe_booting(want).startswith("waiting for r0's sandbox to boot")
    listing[0] = {**listing[0], "status": "installing", "sandbox_id": "sbx_1"}
    slots._refresh(0.0, None, None)
    assert slots._try(owner, want, 60.0)


def test_a_start_that_never_reached_the_server_booted_nothing() -> None:
    """Its boot claim let go unsent (a 4xx, a 429 given up): a run of its triple
    waited for a sandbox that would never appear, and the start held a slot, until
    a listing said otherwise (a poll interval, growing with the runs followed)."""
    slots = slots_listing([], cap=1)
    first, other, want = object(), object(), Sandbox("r1", None, None)
    assert slots._try(first, want, 60.0)  # none listed: its start boots one
    assert not slots._try(other, want, 60.0)  # it waits for that boot
    slots.release(first, sent=False)
    assert (slots._used(), slots._booted_unlisted) == (0, {})
    assert slots._try(other, want, 60.0)  # on the same listing: its start boots it


def test_a_run_that_stops_waiting_leaves_the_line() -> None:
    """A run that gives up (its capacity_wait, a signal) holds no place in line."""
    listing = [_row(Busy("sb0", "r0", "main", "main", None, "running",
                         "2026-01-01T00:00:00Z"))]
    stop = threading.Event()
    slots = SandboxSlots(1, lambda job, deadline: listing, interval=lambda: 1.0, stop=stop)
    gave_up = object()
    with pytest.raises(NoSlot):
        slots.acquire(gave_up, Sandbox("r1", None, None), time.monotonic() + 0.05,
                      announce=lambda wait: None)
    stop.set()
    with pytest.raises(Interrupted):
        slots.acquire(object(), Sandbox("r2", None, None), time.monotonic() + 60,
                      announce=lambda wait: None)
    assert slots._waiting == {}
    listing.clear()
    slots._refresh(0.0, None, None)
    assert slots.can_start_now(Sandbox("r3", None, None))


def test_a_legs_share_counts_only_its_runs_sandboxes_not_other_work_on_its_repos() -> None:
    """Leg 1 of 3 (1 slot of 3) whose repo r1 also held the user's own session on
    another branch counted that sandbox as its whole share: it started nothing and
    failed at capacity_wait while two slots were free (QA pass, real legs)."""
    session = Busy("sb1", "r1", "interactive/1", "main", None, "running", "2026-01-01T00:00:00Z")
    own = Busy("sb2", "r1", "main", "main", None, "running", "2026-01-01T00:00:00Z")
    made = Busy("sb3", "r1", "mogplex/external/ab12cd34-ef567890", "main", None, "running",
                "2026-01-01T00:00:00Z")

    def leg(busy: list[Busy], branches: frozenset) -> SandboxSlots:
        return slots_listing(busy, cap=3, legs=3, names={"r1": "acme/r1", "r2": "acme/r2"},
                             branches={"r1": branches, "r2": branches})

    assert leg([session], frozenset({None}))._try(object(), Sandbox("r2", None, None), 10.0)
    assert not leg([own], frozenset({None}))._try(object(), Sandbox("r2", None, None), 10.0)
    assert not leg([session], frozenset({"interactive/1"}))._try(  # its runs' branch
        object(), Sandbox("r2", "interactive/1", None), 10.0)
    assert not leg([made], frozenset({NEW_BRANCH}))._try(  # a branch the server made for it
        object(), Sandbox("r2", NEW_BRANCH + "k2", None), 10.0)
    assert leg([made], frozenset({None}))._try(object(), Sandbox("r2", None, None), 10.0)


def test_other_work_is_named_once_per_repo_and_a_failed_look_up_keeps_the_id() -> None:
    busy = [Busy(f"sb{i}", repo, "main", "main", None, "running", "2026-01-01T00:00:00Z")
            for i, repo in enumerate(["mine", "theirs", "theirs", "gone"])]
    asked: list[str] = []

    def name_of(repo_id: str) -> str | None:
        asked.append(repo_id)
        if repo_id == "gone":
            raise MogrunError("HTTP 500")
        return {"theirs": "acme/theirs"}.get(repo_id)

    slots = slots_listing(busy, cap=4, names={"mine": "acme/mine"}, name_of=name_of)
    first, again = slots.describe(), slots.exhausted()
    assert first == ("waiting for a sandbox slot: 4 of 4 busy (acme/mine@main running, "
                     "acme/theirs@main running, acme/theirs@main running, gone@main running)")
    assert "acme/theirs@main running, last active" in again
    assert asked == ["theirs", "gone"]  # the task file's own repo is never looked up


def test_when_a_busy_sandbox_was_last_active_is_said_on_mogruns_clock() -> None:
    """The server writes ``last_active_at`` as Postgres does (``+00:00``, to the
    microsecond, trailing zeros dropped): the failure showed it as it came
    (``last active 2026-03-28T19:30:00.123456+00:00``) where every other time
    mogrun shows is UTC ``HH:MM:SS``."""
    busy = [Busy("sb0", "r1", "main", "main", None, "running",
                 "2026-03-28T19:30:00.123456+00:00"),
            Busy("sb1", "r2", "main", "main", None, "running", "2026-03-28T19:29:59+00:00"),
            Busy("sb2", "r3", "main", "main", None, "running", "2026-03-28T19:30:00.5+00:00"),
            Busy("sb3", "r4", "main", "main", None, "running", "")]
    text = slots_listing(busy, cap=4).exhausted()
    assert ("4 of 4 busy: r4@main running, last active --:--:--; "
            "r2@main running, last active 19:29:59; r1@main running, last active 19:30:00; "
            "r3@main running, last active 19:30:00; ") in text, text
    assert "+00:00" not in text and "2026" not in text


def test_a_triple_the_server_refused_to_boot_is_never_taken_to_share_again() -> None:
    """The listing said a sandbox served it (reaped since, or a default branch
    guessed wrong), the server refused the boot: each next attempt was taken to
    share too, and started at once, into the same refusal, until the start limit."""
    busy = [Busy(f"sb{i}", repo, "main", "main", None, "running", "2026-01-01T00:00:00Z")
            for i, repo in enumerate(["r1", "r2", "r3"])]
    slots = slots_listing(busy, cap=3)
    want, owner = Sandbox("r1", None, None), object()
    assert slots._try(owner, want, 60.0)  # served by sb0, as listed
    slots.release(owner, refused="Too many active sandboxes")
    assert not slots._try(object(), want, 60.0)  # 3 of 3 busy: it waits for a slot
    assert not slots.can_start_now(want)


def test_blind_starts_back_off_and_the_list_is_read_again_once_it_answers() -> None:
    """The list unreadable: each refusal holds the next start back longer (5 s,
    doubling to a minute) and makes the next wait read the list again (the wait,
    within its deadline: not the refusal, with none); once it answers, the slots
    are counted again."""
    import time

    answers: list[Any] = [MogrunError("HTTP 503")] * 4 + [[]]

    def lister(job: Any, deadline: Any) -> Any:
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    warned: list[str] = []
    slots = SandboxSlots(1, lister, interval=lambda: 0.05, stop=threading.Event(),
                         warn=warned.append)
    slots._refresh(0.0, None, None)
    assert slots._blind and len(warned) == 1
    holds = []
    for _ in range(3):
        assert slots.refused() is None  # a refusal: the list is to be read again first
        assert slots._read_again_at == 0.0
        holds.append(round(slots._hold_until - time.monotonic()))
        slots._refresh(0.0, None, None)  # the next wait reads it: still unreadable
    assert holds == [5, 10, 20] and len(warned) == 1  # said once
    slots.refused()
    slots._refresh(0.0, None, None)  # the list answers now: no longer blind
    assert not slots._blind and slots._hold_until == 0.0
    assert slots.can_start_now(Sandbox("r1", None, None))


def test_a_long_capacity_wait_says_again_what_it_waits_for_when_that_changes(
        monkeypatch) -> None:
    """Its one line said '1 of 1 busy (r1@main running)' for all of a 30-minute wait,
    though what held the slot changed; a wait whose reason stays is said once."""
    import time

    import pytest

    from mogrun.engine import capacity
    from mogrun.engine.capacity import NoSlot

    monkeypatch.setattr(capacity, "RESAY", 0.05)
    holders = iter(["r1"] * 3 + ["r2"] * 1000)

    def lister(job: Any, deadline: Any) -> Any:
        return [_row(Busy("sb", next(holders), "main", "main", None, "running",
                          "2026-01-01T00:00:00Z"))]

    said: list[str] = []
    slots = SandboxSlots(1, lister, interval=lambda: 0.02, stop=threading.Event())
    with pytest.raises(NoSlot):
        slots.acquire(object(), Sandbox("mine", None, None), time.monotonic() + 0.6,
                      announce=lambda wait: said.append(wait.reason))
    assert said == ["waiting for a sandbox slot: 1 of 1 busy (r1@main running)",
                    "waiting for a sandbox slot: 1 of 1 busy (r2@main running)"]


def test_a_blind_start_after_the_pause_reads_the_list_first(monkeypatch) -> None:
    """The list was tried again only after a refusal: the next start after an
    outage went into the full account blind, and was refused (a start spent)."""
    import time

    import pytest

    from mogrun.engine import capacity
    from mogrun.engine.capacity import NoSlot

    monkeypatch.setattr(capacity, "BLIND_HOLD", 0.05)
    full = [_row(Busy("sb", "other", "main", "main", None, "running", "2026-01-01T00:00:00Z"))]
    answers: list[Any] = [MogrunError("HTTP 503"), full]

    def lister(job: Any, deadline: Any) -> Any:
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    slots = SandboxSlots(1, lister, interval=lambda: 0.02, stop=threading.Event())
    slots._refresh(0.0, None, None)
    assert slots._blind
    time.sleep(0.1)  # past the pause: the list is due again before any blind start
    with pytest.raises(NoSlot):
        slots.acquire(object(), Sandbox("mine", None, None), time.monotonic() + 0.2,
                      announce=lambda wait: None)
    assert not slots._blind


def test_only_a_refusal_for_want_of_a_slot_teaches_the_cap() -> None:
    """The server's three refusals of a boot: only "Too many active sandboxes" is
    about slots. A spent boot window (hourly or daily) keeps the cap and holds
    new sandboxes back, longer at each refusal; a run sharing one still starts."""
    from mogrun.engine.boothold import BOOT_HOLD
    from mogrun.engine.capacity import BootRefusal

    box = Busy("sb", "r1", "main", "main", None, "running", "2026-01-01T00:00:00Z")
    assert BootRefusal.of(" Daily sandbox boot quota EXCEEDED\n") is BootRefusal.DAILY
    assert BootRefusal.of("Sandbox exploded") is None
    slots = slots_listing([box], cap=3)
    said = slots.refused(error="Daily sandbox boot quota exceeded")
    assert said is not None and "daily boot quota" in said and slots.cap == 3
    held_for = slots.boot_hold.seconds
    assert held_for == BOOT_HOLD
    assert not slots.can_start_now(Sandbox("r2", "main", None))  # a new sandbox: held
    assert slots.can_start_now(Sandbox("r1", "main", None))  # r1's own: no boot
    assert slots.describe().startswith("waiting to boot a sandbox: the server's daily boot "
                                       "quota was reached (Daily sandbox boot quota exceeded)")
    slots.refused(error="Sandbox boot rate limit exceeded")
    assert slots.boot_hold.seconds == 2 * held_for and slots.cap == 3
    assert "taking 1 as the account's sandbox cap" in (
        slots.refused(error="Too many active sandboxes") or "")


def test_a_boot_claimed_after_a_boot_window_refusal_resets_the_hold() -> None:
    """A boot that succeeds after a boot-window refusal shows the window has room:
    the next refusal holds BOOT_HOLD again. One claimed before the refusal says
    nothing (its boot may have come first), and a run sharing a sandbox boots none."""
    from mogrun.engine.boothold import BOOT_HOLD

    box = Busy("sb", "r1", "main", "main", None, "running", "2026-01-01T00:00:00Z")
    slots = slots_listing([box], cap=5)
    early, shared, late = object(), object(), object()
    slots._claim(early, Sandbox("r2", "main", None))  # claimed before the refusal
    slots.refused(error="Sandbox boot rate limit exceeded")
    slots._claim(shared, Sandbox("r1", "main", None))  # r1's sandbox: no boot
    slots.booted(early)
    slots.booted(shared)
    slots.refused(error="Sandbox boot rate limit exceeded")
    assert slots.boot_hold.seconds == 2 * BOOT_HOLD
    slots._claim(late, Sandbox("r3", "main", None))  # a new sandbox, after the refusals
    slots.booted(late)
    slots.refused(error="Daily sandbox boot quota exceeded")
    assert slots.boot_hold.seconds == BOOT_HOLD


def _as_text(value: Any) -> str | None:
    return None if value is None else str(value)


fields = st.one_of(st.none(), st.text(max_size=8), st.integers(), st.booleans(), st.floats(),
                   st.lists(st.integers(), max_size=2))


@given(st.fixed_dictionaries({}, optional={
    **dict.fromkeys(("id", "repo_id", "working_branch", "base_branch", "root_directory",
                     "last_active_at"), fields),
    "status": st.one_of(fields, st.sampled_from(["running", "creating", "installing", "paused"])),
}))
@example({"status": "running", "id": 5, "repo_id": None, "working_branch": 7,
          "base_branch": 1.5, "root_directory": [1], "last_active_at": False})
def test_a_listed_sandbox_is_read_as_text_whatever_types_the_server_sent(box: dict) -> None:
    """Each field as text, ``None`` for a missing optional one and "" for a missing
    id, repo or time; only an active status is kept."""
    slots = SandboxSlots(100, lambda job, deadline: [box], interval=lambda: 1.0,
                         stop=threading.Event())
    slots._refresh(0.0, None, None)
    status = str(box.get("status") or "")
    if status not in ("creating", "installing", "running"):
        assert slots._busy == []
        return
    assert slots._busy == [Busy(
        _as_text(box.get("id")) or "", _as_text(box.get("repo_id")) or "",
        _as_text(box.get("working_branch")), _as_text(box.get("base_branch")),
        _as_text(box.get("root_directory")), status,
        _as_text(box.get("last_active_at")) or "")]


def test_a_slot_this_invocation_holds_is_named_when_the_wait_runs_out() -> None:
    """The only slot held by this invocation's own start, not listed yet: the wait
    said "1 of 1 busy (1 booting for this invocation)", and its failure, when the
    wait ran out before the next listing, "0 of 1 busy: ;"."""
    slots = slots_listing([], cap=1)
    owner = object()  # alive: a claim is keyed by its owner's id
    slots._claim(owner, Sandbox("r1", None, None))
    assert slots.describe() == ("waiting for a sandbox slot: 1 of 1 busy (1 booting for "
                                "this invocation)")
    assert slots.exhausted().startswith(
        "no sandbox slot freed within the job's capacity_wait: 1 of 1 busy: 1 booting "
        "for this invocation; a sandbox frees"), slots.exhausted()


def test_a_free_slot_promised_to_a_run_ahead_in_line_is_said_as_busy() -> None:
    """Five runs, three slots: the third run came to wait before the fourth, then
    was slow to take the slot freed for it. The fourth waited, rightly, and said
    "2 of 3 busy (2 booting for this invocation)" (seen in CI, under load): a wait
    with a slot free. The slot is the third run's: said so, "3 of 3 busy"."""
    slots = slots_listing([], cap=3)
    first, second, third, fourth = (object() for _ in range(4))
    want = [Sandbox(f"r{n}", None, None) for n in range(4)]
    slots._waiting.update({id(third): None})  # in line before the fourth
    assert slots._try(first, want[0], 60.0) and slots._try(second, want[1], 60.0)
    assert not slots._try(fourth, want[3], 60.0)  # the free slot is the third run's
    assert slots.describe(fourth) == (
        "waiting for a sandbox slot: 3 of 3 busy (2 booting for this invocation, 1 for a "
        "run of this invocation ahead in line)")
    assert slots._try(third, want[2], 60.0)  # it takes it; the fourth waits on
    slots._waiting.pop(id(third))
    assert slots.describe(fourth) == ("waiting for a sandbox slot: 3 of 3 busy (3 booting "
                                      "for this invocation)")


def test_a_refusal_learns_the_cap_the_last_listing_showed_not_one_read_after_reaping(
        ) -> None:
    """A 3-slot account, a file that says 5: the refusal's listing came after two of
    the three had been reaped (a short idle timeout), and "1 active" became the cap
    ("set [mogplex] sandboxes to match"): the rest ran one sandbox at a time."""
    three = [_row(Busy(f"sb{i}", f"r{i}", "main", "main", None, "running",
                       "2026-01-01T00:00:00Z")) for i in range(3)]
    answers = [three, three[:1]]
    slots = SandboxSlots(5, lambda job, deadline: answers.pop(0) if len(answers) > 1
                         else answers[0], interval=lambda: 1.0, stop=threading.Event())
    slots._refresh(0.0, None, None)
    said = slots.refused(None, "Too many active sandboxes")
    assert slots.cap == 3, said
    assert said is not None and "with 3 active: taking 3" in said


def test_a_pausing_sandbox_serves_its_triple_but_takes_no_slot() -> None:
    """The server reuses a ``pausing`` sandbox for a start of its triple, but its cap
    counts only creating/installing/running ones."""
    stamp = "2026-01-01T00:00:00Z"
    busy = [Busy("sb0", "r1", "main", "main", None, "running", stamp),
            Busy("sb1", "r2", "main", "main", None, "pausing", stamp)]
    slots = slots_listing(busy, cap=1)
    assert slots._used() == 1
    assert slots.can_start_now(Sandbox("r2", None, None))  # runs in the pausing one
    assert not slots.can_start_now(Sandbox("r3", None, None))  # 1 of 1 busy
    assert "r2" not in slots.describe()


@pytest.mark.parametrize("status", ["pausing", "paused"])
def test_a_sandbox_paused_since_the_last_listing_teaches_no_idle_timeout(status) -> None:
    """One that went from running to pausing or paused was not reaped: the time
    since its last activity (the pause, moments ago) is no idle timeout, which
    made every wait read the list again each second."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    listing = [_row(Busy("sb0", "r1", "main", "main", None, "running", now))]
    slots = SandboxSlots(1, lambda job, deadline: listing, interval=lambda: 1.0,
                         stop=threading.Event())
    slots._refresh(0.0, None, None)
    listing[0] = {**listing[0], "status": status}
    slots._refresh(0.0, None, None)
    assert slots.idle is None
    assert slots._used() == 0
    listing.clear()  # now it is gone: it was no longer active when it went
    slots._refresh(0.0, None, None)
    assert slots.idle is None
