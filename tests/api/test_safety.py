"""Endpoint and token rules: which host gets the token, over what; redirects
never followed; the token never shown."""

from __future__ import annotations

import time

import pytest

from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.settings import check_file_url, resolve_endpoint, token_from_env
from mogrun.api.transport import Urllib3Transport
from mogrun.errors import ApiError, NoTokenError, TaskFileError, UsageError

from .loopback import loopback_server


@pytest.mark.parametrize("url", [
    "https://mogplex.com", "https://eu.mogplex.com/", "https://a.b.mogplex.com",
    "https://MOGPLEX.com", "http://127.0.0.1:8080", "http://localhost:9", "https://[::1]:8443",
    "http://127.3.4.5",
])
def test_a_task_file_may_name_mogplex_and_loopback(url):
    check_file_url(url)


@pytest.mark.parametrize("url, reason", [
    ("https://evil.example.com", "may only name mogplex.com"),
    ("https://mogplex.com.evil.example", "may only name mogplex.com"),
    ("https://evilmogplex.com", "may only name mogplex.com"),
    ("http://mogplex.com", "plain http:// is only allowed for loopback"),
    ("http://10.0.0.1", "plain http:// is only allowed for loopback"),
    ("ftp://mogplex.com", "must be an http(s) URL"),
    ("https://user@mogplex.com", "must not carry credentials"),
    ("https://mogplex.com@evil.example", "must not carry credentials"),
    ("https://evil.example\\@mogplex.com", "backslash"),
    ("https://mogplex.com/?next=x", "query or fragment"),
    ("mogplex.com", "must be an http(s) URL"),
    # read as "it contains whitespace" (the spaces inside the braces), or a bad host
    ("{{ env.MOGPLEX_URL }}", "takes no template: write the URL itself, or leave url out "
                              "and set MOGPLEX_URL where mogrun runs"),
    ("https://{{env.REGION}}.mogplex.com", "takes no template"),
])
def test_a_task_file_may_not_name_other_hosts(url, reason):
    with pytest.raises(ValueError) as caught:
        check_file_url(url)
    assert reason in str(caught.value)


@pytest.mark.parametrize("spelled", ["http://[0:0:0:0:0:0:0:1]:18767", "http://[::1]:18767/",
                                     "HTTP://[0000::0001]:18767"])
def test_one_loopback_api_is_one_history_whatever_the_address_s_spelling(spelled):
    """--url http://[0:0:0:0:0:0:0:1]:P kept its runs apart from --url http://[::1]:P
    ("No runs recorded yet..."): history is keyed by the API's one spelling."""
    endpoint = resolve_endpoint(cli_url=spelled, env={}, file_url=None)
    assert endpoint.base_url == "http://[::1]:18767"


def test_endpoint_precedence_and_prefix():
    env = {"MOGPLEX_URL": "https://env.example.com/"}
    cli = resolve_endpoint(cli_url="https://cli.example.com", env=env, file_url="https://x")
    assert (cli.base_url, cli.api_url, cli.source) == (
        "https://cli.example.com", "https://cli.example.com/api/v1/mogplex", "--url")
    from_env = resolve_endpoint(cli_url=None, env=env, file_url="https://evil.example")
    assert (from_env.api_url, from_env.source) == (
        "https://env.example.com/api/v1/mogplex", "MOGPLEX_URL")
    from_file = resolve_endpoint(cli_url=None, env={}, file_url="https://eu.mogplex.com")
    assert (from_file.api_url, from_file.source) == (
        "https://eu.mogplex.com/api/v1/mogplex", "task file")
    default = resolve_endpoint(cli_url=None, env={}, file_url=None)
    assert (default.api_url, default.source) == ("https://mogplex.com/api/v1/mogplex", "default")
    already = resolve_endpoint(cli_url="http://127.0.0.1:5/api/v1/mogplex/", env={},
                               file_url=None)
    assert (already.base_url, already.api_url) == (
        "http://127.0.0.1:5", "http://127.0.0.1:5/api/v1/mogplex")


def test_a_refused_file_url_is_a_task_file_error():
    with pytest.raises(TaskFileError) as caught:
        resolve_endpoint(cli_url=None, env={}, file_url="https://evil.example")
    assert caught.value.exit_code == 2 and caught.value.key == "url"


@pytest.mark.parametrize("source", ["cli", "env"])
def test_non_loopback_http_is_refused_from_any_source(source):
    kwargs = {"cli_url": "http://10.255.255.1" if source == "cli" else None,
              "env": {"MOGPLEX_URL": "http://10.255.255.1"} if source == "env" else {},
              "file_url": None}
    with pytest.raises(UsageError) as caught:
        resolve_endpoint(**kwargs)
    assert caught.value.exit_code == 2
    assert "plain http:// is only allowed for loopback" in caught.value.message


def test_the_transport_itself_refuses_non_loopback_http_before_any_socket(no_sockets):
    with pytest.raises(UsageError):
        Urllib3Transport().send("GET", "http://10.255.255.1/api", headers={}, body=None,
                                timeout=1)
    assert no_sockets == []


def test_token_only_from_the_environment():
    assert token_from_env({"MOGPLEX_API_KEY": " mog_abc \n"}) == "mog_abc"
    with pytest.raises(NoTokenError) as caught:
        token_from_env({})
    assert caught.value.exit_code == 64
    assert caught.value.lines() == [
        "no API token: MOGPLEX_API_KEY is not set",
        "Set it in the environment: export MOGPLEX_API_KEY=mog_...",
        "(or try the embedded emulator with --local)"]
    with pytest.raises(NoTokenError):
        token_from_env({"MOGPLEX_API_KEY": "mog_a\r\nX-Evil: 1"})


def test_redirects_are_never_followed():
    with loopback_server(302, {"Location": "https://elsewhere.example/api"}) as server:
        client = MogplexClient(server.url + "/api/v1/mogplex", "mog_secret_token",
                               transport=Urllib3Transport(), budget=RequestBudget())
        with pytest.raises(ApiError) as caught:
            client.list_repos()
    assert len(server.received) == 1  # one request, no second hop
    error = caught.value
    assert (error.exit_code, error.status, error.code) == (1, 302, "REDIRECT")
    assert error.message == ("the server answered HTTP 302 redirecting to "
                             "https://elsewhere.example/api; mogrun does not follow redirects")


def test_every_request_carries_user_agent_auth_and_accept():
    from mogrun import __version__

    body = b'{"ok": true, "data": {"repos": []}}'
    with loopback_server(200, {"Content-Type": "application/json"}, body) as server:
        client = MogplexClient(server.url + "/api/v1/mogplex", "mog_t",
                               transport=Urllib3Transport(), budget=RequestBudget())
        assert client.list_repos("a b") == []
    method, path, headers, _ = server.received[0]
    assert (method, path) == ("GET", "/api/v1/mogplex/repos?q=a+b&limit=200")
    assert headers["user-agent"] == f"mogrun/{__version__}"
    assert headers["authorization"] == "Bearer mog_t"
    assert headers["accept"] == "application/json"


def test_trace_lines_mask_the_token(make_client, mogrun_emulator):
    from mogrun.models import StartRequest

    lines: list[str] = []
    client = make_client(trace=lines.append)
    client.start_run(StartRequest(repo="acme/api", repo_id=mogrun_emulator.repo_id("acme/api"),
                                  prompt="p", idempotency_key="k-trace"))
    token = mogrun_emulator.write_token
    assert not any(token in line or token[4:] in line for line in lines)
    request, response = lines
    assert request == (f"> POST {mogrun_emulator.api_url}/runs Idempotency-Key: k-trace "
                       "[Authorization: Bearer mog_***]")
    assert response.startswith(f"< 202 POST {mogrun_emulator.api_url}/runs ")
    assert response.endswith(" ms Idempotency-Key: k-trace")


def test_a_refused_url_fails_fast(no_sockets):
    started = time.monotonic()
    with pytest.raises(UsageError):
        resolve_endpoint(cli_url="http://10.255.255.1", env={}, file_url=None)
    assert time.monotonic() - started < 0.5 and no_sockets == []


def test_max_retry_error_is_unwrapped_to_its_real_cause():
    from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

    from mogrun.api.transport import ConnectError, translate_error

    url = "https://mogplex.com/api/v1/mogplex/repos"
    cause = ConnectionRefusedError(111, "Connection refused")
    new_conn = NewConnectionError(None, "Failed to establish a new connection")
    new_conn.__cause__ = cause
    error = translate_error(MaxRetryError(None, url, reason=new_conn), "GET", url, 5.0)
    assert isinstance(error, ConnectError)
    assert error.message == "cannot connect to https://mogplex.com: Connection refused"
    timeout = MaxRetryError(None, url, reason=ReadTimeoutError(None, url, "Read timed out."))
    error = translate_error(timeout, "GET", url, 2.5)
    assert error.message == "no answer from https://mogplex.com within 2.5s (read timed out)"
    assert "MaxRetryError" not in error.message


@pytest.mark.parametrize("url", [
    "http://10.255.255.1\\@127.0.0.1/hook",  # stdlib sees loopback, urllib3 does not
    "http://127.0.0.1\\@10.255.255.1/hook",
    "http://127.0.0.1:80@10.255.255.1/hook",
])
def test_odd_urls_cannot_smuggle_plain_http_past_the_loopback_rule(url, no_sockets):
    with pytest.raises(UsageError):
        Urllib3Transport().send("POST", url, headers={}, body=b"{}", timeout=1)
    assert no_sockets == []


@pytest.mark.parametrize("url", [
    "https://user:s3cr3t#x@mogplex.com", "https://user:s3cr3t?x@mogplex.com",
    "https://user:s3cr3t/x@mogplex.com", "https://user:s3cr3t@x@mogplex.com",
    "  https://user:s3cr3t#x@mogplex.com:99999 ", "user:s3cr3t@mogplex.com",
    # a password of digits then '/': urllib reads port 123 and a path, and refused
    # nothing, so the password was printed and the token would go to host "u"
    "https://u:123/s3cr3t@mogplex.com", "https://u:123/s3cr3t@127.0.0.1",
])
@pytest.mark.parametrize("source", ["cli", "env"])
def test_a_refused_url_never_shows_its_password(url, source):
    kwargs = {"cli_url": url if source == "cli" else None,
              "env": {"MOGPLEX_URL": url} if source == "env" else {}, "file_url": None}
    with pytest.raises(UsageError) as caught:
        resolve_endpoint(**kwargs)
    assert "s3cr3t" not in "\n".join(caught.value.lines()), caught.value.message
    assert "***@" in caught.value.message


def test_a_password_with_a_hash_is_refused_through_the_cli(tmp_path):
    from mogrun.testing import run_mogrun, write_taskfile

    write_taskfile(tmp_path, '[jobs.a]  # the one job\nrepo = "acme/api"\nprompt = "x"\n\n')
    result = run_mogrun("--url", "https://user:s3cr3t#x@mogplex.com", "show", "a", cwd=tmp_path,
                        env={"MOGPLEX_API_KEY": "mog_x"})
    assert result.code == 2, result
    assert "s3cr3t" not in result.err, result
    assert "'https://***@mogplex.com' refused: it must not carry credentials" in result.err


@pytest.mark.parametrize("url", ["", "  ", "\t"])
@pytest.mark.parametrize("command", [("show", "a"), ("list",), ("check",)])
def test_an_empty_url_option_is_refused_not_ignored(tmp_path, url, command):
    """`--url "$API"` with API unset fell back to the task file's url or mogplex.com,
    while `-f ""` is refused."""
    from mogrun.testing import run_mogrun, write_taskfile

    write_taskfile(tmp_path, '[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n')
    result = run_mogrun("--url", url, *command, cwd=tmp_path, env={"MOGPLEX_API_KEY": "mog_x"})
    assert result.code == 2, result
    said = "an empty" if url == "" else "a blank"  # "  " was said to be empty
    assert result.err.startswith(f"Error: --url needs a URL, not {said} string\n"), result


def test_a_mogplex_url_that_is_not_utf8_is_refused_as_url_refuses_it(tmp_path):
    """The byte 0xff in MOGPLEX_URL went out as %ED%B3%BF (the lone surrogate the
    locale made of it), where --url with the same value was refused."""
    import os

    from mogrun.testing import run_mogrun, write_taskfile

    write_taskfile(tmp_path, '[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n')
    url = os.fsdecode(b"http://u:pw@127.0.0.1:9/x\xff")
    result = run_mogrun("repos", cwd=tmp_path, env={"MOGPLEX_URL": url,
                                                    "MOGPLEX_API_KEY": "mog_x"})
    assert result.code == 2, result
    assert result.err == ("Error: MOGPLEX_URL 'http://***@127.0.0.1:9/x\\xff' refused: it is "
                          "not UTF-8 text\n"), result


def test_an_empty_mogplex_url_is_unset_and_a_blank_one_is_refused():
    """As for MOGRUN_FILE: empty is unset; blank names nothing, and is said."""
    empty = resolve_endpoint(cli_url=None, env={"MOGPLEX_URL": ""}, file_url=None)
    assert empty.source == "default"
    for blank in ("  ", "\t\n"):
        with pytest.raises(UsageError) as caught:
            resolve_endpoint(cli_url=None, env={"MOGPLEX_URL": blank},
                             file_url="https://eu.mogplex.com")
        assert caught.value.message == "MOGPLEX_URL is blank: unset it or give a URL"
        assert caught.value.exit_code == 2
        # --url comes first: a blank MOGPLEX_URL under it is not read (it stopped the run).
        given = resolve_endpoint(cli_url="http://127.0.0.1:9", env={"MOGPLEX_URL": blank},
                                 file_url=None)
        assert given.source == "--url"


@pytest.mark.parametrize("how", ["--url", "MOGPLEX_URL"])
@pytest.mark.parametrize("json_output", [False, True])
def test_check_refuses_the_url_run_would_refuse(tmp_path, how, json_output):
    """`check` honours --url (its help says so) but swallowed a refused one: exit 0."""
    from mogrun.testing import run_mogrun, write_taskfile

    write_taskfile(tmp_path, '# one job\n[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n\n')
    args = ("--url", "http://evil.example") if how == "--url" else ()
    env = {"MOGPLEX_URL": "http://evil.example"} if how == "MOGPLEX_URL" else {}
    result = run_mogrun(*args, *(["--json"] if json_output else []), "check", cwd=tmp_path,
                        env=env)
    assert result.code == 2, result
    said = f"{how} 'http://evil.example' refused: plain http:// is only allowed for loopback"
    assert said in (result.out if json_output else result.err), result
    generated = run_mogrun(*args, "ci", "github", "-o", "-", cwd=tmp_path, env=env)
    assert "nothing to put in a workflow" in generated.err, generated  # ci sends nothing


@pytest.mark.parametrize(("url", "said"), [
    ("http://mogplex.com", "plain http:// is only allowed for loopback"),
    ("https://evil.example", "(remove it, and give another host with --url or MOGPLEX_URL)"),
])
def test_run_says_a_refused_task_file_url_as_check_says_it(tmp_path, url, said):
    """run added "Only mogplex.com, its subdomains and loopback may be named" to every
    refusal: to http://mogplex.com, whose fix is https://, too."""
    from mogrun.testing import run_mogrun, write_taskfile

    write_taskfile(tmp_path, f'[mogplex]\nurl = "{url}"\n[jobs.a]\nrepo = "acme/api"\n'
                   'prompt = "x"\n\n')
    ran = run_mogrun("a", cwd=tmp_path, env={"MOGPLEX_API_KEY": "mog_x"})
    checked = run_mogrun("check", cwd=tmp_path)
    assert ran.code == checked.code == 2, ran
    assert said in ran.err and ran.err == checked.err.replace("\n1 problem in "
                                                            f"{tmp_path}/mogplex.toml", ""), ran


@pytest.mark.parametrize(("value", "said"), [
    ("", "not set"), ("   ", "blank"), ("\t\n", "blank"),
])
def test_a_blank_token_is_said_to_be_blank_not_unset(value, said):
    with pytest.raises(NoTokenError) as caught:
        token_from_env({"MOGPLEX_API_KEY": value})
    assert caught.value.message == f"no API token: MOGPLEX_API_KEY is {said}"


TOKEN = "mog_supersecret_ABCDEF1234567890"


@pytest.mark.parametrize(("status", "headers", "body"), [
    # Not JSON: the error quotes the first 80 bytes, and the token straddled them.
    (502, {"Content-Type": "text/html"}, ("x" * 60 + TOKEN + " tail").encode()),
    # An error envelope whose message is cut at 500 characters, mid-token.
    (400, {"Content-Type": "application/json"},
     b'{"ok": false, "error": {"code": "BAD_REQUEST", "message": "' + b"y" * 490
     + TOKEN.encode() + b'"}}'),
    # A redirect's Location, cut at 200 characters.
    (302, {"Location": "https://elsewhere.example/" + "z" * 160 + TOKEN}, b""),
])
def test_a_token_the_server_echoes_is_masked_before_any_cut(mogrun_cli, tmp_path, quick_backoff,
                                                            status, headers, body):
    """The quoted part of an answer was cut first and masked after: the token, cut
    in two, was no longer found, and its first 20 characters were printed."""
    with loopback_server(status, headers, body) as server:
        result = mogrun_cli("repos", cwd=tmp_path,
                            env={"MOGPLEX_URL": server.url, "MOGPLEX_API_KEY": TOKEN})
    assert result.exit_code != 0, result
    assert "mog_supersecret" not in result.output, result
    assert "***" in result.output, result


def test_a_cut_off_answer_masks_the_token_before_it_cuts(mogrun_cli, tmp_path, quick_backoff):
    """The transport's own preview of a body cut off mid-way, as the envelope's."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for _ in range(8):  # the retries of a cut-off answer
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"
                             + b"x" * 60 + TOKEN.encode())

    threading.Thread(target=serve, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        result = mogrun_cli("repos", cwd=tmp_path,
                            env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": TOKEN})
    finally:
        listener.close()
    assert result.exit_code == 69, result
    assert "was cut off after" in result.output, result
    assert "mog_supersecret" not in result.output and "***" in result.output, result
