"""docs/cli.md is generated from the click commands; a stale copy fails CI."""

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current() -> None:
    generator = runpy.run_path(str(ROOT / "docs" / "gen_cli_reference.py"))
    expected = generator["render"]()
    actual = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/cli.md is stale: run python docs/gen_cli_reference.py"
