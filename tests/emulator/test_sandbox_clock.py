"""The emulator remembers each sandbox's stop time (a fan-out asks every
sandbox whether it is active at every start); this checks that memory against
the rule worked out afresh, through random histories of starts, cancels,
early ends, occupants, releases and policy changes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mogrun.emulator.directives import Script
from mogrun.emulator.placement import create_run
from mogrun.emulator.runs import StartSpec
from mogrun.emulator.sandboxes import ACTIVE, Policy, Sandbox, Sandboxes, Triple, reap_time
from mogrun.emulator.state import State

USER = "u"


def status_afresh(sandbox: Sandbox, now: float, policy: Policy, epoch: float,
                  frozen: dict[str, float]) -> str:
    """The rule as the server states it: idle past ``idle``, stopped at the next
    sweep but one; once stopped, stopped for good."""
    if sandbox.id not in frozen and not sandbox.busy(now):
        stop = reap_time(sandbox.last_active(now), policy, epoch)
        if stop <= now:
            frozen[sandbox.id] = stop
    if sandbox.id in frozen and frozen[sandbox.id] <= now:
        return "stopped"
    if now < sandbox.created + sandbox.boot / 2:
        return "creating"
    return "installing" if now < sandbox.created + sandbox.boot else "running"


steps = st.lists(st.one_of(
    st.tuples(st.just("start"), st.integers(0, 3), st.sampled_from([0.5, 2.0, 9.0, None])),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("end"), st.integers(0, 30)),
    st.tuples(st.just("occupy"), st.sampled_from([1.0, 5.0, None])),
    st.just(("release",)),
    st.tuples(st.just("policy"), st.sampled_from([1.0, 3.0, 6.0]), st.sampled_from([1.0, 2.0])),
    st.tuples(st.just("wait"), st.sampled_from([0.1, 0.7, 2.5, 8.0])),
), max_size=40)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_the_remembered_stop_time_agrees_with_the_rule(history):
    state = State([f"acme/r{i}" for i in range(4)], None, Script())
    sandboxes = state.sandboxes = Sandboxes(Policy(idle=3.0, period=1.0), epoch=0.0)
    repos = list(state.repos.values())
    now, runs, frozen = 10.0, [], {}
    for step in history:
        kind = step[0]
        if kind == "start":
            spec = StartSpec(repos[step[1]]["id"], "p", "codex", "main", None, False, None)
            runs.append(create_run(state, spec, Script(duration=step[2], pending=0.2),
                                   USER, now, "http://emulator"))
        elif kind in ("cancel", "end") and runs:
            run = runs[step[1] % len(runs)]
            if not run.is_terminal(now):
                run.cancel(now) if kind == "cancel" else run.end_by(now)
        elif kind == "occupy":
            sandboxes.occupy(USER, Triple("r", f"i/{now}", None), "main", now, step[1])
        elif kind == "release":
            for sandbox in sandboxes.all:
                sandbox.release(now)
        elif kind == "policy":
            sandboxes.set_policy(Policy(idle=step[1], period=step[2]))
        else:
            now += step[1]
        expected = {s.id: status_afresh(s, now, sandboxes.policy, sandboxes.epoch, frozen)
                    for s in sandboxes.all}
        assert {s.id for s in sandboxes.active(USER, now)} == {
            i for i, status in expected.items() if status in ACTIVE}
        assert {s.id: s.status(now, sandboxes.policy, sandboxes.epoch)
                for s in sandboxes.all} == expected
