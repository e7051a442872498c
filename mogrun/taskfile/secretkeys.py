"""The rule for secret-looking keys: a task file is committed, so a key named
like a credential (``token``, ``api_key``, ``githubToken``, ``*_secret``...)
is refused wherever it is, and no error ever quotes the line it is on.

A leaf (standard library only), so the key scanner can use it too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

SECRET_NAMES = frozenset({
    "token", "api_key", "apikey", "secret", "secrets", "password", "passwd", "auth",
    "authorization", "mogplex_api_key", "access_token", "bearer", "credentials",
    "private_key", "client_secret", "pat",
})
SECRET_SUFFIXES = ("_token", "_secret", "_password", "_apikey", "_api_key")
SECRET_HINT = "secrets do not belong in the task file; set MOGPLEX_API_KEY in the environment"
# Where keys are the user's own names (a var, an automation's input field): the
# secret they hold, if any, is not mogrun's token.
FREE_FORM_HINT = ('secrets do not belong in the task file; take the value from the '
                  'environment, as "{{ env.NAME }}" (mogrun\'s own token is MOGPLEX_API_KEY)')
# A value that only names an environment variable holds no secret itself (its
# value is masked as one): `{{ env.NAME }}` and nothing else, no default text.
# (A pattern, compiled by ``re`` on first use: only a secret-looking key asks it.)
_ENV_ONLY = r"\s*\{\{\s*env\.[A-Za-z_][A-Za-z0-9_-]*\s*\}\}\s*"


@functools.lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """Whether a key's name looks like it holds a credential (remembered: a large
    file asks about the same few key names thousands of times)."""
    # githubToken, api-key, "api key" and API_KEY all read as github_token, api_key.
    normal = re.sub(r"[\s-]+", "_", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip()).lower())
    return normal in SECRET_NAMES or normal.endswith(SECRET_SUFFIXES)


def secret_key_paths(data: Any, prefix: tuple[str, ...] = ()) -> Iterable[tuple[str, ...]]:
    """Every key path in ``data`` (tables, arrays of tables) whose name looks secret.

    Job names (the keys of ``[jobs]``) are names, not values: a job called
    ``rotate-token`` holds no credential. Nor does a var or an automation's input
    field whose value is ``{{ env.NAME }}``: an automation may well name its
    input ``token``.
    """
    if isinstance(data, dict):
        for key, value in data.items():
            path = (*prefix, key)
            if is_secret_key(key) and prefix != ("jobs",) and not (
                    is_free_form(path) and isinstance(value, str)
                    and re.fullmatch(_ENV_ONLY, value)):
                yield path
            yield from secret_key_paths(value, path)
    elif isinstance(data, list):
        for item in data:
            yield from secret_key_paths(item, prefix)


def is_free_form(path: tuple[str, ...]) -> bool:
    """Whether the key at ``path`` is one the user names freely: a var, or a field
    of an automation's input (in a job or in ``[defaults]``)."""
    return (path[0] == "vars" or (path[0] == "jobs" and path[2:3] == ("input",))
            or path[:2] == ("defaults", "input")) and len(path) > 1


def secret_hint(path: tuple[str, ...]) -> str:
    """What to do about a secret-looking key at ``path``: a var holding no secret
    (``pat`` for a pattern) is renamed; an input field is named by its automation."""
    if path[0] == "vars" and len(path) == 2:
        return FREE_FORM_HINT + "; a var that holds no secret can take another name"
    return FREE_FORM_HINT if is_free_form(path) else SECRET_HINT
