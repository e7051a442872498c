"""The one URL policy: which hosts are loopback, and which URLs mogrun may send to.

``url_refusal`` is the single decision behind every "plain http only to
loopback" check (the API URL from any source, the transport before a socket
under both URL parsers, plugin webhook URLs); ``is_loopback_host`` also
decides task-file URLs, the proxy's bypass and the emulator's address and
callers. It never resolves a name: only ``localhost`` and loopback IP literals
count, as written; with a trailing dot (``localhost.``) a name is one the
resolver asks DNS about, so it is never loopback.
"""

from __future__ import annotations

import ipaddress


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or a loopback IP literal (127.0.0.0/8, ::1), brackets allowed;
    not with a trailing dot: glibc asks DNS for ``localhost.``, so a task file's
    ``https://localhost.`` could send the CI token wherever DNS points, past the
    proxy, and a page served from that name could pass for the emulator's caller."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


NOT_HTTP = "not an http(s) URL with a host"
PLAIN_HTTP = "plain http:// is only for loopback"
# ``localhost.`` is no name the resolver keeps local: glibc asks DNS for it, so a
# plain-http token could go to whoever answers.
DOTTED_LOOPBACK = ("plain http:// needs loopback named without a trailing dot "
                   "(the resolver asks DNS for it): use localhost or 127.0.0.1")


def url_refusal(scheme: str | None, host: str | None) -> str | None:
    """Why mogrun must not send a request to ``scheme://host`` (``NOT_HTTP``,
    ``PLAIN_HTTP`` or ``DOTTED_LOOPBACK``), or ``None``: only http(s) is spoken,
    and plain ``http://`` only to loopback that no resolver is asked about, since
    tokens and webhook URLs travel over HTTPS."""
    scheme = (scheme or "").lower()
    if scheme not in ("http", "https") or not host:
        return NOT_HTTP
    if scheme == "http" and not is_loopback_host(host):
        return DOTTED_LOOPBACK if is_loopback_host(host.rstrip(".")) else PLAIN_HTTP
    return None


def host_problem(netloc: str, host: str | None) -> str | None:
    """Why the host of a URL (its ``netloc``, and ``host`` as urlsplit reads it)
    cannot be connected to, in words that quote no part of it (a URL may be a secret;
    each caller says "not a valid URL" its own way):
    an IPv6 literal that is none, or text after its bracket other than a port
    (``[::1]]:1`` was sent to ``[::1]:1``); a name with an empty or over-long part
    (``a..mogplex.com``) or a character no host name has (``{{env.HOST}}``), which
    urllib3 refused at every request, retried as a network failure and said "check
    that the server is reachable" (exit 69)."""
    netloc, host = netloc.rpartition("@")[2], host or ""
    if netloc.startswith("["):
        inside, closed, rest = netloc[1:].partition("]")
        try:
            ipaddress.IPv6Address(inside)
        except ValueError:
            return "its host in [ ] is not an IPv6 address"
        if not closed or (rest and not rest.startswith(":")) or "]" in rest:
            return "its host or port cannot be read"
        return None
    labels = (host[:-1] if host.endswith(".") else host).split(".")
    if len(host) > 253 or any(not label or len(label) > 63 for label in labels):
        return "its host name has an empty part, or one over 63 characters"
    if not all(c.isalnum() or c in "-_" for c in host.replace(".", "")):
        # ``https://{{env.HOST}}.mogplex.com`` (a url is never templated) went to DNS,
        # was retried as a network failure and said "check the server" (exit 69).
        return ("its host name holds a character no host name has"
                + ("; no template is rendered in a url" if "{" in host else ""))
    return None
