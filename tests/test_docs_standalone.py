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
