"""What a plugin's hook asked at every poll, event or failed request says, end to end.

A `mogrun_watch` raising at every poll printed the same warning 24 times in
5 s, and a `mogrun_event` one 40 times; a negative retry delay was taken as
0 without a word; a 100,000-character watch reason was printed whole in the
cancel notice, the result line, the summary and every --json object."""

from __future__ import annotations

import json

import pytest

from mogrun.testing import write_taskfile

TASKS = (
    "# one run with a few events\r\n"
    "[mogplex]\r\n"
    'plugins = ["plugins/odd.py"]\r\n'
    "\r\n"
    "[jobs.fix]\r\n"
    'repo = "acme/api"\r\n'
    'prompt = """Fix it.\r\n@emulator duration={duration} events={events}\r\n"""\r\n'
    "\r\n"
)
POLL = {"MOGRUN_POLL_INTERVAL": "0.2"}


def project(tmp_path, source: str, duration: str = "2s", events: int = 20):
    write_taskfile(tmp_path, TASKS.format(duration=duration, events=events))
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "odd.py").write_text(
        "from mogrun.plugin import hookimpl\n\n\n" + source + "\n\n")
    return tmp_path


@pytest.mark.parametrize("hook", ["mogrun_watch", "mogrun_event"])
def test_a_hook_failing_at_every_call_is_warned_of_once(tmp_path, mogrun_emulator,
                                                        mogrun_cli, hook):
    params = "state" if hook == "mogrun_watch" else "event"
    project(tmp_path, f"@hookimpl\ndef {hook}({params}):\n"
                      f"    raise RuntimeError('boom in {hook}')\n")
    result = mogrun_cli("run", "fix", cwd=tmp_path, env=POLL)
    assert result.exit_code == 0, result  # a warning; the result stands
    said = [line for line in result.stderr.splitlines() if "boom" in line]
    assert said == [f'warning: plugin "odd" failed in {hook} (run fix:acme/api): '
                    f"RuntimeError: boom in "
                    f"{hook} (said once: its later failures in {hook} are not repeated)"]


def test_a_negative_retry_delay_is_a_wrong_answer(tmp_path, mogrun_emulator, mogrun_cli):
    project(tmp_path, "@hookimpl\ndef mogrun_retry_delay(attempt):\n    return -5\n",
            duration="0.3s", events=2)
    mogrun_emulator.add_fault("start", "503", count=2)
    result = mogrun_cli("run", "fix", cwd=tmp_path, env=POLL)
    assert result.exit_code == 0, result  # the bundled retry policy decided
    said = [line for line in result.stderr.splitlines() if "retry_delay" in line]
    assert said == ['warning: plugin "odd" returned -5 from mogrun_retry_delay (job fix); '
                    "ignored (expected seconds (0 to a year), False or None)"
                    " (said once: its later wrong answers are not repeated)"]


@pytest.mark.parametrize("json_out", [False, True])
def test_a_long_watch_reason_is_cut_to_its_start(tmp_path, mogrun_emulator, mogrun_cli,
                                                 json_out):
    project(tmp_path, "@hookimpl\ndef mogrun_watch(state):\n"
                      "    return 'runner stuck: ' + 'z' * 100_000\n")
    result = mogrun_cli(*(["--json"] if json_out else []), "run", "fix", cwd=tmp_path,
                        env=POLL)
    assert result.exit_code != 0, result
    assert len(result.output) < 8000, result
    assert "runner stuck: " + "z" * 183 + "..." in result.output
    if json_out:
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert any("runner stuck: zzz" in json.dumps(line) for line in lines)
