"""Hand-made jobs, runs and results for plugin tests (importable by its unique name)."""

from __future__ import annotations

from mogrun.models import ResolvedJob, RunPlan, RunResult, RunState, StartRequest


def make_request(repo: str = "acme/api") -> StartRequest:
    return StartRequest(repo=repo, prompt="do it", idempotency_key=f"k-{repo}")


def make_job(name: str = "nightly", options: dict | None = None, repos=("acme/api",),
             secrets=frozenset()) -> ResolvedJob:
    runs = tuple(RunPlan(job=name, repo=r, request=make_request(r)) for r in repos)
    return ResolvedJob(name=name, description="", needs=(), runs=runs, timeout=60.0,
                       options=options or {}, secrets=frozenset(secrets))


def make_state(status: str = "success", created: str = "2026-01-01T00:00:00Z",
               updated: str = "2026-01-01T00:05:00Z") -> RunState:
    return RunState(run_id="run_1", status=status, created_at=created, updated_at=updated)


def make_result(job: str = "nightly", repo: str = "acme/api", outcome: str = "success",
                **kw) -> RunResult:
    kw.setdefault("status", outcome if outcome in ("success", "failed", "cancelled") else None)
    return RunResult(job=job, repo=repo, outcome=outcome, **kw)

