"""Branch names the server accepts: the rules of ``git check-ref-format``
applied to ``refs/heads/<name>``, checked before any request is sent."""

from __future__ import annotations

_FORBIDDEN = set(" ~^:?*[\\")
MAX_LENGTH = 255  # the server refuses longer names


def ref_problem(name: str) -> str | None:
    """Why ``name`` is not a valid branch name, or ``None`` when it is."""
    if not name:
        return "is empty"
    if len(name) > MAX_LENGTH:
        return f"is longer than {MAX_LENGTH} characters"
    if name == "@":
        return 'cannot be "@"'
    if name.startswith("-"):
        return 'cannot start with "-"'
    bad = sorted({c for c in name if c in _FORBIDDEN or ord(c) < 32 or ord(c) == 127})
    if bad:
        return "contains " + ", ".join(repr(c) for c in bad)
    for fragment, why in (("..", '".."'), ("@{", '"@{"'), ("//", '"//"')):
        if fragment in name:
            return f"contains {why}"
    if name.startswith("/") or name.endswith("/"):
        return 'cannot start or end with "/"'
    if name.endswith("."):
        return 'cannot end with "."'
    for part in name.split("/"):
        if part.startswith("."):
            return 'has a component starting with "."'
        if part.endswith(".lock"):
            return 'has a component ending with ".lock"'
    return None
