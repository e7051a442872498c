"""N legs of one token at the real limits: ``mogrun run fan --shard I/N`` for
every I at once, as N processes against one emulator with the server's real
request and start windows (60/min; starts 10/min, 30/h, 150/day). The
emulator's sandbox cap is lifted (and the task file's raised to match): this
measures the rate limits, not sandbox capacity (that is bench/capacity.py).

    python bench/shards.py [--repos 30] [--legs 3] [--duration 2]

Prints the wall time, 429s, and the most requests and starts the server saw
in any window; exit 1 if a repo did not run exactly once, a 429 came, or a
window held more than the token's limit. 30 repos at 10 starts a minute
take a little over 3 minutes however many legs share the token.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mogrun.emulator import Emulator, Limits

LIMITS = Limits(sandboxes=0)  # the real rate limits, no sandbox cap


def task_file(repos: list[str], duration: float) -> str:
    listed = ", ".join(f'"{r}"' for r in repos)
    # The emulator has no sandbox cap here, so neither does the task file (with the
    # default of 3, a leg would hold one slot and wait for sandboxes idle for 30m).
    return (f"[mogplex]\nsandboxes = {len(repos)}\n\n[jobs.fan]\nrepo = [{listed}]\n"
            f'prompt = "{{{{ repo }}}}\\n@emulator duration={duration}s events=4"\n'
            'timeout = "10m"\n')


def most_in_any_window(times: list[float], span: float) -> int:
    times, best, start = sorted(times), 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - span:
            start += 1
        best = max(best, end - start + 1)
    return best


def run_legs(folder: str, emulator: Emulator, legs: int) -> list[tuple[int, str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token, NO_COLOR="1")
    procs = [subprocess.Popen([sys.executable, "-m", "mogrun", "--json", "run", "fan",
                               "--shard", f"{i}/{legs}"], cwd=folder, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(1, legs + 1)]
    outputs = [p.communicate() for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=30)
    parser.add_argument("--legs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=2.0)
    args = parser.parse_args()
    repos = [f"bench/repo{k:03d}" for k in range(args.repos)]
    with Emulator(repos=repos, limits=LIMITS) as emulator, \
            tempfile.TemporaryDirectory() as folder:
        Path(folder, "mogplex.toml").write_text(task_file(repos, args.duration))
        began = time.monotonic()
        done = run_legs(folder, emulator, args.legs)
        wall = time.monotonic() - began
        log = [r for r in emulator.requests if r.path.startswith("/api/")]
        ran = sorted(emulator.run_detail(run)["repoId"] for run in emulator.runs)
        ids = sorted(emulator.repo_id(r) for r in repos)
    starts = [r.time for r in log if r.method == "POST" and r.path.endswith("/runs")]
    peaks = {"requests/60s": (most_in_any_window([r.time for r in log], 60.0), 60),
             "starts/60s": (most_in_any_window(starts, 60.0), 10),
             "starts/3600s": (most_in_any_window(starts, 3600.0), 30)}
    limited = sum(1 for r in log if r.status == 429)
    passed = [sum(1 for r in json.loads(out.splitlines()[-1])["results"]
                  if r["outcome"] == "success") if out else 0 for _, out, _ in done]
    print(f"legs                {args.legs} x --shard I/{args.legs}, {args.repos} repos")
    print(f"exit codes          {[code for code, _, _ in done]}; runs passed per leg {passed}")
    print(f"wall time           {wall:.1f} s")
    print(f"429 answers         {limited}")
    for name, (seen, limit) in peaks.items():
        print(f"most {name:<14} {seen} (limit {limit})")
    print(f"every repo once     {ran == ids}")
    ok = (ran == ids and limited == 0 and all(seen <= limit for seen, limit in peaks.values())
          and all(code == 0 for code, _, _ in done))
    for code, _, err in done:
        if code:
            sys.stderr.write(err[-2000:])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
