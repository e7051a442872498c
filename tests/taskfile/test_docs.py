"""docs/taskfile.md shows real output: every `mogrun check` / `mogrun list`
transcript that follows a TOML snippet is re-run here and must match."""

from __future__ import annotations

import json
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


def test_the_doc_says_what_repo_renders_to_for_a_repo_named_by_id(project) -> None:
    # Templates render before any request (show needs no network), so {{ repo }}
    # is the repo as the job names it: an id stays an id, owner/name keeps its case.
    repo_id = "c7198fbc-1945-4717-85d8-eb78866b4e79"
    project.path.write_bytes(f'# by id and by name\r\n[jobs.x]\r\nrepo = ["{repo_id}", '
                             '"Acme/API"]\r\nprompt = "Work on {{ repo }}."\r\n\r\n'.encode())
    result = project.run("--json", "show", "x")
    assert result.code == 0, result
    runs = json.loads(result.out)["runs"]
    assert [r["request"]["body"]["prompt"] for r in runs] == [
        f"Work on {repo_id}.", "Work on Acme/API."]
    row = next(line for line in DOC.read_text(encoding="utf-8").splitlines()
               if line.startswith("| `repo` | this run's repo"))  # the template names
    assert "the id itself" in row and "as written" in row, row
