"""Runs followed one at a time: mogrun's CPU per poll, per run and at start-up,
each beside a bare loop's.

``fanout.py`` gives one figure for a fan-out's client CPU per run; this one
splits it where no threads contend (``-j 1``). Three invocations of each client,
in alternating rounds, with limits lifted and a ``--interval`` poll interval
(the ``MOGRUN_POLL_INTERVAL`` override for mogrun): one run of ``--short``
seconds, one of ``--long`` seconds, and ``--runs`` runs of ``--short`` seconds
one after another. The long run adds only polls: CPU per poll is what it adds
over the polls it adds. The many runs add runs: CPU per run besides its polls
(its start, its events, its end, its history rows and output lines) is what
they add less their extra polls, over the runs they add. What is left of the
one short run is start-up and exit. The bare client is ``minimal_client.py``
with one slot. Run it on a regular install, as ``fanout.py`` is.

    python bench/follow.py [--short 0.1] [--long 3] [--runs 21] [--interval 0.05]
                           [--repeat 3]

A poll interval much shorter than 0.05 s makes the short runs nearly all polls,
and the figure per run then carries the error of the one per poll.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import run_child

import mogrun
from mogrun.emulator import Emulator

HERE = Path(__file__).resolve().parent
CLIENTS = ("minimal", "mogrun")
LIMITS_LIFTED = ("[mogplex]\nrequests_per_minute = 1000000\nstarts_per_minute = 10000\n"
                 "starts_per_hour = 10000\nstarts_per_day = 10000\n\n")


def child_cpu(command: list[str], cwd: str, env: dict[str, str]) -> float:
    """Seconds of CPU (user + system) the command took itself (``fanout.run_child``'s
    ``wait4``); it must exit 0."""
    done, usage, _ = run_child(command, cwd=cwd, env=env)
    if done.returncode != 0:
        sys.exit(f"{command[1]} exited {done.returncode}: {done.stderr[-2000:]}")
    return usage.ru_utime + usage.ru_stime


def measure(name: str, seconds: float, runs: int, args: argparse.Namespace) -> tuple[float, int]:
    """CPU seconds and polls of one client following ``runs`` runs of ``seconds``, one
    at a time, on an emulator of its own (the bare client's keys repeat)."""
    repos = [f"bench/follow{i:03d}" for i in range(runs)]
    with Emulator(repos=repos, limits=None) as emulator, tempfile.TemporaryDirectory() as tmp:
        ids = Path(tmp, "ids.json")
        ids.write_text(json.dumps([emulator.repo_id(repo) for repo in repos]))
        listed = ", ".join(f'"{repo}"' for repo in repos)
        Path(tmp, "mogplex.toml").write_text(
            f"{LIMITS_LIFTED}sandboxes = {runs}\n\n[jobs.one]\nrepo = [{listed}]\n"
            f'prompt = "@emulator duration={seconds:g}s events={args.events}"\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token,
                   MOGRUN_POLL_INTERVAL=f"{args.interval:g}")
        command = {
            "mogrun": [sys.executable, "-m", "mogrun", "--json", "run", "-j", "1", "one"],
            "minimal": [sys.executable, str(HERE / "minimal_client.py"), emulator.api_url,
                        emulator.write_token, str(ids), "1", f"{args.interval:g}",
                        f"{seconds:g}", str(args.events)],
        }[name]
        cpu = child_cpu(command, tmp, env)
        return cpu, sum(1 for r in emulator.requests if r.path.endswith("/events"))


def split(rows: dict[str, list[tuple[float, int]]], runs: int) -> tuple[float, float, float]:
    """(per poll, per run besides its polls, start-up and exit), in seconds, from the
    medians of the three invocations (``short``, ``long``, ``many``)."""
    cpu = {case: statistics.median(c for c, _ in found) for case, found in rows.items()}
    polls = {case: statistics.median(p for _, p in found) for case, found in rows.items()}
    per_poll = (cpu["long"] - cpu["short"]) / max(1, polls["long"] - polls["short"])
    per_run = (cpu["many"] - cpu["short"]
               - (polls["many"] - polls["short"]) * per_poll) / (runs - 1)
    return per_poll, per_run, cpu["short"] - polls["short"] * per_poll - per_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=float, default=0.1, help="seconds of a short run")
    parser.add_argument("--long", type=float, default=3.0, help="seconds of the long run")
    parser.add_argument("--runs", type=int, default=21, help="short runs, one at a time")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between polls")
    parser.add_argument("--events", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3, help="rounds, medians shown")
    args = parser.parse_args()
    if args.runs < 2 or args.long <= args.short:
        parser.error("--runs must be at least 2 and --long longer than --short")
    cases = {"short": (args.short, 1), "long": (args.long, 1), "many": (args.short, args.runs)}
    samples: dict[str, dict[str, list[tuple[float, int]]]] = {name: {} for name in CLIENTS}
    for _ in range(args.repeat):  # alternating: the machine's drift hits every column
        for case, (seconds, runs) in cases.items():
            for name in CLIENTS:
                samples[name].setdefault(case, []).append(measure(name, seconds, runs, args))
    print(f"runs of {args.short:g} s ({args.runs} one at a time) and of {args.long:g} s, "
          f"{args.events} events, polled every {args.interval:g} s, limits lifted; medians "
          f"of {args.repeat} alternating rounds; {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}; mogrun from "
          f"{'a regular' if 'site-packages' in mogrun.__file__ else 'an editable'} install")
    found = {name: split(samples[name], args.runs) for name in CLIENTS}
    print(f"{'':10}{'per poll':>12}{'per run besides polls':>24}{'start-up and exit':>20}")
    for name, (per_poll, per_run, start) in found.items():
        print(f"{name:10}{per_poll * 1e6:9.0f} us{per_run * 1e6:21.0f} us{start * 1e3:17.1f} ms")
    if any(figure <= 0 for figures in found.values() for figure in figures):
        # Each figure is a difference of medians: a machine busy with something else
        # between rounds can swing a median by more than the difference itself.
        print("a figure came out at or below zero: the machine's drift was larger than what "
              "it measures; no ratio shown (run again on a quiet machine, or with more "
              "--repeat and --runs)")
        return 1
    ratios = [found["mogrun"][i] / found["minimal"][i] for i in range(3)]
    print(f"{'ratio':10}{ratios[0]:11.2f}x{ratios[1]:23.2f}x{ratios[2]:19.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
