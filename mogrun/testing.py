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
  runs ``mogrun`` in-process; when the test also uses ``mogrun_emulator``,
  ``MOGPLEX_URL`` and ``MOGPLEX_API_KEY`` point at it.
"""

from __future__ import annotations

import io
import os
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mogrun.emulator import Emulator

__all__ = ["Emulator", "MogrunResult", "run_mogrun", "write_taskfile"]

# Variables from the machine that would make a test depend on where it runs.
ISOLATED_ENV = ("MOGPLEX_URL", "MOGPLEX_API_KEY", "MOGRUN_FILE", "MOGRUN_DISABLE_PLUGINS",
                "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT")
FIXTURE_DURATION = 0.5


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

    def __repr__(self) -> str:
        def block(name: str, text: str) -> str:
            body = textwrap.indent(text.rstrip("\n"), "  ") if text else "  (empty)"
            return f"{name}:\n{body}"

        return (f"<MogrunResult exit_code={self.exit_code}\n"
                f"{block('stdout', self.stdout)}\n{block('stderr', self.stderr)}\n>")


def write_taskfile(tmp_path: Path, text: str, name: str = "mogplex.toml") -> Path:
    """Write ``text`` (dedented) as ``tmp_path/name`` and return its path."""
    path = Path(tmp_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


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
    this process's environment with ``env`` applied (None unsets a variable),
    ``cwd`` (default: the current directory). Process globals are left alone."""
    from mogrun.cli.app import MogrunApp

    environment = {**os.environ}
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = str(value)
    out, err, stdin = _stream(), _stream(), _stream(input or "")
    app = MogrunApp(cwd=Path(os.getcwd() if cwd is None else cwd), env=environment,
                    stdout=out, stderr=err, stdin=stdin)
    code = app([str(arg) for arg in args])
    return MogrunResult(code, _read(out), _read(err))


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


@pytest.fixture
def mogrun_cli(request: pytest.FixtureRequest) -> Callable[..., MogrunResult]:
    """``run(*args, cwd=None, env=None, input=None) -> MogrunResult``, in-process.

    Machine variables (MOGPLEX_URL, MOGPLEX_API_KEY, MOGRUN_FILE, GITHUB_ACTIONS,
    ...) are unset (pass them in ``env`` to test them); with ``mogrun_emulator``
    (or ``mogrun_emulator_session``) in the test, URL and write token point at it.
    """
    base: dict[str, str | None] = dict.fromkeys(ISOLATED_ENV)
    for name in ("mogrun_emulator", "mogrun_emulator_session"):
        if name in request.fixturenames:
            emulator = request.getfixturevalue(name)
            base.update(MOGPLEX_URL=emulator.url, MOGPLEX_API_KEY=emulator.write_token)
            break

    def run(*args: str, cwd: str | os.PathLike[str] | None = None,
            env: Mapping[str, str | None] | None = None,
            input: str | None = None) -> MogrunResult:
        return run_mogrun(*args, cwd=cwd, env={**base, **(env or {})}, input=input)

    return run


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "mogrun_emulator(**kwargs): arguments for the mogrun_emulator fixture's "
        "Emulator (limits=, repos=, default_duration=, default_events=)")
