"""`mogrun status` after a finished fan-out, or of runs still going: requests and time.

Runs an N-run fan-out of short emulated runs (limits lifted) to its end, then
``mogrun --json status fan`` against the same emulator, and counts the API
requests that ``status`` made: every run is terminal in the history, so it
must make none (issue 13: the old status sent one ``GET /runs/{id}`` per
run, ~16 minutes of budget for 1,000 runs under the real limit). With
``--before REV`` the mogrun of git revision REV is measured side by side.

``--going N --delay S`` measures the other case: N runs still going (detached),
each ``GET /runs/{id}/events`` answered S seconds late (the emulator's ``delay``
fault), ``status`` under the API's own 60 requests a minute. No endpoint lists
runs, so it must ask each: one after another that was N x S seconds (16 minutes
for 120 runs at 8 s); asked a few at once, the request budget paces them.

    python bench/status.py [--runs 1000] [--before REV]
    python bench/status.py --going 24 --delay 2 [--before REV]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import checkout, child_env, task_file

from mogrun.emulator import Emulator


def mogrun(source: str | None, cwd: str, env: dict[str, str], *args: str) -> tuple[int, float]:
    if source is not None:
        env = {**env, "PYTHONPATH": source}
    began = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mogrun", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-1500:])
    return proc.returncode, time.monotonic() - began


def measure(runs: int, source: str | None) -> dict[str, float]:
    repos = [f"bench/repo{i:03d}" for i in range(runs)]
    with Emulator(repos=repos, limits=None) as emulator, tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "mogplex.toml").write_text(task_file(repos, 0.2, runs))
        env = child_env()
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token)
        code, _ = mogrun(source, tmp, env, "--json", "run", "-j", "200", "fan")
        sent = len(emulator.requests)
        status_code, wall = mogrun(source, tmp, env, "--json", "status", "fan")
        made = emulator.requests[sent:]
    gets = sum(1 for r in made if r.method == "GET" and "/runs/" in r.path)
    return {"fan-out exit code": code, "status exit code": status_code,
            "status requests": len(made), "GET /runs/{id}": gets,
            "budget minutes at 60/min": len(made) / 60.0, "status wall s": wall}


def measure_going(going: int, delay: float, source: str | None) -> dict[str, float]:
    repos = [f"bench/repo{i:03d}" for i in range(going)]
    jobs = ('[jobs.fan]\nrepo = [' + ", ".join(f'"{r}"' for r in repos) + ']\n'
            'prompt = "{{ repo }}\\n@emulator duration=never interval=1s"\n')
    with Emulator(repos=repos, limits=None) as emulator, tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "mogplex.toml")
        path.write_text(task_file(repos, 0.2, going).split("[jobs.fan]")[0] + jobs)
        env = child_env()
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token)
        code, _ = mogrun(source, tmp, env, "--json", "run", "--detach", "fan")
        path.write_text("[mogplex]\nrequests_per_minute = 60\n\n" + jobs)  # the API's own
        emulator.add_fault("events", "delay", count=going, delay=delay)
        sent = len(emulator.requests)
        status_code, wall = mogrun(source, tmp, env, "--json", "status", "fan")
        made = emulator.requests[sent:]
    return {"detach exit code": code, "status exit code": status_code,
            "status requests": len(made), "in turn: N x delay s": going * delay,
            "status wall s": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--before", metavar="REV", help="also measure git revision REV")
    parser.add_argument("--going", type=int, metavar="N",
                        help="instead: status of N going runs, each answer --delay late")
    parser.add_argument("--delay", type=float, default=2.0, metavar="S",
                        help="seconds each GET /runs/{id}/events waits (with --going)")
    args = parser.parse_args()

    def one(source: str | None) -> dict[str, float]:
        if args.going is not None:
            return measure_going(args.going, args.delay, source)
        return measure(args.runs, source)

    columns: dict[str, dict[str, float]] = {}
    if args.before is not None:
        with checkout(args.before) as path:
            columns[f"before ({args.before})"] = one(path)
    columns["now"] = one(None)
    what = (f"{args.going} going runs, each answer {args.delay:g} s late" if args.going
            is not None else f"a finished {args.runs}-run fan-out")
    print(f"status of {what}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'':26}" + "".join(f"{name:>22}" for name in columns))
    for key in columns["now"]:
        print(f"{key:26}" + "".join(f"{c[key]:>22.2f}" if isinstance(c[key], float)
                                    else f"{c[key]:>22}" for c in columns.values()))
    if args.going is not None:
        return 0 if columns["now"]["status exit code"] == 0 else 1
    return 0 if columns["now"]["status requests"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
