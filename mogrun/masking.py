"""Masking of secrets (tokens, webhook URLs, values from ``env.*``) in anything
mogrun prints or stores."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import re

    from mogrun.errors import Location, MogrunError

E = TypeVar("E", bound="MogrunError")

MASK = "***"


def mask_token(token: str | None) -> str:
    """A token as shown in traces: its prefix only (``mog_***``)."""
    if not token:
        return ""
    return token[:4] + MASK if token.startswith("mog_") else MASK


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``***``.

    Longer secrets are replaced first so a secret containing another is
    masked whole; empty or very short strings are ignored (masking "a" would
    garble the output without protecting anything).
    """
    if not secrets:  # most jobs have none (an empty frozenset, tuple or list)
        return text
    return _mask_with(text, maskable(secrets))


def masked_error(error: E, secrets: Iterable[str], **changes: Any) -> E:
    """``error`` with each secret masked in its message and context (``changes``:
    other fields to set): the token and the job's secrets never reach a message,
    whatever a server echoed or a plugin raised."""
    ordered = maskable(secrets)
    location = getattr(error, "location", None)
    if location is not None and ordered and "location" not in changes:
        changes["location"] = _masked_location(location, ordered)
    return error.evolve(message=_mask_with(error.message, ordered),
                        context=tuple(_mask_with(line, ordered) for line in error.context),
                        **changes)


def _masked_location(location: Location, ordered: tuple[str, ...]) -> Location:
    """A task file's location with its quoted source line masked (a token pasted into
    the file shows in its excerpt), its caret moved so it still points at the same
    character (at the mask when it pointed inside a secret); the column the
    location names stays the file's, where an editor finds it."""
    line, column = location.source_line, location.column
    if line is None or not any(secret in line for secret in ordered):
        return location._replace(path=_mask_with(location.path, ordered))
    index = len(line) if column is None else (location.caret or column) - 1
    shown, moved = _mask_at(line, index, ordered)
    return location._replace(path=_mask_with(location.path, ordered), source_line=shown,
                             caret=None if column is None else moved + 1)


def _mask_at(line: str, index: int, ordered: tuple[str, ...]) -> tuple[str, int]:
    """``line`` masked as ``_mask_with`` masks it, and where the character at
    ``index`` is in the result (at the mask when it was inside a secret)."""
    present = [secret for secret in ordered if secret in line]
    parts: list[str] = []
    moved, size, at = None, 0, 0
    for start, end in [*(_spans(line, present) if present else []), (len(line), len(line))]:
        if moved is None and at <= index < start:
            moved = size + index - at
        parts.append(line[at:start])
        size += start - at
        if start < end:
            if moved is None and start <= index < end:
                moved = size
            parts.append(MASK)
            size += len(MASK)
        at = end
    return "".join(parts), size if moved is None else moved


def _scanned(text: str, ordered: tuple[str, ...]) -> Iterator[tuple[int, str | None]]:
    """``text`` read left to right: at each place, the secret that starts there
    (the longest, ``ordered`` being longest first) or ``None`` for one character."""
    at = 0
    while at < len(text):
        found = next((secret for secret in ordered if text.startswith(secret, at)), None)
        yield at, found
        at += len(found) if found else 1


def mask_data(value: Any, secrets: Iterable[str] = (), *,
              ordered: tuple[str, ...] | None = None) -> Any:
    """``value`` (JSON-like data: dicts, lists, strings) with every string
    inside it masked, keys included — for payloads and reports built from
    results that still hold the job's ``env.*`` values. The one recursive
    masking: every nested structure mogrun writes goes through it. With no
    secret worth masking, ``value`` itself is returned (no copy): most runs
    have none, and a fan-out writes thousands of lines. ``ordered``: the
    secrets as ``maskable`` gave them, for a writer that masks every line."""
    if ordered is None:
        ordered = maskable(secrets)
    return _walk(value, ordered) if ordered else value


def mask_in_place(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret replaced by as many ``*`` as it has characters: a
    quoted source line keeps its columns, so the caret under it still points at
    the problem."""
    for secret in maskable(secrets):
        text = text.replace(secret, "*" * len(secret))
    return text


def urls_masked_in_place(text: str) -> str:
    """``text`` with every URL's credentials, path and query masked in place (``*``
    for each character; scheme and host kept): a line quoted before its values
    are read (a TOML syntax error's) cannot ask which are secrets, and a webhook
    URL is one."""
    if "://" not in text:
        return text
    return _url_parts().sub(lambda m: f"{m[1]}{_starred(m[2] or '')}{m[3]}{_starred(m[4])}",
                            text)


def _starred(part: str) -> str:
    """``part`` with every character ``*`` but its templates' (``{{ team }}`` is a
    name, and a template's problem is pointed at on the line by finding it there)."""
    if "{{" not in part:
        return "*" * len(part)
    return "".join(piece if index % 2 else "*" * len(piece)
                   for index, piece in enumerate(_template().split(part)))


@functools.cache
def _template() -> re.Pattern[str]:
    """A template written in a URL, as the one group a split keeps."""
    import re

    return re.compile(rf"({_TEMPLATE})")


_TEMPLATE = r"\{\{[^}\"'\n]*\}\}"


@functools.cache
def _url_parts() -> re.Pattern[str]:
    """A URL: its scheme, credentials, host and all after the host, as groups 1-4. A
    template (``{{ team }}``) is part of the host or path it is written in, blanks and
    all: the path after it is the same URL's."""
    import re

    return re.compile(rf"([A-Za-z][A-Za-z0-9+.-]*://)([^\s\"'@/]*@)?"
                      rf"((?:{_TEMPLATE}|[^\s\"'/?#])*)((?:{_TEMPLATE}|[^\s\"'])*)")


def maskable(secrets: Iterable[str]) -> tuple[str, ...]:
    """The secrets worth masking, longest first (sorted once, not per string). A job's
    secrets (a frozenset, the same for each of its runs' results, rows and hook calls)
    are sorted once per set."""
    if type(secrets) is frozenset:
        return _maskable_set(secrets)
    return _sorted_maskable(secrets)


@functools.lru_cache(maxsize=256)
def _maskable_set(secrets: frozenset[str]) -> tuple[str, ...]:
    return _sorted_maskable(secrets)


def _sorted_maskable(secrets: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True))


def unmasked(masked: str, like: str, secrets: Iterable[str]) -> str | None:
    """``masked`` with each ``***`` filled, in order, by the secret ``like`` holds at
    its own masks (``like``: the same text made again now, with the secrets at hand),
    or ``None`` unless that fills every mask and masks back to ``masked`` exactly.
    How a recorded key that hides a secret is told again without storing the secret."""
    ordered = maskable(secrets)
    fills = _secrets_in(like, ordered)
    parts = masked.split(MASK)
    if not fills or len(parts) != len(fills) + 1:
        return None
    text = parts[0] + "".join(fill + part for fill, part in zip(fills, parts[1:], strict=True))
    return text if _mask_with(text, ordered) == masked else None


def _secrets_in(text: str, ordered: tuple[str, ...]) -> list[str]:
    """The secrets ``text`` holds, left to right (longest first at each place)."""
    return [found for _, found in _scanned(text, ordered) if found]


def json_forms(ordered: tuple[str, ...]) -> tuple[str, ...]:
    """Each secret as it reads inside a JSON string written ASCII-only. The
    encoding maps each character on its own, so a line that holds none of
    these holds no secret and needs no ``mask_data`` walk; a line that does
    (perhaps only across an escape: ``nabc`` in ``\\nabc``) gets the walk."""
    import json

    return tuple(json.dumps(secret, ensure_ascii=True)[1:-1] for secret in ordered)


def repr_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret plus the forms it takes inside Python's ``repr`` of a string and
    inside a JSON string (``json_forms``): an exception that quotes a secret
    (``KeyError('C:\\temp\\key')``) doubles its backslashes, so the raw value alone
    no longer matches."""
    return _repr_forms(tuple(secrets))


@functools.lru_cache(maxsize=256)
def _repr_forms(secrets: tuple[str, ...]) -> tuple[str, ...]:
    present = tuple(secret for secret in secrets if secret)
    quoted = (repr(secret)[1:-1] for secret in present)
    return tuple(dict.fromkeys([*present, *quoted, *json_forms(present)]))


def host_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret plus its lower-cased form: a host name ignores case and is shown
    lower-cased (``urlsplit().hostname``, a connection error), so a secret that is
    (part of) a URL's host reads lower-cased there. For text that names hosts."""
    return tuple(dict.fromkeys(form for secret in secrets if secret
                               for form in (secret, secret.lower())))


def clear_cut(text: str, size: int, candidates: Iterable[str]) -> str:
    """``text``'s first ``size`` characters, or fewer: when the cut falls inside one
    of ``candidates`` it falls where that one starts. For text cut before it is
    masked, by code that cannot tell which values are secrets (``candidates``: every
    value that may be one): the later masking cannot mask a secret's first
    characters, cut from the rest (mask first, then cut, where the secrets are known)."""
    if len(text) <= size:
        return text
    straddling = [c for c in maskable(candidates) if c in text]
    cut = size
    for start, end in _spans(text, straddling) if straddling else []:
        if start < cut < end:
            cut = start
    return text[:cut]


def _mask_with(text: str, ordered: tuple[str, ...]) -> str:
    """``text`` with each secret of ``ordered`` it holds masked. Two that overlap
    there (``AAAA-BBBB`` and ``BBBB-CCCC`` in ``AAAA-BBBB-CCCC``) are masked as one:
    replaced one after the other, the first masked took the second's match away
    and left its other half showing."""
    present = [secret for secret in ordered if secret in text]
    if not present:
        return text
    if len(present) == 1 and not _overlaps_itself(present[0]):
        return text.replace(present[0], MASK)
    parts, at = [], 0
    for start, end in _spans(text, present):
        parts += [text[at:start], MASK]
        at = end
    parts.append(text[at:])
    return "".join(parts)


@functools.lru_cache(maxsize=1024)
def _overlaps_itself(secret: str) -> bool:
    """Whether two occurrences of ``secret`` can overlap (it ends as it starts:
    ``aaaa`` in ``aaaaa``, ``abab`` in ``ababab``): a plain replace masks the
    first and leaves the rest of the second showing."""
    return any(secret.startswith(secret[cut:]) for cut in range(1, len(secret)))


def _spans(text: str, secrets: list[str]) -> list[tuple[int, int]]:
    """Where ``secrets`` occur in ``text``, overlapping occurrences merged, in order."""
    found = []
    for secret in secrets:
        start = text.find(secret)
        while start >= 0:
            found.append((start, start + len(secret)))
            start = text.find(secret, start + 1)
    found.sort()
    merged = [found[0]]
    for start, end in found[1:]:
        if start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _walk(value: Any, ordered: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return _mask_with(value, ordered)
    if isinstance(value, Mapping):
        return {_mask_with(str(k), ordered): _walk(v, ordered) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_walk(v, ordered) for v in value]
    return value


@functools.lru_cache(maxsize=256)
def _url_forms(secrets: tuple[str, ...]) -> tuple[str, ...]:
    """Each secret and the forms it takes inside a URL (``with_wire_forms``'s)."""
    from urllib.parse import quote, quote_plus

    forms: list[str] = []
    bytewise = "surrogateescape"  # an environment's byte no UTF-8 reads: its %XX, no crash
    for secret in secrets:
        if secret:
            forms += [secret, quote(secret, safe="", errors=bytewise),
                      quote_plus(secret, errors=bytewise), quote(secret, errors=bytewise)]
    return tuple(dict.fromkeys(forms))


def with_wire_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret plus every form it takes on the wire: inside a URL
    (percent-encoded, ``+`` for spaces) and inside a JSON string (``json_forms``, and as a server
    that writes non-ASCII text as is re-encodes it: ``pa\\"ss``, ``s\\u00e9cret``
    and ``sécret``), so a server quoting a request body back in an error is
    masked too. What the client masks in every error and trace line."""
    return _wire_forms(tuple(secrets))


@functools.lru_cache(maxsize=256)
def _wire_forms(secrets: tuple[str, ...]) -> tuple[str, ...]:
    """Remembered, as ``_url_forms``: every request of a job asks with the same secrets."""
    import json

    present = tuple(secret for secret in secrets if secret)
    unicode = (json.dumps(secret, ensure_ascii=False)[1:-1] for secret in present)
    return tuple(dict.fromkeys([*_url_forms(present), *json_forms(present), *unicode]))
