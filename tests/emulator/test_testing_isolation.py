"""``mogrun_cli`` gives a plugin author's test the same output on a laptop and
in GitHub Actions: the runner's GITHUB_* variables do not switch the output
format, nor let a test write into the real job summary."""

from __future__ import annotations

from mogrun.testing import write_taskfile

TASKS = """
    [jobs.a]
    repo = "acme/api"
    prompt = "do it"
"""


def test_mogrun_cli_ignores_the_machines_github_actions(mogrun_emulator, mogrun_cli,
                                                         monkeypatch, tmp_path):
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    write_taskfile(tmp_path, TASKS)
    result = mogrun_cli("run", "a", cwd=tmp_path, env={"MOGRUN_POLL_INTERVAL": "0.1"})
    assert result.exit_code == 0, result
    assert "::group::" not in result.output
    assert not summary.exists() and not outputs.exists()
