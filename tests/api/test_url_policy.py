"""One URL policy (issue 12): the API URL check, the transport and plugin
webhook URLs refuse exactly the same URLs, because they ask one function."""

from __future__ import annotations

import pytest

from mogrun.api.settings import url_problem
from mogrun.api.transport import refuse_insecure_url
from mogrun.errors import UsageError
from mogrun.loopback import DOTTED_LOOPBACK, NOT_HTTP, PLAIN_HTTP, url_refusal
from mogrun.plugintables import web_url

CASES = [
    ("https://mogplex.com", None),
    ("https://203.0.113.7:8443", None),
    ("http://127.0.0.1:8080", None),
    ("http://localhost", None),
    ("http://[::1]:9", None),
    # glibc asks DNS for "localhost.": the token could go over http to whoever answers.
    ("HTTP://LOCALHOST.", DOTTED_LOOPBACK),
    ("http://localhost.:8080/api", DOTTED_LOOPBACK),
    ("http://127.0.0.1.:8080", DOTTED_LOOPBACK),
    ("https://localhost.:8443", None),
    ("http://203.0.113.7", PLAIN_HTTP),
    ("http://mogplex.com", PLAIN_HTTP),
    ("http://127.0.0.1.example.com", PLAIN_HTTP),
    ("ftp://127.0.0.1", NOT_HTTP),
    ("https://", NOT_HTTP),
]


@pytest.mark.parametrize("url, refusal", CASES)
def test_every_consumer_refuses_what_the_policy_refuses(url, refusal):
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    assert url_refusal(parts.scheme, parts.hostname) == refusal
    refused_by = {
        "settings": url_problem(url) is not None,
        "transport": _raises(UsageError, refuse_insecure_url, url),
        "webhooks": _raises(ValueError, web_url, url, "notify.url"),
    }
    assert refused_by == dict.fromkeys(refused_by, refusal is not None)


def _raises(kind: type[Exception], call, *args) -> bool:
    try:
        call(*args)
    except kind:
        return True
    return False


def test_port_zero_is_no_api_url():
    """It was taken, retried six times, and reported as 'cannot connect to
    http://127.0.0.1' (the port dropped)."""
    assert url_problem("http://127.0.0.1:0") == "it names port 0, which no server listens on"
    assert url_problem("http://127.0.0.1:1") is None


@pytest.mark.parametrize(("url", "shown"), [("http://[::1]:1/api", "http://[::1]:1"),
                                            ("https://mogplex.com/x", "https://mogplex.com"),
                                            ("http://127.0.0.1:8080/y", "http://127.0.0.1:8080")])
def test_a_message_names_an_ipv6_origin_with_its_brackets(url, shown):
    from mogrun.api.transport import origin_of

    assert origin_of(url) == shown


@pytest.mark.parametrize("url", ["http://localhost.:8080", "http://LOCALHOST."])
def test_a_dotted_loopback_name_is_refused_saying_what_to_use(url):
    assert "use localhost or 127.0.0.1" in (url_problem(url) or "")
    with pytest.raises(UsageError) as caught:
        refuse_insecure_url(url + "/api/v1/mogplex/runs")
    assert "use localhost or 127.0.0.1" in caught.value.message
    with pytest.raises(ValueError, match=r"use localhost or 127\.0\.0\.1"):
        web_url(url, "notify.url")


@pytest.mark.parametrize("url", [
    "https://a..mogplex.com", "https://.mogplex.com", "https://mogplex.com..",
    "https://localhost..:8443", "https://127.0.0.1..:8443", "http://[::1]]:1",
    "https://" + "a" * 64 + ".mogplex.com", "http://[::1]x:1",
    # A character no host name has: a template ({{env.HOST}}: a url is never rendered)
    # went to DNS as it was, retried as a network failure (exit 69).
    "https://{{env.HOST}}.mogplex.com", "https://a!b.mogplex.com", "https://a*b.example"])
def test_a_host_no_request_can_go_to_is_refused_by_every_consumer_before_any_socket(url):
    """A host with an empty or over-long part (a typo: a..mogplex.com) passed every
    check, then urllib3 refused it at each request: retried six times as a network
    failure, "check that the server is reachable", exit 69. [::1]]:1 was sent to
    [::1]:1. Each consumer refuses it now, as a URL that is not valid."""
    assert "it is not a valid URL (its host" in (url_problem(url) or ""), url
    with pytest.raises(UsageError, match="not a valid URL"):
        refuse_insecure_url(url + "/api/v1/mogplex/runs")
    with pytest.raises(ValueError, match="not a URL a request can go to: its host"):
        web_url(url, "notify.url")


@pytest.mark.parametrize("url", ["https://mogplex.com.", "http://[::1]:9", "https://a-b.mogplex.com",
                                 "https://" + "a" * 63 + ".mogplex.com",
                                 "https://b\u00fccher.example", "https://x_y.corp.example"])
def test_hosts_a_request_can_go_to_stay_accepted(url):
    assert url_problem(url) is None
    refuse_insecure_url(url + "/api/v1/mogplex/runs")
    assert web_url(url, "notify.url") == url


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://localhost:8443", True), ("http://127.0.0.1:8080", True),
    ("https://api.mogplex.com.", True),
    # The resolver asks DNS for "localhost.": a task file from a pull request could send
    # the CI token over https to whatever DNS names so (and past the proxy, as loopback).
    ("https://localhost.:8443", False), ("https://LOCALHOST.", False),
    ("https://127.0.0.1.:8443", False)])
def test_a_task_file_names_loopback_only_without_a_trailing_dot(url, allowed):
    from mogrun.api.settings import check_file_url

    if allowed:
        check_file_url(url)
        return
    with pytest.raises(ValueError, match=r"with a trailing dot it is a name DNS answers for: "
                                         r"use localhost or 127\.0\.0\.1"):
        check_file_url(url)


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("LOCALHOST", True), ("127.0.0.1", True), ("[::1]", True),
    ("localhost.", False), ("127.0.0.1.", False), ("LOCALHOST.", False), ("localhost.x", False)])
def test_a_trailing_dot_makes_no_name_loopback_for_any_consumer(host, loopback):
    """The one rule: is_loopback_host stripped a trailing dot, so each consumer that
    asked it took a name DNS answers for as loopback (a task file's url, the proxy's
    bypass, the emulator's Host check against DNS rebinding); only plain http's own
    check refused it."""
    from mogrun.api.proxies import Proxies
    from mogrun.emulator.control import foreign_caller
    from mogrun.emulator.replies import Request
    from mogrun.loopback import is_loopback_host

    assert is_loopback_host(host) is loopback
    proxies = Proxies.from_env({"HTTPS_PROXY": "http://proxy.example:3128"})
    assert (proxies.for_url(f"https://{host}:8443/api") is None) is loopback
    caller = Request("POST", "/_emulator/faults", {}, {"host": f"{host}:8765"})
    assert (foreign_caller(caller) is None) is loopback


@pytest.mark.parametrize("url", ["http://127.0.0.1:9#", "http://127.0.0.1:9?",
                                 "https://mogplex.com/?", "https://mogplex.com/#"])
def test_an_empty_query_or_fragment_is_refused_as_any_query_or_fragment_is(url):
    """A URL with a fragment or a query is no API base URL; an empty one (a stray
    '#' or '?' typed after the port) passed."""
    assert url_problem(url) == "it must not have a query or fragment"
