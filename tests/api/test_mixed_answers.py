"""An answer about another run (a proxy or cache that mixed two answers up) is
refused, whichever read of a run it answers: taken as the run asked for, it had a
failing run judged by another run's success. Served over loopback HTTP."""

from __future__ import annotations

import pytest

from mogrun.api import automations
from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.transport import Urllib3Transport
from mogrun.errors import ProtocolError
from mogrun.testing import loopback_api

ASKED, OTHER = "run-asked", "run-other"


def client_of(url: str) -> MogplexClient:
    return MogplexClient(url + "/api/v1/mogplex", "mog_test", transport=Urllib3Transport(),
                         budget=RequestBudget(requests_per_minute=100_000))


def detail(run_id: str | None) -> dict:
    found = {"status": "success", "createdAt": "2026-01-01T00:00:00Z", "error": None}
    return found if run_id is None else {**found, "runId": run_id}


READS = {
    "get_run": (lambda c: c.get_run(ASKED), lambda run: {"run": run}),
    "get_events": (lambda c: c.get_events(ASKED)[0], lambda run: {"run": run, "events": []}),
    "cancel_run": (lambda c: c.cancel_run(ASKED).state,
                   lambda run: {"run": run, "status": "success", "alreadyTerminal": True}),
}


@pytest.mark.parametrize("read", sorted(READS))
def test_a_read_answered_with_another_runs_body_is_refused(read):
    call, payload = READS[read]
    with (loopback_api(lambda method, path: (200, payload(detail(OTHER)))) as url,
          pytest.raises(ProtocolError) as refused):
        call(client_of(url))
    assert f"is about run '{OTHER}', not run '{ASKED}'" in refused.value.message


@pytest.mark.parametrize("named", [ASKED, ASKED.upper(), None])
@pytest.mark.parametrize("read", sorted(READS))
def test_a_read_naming_its_run_or_none_is_the_run_asked_for(read, named):
    call, payload = READS[read]
    with loopback_api(lambda method, path: (200, payload(detail(named)))) as url:
        assert call(client_of(url)).status == "success"


@pytest.mark.parametrize(("named", "refused"), [("r1", False), ("r2", True)])
def test_an_automation_run_read_is_checked_by_its_id(named, refused):
    run = {"id": named, "status": "completed", "flow_id": "a1"}
    with loopback_api(lambda method, path: (200, {"run": run})) as url:
        if refused:
            with pytest.raises(ProtocolError, match="is about run 'r2', not run 'r1'"):
                automations.read_run(client_of(url), "a1", "r1")
        else:
            assert automations.read_run(client_of(url), "a1", "r1").state.run_id == "r1"
