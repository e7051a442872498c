"""Global options of one invocation, and the lazily built things commands share
(task file, API client, plugin host, local emulator).

Commands receive this as ``ctx.obj``. It is also the invocation's world: its
environment, working directory and streams come from the ``MogrunApp`` that
runs the CLI, so nothing below the app reads ``os.environ``, the process's cwd
or ``sys.stdout`` (tests run the CLI without swapping process globals).
Nothing here imports urllib3, pluggy, rich or the emulator until a command asks
for them.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from mogrun.envswitches import under_github_actions
from mogrun.errors import MogrunError, UsageError

E = TypeVar("E", bound=MogrunError)

if TYPE_CHECKING:
    from pathlib import Path


def parse_sets(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--set NAME=VALUE`` pairs as a dict; a pair without ``=``, or a name whose value
    would be ignored (a built-in, an ``env.`` name), is a usage error."""
    if not pairs:  # the usual case: ``list`` and ``--help`` never import templates
        return {}
    from mogrun.taskfile.templates import BUILTIN_NAMES

    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set expects NAME=VALUE, got {pair!r}")
        if name.strip() in BUILTIN_NAMES:  # they always win: the value would be ignored
            raise UsageError(f"--set {name.strip()}=...: {name.strip()} is a built-in template "
                             f"name ({', '.join(BUILTIN_NAMES)}); --set overrides [vars] "
                             "entries only")
        if name.strip().startswith("env."):  # read from the environment: ignored too
            raise UsageError(f"--set {name.strip()}=...: env.NAME values come from the "
                             "environment only; --set overrides [vars] entries only",
                             context=["Set it in the environment instead: export "
                                      f"{name.strip()[4:]}=..."])
        result[name.strip()] = value
    return result


class CliState:
    """The global options plus caches; one per invocation.
    (Not a dataclass: start-up, see docs/architecture.md.)"""

    def __init__(self, *, env: Mapping[str, str] | None = None, workdir: str = ".",
                 stdout: TextIO | None = None, stderr: TextIO | None = None,
                 stdin: TextIO | None = None, file: str | None = None,
                 local: bool = False) -> None:
        # The global options, as ``apply_options`` takes them from the command line.
        self.file = file
        self.url: str | None = None
        self.local = local
        self.sets: dict[str, str] = {}
        self.json_output = False
        self.quiet = False
        self.verbose = False
        self.no_color = False
        self.no_plugins = False
        # The command's stdout is data whatever the options (``schema``'s JSON Schema):
        # what plugins print goes to stderr, as under --json.
        self.stdout_is_data = False
        # Whether the task file's plugins (code from the repository) may load: not for
        # ``status`` (its retry policy and gates are mogrun's and the installed plugins').
        self.repository_code = True
        # The invocation's world: nothing below the app reads os.environ, the process's
        # cwd or sys.stdout.
        self.env: Mapping[str, str] = {} if env is None else env
        self.workdir = workdir  # the invocation's working directory (``cwd`` as a Path)
        self.stdout: TextIO = io.StringIO() if stdout is None else stdout
        self.stderr: TextIO = io.StringIO() if stderr is None else stderr
        self.stdin: TextIO = io.StringIO() if stdin is None else stdin
        # The invocation's one plugin host (a ``PluginHost``), built on first use
        # by ``cli.loading.plugin_host``.
        self.plugin_host: Any = None
        # Whether ``cli.loading.plugin_notes`` was asked already: said once per invocation.
        self.plugin_notes_said = False
        # The command being run, once the line is parsed ("run" for ``mogrun JOB``).
        self.command: str | None = None
        # "run" or "rerun" (named or implied) once parsed: under GitHub Actions its
        # failure that no session summary reported is annotated and summarised by
        # ``MogrunApp``.
        self.github_failures: str | None = None
        # The streams whose reader left (``| head``) or that failed (a full disk): what
        # is echoed to them goes nowhere.
        self.readers_left: set[str] = set()
        self._cleanups: list[Any] = []
        # Under GitHub Actions, the token of the stop a command that prints agent or
        # server text asked for (``hold_github_commands``); None: none.
        self._github_stop: str | None = None

    @property
    def cwd(self) -> Path:
        """The working directory as a ``Path``; pathlib is imported here, not with
        the CLI: ``--help`` never needs it."""
        from pathlib import Path

        return Path(self.workdir)

    def _plugins_switched_off(self) -> bool:
        """``MOGRUN_DISABLE_PLUGINS=1`` (``true``, ``all``...), taken as ``--no-plugins``
        (``pluginload.SWITCH_WORDS``); imported only when the variable is set."""
        if not self.env.get("MOGRUN_DISABLE_PLUGINS"):
            return False
        from mogrun.pluginload import disables_every_plugin

        return disables_every_plugin(self.env)

    def apply_options(self, options: Mapping[str, Any]) -> CliState:
        """Take the global options parsed from the command line."""
        self.file = options.get("file")
        self.url = options.get("url")
        self.local = bool(options.get("local"))
        self.sets = parse_sets(options.get("sets") or ())
        self.json_output = bool(options.get("json_output"))
        self.quiet = bool(options.get("quiet"))
        self.verbose = bool(options.get("verbose"))
        # NO_COLOR counts when set and not empty (no-color.org), as rich reads it.
        self.no_color = bool(options.get("no_color")) or bool(self.env.get("NO_COLOR"))
        self.no_plugins = bool(options.get("no_plugins")) or self._plugins_switched_off()
        if self.url is not None and not self.url.strip():  # a script's unset variable
            raise UsageError(f"--url needs a URL, not {'a blank' if self.url else 'an empty'} "
                             "string",
                             context=["Leave it out to use MOGPLEX_URL, the task file's url "
                                      "or https://mogplex.com."])
        if self.local and self.url:
            raise UsageError("--local and --url cannot be used together",
                             context=["--local always talks to the embedded emulator."])
        return self

    @property
    def secrets(self) -> frozenset[str]:
        """What no message may show: the token (however short or unset: ``mask``
        skips what is too short to matter) and the secrets the plugin host learnt
        (the task file's ``env.*`` values)."""
        token = (self.env.get("MOGPLEX_API_KEY") or "").strip()
        known = self.plugin_host.known_secrets if self.plugin_host is not None else frozenset()
        return frozenset({token, *known} - {""})

    def shown_error(self, error: E) -> E:
        """``error`` as it may be reported: every error (``Error:``, ``check``'s problems,
        its JSON) goes through here, so a token quoted from the task file's text or
        a ``--set`` name is masked whatever built the message."""
        from mogrun.masking import masked_error

        secrets = self.secrets
        return masked_error(error, secrets) if secrets else error

    def error_lines(self, error: MogrunError) -> list[str]:
        """The lines that report ``error`` (after ``Error: ``): masked, and escaped,
        because messages quote task files and servers: nothing in them may act on
        the terminal, nor on a GitHub Actions runner (``_inert``)."""
        from mogrun.textsafety import escape_agent_text

        return [self._inert(escape_agent_text(line)) for line in self.shown_error(error).lines()]

    def _inert(self, line: str) -> str:
        """A stderr line under GitHub Actions, where it is read for workflow commands
        too (``textsafety.inert_text``): a stop that ``hold_github_commands`` said on
        stdout may be read after it."""
        if not under_github_actions(self.env):
            return line
        from mogrun.textsafety import inert_text

        return inert_text(line)

    def echo(self, text: str = "", *, err: bool = False, nl: bool = True) -> None:
        """Write a line to the invocation's stdout (``err``: stderr); escape
        codes are dropped when that stream is not a terminal, as click does
        (click is imported only then: ``mogrun list`` never loads it)."""
        name = "stderr" if err else "stdout"
        if name in self.readers_left:
            return
        stream = self.stderr if err else self.stdout
        if self._github_stop:  # the stop's token never shows: no text can end it
            text = text.replace(self._github_stop, "***")
        if err:  # every stderr line, a server's text in logs' included (``_inert``)
            text = "\n".join(map(self._inert, text.split("\n")))
        try:
            if "\x1b" in text:
                import click

                click.echo(text, file=stream, nl=nl)
                return
            stream.write(text + "\n" if nl else text)
            stream.flush()
        except OSError as exc:
            self._cannot_write(name, exc)

    def _cannot_write(self, name: str, error: OSError) -> None:
        """The command goes on to its own exit code whatever its output met, as
        ``run`` does: a reader that left (``logs RUN | head -1``) is no error
        (``status --exit-status | head`` still fails when a run did), and other
        output lost (a full disk) only makes a 0 a 74 (``paced.settled_exit_code``):
        ``check > full`` still says 2. The rest of this stream's output goes nowhere."""
        from mogrun.output.paced import lost_by, note_lost

        self.readers_left.add(name)
        if lost_by(error):
            note_lost(error)

    def warn(self, message: str) -> None:
        """``warning: message`` on stderr: every command's warning is said here, in
        the form the run's reporters give one (``output.plain.notice_text``), masked
        and escaped, since warnings quote task files, plugins and servers."""
        from mogrun.masking import mask
        from mogrun.textsafety import escape_agent_text

        self.echo(escape_agent_text(mask(f"warning: {message}", self.secrets)), err=True)

    def echo_json(self, data: Any, *, sort_keys: bool = False) -> None:
        """One NDJSON line on stdout, the one way every ``--json`` object is printed:
        ASCII, and no ``##[`` in its text (``textsafety.inert_json``: the GitHub
        Actions runner takes one for a workflow command anywhere in a line, and a
        repo, an automation or a prompt may hold one). json is imported here: a
        plain ``list`` or ``check`` prints none."""
        import json

        from mogrun.textsafety import inert_json

        self.echo(inert_json(json.dumps(data, ensure_ascii=True, sort_keys=sort_keys)))

    def hold_github_commands(self) -> None:
        """This command prints agent, server or task-file text (``logs``, ``list``...): under
        GitHub Actions its output runs inside ``::stop-commands::`` from here to its
        end, as ``run``'s does, so that no ``::error::`` or ``##[error]`` in that text
        can issue a workflow command. Not with ``--json``: its lines carry no
        ``##[`` (``textsafety.inert_json``) and may not be mixed with others."""
        if (not under_github_actions(self.env) or self.json_output
                or self._github_stop is not None):
            return
        import secrets

        token = secrets.token_hex(16)
        self.echo(f"::stop-commands::{token}")  # before the token is set: echo hides it
        self._github_stop = token
        self.add_cleanup(self.resume_github_commands)

    def resume_github_commands(self) -> None:
        """End ``hold_github_commands``'s stop: at the command's end, or before a
        failure's ``::error::`` (``MogrunApp._github_failure``), which must act."""
        token, self._github_stop = self._github_stop, None
        if token is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self.stdout.write(f"::{token}::\n")
            self.stdout.flush()

    def say_wait(self, wait: Any) -> None:
        """``wait rate_limited: 429 ...; ends in 6s (04:20:11Z)`` on stderr, for a wait
        no reporter shows (stdout may be a table or JSON that a script reads)."""
        from mogrun.textsafety import escape_agent_text

        self.echo(escape_agent_text(f"wait {wait.kind}: {wait.describe()}"), err=True)

    def add_cleanup(self, callback: Any) -> None:
        """Run ``callback()`` when the command ends (e.g. stop the emulator)."""
        self._cleanups.append(callback)

    def close(self) -> None:
        while self._cleanups:
            self._cleanups.pop()()

    @contextlib.contextmanager
    def plugin_prints_above(self, reporter: Any) -> Iterator[None]:
        """While ``reporter`` draws a live area on the screen that is ``sys.stdout``,
        what a plugin's hook prints goes above that area (docs/plugins.md: a hook may
        print). Written to the terminal as it was, it landed on the progress line
        and the next frame erased it. Anywhere else (a pipe, ``--json``, an
        embedder's stream) nothing changes."""
        import sys

        print_above = getattr(reporter, "print_above", None)
        if print_above is None or sys.stdout is not self.stdout:
            yield
            return
        lines = _LinesAbove(self.stdout, print_above)
        sys.stdout = lines
        try:
            yield
        finally:
            if sys.stdout is lines:
                sys.stdout = self.stdout
            lines.end()

    def divert_plugin_stdout(self) -> None:
        """With ``--json``, stdout holds NDJSON only (docs/output.md): for the rest of the
        invocation, what plugins write to ``sys.stdout`` (a ``print`` in a hook,
        on whichever thread) goes to stderr. mogrun's own output is written to
        ``self.stdout``, never through ``sys.stdout``, so it is unaffected.
        When ``self.stdout`` is the process's file descriptor 1, that descriptor
        is diverted too (``_divert_fd1``). Without ``--json``, a plugin's print goes
        where mogrun's output goes: to ``self.stdout`` when that is not the
        process's own (an embedder's, a test's: a team asserts on what its
        notifier printed)."""
        import sys

        if isinstance(sys.stdout, _ToStream):
            return
        if self.json_output or self.stdout_is_data:
            self._divert_fd1()
            target = self.stderr
        elif self.stdout is sys.stdout or self.stdout is sys.__stdout__:
            return
        else:
            target = self.stdout
        previous, diverted = sys.stdout, _ToStream(target)
        sys.stdout = diverted

        def restore() -> None:
            if sys.stdout is diverted:
                sys.stdout = previous

        self.add_cleanup(restore)

    def _divert_fd1(self) -> None:
        """What bypasses ``sys.stdout`` (a plugin's subprocess, which inherits
        descriptor 1, or its ``os.write(1, ...)``) reaches stderr too: ``self.stdout``
        moves to a duplicate of descriptor 1 and descriptor 1 is pointed at
        stderr's, until the invocation ends. Only when the invocation's stdout is
        the process's descriptor 1 (the console script): an embedder's or a
        test's own stream is theirs, and their process's descriptors too. And
        only from the main thread, before output starts: a follower thread that
        loads the plugins late must not move descriptor 1 under another's line."""
        import contextlib
        import os
        import threading

        if threading.current_thread() is not threading.main_thread():
            return  # a helper thread (a ``logs -f`` follower): others may be writing now
        original = self.stdout
        try:
            if original.fileno() != 1:
                return
            stderr_fd = self.stderr.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation: no descriptor
            return
        with contextlib.suppress(OSError, ValueError):
            original.flush()  # what it holds goes out before descriptor 1 moves
        kept = os.dup(1)  # not inherited: a plugin's subprocess never gets it
        # Line-buffered: each line goes out as written (its writer flushes it too).
        ndjson = open(kept, "w", buffering=1,  # noqa: SIM115 (closed by restore)
                      encoding=getattr(original, "encoding", None) or "utf-8",
                      errors=getattr(original, "errors", None))
        os.dup2(stderr_fd, 1)
        self.stdout = ndjson

        def restore() -> None:
            with contextlib.suppress(OSError, ValueError):
                ndjson.flush()  # a reader that left (``| head``): the rest goes nowhere
            os.dup2(kept, 1)
            with contextlib.suppress(OSError, ValueError):
                ndjson.close()  # closes ``kept``, even when the flush fails
            self.stdout = original

        self.add_cleanup(restore)


class _LinesAbove(io.TextIOBase):
    """``sys.stdout`` while a live reporter owns the screen: each whole line a
    plugin prints goes to ``print_above`` (above the live area); ``end`` hands on
    a line left without its end."""

    def __init__(self, screen: TextIO, print_above: Callable[[str], None]) -> None:
        import threading  # not at import: `mogrun list` starts no thread

        super().__init__()
        self._screen = screen
        self._print_above = print_above
        self._partial = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._print_above(line)
        return len(text)

    def isatty(self) -> bool:
        return self._screen.isatty()

    def fileno(self) -> int:
        return self._screen.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]  # a plugin may encode to it
        return self._screen.encoding

    def end(self) -> None:
        with self._lock:
            rest, self._partial = self._partial, ""
        if rest:
            self._print_above(rest)


class _ToStream(io.TextIOBase):
    """``sys.stdout`` of a ``--json`` invocation: every write goes to ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def state_of(ctx: Any) -> CliState:
    """The invocation's state from any click context of it (a bare one for a
    context made outside ``MogrunApp``, e.g. by shell completion)."""
    root = ctx.find_root() if ctx is not None else None
    obj = getattr(root, "obj", None)
    return obj if isinstance(obj, CliState) else CliState()


def line_state(ctx: Any) -> CliState:
    """A copy of the invocation's state with the line's ``-f``, ``--url`` and
    ``--local`` in it, before the group has applied them (shell completion; a
    mistyped command said before the command runs)."""
    import copy

    root = ctx.find_root() if ctx is not None else None
    params = getattr(root, "params", None) or {}
    state = copy.copy(state_of(ctx))
    state.file, state.url = params.get("file"), params.get("url")
    state.local = bool(params.get("local"))
    return state
