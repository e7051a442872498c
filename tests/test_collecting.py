"""The collector's settings while a session runs (``mogrun.collecting``), and
that the test process gets its own back."""

from __future__ import annotations

import gc

import pytest

from mogrun.collecting import YOUNG_THRESHOLD, collecting_less


@pytest.fixture
def own_collector():
    """The collector as this process had it, put back whatever a test did."""
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    yield threshold
    gc.set_threshold(*threshold)
    if not frozen:
        gc.unfreeze()


def test_a_session_collects_less_and_gives_the_collector_back(own_collector) -> None:
    assert gc.get_freeze_count() == 0
    with collecting_less():
        assert gc.get_threshold() == (max(own_collector[0], YOUNG_THRESHOLD),
                                      *own_collector[1:])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == own_collector
    assert gc.get_freeze_count() == 0


def test_the_collector_comes_back_after_an_error_too(own_collector) -> None:
    with pytest.raises(RuntimeError), collecting_less():
        raise RuntimeError("a session that failed")
    assert gc.get_threshold() == own_collector
    assert gc.get_freeze_count() == 0


def test_objects_frozen_by_the_process_itself_stay_frozen(own_collector) -> None:
    gc.freeze()
    with collecting_less():
        pass
    # Not unfrozen by mogrun (that leaves none frozen); the count itself moves as
    # frozen objects are freed by their last reference, other threads' too.
    assert gc.get_freeze_count() > 0


def test_a_run_invocation_collects_less_while_its_session_goes(
        mogrun_cli, mogrun_emulator, tmp_path, monkeypatch) -> None:
    """``mogrun run`` wraps its session: the hook of a job's run sees the settings."""
    seen: list[tuple[tuple[int, int, int], int]] = []
    from mogrun.engine import session

    real = session.run_session

    def watched(*args, **kwargs):
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return real(*args, **kwargs)

    monkeypatch.setattr(session, "run_session", watched)
    from mogrun.testing import write_taskfile

    write_taskfile(tmp_path, """
        [jobs.hello]
        repo = "acme/api"
        prompt = "hi\\n@emulator duration=0.1s"
    """)
    before = gc.get_threshold()
    result = mogrun_cli("run", "hello", cwd=tmp_path, env={"MOGRUN_POLL_INTERVAL": "0.1"})
    assert result.exit_code == 0, result.output
    assert seen and seen[0][0][0] >= YOUNG_THRESHOLD and seen[0][1] > 0
    assert gc.get_threshold() == before
