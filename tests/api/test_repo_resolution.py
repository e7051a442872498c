"""Repo names to ids in few look-ups, none for names already seen (issue 13),
and an env.* repo name masked in the look-up's trace and error (issue 15)."""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import threading
import time

import pytest

from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.repos import RepoCache, find_repos, list_each
from mogrun.api.transport import Urllib3Transport
from mogrun.errors import RepoNotFoundError, TransportError
from mogrun.testing import write_taskfile

from .loopback import loopback_server

BENCH = [f"bench/repo{i:03d}" for i in range(1000)]
OWNERS = [f"org{k}/svc{i:02d}" for k in range(5) for i in range(90)]


def client_for(emulator, cache: RepoCache | None = None) -> MogplexClient:
    return MogplexClient(emulator.api_url, emulator.write_token, transport=Urllib3Transport(),
                         budget=RequestBudget(requests_per_minute=100_000), repo_cache=cache)


def lookups(emulator) -> int:
    return emulator.count("GET", "/api/v1/mogplex/repos")


@pytest.mark.mogrun_emulator(repos=OWNERS)
def test_450_repos_of_five_owners_take_one_plus_ceil_n_over_200_lookups(mogrun_emulator):
    ids = client_for(mogrun_emulator).resolve_repos(OWNERS)
    assert ids == {name: mogrun_emulator.repo_id(name) for name in OWNERS}
    assert lookups(mogrun_emulator) == 1 + math.ceil(len(OWNERS) / 200)  # 4


@pytest.mark.mogrun_emulator(repos=BENCH)
def test_1000_repos_take_one_listing_per_name_prefix_then_none_from_the_cache(
        mogrun_emulator, tmp_path):
    cache = RepoCache(tmp_path / "repos.json", mogrun_emulator.api_url, "mog_x")
    ids = client_for(mogrun_emulator, cache).resolve_repos(BENCH)
    assert len(ids) == 1000 and ids["bench/repo999"] == mogrun_emulator.repo_id("bench/repo999")
    # No cursor: the account's first 200, then repo2..repo9 (100 each) — 9, was 801.
    assert lookups(mogrun_emulator) == 9
    again = RepoCache(tmp_path / "repos.json", mogrun_emulator.api_url, "mog_x")
    assert client_for(mogrun_emulator, again).resolve_repos(BENCH) == ids
    assert lookups(mogrun_emulator) == 9  # all from the cache
    stored = (tmp_path / "repos.json").read_text(encoding="utf-8")
    assert "bench/repo" not in stored  # names are hashed: an env.* name is a secret


@pytest.mark.mogrun_emulator(repos=BENCH)
def test_the_listings_of_one_round_are_asked_at_once(mogrun_emulator):
    # Every listing answers 0.4 s late: the 8 prefix listings after the first wait
    # one round trip together, not eight in turn (9 in turn: 3.6 s).
    mogrun_emulator.add_fault("repos", "delay", count=9, delay=0.4)
    began = time.monotonic()
    ids = client_for(mogrun_emulator).resolve_repos(BENCH)
    elapsed = time.monotonic() - began
    assert len(ids) == 1000 and lookups(mogrun_emulator) == 9
    assert 0.8 <= elapsed < 2.0, elapsed


def test_listings_asked_at_once_come_back_in_order():
    barrier = threading.Barrier(3, timeout=10)  # broken unless all three wait together

    def lister(query: str | None) -> list[dict[str, str]]:
        barrier.wait()
        return [{"full_name": f"{query}x", "id": str(query)}]

    assert list_each(["a", "b", "c"], lister) == [
        [{"full_name": "ax", "id": "a"}], [{"full_name": "bx", "id": "b"}],
        [{"full_name": "cx", "id": "c"}]]


def test_the_first_failure_in_query_order_is_raised_after_every_listing_ended():
    asked: list[str | None] = []

    def lister(query: str | None) -> list[dict[str, str]]:
        asked.append(query)
        if query != "a":
            time.sleep(0.05 if query == "b" else 0.0)  # "c" fails first in time
            raise TransportError(f"listing {query} failed")
        return []

    with pytest.raises(TransportError, match="listing b failed"):
        list_each(["a", "b", "c", "d"], lister)
    assert sorted(asked) == ["a", "b", "c", "d"]


def test_listings_with_no_thread_to_be_had_are_asked_on_the_callers(monkeypatch):
    """The system's thread limit (a container's): the calling thread lists them all,
    in order, rather than failing the session."""
    start = threading.Thread.start

    def refused(thread: threading.Thread) -> None:
        if thread.name.startswith("mogrun-repos-"):
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", refused)
    asked: list[tuple[str | None, str]] = []

    def lister(query: str | None) -> list[dict[str, str]]:
        asked.append((query, threading.current_thread().name))
        return [{"full_name": f"{query}x", "id": str(query)}]

    assert list_each(["a", "b", "c"], lister) == [
        [{"full_name": "ax", "id": "a"}], [{"full_name": "bx", "id": "b"}],
        [{"full_name": "cx", "id": "c"}]]
    assert asked == [(q, threading.current_thread().name) for q in ("a", "b", "c")]


UNDERSCORED = [f"acme/svc-{i:03d}" for i in range(300)] + ["acme/svc_x", "acme/svc_y"]


@pytest.mark.mogrun_emulator(repos=UNDERSCORED)
def test_an_underscore_in_a_query_is_a_literal_not_the_servers_wildcard(mogrun_emulator):
    # The server puts q into ILIKE unescaped: `acme/svc_` would match the 300
    # acme/svc-NNN too, list the same full page again and again, and never reach
    # acme/svc_x. Escaped, it lists just the two.
    ids = client_for(mogrun_emulator).resolve_repos(["acme/svc_x", "acme/svc_y"])
    assert ids == {n: mogrun_emulator.repo_id(n) for n in ["acme/svc_x", "acme/svc_y"]}
    assert lookups(mogrun_emulator) == 2
    assert [r["full_name"] for r in client_for(mogrun_emulator).list_repos("svc_")] == [
        "acme/svc_x", "acme/svc_y"]


def test_a_server_answering_every_query_with_one_full_page_is_asked_each_query_once():
    # Whatever a server answers, resolution ends: a query is never sent twice.
    page = [{"full_name": f"other/r{i:03d}", "id": str(i)} for i in range(200)]
    asked: list[str | None] = []

    def lister(query: str | None) -> list[dict[str, str]]:
        asked.append(query)
        return page

    found, _ = find_repos(["acme/a1", "acme/a2", "acme/b1"], lister)
    assert "acme/a1" not in found
    assert asked == [None, "acme/"]


def test_a_missing_name_among_many_is_reported_with_close_names(mogrun_emulator):
    with pytest.raises(RepoNotFoundError) as caught:
        client_for(mogrun_emulator).resolve_repos(["acme/api", "acme/wbe"])
    assert caught.value.message == "repo 'acme/wbe' is not one of this token's repos"
    assert caught.value.context[0].startswith("Closest names: acme/web")
    assert caught.value.exit_code == 2


def test_a_cache_for_another_token_or_api_is_not_used(mogrun_emulator, tmp_path):
    path = tmp_path / "repos.json"
    RepoCache(path, mogrun_emulator.api_url, "mog_other").remember({"acme/api": "repo_wrong"})
    ids = client_for(mogrun_emulator, RepoCache(path, mogrun_emulator.api_url, "mog_x")
                     ).resolve_repos(["acme/api"])
    assert ids == {"acme/api": mogrun_emulator.repo_id("acme/api")}


@pytest.mark.parametrize("content", ["", "not json", "[1, 2]", '{"scope": 3}'])
def test_an_unreadable_cache_is_an_empty_one(mogrun_emulator, tmp_path, content):
    path = tmp_path / "repos.json"
    path.write_text(content, encoding="utf-8")
    cache = RepoCache(path, mogrun_emulator.api_url, "mog_x")
    assert client_for(mogrun_emulator, cache).resolve_repos(["acme/api"])
    assert json.loads(path.read_text(encoding="utf-8"))  # rewritten whole


FAN = """
    [mogplex]
    requests_per_minute = 600

    [jobs.fan]
    repo = ["acme/api", "acme/web"]
    prompt = "hi\\n@emulator duration=0.1s"
"""


def test_a_second_run_looks_no_repo_up_and_a_stale_id_is_looked_up_again(
        mogrun_cli, mogrun_emulator, tmp_path):
    """A stale cached id failed its run with a bare 404 (the repo exists: it was
    added again under a new id); the explanation built for it was never shown."""
    write_taskfile(tmp_path, FAN)
    env = {"MOGRUN_POLL_INTERVAL": "0.1"}
    assert mogrun_cli("run", "fan", cwd=tmp_path, env=env).exit_code == 0
    first = lookups(mogrun_emulator)
    assert first >= 1
    assert mogrun_cli("run", "fan", "--rerun", cwd=tmp_path, env=env).exit_code == 0
    assert lookups(mogrun_emulator) == first  # ids from .mogrun/repos.json
    cache = tmp_path / ".mogrun" / "repos.json"
    document = json.loads(cache.read_text(encoding="utf-8"))
    for ids in document.values():  # as if acme/api was removed and added again
        for key, value in ids.items():
            if value == mogrun_emulator.repo_id("acme/api"):
                ids[key] = "00000000-0000-4000-8000-00000000dead"  # a UUID it no longer has
    cache.write_text(json.dumps(document), encoding="utf-8")
    mogrun_emulator.clear_requests()
    result = mogrun_cli("run", "fan", "--rerun", cwd=tmp_path, env=env)
    assert result.exit_code == 0, result  # looked up again, and started
    assert "Repo not found" not in result.output
    starts = sorted(r.status for r in mogrun_emulator.requests if r.method == "POST")
    assert starts == [202, 202, 404]  # acme/web; acme/api's stale id, then its fresh one
    assert lookups(mogrun_emulator) == 1  # once, for the stale name only
    # The history keeps the request the server took (a conflict's hint compares it).
    with contextlib.closing(sqlite3.connect(tmp_path / ".mogrun" / "history.db")) as db:
        (sent,) = db.execute("SELECT request FROM runs WHERE repo = 'acme/api' "
                             "ORDER BY id DESC LIMIT 1").fetchone()
    assert json.loads(sent)["repoId"] == mogrun_emulator.repo_id("acme/api")
    document = json.loads(cache.read_text(encoding="utf-8"))
    assert mogrun_emulator.repo_id("acme/api") in {v for ids in document.values()
                                                   for v in ids.values()}
    mogrun_emulator.clear_requests()
    assert mogrun_cli("run", "fan", "--rerun", cwd=tmp_path, env=env).exit_code == 0
    assert lookups(mogrun_emulator) == 0  # the fresh id was cached


SECRET_REPO = """
    [jobs.hidden]
    repo = "acme/{{ env.HIDDEN_REPO }}"
    prompt = "hi\\n@emulator duration=0.1s"
"""


@pytest.mark.parametrize("hidden, found", [("worker", True), ("nope-s3cr3t", False)])
def test_an_env_repo_name_is_masked_in_the_trace_and_the_error(mogrun_cli, mogrun_emulator,
                                                               tmp_path, hidden, found):
    write_taskfile(tmp_path, SECRET_REPO)
    result = mogrun_cli("-v", "run", "hidden", cwd=tmp_path,
                        env={"MOGRUN_POLL_INTERVAL": "0.1", "HIDDEN_REPO": hidden})
    assert "GET " in result.stderr  # the trace is there
    assert hidden not in result.output
    assert "acme/***" in result.output or "acme%2F***" in result.output
    assert result.exit_code == (0 if found else 2), result


@pytest.mark.mogrun_emulator(repos=["acme/mono#apps/web", "acme/api"])
def test_each_repos_own_root_is_learnt_from_the_listing_and_kept_in_the_cache(
        mogrun_emulator, tmp_path):
    """A run that names no root works in its repo's own root directory, which
    sandbox accounting must know even when the id comes from the cache."""
    mono, api = mogrun_emulator.repo_id("acme/mono"), mogrun_emulator.repo_id("acme/api")
    path = tmp_path / "repos.json"
    path.write_text(json.dumps({"unrelated": {"x": "y"}}))  # another account's entries stay
    client = client_for(mogrun_emulator, RepoCache(path, mogrun_emulator.api_url, "mog_x"))
    client.resolve_repos(["acme/mono", "acme/api"])
    assert (client.default_root(mono), client.default_root(api)) == ("apps/web", None)
    cached = client_for(mogrun_emulator, RepoCache(path, mogrun_emulator.api_url, "mog_x"))
    assert cached.resolve_repos(["acme/mono"]) == {"acme/mono": mono}
    assert lookups(mogrun_emulator) == 1
    assert cached.default_root(mono) == "apps/web"
    assert RepoCache(path, mogrun_emulator.api_url, "mog_x").root(api) == (True, None)
    assert json.loads(path.read_text())["unrelated"] == {"x": "y"}


def test_a_cache_written_before_roots_were_kept_still_gives_its_ids(tmp_path):
    path = tmp_path / "repos.json"
    RepoCache(path, "http://x", "mog_x").remember({"acme/api": "id-1"})
    document = json.loads(path.read_text())
    old = {scope: ids for scope, ids in document.items() if not scope.endswith(":roots")}
    path.write_text(json.dumps(old))  # the file as an earlier mogrun wrote it
    cache = RepoCache(path, "http://x", "mog_x")
    assert (cache.get("Acme/API"), cache.root("id-1")) == ("id-1", (False, None))


@pytest.mark.parametrize("kind", ['prompt = "p"', 'automation = "triage"'])
@pytest.mark.mogrun_emulator(automations=["triage"])
def test_one_repo_by_name_and_by_id_is_refused_before_any_start(mogrun_cli, mogrun_emulator,
                                                                tmp_path, kind):
    """check cannot tell a name from its id: run started two runs of the job in one
    repo. Refused once the ids are known, and the rows planned for the runs say why
    they never started (status and rerun read them)."""
    repo_id = mogrun_emulator.repo_id("acme/api")
    (tmp_path / "mogplex.toml").write_text(
        f'[jobs.both]\r\nrepo = ["ACME/api",  # by name\r\n  "{repo_id.upper()}"]\r\n'
        f"{kind}\r\n\r\n", encoding="utf-8")
    result = mogrun_cli("run", "both", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert result.stderr.startswith(f'Error: job "both" lists one repo twice: "ACME/api" and '
                                    f'"{repo_id.upper()}" are the same repository\n'), result
    assert [r for r in mogrun_emulator.requests if r.method == "POST"] == []
    rows = [json.loads(line) for line in
            mogrun_cli("--json", "history", cwd=tmp_path).stdout.splitlines()]
    assert [(r["outcome"], r["exit_code"]) for r in rows] == [("error", 2)] * 2
    assert all(r["message"].startswith('not started: job "both" lists one repo twice')
               for r in rows)


@pytest.mark.parametrize(("query", "secret"), [
    ("acme/sec_und3r", "sec_und3r"),  # escaped: q=acme%2Fsec%5C_und3r
    ("acme/sec-mixedcase9", "Sec-MixedCase9"),  # lower-cased
    ("acme/secret-prj-", "secret-prj-one"),  # the prefix two secret names share
])
def test_an_env_repo_looked_up_by_query_is_masked_in_the_form_it_is_sent(query, secret):
    """A QA pass's scripted server (every name its own query) saw the -v trace show
    q=acme%2Fsec%5C_und3r, q=acme%2Fsec-mixedcase9 and q=acme%2Fsecret-prj-: only
    each secret as written (and URL-encoded) was masked. The look-up's own request
    and trace, over HTTP."""
    traced: list[str] = []
    page = json.dumps({"ok": True, "data": {"repos": []}}).encode()
    with loopback_server(body=page, headers={"Content-Type": "application/json"}) as server:
        client = MogplexClient(server.url + "/api/v1/mogplex", "mog_x", trace=traced.append,
                               transport=Urllib3Transport(),
                               budget=RequestBudget(requests_per_minute=100_000))
        assert client.list_repos(query, secrets=[secret]) == []
        sent = server.received[0][1]
    assert "q=acme%2F" in sent  # it went out by query
    shown = "\n".join(traced).casefold()
    assert "q=***" in shown or "q=acme%2f***" in shown, traced
    for leak in ("und3r", "mixedcase9", "secret-prj"):
        assert leak not in shown, traced

