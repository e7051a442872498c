"""An environment variable that is a switch: the one reading of ``CI``,
``GITHUB_ACTIONS`` and ``MOGRUN_DISABLE_PLUGINS``'s on and off words.

``CI`` read "off" as off for one module and as on for another (its words were
spelt twice); ``GITHUB_ACTIONS`` was compared in four. A leaf (the standard
library only): every layer may use it.
"""

from __future__ import annotations

from collections.abc import Mapping

# A switch set to one of these is off: a CI matrix's leg that says CI=0, a
# pytest-style MOGRUN_DISABLE_PLUGINS=false. Compared stripped and case-folded.
OFF_WORDS = frozenset({"0", "false", "no", "off"})
# ... and to one of these, on (where a variable may also hold names, as
# MOGRUN_DISABLE_PLUGINS does, only these make it a switch).
ON_WORDS = frozenset({"1", "true", "yes", "on"})


def word(value: str | None) -> str:
    """A switch's value as compared: surrounding blanks (a CRLF ``.env``'s CR)
    dropped, case-folded."""
    return (value or "").strip().casefold()


def in_ci(env: Mapping[str, str]) -> bool:
    """Whether ``CI`` says a CI runner runs this (set to anything but blank or an
    ``OFF_WORDS`` word): one that gives its jobs a terminal (Buildkite, some
    GitLab runners) had the live view redrawn into its log five times a second."""
    value = word(env.get("CI"))
    return bool(value) and value not in OFF_WORDS


def under_github_actions(env: Mapping[str, str]) -> bool:
    """Whether this runs in a GitHub Actions step, which sets ``GITHUB_ACTIONS``
    to ``true`` exactly: then stdout and stderr are read for workflow commands,
    and the step summary and outputs are files."""
    return env.get("GITHUB_ACTIONS") == "true"
