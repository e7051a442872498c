"""What a sloppy plugin does must stay the plugin's: an exception of any kind is
contained as its hook's table says, a number too big for a float is no answer,
a failure text never shows the token, and what a plugin declares or prints
never breaks an output that is data. Found by an exploratory pass over plugins."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from typing import Any

import pytest
from plugtest_helpers import TOKEN, host_with_token, make_job, make_request, make_result

from mogrun.errors import GateError, PluginError, RateLimitedError, RequestInfo, UsageError
from mogrun.hookspecs import hookimpl
from mogrun.pluginhost import PluginHost


def host_of(plugin: object) -> PluginHost:
    return host_with_token(plugin, "sloppy")


def owner_key(**declared: Any) -> Any:
    """The KeySpec of job key "owner" as a plugin registering it with ``declared``
    (schema=, help=...) leaves it; ``PluginError`` where mogrun refuses it."""
    class Keys:
        @hookimpl
        def mogrun_job_keys(self, register):
            register("owner", lambda v: v, **declared)

    return host_of(Keys()).key_specs()["owner"]


@pytest.mark.parametrize("fault", [asyncio.CancelledError(), GeneratorExit()])
def test_a_base_exception_in_a_notifier_is_a_warning(fault) -> None:
    """An asyncio notifier's CancelledError is a BaseException: it escaped the
    containment (a traceback, no summary, exit 1)."""
    class Notifier:
        @hookimpl
        def mogrun_job_finished(self):
            raise fault

    host = host_of(Notifier())
    host.job_finished(job=make_job(), results=(make_result(),), outcome="success")
    assert host.warnings == [f'plugin "sloppy" failed in mogrun_job_finished (job nightly): '
                             f"{type(fault).__name__}"]  # no ": " before an empty text


def test_a_set_up_hook_s_failure_never_shows_the_token() -> None:
    class Keys:
        @hookimpl
        def mogrun_job_keys(self, register):
            raise RuntimeError(f"key={TOKEN}")

    with pytest.raises(PluginError) as caught:
        host_of(Keys()).key_specs()
    assert TOKEN not in caught.value.message and "key=***" in caught.value.message


def test_a_veto_s_text_never_shows_the_token() -> None:
    class Veto:
        @hookimpl
        def mogrun_start_request(self):
            raise RuntimeError(f"bad token {TOKEN}")

    job = make_job()
    with pytest.raises(GateError) as caught:
        host_of(Veto()).start_request(job, job.runs[0], make_request("acme/api"))
    assert TOKEN not in caught.value.message and "bad token ***" in caught.value.message


def test_a_usage_error_in_a_start_request_is_a_veto_naming_the_plugin() -> None:
    """It was exit 2 mid-session, the plugin unnamed; the table says: a veto."""
    class Veto:
        @hookimpl
        def mogrun_start_request(self):
            raise UsageError("not on Fridays")

    job = make_job()
    with pytest.raises(GateError) as caught:
        host_of(Veto()).start_request(job, job.runs[0], make_request("acme/api"))
    assert caught.value.message == ('plugin "sloppy" failed in mogrun_start_request '
                                    "(run nightly:acme/api): "
                                    "not on Fridays")


def test_a_rewritten_request_with_a_harness_the_server_refuses_is_a_veto() -> None:
    class Rewrite:
        @hookimpl
        def mogrun_start_request(self, request):
            return dataclasses.replace(request, harness="bogus")

    job = make_job()
    with pytest.raises(GateError) as caught:
        host_of(Rewrite()).start_request(job, job.runs[0], make_request("acme/api"))
    assert "harness must be one of 'codex', 'claude-code', not 'bogus'" in caught.value.message


@pytest.mark.parametrize(("change", "said"), [
    ({"timeout": 10**400}, "timeout must be a positive number of seconds"),
    ({"runs": ()}, "runs is empty: a job makes at least one run"),
    ("twice", "runs names a run twice"),
])
def test_an_adjusted_job_that_cannot_run_is_refused(change, said) -> None:
    class Adjust:
        @hookimpl
        def mogrun_adjust_job(self, job):
            if change == "twice":
                return dataclasses.replace(job, runs=job.runs * 2)
            return dataclasses.replace(job, **change)

    with pytest.raises(PluginError) as caught:
        host_of(Adjust()).adjust_job(make_job())
    assert said in caught.value.message


def test_a_delay_too_big_for_a_float_is_no_delay() -> None:
    class Runaway:
        @hookimpl
        def mogrun_retry_delay(self, attempt):
            return 2 ** (attempt * 2000)

    host = host_of(Runaway())
    delay = host.retry_delay(error=RateLimitedError("slow", status=429, code="RATE"),
                             attempt=1, job=None, request=RequestInfo("GET", "http://x/"),
                             retry_after=None)
    assert delay is None and len(host.warnings) == 1


def test_a_key_schema_that_is_no_json_is_refused_where_it_is_declared() -> None:
    with pytest.raises(PluginError) as caught:
        owner_key(schema={"type": {1, 2}})
    assert 'plugin "sloppy" declares job key "owner" with a schema that is not a JSON object' \
        in caught.value.message


def _cyclic() -> dict:
    schema: dict = {"type": "object"}
    schema["items"] = [schema]
    return schema


@pytest.mark.parametrize("schema", [
    {"type": {1, 2}}, {"minimum": float("nan")}, {"maximum": float("inf")},
    {"enum": [object()]}, {1: "integer key"}, ["type", "string"], _cyclic(),
    {"deep": [{"a": {"b": {"c": b"bytes"}}}]},
])
def test_every_kind_of_schema_json_cannot_write_is_refused(schema) -> None:
    with pytest.raises(PluginError, match="with a schema that is not a JSON object"):
        owner_key(schema=schema)


def test_a_schema_of_plain_json_values_is_kept_as_declared() -> None:
    shared = {"type": "string", "minLength": 1}
    schema = {"anyOf": [shared, shared, {"type": "null"}], "enum": ("a", 1, 2.5, True, None)}
    assert owner_key(schema=schema).schema == schema


PRINTS = '''
from mogrun.plugin import hookimpl
print("IMPORT PRINT")

@hookimpl
def mogrun_job_keys(register):
    register("pager", lambda v: v, schema={"type": "object"})

@hookimpl
def mogrun_add_options(register):
    register("pager-level", help="never reachable from a task file")
'''


def test_what_a_task_file_plugin_prints_or_declares_never_breaks_data_output(
        mogrun_project) -> None:
    root = mogrun_project.path.parent
    (root / "plugins").mkdir()
    (root / "plugins" / "p.py").write_text(PRINTS)
    mogrun_project.write('[mogplex]\nplugins = ["plugins/p.py"]\n\n[jobs.a]\n'
                         'repo = "acme/api"\nprompt = "x"\n'
                         "pager = { threshold = nan, max = inf }\n")
    schema = mogrun_project.run("schema")
    assert schema.exit_code == 0, schema
    assert json.loads(schema.stdout)["properties"]["jobs"]  # JSON, not IMPORT PRINT first
    assert "IMPORT PRINT" in schema.stderr
    shown = mogrun_project.run("--json", "show", "a")
    assert shown.exit_code == 0, shown
    doc = json.loads(shown.stdout, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert doc["options"]["pager"] == {"threshold": "nan", "max": "inf"}
    listed = mogrun_project.run("--json", "plugins").stdout
    rows = [json.loads(line) for line in listed.splitlines()]
    (mine,) = [row for row in rows if row["name"] == "p"]
    assert mine["options"] == []  # a task file's plugin loads too late to add one


def test_a_veto_s_text_is_stored_masked(mogrun_project, mogrun_emulator, monkeypatch) -> None:
    """A start_request failure carrying the token reached history.db in clear."""
    monkeypatch.setenv("MOGPLEX_API_KEY", mogrun_emulator.write_token)  # the plugin reads it
    (mogrun_project.path.parent / "veto.py").write_text(
        "import os\nfrom mogrun.plugin import hookimpl\n\n@hookimpl\n"
        "def mogrun_start_request(request):\n"
        "    raise RuntimeError('token ' + os.environ['MOGPLEX_API_KEY'])\n")
    mogrun_project.write('[mogplex]\nplugins = ["veto.py"]\n\n[jobs.a]\nrepo = "acme/api"\n'
                         'prompt = "x"\n')
    result = mogrun_project.run("run", "a")
    assert result.exit_code == 1, result
    token = mogrun_emulator.write_token
    assert token not in result.output
    with sqlite3.connect(mogrun_project.path.parent / ".mogrun" / "history.db") as db:
        stored = " ".join(str(v) for row in db.execute("SELECT * FROM runs") for v in row)
    assert token not in stored and "token ***" in stored


def test_an_async_hook_is_refused_not_silently_never_run() -> None:
    """pluggy called it, got a coroutine, and dropped it: a RuntimeWarning from
    pluggy's source and a notification lost."""
    class Notifier:
        @hookimpl
        async def mogrun_job_finished(self, job):
            pass

    with pytest.raises(PluginError) as caught:
        host_of(Notifier())
    assert caught.value.message == ('plugin "sloppy" declares mogrun_job_finished with '
                                    "async def; mogrun calls hooks as plain functions, so it "
                                    "would never run")


WIDENS_THE_GATE = '''
from mogrun.plugin import hookimpl

@hookimpl
def mogrun_run_started(job):
    job.options.setdefault("gates", {"status": ["success"]})
    job.options["gates"]["status"].append("failed")
'''


@pytest.mark.parametrize("gates", ["", 'gates = { status = ["success"] }\n'])
def test_options_changed_in_place_mid_run_never_turn_a_failed_run_into_a_pass(
        tmp_path, mogrun_cli, gates) -> None:
    """A plugin widening the gate's statuses in mogrun_run_started (in place, which
    only mogrun_adjust_job was checked for) made a failed run pass: exit 0,
    --json status failed with outcome success."""
    from mogrun.testing import write_taskfile

    (tmp_path / "widen.py").write_text(WIDENS_THE_GATE)
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["widen.py"]\n\n[jobs.fix]\n'
                   'repo = "acme/api"\nprompt = "x\\n@emulator duration=0.2s status=failed"\n'
                   + gates)
    result = mogrun_cli("--local", "--json", "run", "fix", cwd=tmp_path)
    assert result.exit_code == 1, result
    (summary,) = [json.loads(line) for line in result.stdout.splitlines()
                  if '"type": "summary"' in line]
    assert [(r["status"], r["outcome"]) for r in summary["results"]] == [("failed", "failed")]
    assert ('warning: a plugin changed job "fix"\'s options in place during the run'
            in result.stderr), result


HOLDS_ITSELF = '''
from mogrun.plugin import hookimpl


def validate(value):
    loop = {"level": value}
    loop["again"] = loop  # a value that holds itself
    deep = []
    for _ in range(5000):
        deep = [deep]
    return {"loop": loop, "deep": deep}


@hookimpl
def mogrun_job_keys(register):
    register("pager", validate)
'''


@pytest.mark.parametrize("line", [("show", "a"), ("--json", "show", "a"), ("run", "-n", "a")])
def test_a_key_value_that_holds_itself_is_shown_not_a_traceback(mogrun_project, line) -> None:
    """show (and run -n) crashed with a RecursionError traceback, exit 1, on a
    value a plugin's validate returned that holds itself or nests very deep."""
    (mogrun_project.path.parent / "p.py").write_text(HOLDS_ITSELF)
    mogrun_project.write('[mogplex]\nplugins = ["p.py"]\n\n[jobs.a]\nrepo = "acme/api"\n'
                         'prompt = "x"\npager = "P1"\n')
    result = mogrun_project.run(*line)
    assert result.exit_code == 0, result
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    if line[0] == "--json":
        pager = json.loads(result.stdout)["options"]["pager"]
        assert pager["loop"] == {"level": "P1", "again": "..."}
        assert 90 < json.dumps(pager["deep"]).count("[") <= 100  # cut, with "..."
        assert '"..."' in json.dumps(pager["deep"])
    else:
        assert '"again": "..."' in result.stdout


@pytest.mark.parametrize(("schema", "wrong"), [
    ({"type": "strin"}, "strin"), ({"type": ["string", "nul"]}, "nul"),
    ({"anyOf": [{"type": "string"}, {"items": {"type": "int"}}]}, "int"),
])
def test_a_key_schema_naming_no_json_type_is_refused(schema, wrong) -> None:
    """``{"type": "strin"}`` was accepted: `mogrun schema` wrote it, and an editor
    given that schema refused the whole file."""
    with pytest.raises(PluginError) as caught:
        owner_key(schema=schema)
    assert f'with a schema whose "type" {wrong!r} is no JSON Schema type' in caught.value.message


def test_a_property_named_type_is_no_type() -> None:
    schema = {"type": "object", "properties": {"type": {"type": "string"}},
              "default": {"type": "pager"}, "examples": [{"type": "mail"}]}
    assert owner_key(schema=schema).schema == schema


def test_a_key_help_that_is_not_text_is_refused() -> None:
    with pytest.raises(PluginError, match='job key "owner" with a help that is not text'):
        owner_key(help=None)
