"""A job's secret travels inside the JSON start body escaped (``pa\\"ss\\\\wd``,
``line1\\nline2``, ``s\\u00e9cret``); a server that quotes the body back in a
400 echoes those forms, and they are masked like the secret itself: on the
terminal, in ``--json`` lines and in the history. Real HTTP, through a loopback
server answering what such a server answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mogrun.testing import write_taskfile

from .loopback import loopback_server

REPO_ID = "11111111-1111-1111-1111-111111111111"
SECRETS = {"S_QUOTE": 'pa"ss\\wd-Q1', "S_NEWLINE": "line1\nline2-NL9",
           "S_ACCENT": "sécret-E7x", "S_TAB": "tab\there-T4"}
FORMS = {form for value in SECRETS.values()
         for form in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1])}
# What shows if any form leaks, whole or cut by a preview (its first or last characters)
LEAKS = sorted({piece for form in FORMS for piece in (form[:6], form[-5:])})
PROMPT = " / ".join(f"{name}={{{{ env.{name} }}}}" for name in SECRETS)


def _sent_prompt() -> str:
    return " / ".join(f"{name}={value}" for name, value in SECRETS.items())


def _as_python_echoes(body: bytes) -> bytes:  # the request body quoted as it came (ASCII)
    return json.dumps({"ok": False, "error": {
        "code": "BAD_REQUEST", "message": f"Invalid body: {body.decode()}"}}).encode()


def _as_javascript_echoes(body: bytes) -> bytes:  # parsed, then written again: é as is
    again = json.dumps(json.loads(body), ensure_ascii=False)
    return json.dumps({"ok": False, "error": {
        "code": "BAD_REQUEST", "message": f"Invalid body: {again}"}}, ensure_ascii=False
                      ).encode()


def _as_html_page(body: bytes) -> bytes:  # a proxy's page quoting it, not the envelope
    prompt = body[body.index(b'"prompt":') + 10:]  # the secrets within the first 80 bytes
    return b"<pre>" + prompt + b"</pre>"


def _start_body() -> bytes:
    """The body mogrun sends for the job (checked against what the server received)."""
    return json.dumps({"repoId": REPO_ID, "prompt": _sent_prompt(), "createBranch": False},
                      separators=(",", ":")).encode()


@pytest.mark.parametrize("echo", [_as_python_echoes, _as_javascript_echoes, _as_html_page])
@pytest.mark.parametrize("output", [(), ("--json",)])
def test_secrets_echoed_json_escaped_in_a_400_are_masked(mogrun_cli, tmp_path: Path,
                                                         echo, output):
    write_taskfile(tmp_path, f"""
        [jobs.leak]
        repo = "{REPO_ID}"
        prompt = "{PROMPT}"
    """)
    quoted = echo(_start_body())
    with loopback_server(400, {"Content-Type": "application/json"}, quoted) as server:
        result = mogrun_cli(*output, "--url", server.url, "run", "leak", cwd=tmp_path,
                            env={"MOGPLEX_API_KEY": "mog_x", **SECRETS})
    posts = [body for method, _, _, body in server.received if method == "POST"]
    assert posts == [_start_body()]  # sent once (a 400), with the secrets JSON-escaped
    assert any(json.dumps(value)[1:-1] in posts[0].decode() for value in SECRETS.values())
    assert result.exit_code == 1, result
    assert "***" in result.output
    shown = [leak for leak in LEAKS if leak in result.output]
    assert not shown, result.output
    stored = b"".join(path.read_bytes() for path in (tmp_path / ".mogrun").rglob("*")
                      if path.is_file())
    assert b"Invalid body" in stored or b"<pre>" in stored  # the history has the message
    assert not [leak for leak in LEAKS if leak.encode() in stored]
