"""Bench: a burst of 100 requests against the emulator with the REAL limits
(60 requests per 60 s), paced by the default RequestBudget. Takes about a
minute; prints how the burst was spread and how many 429s the server sent.

    /work/venv/bin/python bench/api_burst.py [REQUESTS] [THREADS]
"""

from __future__ import annotations

import sys
import threading
import time

from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.transport import Urllib3Transport
from mogrun.emulator import Emulator, Limits


def main(total: int = 100, threads: int = 10) -> int:
    with Emulator(limits=Limits.real()) as emu:
        client = MogplexClient(emu.api_url, emu.write_token, transport=Urllib3Transport(),
                               budget=RequestBudget())
        errors: list[BaseException] = []

        def worker(count: int) -> None:
            for _ in range(count):
                try:
                    client.list_repos(limit=1)
                except Exception as exc:  # reported below
                    errors.append(exc)

        started = time.monotonic()
        pool = [threading.Thread(target=worker, args=(total // threads,)) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        elapsed = time.monotonic() - started
        times = sorted(r.time for r in emu.requests)
        busiest = max(sum(1 for t in times if s <= t < s + 60.0) for s in times)
        print(f"requests sent: {len(times)}  answered 200: {emu.count(status=200)}  "
              f"429s: {emu.count(status=429)}  client errors: {len(errors)}")
        print(f"elapsed: {elapsed:.1f} s  busiest 60 s window seen by the server: {busiest}")
        return 0 if not errors and emu.count(status=429) == 0 else 1


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:3])))
