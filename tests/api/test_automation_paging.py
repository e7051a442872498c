"""Reading the automations list to its end, whatever the server's cursor does."""

from __future__ import annotations

import json

import pytest

from mogrun.api.automations import list_automations
from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.transport import Urllib3Transport
from mogrun.errors import TransportError

from .loopback import loopback_server


def test_an_automations_list_whose_cursor_repeats_is_an_error_not_an_endless_read():
    """A server answering nextCursor "SAME" on every page was read for ~60 pages
    and on (10,000 pages at 60 a minute: hours), then a silent partial list."""
    page = json.dumps({"ok": True, "data": {
        "automations": [{"id": "a1", "name": "triage", "status": "active"}],
        "nextCursor": "SAME"}}).encode()
    with loopback_server(body=page, headers={"Content-Type": "application/json"}) as server:
        client = MogplexClient(server.url + "/api/v1/mogplex", "mog_x",
                               transport=Urllib3Transport(),
                               budget=RequestBudget(requests_per_minute=100_000))
        with pytest.raises(TransportError, match="nextCursor it gave before"):
            list_automations(client)
        assert len(server.received) == 2


def _page(ids: list[str], cursor: str | None) -> tuple[int, bytes]:
    return 200, json.dumps({"ok": True, "data": {
        "automations": [{"id": i, "name": f"n-{i}", "status": "active"} for i in ids],
        "nextCursor": cursor}}).encode()


def _client(server) -> MogplexClient:
    return MogplexClient(server.url + "/api/v1/mogplex", "mog_x", transport=Urllib3Transport(),
                         budget=RequestBudget(requests_per_minute=100_000))


def test_the_same_automations_under_a_new_cursor_are_an_error():
    with loopback_server(headers={"Content-Type": "application/json"}) as server:
        server.queued = [_page(["a1", "a2"], "c1"), _page(["a1", "a2"], "c2"),
                         _page(["a3"], None)]
        with pytest.raises(TransportError, match="the same automations again"):
            list_automations(_client(server))
        assert len(server.received) == 2


def test_pages_that_never_end_are_an_error_not_a_partial_list(monkeypatch):
    """A new cursor and a new automation on every page: read for 10,000 pages (hours
    at the real limit), then a partial list shown as the whole."""
    import mogrun.api.automations as automations

    monkeypatch.setattr(automations, "MAX_PAGES", 3)
    with loopback_server(headers={"Content-Type": "application/json"}) as server:
        server.queued = [_page([f"a{n}"], f"c{n}") for n in range(5)]
        with pytest.raises(TransportError, match="gave a next page after 3 pages"):
            list_automations(_client(server))
        server.queued = [_page(["a1"], "c1"), _page(["a2"], "c2"), _page(["a3"], None)]
        assert [a.id for a in list_automations(_client(server))] == ["a1", "a2", "a3"]
