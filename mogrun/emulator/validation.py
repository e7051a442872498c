"""Validation of ``POST /runs`` exactly as the server does it, and the request
hashing behind idempotent replay and the deterministic working branch."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from mogrun.emulator.runs import StartSpec

MAX_KEY = 200
MAX_PROMPT = 100_000
HARNESSES = ("codex", "claude-code")
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


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
    """The trimmed key; 400 when missing, empty or longer than 200 characters."""
    key = (value or "").strip()
    if not key:
        raise bad("Idempotency-Key header is required")
    if len(key) > MAX_KEY:
        raise bad(f"Idempotency-Key must be at most {MAX_KEY} characters")
    return key


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw.decode("utf-8") or "null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad("Request body must be valid JSON") from exc
    if not isinstance(body, dict):
        raise bad("Request body must be a JSON object")
    return body


def is_valid_ref(name: str) -> bool:
    """git check-ref-format rules for a branch name."""
    if not name or len(name) > 255 or name == "@" or name.startswith("-"):
        return False
    if _BAD_REF_CHARS.search(name) or ".." in name or "@{" in name or "//" in name:
        return False
    if name.startswith("/") or name.endswith("/") or name.endswith("."):
        return False
    return all(not (p.startswith(".") or p.endswith(".lock")) for p in name.split("/"))


def _string(body: Mapping[str, Any], field: str, *, required: bool = False) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise bad(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise bad(f"{field} must be a string")
    if required and not value.strip():
        raise bad(f"{field} is required")
    return value


def _branch(body: Mapping[str, Any], field: str) -> str | None:
    value = _string(body, field)
    if value is not None and not is_valid_ref(value):
        raise bad(f"{field} is not a valid git branch name: {value!r}")
    return value


def _root(body: Mapping[str, Any], default: str | None) -> str | None:
    value = _string(body, "rootDirectory")
    if value is None or value == "":
        return default
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value) or ".." in parts:
        raise bad("rootDirectory must be a relative path without '..'")
    return value


def start_spec(body: Mapping[str, Any], repos: Mapping[str, Mapping[str, Any]]) -> StartSpec:
    """The normalised request; 400 for a bad field, 404 for an unknown repo."""
    repo_id = (_string(body, "repoId", required=True) or "").strip()
    repo = repos.get(repo_id)
    if repo is None:
        raise Invalid(404, "NOT_FOUND", f"Repository not found: {repo_id}")
    prompt = _string(body, "prompt", required=True) or ""
    if len(prompt) > MAX_PROMPT:
        raise bad(f"prompt must be at most {MAX_PROMPT} characters")
    harness = _string(body, "harness")
    harness = "codex" if harness is None else harness  # "" is not the default: 400
    if harness not in HARNESSES:
        raise bad(f"harness must be one of {', '.join(HARNESSES)}")
    create = body.get("createBranch", False)
    if create is None:
        create = False
    if not isinstance(create, bool):
        raise bad("createBranch must be a boolean")
    base, working = _branch(body, "baseBranch"), _branch(body, "workingBranch")
    base = base or repo.get("default_branch") or "main"
    if create and working is not None and working == base:
        raise bad("workingBranch must differ from baseBranch when createBranch is true")
    return StartSpec(repo_id, prompt, harness, base, working, create,
                     _root(body, repo.get("root_directory")))


def request_hash(spec: StartSpec) -> str:
    """sha256 of the normalised request: equal requests hash equal, defaults included."""
    text = json.dumps(asdict(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def derived_branch(key: str, spec_hash: str) -> str:
    """``mogplex/external/<8 hex of sha256(key)>-<8 hex of the request hash>``."""
    key_hex = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
    return f"mogplex/external/{key_hex}-{spec_hash[:8]}"
