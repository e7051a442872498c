"""The lifecycle channel: who hears what, and that nothing is heard after the end."""

from __future__ import annotations

from mogrun.cli.local_events import LocalEventLog
from mogrun.engine.lifecycle import Lifecycle, Observer
from mogrun.runs import Event, RunState


class Heard(Observer):
    def __init__(self) -> None:
        self.heard: list[str] = []

    def event(self, track, event):
        self.heard.append(f"event {event.message}")

    def status(self, track, old, state):
        self.heard.append(f"status {state.status}")

    def notice(self, message, *, track=None, level="info"):
        self.heard.append(f"notice {message}")

    def left_going(self, exit_code, cancelling=(), ended=None):
        self.heard.append(f"left going {exit_code}")


def test_after_left_going_a_worker_left_behind_is_heard_by_no_one():
    """At a second Ctrl-C the history and the output close while workers still
    catch up on cancelled runs: what they emit then went to a closed database
    and ended in an internal error with a traceback."""
    first, second = Heard(), Heard()
    channel = Lifecycle([first, second])
    channel.event(None, Event("e1", "log", "t", message="before"))
    channel.left_going(130)
    channel.event(None, Event("e2", "log", "t", message="after"))
    channel.status(None, "running", RunState(run_id="r", status="cancelled"))
    channel.notice("after")
    assert first.heard == second.heard == ["event before", "left going 130"]


def test_the_local_event_log_drops_what_comes_after_it_is_closed(tmp_path):
    log = LocalEventLog(tmp_path / "events.db")
    log.add("r1", {"message": "kept"})
    log.close()
    log.add("r1", {"message": "late"})  # raised sqlite3.ProgrammingError
    again = LocalEventLog(tmp_path / "events.db")
    assert [e.message for e in again.events("r1")] == ["kept"]
    again.close()
