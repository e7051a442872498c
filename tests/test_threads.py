"""Every helper thread mogrun starts leaves SIGINT and SIGTERM to the main thread."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from mogrun.api.transport import Urllib3Transport
from mogrun.emulator import Emulator
from mogrun.threads import start_without_signals

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/<pid>/task")


def blocked_in(thread: threading.Thread) -> set[int]:
    """The signals ``thread`` blocks, as the kernel reports them."""
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    mask = int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("SigBlk:")), 16)
    return {number for number in range(1, 65) if mask & (1 << (number - 1))}


def test_a_started_thread_blocks_both_and_the_caller_keeps_its_mask() -> None:
    release = threading.Event()
    thread = start_without_signals(release.wait, "probe")
    try:
        assert {signal.SIGINT, signal.SIGTERM} <= blocked_in(thread)
        assert thread.daemon
        assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    finally:
        release.set()


def test_the_request_watchdog_takes_no_signals() -> None:
    transport = Urllib3Transport()
    with Emulator() as emulator:
        try:
            transport.send("GET", emulator.api_url + "/repos", headers={}, body=None,
                           timeout=5.0)
        finally:
            transport.close()
    watchdogs = [t for t in threading.enumerate() if t.name == "mogrun-watchdog"]
    assert watchdogs
    assert {signal.SIGINT, signal.SIGTERM} <= blocked_in(watchdogs[0])


def test_notify_delivers_on_threads_that_take_no_signals() -> None:
    import socket
    from types import SimpleNamespace

    from mogrun_plugins.notify import _Sending

    listener = socket.socket()  # accepts and never answers: the delivery waits
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    sending = _Sending()
    job = SimpleNamespace(name="nightly", secrets=frozenset())
    try:
        sending.send(job, "webhook", f"http://127.0.0.1:{listener.getsockname()[1]}/hook",
                     {"text": "done"})
        [thread] = [t for t in threading.enumerate() if t.name == "mogrun-notify-nightly"]
        assert {signal.SIGINT, signal.SIGTERM} <= blocked_in(thread)
    finally:
        listener.close()
        sending.finish()


def test_no_module_starts_a_thread_another_way() -> None:
    # The rule above holds only if every helper goes through mogrun.threads.
    root = Path(__file__).resolve().parent.parent
    sources = [*root.glob("mogrun/**/*.py"), *root.glob("plugins/*.py")]
    starting = sorted(str(path.relative_to(root)) for path in sources
                      if "threading.Thread(" in path.read_text(encoding="utf-8"))
    assert starting == ["mogrun/threads.py"]


def test_the_emulators_threads_take_no_signals() -> None:
    # Under --local the emulator serves inside mogrun: a Ctrl-C must not land on
    # its serving thread or on the thread answering a request.
    import json
    import urllib.request

    with Emulator() as emulator:
        [serving] = [t for t in threading.enumerate()
                     if t.name == f"mogplex-emulator:{emulator.port}"]
        assert {signal.SIGINT, signal.SIGTERM} <= blocked_in(serving)
        emulator.add_fault("repos", "delay", delay=1.0)
        answered: list[int] = []

        def ask() -> None:
            request = urllib.request.Request(emulator.api_url + "/repos", headers={
                "Authorization": f"Bearer {emulator.read_token}"})
            with urllib.request.urlopen(request, timeout=10) as answer:
                answered.append(len(json.load(answer)["data"]["repos"]))

        asking = threading.Thread(target=ask)
        asking.start()
        try:
            deadline = time.monotonic() + 5
            handlers: list[threading.Thread] = []
            while not handlers and time.monotonic() < deadline:
                handlers = [t for t in threading.enumerate()
                            if t.name.startswith("Thread-") and "process_request" in repr(t)]
                time.sleep(0.01)
            assert handlers, [t.name for t in threading.enumerate()]
            assert {signal.SIGINT, signal.SIGTERM} <= blocked_in(handlers[0])
        finally:
            asking.join(10)
        assert answered
