"""The floor for bench/fanout.py: a bare urllib3 client doing what a fan-out
must do, nothing else — start each run (POST /runs with an Idempotency-Key)
and poll its events every ``interval`` seconds until it is terminal, ``jobs``
at a time in threads. No budget, retries, history, output or plugins; repo
ids are given. fanout.py runs it as a subprocess beside mogrun, so both are
measured on the same machine in the same minute (a VM's speed drifts too
much between minutes for absolute milliseconds to compare).

    python bench/minimal_client.py API_URL TOKEN IDS_FILE JOBS INTERVAL DURATION [EVENTS]
"""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import urllib3

TERMINAL = {"success", "failed", "cancelled"}


def main() -> int:
    api, token, ids_file, jobs, interval, duration = sys.argv[1:7]
    events = sys.argv[7] if len(sys.argv) > 7 else "6"
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
            data = call("GET", f"{api}/runs/{run_id}/events?limit=200", headers=headers)
            if data["run"]["status"] in TERMINAL:
                return data["run"]["status"]

    with ThreadPoolExecutor(int(jobs)) as pool:
        statuses = list(pool.map(one, range(len(ids)), ids))
    print(json.dumps({"passed": statuses.count("success"), "requests": requests[0]}))
    return 0 if statuses.count("success") == len(ids) else 1


if __name__ == "__main__":
    sys.exit(main())
