"""What a task file's ``repo`` can be: ``owner/name`` (resolved to an id through
``GET /repos``) or a repo id, a UUID as the server keys its repos. Stdlib only:
``check`` and ``show`` ask it without loading the API client."""

from __future__ import annotations

import re
import string

# What GitHub lets owner and repository names hold.
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "-_.")
_HEX = "[0-9a-fA-F]"
_REPO_ID = re.compile(f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}")


def is_full_name(name: str) -> bool:
    """``owner/name`` (anything else is taken as a repo id)."""
    owner, sep, repo = name.partition("/")
    return bool(sep and owner and repo and "/" not in repo)


def wrong_name_characters(name: str) -> list[str]:
    """The characters of an ``owner/name`` that no GitHub name holds, once each
    (sorted): anything else would only fail later, at ``GET /repos`` or in a
    header the name goes into (a fan-out's idempotency key suffix)."""
    return sorted({c for c in name if c not in _NAME_CHARS and c != "/"})


def is_repo_id(value: str) -> bool:
    """A repo id as the server has them: a UUID. The server's start limit casts the
    repoId to a UUID before it validates the body, so anything else is answered
    503 (retried, exit 69) rather than 'Repo not found'."""
    return _REPO_ID.fullmatch(value) is not None
