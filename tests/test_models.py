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


def test_a_fan_out_cut_to_one_run_still_names_it_by_its_repo() -> None:
    """A rerun keeps only the runs it retries: a fan-out's one failed run was then
    named by its job alone in every line (started, result, reason, --json's label),
    as a one-repo job's is, and a CI log of several repos could not tell which."""
    import dataclasses

    from mogrun.models import ResolvedJob, RunPlan, StartRequest
    from mogrun.output.tables import reason_lines
    from mogrun.runs import RunResult

    plans = tuple(RunPlan("fan", repo, StartRequest(repo=repo, prompt="x", idempotency_key="k"))
                  for repo in ("acme/api", "acme/web"))
    job = ResolvedJob(name="fan", description="", needs=(), runs=plans, timeout=60.0)
    one = ResolvedJob(name="solo", description="", needs=(), runs=plans[:1], timeout=60.0)
    kept = dataclasses.replace(job, runs=plans[1:])  # what rerun makes of it
    assert (job.fan_out, one.fan_out, kept.fan_out) == (True, False, True)
    assert kept.label_of(plans[1]) == "fan:acme/web"
    assert one.label_of(plans[0]) == "solo"
    failed = (RunResult(job="fan", repo="acme/web", outcome="failed", message="boom"),)
    assert reason_lines(failed)[0].startswith("fan  failed")
    assert reason_lines(failed, fan_outs={"fan"})[0].startswith("fan:acme/web  failed")
