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
