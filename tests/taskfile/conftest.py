"""Tiny task-file projects in a temporary directory, driven through the CLI
in-process with only the bundled plugins: ``mogrun.testing``'s project, run
from the test's current directory with the test's environment (so a test may
``monkeypatch.chdir`` or ``setenv`` between commands)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mogrun.testing import ISOLATED_ENV, MogrunProject, MogrunResult

# The suite's older name for the one result type.
Result = MogrunResult


class Project(MogrunProject):
    """External plugins off unless ``run(..., plugins=True)``."""

    def run(self, *args: str, plugins: bool = False, **kwargs) -> MogrunResult:  # type: ignore[override]
        kwargs.setdefault("cwd", os.getcwd())
        # run_mogrun unsets the machine's variables; the fixture unset them already, so
        # one set now was set by the test itself (MOGRUN_FILE, say): the call gets it
        kwargs["env"] = {**{name: os.environ[name] for name in ISOLATED_ENV
                            if name in os.environ}, **(kwargs.get("env") or {})}
        return super().run(*(args if plugins else ("--no-plugins", *args)), **kwargs)

    def job_at(self, name: str, key: str | None = None) -> str:
        """``path:line:column`` of job ``name``'s ``[jobs.NAME]`` header (its name), or
        of ``key`` in that table, as ``check`` locates a warning: read from the file."""
        lines = self.path.read_bytes().decode("utf-8-sig").splitlines()
        line = next(n for n, text in enumerate(lines, 1) if text.startswith(f"[jobs.{name}]"))
        if key is not None:
            line = next(n for n, text in enumerate(lines[line:], line + 1)
                        if text.startswith(f"{key} "))
        return f"{self.path.resolve()}:{line}:{1 if key else len('[jobs.') + 1}"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.chdir(tmp_path)
    for name in (*ISOLATED_ENV, "SLACK_WEBHOOK_URL", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    return Project(tmp_path)
