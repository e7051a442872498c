"""Hand-made values for driving reporters directly, as the engine would."""

from __future__ import annotations

import io
import time

from mogrun.models import ResolvedJob, RunPlan, StartRequest
from mogrun.runs import Event, GateVerdict, RunResult

SECRET = "hunter2-sekrit"


def make_job(name: str = "build", repos: tuple[str, ...] = ("acme/api",), secrets=(SECRET,)):
    runs = tuple(RunPlan(name, repo, StartRequest(repo, "do it", f"key-{repo}")) for repo in repos)
    return ResolvedJob(name, "", (), runs, 60.0, secrets=frozenset(secrets))


def make_event(
    message: str | None = "hello",
    *,
    id: str = "e1",
    type: str = "log",
    tool: str | None = None,
    at: str = "2026-03-04T05:06:07Z",
    payload=None,
):
    return Event(
        id=id, type=type, created_at=at, tool_name=tool, message=message, payload=payload or {}
    )


def make_result(job: str = "build", repo: str = "acme/api", outcome: str = "success", **kw):
    kw.setdefault("run_id", "r_1")
    kw.setdefault("status", "success" if outcome == "success" else "failed")
    return RunResult(job=job, repo=repo, outcome=outcome, **kw)


def summary_peak(reporter: type, results: tuple[RunResult, ...], path) -> tuple[int, str]:
    """``reporter``'s summary of ``results`` written into the file ``path`` (a file is
    paced, as a pipe is): the tracemalloc peak the summary took, and the text."""
    import tracemalloc

    with open(path, "w", encoding="utf-8") as out:
        rep = reporter(stdout=out, stderr=io.StringIO())
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            rep.summary(results, 0)
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
        rep.close()
    return peak, path.read_text(encoding="utf-8")


__all__ = ["SECRET", "ChunkyStream", "GateVerdict", "make_event", "make_job", "make_result",
           "summary_peak"]


class ChunkyStream(io.StringIO):
    """A stream whose writes yield to other threads mid-line, as a pipe can:
    lines stay whole only if the writer serialises them."""

    def write(self, text: str) -> int:
        for start in range(0, len(text), 16):
            super().write(text[start : start + 16])
            time.sleep(0)
        return len(text)
