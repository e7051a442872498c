"""Task-file projects for the ci tests, driven through the CLI in-process."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from mogrun.cli.main import run_cli


@dataclass
class Result:
    code: int
    out: str
    err: str

    def __repr__(self) -> str:
        return f"Result(code={self.code}, out={self.out!r}, err={self.err!r})"


class Project:
    """A folder (a git checkout: it has ``.git``) with a mogplex.toml."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.capsys = capsys

    def write(self, text: str, name: str = "mogplex.toml", *, raw: bool = False) -> Path:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        body = text if raw else textwrap.dedent(text).lstrip("\n")
        target.write_bytes(body.encode("utf-8"))
        return target

    def run(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = run_cli(["--no-plugins", *args])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Project:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    for name in ("MOGRUN_FILE", "MOGPLEX_URL", "MOGPLEX_API_KEY", "MOGRUN_DISABLE_PLUGINS",
                 "NO_COLOR", "GITHUB_ACTIONS", "MOGRUN_SANDBOXES"):
        monkeypatch.delenv(name, raising=False)
    return Project(tmp_path, capsys)
