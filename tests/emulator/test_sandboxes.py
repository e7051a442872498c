"""Sandboxes and capacity over real HTTP: reuse by (repo, working branch, root),
the per-account cap, boot rates, idle reaping, GET /sandboxes, occupants, and a
pausing sandbox (listed, not counted against the cap, yet reused by a start of
its triple; once ``paused``, neither counted nor reused)."""

from __future__ import annotations

import time

import pytest

from mogrun.emulator import Limits
from mogrun.emulator.sandboxes import Policy, reap_time

NEVER = "@emulator duration=never pending=0s interval=1s"
CAP2 = Limits(requests=0, starts=(), sandboxes=2, idle=60.0)
CAP1 = Limits(requests=0, starts=(), sandboxes=1)
QUICK = "@emulator duration=0.2s"
FIELDS = {"id", "sandbox_id", "repo_id", "status", "base_branch", "working_branch",
          "root_directory", "preview_url", "created_at", "last_active_at", "error"}


def _until(check, timeout: float = 10.0):
    """Poll ``check`` until it returns something truthy (generous: no tight timing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _final(api, run_id: str) -> dict:
    return _until(lambda: (lambda r: r if r["run"]["status"] in {"failed", "success",
                                                                  "cancelled"} else None)(
        api.call("GET", f"/runs/{run_id}/events").data))


@pytest.mark.mogrun_emulator(limits=CAP2)
def test_a_start_past_the_cap_is_accepted_then_fails_as_the_server_does(api, mogrun_emulator):
    assert api.start(NEVER, key="a", repo="acme/api").status == 202
    assert api.start(NEVER, key="b", repo="acme/web").status == 202
    refused = api.start(NEVER, key="c", repo="acme/worker")
    assert refused.status == 202
    assert refused.data["status"] == "pending" and refused.data["error"] is None
    final = _final(api, refused.data["runId"])
    assert final["run"]["status"] == "failed"
    assert final["run"]["error"] == "Too many active sandboxes"
    assert final["run"]["sandboxRecordId"] is None
    assert [(e["type"], e["message"], e["payload"].get("error")) for e in final["events"]] == [
        ("started", "External Mogplex run accepted", None),
        ("failed", "External Mogplex run failed", "Too many active sandboxes"),
    ]
    assert mogrun_emulator.active_sandboxes() == 2
    assert mogrun_emulator.peak_sandboxes() == 2


@pytest.mark.mogrun_emulator(limits=CAP2)
def test_a_refused_run_replays_failed_for_ever(api):
    holders = [api.start(NEVER, key=k, repo=r).data["runId"]
               for k, r in (("a", "acme/api"), ("b", "acme/web"))]
    run_id = api.start("go", key="c", repo="acme/worker").data["runId"]
    _final(api, run_id)
    for holder in holders:
        assert api.call("POST", f"/runs/{holder}/cancel").data["status"] == "cancelled"
    again = api.start("go", key="c", repo="acme/worker")
    assert (again.status, again.data["runId"], again.data["replayed"]) == (202, run_id, True)
    assert (again.data["status"], again.data["error"]) == ("failed", "Too many active sandboxes")


@pytest.mark.mogrun_emulator(limits=CAP2)
def test_runs_of_one_triple_share_a_sandbox(api):
    first = api.start(NEVER, key="a", repo="acme/api").data
    second = api.start(NEVER, key="b", repo="acme/api").data
    assert second["sandboxRecordId"] == first["sandboxRecordId"]
    assert second["sandboxRecordId"] is not None  # reused: known at the start already
    assert len(api.call("GET", "/sandboxes").data["sandboxes"]) == 1
    api.start(NEVER, key="c", repo="acme/api", rootDirectory="docs")  # another root
    refused = api.start(NEVER, key="d", repo="acme/api", workingBranch="feature/x")
    assert _final(api, refused.data["runId"])["run"]["error"] == "Too many active sandboxes"


@pytest.mark.mogrun_emulator(limits=CAP2)
def test_a_start_joining_a_sandbox_still_booting_fails_not_ready(api, mogrun_emulator):
    """The server's launch hands a booting sandbox (``sandbox_id`` "pending") to a
    start of its triple at once, and its harness refuses it: the run is accepted
    bound to that sandbox, then fails "Sandbox is not ready" having done nothing.
    The emulator ran it in the booting sandbox as if ready."""
    booting = "@emulator duration=never pending=2s interval=1s"  # no VM for 1 s
    first = api.start(booting, key="a", repo="acme/api").data
    [box] = api.call("GET", "/sandboxes").data["sandboxes"]
    assert (box["status"], box["sandbox_id"]) == ("creating", "pending")
    joined = api.start(NEVER, key="b", repo="acme/api")
    assert joined.status == 202 and joined.data["status"] == "pending"
    assert (joined.data["sandboxRecordId"], joined.data["sandboxId"]) == (box["id"], "pending")
    final = _final(api, joined.data["runId"])
    assert (final["run"]["status"], final["run"]["error"]) == ("failed", "Sandbox is not ready")
    assert final["run"]["sandboxRecordId"] == box["id"]
    assert [(e["type"], e["message"], e["payload"].get("error")) for e in final["events"]] == [
        ("started", "External Mogplex run accepted", None),
        ("failed", "External Mogplex run failed", "Sandbox is not ready"),
    ]
    again = api.start(NEVER, key="b", repo="acme/api").data
    assert (again["replayed"], again["status"], again["error"]) == (
        True, "failed", "Sandbox is not ready")
    assert api.call("GET", f"/runs/{first['runId']}").data["run"]["status"] == "pending"
    _until(lambda: api.call("GET", "/sandboxes").data["sandboxes"][0]["sandbox_id"] != "pending")
    later = api.start(NEVER, key="c", repo="acme/api").data
    assert later["sandboxRecordId"] == box["id"] and later["sandboxId"] != "pending"
    assert _until(lambda: api.call("GET", f"/runs/{later['runId']}").data["run"]["status"]
                  == "streaming")
    assert mogrun_emulator.active_sandboxes() == 1


@pytest.mark.mogrun_emulator(limits=CAP2)
def test_a_repo_id_in_capitals_is_the_stored_repo_and_shares_its_sandbox(api, mogrun_emulator):
    """The server's repo_id columns are UUIDs: Postgres finds the active sandbox
    whatever the case of the id sent, and gives the id back in lower case."""
    stored = mogrun_emulator.repo_id("acme/api")
    first = api.start(NEVER, key="a").data
    second = api.call("POST", "/runs", {"repoId": f" {stored.upper()}\n", "prompt": NEVER},
                      key="b").data
    assert (second["sandboxRecordId"], second["repoId"]) == (first["sandboxRecordId"], stored)
    assert api.call("GET", f"/runs/{second['runId']}").data["run"]["repoId"] == stored
    assert mogrun_emulator.active_sandboxes() == 1
    # What the server hashes is the repoId as sent: in capitals, another request.
    again = api.call("POST", "/runs", {"repoId": stored.upper(), "prompt": NEVER}, key="a")
    assert (again.status, again.code) == (409, "IDEMPOTENCY_CONFLICT")


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=1, idle=1.5,
                                           reap=0.25))
def test_an_idle_sandbox_is_reaped_and_frees_its_slot(api, mogrun_emulator):
    run_id = api.start("@emulator duration=0.2s", key="a", repo="acme/api").data["runId"]
    assert _final(api, run_id)["run"]["status"] == "success"
    [sandbox] = api.call("GET", "/sandboxes").data["sandboxes"]
    assert sandbox["status"] == "running"  # idle, but not yet for `idle`: still counts
    stopped = _until(lambda: api.call("GET", "/sandboxes?status=stopped").data["sandboxes"])
    assert stopped[0]["id"] == sandbox["id"]
    booted = api.start(NEVER, key="b", repo="acme/web").data["runId"]
    time.sleep(0.3)  # a refused run would have failed by now
    assert api.call("GET", f"/runs/{booted}").data["run"]["status"] == "streaming"
    assert api.call("GET", "/sandboxes?status=running").data["sandboxes"][0]["repo_id"] \
        == mogrun_emulator.repo_id("acme/web")


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=1, idle=0.2,
                                           reap=0.1))
def test_a_sandbox_with_a_live_run_is_never_reaped(api):
    api.start(NEVER, key="a")
    time.sleep(0.6)
    assert api.call("GET", "/sandboxes").data["sandboxes"][0]["status"] == "running"


@pytest.mark.parametrize(("boots", "message"), [
    (((1, 3600.0),), "Sandbox boot rate limit exceeded"),
    (((1, 86400.0),), "Daily sandbox boot quota exceeded"),
])
def test_boot_rates_refuse_with_the_servers_messages(mogrun_emulator, api, boots, message):
    mogrun_emulator.set_limits(Limits(requests=0, starts=(), sandboxes=0, boots=boots))
    api.start(NEVER, key="a", repo="acme/api")
    api.start(NEVER, key="b", repo="acme/api")  # reuse: not a boot
    refused = api.start(NEVER, key="c", repo="acme/web").data["runId"]
    assert _final(api, refused)["run"]["error"] == message


@pytest.mark.mogrun_emulator(limits=CAP2)
def test_list_sandboxes_fields_order_filters_and_limit(api, mogrun_emulator):
    mogrun_emulator.occupy_sandboxes(1, busy=0, repo="acme/worker")
    time.sleep(0.05)
    api.start(NEVER, key="a", repo="acme/api")
    listed = api.call("GET", "/sandboxes", token=mogrun_emulator.read_token).data["sandboxes"]
    assert [set(s) for s in listed] == [FIELDS, FIELDS]
    assert [s["repo_id"] for s in listed] == [mogrun_emulator.repo_id("acme/api"),
                                              mogrun_emulator.repo_id("acme/worker")]
    assert listed[0]["last_active_at"] > listed[1]["last_active_at"]
    assert listed[0]["working_branch"] == "main" and listed[0]["base_branch"] == "main"
    web = api.call("GET", f"/sandboxes?repo_id={mogrun_emulator.repo_id('acme/worker')}")
    assert len(web.data["sandboxes"]) == 1
    assert api.call("GET", "/sandboxes?status=paused").data["sandboxes"] == []
    assert len(api.call("GET", "/sandboxes?limit=0").data["sandboxes"]) == 1
    assert len(api.call("GET", "/sandboxes?limit=500").data["sandboxes"]) == 2
    assert api.call("GET", "/sandboxes", token=None).status == 401


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, starts=(), sandboxes=3))
def test_occupied_sandboxes_take_slots_until_released(api, mogrun_emulator):
    assert len(mogrun_emulator.occupy_sandboxes(2, busy=None)) == 2
    api.start(NEVER, key="a", repo="acme/api")
    refused = api.start(NEVER, key="b", repo="acme/web").data["runId"]
    assert _final(api, refused)["run"]["error"] == "Too many active sandboxes"
    assert mogrun_emulator.release_sandboxes() == 2
    assert mogrun_emulator.active_sandboxes() == 3  # released: idle, not yet reaped


def test_occupants_over_the_control_endpoint(api, mogrun_emulator):
    answer = api.call("POST", "/_emulator/sandboxes", {"spec": "acme/web:2@never,1@5s"},
                      api=False, token=None)
    assert answer.status == 200
    assert [s["status"] for s in answer.json] == ["running"] * 3
    assert {s["user"] for s in answer.json} == {"user_emulator"}
    assert api.call("POST", "/_emulator/sandboxes", {"count": 1, "busy": "never"},
                    api=False, token=None).status == 200
    bad = api.call("POST", "/_emulator/sandboxes", {"spec": "two@5s"}, api=False, token=None)
    assert bad.status == 400 and "expected [REPO:]COUNT[@BUSY]" in bad.json["error"]
    unknown = api.call("POST", "/_emulator/sandboxes", {"repo": "no/such"}, api=False,
                       token=None)
    assert unknown.status == 400 and "no repo 'no/such'" in unknown.json["error"]
    assert api.call("DELETE", "/_emulator/sandboxes", api=False, token=None).status == 200
    assert len(api.call("GET", "/_emulator/sandboxes", api=False, token=None).json) == 4


def test_the_repo_id_filter_is_a_uuid_as_on_the_server(api, mogrun_emulator):
    """The server filters on its UUID column, unguarded: an id in capitals is the
    repo's, and a value that is no UUID fails the query, answered 500."""
    stored = mogrun_emulator.repo_id("acme/api")
    api.start(NEVER)
    listed = api.call("GET", f"/sandboxes?repo_id=%20{stored.upper()}%0A").data["sandboxes"]
    assert [s["repo_id"] for s in listed] == [stored]
    for value in ("acme/api", "repo_nope"):
        answer = api.call("GET", f"/sandboxes?repo_id={value}")
        assert (answer.status, answer.code, answer.message) == (
            500, "INTERNAL_ERROR", "Failed to list sandboxes")
    assert len(api.call("GET", "/sandboxes?repo_id=%20").data["sandboxes"]) == 1  # blank: none


def test_sandboxes_listing_can_be_faulted(api, mogrun_emulator):
    mogrun_emulator.add_fault("sandboxes", "503")
    assert api.call("GET", "/sandboxes").status == 503
    assert api.call("GET", "/sandboxes").status == 200


def test_repos_by_id(api, mogrun_emulator):
    wanted = mogrun_emulator.repo_id("acme/web")
    assert [r["full_name"] for r in api.call("GET", f"/repos?id={wanted}").data["repos"]] \
        == ["acme/web"]
    assert api.call("GET", f"/repos?id={wanted}&q=api").data["repos"][0]["id"] == wanted
    assert api.call("GET", "/repos?id=repo_nope").data["repos"] == []
    # A UUID column: Postgres compares UUIDs in any case, so a pasted id in capitals
    # is the repo too, for a listing and for a start.
    assert [r["id"] for r in api.call("GET", f"/repos?id={wanted.upper()}").data["repos"]] \
        == [wanted]
    started = api.call("POST", "/runs", {"repoId": wanted.upper(), "prompt": "x"}, key="up")
    assert started.status == 202, started


def test_the_reaper_frees_a_slot_35_to_40_minutes_after_the_run_by_default():
    policy = Policy.of(Limits.real())
    for ended in (0.0, 1.0, 299.0, 300.0, 301.0, 1234.5):
        freed = reap_time(ended, policy, epoch=0.0) - ended
        assert 35 * 60 <= freed <= 40 * 60, (ended, freed)


def test_limits_parse_sandbox_items():
    parsed = Limits.parse("sandboxes=3,idle=20s")
    assert (parsed.sandboxes, parsed.idle, parsed.requests) == (3, 20.0, 60)
    assert parsed.reaper_period == pytest.approx(20 / 6)
    assert Limits.parse("sandboxes=none,boots=none,reap=1s").describe() == (
        "60/60s,starts=10/60s,starts=30/1h,starts=150/1d,sandboxes=none,idle=30m,"
        "boots=none,reap=1s")
    assert Limits.parse(Limits.real().describe()) == Limits.real()
    with pytest.raises(ValueError, match="sandboxes must be a whole number"):
        Limits.parse("sandboxes=0")
    with pytest.raises(ValueError, match="unknown limit 'sandbox'"):
        Limits.parse("sandbox=3")


def test_local_limits_keep_the_real_cap_with_idle_sandboxes_freed_in_seconds():
    local = Limits.local()
    assert (local.sandboxes, local.idle, local.starts) == (3, 2.0, Limits.real().starts)
    assert local.sandboxes == Limits.real().sandboxes


def test_limits_are_raised_to_a_bigger_plan_and_never_lowered():
    """``at_least``: a task file's bigger plan is what --local serves; a smaller
    value is mogrun's own restraint, not the server's limit."""
    real = Limits.real()
    raised = real.at_least(120, ((20, 60.0), (5, 3600.0), (500, 86400.0)), 8)
    assert (raised.requests, raised.starts, raised.sandboxes) == (
        120, ((20, 60.0), (30, 3600.0), (500, 86400.0)), 8)
    assert real.at_least(30, ((2, 60.0),), 1) == real
    assert real.at_least(60, (), None) == real
    lifted = Limits.parse("requests=none,starts=none,sandboxes=none")
    assert lifted.at_least(500, ((99, 60.0),), 50) == lifted
    per_second = Limits.parse("5/1s")  # not a per-minute limit: the plan's is not its
    assert per_second.at_least(500, (), None).requests == 5


def test_local_serves_the_plan_the_task_file_declares(tmp_path, mogrun_cli):
    """--local served the server's default limits whatever the file declared: a
    team whose plan has 6 sandboxes and 20 starts a minute (``[mogplex]``) met
    slot waits ("3 of 3 busy") and start-limit 429s its account never gives, and a
    fan-out of a few seconds took over a minute offline."""
    (tmp_path / "mogplex.toml").write_text(
        "[mogplex]   # our plan\r\nrequests_per_minute = 200\r\nstarts_per_minute = 20\r\n"
        "sandboxes = 12\r\n\r\n[jobs.fan]\r\n"
        "repo = [" + ", ".join(f'"acme/r{i}"' for i in range(12)) + "]\r\n"
        'prompt = "@emulator duration=0.2s"\r\n\r\n')
    result = mogrun_cli("--local", "-j", "12", "fan", cwd=tmp_path)
    assert result.exit_code == 0, result
    assert "12 passed, 0 failed" in result.stdout
    assert "  wait  " not in result.stdout, result.stdout  # no slot wait, no 429


def test_local_keeps_a_smaller_sandboxes_as_mogruns_own_restraint(tmp_path, mogrun_cli):
    """``sandboxes = 2`` under --local: mogrun keeps to 2 slots (the emulator's 3
    were used instead), as it does against the server."""
    (tmp_path / "mogplex.toml").write_text(
        "[mogplex]\nsandboxes = 2\n\n[jobs.fan]\n"
        'repo = ["acme/r1", "acme/r2", "acme/r3"]\nprompt = "@emulator duration=0.2s"\n')
    result = mogrun_cli("--local", "fan", cwd=tmp_path)
    assert result.exit_code == 0, result
    waits = [line for line in result.stdout.splitlines() if "  wait  capacity  " in line]
    assert waits and all("2 of 2 busy" in line for line in waits), result.stdout


def test_every_job_of_the_example_runs_with_local(tmp_path, mogrun_cli):
    """The needs chain weekly-cleanup -> codemod (3 repos) -> docs-sync holds more
    sandboxes than the server's cap while they idle: --local, which keeps the cap,
    frees an idle one in seconds, so the chain waits for slots seconds, not half an
    hour."""
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    shutil.copy(root / "mogplex.toml.example", tmp_path / "mogplex.toml")
    shutil.copytree(root / "prompts", tmp_path / "prompts")
    result = mogrun_cli("--local", "docs-sync", cwd=tmp_path,  # 5 starts: its starts_per_minute
                        env={"SLACK_WEBHOOK_URL": "http://127.0.0.1:9/hook"})
    assert result.exit_code == 0, result
    assert "5 passed, 0 failed" in result.stdout


def test_a_local_fan_out_wider_than_the_cap_waits_for_slots_and_says_so(tmp_path, mogrun_cli):
    """--local had room for 10 sandboxes: a fan-out never met the server's cap of 3
    there, so the waits it makes on the server were never seen before CI."""
    (tmp_path / "mogplex.toml").write_text(
        "# five repos, three slots\r\n[jobs.fan]\r\n"
        'repo = ["acme/r1", "acme/r2", "acme/r3", "acme/r4", "acme/r5"]\r\n'
        'prompt = "@emulator duration=0.2s"   # quick\r\n\r\n\r\n')
    result = mogrun_cli("--local", "fan", cwd=tmp_path)
    assert result.exit_code == 0, result
    assert "5 passed, 0 failed" in result.stdout
    waits = [line for line in result.stdout.splitlines() if "  wait  capacity  " in line]
    assert len(waits) >= 2, result.stdout  # the 4th and 5th runs, at least
    assert all("waiting for a sandbox slot: 3 of 3 busy" in line for line in waits), waits


def _idle(mogrun_emulator, repo: str = "acme/api") -> dict:
    """An idle running sandbox of ``repo`` (another work's, idle at once)."""
    [sid] = mogrun_emulator.occupy_sandboxes(1, busy=0, repo=repo)
    return next(s for s in mogrun_emulator.sandboxes() if s["id"] == sid)


@pytest.mark.mogrun_emulator(limits=CAP1)
def test_a_pausing_sandbox_is_listed_and_frees_its_slot(api, mogrun_emulator):
    box = _idle(mogrun_emulator)
    assert mogrun_emulator.active_sandboxes() == 1
    before = box["last_active_at"]
    mogrun_emulator.pause_sandbox(box["id"], "30s")
    [listed] = api.call("GET", "/sandboxes").data["sandboxes"]
    assert (listed["id"], listed["status"]) == (box["id"], "pausing")
    assert listed["sandbox_id"] == box["sandbox_id"]
    assert listed["last_active_at"] > before  # the pause claim renews the idle clock
    assert mogrun_emulator.active_sandboxes() == 0
    run = api.start(QUICK, key="other", repo="acme/web").data
    assert _final(api, run["runId"])["run"]["status"] == "success"  # booted: the slot was free
    assert mogrun_emulator.active_sandboxes() == 1


@pytest.mark.mogrun_emulator(limits=CAP1)
def test_a_start_of_its_triple_reuses_a_pausing_sandbox_past_a_full_cap(
        api, mogrun_emulator):
    box = _idle(mogrun_emulator)
    mogrun_emulator.occupy_sandboxes(1, busy=None, repo="acme/web")  # the cap is full
    mogrun_emulator.pause_sandbox(box["id"], "30s")
    started = api.start(QUICK, key="same", repo="acme/api",
                        workingBranch=box["working_branch"]).data
    assert started["sandboxRecordId"] == box["id"]  # known at the start: reused
    final = _final(api, started["runId"])["run"]
    assert (final["status"], final["error"]) == ("success", None)
    refused = api.start(QUICK, key="new", repo="acme/worker").data
    assert _final(api, refused["runId"])["run"]["error"] == "Too many active sandboxes"


@pytest.mark.mogrun_emulator(limits=CAP1)
def test_a_paused_sandbox_is_neither_counted_nor_reused(api, mogrun_emulator):
    box = _idle(mogrun_emulator)
    mogrun_emulator.pause_sandbox(box["id"], 0.2)
    _until(lambda: api.call("GET", "/sandboxes?status=paused").data["sandboxes"])
    assert mogrun_emulator.active_sandboxes() == 0
    started = api.start(QUICK, key="same", repo="acme/api",
                        workingBranch=box["working_branch"]).data
    assert started["sandboxRecordId"] is None  # not reused: a new one boots
    assert _final(api, started["runId"])["run"]["status"] == "success"
    statuses = {s["id"]: s["status"] for s in mogrun_emulator.sandboxes()}
    assert statuses.pop(box["id"]) == "paused"
    assert list(statuses.values()) == ["running"]


def test_only_an_idle_running_sandbox_pauses_over_the_control_endpoint(
        api, mogrun_emulator):
    busy = api.start(NEVER, key="busy").data
    sid = _until(lambda: mogrun_emulator.run_detail(busy["runId"])["sandboxRecordId"])
    answer = api.call("POST", "/_emulator/pause", {"id": sid}, api=False, token=None)
    assert answer.status == 400 and "is busy" in answer.json["error"]
    unknown = api.call("POST", "/_emulator/pause", {"id": "nope"}, api=False, token=None)
    assert unknown.status == 400 and "no sandbox 'nope'" in unknown.json["error"]
    box = _idle(mogrun_emulator, "acme/web")
    answer = api.call("POST", "/_emulator/pause", {"id": box["id"], "pausing": "1m"},
                      api=False, token=None)
    assert answer.status == 200
    assert {s["id"]: s["status"] for s in answer.json}[box["id"]] == "pausing"
    again = api.call("POST", "/_emulator/pause", {"id": box["id"]}, api=False, token=None)
    assert again.status == 400 and "is pausing" in again.json["error"]
