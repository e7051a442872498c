"""One poll's client CPU: mogrun's client beside a bare urllib3 GET + json.loads.

A run of ``--events`` events is started on an in-process emulator and left to
finish; then each reader polls its ``GET /runs/{id}/events`` ``--polls`` times
in a row on one thread, in alternating rounds, and the thread's CPU per poll
is printed with its ratio to the bare read. Three readers: the bare read
(the wire's cost: one request, one decode), ``MogplexClient.get_events`` as
a first poll reads (every event new), and as a follower's later polls read it
(every event already seen: ``known=``). No threads contend here: this is the
cost of one request, which bench/fanout.py multiplies by a fan-out's.

    python bench/poll.py [--events 150] [--polls 500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

import urllib3

from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.transport import Urllib3Transport
from mogrun.emulator import Emulator


def readers(emulator: Emulator, events: int) -> dict[str, Callable[[], object]]:
    """The three ways to poll one finished run of ``events`` events."""
    http = urllib3.PoolManager(maxsize=4)
    headers = {"Authorization": f"Bearer {emulator.write_token}",
               "Content-Type": "application/json"}
    started = json.loads(http.request(
        "POST", f"{emulator.api_url}/runs", headers={**headers, "Idempotency-Key": "poll"},
        body=json.dumps({"repoId": emulator.repo_id("bench/poll"),
                         "prompt": f"@emulator duration=0.5s events={events}"})).data)
    run_id = started["data"]["runId"]
    time.sleep(0.8)  # finished: every poll answers the same events
    url = f"{emulator.api_url}/runs/{run_id}/events?limit=200"
    client = MogplexClient(emulator.api_url, emulator.write_token,
                           transport=Urllib3Transport(maxsize=4),
                           budget=RequestBudget.from_settings({"requests_per_minute": 10**7}))
    known = {event.id for event in client.get_events(run_id)[1]}
    return {
        "bare urllib3 + json.loads": lambda: json.loads(
            http.request("GET", url, headers=headers).data)["data"],
        "mogrun, all events new": lambda: client.get_events(run_id),
        "mogrun, all events seen": lambda: client.get_events(run_id, known=known),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=150)
    parser.add_argument("--polls", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5, help="rounds, medians shown")
    args = parser.parse_args()
    samples: dict[str, list[float]] = {}
    with Emulator(repos=["bench/poll"], limits=None) as emulator:
        ways = readers(emulator, args.events)
        for poll in ways.values():
            poll()  # warm: connections open, caches filled
        for _ in range(args.repeat):
            for name, poll in ways.items():
                began = time.thread_time()
                for _ in range(args.polls):
                    poll()
                samples.setdefault(name, []).append(
                    (time.thread_time() - began) / args.polls * 1e6)
    floor = statistics.median(samples["bare urllib3 + json.loads"])
    print(f"one poll of a run of {args.events} events, {args.polls} polls x {args.repeat} "
          f"alternating rounds, thread CPU; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:28} {median:8.1f} us per poll  {median / floor:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
