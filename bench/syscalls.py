"""System calls per request of a fan-out, mogrun beside the bare urllib3 client.

The fan-out of ``fanout.py`` (runs of D s, ``-j J``, limits lifted,
``--json``), its child run under ``strace -f -c``: how many of each system
call it made, divided by the requests the emulator answered. Unlike CPU
milliseconds on a VM whose speed drifts by 2x between minutes, these counts
barely move between rounds, so a change of a few percent in the work each
request costs shows here first. ``poll``, ``sendto`` and ``recvfrom`` are the
requests' own, ``ioctl`` mostly urllib3's two ``settimeout`` calls a request
(each of these is a release and a retake of the GIL among the fan-out's
threads); ``fcntl`` and ``pwrite64`` are the run history's file locks and WAL
writes; ``futex`` counts threads waiting on each other and moves with load.
strace slows the child down: its CPU is not measured here (``fanout.py`` is
the bench for that).

    python bench/syscalls.py [--runs 200] [--jobs 50] [--duration 2] [--events 6]
                             [--repeat 1] [--before REV]...

Measured when this was written (stop 41, ``--runs 100 --before 50fb6e1``): poll()
per request 3.11 before 0d357b3 (every send and recv on a socket with a
timeout waits in poll first), 1.06 after it, 0.97 for the bare client.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import alternating, fanout_arguments, measure, median_of, print_columns

CALLS = ("poll", "sendto", "recvfrom", "ioctl", "fcntl", "futex", "write", "pwrite64")


def counted(args: argparse.Namespace, source: str | None) -> dict[str, float]:
    """One fan-out under strace: each of ``CALLS`` per request answered."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "strace.txt")
        sample = measure(args, source, wrap=["strace", "-f", "-c", "-o", str(out),
                                             "-e", "trace=" + ",".join(CALLS)])
        calls = strace_counts(out.read_text())
    requests = sample["requests per run"] * args.runs
    return {"exit code": sample["exit code"], "requests per run": sample["requests per run"],
            **{f"{call} per request": calls.get(call, 0) / requests for call in CALLS}}


def strace_counts(summary: str) -> dict[str, int]:
    """``strace -c``'s table as {syscall: calls} (its errors column may be blank)."""
    counts = {}
    for line in summary.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[-1] in CALLS and fields[3].isdigit():
            counts[fields[-1]] = int(fields[3])
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    fanout_arguments(parser, duration=2.0)
    parser.set_defaults(jobs=50, repeat=1)
    args = parser.parse_args()
    if shutil.which("strace") is None:
        print("syscalls.py needs strace (Debian: apt install strace)", file=sys.stderr)
        return 2
    samples = alternating(args.before, args.repeat, lambda source: counted(args, source))
    columns = {name: median_of(runs) for name, runs in samples.items()}
    print(f"{args.runs} runs of {args.duration:g} s and {args.events} events, -j {args.jobs}, "
          f"limits lifted, under strace -f -c; medians of {args.repeat} round(s)")
    print_columns(columns, width=22)
    floor, now = columns["minimal urllib3"], columns["now"]
    for call in CALLS:
        key = f"{call} per request"
        if floor[key] >= 0.5:  # one the bare client hardly makes (writes) has no ratio
            print(f"{key}, now / minimal urllib3 client: {now[key] / floor[key]:.2f}x")
    return max(int(c["exit code"]) for c in columns.values())


if __name__ == "__main__":
    sys.exit(main())
