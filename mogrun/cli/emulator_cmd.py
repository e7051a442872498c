"""``mogrun emulator``: serve the local Mogplex API emulator until Ctrl-C/SIGTERM."""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from collections.abc import Iterator
from typing import Any

from mogrun.cli import framework as click
from mogrun.cli.state import CliState
from mogrun.errors import MogrunError, UsageError

# What each comma-list option needs, and what leaving it out gives.
_NEEDS = {
    "--repos": ("at least one owner/name", "Leave it out to serve {default_repos}."),
    "--limits": ("limits such as 60/60s,starts=10/60s",
                 "Leave it out for the real limits, or lift them with --no-limits."),
    "--faults": ("at least one fault such as start:503x2", "Leave it out to inject none."),
    "--occupy": ("at least one sandbox occupant such as 2@30s", "Leave it out to occupy none."),
    "--automations": ("at least one automation name",
                      "Leave it out for none (a task file named with -f still adds its own)."),
    "--taken-keys": ("at least one key", "Leave it out to take none."),
}


def _joined(ctx: Any, param: Any, values: tuple[str, ...]) -> str | None:
    """A repeated option adds to the first (each is a comma list): ``--faults a
    --faults b`` dropped ``a`` without a word, which defeats a test that needs it.
    A value of no item (``''``, ``' '``, ``','``) is refused: it is a script's unset
    variable, and was silently the default (or an empty ``faults:`` line)."""
    for value in values:
        if not value.replace(",", " ").strip():
            from mogrun.emulator.server import DEFAULT_REPOS

            option = param.opts[0]
            needs, hint = _NEEDS[option]
            got = "an empty value" if not value else repr(value)
            raise UsageError(f"{option} needs {needs}, got {got}",
                             context=[hint.format(default_repos=", ".join(DEFAULT_REPOS))])
    return ",".join(values) if values else None


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Loopback address to listen on (anything else is refused).")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port to listen on (default: any free port, printed).")
@click.option("--repos", metavar="OWNER/NAME,...", multiple=True, callback=_joined,
              help="Repositories the account has (default: acme/api,acme/web,acme/worker).")
@click.option("--no-limits", is_flag=True, help="Lift the rate limits.")
@click.option("--limits", "limits_spec", metavar="SPEC", multiple=True, callback=_joined,
              help="Rate limits, e.g. 60/60s,starts=10/60s,starts=30/1h (default: the real "
                   "ones, raised to the plan of a task file given with -f).")
@click.option("--faults", "faults_spec", metavar="SPEC", multiple=True, callback=_joined,
              help="Faults to inject, e.g. start:503x2,events:429@3,run:delay=2s.")
@click.option("--occupy", "occupy_spec", metavar="SPEC", multiple=True, callback=_joined,
              help="Sandboxes held by other work, e.g. 2@30s or acme/web:1@never.")
@click.option("--automations", "automations_spec", metavar="SPEC", multiple=True, callback=_joined,
              help="Automations the account has, e.g. triage,nightly-fix:unpublished "
              "(NAME@OWNER/NAME: on that repo's installation; default: the first repo's).")
@click.option("--taken-keys", "taken_keys", metavar="KEY,...", multiple=True, callback=_joined,
              help="Automation trigger keys someone else has already used.")
@click.option("--duration", metavar="DURATION", default="3s", show_default=True,
              callback=lambda ctx, param, value: _seconds(param, value),
              help="How long an unscripted run takes, as 5s, 500ms or 2m (a number is seconds).")
@click.option("--events", type=click.IntRange(3, 100_000), default=8, show_default=True,
              help="Events an unscripted run produces.")
@click.pass_obj
def emulator_command(state: CliState, **options: Any) -> int:
    """Serve the Mogplex API emulator on loopback until Ctrl-C.

    Prints the URL and tokens to use (--json: one JSON object). Every request is
    traced on stderr unless -q.

    A line in a prompt scripts the run (values parsed like a shell line; a typo
    refuses the start with 400):

    \b
      @emulator status=failed duration=2s events=6 tools=run_tests
      @emulator duration=never interval=0.2s message="::error::boom"

    \b
    status    success | failed | cancelled | awaiting_input (default success)
    duration  5s, 500ms, 2m or never (default --duration)
    pending   time in pending before streaming
    events    events in all, 3 or more (default --events)
    tools     tool names used in turn, or none
    message   the text of every log event
    error     the failed run's error text
    interval  with duration=never: time between events
    """
    from mogrun.cli.loading import optional_taskfile, taskfile_secrets

    trace = None if state.quiet else functools.partial(_trace, state)
    # Named with -f or MOGRUN_FILE: its repos and automations are served, as --local
    # serves them (found by discovery alone, a folder's file changes nothing here).
    named = state.file or state.env.get("MOGRUN_FILE")
    taskfile = optional_taskfile(state) if named else None
    emulator = _build(state, options, trace=trace, taskfile=taskfile)
    # The emulated account holds the real names; what is printed masks its env.* ones.
    options = {**options, "secrets": taskfile_secrets(state, taskfile)}
    # Caught from before the announcement: a script that stops the emulator as soon
    # as it has read the URL got SIGTERM's default (exit -15, nothing said) while the
    # handlers were set only after it.
    with _signals_caught() as caught:
        try:
            emulator.start()
        except OSError as exc:
            raise MogrunError(f"cannot listen on {options['host']}:{options['port']}: "
                              f"{exc.strerror or exc}") from exc
        try:
            _announce(state, emulator, options)
            _wait(caught)
        finally:
            emulator.stop()
    state.echo("Emulator stopped.", err=True)
    return 0


def _seconds(param: Any, value: str) -> float:
    """A finite duration of at most a year, as every emulator duration is: with a unit,
    as a prompt's ``@emulator duration=`` takes it (``--duration 5s`` was refused as
    "not a valid float range"), or a number of seconds."""
    from mogrun.emulator.durations import parse_seconds

    try:  # any number float() reads (1e3, inf) is judged as seconds, as the option took it
        number: float | None = float(value)
    except ValueError:
        number = None
    try:
        return parse_seconds(value if number is None else number)
    except ValueError as exc:
        raise click.exceptions.BadParameter(str(exc), param=param) from exc


def _build(state: CliState, options: dict[str, Any], *, trace: Any, taskfile: Any) -> Any:
    from mogrun.cli.connect import emulated_limits, emulated_world
    from mogrun.emulator import Emulator, Limits
    from mogrun.emulator.automation_seed import AutomationSpec, parse_automations
    from mogrun.emulator.faults import parse_faults
    from mogrun.emulator.occupants import parse_occupants
    from mogrun.emulator.server import DEFAULT_REPOS
    from mogrun.loopback import is_loopback_host

    if not is_loopback_host(options["host"]):
        raise UsageError(f"--host {options['host']} is not a loopback address",
                         context=["The emulator serves 127.0.0.1, ::1 or localhost only."])
    if options["no_limits"] and options["limits_spec"]:
        raise UsageError("--no-limits and --limits cannot be used together")
    try:
        limits = None if options["no_limits"] else (
            Limits.parse(options["limits_spec"]) if options["limits_spec"]
            else emulated_limits(state, taskfile, Limits.real()))
        faults = parse_faults(options["faults_spec"] or "")
        occupants = parse_occupants(options["occupy_spec"] or "")
        automations = parse_automations(options["automations_spec"] or "")
        _check_automation_names(automations)
        repos, served = emulated_world(
            state, taskfile, _repos(options["repos"]) if options["repos"] else DEFAULT_REPOS)
        emulator = Emulator(repos=repos, limits=limits, host=options["host"],
                            port=options["port"], default_duration=options["duration"],
                            default_events=options["events"],
                            on_request=trace)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    for fault in faults:
        emulator.add_fault(fault.endpoint, fault.kind, fault.count,
                           retry_after=fault.retry_after, delay=fault.delay)
    try:
        for item in occupants:
            emulator.occupy_sandboxes(item.count, busy=item.busy, repo=item.repo)
    except ValueError as exc:
        raise UsageError(f"--occupy: {exc}") from exc
    given = {automation.name for automation in automations}  # --automations wins
    automations += [AutomationSpec(name, repo=home) for name, home in served if name not in given]
    try:
        for automation in automations:
            emulator.add_automation(automation.name, published=automation.published,
                                    active=automation.active, repo=automation.repo)
    except ValueError as exc:
        raise UsageError(f"--automations: {exc}") from exc
    try:
        for key in (k.strip() for k in (options["taken_keys"] or "").split(",")):
            if key:
                emulator.take_job_key(key)
    except ValueError as exc:
        raise UsageError(f"--taken-keys: {exc}") from exc
    return emulator


def _check_automation_names(automations: list[Any]) -> None:
    """A name is one line of printable text, as the server shows it (its list, a
    trigger's hint): a control character, an escape sequence, a line break or a bidi
    override is refused (it was made, and printed raw in the announcement)."""
    from mogrun.textsafety import escape_agent_text

    for automation in automations:
        if escape_agent_text(automation.name) != automation.name:
            raise ValueError(f"--automations: bad automation name {automation.name!r}: a "
                             "name is printable text (no control characters or line breaks)")


def _repos(text: str) -> list[str]:
    from mogrun.emulator.state import repo_spec
    from mogrun.reponames import is_full_name, name_problem

    repos = [name.strip() for name in text.split(",") if name.strip()]
    if not repos:
        raise ValueError("--repos needs at least one owner/name")
    for spec in repos:
        full_name = repo_spec(spec)[0]
        problem = name_problem(full_name) if is_full_name(full_name) else None
        if problem:  # a repo the task file's check refuses is one no account has
            raise ValueError(f"{full_name!r} is not a GitHub owner/name: {problem}")
    return repos


def _announce(state: CliState, emulator: Any, options: dict[str, Any]) -> None:
    """What to use it with: lines for a person, or with ``--json`` one object (a
    script starting it in the background reads its first line)."""
    from mogrun.textsafety import escape_agent_text

    if state.json_output:
        _announce_json(state, emulator, options)
        return
    limits = emulator.limits
    lines = [
        f"Mogplex API emulator serving {emulator.url}",
        f"  API:          {emulator.api_url}",
        f"  repos:        {', '.join(_names(emulator.repos, options))}",
        f"  limits:       {limits.describe() if limits else 'lifted'}",
        f"  write token:  {emulator.write_token}",
        f"  read token:   {emulator.read_token}",
    ]
    if options["faults_spec"]:
        lines.append(f"  faults:       {escape_agent_text(options['faults_spec'])}")
    if options["occupy_spec"]:
        lines.append(f"  occupied:     {escape_agent_text(options['occupy_spec'])}")
    for automation in emulator.automations:  # a task file's names too: escaped all the same
        lines.append(f"  automation:   {automation['id']}  "
                     f"{escape_agent_text(_names([automation], options, 'name')[0])}")
    lines += ["", "Use it from another shell:",
              f"  export MOGPLEX_URL={emulator.url}",
              f"  export MOGPLEX_API_KEY={emulator.write_token}",
              "", "Press Ctrl-C to stop."]
    state.echo("\n".join(lines))
    state.stdout.flush()


def _announce_json(state: CliState, emulator: Any, options: dict[str, Any]) -> None:
    limits = emulator.limits
    state.echo_json({
        "type": "emulator", "url": emulator.url, "api_url": emulator.api_url,
        "write_token": emulator.write_token, "read_token": emulator.read_token,
        "repos": _names(emulator.repos, options),
        "limits": limits.describe() if limits else None,
        "faults": options["faults_spec"], "occupied": options["occupy_spec"],
        "automations": [{"id": a["id"], "name": name} for a, name in
                        zip(emulator.automations, _names(emulator.automations, options, "name"),
                            strict=True)],
    })
    state.stdout.flush()


def _names(items: Any, options: dict[str, Any], field: str = "full_name") -> list[str]:
    """Each item's ``field`` as printed: a repo or automation the task file names from
    ``env.*`` is a secret, masked wherever mogrun prints it."""
    from mogrun.masking import mask

    secrets = options.get("secrets") or ()
    return [mask(item[field], secrets) for item in items]


def _trace(state: CliState, record: Any) -> None:
    """One line per request (from the server's threads, so onto the state's
    stream, not through click's context); what the client sent is escaped (it may hold
    terminal escape sequences)."""
    from mogrun.textsafety import escape_agent_text

    query = f"?{record.query}" if record.query else ""
    key = f"  key={record.idempotency_key}" if record.idempotency_key else ""
    fault = f"  fault={record.fault}" if record.fault else ""
    status = record.status or "dropped"
    line = f"{record.method} {record.path}{query} -> {status}{key}{fault}"
    state.echo(escape_agent_text(line), err=True)


@contextlib.contextmanager
def _signals_caught() -> Iterator[list[int]]:
    """The SIGINTs and SIGTERMs that came (either ends the emulator cleanly) while the
    block runs; the handlers before are put back after it. A handler only notes the
    signal: one that set a ``threading.Event`` hung for good when it landed while
    this thread held that event's lock in its own wait (about 1 start in 200)."""
    caught: list[int] = []
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda number, _: caught.append(number))
    try:
        yield caught
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _wait(caught: list[int]) -> None:
    """Block until a signal came; a KeyboardInterrupt ends it too."""
    import time

    try:
        while not caught:
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
