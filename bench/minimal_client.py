"""The floor for bench/fanout.py: a bare urllib3 client doing what a fan-out
must do, nothing else — start each run (POST /runs with an Idempotency-Key)
and poll its events every ``interval`` seconds until it is terminal, ``jobs``
at a time in threads. No budget, retries, history, output or plugins; repo
ids are given. fanout.py runs it as a subprocess beside mogrun, so both are
measured on the same machine in the same minute (a VM's speed drifts too
much between minutes for absolute milliseconds to compare).

With POLLERS > 0 the same requests are made by that many threads sharing one
queue of due polls and starts (``pooled``), not by a thread per run: the
design of an engine with one poller, measured where it costs nothing to try
(``fanout.py --pollers``).

    python bench/minimal_client.py API_URL TOKEN IDS_FILE JOBS INTERVAL DURATION [EVENTS]
                                   [POLLERS]
"""

from __future__ import annotations

import heapq
import json
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import urllib3

TERMINAL = {"success", "failed", "cancelled"}


def main() -> int:
    api, token, ids_file, jobs, interval, duration = sys.argv[1:7]
    events = sys.argv[7] if len(sys.argv) > 7 else "6"
    pollers = int(sys.argv[8]) if len(sys.argv) > 8 else 0
    with open(ids_file, encoding="utf-8") as handle:
        ids = json.load(handle)
    # The emulator's server may reset a connection under 200 at once: retried, as
    # mogrun retries (a start under its Idempotency-Key is replayed, never doubled).
    retry = urllib3.Retry(total=5, allowed_methods=None, backoff_factor=0.05)
    http = urllib3.PoolManager(maxsize=int(jobs), block=False, retries=retry)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    prompt = f"@emulator duration={duration}s events={events}"
    requests = [0]
    lock = threading.Lock()

    def call(method: str, url: str, **kwargs: object) -> dict:
        with lock:
            requests[0] += 1
        return json.loads(http.request(method, url, **kwargs).data)["data"]

    def one(index: int, repo_id: str) -> str:
        run = call("POST", f"{api}/runs", headers={**headers, "Idempotency-Key": f"min-{index}"},
                   body=json.dumps({"repoId": repo_id, "prompt": prompt}))
        run_id = run["runId"]
        while True:
            time.sleep(float(interval))
            status = poll(run_id)
            if status in TERMINAL:
                return status

    def poll(run_id: str) -> str:
        return call("GET", f"{api}/runs/{run_id}/events?limit=200",
                    headers=headers)["run"]["status"]

    if pollers:
        def start(index: int) -> str:
            return call("POST", f"{api}/runs",
                        headers={**headers, "Idempotency-Key": f"min-{index}"},
                        body=json.dumps({"repoId": ids[index], "prompt": prompt}))["runId"]

        statuses = pooled(len(ids), int(jobs), pollers, float(interval), start, poll)
    else:
        with ThreadPoolExecutor(int(jobs)) as pool:
            statuses = list(pool.map(one, range(len(ids)), ids))
    print(json.dumps({"passed": statuses.count("success"), "requests": requests[0]}))
    return 0 if statuses.count("success") == len(ids) else 1


def pooled(runs: int, jobs: int, pollers: int, interval: float,
           start: Callable[[int], str], poll: Callable[[str], str]) -> list[str]:
    """``runs`` runs, ``jobs`` at a time, started and polled by ``pollers`` threads
    taking the next due work from one heap: a start while a slot is free, else
    the poll due first (each run's polls ``interval`` apart)."""
    due: list[tuple[float, str]] = []
    cond = threading.Condition()
    counts = {"next": 0, "running": 0}
    statuses: list[str] = []

    def take() -> tuple[str, int | str] | None:
        with cond:
            while len(statuses) < runs:
                if counts["next"] < runs and counts["running"] < jobs:
                    counts["next"] += 1
                    counts["running"] += 1
                    return "start", counts["next"] - 1
                if due and due[0][0] <= time.monotonic():
                    return "poll", heapq.heappop(due)[1]
                cond.wait(due[0][0] - time.monotonic() if due else None)
            cond.notify_all()
            return None

    def work() -> None:
        while (item := take()) is not None:
            what, arg = item
            run_id = start(int(arg)) if what == "start" else str(arg)
            status = "" if what == "start" else poll(run_id)
            with cond:
                if status in TERMINAL:
                    statuses.append(status)
                    counts["running"] -= 1
                    cond.notify_all()
                else:
                    heapq.heappush(due, (time.monotonic() + interval, run_id))
                    cond.notify()

    threads = [threading.Thread(target=work) for _ in range(pollers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


if __name__ == "__main__":
    sys.exit(main())
