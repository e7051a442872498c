"""What plugins declare: extra ``run`` options and job keys, checked as they are
registered (names, types, clashes with mogrun's own), and the validators they
supply wrapped so a crash is the plugin's error (exit 2), never a traceback.

Kept apart from ``pluginhost`` (which calls the hooks) so each stays small.
"""

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from mogrun.errors import MogrunError, PluginError, ValidatorCrash
from mogrun.models import KeySpec
from mogrun.pluginguard import (
    NOT_PLUGIN_FAULTS,
    PLUGIN_FAULTS,
    current_plugin,
    describe_exc,
    validating,
)
from mogrun.taskfile.schema import JOB_KEYS, json_problems

# Keys the task file itself owns; a plugin may not declare them.
BUILTIN_JOB_KEYS = frozenset(JOB_KEYS)
_OPTION_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_KEY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# Options of `mogrun`, `mogrun run` and `mogrun rerun` themselves, by their long
# names and their destinations (`--jobs` is `parallel`); a plugin may not shadow
# them. Kept here, not read from the click declarations, so that `check` and
# `show` (answered without click) refuse the same names; a test holds it to
# every option those commands declare.
RESERVED_OPTIONS = frozenset({
    "jobs", "parallel", "dry-run", "timeout", "detach", "no-deps", "rerun", "keep-going",
    "plugin", "plugins", "shard", "help", "file", "url", "local", "set", "sets", "list",
    "list-jobs", "json", "json-output", "quiet", "verbose", "no-color", "no-plugins",
    "version",
})


class OptionSpec(NamedTuple):
    """An extra ``mogrun run`` option declared through ``mogrun_add_options``."""

    name: str
    help: str = ""
    metavar: str = "VALUE"
    flag: bool = False
    plugin: str | None = None


def option_registrar(sink: dict[str, OptionSpec]) -> Callable[..., None]:
    """The ``register`` of ``mogrun_add_options``; errors name the calling plugin."""
    def register(name: str, help: str = "", metavar: str = "VALUE", flag: bool = False) -> None:
        plugin = current_plugin()
        if not isinstance(name, str) or not _OPTION_NAME.match(name):
            raise PluginError(f'plugin "{plugin}" registers a bad option name {name!r} '
                              "(lowercase letters, digits and -, without the leading --)")
        if name in RESERVED_OPTIONS:
            raise PluginError(f'plugin "{plugin}" registers option "--{name}", '
                              "which is one of mogrun's own options")
        if name in sink:
            raise PluginError(f'plugin "{plugin}" registers option "--{name}" twice'
                              if sink[name].plugin == plugin else
                              f'option "--{name}" is registered by both plugin '
                              f'"{sink[name].plugin}" and plugin "{plugin}"')
        problem = _option_problem(help, metavar, flag)
        if problem:
            raise PluginError(f'plugin "{plugin}" registers option "--{name}": {problem}')
        sink[name] = OptionSpec(name, help or "", metavar or "VALUE", flag, plugin)

    return register


def _option_problem(help: Any, metavar: Any, flag: Any) -> str | None:
    """click needs these types; a wrong one would crash every ``run --help``."""
    if help is not None and not isinstance(help, str):
        return "help must be a string"
    if metavar is not None and not isinstance(metavar, str):
        return "metavar must be a string"
    if not isinstance(flag, bool):
        return "flag must be True or False"
    return None


def key_registrar(sink: dict[str, KeySpec]) -> Callable[..., None]:
    """The ``register`` of ``mogrun_job_keys``; errors name the calling plugin."""
    def register(name: str, validate: Callable[[Any], Any], help: str = "",
                 secrets: Callable[[Any], Any] | None = None,
                 schema: Mapping[str, Any] | None = None) -> None:
        plugin = current_plugin()
        if not isinstance(name, str) or not _KEY_NAME.match(name):
            raise PluginError(f'plugin "{plugin}" declares a bad job key name {name!r} '
                              "(letters, digits, _ and -)")
        if secrets is not None and not callable(secrets):
            raise PluginError(f'plugin "{plugin}" declares job key "{name}" with a secrets '
                              "that is not callable")
        if name in BUILTIN_JOB_KEYS:
            raise PluginError(f'plugin "{plugin}" declares job key "{name}", '
                              "which is one of mogrun's own keys")
        from mogrun.taskfile.secretkeys import is_secret_key

        if is_secret_key(name):  # check refuses such a key, whatever its value
            raise PluginError(f'plugin "{plugin}" declares job key "{name}", which looks like '
                              "a secret's: a task file refuses every such key (it is "
                              "committed)", context=[
                                  "Name it otherwise (webhook, not webhook_token): a user "
                                  "gives its value as {{ env.NAME }}, masked as a secret."])
        if name in sink:
            raise PluginError(f'plugin "{plugin}" declares job key "{name}" twice'
                              if sink[name].plugin == plugin else
                              f'job key "{name}" is declared by both plugin '
                              f'"{sink[name].plugin}" and plugin "{plugin}"')
        if not callable(validate):
            raise PluginError(f'plugin "{plugin}" declares job key "{name}" '
                              "without a validate function")
        if not isinstance(help, str):  # mogrun schema writes it as a description
            raise PluginError(f'plugin "{plugin}" declares job key "{name}" with a help that '
                              f"is not text ({type(help).__name__})")
        if schema is not None and not _is_json(schema):
            raise PluginError(f'plugin "{plugin}" declares job key "{name}" with a schema '
                              "that is not a JSON object (a JSON Schema fragment: dicts, "
                              "lists, strings, finite numbers, booleans and None)")
        unknown = None if schema is None else _unknown_type(schema)
        if unknown is not None:  # an editor given the schema refuses the whole file
            raise PluginError(f'plugin "{plugin}" declares job key "{name}" with a schema '
                              f'whose "type" {unknown!r} is no JSON Schema type (one of '
                              f"{', '.join(sorted(JSON_TYPES))})")
        sink[name] = KeySpec(name, _guarded_validate(plugin, name, validate), help,
                             _guarded_secrets(plugin, name, secrets), plugin, schema)

    return register


JSON_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
_DATA_KEYWORDS = frozenset({"const", "default", "enum", "examples"})


def _unknown_type(schema: object) -> str | None:
    """A ``"type"`` of ``schema`` (or of a schema inside it) that names no JSON Schema
    type (``"strin"``); ``None`` when every one does. A ``"type"`` whose value is a
    schema is a property of that name, not a type."""
    if isinstance(schema, list):
        return next((found for item in schema if (found := _unknown_type(item))), None)
    if not isinstance(schema, dict):
        return None
    for key, value in schema.items():
        if key in _DATA_KEYWORDS:  # values, not schemas: a default may hold a "type"
            continue
        if key == "type" and isinstance(value, str | list):  # a type, or a list of them
            names = [value] if isinstance(value, str) else value
            wrong = next((t for t in names if isinstance(t, str) and t not in JSON_TYPES), None)
            if wrong is not None:
                return wrong
        elif (found := _unknown_type(value)) is not None:
            return found
    return None


def _is_json(schema: object) -> bool:
    """Whether ``schema`` is a JSON object ``mogrun schema`` can write as it is."""
    return isinstance(schema, dict) and next(json_problems(schema), None) is None


def _guarded_validate(plugin: str, key: str, validate: Callable[[Any], Any]) -> Callable[..., Any]:
    """``validate`` whose ValueError stays the user's mistake (the key's value is
    wrong), and whose crashes are the plugin's: any other exception, a TypeError
    too, is a bug in it (a PluginError, exit 2, not a traceback or a task-file
    error pointing at a value that may be right)."""
    def checked(value: Any) -> Any:
        try:
            with validating(plugin, key):  # a slow one is said, as a slow set-up hook is
                return validate(value)
        except (ValueError, MogrunError, *NOT_PLUGIN_FAULTS):
            raise
        except PLUGIN_FAULTS as exc:
            raise ValidatorCrash(plugin, key, describe_exc(exc)) from exc

    return checked


def _guarded_secrets(plugin: str, key: str,
                     secrets: Callable[[Any], Any] | None) -> Callable[..., list[Any]] | None:
    """``secrets`` as a list (a string is one secret); a crash or a non-iterable
    answer is a PluginError (a secret that cannot be listed cannot be masked)."""
    if secrets is None:
        return None

    def listed(value: Any) -> list[Any]:
        try:
            answer = secrets(value)
        except NOT_PLUGIN_FAULTS:
            raise
        except PLUGIN_FAULTS as exc:
            raise PluginError(f'plugin "{plugin}" failed listing the secrets of job key '
                              f'"{key}": {type(exc).__name__}') from exc
        # A bare string is one secret (``list`` would mask its characters, i.e. nothing).
        if answer is None or isinstance(answer, str):
            return [answer] if answer else []
        # Any iterable of strings (None and "" skipped: an optional field unset); not a
        # mapping, whose keys are not its secrets, bytes (numbers), nor what cannot be
        # iterated. An item of another kind (a number) is refused too: left out, its
        # value would show unmasked, and nothing would say so.
        kind = type(answer).__name__
        try:
            items = None if isinstance(answer, (Mapping, bytes, bytearray)) else list(answer)
        except TypeError:
            items = None
        if items is not None:
            odd = next((type(item).__name__ for item in items
                        if item is not None and not isinstance(item, str)), None)
            if odd is None:
                return [item for item in items if item]
            kind = f"{kind} holding {odd}"
        raise PluginError(f'plugin "{plugin}" returned {kind} listing the secrets of job '
                          f'key "{key}", expected a string or strings (a list, a tuple...)')

    return listed
