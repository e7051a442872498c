"""``Emulator``, the object tests and ``mogrun emulator`` drive: the API's state
behind a real HTTP server on loopback (see httpd.py)."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from mogrun.emulator.app import API_PREFIX, CONTROL_PREFIX, Api, Reply, Request
from mogrun.emulator.automation_seed import (
    AutomationSpec,
    add_automation,
    parse_automations,
    seed_key,
)
from mogrun.emulator.automation_store import JobCaps
from mogrun.emulator.control import DEFAULT_PAUSING, handle_control
from mogrun.emulator.directives import Script
from mogrun.emulator.durations import parse_seconds
from mogrun.emulator.faults import Fault
from mogrun.emulator.httpd import Server, shutdown
from mogrun.emulator.limits import Limits
from mogrun.emulator.occupants import DEFAULT_BUSY, Occupants, occupy, release
from mogrun.emulator.state import DEFAULT_USER, RequestRecord, State
from mogrun.loopback import is_loopback_host
from mogrun.threads import start_without_signals

DEFAULT_REPOS = ("acme/api", "acme/web", "acme/worker")
def _api_path(path: str | None) -> str | None:
    if path is None or path.startswith(("/api/", "/_")):
        return path
    return API_PREFIX + "/" + path.lstrip("/")


class Emulator:
    """A Mogplex API emulator on loopback. ``limits=None`` lifts the rate limits.

    >>> with Emulator() as emu:  # doctest: +SKIP
    ...     os.environ["MOGPLEX_URL"], os.environ["MOGPLEX_API_KEY"] = emu.url, emu.write_token
    """

    def __init__(self, *, repos: Iterable[str] = DEFAULT_REPOS, limits: Limits | None = None,
                 host: str = "127.0.0.1", port: int = 0, default_duration: float = 3.0,
                 default_events: int = 8, automations: Iterable[str] = (),
                 job_caps: JobCaps | None = None,
                 on_request: Callable[[RequestRecord], None] | None = None) -> None:
        if not is_loopback_host(host):
            raise ValueError(f"the emulator serves loopback only, not {host!r}")
        if isinstance(repos, str):
            repos = [repos]
        try:  # NaN or a century would crash or hang every unscripted run
            parse_seconds(default_duration)
        except ValueError as exc:
            raise ValueError(f"the default duration: {exc}") from exc
        script = Script(duration=default_duration, events=max(3, default_events))
        self._state = State(repos, limits, script)
        self._api = Api(self._state, lambda: self.api_url, on_record=on_request)
        self._host, self._port = host, port
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        with self._state.lock:
            self.write_token = self._state.new_token("emuw", ("read", "write"))
            self.read_token = self._state.new_token("emur", ("read",))
            for spec in parse_automations(",".join(automations)):
                add_automation(self._state, spec)
            if job_caps is not None:
                self._state.automations.caps = job_caps

    # ---- life cycle --------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind (port 0 = any free port) and serve on a daemon thread."""
        if self._server is not None:
            return self
        self._server = Server((self._host, self._port), self)
        self._port = self._server.server_address[1]
        # Its request threads inherit the serving thread's mask: under --local no
        # Ctrl-C lands on them, the main thread gets every one (mogrun.threads).
        self._thread = start_without_signals(
            functools.partial(self._server.serve_forever, poll_interval=0.5),
            f"mogplex-emulator:{self._port}")
        return self

    def stop(self) -> None:
        """Stop serving and close open connections (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        shutdown(server)
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Block until ``stop()`` is called from elsewhere (e.g. a signal handler)."""
        if self._thread is None:
            self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(timeout=0.2)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- addresses ---------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The base URL, as ``MOGPLEX_URL`` wants it."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    # ---- tokens, repos, limits, faults -------------------------------------------

    def add_token(self, token: str, scopes: Iterable[str] = ("read", "write"),
                  *, user: str | None = None) -> None:
        """Accept ``token`` with ``scopes`` (a subset of read, write)."""
        with self._state.lock:
            if user is None:
                self._state.add_token(token, scopes)
            else:
                self._state.add_token(token, scopes, user)

    def revoke(self, token: str) -> None:
        """Refuse ``token`` from now on (401)."""
        with self._state.lock:
            self._state.tokens.pop(token, None)

    def add_repo(self, full_name: str) -> dict[str, Any]:
        """Add ``owner/name`` (or ``owner/name@branch``); returns its repo entry."""
        with self._state.lock:
            return dict(self._state.add_repo(full_name))

    @property
    def repos(self) -> list[dict[str, Any]]:
        with self._state.lock:
            return [dict(r) for r in self._state.repos.values()]

    def repo_id(self, full_name: str) -> str:
        """The id of ``owner/name`` (case-insensitive); KeyError if absent."""
        with self._state.lock:
            try:
                return str(self._state.repo_named(full_name)["id"])
            except ValueError:
                raise KeyError(full_name) from None

    @property
    def limits(self) -> Limits | None:
        """The limits in force (None: lifted)."""
        with self._state.lock:
            return self._state.limiter.limits

    def set_limits(self, limits: Limits | None) -> None:
        """Replace the limits (and forget the counts so far); None lifts them."""
        with self._state.lock:
            self._state.set_limits(limits)

    def add_fault(self, endpoint: str, kind: str, count: int = 1, *,
                  retry_after: float | None = None, delay: float | None = None) -> None:
        """Make the next ``count`` requests to ``endpoint`` fail as ``kind``."""
        fault = Fault(endpoint, kind, count, retry_after, delay)
        with self._state.lock:
            self._state.faults.add(fault)

    def clear_faults(self) -> None:
        with self._state.lock:
            self._state.faults.clear()

    # ---- what happened -------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every API request answered so far, oldest first (never a token)."""
        with self._state.lock:
            return list(self._state.log)

    def clear_requests(self) -> None:
        with self._state.lock:
            self._state.log.clear()

    def count(self, method: str | None = None, path_prefix: str | None = None,
              status: int | None = None, *, path: str | None = None) -> int:
        """How many logged requests match. A ``path_prefix`` or ``path`` not
        starting with ``/api/`` or ``/_`` is relative to the API prefix;
        ``path`` must match exactly (``path="/runs"`` counts starts only, while
        the prefix ``"/runs"`` also matches ``/runs/{id}/cancel``)."""
        prefix, exact = _api_path(path_prefix), _api_path(path)
        return sum(
            1 for r in self.requests
            if (method is None or r.method == method.upper())
            and (prefix is None or r.path.startswith(prefix))
            and (exact is None or r.path == exact)
            and (status is None or r.status == status)
        )

    @property
    def runs(self) -> list[str]:
        """Ids of the runs created on the server, in creation order."""
        with self._state.lock:
            return list(self._state.runs)

    def run_detail(self, run_id: str) -> dict[str, Any]:
        """A run's RunDetail as the API would return it now; KeyError if unknown."""
        with self._state.lock:
            return self._state.runs[run_id].detail(time.time())

    # ---- sandboxes -------------------------------------------------------------------

    def occupy_sandboxes(self, count: int = 1, *, busy: float | str | None = DEFAULT_BUSY,
                         repo: str | None = None) -> list[str]:
        """Hold ``count`` sandboxes of ``repo`` (default: the first repo) as other
        work of the account would: busy for ``busy`` seconds ("30s"; None or
        "never": until ``release_sandboxes()``), then idle until reaped. They ignore
        the cap. Returns their record ids."""
        occupants = Occupants.from_json({"count": count, "busy": busy, "repo": repo})
        with self._state.lock:
            made = occupy(self._state, occupants, time.time())
            return [sandbox.id for sandbox in made]

    def release_sandboxes(self) -> int:
        """End the busy time of every occupant now; returns how many were busy."""
        with self._state.lock:
            return release(self._state, time.time())

    def pause_sandbox(self, sandbox_id: str, pausing: float | str = DEFAULT_PAUSING) -> None:
        """Pause an idle running sandbox (record id) now, as the server's auto-pause
        does: ``pausing`` for ``pausing`` seconds ("5s"), then ``paused``. While
        pausing it is not counted against the cap, yet a start of its triple
        reuses it. ValueError if it is busy or not running."""
        seconds = parse_seconds(pausing)
        with self._state.lock:
            self._state.sandboxes.pause(sandbox_id, time.time(), seconds)

    def sandboxes(self, user: str = DEFAULT_USER) -> list[dict[str, Any]]:
        """``user``'s sandboxes as ``GET /sandboxes`` lists them now (all of them)."""
        with self._state.lock:
            return self._state.sandboxes.listing(user, time.time(), limit=10**9)

    def active_sandboxes(self, user: str = DEFAULT_USER) -> int:
        """How many of ``user``'s sandboxes count against the cap now."""
        with self._state.lock:
            return len(self._state.sandboxes.active(user, time.time()))

    def peak_sandboxes(self, user: str = DEFAULT_USER) -> int:
        """The most sandboxes ``user`` ever had active at once (occupants included)."""
        with self._state.lock:
            return self._state.sandboxes.peak.get(user, 0)

    # ---- automations -------------------------------------------------------------

    def add_automation(self, name: str, *, published: bool = True, active: bool | None = None,
                       script: str = "", repo: str | None = None,
                       description: str | None = None) -> str:
        """Create an automation of the default user on the GitHub installation of
        ``repo`` (default: the first repo); ``script`` holds ``@emulator`` lines
        for its job runs. Returns its id (a UUID). ``active`` None: as the server
        makes it, active if published, else inactive; ``active=True`` with
        ``published=False`` is an inconsistent row, which the first read that loads
        it (get, trigger, runs) repairs to ``inactive``, as the server does."""
        spec = AutomationSpec(name, published, active, script, repo, description)
        with self._state.lock:
            return add_automation(self._state, spec).id

    def set_automation(self, automation_id: str, *, published: bool | None = None,
                       active: bool | None = None, name: str | None = None) -> None:
        """Publish/unpublish, activate/deactivate or rename an automation (KeyError if
        unknown), as its owner does in the web app. Publishing makes it active unless
        ``active`` says otherwise, as on the server; unpublishing an active one
        leaves the row the next read repairs (inactive)."""
        with self._state.lock:
            automation = self._state.automations.automations[automation_id]
            automation.name = automation.name if name is None else name
            automation.published = automation.published if published is None else published
            if active is None and published:
                active = True
            automation.active = automation.active if active is None else active
            automation.updated = time.time()

    def delete_automation(self, automation_id: str) -> None:
        """Delete an automation (KeyError if unknown), as its owner does in the web
        app: it is listed no more, and reads of it and of its job runs are 404
        ``Automation not found``."""
        with self._state.lock:
            del self._state.automations.automations[automation_id]

    @property
    def automations(self) -> list[dict[str, Any]]:
        """Every automation of the default user, as ``GET /automations`` lists them."""
        with self._state.lock:
            return [a.summary() for a in self._state.automations.automations.values()]

    def take_job_key(self, key: str, *, repo: str | None = None) -> str:
        """Make ``key`` already used by someone else's job run, as the server's global
        keys allow; returns that job run's id. ValueError if blank or taken."""
        with self._state.lock:
            return seed_key(self._state, key, repo).id

    def set_job_caps(self, caps: JobCaps) -> None:
        """Replace the job caps (pending per repo/installation, running per
        installation, the repair delay after a failed start)."""
        with self._state.lock:
            self._state.automations.caps = caps

    def job_runs(self, automation_id: str | None = None) -> list[str]:
        """Ids of the job runs (of ``automation_id``), in creation order; someone
        else's seeded runs included when no automation is named."""
        with self._state.lock:
            return [j.id for j in self._state.automations.jobs.values()
                    if automation_id is None or j.automation_id == automation_id]

    def job_run_detail(self, job_run_id: str) -> dict[str, Any]:
        """A job run as ``GET /automations/{id}/runs/{runId}`` returns it now."""
        with self._state.lock:
            return self._state.automations.jobs[job_run_id].detail(time.time())

    # ---- serving ---------------------------------------------------------------------

    def _answer(self, request: Request) -> Reply:
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            return handle_control(self._state, request)
        return self._api.handle(request)
