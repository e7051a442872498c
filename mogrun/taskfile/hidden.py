"""What one mistake in a job must not hide: the job, built without its wrong
keys (a stand-in for those a run is made of), shows the problems of its other
keys, and ``independent`` keeps only those the left-out keys do not change.
``check`` lists them; ``show`` and ``run`` count them (``resolve``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mogrun.errors import MogrunError, TaskFileError, TemplateError
from mogrun.taskfile.building import inherits_a_wrong_default
from mogrun.taskfile.jobnames import JOB_NAME
from mogrun.taskfile.parse import TaskFile

# What a job's run is made of: a wrong one is replaced by a stand-in (a repo that is
# none: nothing made from it is judged), the others are left out (they have defaults).
_STAND_INS: dict[str, Any] = {"repo": "", "prompt": "-", "automation": "-", "input": {}}
# The core keys whose problems a job built without its wrong keys tells as they are:
# each judgment reads its own key's value, and a left-out key (a default instead)
# can only take a problem away (create_branch left out: no branch to tell apart from
# its base), never make one up.
_JUDGED_ALONE = frozenset({"repo", "prompt", "prompt_file", "automation", "input", "root",
                           "idempotency_key", "branch", "base_branch"})


def without_wrong_keys(taskfile: TaskFile, keyed: Sequence[MogrunError], built: list[str]
                       ) -> list[tuple[str, dict[str, Any], set[str]]]:
    """Each job not built for wrong keys of its own, as a table without them (a
    stand-in for one a run is made of) and those keys: building it finds the
    problems of its other keys, which one mistake must not hide (``independent``
    keeps only those a left-out key does not change)."""
    wrong: dict[str, set[str]] = {}
    for problem in keyed:
        if isinstance(problem, TaskFileError) and problem.job and problem.job not in built:
            wrong.setdefault(problem.job, set()).add(problem.key or "")
    repaired = []
    for name, keys in wrong.items():
        if name not in taskfile.jobs or not keys <= set(taskfile.jobs[name]):
            continue  # a problem of the job itself (no repo at all, say): nothing to repair
        table = {k: v for k, v in taskfile.jobs[name].items() if k not in keys}
        for key in keys & {"prompt", "prompt_file"}:
            table.pop("prompt" if key == "prompt_file" else "prompt_file", None)
            keys.add("prompt_file" if key == "prompt" else "prompt")
            table["prompt"] = _STAND_INS["prompt"]
        table.update({key: _STAND_INS[key] for key in keys if key in _STAND_INS})
        if JOB_NAME.fullmatch(name) and not inherits_a_wrong_default(taskfile, table):
            repaired.append((name, table, keys))
    return repaired


def independent(problem: MogrunError, wrong: set[str]) -> bool:
    """A problem of a job built without its ``wrong`` keys that holds with them too:
    a template's, or one of a core key that is not among them."""
    if isinstance(problem, TemplateError):
        return True
    key = getattr(problem, "key", None)
    return key in _JUDGED_ALONE and key not in wrong
