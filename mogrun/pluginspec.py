"""Type checks read from the annotations themselves, so they cannot drift.

A hook's answer is checked against its spec's return annotation in
``hookspecs``; a value object (a rewritten ``StartRequest``, a
``GateVerdict``) against its dataclass field annotations. Only the shapes the
specs and models use are understood: ``None``, unions, ``Literal``,
``list``/``tuple``/``Sequence`` of one type, plain classes and dataclasses.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Sequence
from typing import Any, Literal, Union

_LABELS = {str: "a string", bool: "a boolean", int: "a whole number", float: "a number",
           type(None): "None"}


@functools.cache
def return_hint(hook: str) -> Any:
    """The return annotation of hook spec ``hook``, resolved."""
    from mogrun import hookspecs

    return typing.get_type_hints(getattr(hookspecs, hook), localns=_names())["return"]


@functools.cache
def field_hints(cls: Any) -> dict[str, Any]:
    """The resolved annotations of a dataclass's fields, in declaration order."""
    hints = typing.get_type_hints(cls, localns=_names())
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


# The value types only a run meets, and their homes: imported when first named (an
# annotation resolved here, a plugin's ``from mogrun.plugin import Wait``), as check
# and show resolve their hooks' answers and load every plugin without them.
ON_FIRST_USE = {
    "Event": "mogrun.runs", "GateVerdict": "mogrun.runs", "RunResult": "mogrun.runs",
    "RunState": "mogrun.runs", "Wait": "mogrun.waits", "WaitKind": "mogrun.waits",
}


class _Names(dict[str, Any]):
    """What the specs and models name only under ``TYPE_CHECKING``; a name of
    ``ON_FIRST_USE`` is imported as an annotation names it."""

    def __missing__(self, name: str) -> Any:
        return first_use(name)


def first_use(name: str) -> Any:
    """The value of ``ON_FIRST_USE`` ``name``, its module imported now; ``KeyError``
    when it is none of them."""
    import importlib

    home = ON_FIRST_USE[name]
    return getattr(importlib.import_module(home), name)


def _names() -> dict[str, Any]:
    """What the specs and models name only under ``TYPE_CHECKING``."""
    from mogrun import errors, models

    names = _Names()
    for module in (errors, models):
        names.update({k: v for k, v in vars(module).items() if isinstance(v, type)})
    return names


def conforms(value: Any, hint: Any, *, deep: bool = True) -> bool:
    """Whether ``value`` is what ``hint`` promises (dataclass fields too when ``deep``)."""
    origin, args = _shape(hint)
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    if origin in (Union, types.UnionType):
        return any(conforms(value, arg, deep=deep) for arg in args)
    if origin is Literal:
        return any(value is arg or (type(value) is type(arg) and value == arg) for arg in args)
    if origin in (list, tuple, Sequence):
        return _sequence_conforms(value, origin, args, deep)
    if hint in (int, float):  # a bool is no number here, though Python says it is
        return isinstance(value, int | float if hint is float else int) \
            and not isinstance(value, bool)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return isinstance(value, hint) and (not deep or field_problem(value) is None)
    return isinstance(value, origin or hint)


@functools.lru_cache(maxsize=256)
def _shape(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    """``hint``'s origin and arguments, worked out once: hooks answer every run."""
    return typing.get_origin(hint), typing.get_args(hint)


def _sequence_conforms(value: Any, origin: Any, args: tuple[Any, ...], deep: bool) -> bool:
    kinds = (list, tuple) if origin is Sequence else (origin,)
    if not isinstance(value, kinds):
        return False
    item = args[0] if args else Any
    return all(conforms(v, item, deep=deep) for v in value)


def field_problem(value: Any) -> str | None:
    """``prompt must be a string, not int`` for the first field of a dataclass
    instance whose value its annotation does not allow."""
    cls: Any = type(value)
    for name, hint in field_hints(cls).items():
        field_value = getattr(value, name)
        if not conforms(field_value, hint, deep=False):
            return f"{name} must be {type_label(hint)}, not {type(field_value).__name__}"
    return None


def field_labels(cls: type) -> str:
    """``gate: str, passed: bool, reason: str``, from the dataclass itself."""
    return ", ".join(f"{name}: {_short(hint)}" for name, hint in field_hints(cls).items())


def type_label(hint: Any) -> str:
    """How a message names what ``hint`` allows: ``a string or None``."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (Union, types.UnionType):
        labels = [type_label(arg) for arg in args]
        return ", ".join(labels[:-1]) + " or " + labels[-1]
    if typing.get_origin(hint) is Literal:
        return " or ".join(repr(arg) for arg in args)
    if typing.get_origin(hint) in (list, tuple, Sequence):
        return f"a list of {_short(args[0]) if args else 'values'}"
    return _LABELS.get(hint, f"a {_short(hint)}")


def _short(hint: Any) -> str:
    return str(getattr(hint, "__name__", hint)).replace("typing.", "")
