"""The root help renders through rich-click markup: text in square brackets
must survive it (an unescaped "[vars]" is read as a style tag and vanishes)."""

import pytest

from mogrun.cli.main import run_cli


def test_root_help_keeps_bracketed_words(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert run_cli(["--help"]) == 0
    out = capsys.readouterr().out
    assert "Override a [vars] entry (repeatable)." in out
    for panel in ("Run jobs", "Task file", "Mogplex"):
        assert panel in out
