"""A run id is the server's word: every hint that names one in a command quotes it
as one shell word (``shell_word``). ``x; touch f`` was printed bare in "follow with:
mogrun logs --follow x; touch f", a command a user pastes. Real HTTP, loopback."""

from __future__ import annotations

import json
import shlex

from mogrun.testing import write_taskfile

from .loopback import loopback_server

HOSTILE = "x; touch /tmp/mogrun-pwned #"
JOB = """
    [jobs.hello]
    repo = "5c0ffee0-1234-4321-8abc-0123456789ab"
    prompt = "hi"
    retry = { attempts = 1, max_delay = "0.05s" }
"""


def test_a_run_id_is_quoted_in_every_command_a_hint_gives(mogrun_cli, tmp_path):
    write_taskfile(tmp_path, JOB)
    run = {"runId": HOSTILE, "status": "running", "repoId": "5c0ffee0-1234-4321-8abc-"
           "0123456789ab", "createdAt": "2026-01-01T00:00:00Z", "updatedAt":
           "2026-01-01T00:00:01Z", "replayed": False}
    with loopback_server() as server:
        server.by_method = {
            "POST": (202, json.dumps({"ok": True, "data": run}).encode()),
            "GET": (502, b"<html><body>bad gateway</body></html>")}
        result = mogrun_cli("run", "hello", cwd=tmp_path,
                            env={"MOGPLEX_API_KEY": "mog_x", "MOGRUN_POLL_INTERVAL": "0.05",
                                 "MOGPLEX_URL": server.url})
    assert result.exit_code == 69, result
    quoted = shlex.quote(HOSTILE)
    assert f"logs --follow {quoted}" in result.output, result
    assert f"logs --follow {HOSTILE}" not in result.output
