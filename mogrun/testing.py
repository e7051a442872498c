"""pytest fixtures for mogrun plugin authors and mogrun's own tests.

Registered as the pytest plugin ``mogrun`` (entry point ``pytest11``), so it is
imported by every pytest session on a machine where mogrun is installed: it
imports nothing heavy at module level (the emulator loads on first use).

Fixtures:

- ``mogrun_emulator``: a started ``Emulator`` (limits lifted, runs that finish
  in 0.5 s unless scripted), stopped after the test. Mark a test with
  ``@pytest.mark.mogrun_emulator(limits=Limits(5, 1.0), repos=[...])`` to pass
  other arguments to ``Emulator``.
- ``mogrun_emulator_session``: one such emulator for the whole session.
- ``mogrun_cli``: ``run(*args, cwd=None, env=None, input=None) -> MogrunResult``
  runs ``mogrun`` in-process, the machine's variables unset (``ISOLATED_ENV``);
  when the test also uses ``mogrun_emulator``, ``MOGPLEX_URL`` and
  ``MOGPLEX_API_KEY`` point at it. ``run_mogrun`` is the same without a fixture.
- ``mogrun_project``: a ``MogrunProject`` in ``tmp_path``: ``write()`` a task
  file (or any file), ``run()`` mogrun inside it (wired like ``mogrun_cli``).

Builders: ``job(name, **keys)`` and ``task_file(*tables, **top)`` write TOML
as people do, so a test states only the keys it is about. ``loopback_api(answer)``
serves answers the emulator never gives (odd field types, hostile ids).

Markers: ``e2e`` is added to every test that uses an emulator fixture (select
with ``-m e2e`` / ``-m "not e2e"``).
"""

from __future__ import annotations

import io
import os
import signal
import textwrap
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mogrun.emulator import Emulator

__all__ = ["Emulator", "MogrunProject", "MogrunResult", "job", "loopback_api", "run_mogrun",
           "task_file", "write_taskfile"]

# Variables from the machine that would make a test depend on where it runs (a
# developer's real token and URL above all), unset unless a test gives them.
ISOLATED_ENV = ("MOGPLEX_URL", "MOGPLEX_API_KEY", "MOGRUN_FILE", "MOGRUN_DISABLE_PLUGINS",
                "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "MOGRUN_SANDBOXES",
                "MOGRUN_POLL_INTERVAL", "MOGRUN_LIMIT_WINDOW_SCALE")
FIXTURE_DURATION = 0.5
EMULATOR_FIXTURES = ("mogrun_emulator", "mogrun_emulator_session")


def __getattr__(name: str) -> Any:
    if name == "Emulator":
        from mogrun.emulator import Emulator

        return Emulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class MogrunResult:
    """What one ``mogrun`` invocation did: its exit code and captured output."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout then stderr, for assertions that do not care which stream."""
        return self.stdout + self.stderr

    @property
    def errors(self) -> list[str]:
        """The ``Error:`` lines on stderr, without their context lines."""
        return [line for line in self.stderr.splitlines() if line.startswith("Error:")]

    # Short names some suites use (kept so their tests read as before).
    code = property(lambda self: self.exit_code)
    out = property(lambda self: self.stdout)
    err = property(lambda self: self.stderr)

    def __repr__(self) -> str:
        def block(name: str, text: str) -> str:
            body = textwrap.indent(text.rstrip("\n"), "  ") if text else "  (empty)"
            return f"{name}:\n{body}"

        return (f"<MogrunResult exit_code={self.exit_code}\n"
                f"{block('stdout', self.stdout)}\n{block('stderr', self.stderr)}\n>")


@contextmanager
def loopback_api(answer: Callable[[str, str], tuple[int, Any]]) -> Iterator[str]:
    """A loopback Mogplex API for answers the emulator never gives (odd field types,
    hostile ids): ``answer(method, path) -> (status, data)``, sent in the envelope;
    ``/sandboxes`` answers an idle account. Yields the ``MOGPLEX_URL`` to use."""
    import functools
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from mogrun.threads import start_without_signals

    class Handler(BaseHTTPRequestHandler):
        def _send(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            data: Any
            if self.path.startswith("/api/v1/mogplex/sandboxes"):
                status, data = 200, {"sandboxes": []}
            else:
                status, data = answer(self.command, self.path)
            body = json.dumps({"ok": True, "data": data}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _send

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    start_without_signals(functools.partial(server.serve_forever, poll_interval=0.05),
                          "mogrun-testing-server")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_taskfile(tmp_path: Path, text: str, name: str = "mogplex.toml") -> Path:
    """Write ``text`` (dedented) as ``tmp_path/name`` and return its path."""
    path = Path(tmp_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def toml_value(value: Any) -> str:
    """``value`` as a TOML literal (strings, numbers, booleans, lists, inline tables)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return "[" + ", ".join(toml_value(item) for item in value) + "]"


def table(header: str, keys: Mapping[str, Any]) -> str:
    """``[header]`` and its keys, one per line."""
    lines = [f"[{header}]", *(f"{key} = {toml_value(value)}" for key, value in keys.items())]
    return "\n".join(lines) + "\n"


def job(name: str, *, repo: Any = "acme/api", prompt: str = "@emulator duration=0.2s",
        **keys: Any) -> str:
    """A ``[jobs.NAME]`` table: a repo and a short emulated prompt unless given."""
    return table(f"jobs.{name}", {"repo": repo, "prompt": prompt, **keys})


def task_file(*jobs: str, mogplex: Mapping[str, Any] | None = None,
              defaults: Mapping[str, Any] | None = None,
              vars: Mapping[str, Any] | None = None) -> str:
    """A whole task file: the optional top tables, then the job tables."""
    parts = [table(name, keys) for name, keys in
             (("mogplex", mogplex), ("defaults", defaults), ("vars", vars)) if keys]
    return "\n".join([*parts, *jobs])


class MogrunProject:
    """A folder with a task file, and mogrun run inside it (in-process)."""

    def __init__(self, root: Path, env: Mapping[str, str | None] | None = None,
                 args: tuple[str, ...] = ()) -> None:
        self.root = Path(root)
        self.env: dict[str, str | None] = dict(env or {})
        self.args = args  # put before every command line (e.g. "--no-plugins")

    @property
    def path(self) -> Path:
        return self.root / "mogplex.toml"

    def write(self, text: str, name: str = "mogplex.toml") -> Path:
        """Write ``text`` (dedented) as ``name`` in the project; returns its path."""
        return write_taskfile(self.root, text, name)

    def run(self, *args: str, env: Mapping[str, str | None] | None = None,
            input: str | None = None, cwd: str | os.PathLike[str] | None = None) -> MogrunResult:
        """``mogrun ARGS`` in the project folder (or ``cwd``)."""
        return run_mogrun(*self.args, *args, cwd=self.root if cwd is None else cwd,
                          env={**self.env, **(env or {})}, input=input)

    __call__ = run

    def __repr__(self) -> str:
        return f"<MogrunProject {self.root}>"


def _stream(data: str = "") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data.encode("utf-8")), encoding="utf-8",
                            newline=None, write_through=True)


def _read(stream: io.TextIOWrapper) -> str:
    stream.flush()
    return stream.buffer.getvalue().decode("utf-8", "replace")  # type: ignore[attr-defined]


def run_mogrun(*args: str, cwd: str | os.PathLike[str] | None = None,
               env: Mapping[str, str | None] | None = None,
               input: str | None = None) -> MogrunResult:
    """Run ``mogrun ARGS`` in-process through ``MogrunApp``: its own streams,
    ``cwd`` (default: the current directory), and this process's environment
    with the machine's variables unset (``ISOLATED_ENV``: a developer's real
    token must not reach a test) and ``env`` applied (None unsets a variable).
    ``os.environ`` is that environment for the call, as a mogrun process's is (a
    plugin reads it there), and is given back after it."""
    from mogrun.cli.app import MogrunApp

    environment = {**os.environ}
    for name, value in {**dict.fromkeys(ISOLATED_ENV), **(env or {})}.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = str(value)
    out, err, stdin = _stream(), _stream(), _stream(input or "")
    app = MogrunApp(cwd=Path(os.getcwd() if cwd is None else cwd), env=environment,
                    stdout=out, stderr=err, stdin=stdin)
    _signals_taken()  # none owed from an earlier call
    with _environ(environment):
        code = app([str(arg) for arg in args])
    for signum in _signals_taken():  # mogrun is done: the test run is owed the signal
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        os.kill(os.getpid(), signum)  # to pytest's handler (or the default), restored
    return MogrunResult(code, _read(out), _read(err))


def _signals_taken() -> tuple[int, ...]:
    """The signals mogrun took during a call (a Ctrl-C, a CI cancel's SIGTERM): it
    cancels its runs and returns 130/143, but the test run must stop too."""
    import sys

    owed = sys.modules.get("mogrun.owedsignals")  # never loaded: none taken
    return () if owed is None else owed.taken_signals()


@contextmanager
def _environ(environment: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` as ``environment`` inside, as it was after."""
    before = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(before)


def _emulator_for(request: pytest.FixtureRequest) -> Emulator:
    from mogrun.emulator import Emulator

    options: dict[str, Any] = {"default_duration": FIXTURE_DURATION}
    marker = request.node.get_closest_marker("mogrun_emulator")
    if marker is not None:
        options.update(marker.kwargs)
    return Emulator(**options)


@pytest.fixture
def mogrun_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A started emulator for one test (limits lifted unless the marker sets them)."""
    emulator = _emulator_for(request).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def mogrun_emulator_session() -> Iterator[Emulator]:
    """One emulator shared by the session: cheaper, but state carries over."""
    from mogrun.emulator import Emulator

    emulator = Emulator(default_duration=FIXTURE_DURATION).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def _test_env(request: pytest.FixtureRequest) -> dict[str, str | None]:
    """Machine variables unset; the test's emulator (if any) as URL and token."""
    base: dict[str, str | None] = dict.fromkeys(ISOLATED_ENV)
    for name in EMULATOR_FIXTURES:
        if name in request.fixturenames:
            emulator = request.getfixturevalue(name)
            base.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token)
            if emulator.limits is None or emulator.limits.sandboxes <= 0:
                base["MOGRUN_SANDBOXES"] = "10000"  # an uncapped account, as the emulator is
            break
    return base


@pytest.fixture
def mogrun_project(request: pytest.FixtureRequest, tmp_path: Path) -> MogrunProject:
    """A ``MogrunProject`` in ``tmp_path``, wired like ``mogrun_cli``."""
    return MogrunProject(tmp_path, env=_test_env(request))


@pytest.fixture
def mogrun_cli(request: pytest.FixtureRequest) -> Callable[..., MogrunResult]:
    """``run(*args, cwd=None, env=None, input=None) -> MogrunResult``, in-process.

    Machine variables (MOGPLEX_URL, MOGPLEX_API_KEY, MOGRUN_FILE, GITHUB_ACTIONS,
    ...) are unset (pass them in ``env`` to test them); with ``mogrun_emulator``
    (or ``mogrun_emulator_session``) in the test, URL and write token point at it.
    """
    base = _test_env(request)

    def run(*args: str, cwd: str | os.PathLike[str] | None = None,
            env: Mapping[str, str | None] | None = None,
            input: str | None = None) -> MogrunResult:
        return run_mogrun(*args, cwd=cwd, env={**base, **(env or {})}, input=input)

    return run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that talks to an emulator ``e2e``."""
    for item in items:
        if set(EMULATOR_FIXTURES) & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: runs mogrun against an emulator over loopback (added by mogrun.testing "
        "to every test using an emulator fixture)")
    config.addinivalue_line(
        "markers", "mogrun_emulator(**kwargs): arguments for the mogrun_emulator fixture's "
        "Emulator (limits=, repos=, default_duration=, default_events=)")
