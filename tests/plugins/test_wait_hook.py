"""The plugins' ``mogrun_wait`` is told of each wait after the screen, on a thread
of its own: a slow one holds neither the wait, nor its line, nor the run."""

from __future__ import annotations

import json

# An audit of every wait, as people write one: a POST that takes its time.
SLOW_AUDIT = """\
import pathlib
import time
from mogrun.plugin import hookimpl


@hookimpl
def mogrun_wait(wait):
    with (pathlib.Path(__file__).parents[1] / "heard.txt").open("a") as log:
        log.write(f"{wait.kind}\\n")
    time.sleep(3.0)  # the audit server is slow today


"""

TASKS = """\
[mogplex]
plugins = ["plugins/audit.py"]   # the team's audit trail

[jobs.fix]
repo = "acme/api"
prompt = \"\"\"Fix it.
@emulator duration=2s
\"\"\"

"""


def test_a_slow_wait_hook_holds_neither_the_retry_nor_its_line(
        tmp_path, mogrun_emulator, mogrun_cli):
    """With a 3 s mogrun_wait, a 503's retry waited 3 s more than it said, its line
    came once it was over, and the hook's own slowness was said after the run had
    started, naming no job (it went through that same hook first)."""
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "audit.py").write_text(SLOW_AUDIT)
    (tmp_path / "mogplex.toml").write_text(TASKS)
    mogrun_emulator.add_fault("start", "503", count=1)
    result = mogrun_cli("--json", "run", "fix", cwd=tmp_path,
                        env={"MOGRUN_POLL_INTERVAL": "0.2"})
    assert result.exit_code == 0, result
    starts = [r.time for r in mogrun_emulator.requests
              if r.method == "POST" and r.path.endswith("/runs")]
    assert len(starts) == 2 and starts[1] - starts[0] < 2.0, starts  # the jitter, not 3 s more
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [(o["type"], o.get("kind")) for o in lines]
    assert kinds.index(("wait", "retry")) < kinds.index(("job_started", None)), kinds
    (slow,) = [o for o in lines if o["type"] == "wait" and o["kind"] == "plugins"]
    assert slow["reason"].startswith("waiting for plugin audit's mogrun_wait"), slow
    assert (slow["job"], slow["run"]) == ("fix", "fix:acme/api"), slow
    # told of the retry, and never of its own slowness (which would be slow again)
    assert (tmp_path / "heard.txt").read_text().splitlines() == ["retry"], result
