"""A plugin's job-key callbacks (validate, secrets) are plugin code like its
hooks: a bug in them is a PluginError naming plugin and key (exit 2), never a
traceback, and a bad registration is refused when the keys are collected."""

from __future__ import annotations

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


def test_a_crashing_validate_is_a_plugin_error_but_value_errors_stay_the_users():
    spec = specs_of(name="k", validate=lambda v: v["missing"])["k"]
    with pytest.raises(PluginError) as caught:
        spec.validate({})
    assert caught.value.message == ('plugin "keys" failed validating job key "k": '
                                    "KeyError: 'missing'")
    strict = specs_of(name="k", validate=lambda v: int("x"))["k"]
    with pytest.raises(ValueError):
        strict.validate("x")


@pytest.mark.parametrize("secrets", [lambda v: 5, lambda v: 1 / 0])
def test_a_broken_secrets_callback_is_a_plugin_error(secrets):
    spec = specs_of(name="k", validate=lambda v: v, secrets=secrets)["k"]
    with pytest.raises(PluginError, match='plugin "keys" failed listing the secrets of job '
                                          'key "k"'):
        list(spec.secrets("value"))
