"""Branch names the server accepts, checked before any request is sent: the
rules of ``git check-ref-format`` applied to ``refs/heads/<name>``, and the
server's own, which are narrower (only ASCII letters, digits, ``_``, ``.``,
``/`` and ``-``; never ``HEAD``)."""

from __future__ import annotations

import string

from mogrun.tomltext import toml_repr

_FORBIDDEN = set(" ~^:?*[\\")
_SERVER_CHARS = frozenset(string.ascii_letters + string.digits + "_./-")
# Not the server's rule (its isValidSandboxBranchName sets no length): git keeps
# a branch as a file under refs/heads/, and most file systems refuse a file name
# over 255 bytes. A whole name held to 255 characters (ASCII only, by the rule
# above) can have no component longer than that.
MAX_LENGTH = 255


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
    if name == "HEAD":
        return 'cannot be "HEAD"'
    bad = sorted({c for c in name if c in _FORBIDDEN or ord(c) < 32 or ord(c) == 127})
    if bad:
        return "contains " + ", ".join(map(toml_repr, bad))
    odd = sorted({c for c in name if c not in _SERVER_CHARS})
    if odd:
        return ("contains " + ", ".join(map(toml_repr, odd))
                + ' (the API takes only letters a-z, A-Z, digits, "_", ".", "/" and "-")')
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
