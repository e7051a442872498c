"""docs/taskfile.md shows real output: every `mogrun check` / `mogrun list`
transcript that follows a TOML snippet is re-run here and must match."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "taskfile.md"
PAIR = re.compile(r"```toml\n((?:(?!```).)*)```\n\n```console\n\$ mogrun (check|list)\n(.*?)```",
                  re.DOTALL)


def transcripts() -> list[tuple[str, str, str]]:
    return PAIR.findall(DOC.read_text(encoding="utf-8"))


def test_the_doc_has_transcripts_to_check() -> None:
    assert len(transcripts()) >= 8


@pytest.mark.parametrize(("toml", "command", "expected"), transcripts(),
                         ids=[f"{c}-{i}" for i, (_, c, _) in enumerate(transcripts())])
def test_doc_transcript_is_real(project, toml: str, command: str, expected: str) -> None:
    project.path.write_text(toml, encoding="utf-8")
    result = project.run(command, plugins=True)
    assert result.err + result.out == expected.replace("/tmp/acme", str(project.root))
