"""A plugin's job-key callbacks (validate, secrets) are plugin code like its
hooks: a bug in them is a PluginError naming plugin and key (exit 2), never a
traceback, and a bad registration is refused when the keys are collected."""

from __future__ import annotations

import json

import pytest

from mogrun.errors import PluginError
from mogrun.hookspecs import hookimpl
from mogrun.pluginhost import PluginHost


def specs_of(**register_kwargs):
    class Keys:
        @hookimpl
        def mogrun_job_keys(self, register):
            register(**register_kwargs)

    return PluginHost.from_plugins(("keys", Keys()), bundled=False).key_specs()


@pytest.mark.parametrize("name", [None, "", 123, "has space"])
def test_a_key_name_that_no_task_file_can_hold_is_refused(name):
    with pytest.raises(PluginError, match='plugin "keys" declares a bad job key name'):
        specs_of(name=name, validate=lambda v: v)


def test_secrets_must_be_callable():
    with pytest.raises(PluginError, match='plugin "keys" declares job key "k" with a '
                                          "secrets that is not callable"):
        specs_of(name="k", validate=lambda v: v, secrets="nope")


@pytest.mark.parametrize(("value", "crash"), [
    ({}, "KeyError: 'missing'"),
    ("a string", "TypeError: string indices must be integers, not 'str'"),
])
def test_a_crashing_validate_is_a_plugin_error_but_value_errors_stay_the_users(value, crash):
    spec = specs_of(name="k", validate=lambda v: v["missing"])["k"]
    with pytest.raises(PluginError) as caught:
        spec.validate(value)
    assert caught.value.message == f'plugin "keys" failed validating job key "k": {crash}'
    strict = specs_of(name="k", validate=lambda v: int("x"))["k"]
    with pytest.raises(ValueError):
        strict.validate("x")


def test_a_crashing_secrets_callback_is_a_plugin_error():
    spec = specs_of(name="k", validate=lambda v: v, secrets=lambda v: 1 / 0)["k"]
    with pytest.raises(PluginError, match='plugin "keys" failed listing the secrets of job '
                                          'key "k": ZeroDivisionError'):
        list(spec.secrets("value"))


@pytest.mark.parametrize(("answer", "kind"), [
    (5, "int"),
    # A dict's keys are not its secrets: {"url": ...} masked "url" and showed the URL.
    ({"url": "https://chat.example.com/hook/abc"}, "dict"),
    # An item that is no string was left out, its value shown unmasked, unsaid.
    ([12345678], "list holding int"), (("route", b"tok"), "tuple holding bytes"),
    (b"tok", "bytes"),
])
def test_a_secrets_answer_that_is_not_strings_is_a_plugin_error_naming_what_is_expected(
        answer, kind):
    spec = specs_of(name="k", validate=lambda v: v, secrets=lambda v: answer)["k"]
    with pytest.raises(PluginError) as caught:
        spec.secrets("value")
    assert caught.value.message == (f'plugin "keys" returned {kind} listing the secrets of '
                                    'job key "k", expected a string or strings (a list, a '
                                    "tuple...)")


@pytest.mark.parametrize(("answer", "listed"), [
    ("s3cr3t", ["s3cr3t"]), (None, []), ("", []), (("a", "b"), ["a", "b"]),
    (frozenset({"a"}), ["a"]),
    # An optional field unset, a generator, a dict's values: as they always were.
    (["route", None, ""], ["route"]), ((s for s in ("a", "b")), ["a", "b"]),
    ({"url": "https://x/hook"}.values(), ["https://x/hook"])])
def test_a_secrets_answer_of_strings_is_listed(answer, listed):
    spec = specs_of(name="k", validate=lambda v: v, secrets=lambda v: answer)["k"]
    assert spec.secrets("value") == listed


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"help": 123}, "help must be a string"),
    ({"metavar": ["X"]}, "metavar must be a string"),
    ({"flag": "no"}, "flag must be True or False"),
])
def test_an_option_with_fields_of_the_wrong_type_is_refused(kwargs, problem):
    class Options:
        @hookimpl
        def mogrun_add_options(self, register):
            register("team-x", **kwargs)

    with pytest.raises(PluginError) as caught:
        PluginHost.from_plugins(("opts", Options()), bundled=False).cli_options()
    assert caught.value.message == f'plugin "opts" registers option "--team-x": {problem}'


def test_run_with_a_badly_typed_plugin_option_is_an_error_not_a_traceback(tmp_path):
    from mogrun.testing import run_mogrun

    (tmp_path / "opt.py").write_text(
        "from mogrun.hookspecs import hookimpl\n"
        "@hookimpl\ndef mogrun_add_options(register):\n    register('team-x', help=123)\n")
    result = run_mogrun("run", "-p", str(tmp_path / "opt.py"), "--help", cwd=tmp_path,
                        env={"MOGRUN_FILE": None, "MOGRUN_DISABLE_PLUGINS": None})
    assert result.exit_code == 2, result
    assert "Traceback" not in result.output
    assert 'plugin "opt" registers option "--team-x": help must be a string' in result.stderr


SECRET = "https://hooks.example.com/TOPSECRET42"

BUGGY_VALIDATOR = """
from mogrun.plugin import hookimpl

def validate(value):
    raise TypeError("cannot route " + value)  # the plugin's bug, whatever the value

@hookimpl
def mogrun_job_keys(register):
    register("route", validate)
"""


@pytest.mark.parametrize("command", [("check",), ("show", "page"), ("run", "page")])
def test_a_validator_raising_type_error_is_the_plugins_fault_not_the_task_files(
        tmp_path, mogrun_emulator, mogrun_cli, command):
    """Only a ValueError says the user's value is wrong; any other exception is
    a bug in the plugin: named as such (exit 2), the job's secrets masked."""
    from mogrun.testing import write_taskfile

    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "x.py").write_text(BUGGY_VALIDATOR)
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["plugins/x.py"]\n'
                   '[jobs.page]\nrepo = "acme/api"\nprompt = "hi"\n'
                   'route = "{{ env.PAGER_URL }}"\n')
    result = mogrun_cli(*command, cwd=tmp_path, env={"PAGER_URL": SECRET})
    assert result.exit_code == 2, result
    assert result.errors == ['Error: job "page", key "route": plugin "x" failed validating it: '
                             "TypeError: cannot route ***"]
    assert "TOPSECRET42" not in result.output
    assert "Traceback" not in result.output
    assert mogrun_emulator.runs == []


OWN_ERROR_VALIDATOR = """
from mogrun.plugin import MogrunError, hookimpl

def validate(value):
    raise MogrunError("no such pager route: " + value, context=["Ask #oncall."])

@hookimpl
def mogrun_job_keys(register):
    register("route", validate)
"""


@pytest.mark.parametrize("json_output", [False, True])
def test_check_answers_2_for_a_validators_own_mogrun_error(tmp_path, mogrun_cli, json_output):
    """check exits 0 or 2 (docs/cli.md), its --json is JSON: a plugin's own error from a
    key's validate is a problem of the file, shown as it is, secrets masked."""
    from mogrun.testing import write_taskfile

    (tmp_path / "x.py").write_text(OWN_ERROR_VALIDATOR)
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["x.py"]\n'
                   '[jobs.page]\nrepo = "acme/api"\nprompt = "hi"\n'
                   'route = "{{ env.PAGER_URL }}"\n')
    flags = ("--json",) if json_output else ()
    result = mogrun_cli(*flags, "check", cwd=tmp_path, env={"PAGER_URL": SECRET})
    assert result.exit_code == 2, result
    assert "TOPSECRET42" not in result.output
    if json_output:
        report = json.loads(result.stdout)
        assert report["ok"] is False
        assert [(e["message"], e["context"]) for e in report["errors"]] == [
            ("no such pager route: ***", ["Ask #oncall."])]
    else:
        assert result.stderr.splitlines() == ["Error: no such pager route: ***", "Ask #oncall."]


def test_a_default_validated_alone_crashing_is_the_plugins_fault(tmp_path, mogrun_cli):
    """check judges a [defaults] key no job inherits on its own: same rule."""
    from mogrun.testing import write_taskfile

    (tmp_path / "x.py").write_text(
        "from mogrun.plugin import hookimpl\n\n"
        "@hookimpl\ndef mogrun_job_keys(register):\n"
        "    register('owner', lambda value: value['team'])\n")
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["x.py"]\n[defaults]\nowner = "a"\n'
                   '[jobs.page]\nrepo = "acme/api"\nprompt = "hi"\nowner = { team = "b" }\n')
    result = mogrun_cli("check", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert result.errors == ['Error: [defaults] key "owner": plugin "x" failed validating it: '
                             "TypeError: string indices must be integers, not 'str'"]


def test_json_check_reports_a_crashing_validator_as_json(tmp_path, mogrun_cli):
    """``--json check`` answers with one JSON object whatever the problem: a
    plugin's crash while the file is judged too (exit 2, secrets masked)."""
    import json

    from mogrun.testing import write_taskfile

    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "x.py").write_text(BUGGY_VALIDATOR)
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["plugins/x.py"]\n'
                   '[jobs.page]\nrepo = "acme/api"\nprompt = "hi"\n'
                   'route = "{{ env.PAGER_URL }}"\n')
    result = mogrun_cli("--json", "check", cwd=tmp_path, env={"PAGER_URL": SECRET})
    assert result.exit_code == 2, result
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [e["message"] for e in report["errors"]] == [
        'job "page", key "route": plugin "x" failed validating it: TypeError: cannot route ***']
    assert "TOPSECRET42" not in result.output


CRASHES_ON_A_NUMBER = """
from mogrun.plugin import hookimpl

def validate(value):
    return value.lower()  # the plugin's bug: an AttributeError for a number

@hookimpl
def mogrun_job_keys(register):
    register("owner", validate)
"""


def test_a_validator_crash_is_its_keys_problem_and_hides_no_other(tmp_path, mogrun_cli):
    """A crash validating job b's key stopped ``check`` there: job a's unknown key
    (earlier in the file) went unsaid, the crash had no line, and ``add`` of an
    unrelated job was refused for it."""
    (tmp_path / "x.py").write_text(CRASHES_ON_A_NUMBER)
    text = ('\ufeff[mogplex]\r\nplugins = ["x.py"]  # ours\r\n\r\n'
            '[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\ntmeout = "5m"\r\n\r\n'
            '[jobs.b]\r\nrepo = "acme/api"\r\nprompt = "x"\r\nowner = 5\t# a number\r\n\r\n')
    (tmp_path / "mogplex.toml").write_bytes(text.encode())
    result = mogrun_cli("check", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert result.errors == [
        'Error: unknown key "tmeout" in job "a"',
        'Error: job "b", key "owner": plugin "x" failed validating it: AttributeError: '
        "'int' object has no attribute 'lower'"]
    assert f"  --> {tmp_path / 'mogplex.toml'}:12:1" in result.stderr.splitlines()
    report = json.loads(mogrun_cli("--json", "check", cwd=tmp_path).stdout)
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(7, 1), (12, 1)]
    added = mogrun_cli("add", "c", "--repo", "acme/web", "--prompt", "y", cwd=tmp_path)
    assert added.exit_code == 0, added
    assert (tmp_path / "mogplex.toml").read_bytes().startswith(text.encode())


def test_a_key_one_plugin_declares_twice_is_said_so():
    # 'job key "k" is declared by both plugin "keys" and plugin "keys"'
    class Twice:
        @hookimpl
        def mogrun_job_keys(self, register):
            register("k", lambda v: v)
            register("k", lambda v: v)

    with pytest.raises(PluginError, match=r'^plugin "twice" declares job key "k" twice$'):
        PluginHost.from_plugins(("twice", Twice()), bundled=False).key_specs()


@pytest.mark.parametrize("name", ["webhook_token", "api_key", "password"])
def test_a_key_named_like_a_secret_is_refused_when_declared(name):
    """check refuses every secret-looking key, whatever its value ({{ env.X }} too),
    with advice for mogrun's own token: a plugin could declare one no task file
    could ever set, and its user was told to set MOGPLEX_API_KEY."""
    with pytest.raises(PluginError) as caught:
        specs_of(name=name, validate=lambda v: v)
    assert caught.value.message == (
        f'plugin "keys" declares job key "{name}", which looks like a secret\'s: a task '
        "file refuses every such key (it is committed)")
    assert caught.value.context == (
        "Name it otherwise (webhook, not webhook_token): a user gives its value as "
        "{{ env.NAME }}, masked as a secret.",)
