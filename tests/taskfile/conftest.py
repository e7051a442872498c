"""Tiny task-file projects in a temporary directory, driven through the CLI
in-process (``run_cli``) with only the bundled plugins."""

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

    @property
    def errors(self) -> list[str]:
        """The ``Error:`` lines on stderr, without their context lines."""
        return [line for line in self.err.splitlines() if line.startswith("Error:")]


class Project:
    """A folder with a mogplex.toml, and a way to run mogrun inside it."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.capsys = capsys

    @property
    def path(self) -> Path:
        return self.root / "mogplex.toml"

    def write(self, text: str, name: str = "mogplex.toml") -> Path:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return target

    def run(self, *args: str, plugins: bool = False) -> Result:
        self.capsys.readouterr()
        argv = list(args) if plugins else ["--no-plugins", *args]
        code = run_cli(argv)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Project:
    monkeypatch.chdir(tmp_path)
    for name in ("MOGRUN_FILE", "MOGPLEX_URL", "MOGPLEX_API_KEY", "MOGRUN_DISABLE_PLUGINS",
                 "SLACK_WEBHOOK_URL", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    return Project(tmp_path, capsys)

