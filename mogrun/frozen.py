"""Values hooks are handed read-only, all the way down.

The dataclasses plugins receive are frozen, but a dict inside one (a job's
``options``, an event's ``payload``) was not: a plugin that changed one in
place rewrote what the bundled gates judged (a failed run passed) and what
``--json`` printed, past every check a replaced value gets. These dict and
list types refuse a change with a ``TypeError`` that says what to do, and
are still a ``dict`` and a ``list`` to everything that reads them (JSON,
``==``, ``isinstance``); a copy of one (``copy``, ``deepcopy``, ``dict()``)
is an ordinary, changeable one.
"""

from __future__ import annotations

import copy
from typing import Any, NoReturn

_HINT = "this value is read-only: change a copy (copy.deepcopy), and hand a job back " \
        "with dataclasses.replace"


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(_HINT)


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses every change."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, (dict(self),)


class FrozenList(list[Any]):
    """A ``list`` that refuses every change."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(value, memo) for value in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return list, (list(self),)


def frozen(value: Any) -> Any:
    """``value`` with every dict and list in it read-only (already frozen: as is).
    Anything else (a plugin's own object, a set) is kept as it is."""
    if isinstance(value, FrozenDict | FrozenList):
        return value
    if isinstance(value, dict):
        return FrozenDict({key: frozen(item) for key, item in value.items()})
    if isinstance(value, list):
        return FrozenList(frozen(item) for item in value)
    return value
