"""POST /runs: Idempotency-Key, body validation, replay, conflict, derived branch."""

from __future__ import annotations

import hashlib

import pytest


def test_idempotency_key_is_required(api, mogrun_emulator):
    """The handler's words (app/api/v1/mogplex/runs/route.ts), before the body is read."""
    body = {"repoId": mogrun_emulator.repo_id("acme/api"), "prompt": "x"}
    for key in (None, "", "   "):
        answer = api.call("POST", "/runs", body, key=key)
        assert (answer.status, answer.code) == (400, "BAD_REQUEST")
        assert answer.message == "Idempotency-Key is required"
    assert api.call("POST", "/runs", raw=b"{not json").message == "Idempotency-Key is required"
    assert mogrun_emulator.runs == []


def test_idempotency_key_length_is_counted_after_trimming(api):
    assert api.start(key="k" * 200).status == 202
    assert api.start(key="  " + "j" * 200 + "  ").status == 202
    answer = api.start(key="k" * 201)
    assert (answer.status, answer.code, answer.message) == (
        400, "BAD_REQUEST", "Idempotency-Key exceeds maximum length of 200 characters")


def test_same_key_and_request_replays_the_original_run(api, mogrun_emulator):
    first = api.start("p", key="abc")
    again = api.start("p", key=" abc ", harness="codex", createBranch=False)
    assert again.status == 202
    assert again.data["replayed"] is True
    assert again.data["runId"] == first.data["runId"]
    assert mogrun_emulator.runs == [first.data["runId"]]


def test_same_key_different_request_is_idempotency_conflict(api, mogrun_emulator):
    api.start("one", key="abc")
    answer = api.start("two", key="abc")
    assert (answer.status, answer.code) == (409, "IDEMPOTENCY_CONFLICT")
    assert len(mogrun_emulator.runs) == 1


def test_different_keys_start_different_runs(api, mogrun_emulator):
    api.start(key="a")
    api.start(key="b")
    assert len(mogrun_emulator.runs) == 2


def test_derived_working_branch_is_deterministic(api):
    key_hex = hashlib.sha256(b"nightly-1").hexdigest()[:8]
    first = api.start("p", key="nightly-1", createBranch=True).data["branch"]
    assert first["base"] == "main" and first["createBranch"] is True
    prefix = f"mogplex/external/{key_hex}-"
    assert first["working"].startswith(prefix)
    request_hex = first["working"][len(prefix):]
    assert len(request_hex) == 8 and int(request_hex, 16) >= 0
    # the second half depends on the request only; the first on the key only
    other_key = api.start("p", key="nightly-2", createBranch=True).data["branch"]["working"]
    assert other_key.endswith("-" + request_hex)
    assert not other_key.startswith(prefix)
    other_body = api.start("q", key="nightly-3", createBranch=True).data["branch"]["working"]
    assert not other_body.endswith("-" + request_hex)
    assert api.start("p", key="nightly-1", createBranch=True).data["branch"]["working"] == (
        first["working"])


def _branch_for(key: str, preliminary: str, repo: str) -> str:
    """buildGeneratedWorkingBranch over hashRequest(preliminary), the preliminary
    request written out by hand as the server's stableStringify renders it."""
    text = preliminary.replace("REPO", repo)
    key_hex = hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"mogplex/external/{key_hex}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def test_the_derived_branch_hashes_the_servers_preliminary_request(api, mogrun_emulator):
    """normalizeStartRequest hashes the request before it has a working branch:
    camelCase keys, sorted, no spaces, strings as JSON.stringify writes them (raw
    UTF-8, lone surrogates escaped), with conversationId, workspaceSessionId and
    mode (trimmed strings, else null) and no workingBranch."""
    repo = mogrun_emulator.repo_id("acme/api")
    run = api.start("p", key="nightly-1", createBranch=True).data
    assert run["branch"]["working"] == _branch_for("nightly-1", (
        '{"baseBranch":"main","conversationId":null,"createBranch":true,'
        '"harness":"codex","mode":null,"prompt":"p","repoId":"REPO",'
        '"rootDirectory":null,"workspaceSessionId":null}'), repo)
    run = api.start("p", key="k-mode", createBranch=True, mode=" SAFE ",
                    conversationId="c-1", workspaceSessionId=7).data
    assert run["branch"]["working"] == _branch_for("k-mode", (
        '{"baseBranch":"main","conversationId":"c-1","createBranch":true,'
        '"harness":"codex","mode":"SAFE","prompt":"p","repoId":"REPO",'
        '"rootDirectory":null,"workspaceSessionId":null}'), repo)
    # JSON.stringify writes é and ☕ as they are, and escapes ", \\, U+0001, a
    # newline and a lone surrogate exactly as this body spells them.
    written = 'caf\u00e9 \u2615 \\"q\\"\\\\ \\u0001\\n\\ud83d'
    body = '{"repoId": "REPO", "prompt": "' + written + '", "createBranch": true}'
    answer = api.call("POST", "/runs", raw=body.replace("REPO", repo).encode(), key="k-text")
    assert answer.data["branch"]["working"] == _branch_for("k-text", (
        '{"baseBranch":"main","conversationId":null,"createBranch":true,'
        '"harness":"codex","mode":null,"prompt":"' + written + '","repoId":"REPO",'
        '"rootDirectory":null,"workspaceSessionId":null}'), repo)


@pytest.mark.parametrize("field", ["mode", "conversationId", "workspaceSessionId"])
def test_mode_and_the_session_fields_are_part_of_the_request(api, mogrun_emulator, field):
    """The server hashes them (trimmed strings; anything else is null): the same key
    with another value is 409, with the same value trimmed differently a replay."""
    first = api.start("p", key="k", **{field: "SAFE"})
    assert api.start("p", key="k", **{field: "  SAFE "}).data["replayed"] is True
    for other in ({}, {field: "YOLO"}, {field: "safe"}):
        answer = api.start("p", key="k", **other)
        assert (answer.status, answer.code) == (409, "IDEMPOTENCY_CONFLICT"), other
    api.start("p", key="k2")
    assert api.start("p", key="k2", **{field: 42}).data["replayed"] is True
    assert api.start("p", key="k2", **{field: " "}).data["replayed"] is True
    assert mogrun_emulator.runs == [first.data["runId"], mogrun_emulator.runs[1]]


def test_supplied_branches_and_defaults(api, mogrun_emulator):
    mogrun_emulator.add_repo("acme/legacy@develop")
    run = api.start(repo="acme/legacy", workingBranch="fix/thing", harness="claude-code").data
    assert run["branch"] == {"base": "develop", "working": "fix/thing", "createBranch": False}
    assert run["harness"] == "claude-code"
    run = api.start(key="k2", baseBranch="release/1.2", rootDirectory="services/api").data
    assert run["branch"] == {"base": "release/1.2", "working": "release/1.2",
                             "createBranch": False}  # the server fills in the base branch
    same = api.start(key="k2", baseBranch="release/1.2", workingBranch="release/1.2",
                     rootDirectory="services/api")
    assert same.data["replayed"] is True  # the same normalised request
    assert run["rootDirectory"] == "services/api"


@pytest.mark.parametrize(("fields", "message"), [
    ({"repoId": None}, "repoId is required"),
    ({"repoId": 42}, "repoId is required"),  # a non-string is left out, as blank
    ({"prompt": None}, "Prompt is required"),
    ({"prompt": ""}, "Prompt is required"),
    ({"prompt": " \n "}, "Prompt is required"),
    ({"prompt": "x" * 100_001}, "Prompt is too long"),
    ({"harness": "gpt"}, "Invalid harness"),
    ({"harness": "Codex"}, "Invalid harness"),
    ({"baseBranch": "bad..name"}, "Invalid base branch"),
    ({"workingBranch": "has space"}, "Invalid working branch"),
    ({"workingBranch": "fix#12"}, "Invalid working branch"),
    ({"baseBranch": "HEAD"}, "Invalid base branch"),
    ({"workingBranch": "main", "createBranch": True},
     "Working branch must differ from base branch when createBranch is true"),
    ({"baseBranch": "dev", "workingBranch": "dev", "createBranch": True},
     "Working branch must differ from base branch when createBranch is true"),
    ({"rootDirectory": "../up"}, "Invalid root directory"),
    ({"rootDirectory": "a/../../b"}, "Invalid root directory"),
    ({"rootDirectory": "apps/%2e%2E/etc"}, "Invalid root directory"),
    ({"rootDirectory": 7}, "Invalid root directory"),
    ({"prompt": "\U0001F600" * 50_001}, "Prompt is too long"),
])
def test_invalid_bodies_are_400(api, mogrun_emulator, fields, message):
    body = {"repoId": mogrun_emulator.repo_id("acme/api"), "prompt": "p", **fields}
    body = {k: v for k, v in body.items() if v is not None}
    answer = api.call("POST", "/runs", body, key="k")
    assert (answer.status, answer.code, answer.message) == (400, "BAD_REQUEST", message)
    assert mogrun_emulator.runs == []


@pytest.mark.parametrize("name", [
    "a.lock", "a//b", "a/", "/a", "a.", "a@{b", "@", "HEAD", "a~b", "a^b", "a:b",
    "a?b", "a*b", "a[b", "a\\b", "a\tb", "a@b", "fix#1", "caf\u00e9", "a+b",
])
def test_the_servers_branch_rules(api, name):
    assert api.start(workingBranch=name).status == 400


# The server's rule (isValidSandboxBranchName) lets through "-x" and "a/.hidden",
# which git refuses: mogrun's own check refuses them before any request.
@pytest.mark.parametrize("name", ["feature/x", "mogplex/external/ab-cd", "v1.2", "a-b_c", "-x",
                                  "a/.hidden"])
def test_valid_branch_names(api, name):
    assert api.start(workingBranch=name).status == 202


def test_a_branch_name_of_any_length_passes_the_servers_rule(api, mogrun_emulator):
    """isValidSandboxBranchName sets no length (the emulator refused more than 255
    characters); mogrun's own check refuses such names before any request."""
    long = "feature/" + "b" * 300
    assert api.start(workingBranch=long, key="k-1").status == 202
    assert api.start(baseBranch="c" * 256, workingBranch="x", key="k-2").status == 202
    launched = api.call("POST", "/sandboxes", {"repoId": mogrun_emulator.repo_id("acme/api"),
                                               "workingBranch": "d" * 256})
    assert launched.status == 202, launched
    assert launched.data["sandbox"]["working_branch"] == "d" * 256


@pytest.mark.parametrize(("sent", "stored"), [
    ("./apps/web/", "apps/web"), ("/apps//web", "apps/web"), (" apps ", "apps"),
    (".", None), ("", None), (None, None),
    # JavaScript's trim(), as everywhere else: a BOM goes, U+001F and U+0085 stay.
    ("\ufeffapps/web", "apps/web"), ("\x1fapps", "\x1fapps"), ("apps\x85", "apps\x85"),
])
def test_a_root_directory_is_stored_as_the_server_normalises_it(api, sent, stored):
    run = api.start(rootDirectory=sent).data
    assert run["rootDirectory"] == stored


def test_strings_are_trimmed_and_odd_values_fall_back_as_on_the_server(api):
    # normalizeOptionalString: trimmed; blank or not a string is left out. So a blank
    # harness is codex, createBranch "true" is false, and a prompt that differs only
    # in outer whitespace is the same request (a replay, not a conflict).
    run = api.start("  fix it \n", key="k-trim", harness="", createBranch="true",
                    baseBranch=" main ", workingBranch="").data
    assert (run["harness"], run["branch"]) == (
        "codex", {"base": "main", "working": "main", "createBranch": False})
    again = api.start("fix it", key="k-trim")
    assert (again.status, again.data["replayed"]) == (202, True)


def test_strings_and_the_key_are_trimmed_as_javascript_trims_them(api, mogrun_emulator):
    """String.prototype.trim takes U+FEFF but not U+001F or U+0085, which Python's
    strip() takes: a prompt of one of those is not blank, and a key ending in U+0085
    (a header byte Node reads as latin-1) is another key."""
    assert api.start("\x1f", key="k-us").status == 202
    assert api.start("\x85", key="k-nel").status == 202
    api.start("fix it", key="k-bom")
    assert api.start("\ufefffix it\ufeff", key="k-bom").data["replayed"] is True
    other = api.start("something else", key="k-bom\x85")
    assert (other.status, other.data["replayed"]) == (202, False)
    assert len(mogrun_emulator.runs) == 4


def test_prompt_of_exactly_100000_characters_is_accepted(api):
    assert api.start("x" * 100_000).status == 202


def test_unknown_repo_is_404(api, mogrun_emulator):
    missing = "5c0ffee0-1234-4321-8abc-0123456789ab"
    answer = api.call("POST", "/runs", {"repoId": missing, "prompt": "p"}, key="k")
    assert (answer.status, answer.code) == (404, "NOT_FOUND")


@pytest.mark.parametrize("repo_id", ["acme/api", "repo_missing", "", "  "])
def test_a_repo_id_that_is_not_a_uuid_fails_the_start_limit_with_503(api, mogrun_emulator,
                                                                   repo_id):
    """The server asks its start limit with the repoId cast to a UUID before it reads
    the body: owner/name (or any other string) fails that query, answered 503."""
    answer = api.call("POST", "/runs", {"repoId": repo_id, "prompt": "p"}, key="k")
    assert (answer.status, answer.code) == (503, "SERVICE_UNAVAILABLE")
    assert answer.message == "External Mogplex run rate limit unavailable"
    assert answer.headers.get("retry-after") == "60"


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"", b"  \n", b"[1, 2",
                                 b"NaN", b'{"repoId": Infinity}', b"-Infinity", b"{'a': 1}",
                                 b'{"a": 1} x'])
def test_a_body_that_is_not_json_is_400_invalid_json_body(api, mogrun_emulator, raw):
    """request.json() throws: the handler's catch answers 'Invalid JSON body'. NaN
    and Infinity are not JSON (Python's own parser would take them)."""
    answer = api.call("POST", "/runs", raw=raw, key="k")
    assert (answer.status, answer.code, answer.message) == (
        400, "BAD_REQUEST", "Invalid JSON body")
    assert mogrun_emulator.runs == []


def test_a_body_nested_past_the_parsers_depth_is_answered_not_dropped(
        api, mogrun_emulator):
    """Python's parser gives up on JSON nested about 1,000 levels deep (a
    RecursionError, which dropped the connection). The emulator answers it as
    a body it cannot parse: its documented limit (docs/emulator.md)."""
    deep = b'{"repoId": "x", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    answer = api.call("POST", "/runs", raw=deep, key="k")
    assert (answer.status, answer.code, answer.message) == (
        400, "BAD_REQUEST", "Invalid JSON body")
    assert mogrun_emulator.runs == []


@pytest.mark.parametrize("raw", [b"[1, 2]", b"[]", b'"acme/api"', b"42", b"true", b"false"])
def test_a_json_value_that_is_not_an_object_has_no_repo_id(api, mogrun_emulator, raw):
    """The handler reads body.repoId off whatever request.json() returned: on an
    array, a string, a number or a boolean that is undefined, so the body passes
    on, through the start limit, to 'repoId is required'."""
    answer = api.call("POST", "/runs", raw=raw, key="k")
    assert (answer.status, answer.code, answer.message) == (
        400, "BAD_REQUEST", "repoId is required")
    assert mogrun_emulator.runs == []


def test_a_null_body_fails_the_handler_itself_with_a_bare_500(api, mogrun_emulator):
    """body.repoId on null throws outside the handler's try blocks: Next.js answers
    its own 500, no envelope and no body."""
    answer = api.call("POST", "/runs", raw=b" null ", key="k")
    assert (answer.status, answer.body) == (500, b"")
    assert "content-type" not in answer.headers
    assert mogrun_emulator.runs == []


def test_the_body_is_decoded_as_fetch_decodes_it(api, mogrun_emulator):
    """request.json() decodes UTF-8 as fetch does: a leading byte order mark is
    dropped and a byte that is not UTF-8 becomes U+FFFD; neither is a 400."""
    repo = mogrun_emulator.repo_id("acme/api")
    bom = b"\xef\xbb\xbf" + f'{{"repoId": "{repo}", "prompt": "p"}}'.encode()
    assert api.call("POST", "/runs", raw=bom, key="bom").status == 202
    latin1 = f'{{"repoId": "{repo}", "prompt": "caf\xe9"}}'.encode("latin-1")
    assert api.call("POST", "/runs", raw=latin1, key="latin1").status == 202
    same = api.start("caf\ufffd", key="latin1")
    assert (same.status, same.data["replayed"]) == (202, True)
