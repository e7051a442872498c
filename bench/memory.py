"""Memory per run: what one more run of a fan-out adds to mogrun's peak RSS.

The fan-out of ``fanout.py`` (runs of D s, ``-j J``, limits lifted, ``--json``,
or the human lines a CI log gets with ``--output plain``) at two sizes,
``--small`` and ``--large`` runs: the slope of the child's peak RSS (VmHWM)
between them is the memory each run adds, since ``-j`` (the runs
in flight, their threads and buffers) is the same at both. Beside it, in
alternating rounds, the same slope for ``minimal_client.py`` (bare urllib3,
which keeps nothing of a run), and with ``--before REV`` the mogrun of that
revision. A run's result (kept for the summary) and its plan (the task
file's repo list) are what mogrun must keep; anything else a run leaves
behind shows here as a slope above the minimal client's.

Peak RSS also counts what the allocator holds on to, not only live objects:
on the VM this was written on the slope was 5.7 KiB per run at 6 events and
8.6 at 60, while the objects alive at the summary (``tracemalloc``, scratch)
came to the same bytes per run at both. A slope that grows with ``--events``
is where to look first, then; it is not by itself a leak.

    python bench/memory.py [--small 500] [--large 2000] [--events 6] [--repeat 3]
                           [--before REV]... [--output json|plain]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import alternating, fanout_arguments, measure

import mogrun


def slope(args: argparse.Namespace, source: str | None) -> dict[str, float]:
    """KiB of peak RSS per run between the two sizes, and the peaks (MiB)."""
    peaks = {}
    for runs in (args.small, args.large):
        sized = argparse.Namespace(**{**vars(args), "runs": runs})
        sample = measure(sized, source)
        if sample["exit code"] != 0:
            raise SystemExit(f"the fan-out of {runs} runs exited {sample['exit code']}")
        peaks[runs] = sample["peak RSS MiB"]
    per_run = (peaks[args.large] - peaks[args.small]) * 1024 / (args.large - args.small)
    return {f"peak RSS MiB, {args.small} runs": peaks[args.small],
            f"peak RSS MiB, {args.large} runs": peaks[args.large],
            "KiB per run": per_run}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--large", type=int, default=2000)
    fanout_arguments(parser, duration=1.0)
    args = parser.parse_args()
    if not 0 < args.small < args.large:
        parser.error("--small must be at least 1 and under --large")
    samples = alternating(args.before, args.repeat, lambda source: slope(args, source))
    print(f"fan-outs of {args.small} and {args.large} runs of {args.duration:g} s and "
          f"{args.events} events, -j {args.jobs}, limits lifted, "
          f"{'--json' if args.output == 'json' else 'plain'} output; medians of "
          f"{args.repeat} alternating rounds; {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}; python -m mogrun from "
          f"{'an editable' if 'site-packages' not in mogrun.__file__ else 'a regular'} install")
    print(f"{'':26}" + "".join(f"{name:>20}" for name in samples))
    for key in next(iter(samples.values()))[0]:
        print(f"{key:26}" + "".join(f"{statistics.median(s[key] for s in runs):>20.2f}"
                                    for runs in samples.values()))
    floor = statistics.median(s["KiB per run"] for s in samples["minimal urllib3"])
    for name, runs in samples.items():
        if name != "minimal urllib3":
            mine = statistics.median(s["KiB per run"] for s in runs)
            print(f"KiB per run, {name}: {mine:.2f}, {mine - floor:+.2f} over the minimal "
                  "client's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
