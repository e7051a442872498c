"""Build the API client a command talks through: endpoint, token, budget,
retry policy and ``-v`` trace — or, with ``--local``, an in-process emulator.

Commands call ``connect(state, taskfile=...)`` once per invocation; the
client's ``RequestBudget`` is then shared by everything that invocation does.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mogrun.api.settings import Endpoint, token_from_env
from mogrun.envnumbers import env_number

if TYPE_CHECKING:
    from mogrun.api.client import MogplexClient
    from mogrun.cli.state import CliState
    from mogrun.taskfile import TaskFile


@dataclass(frozen=True)
class Connection:
    """The client plus where it points; ``emulator`` is set under ``--local``."""

    client: MogplexClient
    endpoint: Endpoint
    emulator: Any = None

    @property
    def local(self) -> bool:
        return self.emulator is not None


def connect(
    state: CliState,
    *,
    taskfile: TaskFile | None = None,
    host: Any = None,
    budget_settings: Mapping[str, Any] | None = None,
    sleep: Callable[[float], None] | None = None,
    shards: int = 1,
    show_waits: bool = True,
    trace: Callable[[str], None] | None = None,
) -> Connection:
    """A client for this invocation (endpoint rules first: exit 2 before 64).

    ``sleep`` is how the budget and retries wait (``run`` passes one that a
    signal interrupts); ``shards``: one of N legs sharing the token
    (``run --shard``). ``show_waits``: each wait of the client (a 429's
    Retry-After, a retry) is a line on stderr, as no wait is silent; ``run``
    shows them in its own output instead. ``trace``: where ``-v`` lines go
    (stderr unless given; ``run``'s reporter prints them above its live view)."""
    from mogrun.api.budget import RequestBudget
    from mogrun.api.client import MogplexClient
    from mogrun.api.proxies import Proxies
    from mogrun.api.transport import Urllib3Transport
    from mogrun.http import trace_posts, use_proxies

    if budget_settings is None and taskfile is not None:
        budget_settings = taskfile.settings
    budget = RequestBudget.from_settings(budget_settings or {}, shards=shards,
                                         time_scale=_limit_window_scale(state.env),
                                         **({"sleep": sleep} if sleep is not None else {}))
    emulator = None
    if state.local:
        emulator = _start_emulator(state, taskfile)
        endpoint = Endpoint(emulator.url, emulator.api_url, "--local")
        token = emulator.write_token
    else:
        from mogrun.cli.loading import task_file_endpoint

        endpoint = task_file_endpoint(state, taskfile)
        token = token_from_env(state.env)
    trace = (trace or functools.partial(stderr_line, state)) if state.verbose else None
    trace_posts(trace)  # the plugins' webhook posts are this invocation's requests too
    proxies = Proxies.from_env(state.env)
    if proxies.problem:
        state.warn(proxies.problem)
    use_proxies(proxies)  # ... and go through the same proxy
    client = MogplexClient(
        endpoint.api_url, token,
        transport=Urllib3Transport(proxies=proxies), budget=budget,
        retry=_retry_policy(state, host, taskfile),
        trace=trace,
        url_source=endpoint.source,
        repo_cache=_repo_cache(taskfile, endpoint, token) if emulator is None else None,
    )
    if show_waits:  # -q too: no wait is silent
        client.waits.subscribe(state.say_wait)
    return Connection(client=client, endpoint=endpoint, emulator=emulator)


def _limit_window_scale(env: Mapping[str, str]) -> float:
    """``MOGRUN_LIMIT_WINDOW_SCALE`` (test-only): the budget's windows times this,
    to pace against an emulator started with short ``--limits`` windows."""
    scale = env_number(env, "MOGRUN_LIMIT_WINDOW_SCALE", float, 0.0, 1.0)
    return 1.0 if scale is None else scale


def _repo_cache(taskfile: TaskFile | None, endpoint: Endpoint, token: str) -> Any:
    """Repo ids already seen, beside the task file's history (none without a file)."""
    if taskfile is None:
        return None
    from mogrun.api.repos import RepoCache
    from mogrun.statefolder import STATE_FOLDER

    return RepoCache(taskfile.project_dir / STATE_FOLDER / "repos.json", endpoint.api_url, token)


def emulated_world(state: CliState, taskfile: TaskFile | None, repos: Sequence[str]
                   ) -> tuple[list[str], list[tuple[str, str | None]]]:
    """What an emulator serves for ``taskfile``: ``repos`` (emulator specs, as
    ``acme/api@dev``) plus every owner/name it names that they lack (case
    ignored), and every automation its jobs name with the repo on whose GitHub
    installation it is made (``automations_named``)."""
    found = list(repos)
    if taskfile is None:
        return found, []
    from mogrun.emulator.state import repo_spec
    from mogrun.taskfile import automations_named, repos_named

    known = {repo_spec(spec)[0].casefold() for spec in found}
    for repo in repos_named(taskfile, state.sets, state.env):
        if repo.casefold() not in known:  # Zorg/Tool in one job is zorg/tool in another
            known.add(repo.casefold())
            found.append(repo)
    return found, automations_named(taskfile, state.sets, state.env)


def emulated_limits(state: CliState, taskfile: TaskFile | None, limits: Any) -> Any:
    """``limits`` (the emulator's ``Limits``) raised to the plan the task file
    declares where it is bigger than the server's: its ``[mogplex]``
    ``requests_per_minute``, ``starts_per_*`` and sandboxes (``MOGRUN_SANDBOXES``,
    else ``sandboxes``). A team on a bigger plan then meets offline the limits
    its account has, not 429s and slot waits its account never gives."""
    if taskfile is None:
        return limits
    from mogrun.api.budget import declared_rates
    from mogrun.taskfile.limits import account_slots
    from mogrun.taskfile.schema import LIMIT_KEYS
    from mogrun.taskfile.validation import setting_error

    for key in (*LIMIT_KEYS, "sandboxes"):  # said where it is, as check says it
        error = setting_error(taskfile, key)
        if error is not None:
            raise error
    requests, starts = declared_rates(taskfile.settings)
    return limits.at_least(requests, starts, account_slots(taskfile.settings, state.env))


def _start_emulator(state: CliState, taskfile: TaskFile | None) -> Any:
    """The in-process emulator for ``--local``: every repo (and every automation,
    published) the task file names exists, under its plan's limits."""
    from mogrun.emulator import Emulator, Limits
    from mogrun.emulator.server import DEFAULT_REPOS

    repos, automations = emulated_world(state, taskfile, DEFAULT_REPOS)
    emulator = Emulator(repos=tuple(repos),
                        limits=emulated_limits(state, taskfile, Limits.local()))
    for name, home in automations:  # on the installation of the repos it runs in
        emulator.add_automation(name, repo=home)
    emulator.start()
    state.add_cleanup(emulator.stop)
    return emulator


def _retry_policy(state: CliState, host: Any, taskfile: TaskFile | None) -> Callable[..., Any]:
    """The plugin host's ``retry_delay``; without a host, one is loaded on the
    first failure only, so a command that never fails never imports pluggy. It
    has the task file's plugins too (a team's retry policy governs ``repos`` and
    ``logs`` as it governs ``run``), unless the command runs no code from the
    repository (``status``: see ``load_host``)."""
    if host is not None:
        return host.retry_delay
    loaded: list[Any] = []
    lock = threading.Lock()

    def retry(**kwargs: Any) -> Any:
        from mogrun.engine.slowhooks import said_when_slow

        with lock:
            if not loaded:
                from mogrun.cli.loading import load_host

                loaded.append(load_host(state, taskfile))
        with said_when_slow(state.say_wait, "mogrun_retry_delay"):  # never a silent wait
            return loaded[0].retry_delay(**kwargs)

    return retry


def stderr_line(state: CliState, line: str) -> None:
    """A ``-v`` trace line (from any thread of the run): through ``echo``, so a
    reader of stderr that left (``2>&1 >out | head -1``) changes no exit code."""
    state.echo(line, err=True)
