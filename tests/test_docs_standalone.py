"""The docs stand alone: none sends a reader to the developers' contract folder
(`../shared`, `/work/shared`) or its SPEC, which are not part of the repository a
user has."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = re.compile(
    r"/work/shared|\.\./shared/(SPEC|STYLE|mogplex-api|mogplex-automations)\.md"
    r"|\bthe SPEC\b|\bSPEC's")  # the SPEC itself is not shipped either


def test_no_doc_points_at_the_shared_contract_folder() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    offending = [f"{page.relative_to(ROOT)}:{number}: {line.strip()}"
                 for page in pages
                 for number, line in enumerate(page.read_text().splitlines(), 1)
                 if CONTRACT.search(line)]
    assert offending == []


def test_no_source_names_a_contract_file_a_contributor_does_not_have() -> None:
    sources = [path for folder in ("mogrun", "plugins", "bench", "examples")
               for path in sorted((ROOT / folder).rglob("*.py"))]
    # ...nor the SPEC by name ("SPEC precedence", "(SPEC)"); a metavar "SPEC" is no reference.
    named = re.compile(r"\b(SPEC|STYLE|mogplex-api|mogplex-automations)\.md\b"
                       r'|(?<!")\bSPEC\b(?!")')
    offending = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for path in sources
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if named.search(line) or CONTRACT.search(line)]
    assert offending == []
