"""Reading a year of run history: ``status``, ``logs``, ``rerun -n`` and friends at N rows.

Builds a history of ``--rows`` rows the way a busy project makes one (a daily
300-repo fan-out, a few single-run jobs, a second task file and a second API
URL, every run ended), then times each command below on a copy of it, warm and,
with ``--cold`` (root: it drops the page cache, as a CI runner that restored
``.mogrun`` starts), cold, with each command's peak RSS (``history -n`` of every
row as a table is the one that grows). With ``--before REV`` the mogrun of git
revision REV reads its own copy of the same file in the same rounds: a newer mogrun adds an
index to a file at its first open, which an older one would then use too. The
first open's cost (the index built) is its own row.

    python bench/history.py [--rows 1000000] [--repeat 3] [--cold] [--before REV]

Every run in the file has ended, so no command makes a request: the API URL is a
closed loopback port, and a request would fail the command (its exit code shows).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import checkout, child_env, run_child

from mogrun.engine.history import History

# The indexes added after 58ea817: dropped from the file built, which is then as an
# older mogrun left it (each mogrun measured opens its own copy).
NEWER_INDEXES = ("runs_by_invocation", "runs_by_recency")
URL = "http://127.0.0.1:9"  # nothing listens: a request would fail the command
REPOS = [f"acme/r{i:03d}" for i in range(300)]
TASK_FILE = """\
[jobs.hello]
repo = "acme/api"
prompt = "hi"

[jobs.fan]
repo = [{repos}]
prompt = "review {{{{ repo }}}}"

[jobs.lint]
repo = "acme/web"
prompt = "lint"
"""
COMMANDS = (  # (what the row says, mogrun's arguments; exit code expected)
    ("status", ("status",), 0),
    ("status fan", ("status", "fan"), 0),
    ("status ID (a --local run's)", ("status", "00000000-0000-4000-8000-000000000007"), 1),
    ("status fanuot (a typo)", ("status", "fanuot"), 2),
    ("--json history --job fan -n 300", ("--json", "history", "-n", "300", "--job", "fan"), 0),
    ("rerun -n", ("rerun", "-n"), 0),
    ("history -n 20", ("history", "-n", "20"), 0),
    ("history -n 10000000 (every row, a table)", ("history", "-n", "10000000"), 0),
)


def build(path: Path, rows: int) -> None:
    """``rows`` ended runs: each day a fan-out of 300 and three single runs, of
    this task file and URL, plus a tenth as many of another file and URL."""
    History(path, URL, "mogplex.toml").close()  # the schema, as mogrun writes it
    db = sqlite3.connect(path)
    batch: list[tuple[object, ...]] = []
    made = day = 0
    while made < rows:
        day += 1
        stamp = f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T03:00:00Z"
        for job, repos, url, file in (("nightly", REPOS[:30], "local", "nightly.toml"),
                                      ("fan", REPOS, URL, "mogplex.toml"),
                                      ("hello", ["acme/api"], URL, "mogplex.toml"),
                                      ("lint", ["acme/web"], URL, "mogplex.toml")):
            invocation = f"d{day:05d}-{job}"
            for repo in repos:
                made += 1
                batch.append((invocation, url, job, repo, f"00000000-0000-4000-8000-{made:012d}",
                              f"key-{made}",
                              "success", "success", stamp, stamp, 0, file))
        if len(batch) >= 50_000 or made >= rows:
            db.executemany(
                "INSERT INTO runs (invocation, base_url, job, repo, run_id, idempotency_key,"
                " status, outcome, started_at, finished_at, exit_code, task_file)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
            db.commit()
            batch.clear()
    for index in NEWER_INDEXES:
        db.execute(f"DROP INDEX IF EXISTS {index}")
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def run(source: str | None, project: Path, args: tuple[str, ...], cold: bool
        ) -> tuple[int, float, float]:
    """Exit code, wall seconds and peak RSS (MiB) of ``mogrun ARGS`` in ``project``."""
    env = child_env()
    env.update(MOGPLEX_URL=URL, MOGPLEX_API_KEY="mog_bench", NO_COLOR="1")
    if source is not None:
        env["PYTHONPATH"] = source
    if cold:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    began = time.monotonic()
    proc, _usage, peak = run_child([sys.executable, "-m", "mogrun", *args], cwd=project,
                                   env=env)
    return proc.returncode, time.monotonic() - began, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="drop the page cache first (root)")
    parser.add_argument("--before", action="append", default=[], metavar="REV")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        pristine = Path(tmp, "pristine.db")
        began = time.monotonic()
        build(pristine, opts.rows)
        print(f"built {opts.rows:,} rows ({pristine.stat().st_size / 2**20:.0f} MiB) in "
              f"{time.monotonic() - began:.0f} s")
        sources: dict[str, str | None] = {"now": None}
        for rev in opts.before:
            sources[rev] = stack.enter_context(checkout(rev))
        projects = {}
        for name, source in sources.items():
            project = Path(tmp, f"project-{len(projects)}")
            (project / ".mogrun").mkdir(parents=True)
            (project / "mogplex.toml").write_text(
                TASK_FILE.format(repos=", ".join(f'"{r}"' for r in REPOS)))
            shutil.copy(pristine, project / ".mogrun" / "history.db")
            code, first, _ = run(source, project, ("status", "hello"), opts.cold)
            projects[name] = project
            print(f"{name}: first open of the older file (status hello) {first:.2f} s, "
                  f"exit {code}")
        modes = ("cold", "warm") if opts.cold else ("warm",)
        times: dict[tuple[str, str, str], list[float]] = {}
        peaks: dict[tuple[str, str], list[float]] = {}
        codes: dict[tuple[str, str], set[int]] = {}
        for _ in range(opts.repeat):
            for label, args, _expected in COMMANDS:
                for mode in modes:
                    for name, source in sources.items():
                        code, seconds, peak = run(source, projects[name], args, mode == "cold")
                        times.setdefault((label, mode, name), []).append(seconds)
                        peaks.setdefault((label, name), []).append(peak)
                        codes.setdefault((label, name), set()).add(code)
        names = list(sources)
        print(f"\n{opts.rows:,} rows; median seconds of {opts.repeat} alternating rounds; "
              f"{os.cpu_count()} CPUs; python -m mogrun of each source")
        print(f"{'command':42}{'mode':>6}" + "".join(f"{n:>12}" for n in names)
              + ("" if len(names) == 1 else f"{'last/now':>10}"))
        for label, _args, expected in COMMANDS:
            for mode in modes:
                cells = [statistics.median(times[label, mode, n]) for n in names]
                ratio = "" if len(names) == 1 else f"{cells[-1] / cells[0]:>9.1f}x"
                print(f"{label:42}{mode:>6}" + "".join(f"{c:>12.2f}" for c in cells) + ratio)
            for name in names:
                if expected is not None and codes[label, name] != {expected}:
                    print(f"  ! {name}: exit {sorted(codes[label, name])}, not {expected}")
        print("\npeak RSS MiB (median of every run of the command)")
        print(f"{'command':42}" + "".join(f"{n:>12}" for n in names))
        for label, _args, _expected in COMMANDS:
            cells = [statistics.median(peaks[label, n]) for n in names]
            print(f"{label:42}" + "".join(f"{c:>12.0f}" for c in cells))


if __name__ == "__main__":
    main()
