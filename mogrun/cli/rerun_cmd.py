"""``mogrun rerun [JOB...]``: new attempts of what did not pass last time.

The latest invocation (of the named jobs, or the latest invocation of all)
is read from the task file's history. Every run of it that did not pass — failed,
cancelled, timed out, gate failed, skipped, never started — starts again as
its next attempt, under a key derived from the run's own key and the attempt
number (so a lost answer replays that attempt); passed runs are not repeated.
A run whose key was never sent (skipped) starts under it: the start it never
made. A fan-out's repo added since, never run here, starts as its first attempt.
A job skipped because a need failed runs once that need passes; a need the
task file gives it now that never ran here runs first, as its first attempt.
Options and exit codes are those of ``run``.

A run that may still be going (its following failed, it was left going at its
timeout or at Ctrl-C: recorded with a failing outcome and a status that is not
terminal) is never started again while it goes: its state is read first
(``GET /runs/{id}/events``, inside the request budget). Still going, it is left alone
(with the command that follows it) but recorded again in this invocation as it
stands (its run id, a failing outcome, why), and so is a job that needs its job
(recorded skipped): the next rerun finds both and reads the run again; ended,
it is judged as it ended. ``--local`` runs ended with their emulator, unless
the mogrun that started one still runs: it follows the run there, so it is held.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from mogrun.cli import framework as click
from mogrun.cli.completion import complete_jobs
from mogrun.cli.rerun_keys import (
    as_sent,
    keys_never_sent,
    recorded_base_key,
    refused_unstored,
    unanswered,
    went_to,
)
from mogrun.cli.rerun_rows import (
    follower_pid,
    held_back,
    in_file,
    latest_per_run,
    latest_rows,
    left_alone,
    needs_rows,
    not_passed,
    run_at,
)
from mogrun.cli.run_cmd import (
    RunCommand,
    command_prefix,
    parse_shard_option,
    parse_timeout,
    plugin_options,
    run_options,
    session_options,
)
from mogrun.cli.state import CliState
from mogrun.textsafety import run_command

T = TypeVar("T")

if TYPE_CHECKING:
    from mogrun.engine.history import History, HistoryRow
    from mogrun.errors import MogrunError
    from mogrun.models import ResolvedJob, RunPlan
    from mogrun.runs import RunState

RERUN_HELP = """Start new attempts of the runs of the latest invocation that did not pass.

\b
Passed runs are not repeated; failed, cancelled, timed-out, gate-failed,
skipped and never-started runs start again as their next attempt (a new
Idempotency-Key derived from the run's own, one no invocation here has
used: after a run that attached to an earlier attempt, the attempt after
the last one made). A run that never sent its key
(skipped: a need failed, say) starts under that key, as its first start:
a later run of the job under the same key (idempotency_key =
"verify-{{ date }}") attaches to it rather than starting another.
With JOB names, the latest invocation of each, and of each job they need
(rerun first where it did not pass; not with --no-deps); without, every
job of the latest invocation. The needs are the task file's now: one
never run here (added since, or left out by --no-deps) starts first too,
as its first attempt.
Latest means of this task file: each task file in a folder (-f
nightly.toml) has its own history; the legs of a --shard I/N matrix that
share it are one invocation. With --shard I/N, each run of the leg
is judged by its latest attempt, whichever invocation made it (another
leg may have run here since).

A run left going (following failed, on_timeout = "detach", Ctrl-C) is read
from the API first: still going, it is not started again (follow it with
mogrun logs --follow ID), nor is a job that needs it; ended, it is judged as
it ended (rerun if it did not pass). When the rerun starts other runs, a
run still going is recorded again in its invocation, with its run id and a
message saying why, and a job so held back as skipped (named in the rerun
line). When it would start none (all of it is going, or held back behind
what is), it records nothing (a CI step polling with rerun adds no rows)
and says each run and job, and why, on stderr. Either way the next rerun
reads that run again, reruns it if it ended without passing, and starts the
job once its need has passed. When such a run is still going, or a job is
held back, the exit code is 1: what did not pass has not passed yet. So is a
run another mogrun on this machine is still to start, or (--local: its
emulator is that mogrun's) still follows. Nothing to rerun is
exit 0 (every run passed, or the jobs of those that did not are no longer
in the task file: said, nothing can start them), no run recorded exit 2;
with nothing to rerun, it still ends with the summary every session gives
(--json's summary line, GitHub's step outputs and summary).
A one-repo job whose repo was edited since is rerun on its repo now (said);
a fan-out's run whose repo the list no longer has is not (said too), and
one of a repo it has gained since (never run here) starts, as its first
attempt (said): the job passes only with it, and a job that needs it waits.

\b
Examples:
  mogrun rerun                 what did not pass in the latest invocation
  mogrun rerun codemod         the runs of codemod that did not pass
  mogrun rerun -n              those attempts' start requests; no network
                               (runs left going are said, not read)
"""


def _all_passed(jobs: tuple[str, ...]) -> str:
    """Nothing to rerun: of the jobs named, each one's latest invocation is read
    (another job of that invocation may have failed); of none, the latest one."""
    from mogrun.tables import listed

    if not jobs:
        return "nothing to rerun: every run of the latest invocation passed"
    jobs = tuple(dict.fromkeys(jobs))
    if len(jobs) == 1:
        return f"nothing to rerun: {jobs[0]} passed in the latest invocation that ran it"
    return f"nothing to rerun: {listed(jobs, 3)} each passed in the latest invocation that ran it"


@click.command("rerun", cls=RunCommand, help=RERUN_HELP)
@click.argument("jobs", nargs=-1, shell_complete=complete_jobs)
@run_options
@click.pass_context
def rerun_command(ctx: click.Context, jobs: tuple[str, ...], parallel: int, dry_run: bool,
                  timeout: str | None, detach: bool, no_deps: bool, keep_going: bool,
                  plugins: tuple[str, ...], shard: str | None, **plugin_values: Any) -> int:
    state: CliState = ctx.obj
    from mogrun.cli.loading import load_taskfile, project_history
    from mogrun.cli.run_cmd import execute
    from mogrun.taskfile.graph import check_job_names

    timeout_override = parse_timeout(timeout)
    slice_ = parse_shard_option(shard)
    taskfile = load_taskfile(state)
    check_job_names(taskfile, jobs)  # a typo gets run's "did you mean", not "never run"
    history = project_history(state, taskfile)
    fresh: dict[str, str] = {}
    try:
        rows = latest_rows(state, taskfile, history, jobs)
        if slice_ is not None:  # this leg's runs may be older than another leg's
            rows = latest_per_run(history, rows)
        if not no_deps:
            rows += needs_rows(history, taskfile, jobs or held_back(taskfile, rows),
                                {*jobs, *(row.job for row in rows)})[0]
        retry = not_passed(rows)
        if not no_deps and retry:
            # The needs the task file gives the jobs to rerun now (it may have been
            # edited, or they ran with --no-deps): each must pass first, as in run.
            more, fresh = needs_rows(history, taskfile, in_file(taskfile, retry),
                                      {row.job for row in rows})
            rows += more
            retry += not_passed(more)
        labels = {row.id: _label(history, row) for row in retry}
        unsent = keys_never_sent(history, retry)
        refused = refused_unstored(history, retry)
    finally:
        history.close()
    from mogrun.cli.run_cmd import no_runs

    if not retry:
        state.echo(_all_passed(jobs), err=True)
        return 0 if dry_run else no_runs(state)
    names = _in_task_file(state, taskfile, dict.fromkeys(row.job for row in retry))
    if not names:
        state.echo(NO_LONGER_IN_FILE, err=True)
        return 0 if dry_run else no_runs(state)
    names += [name for name in fresh if name not in names]
    selection = Selection(state, taskfile, retry, labels, use_needs=not no_deps,
                          whole=slice_ is None, fresh=fresh, read=rows, unsent=unsent,
                          refused=refused)
    if dry_run:
        from mogrun.cli.run_targets import row_automation
        from mogrun.cli.taskfile_views import show_jobs

        for row in selection.unsettled:
            pid = follower_pid(row)
            how = ("was left going" if pid is None else
                   f"is followed by mogrun (pid {pid}) on this machine")
            automation = row_automation(row, taskfile)  # its runs are read through it
            read = (f"GET /runs/{row.run_id}/events" if automation is None else
                    f"GET /automations/{automation}/runs/{row.run_id}")
            state.echo(f"{labels[row.id]}: run {row.run_id} {how} ({row.status}); a rerun "
                       f"first reads its state ({read}) and starts "
                       f"attempt {row.attempt + 1} only if it has ended without passing",
                       err=True)
        return show_jobs(state, names, no_deps=no_deps, timeout_override=timeout_override,
                         extra_plugins=plugins, shard=slice_, select=selection,
                         options=plugin_options(ctx, plugin_values))
    return execute(state, names, session_options(state, parallel=parallel,
                                                 keep_going=keep_going, detach=detach,
                                                 no_deps=no_deps),
                   plugins=plugins, options=plugin_options(ctx, plugin_values),
                   timeout_override=timeout_override, shard=slice_, select=selection)


PASSED_SINCE = ("nothing to rerun: every run of the latest invocation has passed (those "
                "left going ended well since)")
NO_LONGER_IN_FILE = ("nothing to rerun: the runs that did not pass are no longer in the "
                     "task file")


def _in_task_file(state: CliState, taskfile: Any, names: Iterable[str]) -> list[str]:
    """``names`` that are still jobs of the task file; each one removed since is said
    (its runs cannot be started again: nothing says how)."""
    kept = []
    for name in names:
        if name in taskfile.job_names:
            kept.append(name)
        else:
            state.echo(f"{name}: no longer in the task file; not rerun", err=True)
    return kept


def _label(history: History, row: HistoryRow) -> str:
    from mogrun.cli.run_targets import row_label

    return str(row_label(history, row))


class Selection:
    """The runs to start again (by masked label) and the attempt each starts at.

    Called with the API client (``run``), it first reads every run that may still
    be going (``unsettled``): one still going is held back, with every job that
    needs its job (``use_needs``); one that has ended is recorded as it ended and
    rerun only if it did not pass. Called without (``-n``), nothing is read."""

    def __init__(self, state: CliState, taskfile: Any, retry: Sequence[HistoryRow],
                 labels: Mapping[int, str], *, use_needs: bool = True,
                 whole: bool = True, fresh: Mapping[str, str] | None = None,
                 read: Sequence[HistoryRow] = (), unsent: Collection[int] = (),
                 refused: Collection[int] = ()) -> None:
        from mogrun.outcomes import RunStatus

        self.whole = whole  # the jobs it is given hold every run (no --shard slice)
        # Needs never run here (job -> a job to rerun that needs it): every run of
        # each starts, as its first attempt, before the jobs that need it.
        self.fresh = dict(fresh or {})
        # The runs of the invocations read (passed ones too), and each job's invocation:
        # a run of a fan-out in neither may be one of a repo added since (``_added``).
        self.recorded = {run_at(row.job, row.repo) for row in read}
        self.invocations = {row.job: row.invocation for row in read}
        self.unsent = frozenset(unsent)  # rows of ``retry`` whose key was never sent
        self.refused = frozenset(refused)  # ... refused unstored (``refused_unstored``)
        self.state = state
        self.taskfile = taskfile
        self.retry = list(retry)
        self.labels = labels
        self.use_needs = use_needs
        self.held: list[str] = []  # what was not rerun because it (or a need) is going
        self.ways_said = False  # a run still going was said with how to follow it
        # The other mogruns on this machine that follow, or are still to start, what is held.
        self.others: dict[int, None] = {}
        # The jobs (with the runs to rerun) held back behind a need still going, and
        # why: recorded as not started in this invocation, so the next rerun finds them.
        self.held_back: list[tuple[ResolvedJob, str]] = []
        # The runs left going that still go (run label -> their state now, and why they
        # are not started): recorded as they stand in this invocation, with their run,
        # so the next rerun reads them again (they are what it has not passed yet).
        self.going: dict[str, tuple[RunState, str]] = {}
        self._still: dict[tuple[str, str], tuple[HistoryRow, RunState]] = {}
        self.passed_since: list[str] = []  # left going, read back ended well: not rerun
        # Another mogrun on this machine is still to start these (waiting for needs or a
        # slot), or follows them in its own --local emulator, where no other mogrun can
        # read them: started here too, they would take its keys and slots, or double.
        self.owned = [row for row in retry
                      if row.waiting or (state.local and follower_pid(row) is not None)]
        # --local runs live in the emulator of the invocation that started them: one
        # whose mogrun is gone ended with it (one whose mogrun runs is ``owned``).
        self.unsettled = [] if state.local else [
            row for row in retry if row.run_id and not RunStatus.is_terminal(row.status)]

    def __call__(self, jobs: Sequence[ResolvedJob], history: History | None,
                 client: Any = None
                 ) -> tuple[list[ResolvedJob], Mapping[str, tuple[int, str]]]:
        import dataclasses

        from mogrun.cli.shown_rows import sent_key
        from mogrun.engine.runner import UNCONFIRMED
        from mogrun.masking import mask

        retry, going = self.retry, set[str]()
        self._still = {}
        if client is not None and self.unsettled:
            retry, going = self._settle(client, history)
        if self.owned:
            retry, going = self._owned_elsewhere(retry, going)
        held = self._needing(jobs, going) if self.use_needs else {}
        wanted = {run_at(row.job, row.repo): row for row in retry}
        if self.whole:
            wanted = self._moved(jobs, wanted)
        added = self._added(jobs, wanted, held, history)
        chosen: list[ResolvedJob] = []
        attempts: dict[str, tuple[int, str]] = {}
        self.held_back, self.going = [], {}
        for job in jobs:
            if job.name in self.fresh:
                self._say(f"{job.name}: never run here, and {self.fresh[job.name]} needs it: "
                          "it starts first")
                if job.name in held:
                    self.held_back.append((job, held[job.name]))
                else:
                    chosen.append(job)
                continue
            runs = []
            went: str | None = None  # the automation an unanswered trigger went to
            for plan in job.runs:
                at = run_at(job.name, mask(plan.repo, job.secrets))
                kept = self._still.get(at)
                row = wanted.get(at) if kept is None else kept[0]
                if row is not None:
                    base = recorded_base_key(row, plan.request.idempotency_key, job.secrets)
                    if base is not None:  # derived from the run's own key, not today's
                        plan = dataclasses.replace(plan, request=dataclasses.replace(
                            plan.request, idempotency_key=base))
                    elif kept is None and job.name not in held:
                        self._say_masked(row)
                    sends = kept is None and job.name not in held  # an attempt, now
                    refused = sends and base is not None and row.id in self.refused
                    again = sends and (unanswered(row, base) or refused)
                    # A key never sent is the run's first start still to make: under it.
                    unsent = base is not None and row.id in self.unsent
                    if again:  # the same key must carry the same request
                        plan = as_sent(plan, row, job.secrets)
                    runs.append(plan)
                    if kept is not None:  # recorded as it stands: no attempt made
                        self.going[plan.label] = (kept[1], left_alone(row))
                    if job.name in held or kept is not None:
                        attempts[plan.label] = (row.attempt, row.why)
                        continue
                    if again:
                        if row.message == UNCONFIRMED:
                            how = "was accepted without a run id"
                        elif row.outcome is None:  # a killed mogrun's row: its key is
                            # written before a slot is waited for too: maybe never sent
                            how = "may have been sent before its mogrun was killed"
                        elif refused:
                            how = ("was refused (429) before the server stored it, and its "
                                   "key made a run before")
                        else:
                            how = "was never answered"
                        went = went_to(job, row) or went
                        where = "" if went is None else f" to automation {went}, where it went,"
                        self._say(f"{self.labels[row.id]}: its start (Idempotency-Key "
                                  f"{sent_key(row, self.taskfile)}) {how}, so it may "
                                  f"have made a run: attempt {row.attempt} is sent again"
                                  f"{where} under that key, which attaches to such a run, "
                                  "never doubles it")
                    attempts[plan.label] = (
                        row.attempt if again or unsent
                        else self._next_attempt(history, job, row, base), "rerun")
                elif at in added:  # its first attempt, as run would start it
                    runs.append(plan)
            if runs and job.name in held:
                self.held_back.append((dataclasses.replace(job, runs=tuple(runs)),
                                       held[job.name]))
            elif runs:
                chosen.append(dataclasses.replace(job, runs=tuple(runs),
                                                  automation=went or job.automation))
        self._say_removed(jobs, {at: row for at, row in wanted.items() if at[0] not in held})
        return chosen, attempts

    def _moved(self, jobs: Sequence[ResolvedJob],
               wanted: dict[tuple[str, str], HistoryRow]) -> dict[tuple[str, str], HistoryRow]:
        """``wanted`` with the run of a one-repo job whose repo was edited since taken
        as that job's run now, said: the job did not pass and is still in the file
        (its prompt or timeout edited would be rerun as they are now too). A run of
        a fan-out whose repo was taken out is another matter: that run is gone."""
        from mogrun.masking import mask

        moved = dict(wanted)
        for job in jobs:
            if len(job.runs) != 1:
                continue
            repo = mask(job.runs[0].repo, job.secrets)
            now = run_at(job.name, repo)
            rows = [(at, row) for at, row in wanted.items() if at[0] == job.name]
            if now in wanted or len(rows) != 1:
                continue
            (at, row), = rows
            if self.labels[row.id] != row.job:  # recorded as a fan-out's run
                continue
            del moved[at]
            moved[now] = row
            self._say(f"{self.labels[row.id]}: its job's repo is now {repo}; rerun there")
        return moved

    def _added(self, jobs: Sequence[ResolvedJob], wanted: Mapping[tuple[str, str], HistoryRow],
               held: Mapping[str, str], history: History | None) -> set[tuple[str, str]]:
        """The runs of fan-outs whose repos were added to their list since (``_new_runs``).
        Each starts, as its first attempt (said unless its job is held back): a fan-out
        passes only if all its runs pass, so neither it nor a job that needs it has
        passed without them. Under ``--shard`` the jobs hold only this leg's runs, and
        another leg's may have run elsewhere: nothing can be told."""
        from mogrun.masking import mask

        added: set[tuple[str, str]] = set()
        for job in jobs if self.whole else ():
            for at, plan in self._new_runs(job, wanted, history).items():
                added.add(at)
                if job.name not in held:
                    self._say(f"{mask(job.label_of(plan), job.secrets)}: never run here "
                              "(added to its job's repos since invocation "
                              f"{self.invocations[job.name]}): it starts, as its first attempt")
        return added

    def _new_runs(self, job: ResolvedJob, wanted: Mapping[tuple[str, str], HistoryRow],
                  history: History | None) -> dict[tuple[str, str], RunPlan]:
        """The runs of ``job``, read here, that neither the invocation read nor any
        before it holds. A one-repo job edited to another repo is ``_moved`` (its
        run is then in ``wanted``), and one that passed stays passed; a fan-out
        that did not pass, edited to one new repo, is not moved, and its run is one
        of these (it was "nothing to rerun", exit 0, for a job that never passed);
        a job never run here is ``fresh``."""
        from mogrun.masking import mask

        if job.name not in self.invocations or (
                len(job.runs) < 2 and not any(at[0] == job.name for at in wanted)):
            return {}
        missing = {at: plan for plan in job.runs
                   if (at := run_at(job.name, mask(plan.repo, job.secrets))) not in wanted
                   and at not in self.recorded}
        ran = self._ran_here(history, job.name) if missing else set()
        if ran is None:  # unknown: none is taken for new
            return {}
        return {at: plan for at, plan in missing.items() if at[1] not in ran}

    def _ran_here(self, history: History | None, job: str) -> set[str] | None:
        """The repos (each its ``repo_key``) ``job`` has rows of here, in any
        invocation: a rerun's invocation holds only the runs it made. ``None``: the
        history cannot be read."""
        from mogrun.reponames import repo_key

        return self._read(history, lambda found: {
            repo_key(row.repo) for row in found.latest_runs_of(job)}, None)

    def _read(self, history: History | None, read: Callable[[History], T], failed: T) -> T:
        """``read(history)``, ``failed`` where the history cannot be read. ``-n`` passes
        no history: the one rerun read is opened again, for this."""
        from mogrun.errors import MogrunError

        if history is None:
            from mogrun.cli.loading import project_history

            try:
                opened = project_history(self.state, self.taskfile)
            except MogrunError:
                return failed
            try:
                return self._read(opened, read, failed)
            finally:
                opened.close()
        try:
            return read(history)
        except MogrunError:
            return failed

    def _next_attempt(self, history: History | None, job: ResolvedJob, row: HistoryRow,
                      base: str | None) -> int:
        """The attempt after ``row``'s whose key no invocation here has used. After
        a run attached to attempt 1 again (a same-day rerun of a job keyed by
        ``{{ date }}``), ``row.attempt + 1`` was an attempt an earlier rerun had
        sent: its key attached to that failed run, and nothing was ever retried."""
        if base is None:  # no key derived from the run's own: today's starts afresh
            return row.attempt + 1
        from mogrun.engine.track import attempt_key
        from mogrun.masking import mask

        def first_free(found: History) -> int:
            first = row.attempt + 1
            while True:  # a batch of keys a query: attempts made are few, and in a row
                keys = {mask(attempt_key(base, n), job.secrets): n
                        for n in range(first, first + 16)}
                used = {one.idempotency_key for one in found.rows_keyed(job.name, keys)}
                free = [n for key, n in keys.items() if key not in used]
                if free:
                    return min(free)
                first += 16

        return self._read(history, first_free, row.attempt + 1)

    def _say_masked(self, row: HistoryRow) -> None:
        """A recorded key that hides a secret the job's key no longer holds the same
        way (the job changed): its next attempt cannot derive from it, and says so."""
        from mogrun.masking import MASK

        if row.idempotency_key and MASK in row.idempotency_key:
            self._say(f"{self.labels[row.id]}: its recorded Idempotency-Key "
                      f"({row.idempotency_key}) hides a secret the job's key no longer "
                      f"holds the same way: attempt {row.attempt + 1} is sent under a key "
                      "derived from today's")

    def _say_removed(self, jobs: Sequence[ResolvedJob],
                     wanted: Mapping[tuple[str, str], HistoryRow]) -> None:
        """Each run to rerun whose repo its job no longer lists is said, as a job
        removed from the file is (``_in_task_file``): it cannot be started again.
        Under ``--shard`` the jobs hold only this leg's runs: nothing can be told."""
        if not self.whole:
            return
        from mogrun.cli.run_targets import repo_dropped
        from mogrun.masking import mask

        listed = {job.name: [mask(plan.repo, job.secrets) for plan in job.runs]
                  for job in jobs}
        for row in wanted.values():
            if row.job in listed and repo_dropped(row, self.labels[row.id] != row.job,
                                                  listed[row.job]):
                self._say(f"{self.labels[row.id]}: {row.repo} is no longer one of {row.job}'s "
                          "repos in the task file; not rerun")

    def _settle(self, client: Any, history: History | None
                ) -> tuple[list[HistoryRow], set[str]]:
        """The runs still to rerun, and the jobs with a run still going: each run
        that may be going is read (``GET /runs/{id}/events``: its gates may need its events)
        before anything starts."""
        from mogrun.cli.judging import GateJudge
        from mogrun.cli.run_targets import row_automation
        from mogrun.cli.status_cmd import record_status
        from mogrun.engine.automation_kind import Readers
        from mogrun.errors import MogrunError, NotFoundError
        from mogrun.outcomes import Outcome, RunStatus, awaiting_input_way_on

        dropped: set[int] = set()  # rows not to rerun: still going, or since passed
        going: set[str] = set()
        judge = GateJudge(self.state, [row.job for row in self.unsettled])
        reader = Readers(client)
        for row in self.unsettled:
            label, run_id = self.labels[row.id], str(row.run_id)
            try:
                run, events = reader(row_automation(row, self.taskfile)).get_events(run_id)
            except NotFoundError as exc:  # the API's word: no such run (no proxy's 404)
                self._say(f"{label}: run {run_id} is unknown to the server ({exc.message}), "
                          "so not going; rerun")
                continue
            except MogrunError as exc:
                raise _undecided(exc, run_id) from exc
            if not run.terminal:
                going.add(row.job)
                dropped.add(row.id)
                self._still[run_at(row.job, row.repo)] = (row, run)
                self.held.append(label)
                command = command_prefix(self.state)
                way_on = (awaiting_input_way_on(run_command(command, "cancel", run_id))
                          if run.status == RunStatus.AWAITING_INPUT else  # follow: no end
                          f"follow it with: {run_command(command, 'logs --follow', run_id)}")
                self.ways_said = True
                pid = follower_pid(row)
                if pid is not None:
                    self.others[pid] = None
                by = "" if pid is None else f", followed by mogrun (pid {pid}) on this machine"
                self._say(f"{label}: run {run_id} is still going ({run.status}){by}, not "
                          f"rerun; {way_on}")
                continue
            judged = judge.result(row, run, events)
            ended = Outcome(judged.outcome)
            if history is not None:
                try:
                    record_status(history, row, run, judged, judge.secrets_of(row))
                except MogrunError as exc:  # a read-only history: said, as run says it
                    self._say(f"warning: {exc.message}")
            if ended.passed:
                dropped.add(row.id)
                self.passed_since.append(label)
            how = run.status if ended == Outcome.of_status(run.status) else (
                f"{run.status}, {ended}")  # its gates failed it
            self._say(f"{label}: run {run_id} has since ended {how}; "
                      + ("not rerun" if ended.passed else "rerun"))
        return [row for row in self.retry if row.id not in dropped], going

    def _owned_elsewhere(self, retry: list[HistoryRow], going: set[str]
                         ) -> tuple[list[HistoryRow], set[str]]:
        """Hold back the runs another mogrun here is still to start, or follows in its
        --local emulator, as runs still going are (and with them, every job that
        needs theirs)."""
        owned = {row.id for row in self.owned}
        for row in self.owned:
            going.add(row.job)
            if row.owner_pid is not None:
                self.others[row.owner_pid] = None
            self.held.append(self.labels[row.id])
            by = f"mogrun (pid {row.owner_pid}) on this machine"
            self._say(f"{self.labels[row.id]}: run {row.run_id} is still going ({row.status}), "
                      f"followed by {by} in its --local emulator, not rerun" if row.run_id
                      else f"{self.labels[row.id]}: not rerun: {by} is still to start it "
                      "(waiting for its needs or a sandbox slot)")
        return [row for row in retry if row.id not in owned], going

    def _needing(self, jobs: Sequence[ResolvedJob], going: set[str]) -> dict[str, str]:
        """The jobs (graph order) that need, directly or not, a job still going, and
        why each is not started (its row says it: the next rerun finds it there)."""
        held: dict[str, str] = {}
        root: dict[str, str] = {}  # held job -> the job still going it waits for
        candidates = {row.job for row in self.retry}
        for job in jobs:
            busy = [need for need in job.needs if need in going or need in held]
            if busy and job.name not in going:
                need = busy[0]
                root[job.name] = need if need in going else root[need]
                # a need held itself is not going: say what it waits for
                held[job.name] = (f"not rerun while its need {need} is still going"
                                  if need in going else f"not rerun while its need {need} "
                                  f"waits for {root[job.name]}, still going")
                if job.name in candidates:
                    self.held.append(job.name)
                    self._say(f"{job.name}: {held[job.name]}")
        return held

    def starts(self, jobs: Sequence[ResolvedJob]) -> bool:
        """Whether ``jobs`` (as this selection chose them) start a run: not when every
        run is one still going, kept as it stands."""
        return any(plan.label not in self.going for job in jobs for plan in job.runs)

    def nothing_left(self, leg: str | None) -> str:
        """Why nothing is started, when the selection picked no run (of ``leg``)."""
        if self.held:
            return ("nothing to rerun now: what did not pass is still going (or needs what "
                    f"is); {self._way_on()}")
        if leg is not None:
            return f"{leg}: none of the runs to rerun fall in this leg; nothing to do"
        if self.passed_since:  # the rest (if any) were said to be gone from the file
            return PASSED_SINCE if len(self.passed_since) == len(self.retry) else (
                "nothing to rerun: the runs that did not pass have since ended well or "
                "are no longer in the task file")
        return NO_LONGER_IN_FILE

    def _way_on(self) -> str:
        """What to do about what is held: follow it (as said), and rerun once the other
        mogruns here that hold some of it have ended."""
        ways = ["follow it as said above"] if self.ways_said else []
        if self.others:
            pids = ", ".join(str(pid) for pid in self.others)
            ways.append(f"rerun once mogrun (pid {pids}) on this machine has ended"
                        if len(self.others) == 1 else
                        f"rerun once the mogruns (pids {pids}) on this machine have ended")
        return "; ".join(ways) or "rerun once it has ended"

    def _say(self, text: str) -> None:
        from mogrun.output.base import escape_agent_text

        self.state.echo(escape_agent_text(text), err=True)


def _undecided(exc: MogrunError, run_id: str) -> MogrunError:
    """A run left going whose state could not be read: nothing starts (exit as the error)."""
    return exc.evolve(context=[*exc.context, f"rerun reads run {run_id} (left going) before "
                               "starting it again; nothing was started"])
