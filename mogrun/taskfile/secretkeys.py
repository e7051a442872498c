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
    ``rotate-token`` holds no credential.
    """
    if isinstance(data, dict):
        for key, value in data.items():
            if is_secret_key(key) and prefix != ("jobs",):
                yield (*prefix, key)
            yield from secret_key_paths(value, (*prefix, key))
    elif isinstance(data, list):
        for item in data:
            yield from secret_key_paths(item, prefix)
