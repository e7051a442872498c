"""The ``automation`` job kind: trigger a published Mogplex automation per repo.

It differs from a run in how it starts and is read, nothing else (see
``kinds.py``). What the trigger endpoint makes us do:

- Its Idempotency-Keys are global across every user of the server, so the
  key sent is never the user's string: it is derived from the automation,
  the repo, the job and the job's key (and the attempt), which makes it
  unique to this project's job yet stable across CI retries.
- A reused key answers ``suppressed / IDEMPOTENT_DUPLICATE`` with the earlier
  job run's id whatever body was sent. That run is taken as this job's only
  after it reads back from this automation; the first attempt getting it
  means the run predates this invocation (attached), a retry getting it
  means our own lost answer.
- A pending cap (``REPO_PENDING_LIMIT``, ``INSTALLATION_PENDING_LIMIT``)
  creates nothing and keeps the key free: a DEFERRED wait, then the same
  trigger again, bounded by the job's ``capacity_wait``.
- ``queued`` but deferred by the installation's concurrency limit is a run
  that starts later: announced as a wait, then followed like any other.
- There is no public cancel: at a timeout or Ctrl-C the run is left going.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from mogrun.engine.kinds import Cancelled, Sandbox, Started
from mogrun.engine.rerun import RERUN, rerun_for
from mogrun.errors import MogrunError, NotFoundError, UsageError

if TYPE_CHECKING:  # what running needs is imported there: show only describes a trigger
    from mogrun.api import automations as api
    from mogrun.engine.track import RunTrack
    from mogrun.models import ResolvedJob, RunPlan
    from mogrun.runs import Event, RunState
    from mogrun.waits import Wait

    class _Sleeper(Protocol):
        def sleep(self, seconds: float) -> None: ...

    class _WaitSink(Protocol):
        def emit(self, wait: Wait) -> None: ...

    class AutomationClient(api.Caller, Protocol):
        """What this kind needs of the API client: requests, its waits, its budget."""

        @property
        def budget(self) -> _Sleeper: ...

        @property
        def waits(self) -> _WaitSink: ...

CAP_RETRY = (2.0, 30.0)  # first and longest pause between triggers a pending cap suppresses
# The server's repair cron runs every 5 minutes and restarts a pending job run once
# its last start attempt is 2 minutes old.
REPAIR_AFTER, REPAIR_EVERY = 120.0, 300.0


def trigger_key(track_key: str, automation_id: str, repo_id: str, job: str,
                project: str = "") -> str:
    """The key the trigger sends: ``mogrun-`` and a digest of what makes this
    job's run this job's (never the bare user string: keys are server-global),
    the project included when it has an identity (``projectkey``: two task files
    of one account with the same job, key, automation and repo are two runs)."""
    import hashlib  # only when a trigger is sent: show and check need no digest

    parts = ("mogrun", automation_id, repo_id, job, track_key, *((project,) if project else ()))
    # surrogateescape: a task file's path in a folder named in latin-1 is the bytes
    # the file system gave (it was an internal error, a UnicodeEncodeError).
    digest = hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape"))
    return "mogrun-" + digest.hexdigest()[:40]


def describe_trigger(plan: RunPlan, automation: str) -> dict[str, Any]:
    """The trigger ``plan`` sends (``show``): the key is derived when sent, from
    ids only the API knows, so it is described rather than computed here."""
    body: dict[str, Any] = {"repoId": plan.request.repo_id or plan.request.repo}
    if plan.inputs:
        body["input"] = dict(plan.inputs)
    return {"method": "POST", "path": f"/automations/{automation}/trigger",
            "idempotency_key": "mogrun-<digest of the automation, the repo, the job and "
                               f"{plan.request.idempotency_key!r}>", "body": body}


class AutomationKind:
    """Triggers, reads back and follows automation job runs."""

    name = "automation"
    cancellable = False  # the public API has no cancel for automation runs

    def __init__(self, client: AutomationClient,
                 clock: Callable[[], float] = time.monotonic,
                 rerun_command: str | None = None,
                 project: Callable[[], str] | None = None) -> None:
        self.client, self.clock = client, clock
        self.rerun_command = rerun_command or RERUN  # how a fresh attempt is started
        self._project = project  # its identity (``projectkey``): asked once, see _identity
        self._identity: str | None = None
        self._readers: dict[str, AutomationReader] = {}  # automation as written -> reader
        self._lock = threading.Lock()

    def claims(self, job: ResolvedJob) -> bool:
        return job.automation is not None

    def validate(self, job: ResolvedJob) -> None:
        """The automation's name resolves (once per name): a misspelt one is a usage
        error naming the close ones before anything starts, not a failed run each.
        So is one the server would refuse to trigger (not published, or inactive):
        the jobs it needs would otherwise run first, for nothing. Each automation a
        run triggers is judged: a rerun sends an unanswered trigger again to the one
        it went to (``RunPlan.automation``), which the server refuses just the same
        (it asks for a published automation before it looks at the key)."""
        for each in [job.for_run(run) for run in job.runs] or [job]:
            self._validate_one(each)  # (an automation is looked up once: ``found``)

    def _validate_one(self, job: ResolvedJob) -> None:
        found = self._reader(job).found(job)
        if not found.published:
            unready = "is not published: publish it"
        elif found.status not in ("", "active"):
            unready = f"is {found.status}: activate it"
        else:
            return
        name = found.id if job.automation_secret else job.automation or found.id
        raise UsageError(f"automation {name!r} of job {job.name!r} {unready} in Mogplex "
                         "before a job triggers it",
                         context=["Run mogrun automations to see each one's status."])

    def describe(self, job: ResolvedJob, plan: RunPlan) -> Mapping[str, Any]:
        return describe_trigger(plan, job.for_run(plan).automation_shown)

    def sandbox(self, track: RunTrack) -> Sandbox | None:
        return None  # job runs execute on the automation runtime, not in a sandbox slot

    def sent_key(self, track: RunTrack) -> str:
        """The trigger's key (the automation is resolved by ``validate``, before any start)."""
        repo_id = track.request.repo_id or track.request.repo
        return trigger_key(track.key, self.automation_id(track.job), repo_id, track.job.name,
                           self._project_identity())

    def _project_identity(self) -> str:
        """The project's identity, asked of git once, under the lock: a fan-out's
        first triggers come from many threads at once, and each would start git."""
        with self._lock:
            if self._identity is None:
                self._identity = self._project() if self._project is not None else ""
            return self._identity

    def start(self, track: RunTrack, *, deadline: float | None = None,
              stop: threading.Event | None = None, retry: bool = True) -> Started:
        from mogrun.api import automations as api

        automation_id = self.automation_id(track.job)
        track.automation_id = automation_id  # history keeps it: the name may be a secret
        repo_id = track.request.repo_id or track.request.repo
        key = self.sent_key(track)
        give_up = self.clock() + track.job.capacity_wait
        pause = CAP_RETRY[0]
        while True:
            answer = api.trigger(self.client, automation_id, repo_id, track.plan.inputs, key,
                                 job=track.job, deadline=deadline, stop=stop, run=track.label,
                                 retry=retry)
            if not answer.capped:
                return self._started(track, automation_id, answer)
            self._wait_for_cap(track, answer, give_up, pause)
            pause = min(pause * 2, CAP_RETRY[1])

    def get_events(self, run_id: str, *, limit: int = 200, job: ResolvedJob | None = None,
                   deadline: float | None = None, stop: threading.Event | None = None,
                   known: Collection[str] = (),
                   run: str | None = None) -> tuple[RunState, list[Event]]:
        assert job is not None, "an automation run is read through its job's automation"
        return self._reader(job).get_events(run_id, limit=limit, job=job, deadline=deadline,
                                            stop=stop, run=run)

    def cancel(self, track: RunTrack, *, deadline: float | None = None,
               stop: threading.Event | None = None) -> Cancelled | None:
        return None  # the public API has no cancel for automation runs

    def refusal(self, state: RunState) -> str | None:
        return None

    # --- helpers -------------------------------------------------------------

    def automation_id(self, job: ResolvedJob) -> str:
        """The job's automation id (a name is resolved once per invocation)."""
        return self._reader(job).automation_id(job)

    def _reader(self, job: ResolvedJob) -> AutomationReader:
        """One reader per automation, shared by every run of every job naming it."""
        wanted = job.automation or ""
        with self._lock:
            return self._readers.setdefault(wanted, AutomationReader(self.client, wanted))

    def _started(self, track: RunTrack, automation_id: str,
                 answer: api.TriggerAnswer) -> Started:
        if answer.job_run_id is None:  # suppressed with no run and no cap named
            raise MogrunError(f"the server created no job run (outcome {answer.outcome!r}, "
                              f"reason {answer.reason!r})")
        if answer.duplicate:
            found = self._read_back(track, automation_id, answer)
            if found is not None:
                if not answer.retried:
                    _refuse_other_input(found, track)
                return Started(found.state, attached=not answer.retried)
        if answer.deferred:  # followed from now: the job's timeout bounds the wait
            from mogrun.waits import Wait, WaitKind

            self._reader(track.job).said_deferred(answer.job_run_id)  # not again at a poll
            # Detached, no timeout of the job's ends it: mogrun leaves it deferred.
            bound = None if track.detached else track.job.timeout
            self.client.waits.emit(Wait.for_seconds(
                WaitKind.DEFERRED, deferred_reason(timeout=bound is not None), bound,
                job=track.job.name, run=track.label))
        from mogrun.runs import RunState

        # A duplicate's status is "suppressed", no job status: its run is known by now
        # only to exist (a read-back that failed), so as a run not yet started.
        status = None if answer.duplicate else answer.status
        raw = {"runId": answer.job_run_id, "status": status or "pending"}
        return Started(RunState.from_api(raw), attached=False)

    def _read_back(self, track: RunTrack, automation_id: str,
                   answer: api.TriggerAnswer) -> api.AutomationRun | None:
        """A duplicate key's run is ours only if it is this automation's. A read-back
        that fails (5xx, the network) must not forget the run: after a retry it is
        our own lost answer's (the key is this job's digest), so ``None``, followed
        from its id; on a first attempt it may be an earlier invocation's, unverified,
        so a start that may have made a run (a rerun sends the same key)."""
        from mogrun.api import automations as api
        from mogrun.errors import ProtocolError, UnconfirmedStartError, is_retryable

        run_id = answer.job_run_id
        assert run_id is not None
        try:
            return api.read_run(self.client, automation_id, run_id, job=track.job, run=track.label)
        except NotFoundError as exc:  # the API's word (a proxy's 404 is a ProtocolError)
            raise MogrunError(
                f"the trigger key of {track.label} is already used by a job run outside "
                f"automation {automation_id}; it was not taken as this job's run",
                context=["Start a fresh attempt with: "
                         + rerun_for(self.rerun_command, [track.job.name])]) from exc
        except MogrunError as exc:
            if not (is_retryable(exc) or isinstance(exc, ProtocolError)):
                raise  # a refusal (401, 403...) is the API's word, no lost read
            if answer.retried:
                return None
            raised = UnconfirmedStartError(
                f"the trigger answered with job run {run_id}, made under this key before, "
                f"which could not be read back ({exc.message}) to tell whether it is "
                "this job's")
            raised.exit_code = exc.exit_code
            raise raised from exc

    def _wait_for_cap(self, track: RunTrack, answer: api.TriggerAnswer, give_up: float,
                      pause: float) -> None:
        from mogrun.waits import Wait, WaitKind

        left = give_up - self.clock()
        if left <= 0:
            raise MogrunError(f"the trigger was suppressed by {answer.reason} for longer "
                              "than capacity_wait; nothing was created",
                              context=["Too many job runs are pending on this repo or "
                                       "installation."])
        from mogrun.durations import format_duration

        delay = min(pause, left)
        # Each wait says when the next trigger goes, and how long triggers go on: the
        # job's capacity_wait (30 minutes by default) was said nowhere.
        self.client.waits.emit(Wait.for_seconds(
            WaitKind.DEFERRED, f"suppressed by {answer.reason} (nothing created); "
            f"triggering again, for {format_duration(math.ceil(left))} more at most "
            "(capacity_wait)",
            delay, job=track.job.name, run=track.label))
        self.client.budget.sleep(delay)


def deferred_reason(*, timeout: bool) -> str:
    """What a run deferred by the installation's concurrency limit waits for (the
    server names no count: 8 on the real one); ``timeout``: a job's bounds it."""
    return ("deferred: the installation runs as many job runs as its concurrency limit "
            "allows; it starts when one of them ends"
            + (", or the job's timeout ends the wait" if timeout else ""))


def _refuse_other_input(found: api.AutomationRun, track: RunTrack) -> None:
    """A reused key gets the earlier job run whatever the input (the server keys the
    trigger by the key alone): one triggered with another input is not this
    request's run, as a prompt job's key with another prompt is a 409. Compared
    are the fields sent now and those the metadata holds besides the server's own
    (``RESERVED_INPUT``), each as JSON tells values apart."""
    import json

    from mogrun.errors import IdempotencyConflictError
    from mogrun.taskfile.schema import RESERVED_INPUT

    if found.metadata is None:
        return
    sent = json.loads(json.dumps(dict(track.plan.inputs)))  # as the wire carried it
    # The metadata is the input with the server's reserved keys over it: a key of its
    # own beside those was sent then, not now (a dry_run the file has since dropped).
    stored = {k: v for k, v in found.metadata.items() if k not in RESERVED_INPUT}
    if stored.keys() == {k for k in sent if k not in RESERVED_INPUT} and all(
            same_json(stored[key], value) for key, value in sent.items() if key in stored):
        return
    raise IdempotencyConflictError(
        f"job run {found.state.run_id} was triggered under this key with another input",
        status=409, code="IDEMPOTENCY_CONFLICT")


def same_json(stored: Any, sent: Any) -> bool:
    """Whether ``stored`` (as the server's JavaScript kept it) is the JSON value
    ``sent``: ``true`` is not ``1`` (Python's ``True == 1`` took it for one); a number
    is its double (``1.0`` comes back ``1``, an integer past 2**53 rounded)."""
    if isinstance(stored, bool) or isinstance(sent, bool):
        return type(stored) is type(sent) and stored == sent
    if isinstance(stored, int | float) and isinstance(sent, int | float):
        try:
            return float(stored) == float(sent)
        except OverflowError:  # an integer no double holds: as written
            return stored == sent
    if isinstance(stored, dict) and isinstance(sent, dict):
        return stored.keys() == sent.keys() and all(
            same_json(stored[key], sent[key]) for key in sent)
    if isinstance(stored, list) and isinstance(sent, list):
        return len(stored) == len(sent) and all(
            same_json(a, b) for a, b in zip(stored, sent, strict=True))
    return type(stored) is type(sent) and stored == sent


class AutomationReader:
    """Reads automation job runs recorded in history (``status``, ``logs``): the
    same two calls a run source answers, through the run's automation."""

    def __init__(self, client: AutomationClient, automation: str) -> None:
        self.client, self.automation = client, automation
        self._found: api.Automation | None = None
        self._lock = threading.Lock()  # runs of a fan-out resolve the name once
        self._said_failed: dict[str, tuple[str, str]] = {}  # run id -> the failed start said
        self._said_deferred: set[str] = set()  # run ids whose deferral was said

    @property
    def budget(self) -> Any:
        return self.client.budget

    def automation_id(self, job: ResolvedJob | None = None) -> str:
        """The automation's id; a name is looked up once (``job``: whose secrets
        the look-up masks). An id (a run's history row keeps its automation's) is
        read as it is, not looked up: one deleted since is then the server's 404
        for that run alone, where a look-up refused the whole command (``status``
        showed no run) with "no automation named '<its id>'"."""
        from mogrun.reponames import is_uuid

        with self._lock:
            found = self._found
        if found is None and is_uuid(self.automation):
            return self.automation.lower()  # the server casts it: any case is the same
        return self.found(job).id

    def found(self, job: ResolvedJob | None = None) -> api.Automation:
        """The automation as the account lists it (looked up once)."""
        with self._lock:
            if self._found is None:
                from mogrun.api import automations as api

                self._found = api.resolve_automation(self.client, self.automation, job=job)
            return self._found

    def get_run(self, run_id: str, *, job: ResolvedJob | None = None,
                deadline: float | None = None) -> RunState:
        return self.get_events(run_id, job=job, deadline=deadline)[0]

    def get_events(self, run_id: str, *, limit: int = 200, job: ResolvedJob | None = None,
                   deadline: float | None = None, stop: threading.Event | None = None,
                   known: Collection[str] = (),
                   run: str | None = None) -> tuple[RunState, list[Event]]:
        from mogrun.api import automations as api

        read = api.read_run(self.client, self.automation_id(job), run_id, job=job,
                            deadline=deadline, kind="poll", stop=stop, run=run)
        ends = None if deadline is None else time.time() + deadline - self.budget.clock()
        if read.start_failed is not None:
            self._say_start_failed(run_id, read.start_failed, job, run, ends)
        elif read.deferred_at is not None:
            self._say_deferred(run_id, job, run, ends)
        return read.state, list(read.events)

    def said_deferred(self, run_id: str) -> None:
        """The trigger said run ``run_id`` is deferred: not said again at its polls."""
        with self._lock:
            self._said_deferred.add(run_id)

    def _say_deferred(self, run_id: str, job: ResolvedJob | None, run: str | None,
                      timeout_at: float | None) -> None:
        """A run found deferred (attached to, or followed by ``logs``) waits for the
        installation's concurrency limit as a triggered one does: said once, until a
        failed start is said in between."""
        from mogrun.waits import Wait, WaitKind

        with self._lock:
            if run_id in self._said_deferred:
                return
            self._said_deferred.add(run_id)
            self._said_failed.pop(run_id, None)
        self.client.waits.emit(Wait(
            WaitKind.DEFERRED, deferred_reason(timeout=timeout_at is not None),
            ends_at=timeout_at, job=job.name if job is not None else None, run=run))

    def _say_start_failed(self, run_id: str, failed: tuple[str, str],
                          job: ResolvedJob | None, run: str | None,
                          timeout_at: float | None = None) -> None:
        """A start the server tried and failed leaves the run pending until its repair
        cron (every 5 minutes, for runs 2 minutes past their last attempt) or a queue
        release starts it: said once per failed attempt, with the latest it can be —
        or the job's timeout (``timeout_at``, epoch seconds), when that comes first."""
        from mogrun.durations import parse_moment
        from mogrun.waits import Wait, WaitKind

        with self._lock:
            if self._said_failed.get(run_id) == failed:
                return
            self._said_failed[run_id] = failed
            self._said_deferred.discard(run_id)  # deferred again later: said again
        why, tried = failed
        moment = parse_moment(tried)
        latest = None if moment is None else moment + REPAIR_AFTER + REPAIR_EVERY
        due = latest is not None and latest <= time.time()
        cut = timeout_at is not None and not due and (latest is None or timeout_at < latest)
        self.client.waits.emit(Wait(
            WaitKind.DEFERRED, f"its start failed on the server ({why}); the server's repair "
            "starts it again 2 to 7 minutes after that attempt, or a job of its repo or "
            "installation ending does" + ("; due now" if due else "")
            + ("; the job's timeout ends the wait first" if cut else ""),
            ends_at=timeout_at if cut else None if due else latest,
            job=job.name if job is not None else None, run=run))


def automation_of_run(client: AutomationClient, wanted: Iterable[str], run_id: str
                      ) -> tuple[str, api.AutomationRun] | None:
    """The automation among ``wanted`` (ids or names, as a task file names them) that
    job run ``run_id`` belongs to, and the run: a run history never recorded is
    read only through its automation, which its id alone does not name. One
    listing, then one read per automation (each a 404 until the right one), all
    inside the client's request budget; ``None`` when none has it."""
    wanted = [name for name in dict.fromkeys(wanted) if name]
    if not wanted:
        return None
    from mogrun.api import automations as api

    every = api.list_automations(client)
    # A name several share names each of them: the run may be any one's.
    found = (a for name in wanted for a in api.automations_named(every, name))
    for automation_id in dict.fromkeys(a.id for a in found):
        try:
            return automation_id, api.read_run(client, automation_id, run_id)
        except NotFoundError:  # not this automation's run: the next one may have it
            continue
    return None


class Readers:
    """Where a command reads recorded runs of jobs (status, logs, rerun, cancel): the
    client for agent runs, an ``AutomationReader`` for a job that triggers an
    automation, each automation's made once, so its runs share one look-up of it
    (a listing of the account's automations a run, from the request budget, and a
    fan-out's runs are read several at once)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._made: dict[str, AutomationReader] = {}
        self._lock = threading.Lock()

    def __call__(self, automation: str | None) -> Any:
        if automation is None:
            return self.client
        with self._lock:
            reader = self._made.get(automation)
            if reader is None:
                reader = self._made[automation] = AutomationReader(self.client, automation)
            return reader
