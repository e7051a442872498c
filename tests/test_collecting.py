"""The collector's settings while a session runs (``mogrun.collecting``), and
that the test process gets its own back."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mogrun import collecting
from mogrun.collecting import YOUNG_THRESHOLD, collecting_less
from mogrun.emulator import Emulator


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


@pytest.fixture
def collector_on():
    """The collector on, and this process's state put back whatever a test did."""
    was = gc.isenabled()
    gc.enable()
    yield
    collecting._held = False
    (gc.enable if was else gc.disable)()


def test_start_up_holds_the_collector_until_a_command_runs(collector_on) -> None:
    collecting.hold_for_start_up()
    assert not gc.isenabled()
    collecting.start_up_over()
    assert gc.isenabled()


def test_a_collector_the_process_turned_off_itself_stays_off(collector_on) -> None:
    gc.disable()  # an embedder's own choice: neither hold nor its end touches it
    collecting.hold_for_start_up()
    collecting.start_up_over()
    assert not gc.isenabled()


# A plugin as people write one (a comment, tabs, blank lines at the end): it notes
# whether the collector was on when mogrun configured it, and for which command;
# and at exit (atexit runs before the interpreter's last collection) whether what
# start-up made was frozen out of that collection.
NOTING = """\
# where is the collector?
import atexit
import gc
from mogrun.plugin import hookimpl


def note(line):
\twith open("collector", "a") as seen:
\t\tseen.write(line + "\\n")


@hookimpl
def mogrun_configure(config):
\tnote(f"{config.command} {gc.isenabled()}")
\tatexit.register(lambda: note(f"{config.command} exit frozen={gc.get_freeze_count() > 0}"))


"""


def _mogrun(tmp_path: Path, emulator: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    env.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token, NO_COLOR="1",
               MOGRUN_POLL_INTERVAL="0.1")
    return subprocess.run([sys.executable, "-m", "mogrun", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_console_collects_nothing_while_it_starts_but_a_run_collects(tmp_path) -> None:
    """``check`` is start-up through and through: the collector stays off, and what
    start-up made is frozen as it leaves (the interpreter's last collection would
    walk it all to free nothing). ``run`` goes on for minutes: its session has the
    collector on (and collecting less), and leaves it as Python has it."""
    (tmp_path / "noting.py").write_text(NOTING)
    (tmp_path / "mogplex.toml").write_text(
        '[mogplex]\r\nplugins = ["noting.py"]  # ours\r\n\r\n[jobs.hello]\r\n'
        'repo = "acme/api"\r\n'
        'prompt = "hi @emulator duration=0.1s"\r\n\r\n')
    with Emulator() as emulator:
        checked = _mogrun(tmp_path, emulator, "check")
        assert checked.returncode == 0, checked.stderr
        ran = _mogrun(tmp_path, emulator, "run", "hello")
        assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "collector").read_text().splitlines() == [
        "check False", "check exit frozen=True", "run True", "run exit frozen=False"]


def test_an_embedder_keeps_its_collector_through_a_quick_command(
        mogrun_cli, tmp_path, collector_on) -> None:
    from mogrun.testing import write_taskfile

    write_taskfile(tmp_path, """
        [jobs.hello]
        repo = "acme/api"
        prompt = "hi"
    """)
    assert mogrun_cli("check", cwd=tmp_path).exit_code == 0
    assert gc.isenabled()
