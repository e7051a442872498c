"""What the plugin host costs: loading it, and calling hooks per event.

    python bench/plugins.py [--calls 50000] [--runs 15]

- load: `PluginHost.load()` (bundled + entry points) in a fresh interpreter,
  minus `python -c pass` measured alternately in the same loop (median, ms);
- dispatch: microseconds per `host.event(...)` with the bundled plugins and
  three observers, next to `pm.hook.mogrun_event(...)` on the same manager
  (the host is one pluggy call plus the job's secrets set for messages; each
  implementation is wrapped by pluginguard in both);
- gates: microseconds per `host.gates(...)` with the bundled gates plugin
  judging status, max_duration and two event patterns over 200 events.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from mogrun.plugin import hookimpl

LOAD = "from mogrun.pluginhost import PluginHost; PluginHost.load(project_dir=None)"


def load_ms(runs: int) -> float:
    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - start

    base, load = [], []
    for _ in range(runs):
        base.append(once("pass"))
        load.append(once(LOAD))
    return (statistics.median(load) - statistics.median(base)) * 1000


class Observer:
    """A plugin that only counts events."""

    def __init__(self) -> None:
        self.seen = 0

    @hookimpl
    def mogrun_event(self, event) -> None:
        self.seen += 1


def dispatch_us(calls: int) -> tuple[float, float]:
    from mogrun.models import ResolvedJob, RunPlan, StartRequest
    from mogrun.pluginhost import PluginHost
    from mogrun.runs import Event

    host = PluginHost.from_plugins(*((f"obs{i}", Observer()) for i in range(3)))
    plan = RunPlan("job", "acme/api", StartRequest("acme/api", "p", "k"))
    job = ResolvedJob("job", "", (), (plan,), 60.0)
    event = Event("e1", "log", "2026-01-01T00:00:00Z")
    start = time.perf_counter()
    for _ in range(calls):
        host.event(job=job, run=plan, event=event)
    ours = (time.perf_counter() - start) / calls * 1e6
    start = time.perf_counter()
    for _ in range(calls):
        host.pm.hook.mogrun_event(job=job, run=plan, event=event)
    theirs = (time.perf_counter() - start) / calls * 1e6
    return ours, theirs


def gates_us(calls: int) -> float:
    from mogrun_plugins import gates

    from mogrun.models import ResolvedJob, RunPlan, StartRequest
    from mogrun.pluginhost import PluginHost
    from mogrun.runs import Event, RunResult, RunState

    host = PluginHost.bundled_only()
    plan = RunPlan("job", "acme/api", StartRequest("acme/api", "p", "k"))
    options = {"gates": gates.validate({"max_duration": "20m", "require_events":
                                        ["tool_finished:edit_file"], "forbid_events": ["x"]})}
    job = ResolvedJob("job", "", (), (plan,), 60.0, options=options)
    state = RunState("r", "success", "2026-01-01T00:00:00Z", "2026-01-01T00:10:00Z")
    events = tuple(Event(str(i), "tool_finished", "t", tool_name="read_file")
                   for i in range(200))
    result = RunResult("job", "acme/api", "success", status="success")
    start = time.perf_counter()
    for _ in range(calls):
        host.gates(job=job, run=plan, result=result, state=state, events=events)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(f"load     {load_ms(args.runs):7.1f} ms  (fresh interpreter, minus python -c pass)")
    ours, theirs = dispatch_us(args.calls)
    print(f"dispatch {ours:7.2f} us per event (pluggy direct: {theirs:.2f} us), 7 plugins")
    print(f"gates    {gates_us(max(1, args.calls // 50)):7.1f} us per run (200 events)")


if __name__ == "__main__":
    main()
