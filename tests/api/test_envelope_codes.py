"""The envelope's code decides what an error is, whatever the HTTP status says:
a refusal (BAD_REQUEST, NOT_FOUND, CONFLICT) is never retried, even in a 200."""

from __future__ import annotations

import json

import pytest

from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.transport import Urllib3Transport
from mogrun.errors import RequestRefusedError, ServerError

from .conftest import QuickRetry
from .loopback import loopback_server


def _envelope(code: str) -> bytes:
    return json.dumps({"ok": False, "error": {"code": code, "message": "refused"}}).encode()


@pytest.mark.parametrize("code", ["BAD_REQUEST", "NOT_FOUND", "CONFLICT"])
def test_a_refusal_code_in_a_200_is_refused_not_retried(code):
    policy = QuickRetry(delay=0.0)
    with loopback_server(200, {"Content-Type": "application/json"}, _envelope(code)) as srv:
        client = MogplexClient(srv.url + "/api/v1/mogplex", "mog_x",
                               transport=Urllib3Transport(), budget=RequestBudget(),
                               retry=policy)
        with pytest.raises(RequestRefusedError) as caught:
            client.list_repos()
    assert len(srv.received) == 1 and policy.calls == []
    assert (caught.value.code, caught.value.exit_code) == (code, 1)


def test_internal_error_in_an_odd_status_is_a_server_error():
    with loopback_server(200, {"Content-Type": "application/json"},
                         _envelope("INTERNAL_ERROR")) as srv:
        client = MogplexClient(srv.url + "/api/v1/mogplex", "mog_x",
                               transport=Urllib3Transport(), budget=RequestBudget())
        with pytest.raises(ServerError):
            client.list_repos()


@pytest.mark.parametrize("data", [{"runId": None}, {"runId": ""}, {"runId": {}},
                                  {"status": "pending"}, []])
def test_a_start_accepted_without_a_usable_run_id_may_have_started_and_is_sent_once(data):
    """The server accepted the start: the run may exist, and a second start could
    double it (``test_unconfirmed_start``: what run and rerun make of it)."""
    from mogrun.errors import UnconfirmedStartError
    from mogrun.models import StartRequest

    policy = QuickRetry(delay=0.0)
    body = json.dumps({"ok": True, "data": data}).encode()
    with loopback_server(202, {"Content-Type": "application/json"}, body) as srv:
        client = MogplexClient(srv.url + "/api/v1/mogplex", "mog_x",
                               transport=Urllib3Transport(), budget=RequestBudget(),
                               retry=policy)
        with pytest.raises(UnconfirmedStartError) as caught:
            client.start_run(StartRequest(repo="a/b", repo_id="r1", prompt="p",
                                          idempotency_key="k"))
    assert len(srv.received) == 1 and policy.calls == []
    assert caught.value.exit_code == 69
    assert caught.value.message.endswith("named no run (its answer has no runId): the run may "
                                         "have started")
