"""One API, one base URL: spellings of the same MOGPLEX_URL (case of scheme
and host, default port, trailing slashes) key history the same way, so a
`status` after a `run` finds its runs."""

from __future__ import annotations

import pytest

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
