"""``mogrun logs [TARGET] [--follow]``: the events of past and running runs.

Without a target, the runs of the latest invocation. ``--follow`` follows every
run at once (one thread each, one request budget), lines labelled by repo, and
judges each ended run by its job's gates as ``run`` does: the exit code means
the same, and why a run did not pass (its failed gates) is said as ``run``
says it (with ``--json``, in ``run``'s ``job_finished`` and ``summary``
objects). ``--local`` runs are shown from the events kept when they ran.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mogrun.cli import framework as click
from mogrun.cli.cancel_cmd import going_in_a_local_mogrun, still_to_start
from mogrun.cli.completion import complete_jobs
from mogrun.cli.judging import GateJudge
from mogrun.cli.loading import env_secrets
from mogrun.cli.run_targets import (
    Target,
    api_client,
    open_state,
    recorded_elsewhere,
    row_label,
    rows_for,
    run_id_case,
    say_never_run,
    with_automations,
)
from mogrun.cli.shown_rows import as_left_locally, ended_unseen, never_started, shown_status
from mogrun.cli.state import CliState
from mogrun.cli.status_cmd import record_status
from mogrun.cli.unrecorded_runs import AUTOMATION_RUN_HINT, located
from mogrun.errors import (
    MogrunError,
    NotFoundError,
    NotStartedError,
    RequestRefusedError,
    UsageError,
)
from mogrun.outcomes import Outcome, awaiting_input_way_on
from mogrun.runs import RunResult
from mogrun.textsafety import run_command
from mogrun.threads import start_helpers

if TYPE_CHECKING:
    from mogrun.engine.signals import InterruptibleSleep


@click.command("logs")
@click.argument("target", required=False, metavar="[JOB|JOB:owner/name|RUN_ID]",
                shell_complete=complete_jobs, callback=run_id_case)
@click.option("-f", "--follow", is_flag=True, help="Follow every run to its end; exit 0 if "
              "each passed its job's gates, else as run would (1: one did not; 64, 65, "
              "69, 75: the API refused the following).")
@click.pass_obj
def logs_command(state: CliState, target: str | None, follow: bool) -> int:
    """A run's events (every run of a job's latest invocation; no name: the
    latest invocation).

    With --follow, Ctrl-C or SIGTERM stops following (the runs go on), says
    how each run stands, and exits 130 or 143 (--json: after the summary).
    A job whose latest invocation has started none of its runs while a
    mogrun on this machine still waits to start them (for their needs or a
    sandbox slot) is said so, as cancel says it (exit 1): an older
    invocation's runs do not stand for them. A fan-out followed whole that
    lists a repo it never ran here (added since it ran) has not passed
    either: said, and skipped in the summary (exit 1).

    \b
    Examples:
      mogrun logs                      the runs of the latest invocation
      mogrun logs weekly-cleanup
      mogrun logs --follow codemod     all of a fan-out's runs at once
      mogrun logs codemod:acme/web     one run of a fan-out
      mogrun --local logs hello        a --local run, from its kept events
    """
    if state.local and follow:
        raise _local_follow_refusal(state, target)
    state.hold_github_commands()  # agent text follows
    taskfile, history = open_state(state, lenient=False)
    try:
        secrets = env_secrets(state, taskfile)
        unstarted: list[Target] = []
        try:
            found = log_targets(state, history, taskfile, target, secrets, unstarted)
        except NotStartedError as exc:  # --follow asks whether it passed: it did not
            raise exc.as_not_passed() if follow else exc from exc
        targets = with_automations(found, taskfile)
        if state.local:  # a run id it never recorded is refused, as status refuses it
            targets = located(state, None, taskfile, history, targets, "logs")
            return _print_kept(state, taskfile, targets, secrets)
        import time

        from mogrun.engine.signals import InterruptibleSleep

        stop = threading.Event()  # set at the first signal: a retry's wait ends there
        sleeper = InterruptibleSleep(stop, time.sleep)
        client = api_client(state, taskfile, sleeper)
        targets = located(state, client, taskfile, history, targets, "logs")
        if not follow:
            return print_logs(state, client, targets, secrets)
        gates = GateJudge(state, [t.row.job for t in targets if t.row is not None])
        gates.load()  # here, not in a follower's thread: plugins load on the main thread
        never = _never_run(state, history, taskfile, target, targets)
        return follow_all(state, client, history, targets, secrets, gates, stop, sleeper,
                          unstarted, never)
    finally:
        history.close()


def _never_run(state: CliState, history: Any, taskfile: Any, target: str | None,
               targets: Sequence[Target]) -> list[RunResult]:
    """The runs of a fan-out followed whole (no name, or a job's) of repos it never
    ran here, added to its list since (``say_never_run``: said): not passed, in the
    summary as skipped. ``logs --follow fan`` exited 0 having followed the others."""
    if target is not None and target not in taskfile.job_names:
        return []  # a run id, or one run of a fan-out: that run is what is judged
    rows = [t.row for t in targets if t.row is not None]
    return [RunResult(job=job, repo=repo, outcome=Outcome.SKIPPED, exit_code=1,
                      message="never run here (added to its repos since it ran)")
            for job, repos in say_never_run(state, history, taskfile, rows).items()
            for repo in repos]


def log_targets(state: CliState, history: Any, taskfile: Any, target: str | None,
                secrets: frozenset[str], unstarted: list[Target] | None = None) -> list[Target]:
    """The runs to show; a job whose latest start was refused shows the latest runs
    that did start, saying so on stderr, unless a mogrun here is still to start it
    (``still_to_start``: said, as ``cancel`` says it). A run whose latest attempt never started
    after a capacity refusal is said (``_never_started``), and shows the refused run."""
    if target is None:
        rows = history.latest_invocation()  # each run's latest attempt, as status's
        if not rows:
            raise UsageError("no runs recorded yet against this API", context=[
                *recorded_elsewhere(state, taskfile, history, ["logs"]),
                f"History: {history.path} ({history.base_url})"])
        _never_started(state, history, rows)
        _say_unstarted(state, history, rows, unstarted)
        return [Target(r.run_id, row_label(history, r), r) for r in rows if r.run_id]
    rows = rows_for(history, taskfile, target, secrets, state=state, command="logs")
    if not rows:  # a run id history has not seen: asked of the API as it is
        return [Target(target, target)]
    refused = _never_started(state, history, rows)
    targets = [Target(r.run_id, row_label(history, r), r) for r in rows if r.run_id]
    targets += [t for t in refused if t.run_id not in {s.run_id for s in targets}]
    from mogrun.cli.run_cmd import command_prefix

    waiting = None if targets else still_to_start(
        target, rows, lambda _pid: "Its output is in that mogrun's terminal; once it has "
        f"started, {command_prefix(state)} logs --follow {target} follows it here.")
    if waiting is not None:  # not an older invocation's runs: this one's are to come
        raise waiting
    if targets or ":" in target:
        if not targets:
            raise NotStartedError(f"no started runs recorded for {target!r}")
        _say_unstarted(state, history, rows, unstarted)
        return targets
    return _last_started(state, history, target)


_STILL_TO_START = "no run to show yet: mogrun (pid {pid}) on this machine is still to start it"


def _say_unstarted(state: CliState, history: Any, rows: Sequence[Any],
                   unstarted: list[Target] | None) -> None:
    """Each run of ``rows`` with no events to show, said rather than left out: one a
    mogrun here is still to start, and one whose start was refused or never sent
    (not passed, for ``--follow``); one refused for capacity is ``_never_started``'s."""
    for row in _to_start(history, rows, unstarted):  # this invocation's, still to come
        _say_not_started(state, history, row, _STILL_TO_START.format(pid=row.owner_pid))
    for row in rows:
        if not row.run_id and not row.waiting and never_started(history, row) is None:
            _say_not_started(state, history, row, f"no run to show ({_why(row)})")
            _not_passed(history, row, unstarted)


def _not_passed(history: Any, row: Any, unstarted: list[Target] | None) -> None:
    """A run of the invocation that has no run and will have none here (its start was
    refused, or never sent): ``--follow`` cannot say it passed (it exited 0 having
    followed only the others)."""
    if unstarted is not None:
        unstarted.append(Target("", row_label(history, row), row))


def _to_start(history: Any, rows: Sequence[Any], unstarted: list[Target] | None) -> list[Any]:
    """The rows of ``rows`` a mogrun on this machine is still to start (``waiting``),
    each added to ``unstarted`` as a target with no run: ``--follow`` cannot say such
    a run passed (it exited 0 having followed only those started so far)."""
    waiting = [row for row in rows if row.waiting]
    if unstarted is not None:
        unstarted += [Target("", row_label(history, row), row) for row in waiting]
    return waiting


def _never_started(state: CliState, history: Any, rows: Sequence[Any]) -> list[Target]:
    """Each run whose latest attempt never started after the server refused the one
    before for capacity, said (on stderr; with ``--json`` a ``not_started`` object);
    returns the refused runs, the last each of them made."""
    refused = []
    for row in rows:
        note = never_started(history, row)
        if note is None:
            continue
        _say_not_started(state, history, row, note)
        before = history.attempt_before(row)
        if before is not None and before.run_id:
            refused.append(Target(before.run_id, row_label(history, row), before))
    return refused


def _say_not_started(state: CliState, history: Any, row: Any, note: str) -> None:
    """``note: job:owner/name: ...`` on stderr; with ``--json`` a ``not_started`` object."""
    label = row_label(history, row)
    if state.json_output:
        state.echo_json({"type": "not_started", "job": row.job, "repo": row.repo,
                         "label": label, "attempt": row.attempt, "message": note})
    else:
        from mogrun.textsafety import escape_agent_text

        state.echo(escape_agent_text(f"note: {label}: {note}"), err=True)


def _last_started(state: CliState, history: Any, job: str) -> list[Target]:
    """The runs of ``job``'s latest invocation that started one."""
    refused = history.latest_invocation_of(job)
    started = [r for r in history.recent(limit=10_000, job=job) if r.run_id]
    if not started:
        raise NotStartedError(f"no started runs recorded for {job!r}",
                         context=[_why(refused[0])] if refused else [])
    invocation = started[0].invocation
    rows = [r for r in reversed(started) if r.invocation == invocation]
    state.echo(f"note: the latest invocation of {job} started no run ({_why(refused[0])}); "
               f"showing the runs of invocation {invocation}", err=True)
    return [Target(r.run_id, row_label(history, r), r) for r in rows]


def _why(row: Any) -> str:
    """How a run that started none stands: its outcome, else as ``status`` shows it
    (``unconfirmed`` when its start may have made a run)."""
    return f"{row.outcome or shown_status(row)}" + (f": {row.message}" if row.message else "")


# On a terminal, a followed run that goes this long without a line says it is still
# going, again as long again: `run` shows its elapsed time each second, and a quiet
# agent left `logs --follow` looking like a hang (17 s of nothing in a QA pass).
QUIET_SAID = 10.0


class _LogSink:
    """Prints what one follower sees on the invocation's streams, secrets masked;
    lines are whole even when several followers print at once."""

    lock = threading.Lock()

    def __init__(self, state: CliState, target: Target, secrets: frozenset[str]) -> None:
        from mogrun.tables import is_terminal

        self.state, self.target, self.secrets = state, target, secrets
        self._on_screen = not state.json_output and is_terminal(state.stderr)
        self._quiet_said = 0.0  # the quiet time last said (0: none since the last change)

    def _line(self, text: str, err: bool = False) -> None:
        with self.lock:
            self.state.echo(text, err=err)

    def event(self, event: Any) -> None:
        if self.state.json_output:
            from mogrun.masking import mask_data
            from mogrun.output.ndjson import event_dict

            self._json(mask_data({"type": "event", **self._names(),
                                  "event": event_dict(event)}, self.secrets))
            return
        from mogrun.output.base import format_event_line

        self._line(format_event_line(self.target.label, event, self.secrets))

    def _json(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.state.echo_json(data)

    def _names(self) -> dict[str, Any]:
        """What names the run in a line about it, as ``run``'s lines name it."""
        row = self.target.row
        return {"job": None if row is None else row.job, "repo": None if row is None else row.repo,
                "run_id": self.target.run_id, "label": self.target.label}

    def status(self, old: str | None, state: Any) -> None:
        if self.state.json_output:  # a status not known before is null, as elsewhere
            self._json({"type": "status", **self._names(), "old": old or None,
                        "status": state.status})

    def finished(self, result: RunResult) -> None:
        """``label  run id  status  outcome`` and, when it did not pass, why: the
        failed gates and their reasons, as ``run``'s result line gives them."""
        from mogrun.output.tables import safe_cell

        why = result.why if result.outcome != Outcome.SUCCESS else ""
        self._line(safe_cell(f"{self.target.label}  {self.target.run_id}  {result.status}  "
                             f"{result.outcome}" + (f": {why}" if why else ""), self.secrets))

    def notice(self, message: str, level: str = "info") -> None:
        from mogrun.textsafety import escape_agent_text

        self._line(escape_agent_text(f"{level}: {self.target.label}: {message}"), err=True)

    def watch(self, state: Any, unchanged_for: float) -> None:
        """After each poll: on a terminal, a run quiet for ``QUIET_SAID`` (then for as
        long again) says so on stderr, with its status."""
        if unchanged_for < self._quiet_said:
            self._quiet_said = 0.0  # it changed: said afresh from now
        if self._on_screen and unchanged_for >= max(QUIET_SAID, 2 * self._quiet_said):
            from mogrun.durations import format_duration
            from mogrun.textsafety import escape_agent_text

            self._quiet_said = unchanged_for
            self._line(escape_agent_text(
                f"{self.target.label}: still {state.status or 'going'}, nothing new for "
                f"{format_duration(round(unchanged_for))}"), err=True)
        return None

    def wait(self, wait: Any) -> None:
        from mogrun.textsafety import escape_agent_text

        self._line(escape_agent_text(f"wait {wait.kind}: {self.target.label}: "
                                     f"{wait.describe()}"), err=True)


def _local_follow_refusal(state: CliState, target: str | None) -> UsageError:
    """Why ``--local logs --follow`` cannot follow: a --local run ends with the
    invocation that started it, or, while that mogrun on this machine still runs,
    only it follows the run (named, with its pid: "nothing left to follow" was
    said of a run going in another terminal)."""
    from mogrun.cli.run_cmd import command_prefix
    from mogrun.textsafety import shell_word

    going = None
    try:
        taskfile, history = open_state(state, lenient=False)
        try:
            found = log_targets(state, history, taskfile, target,
                                env_secrets(state, taskfile))
        finally:
            history.close()
        named = f" {shell_word(target)}" if target else ""
        going = going_in_a_local_mogrun(
            found, "follow it: its output is where that mogrun runs",
            lambda _: f"Its events so far: {command_prefix(state)} logs{named}")
    except MogrunError:  # nothing recorded, an unknown job: nothing to follow either
        pass
    return going or UsageError("--local runs end with the invocation that started them: "
                               "there is nothing left to follow",
                               context=["Their kept events: mogrun --local logs [JOB]"])


def print_logs(state: CliState, client: Any, targets: Sequence[Target],
               secrets: frozenset[str]) -> int:
    """Each run's events so far, in turn. A run the server refuses (one it no longer
    knows) is an error line when there are others, which are still shown (exit 1);
    once the reader left, the exit code is the one reached."""
    from mogrun.engine.automation_kind import Readers

    code, reader = 0, Readers(client)
    for target in targets:
        if "stdout" in state.readers_left:  # `logs | head`: no request for unread events
            break
        follower = _follower(state, reader, target, secrets, len(targets))
        try:
            follower.poll_once()
        except RequestRefusedError as exc:
            if len(targets) == 1 and isinstance(exc, NotFoundError) and target.row is None:
                raise exc.evolve(context=[*exc.context, AUTOMATION_RUN_HINT]) from exc
            if len(targets) == 1:
                raise
            _LogSink(state, target, secrets).notice(exc.message, "error")
            code = 1
            continue
        if follower.state.terminal:  # its events past the API's limit: said, as run says
            follower.say_if_capped()
    return code


def _follower(state: CliState, reader: Any, target: Target, secrets: frozenset[str],
              runs: int, stop: threading.Event | None = None) -> Any:
    """``reader``: the command's ``automation_kind.Readers`` (one look-up of an
    automation for all its runs)."""
    from mogrun.engine.follower import Follower, Pace
    from mogrun.engine.session import overridden_pace, poll_override
    from mogrun.runs import RunState

    override = poll_override(state.env)
    client = reader.client
    return Follower(reader(target.automation), None,
                    RunState(run_id=target.run_id, status=""),
                    _LogSink(state, target, secrets), stop=stop, ended=_recorded_ended(target),
                    interval=lambda: overridden_pace(override) if override else Pace(
                        client.budget.poll_interval(runs)))


def _recorded_ended(target: Target) -> bool:
    """Whether history recorded the run ended (a terminal status is for good)."""
    from mogrun.runs import RunStatus

    return target.row is not None and RunStatus.is_terminal(target.row.status or "")


def follow_all(state: CliState, client: Any, history: Any, targets: Sequence[Target],
               secrets: frozenset[str], gates: GateJudge, stop: threading.Event,
               sleeper: InterruptibleSleep, unstarted: Sequence[Target] = (),
               never_run: Sequence[RunResult] = ()) -> int:
    """Follow every run at once; 0 only if each ended and passed its gates. A signal
    (Ctrl-C, SIGTERM, SIGHUP) stops following, as ``run`` stops: the runs go on, the
    results and the summary are said, and the exit code is the signal's (a second
    one leaves without waiting for the followers). ``stop``: set at that signal;
    ``sleeper``: the client's, whose waits (a 429's Retry-After) end there.
    ``unstarted``: runs another mogrun here is still to start (in the summary as
    waiting), or that never started (as they stand); ``never_run``: a fan-out's runs
    of repos added since (``_never_run``): none has passed (exit 1)."""
    from mogrun.engine.automation_kind import Readers
    from mogrun.engine.session import poll_override
    from mogrun.engine.signals import ForcedExit, SignalWatch
    from mogrun.output.paced import reader_gone

    poll_override(state.env)  # a wrong value is one line (exit 2) here, not in every thread
    verdicts = _Verdicts(state, targets, secrets, [
        _unfollowed(t, _STILL_TO_START.format(pid=t.row.owner_pid), "waiting")
        if t.row is not None and t.row.waiting else
        _unfollowed(t, f"no run to show ({_why(t.row)})", shown_status(t.row), going=False)
        for t in unstarted] + list(never_run))

    left = deque(targets)  # a thread per run; with fewer (the system's limit), in turn
    reader = Readers(client)

    def follow() -> None:
        with sleeper.armed():
            while True:
                try:
                    target = left.popleft()
                except IndexError:
                    return
                followed = _follow_one(state, client, history, target, secrets, gates,
                                       _follower(state, reader, target, secrets,
                                                 len(targets), stop),
                                       signalled=lambda: watch.exit_code)
                verdicts.add(target, followed)

    with SignalWatch(stop, on_first=lambda code: _say_stopping(state, code, verdicts.going())
                     ) as watch:
        threads = _followers(state, follow, len(targets))
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
                    if "stdout" in state.readers_left or reader_gone(state.stdout):
                        state.readers_left.add("stdout")  # `| grep -m1 ready`: no more
                        stop.set()
        except ForcedExit as forced:
            return verdicts.finish(forced.exit_code)
    return verdicts.finish(watch.exit_code)


def _followers(state: CliState, follow: Callable[[], None], count: int) -> list[threading.Thread]:
    """``count`` threads running ``follow``, or as many as the system allows (said
    once: the runs left are followed in turn as the first ones end)."""
    threads, refused = start_helpers(follow, count, "mogrun-logs")
    if refused is not None:
        if not threads:
            raise refused
        with _LogSink.lock:
            runs = f"{len(threads)} run{'s' if len(threads) != 1 else ''}"
            state.warn(f"{refused.message}: following at most {runs} at a time "
                       "(the others in turn)")
    return threads


def _say_stopping(state: CliState, exit_code: int, count: int) -> None:
    """At the first signal: following stops; the runs (not started here) go on."""
    from mogrun.engine.signals import signal_name

    runs = f"{count} run{'s' if count != 1 else ''}"
    with _LogSink.lock:
        if not count:  # every run followed had ended (history says so): none left going
            state.warn(f"{signal_name(exit_code)}: stopping; no run followed is going")
            return
        state.warn(f"{signal_name(exit_code)}: stopping following {runs}, left going (not "
                   "started here); a second signal leaves at once")


class _Verdicts:
    """How each followed run ended, said as ``run`` says it. ``--json``: a job's
    ``job_finished`` once every run followed of it has ended, and a ``summary``
    last (the exit code, every run's result: which gate failed, and why); so a
    script tells a failed gate from a failed run or a lost follow. A run id that
    history never recorded is of no known job: it is in the summary only."""

    def __init__(self, state: CliState, targets: Sequence[Target],
                 secrets: frozenset[str], unfollowed: Sequence[RunResult] = ()) -> None:
        self.state, self.targets, self.secrets = state, list(targets), secrets
        self.results: dict[str, RunResult] = {}
        self.unfollowed = list(unfollowed)  # runs not started yet: none to follow
        self.lock = threading.Lock()

    def add(self, target: Target, result: RunResult) -> None:
        """``target``'s run has ended (or its following has): its job's object
        when it was the job's last run still followed."""
        with self.lock:
            self.results[target.run_id] = result
            job = target.row.job if target.row is not None else None
            runs = [self.results.get(t.run_id) for t in self.targets
                    if t.row is not None and t.row.job == job]
        if self.state.json_output and job is not None and all(runs):
            from mogrun.engine.outcome import job_outcome

            ended = tuple(r for r in runs if r is not None)
            self._json({"type": "job_finished", "job": job, "outcome": job_outcome(ended),
                        "runs": _as_json(ended)})

    def going(self) -> int:
        """How many of the runs followed have not ended (nor their following)."""
        with self.lock:
            return sum(1 for t in self.targets
                       if t.run_id not in self.results and not _recorded_ended(t))

    def finish(self, signalled: int | None = None) -> int:
        """The exit code (0: every run passed; a signal's, ``signalled``, when one
        stopped the following), after the ``--json`` summary; a signal's is said
        as ``run`` says it."""
        from mogrun.errors import combine_exit_codes

        with self.lock:
            ended = [*(self.results.get(t.run_id) or _unfollowed(t) for t in self.targets),
                     *self.unfollowed]
        # as run combines its jobs' codes: a bad token (64) outranks a 429 (75)
        code = combine_exit_codes([*(r.exit_code for r in ended),
                                   *([signalled] if signalled is not None else [])])
        if self.state.json_output:  # as run's summary, usage (automation runs) included
            from mogrun.output.tables import total_usage

            usage = total_usage(ended)
            self._json({"type": "summary", "exit_code": code, "results": _as_json(ended),
                        "rerun": None, **({"usage": usage} if usage is not None else {})})
        else:
            from mogrun.output.tables import usage_line

            cost = usage_line(ended)  # what the automation runs cost, as run says it
            if cost is not None:
                with _LogSink.lock:
                    self.state.echo(cost)
        if signalled is not None and not self.state.json_output:  # as run says at a signal
            from mogrun.cli.run_cmd import command_prefix
            from mogrun.output.tables import going_lines

            with _LogSink.lock:
                for line in going_lines(tuple(ended), self.secrets, command_prefix(self.state)):
                    self.state.echo(line, err=True)
                self.state.echo(f"exit code {code}", err=True)
        return code

    def _json(self, data: dict[str, Any]) -> None:
        from mogrun.masking import mask_data

        with _LogSink.lock:
            self.state.echo_json(mask_data(data, self.secrets))


def _as_json(results: Sequence[RunResult]) -> list[dict[str, Any]]:
    """Results as ``run --json``'s ``job_finished`` and ``summary`` list them."""
    from mogrun.output.ndjson import result_dict

    return [result_dict(result) for result in results]


def _unfollowed(target: Target, message: str = "following ended before the run did",
                status: str | None = None, outcome: Outcome = Outcome.ERROR,
                exit_code: int = 1, going: bool = True) -> RunResult:
    """The result of a run ``logs --follow`` did not see end (its follow failed, it
    awaits input): not passed, and perhaps still going on the server. ``exit_code``:
    a failed follow's error's own (64 a bad token, 75 rate limited...), as ``run``
    exits when its following fails."""
    row = target.row
    # the last status known: seen by the follow, else recorded (a follow stopped
    # before its first poll saw none: its result said "status": "")
    status = status or (row.status if row is not None else None) or None
    return RunResult(job=row.job if row is not None else "",
                     repo=row.repo if row is not None else "", outcome=outcome,
                     run_id=target.run_id, status=status, message=message,
                     exit_code=exit_code, left_going=going)


def _follow_one(state: CliState, client: Any, history: Any, target: Target,
                secrets: frozenset[str], gates: GateJudge, follower: Any,
                signalled: Callable[[], int | None] = lambda: None) -> RunResult:
    """Follow ``target``'s run to its end and judge it by its job's gates;
    ``signalled``: the exit code of the signal that stopped the following, if one
    did (a wait it cut short says 130 whatever the signal: SIGTERM's is 143)."""
    from mogrun.engine.follower import AWAITING_INPUT, AWAITING_INPUT_WHY
    from mogrun.errors import Interrupted

    sink = _LogSink(state, target, secrets)
    try:
        done = follower.follow()
    except Interrupted:  # the stop cut a poll short: said once, by the interrupt's warning
        by_signal = signalled()  # (a signal's code is set before its stop)
        if by_signal is None:  # the command's own stop (its reader left): following
            # stopped, as between two polls (it read as a Ctrl-C's, 130)
            return _unfollowed(target, status=follower.state.status)
        if not follower.state.status and _recorded_ended(target):  # no poll came back
            return _unfollowed(target, "stopped before its events were read; the run "
                               "had ended", exit_code=by_signal, going=False)
        return _unfollowed(target, status=follower.state.status, exit_code=by_signal)
    except MogrunError as exc:
        sink.notice(exc.message, "error")
        return _unfollowed(target, exc.message, follower.state.status, exit_code=exc.exit_code)
    if done.reason == AWAITING_INPUT:  # following on would never end: failed, as run says
        from mogrun.cli.run_cmd import command_prefix

        if target.row is not None:
            record_status(history, target.row, done.state)
        cancel = run_command(command_prefix(state), "cancel", target.run_id)
        sink.notice(f"{target.run_id} is {AWAITING_INPUT_WHY}; "
                    + awaiting_input_way_on(cancel), "warning")
        return _unfollowed(target, AWAITING_INPUT_WHY, done.state.status, Outcome.FAILED)
    if not done.state.terminal:
        return _unfollowed(target, status=done.state.status)
    result = gates.result(target.row, done.state, done.events)
    if target.row is not None:
        record_status(history, target.row, done.state, result, gates.secrets_of(target.row))
    if not state.json_output:
        sink.finished(result)
    return result


def _print_kept(state: CliState, taskfile: Any, targets: Sequence[Target],
                secrets: frozenset[str]) -> int:
    """``--local``: the events kept when the runs happened (the emulator is gone)."""
    from mogrun.cli.local_events import LocalEventLog, events_path

    path = events_path(taskfile.project_dir)
    if not path.exists():
        raise UsageError("no events kept for --local runs yet",
                         context=["They are kept from this version on: mogrun --local JOB"])
    log = LocalEventLog(path)
    try:
        for target in targets:
            sink = _LogSink(state, target, secrets)
            for event in log.events(target.run_id):
                sink.event(event)
            row = None if target.row is None else as_left_locally(target.row)
            if row is not None and not state.json_output:  # as status shows it
                sink._line(f"{target.label}  {target.run_id}  {row.status or '-'}  "
                           f"{row.outcome or '-'}")
                note = ended_unseen(state, row, taskfile.jobs)
                if note is not None:
                    sink._line(f"{target.label}: {note}")
    finally:
        log.close()
    return 0
