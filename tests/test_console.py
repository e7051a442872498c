"""The console script and ``python -m mogrun``: a Ctrl-C in mogrun's first
milliseconds, while it still imports its own modules, is "Interrupted." and
exit 130 as at any later moment, never Python's traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mogrun.testing import write_taskfile

# In the child: SIGINT sent to itself as Python looks for MODULE, the moment a Ctrl-C
# typed as mogrun starts would land in (a hook, since a timed signal would be a race).
HOOK = """\
import os, signal, sys

open(os.environ["CTRL_C_HOOK_LOADED"], "w").close()  # the hook is in this interpreter


class CtrlCAt:
    def find_spec(self, name, path=None, target=None):
        if name == os.environ["CTRL_C_AT"]:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlCAt())
"""
# The console script as pip writes it: the entry point's object, loaded and called.
CONSOLE_SCRIPT = """\
import sys
from importlib.metadata import entry_points
(script,) = entry_points(group="console_scripts", name="mogrun")
sys.exit(script.load()())
"""


def started(tmp_path, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    write_taskfile(tmp_path, '[jobs.a]\nrepo = "acme/api"\nprompt = "p"\n')
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(HOOK)
    env = {**os.environ, "CTRL_C_AT": module, "NO_COLOR": "1",
           "CTRL_C_HOOK_LOADED": str(tmp_path / "hook-loaded"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "hook"), *sys.path])}
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=60)


@pytest.mark.parametrize("module", ["mogrun.cli.state", "mogrun.cli.listing"])
@pytest.mark.parametrize("how", ["console script", "python -m"])
def test_a_ctrl_c_as_mogrun_starts_is_interrupted_not_a_traceback(tmp_path, module,
                                                                  how) -> None:
    # mogrun.cli.state: while mogrun.cli.app is imported (before any handler of its own);
    # mogrun.cli.listing: inside the app, which always said it (the same words, kept).
    args = ["-c", CONSOLE_SCRIPT, "list"] if how == "console script" else ["-m", "mogrun",
                                                                           "list"]
    result = started(tmp_path, module, *args)
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "Interrupted.\n")


def test_the_hook_alone_changes_nothing(tmp_path) -> None:
    # Loaded, but aimed at no module: the same line lists the job, so what the test
    # above sees is the Ctrl-C's doing, not the hook's.
    result = started(tmp_path, "no.such.module", "-m", "mogrun", "list")
    assert (tmp_path / "hook-loaded").exists()
    assert (result.returncode, result.stderr) == (0, "")
    assert "a" in result.stdout.split()
