"""``MogrunApp``: the whole CLI as an object of its inputs, and ``main``.

It takes the argument list, the environment, the working directory and the
streams, and returns an exit code (the shape of poethepoet's
``PoeThePoet(cwd, config, output, env)``). Only ``main`` (the console script)
reads the process's own and exits, so tests, ``mogrun.testing`` and embedders
run mogrun in-process without swapping ``os.environ``, the cwd or ``sys.stdout``.

Start-up: this module imports no click. The commonest lines, listing the
jobs (``mogrun``, ``mogrun list``, ``-l``), checking the file and showing a
job (``mogrun check``, ``mogrun show JOB``), with the global flags they use,
are answered without it (``quick_line``); everything else goes through the
click group in ``mogrun.cli.main``.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from mogrun.cli.console import INTERRUPTED
from mogrun.cli.state import CliState
from mogrun.envswitches import under_github_actions
from mogrun.errors import MogrunError


def _nothing_to_restore() -> None:
    return None


def _noting_ctrl_c() -> Callable[[], None]:
    """While Python's own Ctrl-C handler is in place (on the main thread), one
    that does what it does (raise ``KeyboardInterrupt``) and notes the signal as
    taken (``owedsignals``): a Ctrl-C that lands before a run handles signals
    (mogrun still loading its task file) is owed to an embedder, as one the run
    takes is; a ``KeyboardInterrupt`` that code raised is not. Returns what puts
    Python's handler back (unless something else replaced this one since)."""
    import signal
    import threading

    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        return _nothing_to_restore  # ignored, or someone else's: left alone
    from mogrun.owedsignals import took

    def noted(signum: int, frame: object) -> None:
        took(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, noted)

    def restore() -> None:
        if signal.getsignal(signal.SIGINT) is noted:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    return restore


class MogrunApp:
    """One configured CLI; call it with argv (without the program name)."""

    def __init__(self, *, cwd: str | os.PathLike[str], env: Mapping[str, str],
                 stdout: TextIO, stderr: TextIO, stdin: TextIO | None = None,
                 embedded: bool = True) -> None:
        # embedded: run inside another program (a test run), owed a Ctrl-C mogrun takes
        # while it starts (``_noting_ctrl_c``); ``main``, the process's own, is not.
        self.embedded = embedded
        self.cwd = cwd
        self.env = env
        self.stdout = stdout
        self.stderr = stderr
        self.stdin: TextIO = io.StringIO() if stdin is None else stdin

    def __call__(self, argv: Sequence[str]) -> int:
        state = CliState(env=dict(self.env), workdir=os.fspath(self.cwd), stdout=self.stdout,
                         stderr=self.stderr, stdin=self.stdin)
        args = [str(arg) for arg in argv]
        if "mogrun.output.paced" in sys.modules:  # an earlier invocation's lost output
            sys.modules["mogrun.output.paced"].forget_lost()
        restore = _noting_ctrl_c() if self.embedded else _nothing_to_restore
        try:
            line = quick_line(args)
            if line is not None:
                return self._quick(state, line)
            return self._invoke(state, args)
        except KeyboardInterrupt:  # either path: a Ctrl-C outside a run's own handling
            self.stderr.write(f"{INTERRUPTED}\n")
            return 130
        finally:
            restore()
            state.close()

    def _quick(self, state: CliState, line: QuickLine) -> int:
        """A ``list``, ``check`` or ``show`` line answered without click."""
        command, options, extra = line
        try:
            state.apply_options(options)
            if command == "check":
                from mogrun.cli.taskfile_views import check_file

                return check_file(state, extra["plugins"])
            if command == "show":
                from mogrun.cli.taskfile_views import show_jobs

                return show_jobs(state, extra["jobs"], no_deps=bool(extra["no_deps"]),
                                 extra_plugins=extra["plugins"])
            from mogrun.cli.listing import list_jobs

            return list_jobs(state)
        except MogrunError as error:
            self._report(state, error)
            return error.exit_code

    def _invoke(self, state: CliState, argv: list[str]) -> int:
        import click

        from mogrun.cli.main import cli
        from mogrun.collecting import start_up_over

        # A global flag may stand anywhere, but --help is answered while the line is
        # parsed, before --no-color would be: the help is plain too, as under NO_COLOR
        # (rich drops its colours there, not its bold and dim).
        flags = argv[:argv.index("--")] if "--" in argv else argv
        if "--no-color" in flags or state.env.get("NO_COLOR"):
            state.no_color = True
        try:
            with cli.make_context("mogrun", argv, obj=state) as ctx:
                start_up_over()  # the line is parsed (its --help answered): a command runs
                result = cli.invoke(ctx)
        except MogrunError as error:
            self._report(state, error)
            self._github_failure(state, state.shown_error(error).lines(), error.exit_code,
                                 error)
            return error.exit_code
        except click.exceptions.Exit as done:
            return done.exit_code
        except click.ClickException as error:
            error = _one_guess(error)
            self._show_click_error(state, error)
            code = 2 if error.exit_code == 1 else error.exit_code
            self._github_failure(state, [error.format_message()], code, error)
            return code
        except click.Abort:
            self.stderr.write("Aborted.\n")
            self._github_failure(state, ["aborted"], 130)
            return 130
        return result if isinstance(result, int) else 0

    def _github_failure(self, state: CliState, lines: list[str], code: int,
                        error: BaseException | None = None) -> None:
        """Under GitHub Actions, a ``run``/``rerun`` that failed before (or outside)
        its session's summary still ends with an annotation, a step summary and
        ``exit_code`` (docs/output.md: failures are ``::error::`` annotations); with ``--json``
        the files alone, since stdout is JSON lines."""
        if not state.github_failures or not under_github_actions(state.env):
            return
        from mogrun.output.github import report_failure

        state.resume_github_commands()  # `run --dry-run` held them: the ::error:: must act
        report_failure(stdout=self.stdout, env=state.env, command=state.github_failures,
                       lines=lines, exit_code=code, error=error,
                       secrets=state.secrets,
                       json_stderr=self.stderr if state.json_output else None)

    def _show_click_error(self, state: CliState, error: Any) -> None:
        """click's own usage error, masked as every other error is: it echoes what was
        typed (``-j "$MOGPLEX_API_KEY"`` by mistake)."""
        from mogrun.masking import mask

        shown = io.StringIO()
        error.show(file=shown)
        with contextlib.suppress(OSError, ValueError):
            self.stderr.write(mask(shown.getvalue(), state.secrets))
            self.stderr.flush()

    def _report(self, state: CliState, error: MogrunError) -> None:
        lines = state.error_lines(error)  # masked and escaped, as check's problems are
        # A full stderr must not turn the error's own exit code into a traceback.
        with contextlib.suppress(OSError, ValueError):
            self.stderr.write(f"Error: {lines[0]}\n")
            for line in lines[1:]:
                self.stderr.write(f"{line}\n")
            self.stderr.flush()


# Global flags a quick line may carry (name -> option), and those taking a value.
_QUICK_FLAGS = {"--json": "json_output", "-q": "quiet", "--quiet": "quiet",
                "--no-color": "no_color", "--no-plugins": "no_plugins"}
_QUICK_VALUES = {"-f": "file", "--file": "file", "--set": "sets"}
# command -> its own flags taking a value (name -> keyword) and its bare flags.
_QUICK_COMMANDS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "list": ({}, {}),
    "check": ({"-p": "plugins", "--plugin": "plugins"}, {}),
    "show": ({"-p": "plugins", "--plugin": "plugins"}, {"--no-deps": "no_deps"}),
}
QuickLine = tuple[str, dict[str, Any], dict[str, Any]]


def quick_line(args: list[str]) -> QuickLine | None:
    """``(command, global options, the command's own)`` of a line that only
    lists, checks or shows (``mogrun``, ``mogrun -l --json``, ``mogrun check``,
    ``mogrun -f x.toml show a b --no-deps``), else ``None``: anything this
    does not know (``--help``, ``--url``, ``-pNAME``, ``--``) takes the full
    parser, which gives the same answer more slowly."""
    command: str | None = None
    options: dict[str, Any] = {}
    own: dict[str, Any] = {"plugins": [], "jobs": [], "no_deps": False}
    index = 0
    while index < len(args):
        token = args[index]
        takes, flags = _QUICK_COMMANDS.get(command or "", ({}, {}))
        if command is None and token in (*_QUICK_COMMANDS, "-l", "--list"):
            command = "list" if token.startswith("-") else token
        elif token in _QUICK_FLAGS:
            options[_QUICK_FLAGS[token]] = True
        elif token in flags:
            own[flags[token]] = True
        elif token in _QUICK_VALUES or token in takes:
            if index + 1 >= len(args):
                return None
            index += 1
            name = _QUICK_VALUES.get(token) or takes[token]
            if name == "file":
                if "file" in options:
                    return None
                options["file"] = args[index]
            else:
                (options if name == "sets" else own).setdefault(name, []).append(args[index])
        elif token.startswith("--file=") and "file" not in options:
            options["file"] = token.partition("=")[2]
        elif command == "show" and not token.startswith("-"):
            own["jobs"].append(token)
        else:
            return None
        index += 1
    command = command or "list"
    if (command == "show") != bool(own["jobs"]):
        return None  # show needs job names: the parser says so
    return command, options, own


def _one_guess(error: Any) -> Any:
    """click's usage ``error`` with one "did you mean" (``option_guess``) where
    click offered several close options (``--help`` among them, for ``--schedul``);
    ``rerun --rerun`` said as what it is."""
    import click

    guesses = getattr(error, "possibilities", None) or []
    if (isinstance(error, click.exceptions.NoSuchOption) and error.option_name == "--rerun"
            and error.ctx is not None and error.ctx.command.name == "rerun"):
        # run's option, carried over: "did you mean --dry-run?" steered it to a dry run.
        return click.UsageError("rerun has no --rerun: each attempt it starts takes a key of "
                                "its own already (--rerun is run's)", ctx=error.ctx)
    if not isinstance(error, click.exceptions.NoSuchOption) or len(guesses) < 2:
        return error
    from mogrun.cli.main import option_guess

    return click.exceptions.NoSuchOption(error.option_name, error.message,
                                         possibilities=option_guess(error.option_name, guesses),
                                         ctx=error.ctx)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: the one place that reads the process's argv,
    environment, cwd and streams, and exits."""
    if os.environ.get("_MOGRUN_COMPLETE"):  # empty is unset, as click takes it
        sys.exit(_complete())
    code = run_cli(argv)
    _after_the_output()
    sys.exit(code)


def _complete() -> int:
    """The shell's completion request answered. What it writes lands on the user's
    command line, so a deleted working directory or a stdout that cannot be
    written (``>/dev/full``) gives no completions and exit 1, never a traceback."""
    from mogrun.cli.completion import complete_from_process
    from mogrun.cli.main import cli

    try:
        code = complete_from_process(cli, os.environ, os.getcwd(), sys.stdout, sys.stderr)
        sys.stdout.flush()
    except OSError:
        _reader_left()  # what stays in the buffer must not fail again at the exit
        return 1
    return code


def _after_the_output() -> None:
    """mogrun's output is complete, but a plugin's own (non-daemon) thread may still
    run, which Python would wait for at exit, silently and deaf to Ctrl-C. What it
    writes now goes to stderr (never after a ``--json`` summary or into a
    ``schema``); the wait is said after a moment, and a signal ends it at once.
    (The plugin docs say: start threads with ``start_without_signals``.)"""
    threading = sys.modules.get("threading")
    if threading is None:  # never imported (``mogrun list``): no thread, and no cost
        return

    def others() -> list[Any]:
        return [t for t in threading.enumerate() if t.is_alive() and not t.daemon
                and t is not threading.main_thread()]

    if not others():
        return
    try:
        sys.stdout.flush()
        os.dup2(sys.stderr.fileno(), 1)
    except (AttributeError, OSError, ValueError):  # no descriptors (an embedder's streams)
        return
    sys.stdout = sys.stderr
    _wait_for_plugin_threads(others)


def _wait_for_plugin_threads(others: Callable[[], list[Any]]) -> None:
    import signal
    import time

    def leave(signum: int, frame: object) -> None:
        sys.stderr.write(f"\nleft {len(others())} plugin thread(s) unfinished\n")
        sys.stderr.flush()
        os._exit(128 + signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, leave)
    said, began = False, time.monotonic()
    while threads := others():
        threads[0].join(0.1)  # in slices: a signal's handler runs between them
        if not said and time.monotonic() - began > 1.0:
            said = True
            sys.stderr.write(f"waiting for {len(threads)} plugin thread(s) to end "
                             "(Ctrl-C leaves now)\n")
            sys.stderr.flush()


def run_cli(argv: list[str] | None = None) -> int:
    """Run the CLI on this process's argv, environment, cwd and streams and
    return its exit code (``main`` without the exit)."""
    _open_closed_streams()
    _escape_what_streams_cannot_encode()
    args = sys.argv[1:] if argv is None else argv
    refusal = _argv_refusal(args)
    cwd = _cwd(args)
    if refusal or cwd is None:
        sys.stderr.write(f"Error: {refusal or NO_CWD}\n")
        sys.stderr.flush()
        return 2
    app = MogrunApp(cwd=cwd, env=os.environ, stdout=sys.stdout, stderr=sys.stderr,
                    stdin=sys.stdin, embedded=False)
    unhurried = _wait_for_room()
    try:
        code = _run_app(app, args)
    finally:
        _restore_non_blocking(unhurried)
    if "mogrun.output.paced" not in sys.modules:  # never loaded: nothing was lost
        return code
    from mogrun.output.paced import lost_output, settled_exit_code

    settled = settled_exit_code(code)  # `run --json > file` on a full disk: 74, not 0
    lost = lost_output()
    if settled != code and lost is not None:
        _say_lost(lost.error, lost.what)
    return settled


def _run_app(app: MogrunApp, args: list[str]) -> int:
    """``app``'s exit code once its output is flushed. A write that failed outside
    ``CliState.echo`` (which keeps the command's exit code) ended the command:
    1 for a reader that left, else 74, said."""
    try:
        code = app(args)
    except BrokenPipeError:
        # `mogrun list | head`: the reader left; not an error worth a traceback. A pipe
        # broken outside `CliState.echo` gives 1, never 0: it may have lost what said
        # the command failed.
        _reader_left()
        return 1
    except OSError as exc:  # a full disk, a descriptor opened for reading (`1<file`)
        from mogrun.output.paced import WRITE_FAILURES

        if exc.errno not in WRITE_FAILURES:  # not the output's: a bug, with its traceback
            raise
        return _output_lost(exc)
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # its reader left: the command's exit code stands
        _reader_left()
    except OSError as exc:  # lost: a 0 becomes 74 (the caller settles it)
        from mogrun.output.paced import note_lost

        note_lost(exc)
        _reader_left()
    except ValueError:  # closed: it holds nothing
        pass
    return code


def _wait_for_room() -> list[int]:
    """stdout and stderr made to wait for room, as a pipe does unless the parent
    left it non-blocking (node, ssh): then a write the reader was slow to make
    room for failed with EAGAIN, and the buffered stream dropped the rest (a
    long ``list`` stopped at 64 KiB). Returns the descriptors changed, whose flag
    ``_restore_non_blocking`` gives back: it is the parent's pipe."""
    changed: list[int] = []
    for fd in (1, 2):
        with contextlib.suppress(OSError):  # closed, or not a descriptor that has one
            if not os.get_blocking(fd):
                os.set_blocking(fd, True)
                changed.append(fd)
    return changed


def _restore_non_blocking(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.set_blocking(fd, False)


def _reader_left() -> None:
    """Descriptor 1 goes nowhere from now on, so that the lines still in
    ``sys.stdout``'s buffer after its reader left cannot fail again (with a
    warning) as Python exits."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _output_lost(error: OSError) -> int:
    """Output that failed as it was written (a full disk): said, and exit 74."""
    from mogrun.output.paced import note_lost, settled_exit_code

    note_lost(error)
    _say_lost(error)
    return settled_exit_code(0)


def _say_lost(error: OSError, what: str = "the output") -> None:
    """Why the exit code is 74, on stderr if it can be: a script reading the output
    must not take an empty file for a success. ``what`` was lost: the output, or a
    file it names (``$GITHUB_OUTPUT (/tmp)``)."""
    from mogrun.textsafety import escape_agent_text

    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(escape_agent_text(f"Error: cannot write {what}: "
                                           f"{error.strerror or error}") + "\n")
        sys.stderr.flush()


NO_CWD = "the current directory no longer exists: cd to one that does"


def _escape_what_streams_cannot_encode() -> None:
    """A stream whose encoding cannot carry every character (``PYTHONIOENCODING=ascii``,
    a latin-1 locale) writes what it cannot as ``\\xe9`` escapes: one ``·`` of a
    progress line ended the live view in a traceback, with the cursor hidden and
    the other jobs' runs left going, and a pipe's batch of lines was dropped."""
    import codecs

    for stream in (sys.stdout, sys.stderr):
        try:  # the codec's own name: "UTF8", "utf_8" and "U8" are all "utf-8"
            encoding = codecs.lookup(getattr(stream, "encoding", None) or "utf-8").name
        except LookupError:
            encoding = "unknown"
        reconfigure = getattr(stream, "reconfigure", None)
        if encoding != "utf-8" and reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # closed, or not to be changed
                reconfigure(errors="backslashreplace")
                if stream is sys.stdout:
                    from mogrun.tables import escaping

                    escaping(encoding)


def _argv_refusal(args: list[str]) -> str | None:
    """Arguments that are no text (bytes the locale could not decode: a file name
    or a job name written in latin-1) cannot be a job, a run id or a path mogrun
    records: refused up front, rather than a traceback from the history or a
    task file ``add`` wrote and can no longer read."""
    for arg in args:
        if arg.isascii():
            continue
        from mogrun.textsafety import text_refusal

        refusal = text_refusal(arg)
        if refusal is not None:
            return f"argument {refusal}"
    return None


def _cwd(args: list[str]) -> str | None:
    """The working directory; ``None`` when it was deleted under the shell, but
    ``/`` for ``--help`` and ``--version``, which need none."""
    try:
        return os.getcwd()
    except OSError:
        wants_none = any(a in ("--help", "-h", "--version") for a in args)
        return "/" if wants_none else None


def _open_closed_streams() -> None:
    """A descriptor closed when the process started (``mogrun run job >&-`` in a
    cron line) leaves ``sys.stdout`` or ``sys.stderr`` as None: what would go
    there is discarded, as after a reader left, and the command still runs to
    its own exit code instead of failing on its first line of output."""
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (process-long)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (process-long)
