"""What each feature of a fan-out costs: the same fan-out with it taken away.

``cost.py`` times each part on its thread's clock, which leaves out what a part
costs the others: the context switches its locks and its GIL hand-overs cause,
the caches it evicts. Here the fan-out of ``fanout.py`` (N runs of D s, ``-j J``,
limits lifted, ``--json``) runs with whole features replaced by no-ops in the
child, and its process CPU and context switches are set beside the run with
nothing taken away, in alternating rounds (each ratio is to that round's own
full run: the machine's drift is larger than most of these differences).

    python bench/ablate.py [--without history --without json-lines ...]
                           [--patch FILE]... [--runs 1000] [--repeat 4] [--bare]

``--bare`` adds the bare urllib3 client (``minimal_client.py``, as ``fanout.py``
runs it) to the same rounds, and a column of each variant's CPU as a ratio to
it: how much of ``fanout.py``'s ratio is the engine's core (every feature
taken away) and how much the features add.

Features (``--without`` takes a comma list for one variant, and repeats):

- ``history``: no run's rows are written (``HistoryObserver``'s run methods);
- ``history-updates``: each start's row is written (its key, before the start
  is sent: ``run_pending``), not the writes that follow it (the run's id, its
  statuses, its result, its other rows' end): what the start rows cost apart
  from the rest of the history;
- ``json-lines``: no ``--json`` line of a run or event is made (``_emit``);
- ``plugins``: no plugin hook is asked for a run (start request, watch,
  gates, observers); the bundled plugins are always loaded, so
  ``MOGRUN_DISABLE_PLUGINS`` takes none of them away.

``--patch FILE`` (repeatable) adds a variant that runs FILE's Python code in
the child before mogrun starts: a design tried without a commit (the file
replaces the methods it changes, as ``take_away`` does), measured in the same
rounds as the rest (the designs stop 56 tried this way, and what they
measured, are in ``bench/README.md``).

A variant's results are not a mogrun anyone would run; they say how much of
``fanout.py``'s ratio a feature makes, not how fast mogrun could be without it.
"""

from __future__ import annotations

import argparse
import os
import runpy
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PATCH = "patch="  # how a child's feature list names a --patch file: patch=PATH
FEATURES = ("history", "history-updates", "json-lines", "plugins")
DEFAULT = ("history", "json-lines", "plugins")  # the variants with no --without: each alone
CHILD = "--ablated-child"


def _nothing(*_args: Any, **_kwargs: Any) -> None:
    return None


def take_away(features: frozenset[str]) -> None:
    """Replace ``features`` with no-ops in this process (the child, before mogrun runs)."""
    if "history" in features:
        from mogrun.engine.recorder import HistoryObserver

        for method in ("session_started", "run_pending", "run_started", "status",
                       "run_finished"):
            setattr(HistoryObserver, method, _nothing)
    if "history-updates" in features:
        from mogrun.engine.recorder import HistoryObserver

        for method in ("run_started", "status", "run_finished"):
            setattr(HistoryObserver, method, _nothing)
    if "json-lines" in features:
        from mogrun.output.ndjson import NdjsonReporter

        NdjsonReporter._emit = _nothing
    if "plugins" in features:
        from mogrun.pluginhost import PluginHost

        PluginHost.start_request = lambda self, job, run, request: request
        PluginHost.gates = lambda self, **kwargs: ()
        for method in ("watch", "run_started", "event", "status_changed"):
            setattr(PluginHost, method, _nothing)


def child() -> None:
    """``ablate.py --ablated-child FEATURES PYTHON -m mogrun ARGS...`` (the command
    ``fanout.measure`` runs, under this one): mogrun, features taken away and
    ``--patch`` files run."""
    features = frozenset(filter(None, sys.argv[2].split(",")))
    sys.argv = ["mogrun", *sys.argv[6:]]
    take_away(features)  # (a patch=PATH names no feature)
    for patch in sorted(_patches(features)):
        runpy.run_path(patch.removeprefix(PATCH))
    from mogrun.cli.app import main

    main()


def _patches(features: frozenset[str]) -> frozenset[str]:
    return frozenset(f for f in features if f.startswith(PATCH))


BARE = frozenset({"the bare client"})  # --bare's variant: not mogrun at all


def measure(args: argparse.Namespace, features: frozenset[str]) -> dict[str, float]:
    """One fan-out of ``fanout.py`` by this checkout's mogrun without ``features``
    (``BARE``: by the bare urllib3 client)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import fanout

    if features == BARE:
        return fanout.measure(args, fanout.MINIMAL)
    sample = fanout.measure(args, None, wrap=[sys.executable, __file__, CHILD,
                                               ",".join(sorted(features))])
    if sample["exit code"] != 0:
        variant = ", ".join(f.removeprefix(PATCH) for f in sorted(features)) or "nothing taken away"
        sys.exit(f"the fan-out variant ({variant}) exited {sample['exit code']}")
    return sample


def variants(without: list[str],
             patches: Sequence[str] = ()) -> dict[str, frozenset[str]]:
    """The variants by name: the full run first, then each ``--without`` value,
    then each ``--patch`` file (which must exist: a typo is no variant)."""
    found = {"nothing taken away": frozenset()}
    for value in without:
        features = frozenset(part.strip() for part in value.split(",") if part.strip())
        unknown = sorted(features - set(FEATURES))
        if unknown or not features:
            raise SystemExit(f"--without {value!r}: choose from {', '.join(FEATURES)}")
        found["without " + " + ".join(sorted(features))] = features
    for patch in patches:
        path = Path(patch).resolve()
        if not path.is_file():
            raise SystemExit(f"--patch {patch!r}: no such file")
        if "," in str(path):
            raise SystemExit(f"--patch {patch!r}: a path with a comma cannot be handed over")
        found[f"with {patch}"] = frozenset({PATCH + str(path)})
    return found


def rounds(named: dict[str, frozenset[str]], repeat: int,
           one: Callable[[frozenset[str]], dict[str, float]]) -> dict[str, list[dict[str, float]]]:
    """Every variant once a round, the order rotating: no variant always first."""
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in named}
    order = list(named.items())
    for _ in range(repeat):
        for name, features in order:
            samples[name].append(one(features))
        order = order[1:] + order[:1]
    return samples


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == CHILD:
        child()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--without", action="append", metavar="FEATURE[,FEATURE]",
                        help=f"a variant without these ({', '.join(FEATURES)}); repeatable")
    parser.add_argument("--patch", action="append", default=[], metavar="FILE",
                        help="a variant with FILE's code run in the child first; repeatable")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--events", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=4, help="rounds, medians shown")
    parser.add_argument("--bare", action="store_true",
                        help="the bare urllib3 client in the same rounds, and ratios to it")
    parser.set_defaults(output="json")  # fanout.measure's: the --json lines
    args = parser.parse_args()
    named = variants(args.without or ([] if args.patch else list(DEFAULT)), args.patch)
    if args.bare:
        named["bare urllib3 client"] = BARE
    samples = rounds(named, args.repeat, lambda features: measure(args, features))
    print(f"{args.runs} runs of {args.duration:g} s and {args.events} events, -j {args.jobs}, "
          f"limits lifted, --json; medians of {args.repeat} rotating rounds; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    bare = f"{'/ bare':>12}{'rounds':>16}" if args.bare else ""
    print(f"{'':42}{'CPU ms/run':>12}{'/ full run':>12}{'rounds':>16}{'switches/run':>14}{bare}")
    for name, runs in samples.items():
        line = (f"{name:42}{statistics.median(s['CPU ms per run'] for s in runs):12.2f}"
                f"{_ratios(runs, samples['nothing taken away'])}"
                f"{statistics.median(s['context switches per run'] for s in runs):14.1f}")
        if args.bare:
            line += _ratios(runs, samples["bare urllib3 client"])
        print(line)
    return 0


def _ratios(runs: list[dict[str, float]], to: list[dict[str, float]]) -> str:
    """The median of each round's CPU ratio of ``runs`` to ``to``, and their range."""
    ratios = [s["CPU ms per run"] / t["CPU ms per run"] for s, t in zip(runs, to, strict=True)]
    return f"{statistics.median(ratios):11.2f}x{min(ratios):8.2f}-{max(ratios):.2f}x"


if __name__ == "__main__":
    sys.exit(main())
