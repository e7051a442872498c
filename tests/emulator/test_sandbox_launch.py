"""POST /sandboxes over real HTTP: the server's sandbox launch through the
public API — reuse of the triple's active sandbox, a boot under the cap and
boot windows, the refusals, the body as the route reads it, and the order of
token, request limit and scope before any of it."""

from __future__ import annotations

import time
import uuid

import pytest

from mogrun.emulator import Limits

NEVER = "@emulator duration=never pending=0s interval=1s"
CAP2 = Limits(requests=0, starts=(), sandboxes=2, idle=60.0)
FIELDS = {"id", "sandbox_id", "repo_id", "status", "base_branch", "working_branch",
          "root_directory", "preview_url", "created_at", "last_active_at", "error"}
REPOS = ["acme/api", "acme/web@develop", "acme/mono#./apps/web/"]


def launch(api, repo: str = "acme/api", **fields):
    return api.call("POST", "/sandboxes",
                    {"repoId": api.emulator.repo_id(repo), **fields})


def listed(api) -> list[dict]:
    return api.call("GET", "/sandboxes").data["sandboxes"]


def final(api, run_id: str) -> dict:
    """The run once it has ended (polled generously: no tight timing)."""
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        run = api.call("GET", f"/runs/{run_id}").data["run"]
        if run["status"] in {"failed", "success", "cancelled"}:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end in time")


@pytest.mark.mogrun_emulator(repos=REPOS)
def test_a_launch_boots_a_running_sandbox_listed_by_get(api, mogrun_emulator):
    answer = launch(api, "acme/web")
    assert answer.status == 202, answer.body
    sandbox = answer.data["sandbox"]
    assert set(sandbox) == FIELDS
    assert sandbox["repo_id"] == mogrun_emulator.repo_id("acme/web")
    assert (sandbox["status"], sandbox["base_branch"], sandbox["working_branch"],
            sandbox["root_directory"], sandbox["error"]) == (
        "running", "develop", "develop", None, None)
    assert sandbox["sandbox_id"] != "pending"
    assert listed(api) == [sandbox]
    assert mogrun_emulator.active_sandboxes() == 1


@pytest.mark.mogrun_emulator(repos=REPOS)
def test_a_launch_reads_branches_and_root_as_the_launch_does(api):
    mono = launch(api, "acme/mono").data["sandbox"]
    assert mono["root_directory"] == "apps/web"  # the repo's own root, normalised
    root = launch(api, "acme/mono", rootDirectory=None).data["sandbox"]
    assert root["root_directory"] is None and root["id"] != mono["id"]
    branch = launch(api, baseBranch=" main\n", workingBranch="feature/x",
                    createBranch=True, rootDirectory="./docs/").data["sandbox"]
    assert (branch["base_branch"], branch["working_branch"], branch["root_directory"]) == (
        "main", "feature/x", "docs")
    blank = launch(api, baseBranch="  ", workingBranch=7, createBranch="true").data["sandbox"]
    assert (blank["base_branch"], blank["working_branch"]) == ("main", "main")


@pytest.mark.mogrun_emulator(limits=CAP2)
def test_a_second_launch_of_the_triple_reuses_its_sandbox_even_at_the_cap(api,
                                                                           mogrun_emulator):
    first = launch(api).data["sandbox"]
    launch(api, "acme/web")
    again = launch(api, workingBranch="main")  # the same triple, spelt out
    assert again.status == 202
    assert again.data["sandbox"]["id"] == first["id"]
    assert len(listed(api)) == 2 and mogrun_emulator.peak_sandboxes() == 2


@pytest.mark.mogrun_emulator(limits=CAP2)
def test_a_launch_reuses_the_sandbox_of_a_run_of_the_triple(api):
    run = api.start(NEVER, key="a", repo="acme/api").data
    sandbox = launch(api).data["sandbox"]
    assert sandbox["id"] == run["sandboxRecordId"]
    assert sandbox["status"] in {"creating", "installing", "running"}  # as it is now
    other = launch(api, workingBranch="feature/y").data["sandbox"]
    assert other["id"] != sandbox["id"]


@pytest.mark.mogrun_emulator(limits=CAP2)
def test_a_launched_sandbox_counts_against_the_cap_of_runs(api):
    launch(api, "acme/api")
    launch(api, "acme/web")
    refused = api.start(NEVER, key="a", repo="acme/worker").data
    run = final(api, refused["runId"])
    assert (run["status"], run["error"]) == ("failed", "Too many active sandboxes")
    reused = api.start(NEVER, key="b", repo="acme/api").data
    assert reused["sandboxRecordId"] == launch(api, "acme/api").data["sandbox"]["id"]


@pytest.mark.mogrun_emulator(limits=CAP2)
def test_a_launch_past_the_cap_is_a_429_without_retry_after(api, mogrun_emulator):
    api.start(NEVER, key="a", repo="acme/api")
    launch(api, "acme/web")
    refused = launch(api, "acme/worker")
    assert (refused.status, refused.code, refused.message) == (
        429, "BAD_REQUEST", "Too many active sandboxes")
    assert "retry-after" not in refused.headers
    assert len(listed(api)) == 2 and mogrun_emulator.active_sandboxes() == 2


@pytest.mark.parametrize(("boots", "message"), [
    ((1, 3600.0), "Sandbox boot rate limit exceeded"),
    ((1, 86400.0), "Daily sandbox boot quota exceeded"),
])
def test_a_launch_past_a_boot_window_is_a_429(api, mogrun_emulator, boots, message):
    mogrun_emulator.set_limits(Limits(requests=0, starts=(), sandboxes=0, boots=(boots,)))
    assert launch(api, "acme/api").status == 202
    assert launch(api, "acme/api").status == 202  # a reuse boots nothing
    refused = launch(api, "acme/web")
    assert (refused.status, refused.code, refused.message) == (429, "BAD_REQUEST", message)


@pytest.mark.parametrize("raw", [
    b"", b"{", b"not json", b"NaN", b"null", b"[]", b'["repoId"]', b'"repoId"', b"42",
    b"true", b"{}", b'{"repoId": null}', b'{"repoId": 42}', b'{"repoId": ["x"]}',
    b'{"repoId": ""}', b'{"repoId": " \\u00a0\\ufeff\\n"}',
])
def test_a_body_without_a_repo_id_string_is_400(api, mogrun_emulator, raw):
    answer = api.call("POST", "/sandboxes", raw=raw)
    assert (answer.status, answer.code, answer.message) == (
        400, "BAD_REQUEST", "repoId is required")
    assert mogrun_emulator.sandboxes() == []


def test_an_unknown_repo_is_a_404_coded_bad_request(api, mogrun_emulator):
    known = mogrun_emulator.repo_id("acme/api")
    for repo_id in (str(uuid.uuid4()), "acme/api", f" {known} ", known + "\n"):
        answer = api.call("POST", "/sandboxes", {"repoId": repo_id})
        assert (answer.status, answer.code, answer.message) == (
            404, "BAD_REQUEST", "Repo not found"), repo_id
    assert api.call("POST", "/sandboxes", {"repoId": known.upper()}).status == 202


@pytest.mark.parametrize(("fields", "message"), [
    ({"baseBranch": "a..b"}, "Invalid base branch"),
    ({"workingBranch": "feature x"}, "Invalid working branch"),
    ({"createBranch": True}, "Invalid working branch"),
    ({"createBranch": True, "workingBranch": "main"},
     "New branch name must differ from the default branch"),
    ({"rootDirectory": "../etc"}, "Invalid root directory"),
    ({"rootDirectory": "apps/%2e%2e/x"}, "Invalid root directory"),
    ({"rootDirectory": 5}, "Invalid root directory"),
])
def test_a_bad_branch_or_root_is_400_with_the_launch_message(api, mogrun_emulator, fields,
                                                              message):
    answer = launch(api, **fields)
    assert (answer.status, answer.code, answer.message) == (400, "BAD_REQUEST", message)
    assert mogrun_emulator.sandboxes() == []


def test_a_launch_needs_the_write_scope_before_its_body_is_read(api, mogrun_emulator):
    api.token = mogrun_emulator.read_token
    for answer in (launch(api), api.call("POST", "/sandboxes", raw=b"{")):
        assert (answer.status, answer.code) == (403, "FORBIDDEN")
        assert answer.message.startswith("Missing required scope: write.")
    assert api.call("POST", "/sandboxes", {}, token=None).status == 401
    assert mogrun_emulator.sandboxes() == []


@pytest.mark.mogrun_emulator(limits=Limits(requests=1, window=30.0, starts=()))
def test_the_request_limit_comes_before_the_scope(api, mogrun_emulator):
    api.token = mogrun_emulator.read_token
    assert api.call("GET", "/repos").status == 200
    answer = launch(api)
    assert (answer.status, answer.code) == (429, "RATE_LIMITED")
    assert answer.headers["retry-after"] == "30"


def test_a_fault_reaches_launches_as_launch(api, mogrun_emulator):
    mogrun_emulator.add_fault("launch", "503")
    assert api.call("GET", "/sandboxes").status == 200
    assert launch(api).status == 503
    assert launch(api).status == 202
