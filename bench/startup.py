"""Start-up time of `mogrun list` and `mogrun --help` on a 50-job task file,
each as a ratio to `python -c pass` measured side by side (same interpreter,
alternating runs in one loop, so machine load affects all three alike).

    python bench/startup.py [--runs 25] [--strict]

Targets (issue 2): list <= 6x, --help <= 12x. --strict exits 1 if missed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"list": 6.0, "--help": 12.0}


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


def mogrun_command() -> list[str]:
    """The console script beside this interpreter (what users run), else -m."""
    script = Path(sys.executable).with_name("mogrun")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mogrun"]


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def measure(runs: int, folder: Path) -> dict[str, list[float]]:
    mogrun = mogrun_command()
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                "list": [*mogrun, "list"], "--help": [*mogrun, "--help"]}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # warm the file cache once
        timed(argv, folder)
    for _ in range(runs):
        for name, argv in commands.items():
            times[name].append(timed(argv, folder))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mogrun-bench-"))
    try:
        (folder / "mogplex.toml").write_text(task_file())
        times = measure(args.runs, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    base = statistics.median(times["python -c pass"])
    print(f"{args.runs} alternating runs each, 50-job task file, {sys.executable}")
    print(f"  python -c pass   median {base * 1000:6.1f} ms")
    missed = False
    for name, target in TARGETS.items():
        median = statistics.median(times[name])
        ratio = median / base
        missed |= ratio > target
        verdict = "ok" if ratio <= target else "MISSED"
        print(f"  mogrun {name:<9} median {median * 1000:6.1f} ms  = {ratio:4.1f}x "
              f"(target <= {target:g}x: {verdict})")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
