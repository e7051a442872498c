"""Python function calls per run of a fan-out: a figure this machine's noise leaves alone.

``fanout.py``'s client CPU moves by 20% and more between minutes on a small VM,
more than most changes it is asked to judge. The number of Python function
calls a fan-out makes (every thread's, counted by ``cProfile``) moves by about
1% between runs: it says at once whether a change took work away, and how
the work splits by feature (``--without``, as ``ablate.py`` takes features
away), without rounds of timing. It is not the CPU: a built-in's call costs a
fraction of a Python function's, and under 200 threads each call costs
several times what it costs alone (``cost.py``). Whether the CPU followed is for
``fanout.py`` to show.

The fan-out is ``fanout.py``'s (limits lifted, ``--json``), smaller by default
(the profiler slows every call): the bare client (``minimal_client.py``), this
checkout's mogrun, each ``--without`` variant and each ``--before`` revision,
once each. Each prints calls per run, requests per run and calls per request,
and its ratio to the bare client; ``--top N`` lists the N functions of mogrun
(this checkout) with the most calls per run, as ``module:line function``.

    python bench/calls.py [--runs 400] [--jobs 100] [--without FEATURE[,FEATURE]]...
                          [--before REV]... [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import runpy
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD = "--profiled-child"
if str(HERE) not in sys.path:  # fanout.py and ablate.py beside it, however this is run
    sys.path.insert(0, str(HERE))


def profiled(out: str, features: frozenset[str], command: list[str]) -> None:
    """Run ``command`` (``PYTHON -m mogrun ...`` or ``PYTHON SCRIPT ...``) in this
    process with every thread profiled; the merged stats go to ``out`` at exit."""
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    run = threading.Thread.run

    def profiled_run(thread: threading.Thread) -> None:
        profile = cProfile.Profile()
        with lock:
            profiles.append(profile)
        profile.enable()
        try:
            run(thread)
        finally:
            profile.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    if features:
        from ablate import take_away

        take_away(features)
    main = cProfile.Profile()
    profiles.append(main)
    main.enable()
    try:
        if command[1:3] == ["-m", "mogrun"]:
            sys.argv = ["mogrun", *command[3:]]
            runpy.run_module("mogrun", run_name="__main__", alter_sys=True)
        else:
            sys.argv = command[1:]
            runpy.run_path(command[1], run_name="__main__")
    except SystemExit as done:
        code = done.code
    else:
        code = 0
    finally:
        main.disable()
        with lock:
            merged = pstats.Stats(profiles[0])
            for profile in profiles[1:]:
                try:
                    merged.add(profile)
                except TypeError:  # a thread that never got to run: no stats
                    continue
        merged.dump_stats(out)
    sys.exit(code)


def counted(args: argparse.Namespace, source: str | None,
            features: frozenset[str] = frozenset()) -> tuple[dict[str, float], pstats.Stats]:
    """One fan-out of ``fanout.measure`` under the profiler: its sample and stats."""
    import fanout

    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp, "calls.prof"))
        sample = fanout.measure(args, source, wrap=[
            sys.executable, __file__, CHILD, out, ",".join(sorted(features))])
        if sample["exit code"] != 0:
            sys.exit(f"the fan-out exited {sample['exit code']}")
        return sample, pstats.Stats(out)


def total_calls(stats: pstats.Stats) -> int:
    """Every call the stats hold (primitive and recursive, Python and built-in)."""
    return sum(entry[1] for entry in stats.stats.values())  # type: ignore[attr-defined]


def top_functions(stats: pstats.Stats, runs: int, count: int) -> list[tuple[float, str]]:
    """mogrun's own functions (``mogrun/`` and the bundled plugins: ``plugins/`` in a
    checkout, ``mogrun_plugins/`` installed) with the most calls."""
    found = []
    for (path, line, name), entry in stats.stats.items():  # type: ignore[attr-defined]
        parts = Path(path).parts
        for root in ("mogrun", "plugins", "mogrun_plugins"):
            if root in parts:
                where = "/".join(parts[len(parts) - parts[::-1].index(root) - 1:])
                found.append((entry[1] / runs, f"{where}:{line} {name}"))
                break
    return sorted(found, reverse=True)[:count]


def variants(args: argparse.Namespace) -> dict[str, frozenset[str]]:
    """Each ``--without`` value as the features it takes away."""
    from ablate import variants as named

    return {name: features for name, features in named(args.without).items()
            if features}


def main() -> int:
    if len(sys.argv) > 3 and sys.argv[1] == CHILD:
        profiled(sys.argv[2], frozenset(filter(None, sys.argv[3].split(","))), sys.argv[4:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--events", type=int, default=6)
    parser.add_argument("--without", action="append", default=[], metavar="FEATURE[,FEATURE]",
                        help="also a variant without these (ablate.py's features); repeatable")
    parser.add_argument("--before", action="append", default=[], metavar="REV",
                        help="also measure git revision REV (repeatable)")
    parser.add_argument("--top", type=int, default=0, metavar="N",
                        help="list mogrun's N functions with the most calls per run")
    parser.set_defaults(output="json")  # fanout.measure's: the --json lines
    args = parser.parse_args()
    if args.runs < 1 or args.jobs < 1:
        parser.error("--runs and --jobs must be at least 1")
    without = variants(args)  # a bad --without refused now, not after the fan-outs
    import fanout

    rows: dict[str, tuple[dict[str, float], pstats.Stats]] = {
        "minimal urllib3": counted(args, fanout.MINIMAL)}
    with fanout.checkouts(args.before) as paths:
        for rev, path in paths.items():
            rows[f"before ({rev})"] = counted(args, path)
    rows["now"] = counted(args, None)
    for name, features in without.items():
        rows[f"now {name}"] = counted(args, None, features)
    print(f"{args.runs} runs of {args.duration:g} s and {args.events} events, -j {args.jobs}, "
          f"limits lifted, --json; every thread's calls counted by cProfile; "
          f"{os.cpu_count()} CPUs")
    floor = total_calls(rows["minimal urllib3"][1]) / args.runs
    print(f"{'':42}{'calls/run':>11}{'requests/run':>14}{'calls/request':>15}{'ratio':>8}")
    for name, (sample, stats) in rows.items():
        per_run = total_calls(stats) / args.runs
        requests = sample["requests per run"]
        print(f"{name:42}{per_run:11.0f}{requests:14.2f}{per_run / requests:15.0f}"
              f"{per_run / floor:7.2f}x")
    if args.top:
        print("\nmogrun's functions with the most calls per run (now):")
        for per_run, where in top_functions(rows["now"][1], args.runs, args.top):
            print(f"{per_run:9.1f}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
