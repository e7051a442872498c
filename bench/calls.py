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

The fan-out is ``fanout.py``'s, with its options, smaller by default (the
profiler slows every call): the bare client (``minimal_client.py``), this
checkout's mogrun, each ``--without`` variant and each ``--before`` revision,
in alternating rounds (one by default: the counts barely move). A column each:
calls per run, requests per run and calls per request; then each one's calls
as a ratio to the bare client's. ``--top N`` lists the N functions of mogrun
(this checkout) with the most calls per run, as ``module:line function``.

    python bench/calls.py [--runs 400] [--jobs 100] [--without FEATURE[,FEATURE]]...
                          [--before REV]... [--repeat 1] [--output json|plain] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
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
            features: frozenset[str] = frozenset(),
            keep: list[pstats.Stats] | None = None) -> dict[str, float]:
    """One fan-out of ``fanout.measure`` under the profiler: its exit code, requests
    per run and calls per run and per request; its stats appended to ``keep``."""
    from fanout import measure

    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp, "calls.prof"))
        sample = measure(args, source, wrap=[
            sys.executable, __file__, CHILD, out, ",".join(sorted(features))])
        if sample["exit code"] != 0:
            sys.exit(f"the fan-out exited {sample['exit code']}")
        stats = pstats.Stats(out)
    if keep is not None:
        keep.append(stats)
    calls, requests = total_calls(stats) / args.runs, sample["requests per run"]
    return {"exit code": sample["exit code"], "requests per run": requests,
            "calls per run": calls, "calls per request": calls / requests}


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
    from fanout import alternating, fanout_arguments, median_of, print_columns

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    fanout_arguments(parser, duration=2.0)
    parser.set_defaults(jobs=100, repeat=1)  # counts barely move: one round is enough
    parser.add_argument("--without", action="append", default=[], metavar="FEATURE[,FEATURE]",
                        help="also a variant without these (ablate.py's features); repeatable")
    parser.add_argument("--top", type=int, default=0, metavar="N",
                        help="list mogrun's N functions with the most calls per run")
    args = parser.parse_args()
    if args.runs < 1 or args.jobs < 1 or args.repeat < 1:
        parser.error("--runs, --jobs and --repeat must be at least 1")
    without = variants(args)  # a bad --without refused now, not after the fan-outs
    kept: list[pstats.Stats] = []  # this checkout's, for --top
    samples = alternating(args.before, args.repeat, lambda source: counted(
        args, source, keep=kept if source is None else None))
    for name, features in without.items():
        samples[f"now {name}"] = [counted(args, None, features) for _ in range(args.repeat)]
    columns = {name: median_of(runs) for name, runs in samples.items()}
    print(f"{args.runs} runs of {args.duration:g} s and {args.events} events, -j {args.jobs}, "
          f"limits lifted, {'--json' if args.output == 'json' else 'plain'} output; every "
          f"thread's calls counted by cProfile; medians of {args.repeat} round(s)")
    print_columns(columns, width=20)
    floor = columns["minimal urllib3"]["calls per run"]
    for name, column in columns.items():
        if name != "minimal urllib3":
            print(f"calls per run, {name} / minimal urllib3 client: "
                  f"{column['calls per run'] / floor:.2f}x")
    if args.top:
        print("\nmogrun's functions with the most calls per run (now, its last round):")
        for per_run, where in top_functions(kept[-1], args.runs, args.top):
            print(f"{per_run:9.1f}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
