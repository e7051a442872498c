"""A job `mogrun_adjust_job` returns keeps the task file's `needs`.

The run graph is planned from the file before the hook is asked: a job that
named itself hung `mogrun run b` for ever once its need failed, a need on no
job ran without a word, and a need removed or added was not honoured. A
changed `needs` is the hook's wrong answer (exit 2), as a changed name is."""

from __future__ import annotations

import pytest

from mogrun.testing import write_taskfile

PLUGIN = """\
# moves job b around the graph; needs.txt beside it says where
import dataclasses
import pathlib

from mogrun.plugin import hookimpl


@hookimpl
def mogrun_adjust_job(job):
    if job.name != "b":
        return None
    wanted = pathlib.Path(__file__).with_name("needs.txt").read_text().strip()
    return dataclasses.replace(job, needs=tuple(n for n in wanted.split(",") if n))

"""

TASKS = (
    "# two jobs, b after a\r\n"
    "[mogplex]\r\n"
    'plugins = ["mover.py"]\r\n'
    "\r\n"
    "[jobs.a]\r\n"
    'repo = "acme/api"\r\n'
    'prompt = """x\r\n@emulator duration=0.3s events=2 status=failed\r\n"""\r\n'
    "\r\n"
    "[jobs.b]\r\n"
    'repo = "acme/web"   # the web app\r\n'
    'prompt = """x\r\n@emulator duration=0.3s events=2\r\n"""\r\n'
    "{needs}\r\n"
    "\r\n"
)


@pytest.mark.parametrize(("written", "returned", "said"), [
    ('needs = ["a"]', "b", "(('a',) to ('b',))"),  # itself: waited for ever
    ('needs = ["a"]', "a,ghost", "(('a',) to ('a', 'ghost'))"),  # no such job: ran
    ('needs = ["a"]', "", "(('a',) to ())"),  # removed: b ran alongside a
    ("", "a", "(() to ('a',))"),  # added: a was never pulled in
])
@pytest.mark.timeout(30)
def test_a_changed_needs_is_the_hooks_wrong_answer(tmp_path, mogrun_emulator, mogrun_cli,
                                                   written, returned, said):
    write_taskfile(tmp_path, TASKS.replace("{needs}", written))
    (tmp_path / "mover.py").write_text(PLUGIN)
    (tmp_path / "needs.txt").write_text(returned + "\n")
    env = {"MOGRUN_POLL_INTERVAL": "0.2"}
    for command in (("run", "b"), ("show", "b")):
        result = mogrun_cli(*command, cwd=tmp_path, env=env)
        assert result.exit_code == 2, result
        assert result.stderr.splitlines()[0] == (
            'Error: plugin "mover" failed in mogrun_adjust_job: it returned a job whose '
            f"needs is changed {said}: a job keeps its needs (the run graph is planned from "
            "the task file: change needs there)")
        assert "Traceback" not in result.output
    assert mogrun_emulator.runs == []  # refused before any run started


def test_the_same_needs_returned_as_a_new_tuple_are_kept(tmp_path, mogrun_emulator,
                                                         mogrun_cli):
    write_taskfile(tmp_path, TASKS.replace("{needs}", 'needs = ["a"]'))
    (tmp_path / "mover.py").write_text(PLUGIN)
    (tmp_path / "needs.txt").write_text("a\n")
    result = mogrun_cli("run", "b", cwd=tmp_path, env={"MOGRUN_POLL_INTERVAL": "0.2"})
    assert result.exit_code == 1, result  # a failed, so b was skipped: the graph held
    assert "b  skipped" in result.stdout
