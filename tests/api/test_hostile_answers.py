"""Issue 15: whatever a server answers — nested very deeply, lone UTF-16
surrogates, control characters, wrong types, huge values — `mogrun run` and
`mogrun status` end with a defined exit code and no traceback. Served by a
real loopback server (never a mocked client)."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mogrun.testing import write_taskfile

from .loopback import loopback_server

REPO_ID = "5c0ffee0-1234-4321-8abc-0123456789ab"  # repo ids are UUIDs
JOB = """
    [jobs.hello]
    repo = "5c0ffee0-1234-4321-8abc-0123456789ab"
    prompt = "hi"
    timeout = "1s"
    retry = {attempts = 1, max_delay = "0.1s"}
"""
ENV = {"MOGRUN_POLL_INTERVAL": "0.05", "MOGPLEX_API_KEY": "mog_test"}
DEFINED = {0, 1, 69, 75}


def run_detail(**changes: object) -> dict:
    detail = {"runId": "run_1", "status": "failed", "repoId": REPO_ID, "harness": "codex",
              "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:05Z",
              "error": None, "replayed": False}
    return {**detail, **changes}


def envelope(data: object) -> bytes:
    return json.dumps({"ok": True, "data": data}).encode()  # ensure_ascii: \ud83d escapes


def nested(depth: int) -> bytes:
    return b'{"ok": true, "data": ' + b"[" * depth + b"]" * depth + b"}"


def run_job(mogrun_cli, tmp_path, server) -> object:
    write_taskfile(tmp_path, JOB)
    return mogrun_cli("run", "hello", cwd=tmp_path, env={**ENV, "MOGPLEX_URL": server.url})


@pytest.mark.parametrize("depth", [100, 5_000, sys.getrecursionlimit() * 3])
def test_a_deeply_nested_answer_is_a_transport_failure_on_run(mogrun_cli, tmp_path, depth):
    with loopback_server(202, body=nested(depth)) as server:
        result = run_job(mogrun_cli, tmp_path, server)
    assert result.exit_code == 69, result
    assert "nested more than 32 levels deep" in result.output
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    starts = [r for r in server.received if r[0] == "POST"]  # (GET /sandboxes comes first)
    assert len(starts) == 2  # retried like a 5xx (attempts = 1: one retry)


@pytest.mark.parametrize("field, value", [("error", "boom \ud83d"), ("runId", "run_\ud83d")])
def test_a_lone_surrogate_is_a_reported_failure_not_an_internal_error(mogrun_cli, tmp_path,
                                                                       field, value):
    detail = run_detail(**{field: value})
    with loopback_server() as server:
        server.by_method = {"POST": (202, envelope(detail)),
                            "GET": (200, envelope({"run": detail, "events": []}))}
        result = run_job(mogrun_cli, tmp_path, server)
    assert "\\ud83d" not in result.output
    assert "internal error" not in result.output.lower() and "Traceback" not in result.output
    assert result.exit_code == 1, result
    if field == "error":
        assert "boom \ufffd" in result.output


def test_status_survives_a_deeply_nested_answer(mogrun_cli, tmp_path, quick_backoff):
    # `status` retries under the default policy (5 attempts, full jitter up to 8 s):
    # every retry still happens, each after the bottom of its jitter range.
    detail = run_detail(status="streaming")
    with loopback_server(202, body=envelope(detail)) as server:
        detached = JOB.replace('timeout = "1s"', 'timeout = "1s"\non_timeout = "detach"')
        write_taskfile(tmp_path, detached)
        run_job(mogrun_cli, tmp_path, server)
        server.body = nested(50_000)
        server.status = 200
        result = mogrun_cli("status", "hello", cwd=tmp_path,
                            env={**ENV, "MOGPLEX_URL": server.url})
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    assert result.exit_code in (0, 69), result
    assert "nested more than 32 levels deep" in result.output


# --- the property: any answer -------------------------------------------------------

_piece = st.text(max_size=8) | st.sampled_from(
    ["\ud83d", "\udc00", "\x00", "\x1b[31m", "\u202e", "\r\n", "x" * 5000])
_text = st.lists(_piece, max_size=4).map("".join)
_leaf = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
         | st.floats(allow_nan=False) | _text)
_json = st.recursive(_leaf, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_text, inner, max_size=3), max_leaves=12)
_status = st.sampled_from(["failed", "success", "cancelled", "streaming", ""]) | _json
_detail = st.fixed_dictionaries(
    {"runId": st.sampled_from(["run_1", "run_\ud83d", "", "run\x00"]) | _json,
     "status": _status},
    optional={"error": _json, "createdAt": _json, "updatedAt": _json, "branch": _json,
              "replayed": _json})
_event = st.fixed_dictionaries({}, optional={"id": _json, "type": _json, "message": _json,
                                             "toolName": _json, "payload": _json,
                                             "createdAt": _json})
_events_data = st.fixed_dictionaries({"run": _detail, "events": st.lists(_event, max_size=4)
                                      | _json})
_body = (_detail.map(envelope) | _events_data.map(envelope) | _json.map(envelope)
         | st.integers(1, 3000).map(nested)
         | _json.map(lambda v: json.dumps(v).encode())
         | st.binary(max_size=40))


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(start=_body, poll=_body)
def test_any_server_answer_ends_in_a_defined_exit_code(mogrun_cli, tmp_path, start, poll):
    with loopback_server() as server:
        server.by_method = {"POST": (202, start), "GET": (200, poll)}
        result = run_job(mogrun_cli, tmp_path, server)
    assert "Traceback" not in result.output, result
    assert "internal error" not in result.output.lower(), result
    assert result.exit_code in DEFINED, result


def test_a_wide_shallow_answer_is_taken_as_it_is() -> None:
    # A listing of 200 sandboxes has more brackets than MAX_DEPTH but is three levels
    # deep: it is neither copied nor walked string by string (a fan-out reads one
    # every poll interval), while depth and lone surrogates are still caught.
    from mogrun.api.envelope import MAX_DEPTH, TooDeep, sanitised

    wide = {"ok": True, "data": {"sandboxes": [{"id": f"sb_{i}"} for i in range(200)]}}
    body = json.dumps(wide).encode()
    assert sanitised(wide, body) is wide
    shallow = json.loads(nested(MAX_DEPTH - 1))  # the innermost list at depth 31
    assert sanitised(shallow, nested(MAX_DEPTH - 1)) is shallow
    with pytest.raises(TooDeep):
        sanitised(json.loads(nested(MAX_DEPTH)), nested(MAX_DEPTH))
    lone = {"ok": True, "data": {"sandboxes": [{"id": "sb_\ud83d"}] * 40}}
    assert sanitised(lone, envelope(lone["data"]))["data"]["sandboxes"][0]["id"] == "sb_\ufffd"
    assert sanitised(7, b"[[[[" * 10) == 7


def _depth(value) -> int:
    """Nesting as the rule counts it: a top-level list or object is at depth 0."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _chain(depth: int, leaf):
    """``leaf`` under ``depth`` lists and objects, mixed: a document at the edge."""
    for level in range(depth):
        leaf = [1, leaf] if level % 2 else {"k": leaf, "n": None}
    return leaf


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner,
                                                                max_size=3),
    max_leaves=40)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, st.integers(0, 40), st.sampled_from([[], {}, 0, "x"]))
def test_the_depth_check_refuses_exactly_what_is_nested_too_deep(value, extra, leaf):
    from mogrun.api.envelope import MAX_DEPTH, TooDeep, sanitised

    document = {"ok": True, "data": [value, _chain(extra, leaf)]}
    body = json.dumps(document).encode()
    deep = _depth(document) > MAX_DEPTH  # some list or object sits at depth MAX_DEPTH
    if deep:
        with pytest.raises(TooDeep):
            sanitised(document, b"[" * (MAX_DEPTH + 1) + body)
    else:
        assert sanitised(document, b"[" * (MAX_DEPTH + 1) + body) == document
