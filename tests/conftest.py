"""The suite runs as on a developer's machine, wherever it runs."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from mogrun import entrypoints
from mogrun.pluginload import BUNDLED_PACKAGE, ENTRY_POINT_GROUP

# Property tests judge what the code does, never how fast: on two cores shared by six
# workers (and other load) one draw took seconds (a helper saw 8.4 s), and the per-example
# deadline and its "too slow" health check failed tests that were right. Speed
# targets live in bench/. A test's own @settings still overrides the rest.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


def pytest_configure(config: pytest.Config) -> None:
    """``CI`` (which a CI runner sets, ``.ci/run``'s among them) turns mogrun's live
    view off on a terminal; the pty tests are of that view, and their mogrun
    inherits this process's environment. A test of ``CI`` sets it itself."""
    os.environ.pop("CI", None)
    _signals_as_from_a_terminal()
    config.addinivalue_line(
        "markers", "machine_plugins: the test sees the plugins installed on this machine "
        "(entry points of the environment's distributions), which every other test's "
        "mogrun never sees")


# The signals the suite was started with ignored (``nohup``; a script's ``pytest ... &``,
# which a non-interactive shell starts with Ctrl-C ignored), for its xdist workers.
IGNORED_AT_START = "TESTS_IGNORED_SIGNALS"


def _signals_as_from_a_terminal() -> None:
    """Signals the suite was started with ignored stay ignored by it, through a handler
    that does nothing: a process a test starts then gets them at their default (an exec
    resets a handled signal, never an ignored one), as from a terminal. Inherited
    ignored, every mogrun the tests started left them alone, as it must (nohup), and
    each test that sends one failed: exit 0 where 130 was due, or a wait never left."""
    import signal

    names = {name for name in os.environ.get(IGNORED_AT_START, "").split(",") if name}
    names |= {name for name in ("SIGINT", "SIGHUP")
              if signal.getsignal(getattr(signal, name)) is signal.SIG_IGN}
    for name in names:
        signal.signal(getattr(signal, name), _still_ignored)
    if names:
        os.environ[IGNORED_AT_START] = ",".join(sorted(names))


def _still_ignored(signum: int, frame: object) -> None:
    """A signal the suite was started with ignored: still ignored here."""


def _machine_plugins() -> dict[str, list[str]]:
    """The distributions on ``sys.path`` as the session starts that offer a plugin in
    mogrun's entry-point group other than the bundled ones: their metadata folder
    (resolved) and plugin names. ``pip install -e examples/edit-gate`` (as its README
    says) is one: a plugin of this machine, not of any test."""
    found: dict[str, list[str]] = {}
    for folder in sys.path:
        for meta in entrypoints._metadata_dirs(folder or "."):
            names = [ep.name for ep in
                     entrypoints._read(os.path.join(meta, "entry_points.txt"), ENTRY_POINT_GROUP)
                     if not ep.value.strip().startswith(BUNDLED_PACKAGE + ".")]
            if names:
                found.setdefault(os.path.realpath(meta), names)
    return found


MACHINE_PLUGINS = _machine_plugins()


@pytest.fixture(autouse=True)
def _only_the_tests_own_plugins(request: pytest.FixtureRequest,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """mogrun (run in-process: ``mogrun_cli``, ``run_mogrun``, ``run_cli``,
    ``PluginHost.load``) finds no distribution of ``MACHINE_PLUGINS``: only the
    bundled plugins and those the test installs itself (``installed``, a dist-info
    on ``sys.path``), as on a machine with mogrun alone. Every entry point is found
    through ``mogrun.entrypoints``' one scan of the metadata folders, so hiding them
    there hides them from every command. ``@pytest.mark.machine_plugins``: a test of
    that scan itself, which sees the machine as it is."""
    if not MACHINE_PLUGINS or request.node.get_closest_marker("machine_plugins"):
        return
    scan = entrypoints._metadata_dirs

    def the_tests_own(folder: str) -> list[str]:
        return [meta for meta in scan(folder) if os.path.realpath(meta) not in MACHINE_PLUGINS]

    monkeypatch.setattr(entrypoints, "_metadata_dirs", the_tests_own)


@pytest.fixture
def machine_plugins_off() -> dict[str, str]:
    """The environment that keeps ``MACHINE_PLUGINS`` out of a fresh interpreter's
    mogrun (a subprocess is out of the fixture's reach), named as a user would:
    ``MOGRUN_DISABLE_PLUGINS`` (leaves each out before it is imported)."""
    names = dict.fromkeys(name for found in MACHINE_PLUGINS.values() for name in found)
    return {"MOGRUN_DISABLE_PLUGINS": ",".join(names)} if names else {}


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled retry policy's jitter at the bottom of its range (``RNG``, its
    knob for tests): every retry still happens, and is said, at once instead of
    after up to 0.5+1+2+4+8 s of real sleep (tests/plugins/test_bundled_retry_gates.py
    proves the backoff's own delays)."""
    from mogrun_plugins import retry

    monkeypatch.setattr(retry, "RNG", type("Bottom", (), {"uniform": staticmethod(lambda a, b: a)}))


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``install(dist, entry_points, modules={})``: a distribution ``dist`` installed
    as pip leaves one (a dist-info with its ``[mogrun]`` entry points, each
    ``name = module``) in a site folder on ``sys.path``, with ``modules`` (name:
    source) beside it; what ``PluginHost.load(use_entry_points=True)`` and ``list``
    read. Returns the site folder. The modules are forgotten after the test, passed
    or failed (another test's module of that name would be this one)."""
    site = tmp_path / "site"
    written: list[str] = []

    def install(dist: str, entry_points: dict[str, str],
                modules: dict[str, str] | None = None) -> Path:
        meta = site / f"{dist.replace('-', '_')}-1.0.dist-info"
        meta.mkdir(parents=True)
        (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (meta / "entry_points.txt").write_text(
            "[mogrun]\n" + "".join(f"{name} = {module}\n" for name, module in entry_points.items()))
        for name, source in (modules or {}).items():
            (site / f"{name}.py").write_text(textwrap.dedent(source))
            written.append(name)
        monkeypatch.syspath_prepend(str(site))
        return site

    yield install
    for name in written:
        sys.modules.pop(name, None)
