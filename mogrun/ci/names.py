"""Names GitHub Actions gives meaning to (job ids, step outputs): which
characters they may hold, and when two of them are one.

GitHub compares these names without regard to case: a workflow's job ids are
unique case-insensitively, and a step's outputs live in a dictionary that
ignores case (actions/runner's ``DictionaryContextData`` uses
``OrdinalIgnoreCase``; setting an output overwrites the one of any case), so
``Lint_run_ids`` and ``lint_run_ids`` are one output and the last line written
wins. ``same_name_key`` is that rule, for every place that keeps names apart.
"""

import re
from collections.abc import Collection, Iterable
from typing import NamedTuple

DISPATCH_ALL = "all"  # the workflow_dispatch choice that runs every scheduled job
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")


def github_name(name: str, *, prefix: str) -> str:
    """``name`` with every character but letters, digits, ``_`` and ``-`` as
    ``_``, and ``prefix`` in front when it would not start with a letter or ``_``."""
    safe = _NOT_ALLOWED.sub("_", name)
    return safe if safe[:1].isalpha() or safe[:1] == "_" else prefix + safe


def same_name_key(name: str) -> str:
    """What GitHub compares two names by: equal keys are one name."""
    return name.casefold()


class JobNameProblem(NamedTuple):
    """A job name the workflow cannot carry: ``ci github`` refuses it, ``check``
    warns of it."""

    job: str
    message: str
    advice: str


def job_name_problems(jobs: Iterable[str], scheduled: Collection[str]) -> list[JobNameProblem]:
    """Names that are one to GitHub, which compares strings ignoring case: jobs
    whose names differ only in case (a dispatch of one, ``inputs.job ==
    'nightly'``, would start the others, and their concurrency groups would be
    one), and a scheduled job named like the dispatch choice ``all``."""
    found: list[JobNameProblem] = []
    seen: dict[str, str] = {}
    for name in jobs:
        if same_name_key(name) == same_name_key(DISPATCH_ALL) and name in scheduled:
            found.append(JobNameProblem(
                name, f'job "{name}" is scheduled, and "{DISPATCH_ALL}" is the name of the '
                "workflow's manual choice that runs every scheduled job: choosing the job "
                "would run them all", "Rename the job."))
        first = seen.setdefault(same_name_key(name), name)
        if first != name:
            found.append(JobNameProblem(
                name, f'jobs "{first}" and "{name}" differ only in case, and GitHub compares '
                "names ignoring case: a workflow could not start one without the other",
                "Rename one of them."))
    return found
