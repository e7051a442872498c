"""Repo names to ids: few look-ups, and none for names already seen.

``GET /repos`` has no cursor: it lists the first ``limit`` (at most 200)
repos whose owner/name contains ``q``, in one fixed order. A fan-out over
many repos is resolved with as few look-ups as that allows: one listing of
the account, then one listing per group of names that share a longer
prefix (a listing shorter than its limit is complete, so a name it lacks
does not exist), those of one round asked at once. Ids found are remembered
in a cache file beside the task file, so the next invocation starts without
any look-up.

The cache stores a hash of each name, never the name itself: a repo named
from ``env.*`` is a secret, and the cache is written to disk.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mogrun.api.budget import AT_ONCE
from mogrun.api.text import escape_text
from mogrun.errors import RepoNotFoundError, TransportError
from mogrun.masking import mask
from mogrun.reponames import repo_key

PAGE = 200  # the API's largest limit
Lister = Callable[[str | None], list[dict[str, Any]]]


def repo_id_of(repo: dict[str, Any]) -> str | None:
    """A listed repo's id, or ``None`` when the server gave none usable."""
    value = repo.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return str(value)


class RepoCache:
    """Ids of repos already seen, per API and token (ids are per account).

    A missing or unreadable file is an empty cache; a failed write is
    ignored (the cache only saves look-ups, it is never the truth)."""

    def __init__(self, path: Path | str, api_url: str, token: str) -> None:
        self.path = Path(path)
        self._scope = _digest(f"{api_url}\0{token}")[:24]
        # Beside the ids: each repo's own root directory ("" for the repo root), which
        # decides the sandbox of a run that names none (see mogrun.engine.capacity).
        self._roots_scope = f"{self._scope}:roots"
        self._lock = threading.Lock()
        self._ids: dict[str, str] | None = None
        self._roots: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        with self._lock:
            return self._load().get(_digest(repo_key(name)))

    def root(self, repo_id: str) -> tuple[bool, str | None]:
        """``(known, root)``: the repo's own root directory, ``None`` for the repo root."""
        with self._lock:
            self._load()
            root = self._roots.get(repo_id)
            return root is not None, root or None

    def remember(self, found: dict[str, str],
                 roots: Mapping[str, str | None] | None = None) -> None:
        """Add ``{owner/name: id}`` (and ``{id: root directory}``) and write the file."""
        with self._lock:
            ids = self._load()
            ids.update({_digest(repo_key(name)): repo_id for name, repo_id in found.items()})
            self._roots.update({repo_id: root or "" for repo_id, root in (roots or {}).items()})
            self._save(ids)

    def forget(self, repo_id: str) -> None:
        """Drop an id the server no longer knows (a repo removed and added again)."""
        with self._lock:
            ids = self._load()
            kept = {key: value for key, value in ids.items() if value != repo_id}
            if len(kept) != len(ids):
                self._roots.pop(repo_id, None)
                self._ids = kept
                self._save(kept)

    def _load(self) -> dict[str, str]:
        if self._ids is None:
            document = self._read()
            self._ids = dict(document.get(self._scope, {}))
            self._roots = dict(document.get(self._roots_scope, {}))
        return self._ids

    def _read(self) -> dict[str, Any]:
        from mogrun.statefolder import refuse_links

        try:
            refuse_links(self.path)  # (and so never written either: see ``_save``)
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(document, dict):
            return {}
        return {scope: {k: v for k, v in ids.items() if isinstance(v, str)}
                for scope, ids in document.items() if isinstance(ids, dict)}

    def _save(self, ids: dict[str, str]) -> None:
        self._ids = ids
        document = self._read()
        document[self._scope] = ids
        document[self._roots_scope] = dict(self._roots)
        from mogrun.atomic import write_atomically
        from mogrun.statefolder import refuse_links

        with contextlib.suppress(OSError):  # a cache: not written, looked up again next time
            refuse_links(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps(document, sort_keys=True).encode("utf-8"))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def find_repos(names: Sequence[str], list_repos: Lister) -> tuple[dict[str, dict[str, Any]],
                                                                  list[str]]:
    """``({casefolded owner/name: repo}, every name listed)`` for ``names``.

    Listings go from the widest (the whole account) to groups of the names
    still missing that share a longer prefix. A listing shorter than a page
    is complete for its query; a full one whose every entry also matches a
    group's prefix would list the same page again, so that group is split
    further without asking. The listings of one round do not depend on each
    other and are asked at once (``list_each``); their answers are taken in
    order, so what is found, and the next round, are as if asked in turn."""
    found: dict[str, dict[str, Any]] = {}
    listed: list[str] = []
    current: list[tuple[str, list[str]]] = [("", sorted({repo_key(n) for n in names}))]
    asked: set[str] = set()
    while current:
        fresh = []
        for query, group in current:  # the same answer again: never loop on a server's odd page
            if query not in asked:
                asked.add(query)
                fresh.append((query, group))
        following: list[tuple[str, list[str]]] = []
        pages = list_each([query or None for query, _ in fresh], list_repos)
        for (_, group), page in zip(fresh, pages, strict=True):
            for repo in page:
                full = str(repo.get("full_name", ""))
                listed.append(full)
                found.setdefault(repo_key(full), repo)
            left = [name for name in group if name not in found]
            if left and len(page) >= PAGE:
                seen = [repo_key(str(r.get("full_name", ""))) for r in page]
                following.extend(_narrower(left, seen))
        current = following
    return found, listed




def list_each(queries: Sequence[str | None], list_repos: Lister) -> list[list[dict[str, Any]]]:
    """Each query's listing, in order, asked at once (up to ``AT_ONCE``): a fan-out
    over a thousand repos waits one round trip per round, not per listing. The
    first failure, in query order, is raised once every listing has ended."""
    if len(queries) < 2:
        return [list_repos(query) for query in queries]
    from mogrun.threads import start_helpers

    answers: list[Any] = [None] * len(queries)
    turns = iter(range(len(queries)))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                index = next(turns, None)
            if index is None:
                return
            try:
                answers[index] = list_repos(queries[index])
            except BaseException as exc:  # handed to the caller's thread
                answers[index] = exc

    helpers, refused = start_helpers(work, min(AT_ONCE, len(queries)), "mogrun-repos")
    if refused is not None:  # the system's thread limit: this thread lists too
        work()
    for helper in helpers:
        helper.join()
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers


def _narrower(names: list[str], page: list[str]) -> list[tuple[str, list[str]]]:
    """Queries for the ``names`` a full ``page`` lacked: each group's common prefix,
    unless every entry of the page also contains it (the query would list the same
    page again): such a group is split by the next character. A lone name whose
    own query would list that page is not on the account."""
    groups: list[tuple[str, list[str]]] = []
    pending = [names]
    while pending:
        group = pending.pop()
        prefix = os.path.commonprefix(group)  # noqa: RUF071 - names, not paths
        if not all(prefix in entry for entry in page):
            groups.append((prefix, group))
        elif len(group) > 1:
            pending.extend(_split(group, len(prefix)))
    return sorted(groups)


def _split(group: list[str], at: int) -> list[list[str]]:
    by_next: dict[str, list[str]] = {}
    for name in group:
        by_next.setdefault(name[: at + 1], []).append(name)
    return list(by_next.values())


def like_literal(text: str) -> str:
    """``text`` as ``GET /repos?q=`` must be sent to match it literally: the server
    puts ``q`` into ``ILIKE '%q%'`` unescaped, where ``_`` (common in repo names)
    and ``%`` are wildcards and a backslash escapes. (``*``, PostgREST's alias
    for ``%``, cannot be escaped; no GitHub name contains one.)"""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def secret_parts(query: str, secrets: Iterable[str]) -> list[str]:
    """The parts of ``secrets`` a ``GET /repos?q=`` query holds, as it is sent and
    as it is written: a repo named from ``env.*`` is looked up lower-cased and
    escaped (``like_literal``), or by the start it shares with other names (a
    group's prefix, which ends inside the secret). Masked in that request's trace
    and errors; a part under four characters is not (``masking.maskable``)."""
    asked = query.casefold()
    parts: list[str] = []
    for secret in secrets:
        folded = secret.casefold()
        if not folded:
            continue
        if folded in asked:
            parts.append(folded)
            continue
        for size in range(min(len(asked), len(folded)), 3, -1):  # the whole query too
            if asked.endswith(folded[:size]):
                parts.append(folded[:size])
                break
    return [form for part in parts for form in (part, like_literal(part))]


def listed_id(name: str, found: Mapping[str, dict[str, Any]], listed: list[str],
               secrets: tuple[str, ...]) -> str:
    repo = found.get(repo_key(name))
    if repo is None:
        raise repo_not_found(name, listed, secrets)
    repo_id = repo_id_of(repo)
    if repo_id is None:  # the server's fault, said clearly
        raise TransportError(mask(f"the server listed {name} without a repo id", secrets),
                             context=["The server's payload does not match the Mogplex v1 API."])
    return repo_id


def repo_not_found(name: str, names: list[str],
                    secrets: tuple[str, ...] = ()) -> RepoNotFoundError:
    by_folded = {n.casefold(): n for n in names if n}
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=3, cutoff=0.5)
    context = [f"Closest names: {', '.join(by_folded[c] for c in close)}"] if close else [
        "Run `mogrun repos` to list the repos this token can use."]
    return RepoNotFoundError(
        mask(f"repo {escape_text(name)!r} is not one of this token's repos", secrets),
        context=[mask(line, secrets) for line in context])
