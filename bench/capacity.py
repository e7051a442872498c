"""Capacity-bound fan-out: 20 repos of 10 s runs, the real start limits, 3 sandboxes.

The emulator keeps the server's rules (reuse by repo + branch + root, a cap of
3 active sandboxes, idle reaping) with a short idle time and a quick reaper
(``--reap``; the server's 5-minute sweep adds up to two sweeps to every
slot's idle time, which no client can shorten). mogrun (a subprocess, real
defaults) can only start a run when a slot is free, so the lower bound is
waves x (run + idle), waves = ceil(repos / cap) — unless the start limit
(10 a minute) binds first: start n cannot go before floor((n - 1) / 10)
minutes. The default idle (8 s) keeps the cap the binding limit. Prints wall
time against the bound, requests per run, capacity refusals and 429s.
Target: ratio <= 1.15, 0 x 429.

    python bench/capacity.py [--repos 20] [--duration 10] [--cap 3] [--idle 8] [--reap 0.25]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mogrun.emulator import Emulator, Limits


def task_file(repos: list[str], duration: float, cap: int) -> str:
    listed = ", ".join(f'"{r}"' for r in repos)
    return (
        f"[mogplex]\nsandboxes = {cap}\n\n"
        "[jobs.fan]\n"
        f"repo = [{listed}]\n"
        f'prompt = "@emulator duration={duration}s events=4"\n'
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--cap", type=int, default=3)
    parser.add_argument("--idle", type=float, default=8.0)
    parser.add_argument("--reap", type=float, default=0.25)
    args = parser.parse_args()
    repos = [f"bench/repo{i:02d}" for i in range(args.repos)]
    limits = Limits(sandboxes=args.cap, idle=args.idle, reap=args.reap)  # real rate limits
    with Emulator(repos=repos, limits=limits) as emulator, \
            tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "mogplex.toml").write_text(task_file(repos, args.duration, args.cap))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token)
        began = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "mogrun", "--json", "run", "-j", str(args.repos), "fan"],
            cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.monotonic() - began
        summary = json.loads(proc.stdout.splitlines()[-1]) if proc.stdout else {}
        requests = emulator.requests
        refused = sum(1 for run in emulator.runs
                      if emulator.run_detail(run).get("error") == "Too many active sandboxes")
        peak = emulator.peak_sandboxes()
    passed = sum(1 for r in summary.get("results", []) if r["outcome"] == "success")
    waves = math.ceil(args.repos / args.cap)
    cap_bound = waves * (args.duration + args.idle)
    start_bound = (args.repos - 1) // 10 * 60.0 + args.duration
    bound = max(cap_bound, start_bound)
    too_many = sum(1 for r in requests if r.status == 429)
    print(f"{args.repos} repos x {args.duration:g} s runs, cap {args.cap}, idle {args.idle:g} s"
          f" (reaper every {args.reap:g} s), real request and start limits")
    print(f"exit {proc.returncode}, {passed}/{args.repos} passed, peak sandboxes {peak}")
    print(f"wall {wall:.1f} s vs lower bound {bound:.1f} s (cap: {waves} waves x "
          f"({args.duration:g} + {args.idle:g}) s = {cap_bound:.0f} s; start limit: "
          f"{start_bound:.0f} s): ratio {wall / bound:.3f}")
    print(f"requests {len(requests)} ({len(requests) / args.repos:.1f} per run), "
          f"GET /sandboxes {sum(1 for r in requests if r.path.endswith('/sandboxes'))}, "
          f"refused for capacity {refused}, 429s {too_many}")
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    return 0 if proc.returncode == 0 and too_many == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
