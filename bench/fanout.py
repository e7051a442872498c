"""Fan-out throughput: 200 emulated runs of 2 s each, limits lifted, ``-j 50``.

Runs ``python -m mogrun`` as a subprocess (real defaults: no test poll
interval) against an in-process emulator, and prints wall time as a ratio to
the ideal (200 x 2 s / 50 slots = 8 s), CPU ms per run and the peak RSS of
the mogrun process.

    python bench/fanout.py [--runs 200] [--jobs 50] [--duration 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mogrun.emulator import Emulator


def task_file(repos: list[str], duration: float, runs: int) -> str:
    listed = ", ".join(f'"{r}"' for r in repos)
    return (
        "[mogplex]\n"
        f"requests_per_minute = {100 * runs}\n"
        f"starts_per_minute = {10 * runs}\nstarts_per_hour = {10 * runs}\n"
        f"starts_per_day = {10 * runs}\n\n"
        "[jobs.fan]\n"
        f"repo = [{listed}]\n"
        f'prompt = "{{{{ repo }}}}\\n@emulator duration={duration}s events=6"\n'
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--duration", type=float, default=2.0)
    args = parser.parse_args()
    repos = [f"bench/repo{i:03d}" for i in range(args.runs)]
    with Emulator(repos=repos, limits=None) as emulator, tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "mogplex.toml").write_text(task_file(repos, args.duration, args.runs))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token)
        began = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "mogrun", "--json", "run", "-j", str(args.jobs), "fan"],
            cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.monotonic() - began
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        summary = json.loads(proc.stdout.splitlines()[-1]) if proc.stdout else {}
        requests = len(emulator.requests)
    passed = sum(1 for r in summary.get("results", []) if r["outcome"] == "success")
    ideal = args.runs * args.duration / args.jobs
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
    print(f"exit code           {proc.returncode} ({passed}/{args.runs} runs passed)")
    print(f"wall time           {wall:.1f} s; ideal {ideal:.1f} s; ratio {wall / ideal:.2f}")
    print(f"CPU per run         {cpu_ms / args.runs:.1f} ms (mogrun process, user+sys)")
    print(f"peak RSS            {usage.ru_maxrss / 1024:.1f} MiB")
    print(f"requests per run    {requests / args.runs:.1f}")
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-2000:])
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
