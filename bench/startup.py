"""Start-up time of `mogrun list`, `--help`, `check` and `show` on a 50-job task
file, as ratios to `python -c pass` measured side by side: alternating runs in
one loop, so machine load affects every command alike.

Measured on a REGULAR install (`pip install .` into a fresh venv, as users
install): an editable install's import hook slows `python -c pass` itself and
flatters every ratio. With `--before REF` a second venv gets that git ref, and
its commands run in the same loop, so the table shows before and after.

    python bench/startup.py [--runs 25] [--before REF] [--venv DIR] [--strict]

`--venv DIR` reuses (or creates) DIR instead of a temporary venv and reinstalls
this checkout into it (faster when run often). Targets (issue 13): list <= 5x,
--help <= 10x, check and show <= 8x, judged on wall time; --strict exits 1 if
one is missed. The same ratios of CPU time (user + sys, from ``wait4``) follow:
a busy machine disturbs them less (medians of wall time swing ~10% between
runs here), so they tell a change from noise. Also
printed: a one-option rich-click command's --help in the same loop, the floor
under any help rich-click renders (click and rich are most of --help).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"list": 5.0, "--help": 10.0, "check": 8.0, "show": 8.0}
ARGS = {"list": ["list"], "--help": ["--help"], "check": ["check"], "show": ["show", "job-3"]}


def task_file(jobs: int = 50) -> str:
    """A realistic task file: defaults, vars, fan-outs, needs, plugin keys."""
    parts = ['[defaults]\nharness = "codex"\nbase_branch = "main"\ntimeout = "30m"\n'
             '[vars]\nteam = "platform"\n']
    for i in range(jobs):
        repos = '["acme/api", "acme/web"]' if i % 5 == 0 else f'"acme/svc-{i}"'
        needs = f'needs = ["job-{i - 1}"]\n' if i % 3 == 1 else ""
        parts.append(
            f'[jobs.job-{i}]\ndescription = "Job number {i} of the bench"\nrepo = {repos}\n'
            f'prompt = "Do task {i} for {{{{ team }}}}."\n'
            f'idempotency_key = "job-{i}-{{{{ date }}}}"\n'
            f'{needs}retry = {{ attempts = 3, max_delay = "30s" }}\n')
    return "\n".join(parts)


def install(venv: Path, source: Path) -> Path:
    """A regular (non-editable) install of ``source`` into ``venv``; its python."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    build = Path(tempfile.mkdtemp(prefix="mogrun-src-"))
    try:  # build from a copy: setuptools writes build/ beside the sources
        shutil.copytree(source, build / "src", ignore=shutil.ignore_patterns(
            ".git", ".mogrun", "build", "*.egg-info", "__pycache__", ".venv"))
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--force-reinstall",
                        str(build / "src")], check=True)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return python


def checkout(ref: str, into: Path) -> Path:
    """The tree of git ``ref`` (as committed) in ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True,
                             capture_output=True).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def timed(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + sys, from ``wait4``) of one run of ``argv``."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    errors = child.stderr.read()  # the pipe drained before the wait: never a full pipe
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stderr.close()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {errors.decode()[-500:]}")
    return elapsed, usage.ru_utime + usage.ru_stime


# The floor of any help rich-click renders: a one-option command's --help, in the same
# venv. mogrun's --help (a dozen commands, panels) cannot be cheaper than this.
RICH_CLICK_FLOOR = """import rich_click
@rich_click.command()
@rich_click.option("--name", help="Who to greet.")
def hello(name):
    pass
hello(["--help"])
"""


def commands(pythons: dict[str, Path]) -> dict[tuple[str, str], list[str]]:
    """(build, command) -> argv; the console script of each venv, as users run it."""
    base = next(iter(pythons.values()))
    table = {("", "python -c pass"): [str(base), "-c", "pass"],
             ("", "rich-click floor"): [str(base), "-c", RICH_CLICK_FLOOR]}
    for name, args in ARGS.items():
        for build, python in pythons.items():
            table[(build, name)] = [str(python.with_name("mogrun")), *args]
    return table


def measure(table: dict[tuple[str, str], list[str]], runs: int,
            folder: Path) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    """Median wall and CPU times of each command, in alternating runs."""
    for argv in table.values():  # warm the file cache once
        timed(argv, folder)
    walls: dict[tuple[str, str], list[float]] = {key: [] for key in table}
    cpus: dict[tuple[str, str], list[float]] = {key: [] for key in table}
    for _ in range(runs):
        for key, argv in table.items():
            wall, cpu = timed(argv, folder)
            walls[key].append(wall)
            cpus[key].append(cpu)
    return ({key: statistics.median(values) for key, values in walls.items()},
            {key: statistics.median(values) for key, values in cpus.items()})


def report(medians: dict[tuple[str, str], float], builds: list[str], what: str) -> bool:
    """One table of ratios to ``python -c pass``; whether a target is missed."""
    base = medians[("", "python -c pass")]
    print(f"{what}: python -c pass median {base * 1000:6.1f} ms")
    header = "".join(f"  {b:>22}" for b in builds)
    print(f"  {'command':<14}{header}   target")
    missed = False
    for name, target in TARGETS.items():
        cells = []
        for build in builds:
            ratio = medians[(build, name)] / base
            cells.append(f"{medians[(build, name)] * 1000:7.1f} ms = {ratio:5.1f}x")
        ratio = medians[(builds[-1], name)] / base
        missed |= ratio > target
        verdict = "ok" if ratio <= target else "MISSED"
        print(f"  {name:<14}" + "".join(f"  {c:>22}" for c in cells) +
              f"   <= {target:g}x {verdict}")
    floor = medians[("", "rich-click floor")]
    print(f"  a one-option rich-click command's --help (the floor of --help): "
          f"{floor * 1000:.1f} ms = {floor / base:.1f}x")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--before", metavar="REF", help="also measure this git ref")
    parser.add_argument("--venv", type=Path, help="reuse this venv for the checkout")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mogrun-bench-"))
    try:
        pythons = {}
        if args.before:
            pythons[f"before ({args.before})"] = install(
                work / "venv-before", checkout(args.before, work / "before"))
        pythons["this checkout"] = install(args.venv or work / "venv", ROOT)
        folder = work / "project"
        folder.mkdir()
        (folder / "mogplex.toml").write_text(task_file())
        walls, cpus = measure(commands(pythons), args.runs, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.runs} alternating runs each, 50-job task file, regular installs "
          f"(pip install ., not editable), {sys.platform}, Python {sys.version.split()[0]}")
    missed = report(walls, list(pythons), "wall time (the targets)")
    report(cpus, list(pythons), "CPU time, user + sys (steadier on a busy machine)")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
