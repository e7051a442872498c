"""Fan-out throughput: N emulated runs of D s each, limits lifted, ``-j J``.

Runs ``python -m mogrun`` as a subprocess (real defaults: no test poll
interval) against an in-process emulator (every limit lifted, the sandbox cap
too, and raised to N in the task file), and prints wall time as a ratio to
the ideal (N x D s / J slots), client CPU ms and context switches per run,
requests per run, repo look-ups and the peak RSS of the mogrun process.
Beside it, in alternating rounds, the same fan-out by
``bench/minimal_client.py`` (bare urllib3: starts and polls at mogrun's
interval, nothing else), so CPU is also shown as a ratio to that floor: this
VM's speed drifts by 2x between minutes, so only numbers measured in the same
rounds compare. With ``--before REV`` (repeatable) the
mogrun of git revision REV (a temporary worktree) runs in the same rounds too.
``--output plain`` measures mogrun's default (human) output instead of ``--json``.

Where the wall time goes is read from the emulator's own records: the time
from launch to the first start, the mean notice lag (a run's end to the poll
that saw it: half a poll interval on average) and the mean hand-over (a slot's
run seen ended to the next start in it), so that
wall ~ first start + waves x (duration + notice lag + hand-over) + exit.

    python bench/fanout.py [--runs 1000] [--jobs 200] [--duration 2] [--events 6]
                           [--repeat 3] [--before REV]... [--output json|plain]
                           [--pollers W]

``--pollers W`` adds a column: the minimal client with W threads sharing every
run's starts and polls from one queue, the design of an engine with one poller
in place of a thread per run, to see whether that design alone lowers the CPU.

Targets (issue 13): <= 3 ms of client CPU per run (where the minimal client
takes 2.0-2.4 ms) and <= 1.3x the ideal wall time for 1,000 runs of 2 s with
-j 200; repos resolved in <= 1 + ceil(N/200) look-ups (this bench's names
need one per prefix group: 9 for 1,000; see mogrun.api.repos).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import mogrun
from mogrun.api.budget import MAX_POLLS_PER_SECOND
from mogrun.durations import parse_moment
from mogrun.emulator import Emulator
from mogrun.emulator.state import RequestRecord

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = "minimal"  # measure bench/minimal_client.py instead of a mogrun
POOLED = "pooled"  # ... in its pooled mode: ``--pollers`` threads share every run's polls


def task_file(repos: list[str], duration: float, runs: int, events: int = 6) -> str:
    listed = ", ".join(f'"{r}"' for r in repos)
    return (
        "[mogplex]\n"
        f"requests_per_minute = {100 * runs}\n"
        f"starts_per_minute = {10 * runs}\nstarts_per_hour = {10 * runs}\n"
        f"starts_per_day = {10 * runs}\n"
        f"sandboxes = {runs}\n\n"  # the emulator's cap is lifted too: one sandbox per repo
        "[jobs.fan]\n"
        f"repo = [{listed}]\n"
        f'prompt = "{{{{ repo }}}}\\n@emulator duration={duration}s events={events}"\n'
    )


@contextlib.contextmanager
def checkouts(revs: list[str]) -> Iterator[dict[str, str]]:
    """Temporary worktrees of ``revs``: each one's PYTHONPATH by revision."""
    with contextlib.ExitStack() as stack:
        yield {rev: stack.enter_context(checkout(rev)) for rev in revs}


@contextlib.contextmanager
def checkout(rev: str) -> Iterator[str]:
    """A temporary worktree of ``rev``; yields the PYTHONPATH that imports its
    ``mogrun`` and its bundled plugins (``mogrun_plugins``) before this checkout's."""
    path = tempfile.mkdtemp(prefix="mogrun-before-")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", path, rev],
                   check=True)
    shim = Path(path, ".bench-path")
    shim.mkdir()
    (shim / "mogrun_plugins").symlink_to(Path(path, "plugins"))
    try:
        yield f"{path}{os.pathsep}{shim}"
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", path],
                       check=False)


def child_env(*dropped: str) -> dict[str, str]:
    """This environment for a measured mogrun: no ``MOGRUN_``/``GITHUB_`` settings (nor
    ``dropped`` prefixes), and bytecode cached, as an install has it: with this
    machine's PYTHONDONTWRITEBYTECODE a ``--before`` worktree, which has none, compiled
    every module in every run (status 1.7x "slower" at b58c816 in history.py)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MOGRUN_", "GITHUB_", *dropped))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def measure(args: argparse.Namespace, source: str | None,
            wrap: Sequence[str] = ()) -> dict[str, float]:
    """One fan-out by the mogrun at ``source`` (None: this checkout), or by the
    minimal urllib3 client (``source == MINIMAL``); ``wrap``: a command the child
    runs under (``syscalls.py``'s strace, ``ablate.py``'s features taken away)."""
    repos = [f"bench/repo{i:03d}" for i in range(args.runs)]
    with Emulator(repos=repos, limits=None) as emulator, tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "mogplex.toml").write_text(
            task_file(repos, args.duration, args.runs, args.events))
        env = child_env()
        env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token)
        if source in (MINIMAL, POOLED):
            Path(tmp, "ids.json").write_text(json.dumps([emulator.repo_id(r) for r in repos]))
            command = [sys.executable, str(ROOT / "bench" / "minimal_client.py"),
                       emulator.api_url, emulator.write_token, str(Path(tmp, "ids.json")),
                       str(args.jobs), str(args.jobs / MAX_POLLS_PER_SECOND), f"{args.duration:g}",
                       str(args.events), str(getattr(args, "pollers", 0) if source == POOLED
                                             else 0)]
        else:
            if source is not None:
                env["PYTHONPATH"] = source
            output = ["--json"] if args.output == "json" else []
            command = [sys.executable, "-m", "mogrun", *output, "run", "-j", str(args.jobs),
                       "fan"]
        launched = time.time()
        began = time.monotonic()
        proc, usage, peak_mib = run_child([*wrap, *command], cwd=tmp, env=env)
        wall = time.monotonic() - began
        requests = emulator.requests
        runs = [emulator.run_detail(run_id) for run_id in emulator.runs]
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-2000:])
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "exit code": proc.returncode,
        "runs passed": sum(1 for run in runs if run["status"] == "success"),
        "wall / ideal": wall / (args.runs * args.duration / args.jobs),
        "wall time s": wall,
        **timeline(runs, requests, launched, args.jobs),
        "CPU ms per run": cpu * 1000 / args.runs,
        # Each a thread put to sleep (a lock, the GIL, I/O) or pre-empted: more than
        # the minimal client's is CPU spent on threads contending, not on work.
        "context switches per run": (usage.ru_nvcsw + usage.ru_nivcsw) / args.runs,
        "requests per run": len(requests) / args.runs,
        "repo look-ups": sum(1 for r in requests if r.path.endswith("/repos")),
        "peak RSS MiB": peak_mib,
    }


def timeline(runs: list[dict[str, object]], requests: list[RequestRecord], launched: float,
             jobs: int) -> dict[str, float]:
    """Where the wall time went, from the emulator's records (its clock is the
    wall clock, as ``launched`` is): launch to the first start, and the means of
    the notice lag and of the hand-over (see the module's docstring)."""
    seen: dict[str, float] = {}  # run id -> when its last poll came
    for request in requests:
        parts = request.path.split("/")
        if request.method == "GET" and parts[-1] == "events":
            seen[parts[-2]] = request.time
    created = sorted(_moment(run["createdAt"]) for run in runs)
    lags = [seen[str(run["runId"])] - _moment(run["updatedAt"]) for run in runs
            if run["runId"] in seen]
    noticed = sorted(seen.values())
    hand_overs = [created[jobs + k] - noticed[k] for k in range(len(created) - jobs)]
    return {
        "first start s": created[0] - launched if created else math.nan,
        "notice lag s": statistics.fmean(lags) if lags else math.nan,
        "hand-over s": statistics.fmean(hand_overs) if hand_overs else math.nan,
    }


def _moment(stamp: object) -> float:
    moment = parse_moment(stamp)  # the emulator writes every one: never None here
    return math.nan if moment is None else moment


def run_child(command: list[str], **kwargs: object) -> tuple[subprocess.CompletedProcess[str],
                                                           resource.struct_rusage, float]:
    """Run ``command`` to its end; its own CPU (``wait4``: the bench's RUSAGE_CHILDREN
    would mix every child so far) and its peak RSS in MiB."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True, **kwargs)
        peak = PeakRss(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(command, proc.returncode, out.read(), err.read())
    return done, usage, peak.mib(usage)


class PeakRss:
    """The child's VmHWM, read every 50 ms while it lives. Not ``ru_maxrss``: a
    child forked from this bench (which holds the emulator and every round's
    requests) starts with the bench's peak as its own, so that figure shows the
    bench, not mogrun."""

    def __init__(self, pid: int) -> None:
        self._path = Path(f"/proc/{pid}/status")
        self._kib = 0
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while True:
            try:
                text = self._path.read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    self._kib = max(self._kib, int(line.split()[1]))
            time.sleep(0.05)

    def mib(self, usage: resource.struct_rusage) -> float:
        """The peak seen (``ru_maxrss`` where /proc cannot be read)."""
        return (self._kib or usage.ru_maxrss) / 1024


def median_of(samples: list[dict[str, float]]) -> dict[str, float]:
    worst = {"exit code": max, "runs passed": min}  # counts: the worst round's
    return {key: worst[key](s[key] for s in samples) if key in worst
            else statistics.median(s[key] for s in samples) for key in samples[0]}


def print_columns(columns: dict[str, dict[str, float]], width: int = 20) -> None:
    """A column per client (or revision), a row per figure."""
    print(f"{'':{width}}" + "".join(f"{name:>22}" for name in columns))
    for key in next(iter(columns.values())):
        print(f"{key:{width}}" + "".join(f"{c[key]:>22.2f}" if isinstance(c[key], float)
                                         else f"{c[key]:>22}" for c in columns.values()))


def alternating(before: list[str], repeat: int,
                measure_one: Callable[[str | None], dict[str, float]], *, pollers: int = 0
                ) -> dict[str, list[dict[str, float]]]:
    """``measure_one(source)`` for the minimal client (and its pooled mode with
    ``pollers``), each ``before`` revision and this checkout, ``repeat`` rounds each,
    by column name: alternating, so the machine's drift hits every column, and
    rotating, so no column always runs first or last."""
    samples: dict[str, list[dict[str, float]]] = {}
    with checkouts(before) as paths:
        sources = {"minimal urllib3": MINIMAL,
                   **({f"pooled ({pollers} pollers)": POOLED} if pollers else {}),
                   **{f"before ({rev})": path for rev, path in paths.items()}, "now": None}
        order = list(sources.items())
        for _ in range(repeat):
            for name, source in order:
                samples.setdefault(name, []).append(measure_one(source))
            order = order[1:] + order[:1]
    return samples


def fanout_arguments(parser: argparse.ArgumentParser, *, duration: float) -> None:
    """The options ``measure`` and ``alternating`` read (all but ``--runs``), for
    every bench that runs this fan-out."""
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--duration", type=float, default=duration)
    parser.add_argument("--events", type=int, default=6,
                        help="events of each run (each poll reads all of them so far)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds, medians shown")
    parser.add_argument("--before", metavar="REV", action="append", default=[],
                        help="also measure git revision REV (repeatable)")
    parser.add_argument("--output", choices=("json", "plain"), default="json",
                        help="mogrun's output: --json (default) or the human lines (CI's)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--pollers", type=int, default=0, metavar="W",
                        help="also measure the minimal client with W threads sharing every "
                             "run's polls (one poller's design), not a thread per run")
    fanout_arguments(parser, duration=2.0)
    args = parser.parse_args()
    samples = alternating(args.before, args.repeat, lambda source: measure(args, source),
                          pollers=args.pollers)
    columns = {name: median_of(runs) for name, runs in samples.items()}
    print(f"{args.runs} runs of {args.duration:g} s and {args.events} events, -j {args.jobs}, "
          "limits lifted; "
          f"ideal wall time {args.runs * args.duration / args.jobs:.1f} s; medians of "
          f"{args.repeat} alternating rounds; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; python -m mogrun from "
          f"{'an editable' if 'site-packages' not in mogrun.__file__ else 'a regular'} install, "
          f"{'--json' if args.output == 'json' else 'plain'} output")
    print_columns(columns)
    floors = [sample["CPU ms per run"] for sample in samples["minimal urllib3"]]
    for name, runs in samples.items():
        if name != "minimal urllib3":  # each round's own ratio: the drift between rounds cancels
            ratios = sorted(r["CPU ms per run"] / f for r, f in zip(runs, floors, strict=True))
            print(f"CPU per run, {name} / minimal urllib3 client: "
                  f"{statistics.median(ratios):.2f}x (rounds {ratios[0]:.2f}-{ratios[-1]:.2f})")
    return max(int(c["exit code"]) for c in columns.values())


if __name__ == "__main__":
    sys.exit(main())
