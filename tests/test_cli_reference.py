"""docs/cli.md is generated from the click commands; a stale copy fails CI."""

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current() -> None:
    generator = runpy.run_path(str(ROOT / "docs" / "gen_cli_reference.py"))
    expected = generator["render"]()
    actual = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/cli.md is stale: run python docs/gen_cli_reference.py"


def test_command_summaries_are_current() -> None:
    generator = runpy.run_path(str(ROOT / "docs" / "gen_cli_reference.py"))
    actual = (ROOT / "mogrun" / "cli" / "summaries.py").read_text(encoding="utf-8")
    assert actual == generator["render_summaries"](), \
        "mogrun/cli/summaries.py is stale: run python docs/gen_cli_reference.py"


@pytest.mark.filterwarnings("error::UserWarning")  # rich-click warns of a duplicated -f
def test_root_help_lists_what_the_commands_say(mogrun_cli, tmp_path) -> None:
    """The root help reads summaries.py; it must read as each command's own help."""
    from mogrun.cli.main import COMMANDS

    result = mogrun_cli("--help", cwd=tmp_path, env={"COLUMNS": "250"})
    for name in COMMANDS:
        own = mogrun_cli(name, "--help", cwd=tmp_path, env={"COLUMNS": "250"})
        first = own.stdout.strip().splitlines()[2].strip()  # Usage, blank, then the help
        assert first[:40] in result.stdout, name


def test_group_subcommands_have_their_own_entry() -> None:
    """``mogrun ci github`` is documented, with the global options its help lists."""
    generator = runpy.run_path(str(ROOT / "docs" / "gen_cli_reference.py"))
    text = generator["render"]()
    assert "### `mogrun ci github`" in text
    entry = text.split("### `mogrun ci github`", 1)[1].split("\n## ", 1)[0]
    assert "$ mogrun ci github [OPTIONS]" in entry
    assert "| `--shards N` |" in entry
    assert "Global options it honours: `--file`, `--no-plugins`." in entry
