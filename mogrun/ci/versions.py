"""Which of two mogrun versions is newer, as pip orders them (PEP 440, through
``packaging``, which pip itself vendors: ``0.2.0.dev0`` < ``0.2.0a1`` < ``0.2.0``
< ``0.2.0.post1``). A local label, ``+g1234``, does not count: a build of a
commit is no newer release than the one it was built from.
"""

from __future__ import annotations


def is_newer(version: str, than: str) -> bool:
    """Whether ``version`` is a later release than ``than``; ``False`` when either
    is no version pip could order (then which is newer is not known)."""
    from packaging.version import InvalidVersion, Version

    try:
        theirs, ours = Version(version.strip()), Version(than.strip())
    except InvalidVersion:
        return False
    return Version(theirs.public) > Version(ours.public)
