"""Value objects read from API payloads: null fields are unknown, not "None"."""

from mogrun.runs import RunState


def test_null_run_fields_are_empty_not_the_string_none() -> None:
    state = RunState.from_api({"runId": None, "status": None})
    assert (state.run_id, state.status) == ("", "")
    assert not state.terminal


def test_run_state_keeps_known_and_unknown_fields() -> None:
    data = {"runId": "run_1", "status": "cancellation_requested", "newField": 1}
    state = RunState.from_api(data)
    assert (state.run_id, state.status, state.raw["newField"]) == ("run_1",
                                                                    "cancellation_requested", 1)
    assert not state.terminal
