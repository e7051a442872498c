"""How `list`, `check` and `show` scale with the size of the task file: 10 to
10,000 jobs, clean and with errors, wall time, CPU time and peak RSS of each
command, the error cases as ratios to the clean file measured side by side
(alternating runs in one loop, so machine load affects them alike).

    python bench/scale.py [--sizes 10,100,1000,10000] [--runs 3] [--strict]

The file is a needs chain (every job needs the one before it), so `show` of
the last job resolves every job. "1 error" has one unknown key in the middle
job; "1% errors" has one in every hundredth job. Target (issue 13): `check`
of the 10,000-job file with one error costs at most 2x the clean file.

Then the engine's scheduler alone (in this process, runs that end at once):
a needs chain of 1,000 and of 4,000 jobs, and their ratio (linear: about 4x;
the quadratic rescans it once had: 16x). Target: 4,000 jobs in <= 1 s.
--strict exits 1 if either target is missed.

Last, `check` of a needs chain of 300 and of 1,200 jobs that each have a
schedule (every two of them run the first job, so `check` compares every pair
of schedules for a moment both run at: N*N/2 pairs, about 16x from 300 to
1,200). It once listed each job's runners pair by pair (N**3/6: 1,200 jobs took
595 s) and said 21,560 warnings; said here, with the lines it printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

VARIANTS = ("clean", "1 error", "1% errors")
TARGET = 2.0
CHAIN_TARGET = 1.0  # seconds to schedule a 4,000-job needs chain


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    rss_mb: float


def task_file(jobs: int, variant: str) -> str:
    """A realistic chain of ``jobs`` jobs; ``variant`` says where the errors are."""
    broken = {"clean": set(), "1 error": {jobs // 2},
              "1% errors": set(range(0, jobs, 100))}[variant]
    parts = ['[defaults]\nharness = "codex"\nbase_branch = "main"\ntimeout = "30m"\n\n'
             '[vars]\nteam = "platform"\n']
    for i in range(jobs):
        repos = '["acme/api", "acme/web"]' if i % 5 == 0 else f'"acme/svc-{i % 50}"'
        needs = f'needs = ["job-{i - 1}"]\n' if i else ""
        typo = 'tmeout = "5m"\n' if i in broken else ""
        parts.append(f'# job {i}\n[jobs.job-{i}]\ndescription = "Job number {i}"\n'
                     f'repo = {repos}\nprompt = "Do task {i} for {{{{ team }}}}."\n'
                     f'idempotency_key = "job-{i}-{{{{ date }}}}"\n{needs}{typo}')
    return "\n".join(parts) + "\n"  # ends with a blank line, as editors save it


def mogrun_command() -> list[str]:
    """The console script beside this interpreter (what users run), else -m."""
    script = Path(sys.executable).with_name("mogrun")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mogrun"]


def install_kind() -> str:
    """Which install is measured: an editable one's import hook slows start-up."""
    from importlib import metadata

    try:
        dist = metadata.distribution("mogrun")
    except metadata.PackageNotFoundError:
        return "not installed (run from the source tree)"
    direct = dist.read_text("direct_url.json")
    editable = bool(direct and json.loads(direct).get("dir_info", {}).get("editable"))
    kind = "editable install (pip install -e)" if editable else "regular install"
    return f"{kind} of mogrun {dist.version} at {dist.locate_file('')}"


def run_once(argv: list[str], cwd: Path, expect: int) -> Sample:
    """One run of ``argv``: wall time, CPU (user + system) and peak RSS of the child."""
    import time

    began = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != expect:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}, not {expect}: "
                         f"{err.decode()[-400:]}")
    # ru_maxrss is in KiB on Linux.
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def measure(size: int, runs: int, folder: Path) -> dict[tuple[str, str], Sample]:
    """Median sample of every (command, variant) at ``size`` jobs."""
    mogrun = mogrun_command()
    for variant in VARIANTS:
        (folder / f"{variant}.toml").write_text(task_file(size, variant), encoding="utf-8")
    commands = {"list": ["list"], "check": ["check"], "show": ["show", f"job-{size - 1}"]}
    samples: dict[tuple[str, str], list[Sample]] = {}
    for _ in range(runs):
        for command, args in commands.items():
            for variant in VARIANTS:
                # list reads no more than TOML: an unknown key is not its business.
                expect = 0 if variant == "clean" or command == "list" else 2
                argv = [*mogrun, "--no-plugins", "-f", f"{variant}.toml", *args]
                samples.setdefault((command, variant), []).append(
                    run_once(argv, folder, expect))
    return {key: Sample(statistics.median(s.wall for s in got),
                        statistics.median(s.cpu for s in got),
                        max(s.rss_mb for s in got)) for key, got in samples.items()}


def report(size: int, results: dict[tuple[str, str], Sample]) -> list[str]:
    lines = []
    for command in ("list", "check", "show"):
        clean = results[(command, "clean")]
        cells = []
        for variant in VARIANTS:
            got = results[(command, variant)]
            ratio = "" if variant == "clean" else f" ({got.wall / clean.wall:4.2f}x)"
            cells.append(f"{got.wall * 1000:8.0f} ms{ratio:>9} cpu {got.cpu * 1000:6.0f} ms "
                         f"rss {got.rss_mb:5.0f} MB")
        lines.append(f"{size:>6} {command:<6}" + " | ".join(cells))
    return lines


def chain_seconds(jobs: int, runs: int) -> float:
    """The median time the scheduler takes over a needs chain of ``jobs`` jobs whose
    runs end at once (what is left is the scheduler's own bookkeeping)."""
    import time

    from mogrun.engine.scheduler import Scheduler
    from mogrun.models import ResolvedJob, RunPlan, StartRequest
    from mogrun.runs import RunResult

    def job(k: int) -> ResolvedJob:
        name = f"j{k}"
        plan = RunPlan(name, "acme/api", StartRequest(repo="acme/api", prompt="p",
                                                      idempotency_key=name))
        return ResolvedJob(name=name, description="", needs=(f"j{k - 1}",) if k else (),
                           runs=(plan,), timeout=60)

    def passed(job: ResolvedJob, plan: RunPlan, *_: object) -> RunResult:
        return RunResult(job=job.name, repo=plan.repo, outcome="success", exit_code=0)

    chain = [job(k) for k in range(jobs)]
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        Scheduler(chain, run_fn=passed, skip_fn=passed, on_job_done=lambda *_: None,
                  max_parallel=1).run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def scheduled_chain(jobs: int, runs: int, folder: Path) -> tuple[float, int]:
    """The median wall time of ``check`` over a needs chain of ``jobs`` scheduled
    jobs (two schedules each, many sharing moments), and the lines it printed."""
    import random

    rng = random.Random(1)
    blocks = []
    for i in range(jobs):
        needs = f'needs = ["j{i - 1}"]\n' if i else ""
        weekly = f"{rng.randint(1, 59)} {rng.randint(0, 23)} * * {rng.randint(0, 6)}"
        hourly = f"{rng.randint(1, 59)} */{rng.randint(1, 5)} * * *"
        blocks.append(f'[jobs.j{i}]\nrepo = "acme/api"\nprompt = "x"\n{needs}'
                      f'schedule = ["{weekly}", "{hourly}"]\n')
    path = folder / f"scheduled-{jobs}.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    argv = [*mogrun_command(), "--no-plugins", "-f", path.name, "check"]
    walls = [run_once(argv, folder, 0).wall for _ in range(runs)]
    said = subprocess.run(argv, cwd=folder, capture_output=True, text=True).stderr.count("\n")
    return statistics.median(walls), said


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--strict", action="store_true", help="exit 1 if the target is missed")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"mogrun: {install_kind()}")
    print(f"python: {sys.executable} ({sys.version.split()[0]}), {os.cpu_count()} CPUs")
    print(f"median of {args.runs} alternating runs; ratios are to the clean file's wall time")
    print(f"{'jobs':>6} {'cmd':<6}" + " | ".join(f"{v:<47}" for v in VARIANTS))
    folder = Path(tempfile.mkdtemp(prefix="mogrun-scale-"))
    worst = 0.0
    try:
        for size in sizes:
            results = measure(size, args.runs, folder)
            print("\n".join(report(size, results)), flush=True)
            if size == max(sizes):
                worst = results[("check", "1 error")].wall / results[("check", "clean")].wall
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    verdict = "met" if worst <= TARGET else "MISSED"
    print(f"check with one error at {max(sizes)} jobs: {worst:.2f}x the clean file "
          f"(target <= {TARGET:.0f}x: {verdict})")
    small, large = chain_seconds(1000, args.runs), chain_seconds(4000, args.runs)
    chained = "met" if large <= CHAIN_TARGET else "MISSED"
    print(f"scheduling a needs chain: 1,000 jobs {small * 1000:.0f} ms, 4,000 jobs "
          f"{large * 1000:.0f} ms ({large / small:.1f}x; target <= {CHAIN_TARGET:.0f} s: "
          f"{chained})")
    folder = Path(tempfile.mkdtemp(prefix="mogrun-scale-"))
    try:
        (few, few_said), (many, many_said) = (scheduled_chain(n, args.runs, folder)
                                              for n in (300, 1200))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"check of a scheduled needs chain: 300 jobs {few * 1000:.0f} ms ({few_said} lines), "
          f"1,200 jobs {many * 1000:.0f} ms ({many_said} lines): {many / few:.1f}x")
    missed = worst > TARGET or large > CHAIN_TARGET
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
