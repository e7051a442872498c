"""Validation of ``POST /runs`` and ``POST /sandboxes`` exactly as the server
does it, and the request hashing behind idempotent replay and the
deterministic working branch."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from mogrun.emulator.replies import js_trim
from mogrun.emulator.runs import StartSpec
from mogrun.emulator.sandboxes import Triple

MAX_KEY = 200
MAX_PROMPT = 100_000
HARNESSES = ("codex", "claude-code")
_SERVER_REF = re.compile(r"[A-Za-z0-9_./-]+")


class Invalid(Exception):
    """A refused request: HTTP status, envelope code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad(message: str) -> Invalid:
    return Invalid(400, "BAD_REQUEST", message)


def idempotency_key(value: str | None) -> str:
    """The server's ``readMogplexApiIdempotencyKeyResult`` as its handlers answer
    it (``POST /runs`` and the trigger alike): the trimmed key; 400 when missing
    or blank, or longer than 200 (JavaScript's ``length``)."""
    key = js_trim(value or "")
    if not key:
        raise bad("Idempotency-Key is required")
    if utf16_length(key) > MAX_KEY:
        raise bad(f"Idempotency-Key exceeds maximum length of {MAX_KEY} characters")
    return key


def parse_json_body(raw: bytes) -> Any:
    """``await request.json()`` as the server's handler reads the body: the bytes
    decoded as fetch decodes UTF-8 (a leading byte order mark dropped, a byte that
    is not UTF-8 as U+FFFD), then ``JSON.parse``: any JSON value, ``null``, arrays
    and strings included. What that refuses — nothing, not JSON, or ``NaN`` and
    ``Infinity``, which Python's parser would take — is 400 ``Invalid JSON body``."""
    text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff")
    try:
        return json.loads(text, parse_constant=_not_json, parse_int=_js_int)
    # json.JSONDecodeError is a ValueError; RecursionError: deeper than Python's
    # parser goes (~1,000 levels)
    except (ValueError, RecursionError) as exc:
        raise bad("Invalid JSON body") from exc


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _js_int(digits: str) -> int | float:
    """A JSON integer. JavaScript reads any as a double (one past a double's
    range is Infinity); Python's ``int`` refuses more than 4,300 digits, which
    would have made a valid body 400 ``Invalid JSON body``. Shorter ones stay
    exact ints (a count must be a whole number)."""
    try:
        return int(digits)
    except ValueError:  # past the digit limit: far past a double's range
        return float(digits)


def is_valid_ref(name: str) -> bool:
    """The server's ``isValidSandboxBranchName`` (narrower than git's rules: only
    ASCII word characters, ``.``, ``/`` and ``-``; but a leading ``-`` or a
    component starting with ``.`` passes it). It has no length limit: a name of
    any length passes (mogrun's own check holds names to 255 characters)."""
    if not name or name in ("@", "HEAD"):
        return False
    if name.startswith("/") or name.endswith(("/", ".", ".lock")):
        return False
    if ".." in name or "//" in name or "@{" in name:
        return False
    return _SERVER_REF.fullmatch(name) is not None


def utf16_length(text: str) -> int:
    """A string's ``length`` in JavaScript: UTF-16 code units (an emoji is 2)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def require_uuid(value: str, failed: str) -> None:
    """The server's tables key runs, repos, automations and job runs by UUID: any
    other id fails its query in Postgres, and the handler answers its own 500."""
    if not UUID.fullmatch(value):
        raise Invalid(500, "INTERNAL_ERROR", failed)


def optional_string(value: Any) -> str | None:
    """The server's ``normalizeOptionalString``: a string, trimmed; anything else,
    or a blank string, is ``None`` (never a 400)."""
    if not isinstance(value, str):
        return None
    return js_trim(value) or None


def _branch(name: str, label: str) -> str:
    if not is_valid_ref(name):
        raise bad(f"Invalid {label}")  # the server's words
    return name


def _root(body: Mapping[str, Any], default: str | None) -> str | None:
    """The server's ``normalizeRunRootDirectory``: left out, the repo's own root;
    ``null``, the repo root; a string is checked (``isValidSandboxRootDirectory``)
    and stored normalized (``./apps/web/`` is ``apps/web``; ``.`` is the root)."""
    if "rootDirectory" not in body:
        return default
    value = body["rootDirectory"]
    if value is None:
        return None
    if not isinstance(value, str) or "\0" in value or _ENCODED_DOTS.search(value):
        raise bad("Invalid root directory")
    root = normalize_root(value)
    if root is not None and any(part in ("", "..") for part in root.split("/")):
        raise bad("Invalid root directory")
    return root


_ENCODED_DOTS = re.compile(r"(?:^|/)%2e(?:%2e)?(?:/|$)", re.IGNORECASE)


def normalize_root(value: str) -> str | None:
    """The server's ``normalizeRootDirectory``: trimmed, no leading ``./`` or ``/``,
    runs of ``/`` as one, no trailing ``/``; ``None`` for ``""`` and ``"."``."""
    text = re.sub(r"^\./+", "", js_trim(value)).lstrip("/")
    text = re.sub(r"/+", "/", text).rstrip("/")
    return None if text in ("", ".") else text


def start_spec(body: Mapping[str, Any], repos: Mapping[str, Mapping[str, Any]]) -> StartSpec:
    """The server's ``normalizeStartRequest``: strings trimmed (a blank or
    non-string one is left out), harness ``codex`` by default, ``createBranch``
    only when it is ``true``; 400 for a bad field, 404 for an unknown repo. The
    working branch is filled in by ``normalised`` (it needs the key)."""
    repo_id = optional_string(body.get("repoId"))
    if repo_id is None:
        raise bad("repoId is required")
    repo = repos.get(repo_id.lower())  # a UUID column: Postgres compares them in any case
    if repo is None:
        raise Invalid(404, "NOT_FOUND", "Repo not found")
    prompt = optional_string(body.get("prompt"))
    if prompt is None:
        raise bad("Prompt is required")
    if utf16_length(prompt) > MAX_PROMPT:  # JavaScript's .length
        raise bad("Prompt is too long")
    harness = optional_string(body.get("harness")) or "codex"
    if harness not in HARNESSES:
        raise bad("Invalid harness")
    base = _branch(optional_string(body.get("baseBranch"))
                   or optional_string(repo.get("default_branch")) or "main", "base branch")
    create = body.get("createBranch") is True
    root = _root(body, repo.get("root_directory"))
    working = optional_string(body.get("workingBranch"))
    return StartSpec(repo["id"], prompt, harness, base, working, create, root,
                     conversation_id=optional_string(body.get("conversationId")),
                     workspace_session_id=optional_string(body.get("workspaceSessionId")),
                     mode=optional_string(body.get("mode")), sent_repo_id=repo_id)


def launch_body(raw: bytes) -> dict[str, Any]:
    """``POST /sandboxes``'s own read of the body (``request.json()``, a failure
    read as ``null``): anything but a JSON object with a non-blank string
    ``repoId`` is 400 ``repoId is required`` — unparsable JSON, ``null``, an
    array or a string included (the route reads ``body.repoId`` off them)."""
    try:
        body = parse_json_body(raw)
    except Invalid:
        body = None
    if not isinstance(body, dict) or not optional_string(body.get("repoId")):
        raise bad("repoId is required")
    return body


def launch_failure(status: int, message: str) -> Invalid:
    """How ``POST /sandboxes`` answers a failed launch: the launch's status and
    text, with the code chosen by status alone (so a 404 or 429 is ``BAD_REQUEST``)."""
    return Invalid(status, "SERVICE_UNAVAILABLE" if status >= 500 else "BAD_REQUEST", message)


def launch_target(body: Mapping[str, Any],
                  repos: Mapping[str, Mapping[str, Any]]) -> tuple[Triple, str]:
    """The sandbox a launch asks for, and its base branch, as the server's launch
    reads them (``prepareSandboxLaunch``): the repo by ``repoId`` as sent, which
    must be a UUID (``getOwnedRepo``: a padded or non-UUID id is no repo, 404);
    then ``resolveSandboxLaunchRequest``: branches trimmed (blank or non-string:
    left out), the base defaulting to the repo's, the working branch to the base
    unless ``createBranch`` is ``true``; ``rootDirectory`` as for a run."""
    raw_id = body["repoId"]
    repo = repos.get(raw_id.lower()) if UUID.fullmatch(raw_id) else None
    if repo is None:
        raise launch_failure(404, "Repo not found")
    base = _branch(optional_string(body.get("baseBranch"))
                   or optional_string(repo.get("default_branch")) or "main", "base branch")
    create = body.get("createBranch") is True
    working = optional_string(body.get("workingBranch")) or (None if create else base)
    if working is None:
        raise bad("Invalid working branch")
    _branch(working, "working branch")
    if create and working == base:
        raise bad("New branch name must differ from the default branch")
    return Triple(repo["id"], working, _root(body, repo.get("root_directory"))), base


def request_hash(spec: StartSpec) -> str:
    """The server's ``hashRequest`` of its normalised request: sha256 of
    ``stableStringify`` (keys sorted, no spaces) of the request under the
    server's own camelCase names. A spec with no working branch yet hashes as
    the server's ``preliminary`` request, which has no ``workingBranch`` key.
    The ``repoId`` hashed is the one sent: in capitals, it is another request."""
    sent = spec.repo_id if spec.sent_repo_id is None else spec.sent_repo_id
    fields: dict[str, Any] = {
        "repoId": sent, "prompt": spec.prompt, "harness": spec.harness,
        "baseBranch": spec.base_branch, "createBranch": spec.create_branch,
        "rootDirectory": spec.root_directory, "conversationId": spec.conversation_id,
        "workspaceSessionId": spec.workspace_session_id, "mode": spec.mode}
    if spec.working_branch is not None:
        fields["workingBranch"] = spec.working_branch
    text = "{" + ",".join(f"{_js_json(name)}:{_js_json(fields[name])}"
                          for name in sorted(fields)) + "}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _js_json(value: str | bool | None) -> str:
    """``JSON.stringify`` of a string, boolean or null: Python's own writing with
    the characters left as they are (``ensure_ascii`` off), except that a lone
    surrogate, which JavaScript writes as an escape, is escaped too."""
    text = json.dumps(value, ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def derived_branch(key: str, spec_hash: str) -> str:
    """``mogplex/external/<8 hex of sha256(key)>-<8 hex of the request hash>``."""
    key_hex = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
    return f"mogplex/external/{key_hex}-{spec_hash[:8]}"
