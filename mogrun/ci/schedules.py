"""The task file's schedules: which jobs have one, ``check``'s warnings about
them and ``list``'s next run times. Nothing here loads the cron reader unless
a job has a ``schedule``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mogrun.taskfile.parse import TaskFile


def raw_schedule(taskfile: TaskFile, job: str) -> Any:
    """The job's ``schedule`` value, ``[defaults]`` applied (``None``: unscheduled)."""
    table = taskfile.jobs.get(job, {})
    return table["schedule"] if "schedule" in table else taskfile.defaults.get("schedule")


def job_schedules(taskfile: TaskFile, job: str) -> list[str]:
    """The job's cron expressions, spelled as the workflow writes them; ``[]`` when
    it has none (or the value is not a string or list of them)."""
    from mogrun.ci.cron import normalize, schedules

    return [normalize(e) for e in schedules(raw_schedule(taskfile, job))]


def where(taskfile: TaskFile, job: str) -> tuple[str, ...]:
    """The key path of the job's ``schedule`` (its own, or the default it takes)."""
    return ("jobs", job, "schedule") if "schedule" in taskfile.jobs.get(job, {}) else (
        "defaults", "schedule")


def schedule_warnings(taskfile: TaskFile) -> list[str]:
    """``check``'s warnings: valid schedules that run at minute 0 of an hour."""
    found: list[str] = []
    for job in taskfile.jobs:
        value = raw_schedule(taskfile, job)
        if value is None:
            continue
        from mogrun.ci.cron import at_minute_zero, key_problem, minute_zero_warning

        if key_problem(value) is not None:
            continue  # reported as an error
        location = taskfile.location(*where(taskfile, job))
        found += [f"{location}: {minute_zero_warning(job, e)}"
                  for e in job_schedules(taskfile, job) if at_minute_zero(e)]
    return found


def next_run_field(taskfile: TaskFile, job: str, now: datetime | None = None) -> str | None:
    """The job's next run as ``2026-12-07T06:17:00Z`` (UTC); ``None`` when it has
    no schedule, and ``"invalid"`` when its schedule cannot run (``check`` says why)."""
    value = raw_schedule(taskfile, job)
    if value is None:
        return None
    from mogrun.ci.cron import earliest, key_problem

    if key_problem(value) is not None:
        return "invalid"
    moment = earliest(job_schedules(taskfile, job), now or datetime.now(UTC))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "invalid"
