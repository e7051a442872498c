"""`mogrun status` after a finished fan-out: requests and time.

Runs an N-run fan-out of short emulated runs (limits lifted) to its end, then
``mogrun --json status fan`` against the same emulator, and counts the API
requests that ``status`` made: every run is terminal in the history, so it
must make none (issue 13: the old status sent one ``GET /runs/{id}`` per
run, ~16 minutes of budget for 1,000 runs under the real limit). With
``--before REV`` the mogrun of git revision REV is measured side by side.

    python bench/status.py [--runs 1000] [--before REV]
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

from fanout import checkout, task_file

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
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token)
        code, _ = mogrun(source, tmp, env, "--json", "run", "-j", "200", "fan")
        sent = len(emulator.requests)
        status_code, wall = mogrun(source, tmp, env, "--json", "status", "fan")
        made = emulator.requests[sent:]
    gets = sum(1 for r in made if r.method == "GET" and "/runs/" in r.path)
    return {"fan-out exit code": code, "status exit code": status_code,
            "status requests": len(made), "GET /runs/{id}": gets,
            "budget minutes at 60/min": len(made) / 60.0, "status wall s": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--before", metavar="REV", help="also measure git revision REV")
    args = parser.parse_args()
    columns: dict[str, dict[str, float]] = {}
    if args.before is not None:
        with checkout(args.before) as path:
            columns[f"before ({args.before})"] = measure(args.runs, path)
    columns["now"] = measure(args.runs, None)
    print(f"status of a finished {args.runs}-run fan-out; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"{'':26}" + "".join(f"{name:>22}" for name in columns))
    for key in columns["now"]:
        print(f"{key:26}" + "".join(f"{c[key]:>22.2f}" if isinstance(c[key], float)
                                    else f"{c[key]:>22}" for c in columns.values()))
    return 0 if columns["now"]["status requests"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
