"""The words of the first and second signal (the e2e tests send real ones)."""

from __future__ import annotations

from mogrun.engine.signals import first_signal_message, left_going_lines


def test_first_signal_message_counts_runs_and_names_the_next_step():
    assert first_signal_message(4, 0) == (
        "cancelling 4 runs started here; Ctrl-C again to leave them going")
    assert first_signal_message(1, 2) == (
        "cancelling 1 run started here; Ctrl-C again to leave it going "
        "(2 attached runs not started here left going)")
    assert first_signal_message(0, 0) == "interrupted; no run started here is going, stopping"
    # a SIGTERM (CI cancelling the job) or a SIGHUP is named as when runs are going
    assert first_signal_message(0, 0, 143) == "SIGTERM: no run started here is going, stopping"
    assert first_signal_message(0, 0, 129) == "SIGHUP: no run started here is going, stopping"
    assert first_signal_message(2, 0, 143) == (
        "SIGTERM: cancelling 2 runs started here; a second signal leaves them going")


def test_left_going_lines_give_each_run_its_cancel_command():
    going = {"run_a": "codemod:acme/api", "run_b": "lint"}
    assert left_going_lines(going) == [
        "left going: run_a (codemod:acme/api); cancel it with: mogrun cancel run_a",
        "left going: run_b (lint); cancel it with: mogrun cancel run_b",
    ]
    assert left_going_lines({}) == ["no runs were left going"]
    assert left_going_lines({"run_a": "x"}, local=True) == [
        "left going: run_a (x); it ends with the --local emulator"]


def test_starts_in_flight_are_said_at_the_first_signal_and_named_at_the_second():
    assert first_signal_message(0, 0, starting=2) == (
        "interrupted; waiting up to 10s for 2 starts in flight to answer, to cancel what "
        "they started")
    assert first_signal_message(1, 0, 143, starting=1) == (
        "SIGTERM: cancelling 1 run started here; a second signal leaves it going; waiting "
        "up to 10s for 1 start in flight to answer, to cancel what it started")
    assert left_going_lines({}, starting={"a:acme/api": "k-1"}) == [
        "left unanswered: the start of a:acme/api (Idempotency-Key k-1); it may have made "
        "a run, left going"]


def test_runs_already_left_going_are_said_to_stay_going_not_cancelled():
    assert first_signal_message(0, 0, left=1) == (
        "interrupted; 1 run already left going (--detach, a timeout) stays going")
    assert first_signal_message(2, 0, left=3) == (
        "cancelling 2 runs started here; Ctrl-C again to leave them going; 3 runs already "
        "left going (--detach, a timeout) stay going")


def test_left_going_commands_start_as_the_invocation_did():
    """``mogrun cancel ID`` alone fails where the task file is not mogplex.toml."""
    assert left_going_lines({"run_a": "x", "run_b": "y"}, cancelling={"run_b"},
                            command="mogrun -f night.toml") == [
        "left going: run_a (x); cancel it with: mogrun -f night.toml cancel run_a",
        "cancel sent, not yet answered: run_b (y); see whether it ended with: "
        "mogrun -f night.toml status run_b"]


def test_triggers_in_flight_are_counted_and_said_to_be_left_going():
    assert first_signal_message(0, 0, triggering=1) == (
        "interrupted; waiting up to 10s for 1 automation trigger in flight to answer: the "
        "run it makes cannot be cancelled and is left going")
    assert first_signal_message(1, 0, starting=1, triggering=2) == (
        "cancelling 1 run started here; Ctrl-C again to leave it going; waiting up to 10s "
        "for 1 start in flight to answer, to cancel what it started, and for 2 automation "
        "triggers in flight to answer: the runs they make cannot be cancelled and are left "
        "going")
