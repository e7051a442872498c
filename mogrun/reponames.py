"""What a task file's ``repo`` can be: ``owner/name`` (resolved to an id through
``GET /repos``) or a repo id, a UUID as the server keys its repos. Stdlib only:
``check`` and ``show`` ask it without loading the API client."""

from __future__ import annotations

import re
import string
from collections.abc import Callable

# What GitHub lets owner and repository names hold.
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "-_.")
OWNER_LONGEST = 39
NAME_LONGEST = 100
OWNER_RULE = (f'an owner is at most {OWNER_LONGEST} ASCII letters, digits, "-" and "_", '
              'not starting with "-"')
NAME_RULE = (f'a name is at most {NAME_LONGEST} ASCII letters, digits, "-", "_" and ".", '
             'other than "." and ".."')
CHARS_RULE = 'owner and name hold only ASCII letters, digits, "-", "_" and "."'
_HEX = "[0-9a-fA-F]"
# Compiled at its first use (re keeps it): list imports this module for repo_key alone.
_UUID = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"


def is_full_name(name: str) -> bool:
    """``owner/name`` (anything else is taken as a repo id)."""
    owner, sep, repo = name.partition("/")
    return bool(sep and owner and repo and "/" not in repo)


def repo_key(repo: str) -> str:
    """``repo`` as the server tells repos apart: an owner/name in any case (GitHub's
    names are case-insensitive, and ``GET /repos`` resolves them so), a repo id in
    either case. ``acme/API`` edited to ``acme/api`` is the same repo, and so are
    their recorded runs."""
    return repo.casefold()


def wrong_name_characters(name: str) -> list[str]:
    """The characters of an ``owner/name`` that no GitHub name holds, once each
    (sorted): anything else would only fail later, at ``GET /repos`` or in a
    header the name goes into (a fan-out's idempotency key suffix)."""
    return sorted({c for c in name if c not in _NAME_CHARS and c != "/"})


def owner_fault(owner: str) -> str | None:
    """What keeps the owner of an ``owner/name`` (its characters already GitHub's)
    from being a GitHub account, or ``None``: ``../..`` would otherwise go to
    ``GET /repos`` as a name. Lenient where GitHub's rule is uncertain: ``_``
    passes (Enterprise Managed Users are ``handle_shortcode``), and so do ``--``
    and a trailing ``-`` (older accounts have them); only what no account can
    be is refused."""
    if "." in owner:
        return 'holds "."'
    if owner.startswith("-"):
        return 'starts with "-"'
    if len(owner) > OWNER_LONGEST:
        return f"is {len(owner)} characters"
    return None


def name_fault(name: str) -> str | None:
    """What keeps the name of an ``owner/name`` (its characters already GitHub's)
    from being a GitHub repository, or ``None``: GitHub refuses ``.`` and ``..``
    (path segments, not names). Names of dots only beyond those pass: whether
    GitHub keeps them is not certain."""
    if name in (".", ".."):
        return "is reserved"
    if len(name) > NAME_LONGEST:
        return f"is {len(name)} characters"
    return None


def name_problem(full_name: str, quote: Callable[[str], str] = repr, *,
                 hidden: bool = False) -> str | None:
    """What keeps ``owner/name`` from being a GitHub repository, as the words after
    "is not a GitHub owner/name: ", or ``None``: characters no name holds, then an
    owner or a name that cannot be one. ``quote`` shows a character or a part;
    ``hidden``: the part is named, not shown (``full_name`` holds a secret, and
    masking the whole would not hide its parts)."""
    wrong = wrong_name_characters(full_name)
    if wrong:
        return f"{CHARS_RULE}, not {', '.join(map(quote, wrong))}"
    owner, _, name = full_name.partition("/")
    for part, value, fault, rule in (("owner", owner, owner_fault(owner), OWNER_RULE),
                                     ("name", name, name_fault(name), NAME_RULE)):
        if fault:
            named = f"its {part}" if hidden else f"the {part} {quote(value)}"
            return f"{named} {fault}; {rule}"
    return None


def is_repo_id(value: str) -> bool:
    """A repo id as the server has them: a UUID. The server's start limit casts the
    repoId to a UUID before it validates the body, so anything else is answered
    503 (retried, exit 69) rather than 'Repo not found'."""
    return is_uuid(value)


def is_uuid(text: str) -> bool:
    """A UUID, in either case: how the server keys its repos and its runs."""
    return re.fullmatch(_UUID, text) is not None
