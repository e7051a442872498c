"""The follower passes a status change on in the order things happened: after
the events the server had recorded by the change's ``updatedAt``, before the
later ones, so a plain log never goes back in time."""

from __future__ import annotations

from mogrun.engine.follower import Follower, Pace
from mogrun.runs import Event, RunState


def ev(n: int, second: int) -> Event:
    return Event(id=f"e{n}", type="log", created_at=f"2026-01-01T00:00:{second:02d}Z")


class Source:
    def __init__(self, state, events):
        self.answer = (state, events)

    def get_events(self, run_id, *, limit=200, job=None, deadline=None, stop=None, known=(),
                   run=None):
        return self.answer


class Log:
    def __init__(self):
        self.lines = []

    def event(self, event):
        self.lines.append(event.id)

    def status(self, old, state):
        self.lines.append(f"{old}->{state.status}")

    def notice(self, message, level="info"):
        self.lines.append(message)

    def watch(self, state, unchanged_for):
        return None


def poll(state, events):
    log = Log()
    Follower(Source(state, events), None, RunState("r_1", "pending"), log,
             interval=lambda: Pace(0.0)).poll_once()
    return log.lines


def test_a_status_change_sits_between_earlier_and_later_events():
    state = RunState("r_1", "streaming", "2026-01-01T00:00:00Z", "2026-01-01T00:00:02Z")
    assert poll(state, [ev(1, 1), ev(2, 2), ev(3, 5)]) == ["e1", "e2", "pending->streaming", "e3"]


def test_a_final_status_goes_after_every_event():
    state = RunState("r_1", "success", "2026-01-01T00:00:00Z", "2026-01-01T00:00:09+00:00")
    assert poll(state, [ev(1, 1), ev(2, 8)]) == ["e1", "e2", "pending->success"]


def test_an_unreadable_timestamp_puts_the_status_last():
    state = RunState("r_1", "success", None, "yesterday")
    assert poll(state, [ev(1, 1), ev(2, 8)]) == ["e1", "e2", "pending->success"]
    state = RunState("r_1", "streaming", None, "2026-01-01T00:00:02Z")
    odd = Event(id="e9", type="log", created_at="")
    assert poll(state, [odd, ev(1, 5)]) == ["e9", "pending->streaming", "e1"]
