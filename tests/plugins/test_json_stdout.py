"""With ``--json`` stdout holds NDJSON only: what a plugin prints (the docs'
examples do, from hooks that run on worker threads) goes to stderr."""

from __future__ import annotations

import json
import sys
import textwrap

from mogrun.testing import write_taskfile

FAST = "@emulator status=success duration=0.3s events=3"

PRINTER = '''
import sys
from mogrun.plugin import hookimpl

print("PLUGIN-IMPORT")

@hookimpl
def mogrun_configure(config):
    print("PLUGIN-CONFIGURE")

@hookimpl
def mogrun_run_started(job, run, state, attached):
    print("PLUGIN-STARTED", flush=True)
    sys.stdout.write("PLUGIN-WRITE\\n")

@hookimpl
def mogrun_session_finished(results, exit_code):
    print("PLUGIN-FINISHED")
'''

WORDS = ("PLUGIN-IMPORT", "PLUGIN-CONFIGURE", "PLUGIN-STARTED", "PLUGIN-WRITE",
         "PLUGIN-FINISHED")


def _project(tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "printer.py").write_text(PRINTER)
    write_taskfile(tmp_path, textwrap.dedent(f'''\
        [mogplex]
        plugins = ["plugins/printer.py"]
        [jobs.fix]
        repo = "acme/api"
        idempotency_key = "k-fix"
        prompt = """Fix it.
        {FAST}
        """
        '''))
    return tmp_path


def test_json_output_keeps_plugin_prints_off_stdout(tmp_path, mogrun_emulator, mogrun_cli,
                                                    capsys):
    root = _project(tmp_path)
    real_stdout = sys.stdout
    result = mogrun_cli("--json", "run", "fix", cwd=root, env={"MOGRUN_POLL_INTERVAL": "0.2"})
    assert result.exit_code == 0, result
    assert sys.stdout is real_stdout  # restored when the invocation ends
    lines = result.stdout.splitlines()
    assert lines and all(json.loads(line) for line in lines)
    for word in WORDS:
        assert word in result.stderr, result
    assert not any(word in capsys.readouterr().out for word in WORDS)


def test_without_json_plugin_prints_stay_on_stdout(tmp_path, mogrun_emulator, mogrun_cli,
                                                   capsys):
    root = _project(tmp_path)
    result = mogrun_cli("run", "fix", cwd=root, env={"MOGRUN_POLL_INTERVAL": "0.2"})
    assert result.exit_code == 0, result
    printed = capsys.readouterr().out
    for word in WORDS:
        assert word in printed
        assert word not in result.stderr
