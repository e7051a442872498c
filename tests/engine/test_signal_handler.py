"""The signal handler itself: it runs on the main thread between two of its
bytecodes, wherever that thread is, so it must take no lock that thread may hold."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from mogrun.engine.signals import SignalWatch
from mogrun.owedsignals import taken_signals

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signals")


@pytest.fixture
def signals_unblocked():
    """SIGINT delivered to this process (a pytest-xdist worker may have it blocked)."""
    previous = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        taken_signals()  # what this test's watch took is not the embedder's


def test_a_signal_landing_while_the_main_thread_holds_a_lock_is_still_answered(
        signals_unblocked):
    held = threading.Lock()  # as the live board's, or the history's
    heard = []

    def on_first(code):  # saying the first signal's line takes that lock
        with held:
            heard.append((code, threading.current_thread() is threading.main_thread()))

    # A handler that waits for ``held`` on the main thread never gets it; a second
    # signal is the only way out (``ForcedExit``), and fails this test.
    rescue = threading.Timer(5.0, os.kill, (os.getpid(), signal.SIGINT))
    with SignalWatch(on_first=on_first) as watch:
        rescue.start()
        try:
            with held:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)  # the handler runs on this thread meanwhile
                assert watch.exit_code == 130  # noted at once, by the handler
        finally:
            rescue.cancel()
        assert watch.said.wait(5)
    assert heard == [(130, False)]
    assert watch.stop.is_set()


def test_a_second_signal_still_leaves_at_once(signals_unblocked):
    from mogrun.engine.signals import ForcedExit

    with SignalWatch() as watch:
        os.kill(os.getpid(), signal.SIGTERM)
        assert watch.said.wait(5)
        with pytest.raises(ForcedExit) as left:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert left.value.exit_code == 143  # the first signal's
