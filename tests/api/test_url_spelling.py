"""One API, one base URL: spellings of the same MOGPLEX_URL (case of scheme
and host, default port, trailing slashes) key history the same way, so a
`status` after a `run` finds its runs."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mogrun.api.settings import resolve_endpoint


@pytest.mark.parametrize("url", [
    "https://mogplex.com", "HTTPS://Mogplex.COM/", "https://mogplex.com:443",
    "https://MOGPLEX.com:443/api/v1/mogplex/", "https://mogplex.com//",
])
def test_spellings_of_one_url_are_one_base_url(url):
    endpoint = resolve_endpoint(cli_url=None, env={"MOGPLEX_URL": url}, file_url=None)
    assert endpoint.base_url == "https://mogplex.com"
    assert endpoint.api_url == "https://mogplex.com/api/v1/mogplex"


def test_paths_and_other_ports_are_kept():
    endpoint = resolve_endpoint(cli_url="http://LOCALHOST:8080/Proxy/", env={}, file_url=None)
    assert endpoint.base_url == "http://localhost:8080/Proxy"
    assert endpoint.api_url == "http://localhost:8080/Proxy/api/v1/mogplex"


@given(st.text(alphabet="abcXYZ019_~/?=&-.%#: é", max_size=30))
@example("/runs/../events?limit=200")
@example("/runs/a b/events")
@example("/runs/%2f/events")
@example("/x#frag")
def test_the_request_line_is_urllib3s_whether_or_not_its_parser_is_asked(rest):
    # A plain path skips urllib3's parser (each run's polls have their own); any
    # other goes through it: both send what urllib3's PoolManager would.
    from urllib3.util import parse_url

    from mogrun.api.transport import _request_uri

    path = "/" + rest
    assert _request_uri(path) == parse_url("http://origin" + path).request_uri
