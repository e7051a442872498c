"""Which host gets the token, and where the token comes from (docs/taskfile.md, "[mogplex]").

Import-cheap on purpose: ``check`` calls ``check_file_url`` without network.

- The base URL is ``--url``, else ``MOGPLEX_URL``, else the task file's
  ``[mogplex].url``, else ``https://mogplex.com``; ``/api/v1/mogplex`` is
  appended.
- A task file (code from a pull request) may only name ``mogplex.com``, a
  subdomain of it, or loopback, so it cannot send a CI token elsewhere.
- Plain ``http://`` is refused unless the host is loopback, before any socket.
- The token comes only from ``MOGPLEX_API_KEY``.
"""

from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from mogrun.errors import NoTokenError, TaskFileError, UsageError
from mogrun.loopback import (
    DOTTED_LOOPBACK,
    NOT_HTTP,
    host_problem,
    is_loopback_host,
    url_refusal,
)
from mogrun.tomltext import toml_repr

DEFAULT_URL = "https://mogplex.com"
API_PREFIX = "/api/v1/mogplex"
TRUSTED_DOMAIN = "mogplex.com"


class Endpoint(NamedTuple):
    """Where API requests go: ``base_url`` (a MOGPLEX_URL), ``api_url`` (with
    the API prefix) and ``source`` (``--url``, ``MOGPLEX_URL``, ``task file``,
    ``default`` or ``--local``), which messages name."""

    base_url: str
    api_url: str
    source: str


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an API base URL from any source, or ``None``."""
    if any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in url):
        return "it contains whitespace, control characters or a backslash"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port out of range
    except ValueError as exc:
        # urllib's text quotes the "port", which is a password's piece when the
        # userinfo holds a '#', '?' or '/': never shown.
        return _unreadable(url, exc)
    if port == 0:
        return "it names port 0, which no server listens on"
    refusal = url_refusal(parts.scheme, parts.hostname)
    if refusal == NOT_HTTP:
        return "it must be an http(s) URL with a host, like https://mogplex.com"
    unreadable = host_problem(parts.netloc, parts.hostname)
    if unreadable is not None:
        return f"it is not a valid URL ({unreadable})"
    if "@" in parts.netloc or userinfo_end(url) is not None:
        # (an '@' in the path too: "https://u:123/w@host" is a password, "123/w",
        # that urllib reads as a port and a path, and would send to host "u")
        return "it must not carry credentials (user@host)"
    if parts.query or parts.fragment or "?" in url or "#" in url:  # an empty one too
        return "it must not have a query or fragment"
    if refusal == DOTTED_LOOPBACK:
        return refusal
    if refusal is not None:
        return "plain http:// is only allowed for loopback; tokens travel over HTTPS"
    return None


def _unreadable(url: str, error: ValueError) -> str:
    """Why urllib could not read ``url``, in our words only."""
    if userinfo_end(url) is not None:
        return "it must not carry credentials (user@host)"
    if "out of range" in str(error):
        return "it is not a valid URL (its port is out of range 0-65535)"
    return "it is not a valid URL (its host or port cannot be read)"


def userinfo_end(url: str) -> int | None:
    """Where the userinfo a URL may carry ends (its last '@' after '://', or after
    the start without a scheme), or ``None``: a password may hold '#', '?' or
    '/', after which urllib sees no userinfo at all."""
    start = url.find("://")
    start = 0 if start < 0 else start + 3
    at = url.rfind("@")
    return at if at >= start else None


def check_file_url(url: str) -> None:
    """Raise ``ValueError`` (with the reason) if a task file may not name ``url``."""
    if not isinstance(url, str):
        raise ValueError("url must be a string")
    if "{{" in url:  # it read as "contains whitespace" (the spaces inside the braces)
        raise ValueError("it takes no template: write the URL itself, or leave url out "
                         "and set MOGPLEX_URL where mogrun runs")
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    named = (urlsplit(url).hostname or "").lower()
    host = named.rstrip(".")  # mogplex.com. is mogplex.com; localhost. is no loopback
    if host == TRUSTED_DOMAIN or host.endswith("." + TRUSTED_DOMAIN) or is_loopback_host(named):
        return
    dotted = (" (with a trailing dot it is a name DNS answers for: use localhost or "
              "127.0.0.1)" if is_loopback_host(host) else "")
    raise ValueError(
        f"a task file may only name {TRUSTED_DOMAIN}, its subdomains or loopback, "
        f"not {toml_repr(named)}{dotted} (remove it, and give another host with --url or "
        "MOGPLEX_URL)"
    )


def _api_url(base: str) -> str:
    base = base.rstrip("/")
    if base.endswith(API_PREFIX):
        return base
    return base + API_PREFIX


def _base_of(url: str) -> str:
    url = url.rstrip("/")
    return url[: -len(API_PREFIX)] if url.endswith(API_PREFIX) else url


def resolve_endpoint(
    *, cli_url: str | None, env: Mapping[str, str], file_url: str | None
) -> Endpoint:
    """The API endpoint by precedence; refused URLs exit 2 before any socket."""
    env_url = env.get("MOGPLEX_URL") or ""  # empty is unset, as for MOGRUN_FILE
    # Blank is no URL, as a blank MOGRUN_FILE is no file; --url wins over it unread.
    if env_url and not env_url.strip() and not cli_url:
        raise UsageError("MOGPLEX_URL is blank: unset it or give a URL",
                         context=["Unset, the task file's url or https://mogplex.com is used."])
    env_url = env_url.strip()
    if cli_url:
        url, source = cli_url.strip(), "--url"
    elif env_url:
        url, source = env_url, "MOGPLEX_URL"
    elif file_url:
        try:
            check_file_url(file_url)
        except ValueError as exc:
            raise TaskFileError(f"[mogplex] url {toml_repr(shown_url(file_url))} is refused: "
                                f"{exc}", key="url") from exc
        url, source = file_url.strip(), "task file"
    else:
        url, source = DEFAULT_URL, "default"
    problem = url_problem(url)
    named = source if source in ("--url", "MOGPLEX_URL") else f"{source} URL"
    if not url.isascii():  # bytes the locale could not decode: sent mangled (%ED%B3%BF)
        from mogrun.textsafety import not_utf8

        as_bytes = not_utf8(url)
        if as_bytes is not None:
            raise UsageError(f"{named} '{shown_url(as_bytes)}' refused: it is not UTF-8 text")
    if problem is not None:
        raise UsageError(f"{named} {shown_url(url)!r} refused: {problem}")
    url = _normalised(url)
    return Endpoint(base_url=_base_of(url), api_url=_api_url(url), source=source)


def normalised_base(url: str) -> str | None:
    """The one spelling ``resolve_endpoint`` gives a base URL a history row may hold
    in another (an older mogrun stored it as typed: ``https://Mogplex.com:443``);
    ``None`` for a value that is no such URL (``local``, a hand edit)."""
    if "://" not in url:
        return None
    try:
        return _base_of(_normalised(url))
    except (KeyError, ValueError):  # another scheme, a port that is no number
        return None


def _normalised(url: str) -> str:
    """One spelling per API (history is keyed by it): scheme and host in lower
    case, no default port, no trailing slashes. The path keeps its case."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 address has many spellings: [0:0:0:0:0:0:0:1] is [::1]
        import contextlib
        import ipaddress

        with contextlib.suppress(ValueError):  # (a zone, "fe80::1%eth0": kept as written)
            host = str(ipaddress.IPv6Address(host))
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None and parts.port != {"https": 443, "http": 80}[scheme]:
        netloc += f":{parts.port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def shown_url(url: str) -> str:
    """A URL for a message, without credentials a user may have put in it: all
    between '://' and the last '@' is masked, whatever urllib makes of it."""
    userinfo = credentials(url)
    return url if userinfo is None else url.replace(userinfo + "@", "***@", 1)


def credentials(url: str) -> str | None:
    """The credentials a URL carries (all between '://' and its last '@'), if any:
    a secret, however the URL is refused (a task file's line quoting it too)."""
    end = userinfo_end(url)
    if end is None:
        return None
    scheme = url.find("://")
    return url[0 if scheme < 0 else scheme + 3:end]


def token_from_env(env: Mapping[str, str]) -> str:
    """The API token from ``MOGPLEX_API_KEY`` (the only place it may come from)."""
    given = env.get("MOGPLEX_API_KEY") or ""
    token = given.strip()
    if not token:
        raise NoTokenError(
            f"no API token: MOGPLEX_API_KEY is {'blank' if given else 'not set'}",
            context=["Set it in the environment: export MOGPLEX_API_KEY=mog_...",
                     "(or try the embedded emulator with --local)"],
        )
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in token):
        raise NoTokenError(
            "MOGPLEX_API_KEY contains whitespace or control characters",
            context=["Set it to the token alone: export MOGPLEX_API_KEY=mog_..."],
        )
    if not token.isascii():  # a header carries ASCII only: it could never be sent
        raise NoTokenError(
            "MOGPLEX_API_KEY contains characters other than ASCII letters, digits and "
            "punctuation, which no token has",
            context=["Set it to the token alone: export MOGPLEX_API_KEY=mog_..."],
        )
    return token
