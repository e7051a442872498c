"""The task-file package keeps its design: no import cycle between its
modules (lazy imports inside functions count), and errors are complete when
raised — never given a location or context afterwards."""

from __future__ import annotations

import ast
from pathlib import Path

import mogrun.taskfile

PACKAGE = Path(mogrun.taskfile.__file__).parent
CLI = PACKAGE.parent / "cli"


def imports_of(path: Path) -> set[str]:
    """Every ``mogrun.taskfile`` module ``path`` imports, at top level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name.rsplit(".", 1)[-1] for name in found if name.startswith("mogrun.taskfile.")}


def test_the_task_file_modules_import_each_other_without_a_cycle() -> None:
    graph = {path.stem: imports_of(path) for path in PACKAGE.glob("*.py")}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, "import cycle: " + " -> ".join([*path, module])
        if module not in done:
            for imported in sorted(graph.get(module, ())):
                visit(imported, (*path, module))
            done.add(module)

    for module in sorted(graph):
        visit(module, ())


def test_errors_are_not_changed_after_they_are_made() -> None:
    changed = []
    for path in [*PACKAGE.glob("*.py"), CLI / "taskfile_views.py", CLI / "edit_cmds.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else []
            changed += [f"{path.name}:{node.lineno}" for target in targets
                        if isinstance(target, ast.Attribute)
                        and target.attr in ("location", "context", "message")]
    assert changed == []


def test_rendering_has_no_hidden_mode_switch() -> None:
    from mogrun.taskfile.templates import Scope

    assert "missing_env" not in Scope._fields
    assert 'command != "check"' not in (CLI / "loading.py").read_text(encoding="utf-8")
