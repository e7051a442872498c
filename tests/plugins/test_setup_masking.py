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
    assert info.value.message == 'plugin "leaky" failed in mogrun_adjust_job: ' \
                                 "RuntimeError: cannot reach ***"
