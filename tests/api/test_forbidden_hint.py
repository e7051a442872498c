"""A 403's hint names the scope the server's message names ("Missing required
scope: read." on an automation GET); it said "starting or cancelling needs
'write'" whatever the server asked for. With no scope named, that hint stays."""

from __future__ import annotations

import json

import pytest

from mogrun.api.envelope import unwrap
from mogrun.api.transport import Response
from mogrun.errors import ForbiddenError, RequestInfo
from mogrun.testing import write_taskfile

OLD_HINT = "The token lacks the scope this needs (starting or cancelling needs 'write')."


def _forbidden(message: str | None) -> ForbiddenError:
    error = {"code": "FORBIDDEN", **({"message": message} if message is not None else {})}
    body = json.dumps({"ok": False, "error": error}).encode()
    with pytest.raises(ForbiddenError) as caught:
        unwrap(Response(403, {"Content-Type": "application/json"}, body),
               RequestInfo("GET", "http://127.0.0.1:1/api/v1/mogplex/automations"))
    return caught.value


@pytest.mark.parametrize(("message", "hint"), [
    ("Missing required scope: read. Issue a new token with the 'read' scope at "
     "/settings/api-keys.", "The token lacks the 'read' scope this needs."),
    ("Missing required scope: write. Issue a new token with the 'write' scope at "
     "/settings/api-keys.", "The token lacks the 'write' scope this needs."),
    ("Missing required scope: runs:read", "The token lacks the 'runs:read' scope this needs."),
    ("This endpoint needs the 'read' scope", "The token lacks the 'read' scope this needs."),
    ("Forbidden", OLD_HINT),
    (None, OLD_HINT),
    ("insufficient_scope", OLD_HINT),
])
def test_the_hint_names_the_scope_the_server_named(message, hint):
    error = _forbidden(message)
    assert error.context[-1] == hint, error.lines()
    assert error.exit_code == 65


def test_a_token_without_read_is_told_it_lacks_read(mogrun_cli, mogrun_emulator, tmp_path):
    """The emulator's automation GETs check 'read', as the server's do."""
    write_taskfile(tmp_path, """
        [jobs.hello]
        repo = "acme/api"
        prompt = "hi"
    """)
    mogrun_emulator.add_token("mog_write_only_token", ["write"])
    result = mogrun_cli("automations", cwd=tmp_path,
                        env={"MOGPLEX_API_KEY": "mog_write_only_token"})
    assert result.exit_code == 65, result
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: Missing required scope: read."), result
    assert lines[-1] == "The token lacks the 'read' scope this needs.", result
    assert "'write'" not in lines[-1]
