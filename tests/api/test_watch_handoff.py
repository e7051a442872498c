"""A request's watch lets go of its connection as the connection goes back to
the pool, not after: urllib3 puts it back inside the read that ends the body,
and another thread's request may take it from there at once. A watch still
bound then (its deadline reached, or Ctrl-C's stop set, in that window) shut
the socket of a request it had nothing to do with.

The window is a few instructions wide, so this test holds it open by doing by
hand what ``Urllib3Transport.send`` does around it: a real request to the
emulator, read to its end through the transport's own pool, then the pooled
connection taken as the next request takes it, and only then the first
request's watch fired."""

from __future__ import annotations

import threading

from mogrun.api import transport as tr
from mogrun.emulator import Emulator


def test_a_watch_that_fires_after_its_connection_went_back_leaves_that_connection_alone():
    with Emulator() as emulator:
        sending = tr.Urllib3Transport()
        try:
            origin, rest = tr._split_origin(emulator.url + "/api/v1/mogplex/repos")
            pool, path = sending._pool_for(origin, rest)
            headers = {"Authorization": f"Bearer {emulator.read_token}"}
            stop = threading.Event()
            watch = tr._WATCHDOGS.watch(float("inf"), stop)
            tr._SENDING.watch = watch
            try:
                first = pool.urlopen("GET", path, headers=headers, preload_content=False,
                                     retries=False, redirect=False)
                body = first.read()  # its end: urllib3 gives the connection back here
            finally:
                tr._SENDING.watch = None
            taken = pool._get_conn()  # the next request's, on another thread
            assert taken.sock is not None  # the same connection, still connected
            stop.set()
            watch.fire(stopped=True)  # the first request's Ctrl-C, before its own cancel
            watch.cancel()
            taken.request("GET", path, headers=headers)
            answer = taken.getresponse()
            assert (answer.status, answer.data) == (first.status, body)
        finally:
            sending.close()
