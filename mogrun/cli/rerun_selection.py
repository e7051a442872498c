"""What a rerun starts: the ``Selection`` ``run_cmd.execute`` calls with the task
file's jobs (and ``show`` with ``-n``), which picks the runs to start again and
the attempt each starts at, reading first the runs left going and holding back
those still going, with the jobs that need them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mogrun.cli.rerun_keys import as_sent, recorded_base_key, unanswered, went_to
from mogrun.cli.rerun_repos import RepoEdits
from mogrun.cli.rerun_rows import follower_pid, left_alone, read_history, run_at
from mogrun.cli.run_cmd import command_prefix
from mogrun.textsafety import run_command

if TYPE_CHECKING:
    from mogrun.cli.state import CliState
    from mogrun.engine.history import History
    from mogrun.engine.history_row import HistoryRow
    from mogrun.errors import MogrunError
    from mogrun.models import ResolvedJob
    from mogrun.runs import RunState


PASSED_SINCE = ("nothing to rerun: every run of the latest invocation has passed (those "
                "left going ended well since)")
NO_LONGER_IN_FILE = ("nothing to rerun: the runs that did not pass are no longer in the "
                     "task file")


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
        # What the task file made of the repos of the runs read (passed ones too).
        self.repos = RepoEdits(state, taskfile, read, labels, whole, self._say)
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
            wanted = self.repos.moved(jobs, wanted)
        added = self.repos.added(jobs, wanted, held, history)
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
                    if again:  # the same key must carry the same request, to the same place
                        plan = dataclasses.replace(as_sent(plan, row, job.secrets),
                                                   automation=went_to(job, row))
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
                        where = ("" if plan.automation is None else
                                 f" to automation {plan.automation}, where it went,")
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
            elif runs:  # the job names the automation all its runs trigger, if one (its
                # check looks that one up); else each run its own (ResolvedJob.for_run)
                went = {plan.automation for plan in runs}
                chosen.append(dataclasses.replace(job, runs=tuple(runs), automation=(
                    went.pop() if len(went) == 1 else None) or job.automation))
        self.repos.say_removed(jobs, {at: row for at, row in wanted.items() if at[0] not in held})
        return chosen, attempts

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

        return read_history(self.state, self.taskfile, history, first_free, row.attempt + 1)

    def _say_masked(self, row: HistoryRow) -> None:
        """A recorded key that hides a secret the job's key no longer holds the same
        way (the job changed): its next attempt cannot derive from it, and says so."""
        from mogrun.masking import MASK

        if row.idempotency_key and MASK in row.idempotency_key:
            self._say(f"{self.labels[row.id]}: its recorded Idempotency-Key "
                      f"({row.idempotency_key}) hides a secret the job's key no longer "
                      f"holds the same way: attempt {row.attempt + 1} is sent under a key "
                      "derived from today's")

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
