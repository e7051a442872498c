"""The edit gate end to end: mogrun's emulator fixture serves the API on loopback,
``mogrun_cli`` runs ``mogrun`` in-process, and a stdlib HTTP server plays the chat.

The plugin is loaded from this checkout with ``-p <file>``, so the tests pass
whether or not the project is installed; ``MOGRUN_DISABLE_PLUGINS=edit_gate``
keeps an installed copy (entry point ``edit_gate``) from loading twice, and
``MOGRUN_POLL_INTERVAL=0.2`` lets these short emulated runs finish quickly.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mogrun.testing import write_taskfile

PLUGIN = str(Path(__file__).resolve().parents[1] / "mogrun_edit_gate.py")
ENV = {"MOGRUN_DISABLE_PLUGINS": "edit_gate", "MOGRUN_POLL_INTERVAL": "0.2"}
EDITS = "@emulator duration=0.2s events=9 tools=read_file,edit_file"
NO_EDITS = "@emulator duration=0.2s events=9 tools=read_file,run_tests"


@pytest.fixture
def chat():
    """A chat webhook on 127.0.0.1 that keeps every JSON body it receives."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/secret-room", received
    server.shutdown()
    server.server_close()


def project(tmp_path, prompt, gate='{ webhook = "{{ env.EDITS_WEBHOOK }}" }'):
    write_taskfile(tmp_path, f'''
        [jobs.fix]
        repo = "acme/api"
        prompt = """Fix the flaky test.
        {prompt}
        """
        edit_gate = {gate}
    ''')
    return tmp_path


def test_run_with_edits_passes_and_stays_quiet(tmp_path, mogrun_emulator, mogrun_cli, chat):
    url, received = chat
    result = mogrun_cli("--json", "run", "-p", PLUGIN, "fix", cwd=project(tmp_path, EDITS),
                        env={**ENV, "EDITS_WEBHOOK": url})
    assert result.exit_code == 0, str(result)
    summary = json.loads(result.stdout.splitlines()[-1])
    [verdict] = [g for g in summary["results"][0]["gates"] if g["gate"] == "edit_gate"]
    assert verdict["passed"] and verdict["reason"].endswith("edit_file call(s)")
    assert received == []


def test_run_without_edits_fails_and_tells_the_chat(tmp_path, mogrun_emulator, mogrun_cli,
                                                    chat):
    url, received = chat
    result = mogrun_cli("run", "-p", PLUGIN, "fix", cwd=project(tmp_path, NO_EDITS),
                        env={**ENV, "EDITS_WEBHOOK": url})
    assert result.exit_code == 1, str(result)
    assert "no file edited: 0 edit_file call(s), need 1" in result.stdout
    [message] = received
    assert message["text"].startswith("fix: acme/api run ")
    assert message["text"].endswith("edited nothing (gate_failed)")
    assert "secret-room" not in result.output  # the webhook URL is masked


def test_jobs_without_the_key_are_not_gated(tmp_path, mogrun_emulator, mogrun_cli):
    write_taskfile(tmp_path, f'''
        [jobs.plain]
        repo = "acme/api"
        prompt = """Look around.
        {NO_EDITS}
        """
    ''')
    result = mogrun_cli("run", "-p", PLUGIN, "plain", cwd=tmp_path, env=ENV)
    assert result.exit_code == 0, str(result)
    assert "run_tests" in result.stdout and "edit_file" not in result.stdout  # no edits


def test_a_bad_setting_is_a_task_file_error(tmp_path, mogrun_cli):
    result = mogrun_cli("run", "-p", PLUGIN, "fix", cwd=project(tmp_path, EDITS, "{ min = 0 }"),
                        env=ENV)
    assert result.exit_code == 2, str(result)
    assert "edit_gate.min must be a whole number >= 1" in result.stderr


def test_plugins_lists_the_gate(mogrun_cli, tmp_path):
    result = mogrun_cli("--json", "plugins", "-p", PLUGIN, cwd=tmp_path, env=ENV)
    rows = {row["name"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert rows["mogrun_edit_gate"]["hooks"] == ["mogrun_job_keys", "mogrun_gate",
                                                 "mogrun_job_finished"]
    assert rows["mogrun_edit_gate"]["keys"] == ["edit_gate"]


def test_an_empty_webhook_means_no_chat(tmp_path, mogrun_emulator, mogrun_cli):
    """``webhook = "{{ env.EDITS_WEBHOOK | default('') }}"`` with the variable unset
    renders "": the gate still runs and nothing is posted (as bundled notify does)."""
    gate = '''{ webhook = "{{ env.EDITS_WEBHOOK | default('') }}" }'''
    result = mogrun_cli("run", "-p", PLUGIN, "fix", cwd=project(tmp_path, NO_EDITS, gate),
                        env={**ENV, "EDITS_WEBHOOK": None})
    assert result.exit_code == 1, str(result)
    assert "no file edited: 0 edit_file call(s), need 1" in result.stdout
    assert "webhook" not in result.stderr


def test_the_shipped_task_file_runs_without_a_webhook(mogrun_emulator, mogrun_cli):
    """The README's command, from mogrun's checkout root, with EDITS_WEBHOOK unset."""
    here = Path(PLUGIN).parent
    result = mogrun_cli("show", "-p", PLUGIN, "-f", str(here / "mogplex.toml"),
                        "fix-flaky-test", cwd=here.parents[1],
                        env={**ENV, "EDITS_WEBHOOK": None})
    assert result.exit_code == 0, str(result)
    assert "edit_gate" in result.stdout
