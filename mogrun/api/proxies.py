"""Which proxy a request goes through, read from the environment as curl, pip
and gh read it: ``https_proxy`` (or ``HTTPS_PROXY``), else ``all_proxy`` (or
``ALL_PROXY``), unless ``no_proxy`` (or ``NO_PROXY``) names the host.

Only ``https://`` requests go through one: mogrun sends plain ``http://`` to
loopback alone (the emulator), and loopback never goes through a proxy, so a
``--local`` run works on a machine whose proxy cannot reach it. The request is
tunnelled (``CONNECT``): the proxy sees the host, never the token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from mogrun.api.settings import shown_url, userinfo_end
from mogrun.loopback import is_loopback_host

# The variables read, in order: the first that is set and not blank wins.
PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
NO_PROXY_VARIABLES = ("no_proxy", "NO_PROXY")
# How a proxy's credentials are given, wherever a proxy asks for them (its 407).
CREDENTIALS_FORM = "http://user:password@host:port"


class Proxies(NamedTuple):
    """The proxy for ``https://`` requests (``None``: none), the variable that named
    it, the hosts that go direct (``no_proxy``'s entries), and why a proxy variable
    that is set is not used (``problem``: a SOCKS proxy, no URL), for a warning:
    such a variable was always passed over, and a ``--local`` run needs none."""

    url: str | None = None
    variable: str = ""
    direct: tuple[str, ...] = ()
    problem: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Proxies:
        """The environment's proxy."""
        variable, value = next(((name, env[name].strip()) for name in PROXY_VARIABLES
                                if (env.get(name) or "").strip()), ("", ""))
        direct = next(((env[name]) for name in NO_PROXY_VARIABLES if env.get(name)), "")
        entries = tuple(entry.strip().lower() for entry in direct.split(",") if entry.strip())
        if not value:
            return cls(direct=entries)
        url = value if "://" in value else f"http://{value}"  # host:port, as curl takes it
        misread = _misread_credentials(url)
        if misread:  # urllib reads the user as the host: a request would go there
            return cls(direct=entries, problem=f"{variable} {shown_url(url)}: {misread}; "
                       "mogrun goes direct")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  (a port that is no number raises here)
        except ValueError as exc:
            # urllib's text quotes the "port", which may be a password's piece: not shown.
            why = "its port is out of range" if "out of range" in str(exc) else \
                "its port is not a number"
            return cls(direct=entries, problem=f"{variable} is not a proxy URL: {shown_url(url)} "
                       f"({why}); mogrun goes direct")
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return cls(direct=entries, problem=(
                f"{variable} {shown_url(url)}: mogrun goes through an http:// or https:// proxy "
                "only (a SOCKS proxy is not supported), so it goes direct"))
        return cls(url, variable, entries)

    def for_url(self, url: str) -> str | None:
        """The proxy ``url`` goes through, or ``None`` to go direct."""
        if self.url is None or not url.startswith("https://"):
            return None
        named = (urlsplit(url).hostname or "").lower()
        if is_loopback_host(named) or self.bypasses(named.rstrip(".")):
            return None
        return self.url

    def bypasses(self, host: str) -> bool:
        """Whether ``no_proxy`` sends ``host`` direct: ``*``, the host itself, or a
        domain it is under (``example.com`` and ``.example.com`` both take
        ``api.example.com``)."""
        for entry in self.direct:
            if entry == "*":
                return True
            name = entry.lstrip("*").lstrip(".")
            if name.count(":") == 1:  # host:port: the port is not told apart
                name = name.partition(":")[0]
            if name and (host == name.strip("[]") or host.endswith("." + name)):
                return True
        return False


def _misread_credentials(url: str) -> str:
    """Why ``url``'s credentials are not read as credentials ('' when they are): a
    user name or password holding '/', '?' or '#' ends the host part for urllib
    (``http://bob:2024/x@proxy:3128`` is host ``bob``, port ``2024``)."""
    end = userinfo_end(url)
    if end is None:
        return ""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        netloc = ""
    if "@" in netloc and url.find(netloc) + len(netloc) > end:
        return ""
    return ("its user name or password holds a '/', '?' or '#', which a URL must write "
            "percent-encoded (%2F, %3F, %23)")
