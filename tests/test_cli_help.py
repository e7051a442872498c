"""The root help renders through rich-click markup: text in square brackets
must survive it (an unescaped "[vars]" is read as a style tag and vanishes)."""


def test_root_help_keeps_bracketed_words(mogrun_cli, tmp_path) -> None:
    result = mogrun_cli("--help", cwd=tmp_path, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result
    assert "Override a [vars] entry (repeatable)." in result.stdout
    for panel in ("Run jobs", "Task file", "Mogplex"):
        assert panel in result.stdout
