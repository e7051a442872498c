"""What every row says of one run or key: the server's truth, read from every task
file's rows (a run id, an idempotency key sent before: keys are per account); the
other base URLs a run or a task file's runs were recorded under; and whether a
row's job was a fan-out (a run's label).

``HistoryLookups`` is ``History``'s base after ``HistoryReads``: the connection
and what it reads are set as ``History`` opens the file.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

from mogrun.engine.history_file import DISTINCT_BASE_URLS
from mogrun.engine.history_reads import HistoryReads, job_and_repo_where, rows_of
from mogrun.engine.history_row import HistoryRow

_IN_CHUNK = 500  # keys in one ``IN (...)``: well under sqlite's 32,766 parameters
# A key's row an earlier start wrote: another invocation's (its one parameter), with
# the body it sent (a planned row not yet claimed has none): recorded just before the
# start went out, or before a sandbox slot was waited for.
_SENT_ELSEWHERE = "invocation != ? AND request != ''"
# ... that made a run, or may have (no end recorded: its mogrun was killed; or an end
# that says so, one of ``runner.may_have_started``'s; the three parameters after the
# invocation, ``_made_params``). A start given up before it was sent (its
# capacity_wait spent, a 429) made none: its key replays nothing, and the next start
# with it needs a sandbox slot like any.
_MADE_ELSEWHERE = (f"{_SENT_ELSEWHERE} AND (run_id IS NOT NULL OR outcome IS NULL "
                   "OR message IN (?, ?, ?))")


class HistoryLookups(HistoryReads):
    """Lookups by run id and by key, and of a row's fellows, for ``History``."""

    _fan_outs: dict[tuple[str, str, str | None], bool]  # ``is_fan_out``'s

    def _select(self, where: str = "", params: Sequence[Any] = (), limit: int | None = None
                ) -> list[HistoryRow]:
        """Rows of every task file, newest first: for the server's truth (a run id,
        a key sent before), not for what this project did."""
        return self._query(where, params, limit)

    def is_fan_out(self, row: HistoryRow) -> bool:
        """Whether ``row``'s job was a fan-out: as its row says (the job's repos in the
        task file it ran from), or, for a row recorded before rows said so, whether
        it ran more than one run in that invocation. A ``--shard`` leg or a rerun that
        held one of a fan-out's runs is still the fan-out's. The one rule of a run's
        label (``job:owner/name``) and of ``repo_dropped``; counted once per invocation
        and job (an invocation plans every run's row as it begins): reading the job's
        rows again for each of 1,000 runs took ``logs``, ``cancel`` and ``rerun`` 10
        to 46 seconds."""
        if row.fan_out:
            return True
        asked = (row.invocation, row.job, row.task_file)
        known = self._fan_outs.get(asked)
        if known is None:
            sql = ("SELECT COUNT(DISTINCT repo) FROM runs WHERE base_url = ? AND invocation = ?"
                   " AND job = ?")
            params: tuple[Any, ...] = (self.base_url, row.invocation, row.job)
            if row.task_file is not None and self._files_known:  # one task file's
                sql, params = sql + " AND task_file = ?", (*params, row.task_file)
            known = self._fan_outs[asked] = self._read(sql, params)[0][0] > 1
        return known

    def earlier_start(self, key: str, invocation: str) -> HistoryRow | None:
        """The latest row of another invocation that sent ``key`` with a body."""
        rows = self._select(f"idempotency_key = ? AND {_SENT_ELSEWHERE}", (key, invocation),
                            limit=1)
        return rows[0] if rows else None

    def keys_sent_before(self, keys: Collection[str], invocation: str) -> frozenset[str]:
        """Those of ``keys`` another invocation sent and made a run with, or may have
        (``_MADE_ELSEWHERE``): a start with one replays that run and needs no sandbox
        slot. Looked up by key (``_by_keys``): a fan-out asks once for all its runs,
        not once before each start."""
        return frozenset(values[0] for values in self._by_keys(
            "SELECT DISTINCT idempotency_key", keys, f"AND {_MADE_ELSEWHERE}",
            _made_params(invocation)))

    def rows_keyed(self, job: str, keys: Collection[str]) -> list[HistoryRow]:
        """The rows of ``job`` in this history's scope (``_scoped``'s) whose key is one
        of ``keys``, looked up by key (``_by_keys``): ``rerun`` read every row the job
        ever had for this, 3.5 s on a year's history of a million rows."""
        if self.unreadable is not None:
            raise self.unreadable
        files = (set(self._task_files()) if self.task_file is not None and self._files_known
                 else None)
        before = self._before_files() if files is not None and "" in files else 0
        found = rows_of(self._by_keys(f"SELECT {self._read_columns}", keys, "AND job = ?",
                                        (job,)))
        return [row for row in found if files is None or (
            row.task_file in files and (row.task_file != "" or row.id < before))]

    def _by_keys(self, select: str, keys: Collection[str], where: str,
                 params: Sequence[Any]) -> Iterator[Any]:
        """``select ... FROM runs`` of this API's rows whose key is one of ``keys`` and
        that meet ``where`` (``params``), through ``runs_by_key``, ``_IN_CHUNK`` keys a
        query (sqlite caps a statement's parameters)."""
        wanted = sorted(keys)
        for at in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[at:at + _IN_CHUNK]
            yield from self._read(
                f"{select} FROM runs WHERE base_url = ? AND idempotency_key IN"
                f" ({', '.join('?' * len(chunk))}) {where}", (self.base_url, *chunk, *params))

    def by_run_id(self, run_id: str) -> HistoryRow | None:
        rows = self._select("run_id = ?", (run_id,), limit=1)
        return rows[0] if rows else None

    def run_ids_starting(self, prefix: str, limit: int = 3) -> list[str]:
        """The run ids recorded here that begin with ``prefix`` (hex digits and
        dashes only), newest first: what a pasted short id meant."""
        if self.unreadable is not None or not all(c in "0123456789abcdef-" for c in prefix):
            return []
        found = self._read("SELECT run_id FROM runs WHERE base_url = ? AND run_id LIKE ? "
                           "ORDER BY id DESC", (self.base_url, prefix + "%"))
        return list(dict.fromkeys(values[0] for values in found))[:limit]

    def recorded_under(self, run_id: str) -> str | None:
        """The other API base URL (``"local"``, another URL) ``run_id`` was recorded
        under, if any: where to point a run id this base URL has no row of."""
        if self.unreadable is not None:
            return None
        # One seek of runs_by_run_id for each other base URL (a handful), where
        # ``base_url != ?`` read the whole table: 0.09 s at a million rows, warm.
        last = {str(url): found[0][0] for (url,) in self._read(DISTINCT_BASE_URLS, ())
                if url != self.base_url and (found := self._read(
                    "SELECT MAX(id) FROM runs WHERE base_url = ? AND run_id = ?",
                    (url, run_id)))[0][0] is not None}
        return max(last, key=last.__getitem__) if last else None

    def also_of_run(self, row: HistoryRow) -> list[HistoryRow]:
        """The other rows of ``row``'s run (a rerun that left it alone while it went
        recorded it again, in its own invocation), newest first: what is learnt of
        the run is true of each."""
        return self._others_of_run(row.run_id, row.id)

    def _others_of_run(self, run_id: str | None, row_id: int) -> list[HistoryRow]:
        if not run_id:
            return []
        return self._select("run_id = ? AND id != ?", (run_id, row_id))

    def elsewhere(self, job: str | None = None,
                  repo: str | None = None) -> list[tuple[str, int]]:
        """The other API base URLs (``"local"`` among them) this task file recorded runs
        under (of ``job``, and of its ``repo`` in any case, as ``recent`` reads them
        there: runs of ``acme/API`` are ``acme/api``'s after a case-only edit), each
        with how many, the latest first: what to point at when this base URL has
        none. Asked only then, so a scan of the table is fine."""
        if self.unreadable is not None:
            raise self.unreadable
        sql = "SELECT base_url, COUNT(*) FROM runs WHERE base_url != ?"
        params: list[Any] = [self.base_url]
        if self.task_file is not None and self._files_known:
            sql += " AND task_file IN (?, '')"
            params.append(self.task_file)
        where, values = job_and_repo_where(job, repo)
        if where:
            sql, params = f"{sql} AND {where}", [*params, *values]
        sql += " GROUP BY base_url ORDER BY MAX(id) DESC"
        return [(str(url), int(count)) for url, count in self._read(sql, params)]


def _made_params(invocation: str) -> tuple[str, ...]:
    """``_MADE_ELSEWHERE``'s parameters (the runner's words for a start that may have
    made a run; imported when asked, as only a run asks)."""
    from mogrun.engine.runner import MAYBE_STARTED, UNANSWERED, UNCONFIRMED

    return invocation, MAYBE_STARTED, UNCONFIRMED, UNANSWERED
