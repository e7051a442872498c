"""Time to notice: how long after a run ends on the server mogrun shows it.

For N = 1, 5 and 30 active runs of random length, ``python -m mogrun --json``
(real defaults: no test poll interval) runs against an in-process emulator
with the real request and start limits (60 requests a minute per token; 10
starts a minute); only the sandbox cap is raised to N, on the emulator and in
the task file (``[mogplex] sandboxes``), since N active runs need N sandboxes
(with mogrun's default of 3, runs 4..N would wait for a slot instead). Each
NDJSON line is stamped as it arrives; a run's time to notice is the arrival
of its terminal ``status`` line minus the server's ``updatedAt`` for its end.
The budget allows about one poll per run every N seconds, so the bound is
N s (1.5 s at least: the poll floor).

    python bench/latency.py [--sizes 1,5,30] [--seed 7] [--quick]

Prints per N: samples, p50, p95, the bound, p95/bound and the 429s the
emulator answered. Targets (issue 9): p95 <= 1.1 x bound, no 429.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from mogrun.durations import parse_moment
from mogrun.emulator import Emulator, Limits

TERMINAL = ("success", "failed", "cancelled")
POLL_FLOOR = 1.5
STARTS_PER_MINUTE = 10


@dataclass(frozen=True)
class Plan:
    """One size: ``active`` runs at once, ``rounds`` invocations one after another
    (each against a fresh emulator: one invocation's budget cannot know the
    requests of the one before, as two CI jobs sharing a token would not)."""

    active: int
    rounds: int
    shortest: float
    longest: float


def plans(sizes: list[int], quick: bool) -> list[Plan]:
    """Runs last long enough for all N to be active at once: the starts of one
    invocation are paced at 10 a minute, so N runs need N/10 minutes to start."""
    out = []
    for n in sizes:
        ramp = 60.0 * (n - 1) / STARTS_PER_MINUTE
        rounds = 1 if n >= 30 else (2 if quick else max(1, 15 // n))
        short = 4.0 if n == 1 else 20.0
        out.append(Plan(n, rounds, ramp + short, ramp + short * (2 if quick else 3)))
    return out


def task_file(names: list[str], durations: list[float]) -> str:
    jobs = [
        f'[jobs.r{i:02d}]\nrepo = "{name}"\nprompt = "@emulator duration={d:.1f}s events=4"\n'
        for i, (name, d) in enumerate(zip(names, durations, strict=True))
    ]
    return (f"[mogplex]\nrequests_per_minute = 60\nstarts_per_minute = 10\n"
            f"sandboxes = {len(names)}\n\n" + "\n".join(jobs))


def run_once(emulator: Emulator, names: list[str], durations: list[float]) -> dict[str, float]:
    """One invocation; run id -> the wall-clock time its terminal status arrived."""
    noticed: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "mogplex.toml").write_text(task_file(names, durations))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token)
        proc = subprocess.Popen(
            [sys.executable, "-m", "mogrun", "--json", "run", "-j", str(len(names)),
             *[f"r{i:02d}" for i in range(len(names))]],
            cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        errors: list[str] = []
        drain = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
        drain.start()
        for line in proc.stdout:
            arrived = time.time()
            obj = json.loads(line)
            if obj.get("type") == "status" and obj.get("status") in TERMINAL:
                noticed.setdefault(obj["run_id"], arrived)
        proc.wait()
        drain.join(timeout=5)
        if proc.returncode != 0:
            print(f"  mogrun exited {proc.returncode}: {''.join(errors)[-500:]}", file=sys.stderr)
    return noticed


def measure(plan: Plan, rng: random.Random) -> tuple[list[float], int, int]:
    """Times to notice (s), 429s answered and requests made, for one size."""
    names = [f"bench/lat{i:02d}" for i in range(plan.active)]
    samples: list[float] = []
    limited = total = 0
    for _ in range(plan.rounds):  # a fresh emulator (and token) each: no window carried over
        with Emulator(repos=names, limits=Limits(sandboxes=plan.active)) as emulator:
            durations = [rng.uniform(plan.shortest, plan.longest) for _ in names]
            noticed = run_once(emulator, names, durations)
            for run_id, arrived in noticed.items():
                ended = parse_moment(emulator.run_detail(run_id).get("updatedAt"))
                if ended is not None:
                    samples.append(arrived - ended)
            limited += sum(1 for r in emulator.requests if r.status == 429)
            total += len(emulator.requests)
    return samples, limited, total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[q - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,5,30")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter runs")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"{'N':>3}  {'runs':>4}  {'p50':>6}  {'p95':>6}  {'bound':>6}  {'p95/bound':>9}  "
          f"{'429s':>4}  {'requests':>8}")
    for plan in plans(sizes, args.quick):
        samples, limited, total = measure(plan, rng)
        if not samples:
            print(f"{plan.active:>3}  no samples")
            continue
        bound = max(POLL_FLOOR, float(plan.active))
        p50, p95 = percentile(samples, 50), percentile(samples, 95)
        print(f"{plan.active:>3}  {len(samples):>4}  {p50:>5.2f}s  {p95:>5.2f}s  {bound:>5.1f}s  "
              f"{p95 / bound:>9.2f}  {limited:>4}  {total:>8}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
