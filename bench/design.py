"""Design figures of the code base: module sizes, function lengths, the widest
signatures, and how many places each cross-cutting rule is written in.

Usage: ``python bench/design.py [TREE]`` (default: this checkout). To compare
with an older commit: ``git worktree add /tmp/old REV && python bench/design.py /tmp/old``.
The rule counts are textual (definitions and literal spellings), so they are
a guide to where a rule lives, not a proof that it lives only there.
"""

from __future__ import annotations

import ast
import re
import statistics
import sys
from pathlib import Path

PACKAGES = ("mogrun", "plugins")

# rule -> regex of the places that define or spell it out
RULES = {
    "duration formatters": r"def (format_duration|human_duration|_fmt_duration)\b",
    "outcome string literals": r"[\"'](gate_failed|timeout|skipped|cancelled)[\"']",
    "outcome/status lists": r"^\s*_?[A-Z_]*(OUTCOME|STATUSES|ON_VALUES)[A-Z_]*\s*[:=]",
    "history key builders":
        r"def \w*history_\w*(key|base_url)\w*\(|\"local\" if |LOCAL_BASE_URL if ",
    "plain-http/loopback checks": r"is_loopback_host\(|only loopback may use http",
    "recursive maskers": r"def (masked|mask_nested|_mask_nested|mask_value|mask_data)\(",
    "env.NAME scanners": r"env\\\.|\"env\.\"",
}


def python_files(root: Path) -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (root / pkg).rglob("*.py"))


def function_lengths(tree: ast.AST) -> list[tuple[int, int, str]]:
    """(lines, parameters, name) of every function and method."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            params = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
            params -= 1 if args.args and args.args[0].arg in ("self", "cls") else 0
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            found.append((length, params, node.name))
    return found


def percentile(values: list[int], fraction: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(root: Path) -> None:
    files = python_files(root)
    sizes = {p.relative_to(root).as_posix(): len(p.read_text().splitlines()) for p in files}
    functions = []
    for path in files:
        for length, params, name in function_lengths(ast.parse(path.read_text())):
            functions.append((length, params, f"{path.relative_to(root).as_posix()}:{name}"))
    lengths = [f[0] for f in functions]
    print(f"tree: {root}")
    print(f"modules: {len(files)}, lines: {sum(sizes.values())}, "
          f"largest: {max(sizes.values())} ({max(sizes, key=sizes.__getitem__)}), "
          f"over 400 lines: {sum(1 for n in sizes.values() if n > 400)}")
    print(f"functions: {len(functions)}, length median {statistics.median(lengths):g}, "
          f"p90 {percentile(lengths, 0.9)}, max {max(lengths)}")
    print("widest signatures:")
    for _, params, where in sorted(functions, key=lambda f: -f[1])[:5]:
        print(f"  {params:2d} parameters  {where}")
    print("places each rule is written:")
    texts = {path: path.read_text() for path in files}
    for rule, pattern in RULES.items():
        regex = re.compile(pattern, re.M)
        hits = sum(len(regex.findall(text)) for text in texts.values())
        where = sum(1 for text in texts.values() if regex.search(text))
        print(f"  {rule:26s} {hits:3d} in {where} files")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
