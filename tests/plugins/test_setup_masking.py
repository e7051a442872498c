"""A set-up hook that crashes must not print the job's secrets (env.* values,
webhook URLs) in its error."""

from __future__ import annotations

import pytest
from plugtest_helpers import make_job

from mogrun.errors import PluginError
from mogrun.hookspecs import hookimpl
from mogrun.pluginhost import PluginHost


def test_adjust_job_crash_masks_the_jobs_secrets():
    class Leaky:
        @hookimpl
        def mogrun_adjust_job(self, job):
            raise RuntimeError(f"cannot reach {sorted(job.secrets)[0]}")

    job = make_job(secrets={"https://hooks.example/T0/very-secret"})
    with pytest.raises(PluginError) as info:
        PluginHost.from_plugins(("leaky", Leaky())).adjust_job(job)
    assert "very-secret" not in info.value.message
    assert info.value.message == 'plugin "leaky" failed in mogrun_adjust_job (job nightly): ' \
                                 "RuntimeError: cannot reach ***"


SECRET = "https://hooks.example.com/TOPSECRET42"

LEAKY_KEY = '''
import os
from mogrun.hookspecs import hookimpl

@hookimpl
def mogrun_job_keys(register):
    register("route", validate=lambda v: {}[v])
'''

LEAKY_CONFIGURE = '''
import os
from mogrun.hookspecs import hookimpl

@hookimpl
def mogrun_configure(config):
    raise RuntimeError("cannot reach " + os.environ["PAGER_URL"])
'''

LEAKY_OPTIONS = '''
import os
from mogrun.hookspecs import hookimpl

@hookimpl
def mogrun_add_options(register):
    raise RuntimeError("cannot reach " + os.environ["PAGER_URL"])
'''


def _project(tmp_path, plugin: str, key: str = "route"):
    from mogrun.testing import write_taskfile

    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "x.py").write_text(plugin)
    write_taskfile(tmp_path, '[mogplex]\nplugins = ["plugins/x.py"]\n'
                   '[jobs.page]\nrepo = "acme/api"\nprompt = "hi"\n'
                   f'{key} = "{{{{ env.PAGER_URL }}}}"\n')
    return tmp_path


@pytest.mark.parametrize("command", [("check",), ("show", "page"), ("run", "page")])
def test_a_crashing_key_validator_masks_the_env_value(tmp_path, mogrun_cli, command):
    root = _project(tmp_path, LEAKY_KEY)
    result = mogrun_cli(*command, cwd=root, env={"PAGER_URL": SECRET})
    assert result.exit_code == 2, result
    assert SECRET not in result.output
    assert "TOPSECRET42" not in result.output
    assert 'job "page", key "route": plugin "x" failed validating it: KeyError' in result.stderr


@pytest.mark.parametrize("command", [("check",), ("show", "page"), ("run", "page")])
def test_a_crashing_configure_masks_the_env_value(tmp_path, mogrun_cli, monkeypatch, command):
    monkeypatch.setenv("PAGER_URL", SECRET)
    root = _project(tmp_path, LEAKY_CONFIGURE, key="description")
    result = mogrun_cli(*command, cwd=root, env={"PAGER_URL": SECRET})
    assert result.exit_code == 2, result
    assert "TOPSECRET42" not in result.output
    assert 'plugin "x" failed in mogrun_configure: RuntimeError: cannot reach ***' \
        in result.stderr


def test_a_crashing_add_options_masks_the_env_value(tmp_path, mogrun_cli, monkeypatch):
    monkeypatch.setenv("PAGER_URL", SECRET)
    root = _project(tmp_path, LEAKY_OPTIONS, key="description")
    (root / "mogplex.toml").write_text((root / "mogplex.toml").read_text()
                                       .replace('plugins = ["plugins/x.py"]', ""))
    result = mogrun_cli("run", "-p", "plugins/x.py", "page", cwd=root,
                        env={"PAGER_URL": SECRET})
    assert result.exit_code == 2, result
    assert "TOPSECRET42" not in result.output
    assert 'plugin "x" failed in mogrun_add_options: RuntimeError: cannot reach ***' \
        in result.stderr


def test_a_secrets_callback_returning_a_string_is_one_secret():
    class Keys:
        @hookimpl
        def mogrun_job_keys(self, register):
            register("k", validate=lambda v: v, secrets=lambda v: v.get("hook"))

    spec = PluginHost.from_plugins(("keys", Keys()), bundled=False).key_specs()["k"]
    assert list(spec.secrets({"hook": SECRET})) == [SECRET]


LEAKY_USAGE = '''
from mogrun.errors import UsageError
from mogrun.hookspecs import hookimpl

def refuse(value):
    raise UsageError(f"bad route {value!r}")

@hookimpl
def mogrun_job_keys(register):
    register("route", validate=refuse)
'''


@pytest.mark.parametrize("command", [("check",), ("show", "page"), ("run", "page")])
def test_a_validator_raising_a_mogrun_error_masks_the_env_value(tmp_path, mogrun_cli, command):
    """Not only a crash (PluginError): any mogrun error a validator raises on purpose
    quotes the value as it was rendered, env.* values and all."""
    root = _project(tmp_path, LEAKY_USAGE)
    result = mogrun_cli(*command, cwd=root, env={"PAGER_URL": SECRET})
    assert result.exit_code == 2, result
    assert "TOPSECRET42" not in result.output
    assert result.errors == ["Error: bad route '***'"], result
    assert "Traceback" not in result.output


LEAKY_DEFAULT = '''
import os
from mogrun.hookspecs import hookimpl

def route(value):
    if value == "broken":
        raise RuntimeError("cannot reach " + os.environ[os.environ["LEAK"]])
    return value

@hookimpl
def mogrun_job_keys(register):
    register("route", validate=route)
'''


@pytest.mark.parametrize("leak", ["PAGER_URL", "MOGPLEX_API_KEY"])
def test_a_crash_on_a_default_no_job_inherits_masks_the_invocations_secrets(
        tmp_path, mogrun_cli, monkeypatch, leak):
    """A [defaults] value every job overrides is validated alone, outside any job:
    its crash is masked like other crashes before jobs exist (mogrun_configure's),
    with the API token and the values of the env.* names the file uses."""
    monkeypatch.setenv("PAGER_URL", SECRET)
    monkeypatch.setenv("MOGPLEX_API_KEY", "mog_TOPSECRET42")
    monkeypatch.setenv("LEAK", leak)
    root = _project(tmp_path, LEAKY_DEFAULT)
    text = (root / "mogplex.toml").read_text()
    (root / "mogplex.toml").write_text(text.replace("[jobs.page]",
                                                    '[defaults]\nroute = "broken"\n[jobs.page]'))
    result = mogrun_cli("check", cwd=root,
                        env={"PAGER_URL": SECRET, "MOGPLEX_API_KEY": "mog_TOPSECRET42"})
    assert result.exit_code == 2, result
    assert "TOPSECRET42" not in result.output
    assert result.errors == ['Error: [defaults] key "route": plugin "x" failed validating it: '
                             "RuntimeError: cannot reach ***"], result


QUOTES_THE_TOKEN = '''
import os
from mogrun.errors import MogrunError
from mogrun.hookspecs import hookimpl

def route(value):
    debug = "key=" + os.environ["MOGPLEX_API_KEY"]
    if os.environ["MODE"] == "value":
        raise ValueError(f"route rejected ({debug})")
    raise MogrunError(f"route lookup failed ({debug})")

@hookimpl
def mogrun_job_keys(register):
    register("route", validate=route)
'''


@pytest.mark.parametrize("mode", ["value", "mogrun"])
@pytest.mark.parametrize("command", [("check",), ("show", "page")])
def test_a_job_s_validator_quoting_the_token_is_masked(tmp_path, mogrun_cli, monkeypatch,
                                                       mode, command):
    """A job's key was masked with the job's secrets only (its env.* values): the
    token a validator's debug text quoted was shown in clear."""
    env = {"PAGER_URL": SECRET, "MODE": mode, "MOGPLEX_API_KEY": "mog_TOPSECRET42"}
    for name, value in env.items():  # the plugin reads os.environ
        monkeypatch.setenv(name, value)
    root = _project(tmp_path, QUOTES_THE_TOKEN)
    result = mogrun_cli(*command, cwd=root, env=env)
    assert result.exit_code in (1, 2), result
    assert "TOPSECRET42" not in result.output, result
    assert "key=***" in result.stderr, result


LEAKY_IMPORT = '''
import os
raise RuntimeError("cannot reach " + os.environ["PAGER_URL"] + " key="
                   + os.environ["MOGPLEX_API_KEY"])
'''


@pytest.mark.parametrize("command", [("check",), ("plugins",), ("show", "page"),
                                     ("run", "page")])
@pytest.mark.parametrize("how", ["task file", "-p"])
def test_a_plugin_failing_to_import_masks_the_env_value_and_the_token(
        tmp_path, mogrun_cli, monkeypatch, command, how):
    """A hook's error was masked, an import's was printed as raised: the env.*
    value and the API token the plugin quoted, in clear (a -p plugin loads
    before the task file is read: its env.* names are read for the error)."""
    env = {"PAGER_URL": SECRET, "MOGPLEX_API_KEY": "mog_live_abcdef123456"}
    for name, value in env.items():  # the plugin reads them as it is imported, in-process
        monkeypatch.setenv(name, value)
    root = _project(tmp_path, LEAKY_IMPORT, key="description")
    if how == "-p":
        (root / "mogplex.toml").write_text((root / "mogplex.toml").read_text()
                                           .replace('plugins = ["plugins/x.py"]', ""))
        command = ("-p", "plugins/x.py", *command)
    result = mogrun_cli(*command, cwd=root, env=env)
    assert result.exit_code == 2, result
    assert "TOPSECRET42" not in result.output and "abcdef123456" not in result.output
    assert ('plugin "x" failed to import: RuntimeError: cannot reach *** key=***'
            in result.stderr), result


UNREADABLE = '''
from mogrun.hookspecs import hookimpl

class DeliveryError(Exception):
    def __init__(self, response):
        self.response = response

    def __str__(self):
        return f"chat answered HTTP {self.response.status}"

@hookimpl
def mogrun_job_finished():
    raise DeliveryError(None)

@hookimpl
def mogrun_event():
    raise DeliveryError(None)
'''


def test_an_exception_whose_text_cannot_be_read_is_still_one_warning(tmp_path, mogrun_cli):
    """A plugin's exception whose own __str__ fails: mogrun crashed with a traceback
    (mogrun_job_finished: no summary, exit 1 for a run that passed; mogrun_event:
    an internal error that lost the run)."""
    root = _project(tmp_path, UNREADABLE, key="description")
    (root / "mogplex.toml").write_text((root / "mogplex.toml").read_text().replace(
        'prompt = "hi"', 'prompt = "hi\\n@emulator duration=0.2s events=2"'))
    result = mogrun_cli("--local", "run", "page", cwd=root, env={"PAGER_URL": SECRET})
    assert result.exit_code == 0, result
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert ('warning: plugin "x" failed in mogrun_job_finished (job page): '
            "DeliveryError (its message "
            "could not be read)") in result.stderr
    assert "1 passed, 0 failed" in result.output


QUOTES_WHAT_IT_REFUSES = '''
from mogrun.plugin import hookimpl


def validate(value):
    if value.get("mode") == "crash":
        raise KeyError(value["hook"])
    raise ValueError(f"cannot page through {value['hook']!r}")


@hookimpl
def mogrun_job_keys(register):
    register("pager", validate, secrets=lambda value: [value.get("hook")])
'''
LITERAL_HOOK = "https://hooks.example.com/T0/LITERAL99"


@pytest.mark.parametrize("mode", ["value", "crash"])
@pytest.mark.parametrize("where", ["job", "defaults"])
def test_a_refused_value_s_secrets_are_masked_in_the_message_as_in_its_line(
        tmp_path, mogrun_cli, mode, where):
    """The line quoted under the problem had the webhook the key's secrets callback
    lists masked in place, while the message right above it quoted it in clear
    (and a [defaults] value no job inherits had neither masked)."""
    (tmp_path / "pager.py").write_text(QUOTES_WHAT_IT_REFUSES)
    value = f'pager = {{ hook = "{LITERAL_HOOK}", mode = "{mode}" }}\n'
    job = 'repo = "acme/api"\nprompt = "x"\n'
    if where == "job":
        text = f'[mogplex]\nplugins = ["pager.py"]\n\n[jobs.page]\n{job}{value}'
    else:  # every job sets its own: the default is judged on its own
        text = (f'[mogplex]\nplugins = ["pager.py"]\n\n[defaults]\n{value}\n'
                f'[jobs.page]\n{job}pager = 1\n')
    (tmp_path / "mogplex.toml").write_text(text)
    result = mogrun_cli("check", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert "LITERAL99" not in result.output, result
    assert "***" in result.errors[0], result
