"""The request budget under load: 30 jobs of 60 s each (emulated), ``-j 30``,
against the emulator enforcing the real limits (60 requests/min per token;
starts 10/min, 30/h, 150/day).

Prints the 429s mogrun received (must be 0), requests per run, how long after
each run's terminal status mogrun noticed it (median and p95), and the wall
time as a ratio to the lower bound the start limits allow (the 30th start
cannot happen before 120 s, and that run then takes 60 s: 180 s).

    python bench/budget.py [--jobs 30] [--duration 60]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from mogrun.emulator import Emulator, Limits


def task_file(jobs: int, duration: float) -> str:
    parts = []
    for i in range(jobs):
        parts.append(f'[jobs.job{i:02d}]\nrepo = "acme/api"\n'
                     f'prompt = "job {i}\\n@emulator duration={duration:g}s events=8"\n')
    return "\n".join(parts)


def lower_bound(jobs: int, duration: float, limits: Limits) -> float:
    """When the last start may happen under the start windows, plus one run."""
    last = 0.0
    for count, span in limits.starts:
        last = max(last, math.ceil(jobs / count - 1) * span if jobs > count else 0.0)
    return last + duration


def follow(proc: subprocess.Popen, t0_wall: float) -> dict[str, float]:
    """run id -> wall-clock time mogrun reported its terminal status."""
    noticed: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        obj = json.loads(line)
        if obj.get("type") == "status" and obj.get("status") in ("success", "failed",
                                                                 "cancelled"):
            noticed[obj["run_id"]] = time.time()
    return noticed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    limits = Limits.real()
    with Emulator(limits=limits) as emulator, tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "mogplex.toml").write_text(task_file(args.jobs, args.duration))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token)
        names = [f"job{i:02d}" for i in range(args.jobs)]
        began, t0_wall = time.monotonic(), time.time()
        proc = subprocess.Popen(
            [sys.executable, "-m", "mogrun", "--json", "run", "-j", str(args.jobs), *names],
            cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        noticed = follow(proc, t0_wall)
        stderr = proc.stderr.read() if proc.stderr else ""
        proc.wait()
        wall = time.monotonic() - began
        rejected = emulator.count(status=429)
        requests = len(emulator.requests)
        ended = {run_id: datetime.fromisoformat(emulator.run_detail(run_id)["updatedAt"])
                 .timestamp() for run_id in emulator.runs}
    lags = [noticed[r] - ended[r] for r in ended if r in noticed]
    bound = lower_bound(args.jobs, args.duration, limits)
    print(f"exit code           {proc.returncode}")
    print(f"429s received       {rejected}")
    print(f"runs                {len(ended)} started, {len(lags)} followed to the end")
    print(f"requests per run    {requests / max(1, len(ended)):.1f} ({requests} in all)")
    if lags:
        print(f"noticed after end   median {statistics.median(lags):.1f} s, "
              f"p95 {percentile(lags, 0.95):.1f} s, max {max(lags):.1f} s")
    print(f"wall time           {wall:.0f} s; lower bound {bound:.0f} s; "
          f"ratio {wall / bound:.2f}")
    if proc.returncode != 0 or rejected:
        sys.stderr.write(stderr[-3000:])
    return 1 if rejected else proc.returncode


if __name__ == "__main__":
    sys.exit(main())
