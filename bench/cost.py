"""Where a fan-out's client CPU goes, part by part, beside the minimal client.

One fan-out of ``fanout.py`` (N runs of D s, ``-j J``, limits lifted, ``--json``)
with each part of mogrun's work timed on its own thread's CPU clock, exclusive
of the parts it calls (a poll's time leaves out its request, the request's
leaves out HTTP), so the rows add up to the process's CPU. Beside it, the
minimal urllib3 client of ``minimal_client.py`` with its requests timed the
same way. ``fanout.py`` gives the ratio issue 13 sets a target for; this says
which microseconds make it, so work on it starts where they are.

    python bench/cost.py [--runs 1000] [--jobs 200] [--duration 2] [--events 6]
                         [--part module:Class.method]...

The timers cost a little themselves (two clock reads per call): compare rows of
one run with each other, not with ``fanout.py``'s totals. Run it on a regular
install (``pip install .``), as ``fanout.py`` is.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import json
import os
import resource
import runpy
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# (what the row says, module, class, method): mogrun's parts, innermost first.
PARTS = (
    ("HTTP: urllib3 and the socket", "mogrun.api.transport", "Urllib3Transport", "send"),
    ("request: budget, envelope, retries", "mogrun.api.client", "MogplexClient", "_call"),
    ("poll: events, order, status", "mogrun.engine.follower", "Follower", "poll_once"),
    ("pause between polls", "mogrun.engine.follower", "Follower", "_pause"),
    ("history writes", "mogrun.engine.history", "History", "_committed"),
    ("--json lines", "mogrun.output.ndjson", "NdjsonReporter", "_emit"),
    ("plugin hooks", "pluggy._hooks", "HookCaller", "__call__"),
    ("sandbox slots", "mogrun.engine.capacity", "SandboxSlots", "acquire"),
    ("the rest of each run", "mogrun.engine.runner", "RunExecutor", "execute"),
    ("scheduler (main thread)", "mogrun.engine.scheduler", "Scheduler", "run"),
)
MINIMAL_PARTS = (("HTTP: urllib3 and the socket", "urllib3", "PoolManager", "request"),)
OUTSIDE = "outside these: start-up, other threads, exit"
EXTRA = "MOGRUN_BENCH_COST_PARTS"  # --part, handed to the child


def extra_parts(spec: str) -> tuple[tuple[str, str, str, str], ...]:
    """``module:Class.method`` entries (space-separated) as parts named after them."""
    found = []
    for entry in spec.split():
        module, _, qualified = entry.partition(":")
        cls, _, method = qualified.partition(".")
        found.append((qualified, module, cls, method))
    return tuple(found)


class ExclusiveTimers:
    """Per-thread CPU time of each part, minus the parts it calls: a thread's
    stack of open parts; entering one stops its caller's clock."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._threads: list[tuple[defaultdict[str, float], Counter[str]]] = []
        self._lock = threading.Lock()

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            state = self._state()
            stack, spent, calls = state.stack, state.spent, state.calls
            now = time.thread_time()
            if stack:
                spent[stack[-1]] += now - state.since
            stack.append(name)
            calls[name] += 1
            state.since = now
            try:
                return fn(*args, **kwargs)
            finally:
                now = time.thread_time()
                spent[stack.pop()] += now - state.since
                state.since = now

        return timed

    def _state(self) -> Any:
        state = self._local
        if not hasattr(state, "stack"):
            state.stack, state.since = [], 0.0
            state.spent, state.calls = defaultdict(float), Counter()
            with self._lock:
                self._threads.append((state.spent, state.calls))
        return state

    def totals(self) -> dict[str, tuple[float, int]]:
        spent: defaultdict[str, float] = defaultdict(float)
        calls: Counter[str] = Counter()
        with self._lock:
            for thread_spent, thread_calls in self._threads:
                for name, seconds in list(thread_spent.items()):
                    spent[name] += seconds
                calls.update(thread_calls)
        return {name: (spent[name], calls[name]) for name in spent}


def child(out: str, parts: tuple[tuple[str, str, str, str], ...], run: Callable[[], Any]) -> None:
    """Time ``parts`` while ``run`` runs; write the totals and the process's CPU to ``out``."""
    timers = ExclusiveTimers()
    for name, module, cls, method in parts:
        owner = getattr(importlib.import_module(module), cls)
        setattr(owner, method, timers.wrap(name, getattr(owner, method)))

    def dump() -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        Path(out).write_text(json.dumps({"process": usage.ru_utime + usage.ru_stime,
                                         "parts": timers.totals()}))

    atexit.register(dump)
    run()


def run_mogrun() -> None:
    from mogrun.cli.app import main

    sys.argv[0] = "mogrun"
    main()


def run_minimal() -> None:
    runpy.run_path(sys.argv[0], run_name="__main__")


def measure(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    sys.path.insert(0, str(HERE))
    from fanout import task_file

    from mogrun.api.budget import MAX_POLLS_PER_SECOND
    from mogrun.emulator import Emulator

    repos = [f"bench/repo{i:03d}" for i in range(args.runs)]
    found = {}
    with Emulator(repos=repos, limits=None) as emulator, tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "mogplex.toml").write_text(task_file(repos, args.duration, args.runs,
                                                       args.events))
        Path(tmp, "ids.json").write_text(json.dumps([emulator.repo_id(r) for r in repos]))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token)
        env[EXTRA] = " ".join(args.part)
        commands = {
            "mogrun": ["mogrun", "--json", "run", "-j", str(args.jobs), "fan"],
            "minimal": [str(HERE / "minimal_client.py"), emulator.api_url, emulator.write_token,
                        str(Path(tmp, "ids.json")), str(args.jobs),
                        str(args.jobs / MAX_POLLS_PER_SECOND), f"{args.duration:g}",
                        str(args.events)],
        }
        for name, command in commands.items():
            out = Path(tmp, f"{name}.json")
            done = subprocess.run(
                [sys.executable, __file__, f"--{name}-child", str(out), *command], cwd=tmp,
                env=env, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{name} exited {done.returncode}: {done.stderr[-2000:]}")
            found[name] = json.loads(out.read_text())
    return found


def table(name: str, found: dict[str, Any], runs: int) -> None:
    process, parts = found["process"], found["parts"]
    rows = [(part, seconds, calls) for part, (seconds, calls) in parts.items()]
    rows.append((OUTSIDE, process - sum(seconds for _, seconds, _ in rows), 0))
    print(f"\n{name}: {process * 1000 / runs:.2f} ms of CPU per run")
    print(f"  {'part':44}{'us/run':>9}{'share':>8}{'calls/run':>11}{'us/call':>9}")
    for part, seconds, calls in sorted(rows, key=lambda row: -row[1]):
        per_call = f"{seconds * 1e6 / calls:9.0f}" if calls else f"{'':9}"
        print(f"  {part:44}{seconds * 1e6 / runs:9.0f}{seconds / process:8.0%}"
              f"{calls / runs:11.2f}{per_call}")


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] in ("--mogrun-child", "--minimal-child"):
        flag, out, sys.argv = sys.argv[1], sys.argv[2], sys.argv[3:]
        if flag == "--mogrun-child":
            child(out, PARTS + extra_parts(os.environ.get(EXTRA, "")), run_mogrun)
        else:
            child(out, MINIMAL_PARTS, run_minimal)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--events", type=int, default=6)
    parser.add_argument("--part", action="append", default=[], metavar="module:Class.method",
                        help="also time this method as a part of its own (repeatable)")
    args = parser.parse_args()
    for part in args.part:  # the child would fail on it after a whole fan-out's wait
        module, _, qualified = part.partition(":")
        if not module or "." not in qualified:
            parser.error(f"--part {part}: expected module:Class.method (a module's own "
                         "function cannot be timed: its callers hold it by name)")
        cls, _, method = qualified.partition(".")
        try:
            getattr(getattr(importlib.import_module(module), cls), method)
        except (ImportError, AttributeError) as exc:
            parser.error(f"--part {part}: {exc}")
    found = measure(args)
    import mogrun

    print(f"{args.runs} runs of {args.duration:g} s and {args.events} events, -j {args.jobs}, "
          f"limits lifted, --json; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
          f"mogrun from {'a regular' if 'site-packages' in mogrun.__file__ else 'an editable'}"
          " install; exclusive thread CPU per part")
    for name, label in (("minimal", "minimal urllib3 client"), ("mogrun", "mogrun")):
        table(label, found[name], args.runs)
    floor = found["minimal"]["process"]
    print(f"\nmogrun / minimal client, process CPU: {found['mogrun']['process'] / floor:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
