"""The wait for plugins at the session's end names the plugin still at work, and
only it, and says it has no known end (a plugin's hook gives mogrun none)."""

from __future__ import annotations

import json

SLOW_REPORT = '''
import time
from mogrun.hookspecs import hookimpl

@hookimpl
def mogrun_session_finished(results):
    time.sleep(1.6)  # a report uploaded somewhere slow
'''


def test_only_the_plugin_still_at_work_is_named_and_the_wait_has_no_end(
        tmp_path, mogrun_emulator, mogrun_cli):
    from mogrun.testing import write_taskfile

    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "upload.py").write_text(SLOW_REPORT)
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["plugins/upload.py"]\n\n'
                   '[jobs.fix]\nrepo = "acme/api"\nprompt = "Fix it."\n')
    result = mogrun_cli("--json", "run", "fix", cwd=tmp_path)
    assert result.exit_code == 0, result
    waits = [json.loads(line) for line in result.stdout.splitlines()
             if '"type": "wait"' in line]
    said = [wait for wait in waits if wait["kind"] == "plugins"]
    assert len(said) == 1, waits  # junit (no --junit) and notify (nothing sent) were quick
    assert said[0]["reason"].startswith("waiting for plugin upload to finish"), said
    assert "no end is known" in said[0]["reason"], said
    assert (said[0]["ends_at"], said[0]["seconds"]) == (None, None), said
