"""Values from env.* are secrets in -v traces and in errors too: a key or a
message carrying one shows it masked (the API token was the only value masked)."""

from __future__ import annotations

import pytest

from mogrun.errors import IdempotencyConflictError
from mogrun.models import ResolvedJob, RunPlan, StartRequest

SECRET = "topsecret42"


def job_with(request: StartRequest) -> ResolvedJob:
    return ResolvedJob(name="rel", description="", needs=(), timeout=60.0,
                       runs=(RunPlan(job="rel", repo=request.repo, request=request),),
                       secrets=frozenset({SECRET}))


def test_trace_masks_the_jobs_secrets(make_client, mogrun_emulator):
    lines: list[str] = []
    client = make_client(trace=lines.append)
    request = StartRequest(repo="acme/api", repo_id=mogrun_emulator.repo_id("acme/api"),
                           prompt="p", idempotency_key=f"rel-{SECRET}")
    client.start_run(request, job=job_with(request))
    assert len(lines) == 2
    assert not any(SECRET in line for line in lines)
    assert lines[0].endswith("Idempotency-Key: rel-*** [Authorization: Bearer mog_***]")


def test_errors_mask_the_jobs_secrets(client, mogrun_emulator):
    repo_id = mogrun_emulator.repo_id("acme/api")
    first = StartRequest(repo="acme/api", repo_id=repo_id, prompt="one",
                         idempotency_key=f"rel-{SECRET}")
    client.start_run(first, job=job_with(first))
    other = StartRequest(repo="acme/api", repo_id=repo_id, prompt="two",
                         idempotency_key=f"rel-{SECRET}")
    with pytest.raises(IdempotencyConflictError) as caught:
        client.start_run(other, job=job_with(other))
    shown = "\n".join([caught.value.message, *caught.value.context])
    assert "rel-***" in shown
    assert SECRET not in shown
