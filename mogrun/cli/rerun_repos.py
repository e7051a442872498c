"""The runs of jobs whose repos the task file lists otherwise since the invocation
a rerun read: a one-repo job's repo edited (its run is rerun there), a fan-out's
repo added (its first attempt starts), a fan-out's repo taken out (its run is not
rerun: said).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mogrun.cli.rerun_rows import read_history, run_at

if TYPE_CHECKING:
    from mogrun.cli.state import CliState
    from mogrun.engine.history import History
    from mogrun.engine.history_row import HistoryRow
    from mogrun.models import ResolvedJob, RunPlan


class RepoEdits:
    """What became of the repos of the jobs a ``Selection`` reruns (``whole``: the
    jobs it is given hold every run, no ``--shard`` slice; under one, nothing can
    be told). Each finding is said through ``say``."""

    def __init__(self, state: CliState, taskfile: Any, read: Sequence[HistoryRow],
                 labels: Mapping[int, str], whole: bool,
                 say: Callable[[str], None]) -> None:
        self.state = state
        self.taskfile = taskfile
        self.labels = labels
        self.whole = whole
        self._say = say
        # The runs of the invocations read (passed ones too), and each job's invocation:
        # a run of a fan-out in neither may be one of a repo added since (``added``).
        self.recorded = {run_at(row.job, row.repo) for row in read}
        self.invocations = {row.job: row.invocation for row in read}

    def moved(self, jobs: Sequence[ResolvedJob],
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

    def added(self, jobs: Sequence[ResolvedJob], wanted: Mapping[tuple[str, str], HistoryRow],
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
        before it holds. A one-repo job edited to another repo is ``moved`` (its
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
        ran = self._ran_here(history, job.name, [at[1] for at in missing]) if missing else set()
        if ran is None:  # unknown: none is taken for new
            return {}
        return {at: plan for at, plan in missing.items() if at[1] not in ran}

    def _ran_here(self, history: History | None, job: str,
                  repos: Sequence[str]) -> set[str] | None:
        """Those of ``repos`` (each its ``repo_key``) ``job`` has rows of here, in any
        invocation: a rerun's invocation holds only the runs it made. Each is looked
        for newest first: every row of the job, read at once, took 12 s at 300,000
        rows. ``None``: the history cannot be read."""
        from mogrun.reponames import repo_key

        return read_history(self.state, self.taskfile, history, lambda found: {
            repo_key(repo) for repo in repos if found.recent(1, job=job, repo=repo)}, None)

    def say_removed(self, jobs: Sequence[ResolvedJob],
                    wanted: Mapping[tuple[str, str], HistoryRow]) -> None:
        """Each run to rerun whose repo its job no longer lists is said, as a job
        removed from the file is (``rerun_cmd._in_task_file``): it cannot be started again.
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
