"""Which of two mogrun versions is newer, as pip orders them (PEP 440's public
versions: ``0.2.0.dev0`` < ``0.2.0a1`` < ``0.2.0`` < ``0.2.0.post1``; a local
label, ``+g1234``, does not count). mogrun depends on no ``packaging`` for it.
"""

from __future__ import annotations

import re

_VERSION = re.compile(r"v?(\d+(?:\.\d+)*)(?:[-_.]?(a|b|rc)(\d+))?(?:\.post(\d+))?"
                      r"(?:\.dev(\d+))?(?:\+[a-z0-9.]+)?", re.IGNORECASE)
_PRE = {"a": 0, "b": 1, "rc": 2}
_Key = tuple[tuple[int, ...], tuple[int, int], int, tuple[int, int]]


def _key(version: str) -> _Key | None:
    """What orders ``version`` (``None``: not a version this can order)."""
    match = _VERSION.fullmatch(version.strip())
    if match is None:
        return None
    release_, pre, number, post, dev = match.groups()
    release = tuple(int(part) for part in release_.split("."))
    while len(release) > 1 and release[-1] == 0:  # 1.0 is 1
        release = release[:-1]
    if pre:
        stage = (_PRE[pre.lower()], int(number))
    else:  # a dev release of a final comes before its pre-releases; a final after them
        stage = (-1, 0) if dev is not None and post is None else (3, 0)
    return (release, stage, -1 if post is None else int(post),
            (1, 0) if dev is None else (0, int(dev)))


def is_newer(version: str, than: str) -> bool:
    """Whether ``version`` is a later release than ``than``; ``False`` when either
    is no version this can order (then which is newer is not known)."""
    theirs, ours = _key(version), _key(than)
    return theirs is not None and ours is not None and theirs > ours
