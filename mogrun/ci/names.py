"""Names GitHub Actions gives meaning to (job ids, step outputs): which
characters they may hold, and when two of them are one.

GitHub compares these names without regard to case: a workflow's job ids are
unique case-insensitively, and a step's outputs live in a dictionary that
ignores case (actions/runner's ``DictionaryContextData`` uses
``OrdinalIgnoreCase``; setting an output overwrites the one of any case), so
``Lint_run_ids`` and ``lint_run_ids`` are one output and the last line written
wins. ``same_name_key`` is that rule, for every place that keeps names apart.
"""

from __future__ import annotations

import re

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")


def github_name(name: str, *, prefix: str) -> str:
    """``name`` with every character but letters, digits, ``_`` and ``-`` as
    ``_``, and ``prefix`` in front when it would not start with a letter or ``_``."""
    safe = _NOT_ALLOWED.sub("_", name)
    return safe if safe[:1].isalpha() or safe[:1] == "_" else prefix + safe


def same_name_key(name: str) -> str:
    """What GitHub compares two names by: equal keys are one name."""
    return name.casefold()
