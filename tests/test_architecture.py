"""The import rules of docs/architecture.md, read from the source (AST), so a
change that breaks the layering fails here instead of in a review.

Each rule names the modules it governs and what they may not import (or
call); a failure lists every ``file:line`` that breaks it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The leaves every layer may use: stdlib-only value objects and single rules.
LEAVES = ("mogrun.errors", "mogrun.models", "mogrun.outcomes", "mogrun.durations",
          "mogrun.waits", "mogrun.masking", "mogrun.loopback", "mogrun.textsafety",
          "mogrun.tables", "mogrun.reponames", "mogrun.threads", "mogrun.tomltext",
          "mogrun.envnumbers", "mogrun.envswitches")
UI_LIBRARIES = ("click", "rich_click", "rich")
CLIENT_CODE = ("mogrun.api", "mogrun.engine", "mogrun.cli", "mogrun.taskfile",
               "mogrun.output", "mogrun.http", "mogrun.plugin", "mogrun.pluginhost",
               "mogrun.pluginload", "mogrun.plugindecl", "mogrun.pluginguard",
               "mogrun.hookspecs", "mogrun.testing")


@dataclass(frozen=True)
class Found:
    """One import (or call) in a source file."""

    path: Path
    line: int
    name: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.name}"


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[0] == "plugins":
        parts[0] = "mogrun_plugins"
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources(*folders: str) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        target = ROOT / folder
        found += [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))
    return found


def imports(path: Path) -> Iterator[Found]:
    """Every module ``path`` imports, anywhere in the file, absolute names
    (a relative import is resolved against the file's package)."""
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" \
        else module_name(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (Found(path, node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            yield Found(path, node.lineno, base)


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def prints_or_exits(path: Path) -> Iterator[Found]:
    """``print(...)``, ``exit(...)``, ``sys.exit``/``os._exit`` and any use of
    ``sys.stdout``/``sys.stderr``: only the CLI talks to the terminal."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("print", "exit", "quit"):
            yield Found(path, node.lineno, f"{node.func.id}()")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (
                (node.value.id == "sys" and node.attr in ("exit", "stdout", "stderr"))
                or (node.value.id == "os" and node.attr == "_exit")):
            yield Found(path, node.lineno, f"{node.value.id}.{node.attr}")


@dataclass(frozen=True)
class Rule:
    why: str
    files: Callable[[], list[Path]]
    broken_by: Callable[[Path], Iterator[Found]]


def importing(refused: Callable[[str], bool]) -> Callable[[Path], Iterator[Found]]:
    return lambda path: (found for found in imports(path) if refused(found.name))


def not_cli() -> list[Path]:
    return [p for p in sources("mogrun", "plugins") if "cli" not in p.relative_to(ROOT).parts]


def core() -> list[Path]:
    """Everything but the CLI and the renderers (which may use rich)."""
    return [p for p in not_cli() if "output" not in p.relative_to(ROOT).parts]


def bundled_and_example() -> list[Path]:
    example = [p for p in sources("examples") if "tests" not in p.parts]
    return [*sources("plugins"), *example]


RULES = {
    "only the CLI prints or exits": Rule(
        "everything else raises a MogrunError the CLI turns into output and an exit code",
        not_cli, prints_or_exits),
    "only api/transport.py imports urllib3": Rule(
        "one module owns the wire: timeouts, redirects, TLS and error translation",
        lambda: [p for p in sources("mogrun", "plugins")
                 if p != ROOT / "mogrun" / "api" / "transport.py"],
        importing(lambda name: under(name, ("urllib3",)))),
    "the core never imports click or rich": Rule(
        "the core is used by plugins, tests and the CLI alike, and must start fast",
        core, importing(lambda name: under(name, UI_LIBRARIES))),
    "the emulator imports no client code": Rule(
        "it stands for the server: sharing the client's code would hide the client's bugs",
        lambda: sources("mogrun/emulator"),
        importing(lambda name: under(name, CLIENT_CODE))),
    "bundled plugins and the example import only mogrun.plugin": Rule(
        "plugins use the public module, so the internals can change under them",
        bundled_and_example,
        importing(lambda name: under(name, ("mogrun", "mogrun_plugins"))
                  and name != "mogrun.plugin")),
    "the API layer imports neither engine, task file, output nor CLI": Rule(
        "imports flow CLI -> engine -> api -> transport",
        lambda: sources("mogrun/api"),
        importing(lambda name: under(name, ("mogrun.engine", "mogrun.taskfile",
                                            "mogrun.output", "mogrun.cli")))),
    "the engine and the task file never import the CLI": Rule(
        "imports flow CLI -> engine -> api -> transport",
        lambda: sources("mogrun/engine", "mogrun/taskfile"),
        importing(lambda name: under(name, ("mogrun.cli",)))),
    "the shared leaves import only other leaves": Rule(
        "every layer imports them; they must not drag a layer in",
        lambda: [ROOT / (name.replace(".", "/") + ".py") for name in LEAVES],
        importing(lambda name: under(name, ("mogrun",)) and not under(name, LEAVES))),
}


@pytest.mark.parametrize("rule", list(RULES))
def test_import_rule(rule: str) -> None:
    spec = RULES[rule]
    files = spec.files()
    assert files, f"{rule}: no files matched; the rule checks nothing"
    broken = [str(found) for path in files for found in spec.broken_by(path)]
    assert not broken, f"{rule} ({spec.why}):\n" + "\n".join(broken)


@pytest.mark.parametrize(("source", "rule", "expected"), [
    ("import sys\nsys.exit(2)\n", "only the CLI prints or exits", ["sys.exit"]),
    ("print('hi')\n", "only the CLI prints or exits", ["print()"]),
    ("def f():\n    import urllib3\n", "only api/transport.py imports urllib3", ["urllib3"]),
    ("from rich.text import Text\n", "the core never imports click or rich", ["rich.text"]),
    ("from mogrun.models import GateVerdict\n",
     "bundled plugins and the example import only mogrun.plugin", ["mogrun.models"]),
])
def test_each_rule_catches_what_it_forbids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           source: str, rule: str,
                                           expected: list[str]) -> None:
    """The rules can fail: a planted offender is found (inside a function too)."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    planted = folder / "planted.py"
    planted.write_text(source, encoding="utf-8")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    found = [f.name for f in RULES[rule].broken_by(planted)]
    assert found == expected


ERROR_FIELDS = ("location", "context", "message", "retry_after", "request")


def error_field_assignments(path: Path) -> list[str]:
    """``x.context = ...`` and the like on anything but ``self``: an error changed
    after it was made (``errors.py`` builds its own copies in ``evolve``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else []
        found += [f"{path.relative_to(ROOT)}:{node.lineno}" for target in targets
                  if isinstance(target, ast.Attribute) and target.attr in ERROR_FIELDS
                  and not (isinstance(target.value, ast.Name) and target.value.id == "self")]
    return found


def test_errors_are_complete_when_raised() -> None:
    """A layer that knows more raises ``error.evolve(...)`` from the original; it
    never edits an error someone else made (the bug class of ``_scrub``)."""
    files = [p for p in (ROOT / "mogrun").rglob("*.py") if p.name != "errors.py"]
    files += list((ROOT / "plugins").glob("*.py"))
    assert [hit for path in files for hit in error_field_assignments(path)] == []
