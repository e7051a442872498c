"""Behind a proxy, as corporate machines and some self-hosted runners are: mogrun
goes through ``https_proxy`` & co. as curl, pip and gh do. Proven over real
sockets: ``python -m mogrun`` talks TLS to ``https://api.mogplex.test`` through a
CONNECT proxy on loopback, which routes that name to a TLS front of the emulator,
with a certificate signed by a CA made here (``openssl``) and trusted through
``SSL_CERT_FILE``. Nothing resolves ``api.mogplex.test`` but the proxy."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mogrun.api.proxies import Proxies
from mogrun.emulator import Emulator

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="the openssl command makes the certificates")

API_HOST, HOOK_HOST = "api.mogplex.test", "hooks.mogplex.test"
JOBS = """\
[jobs.hello]
repo = "acme/api"
prompt = "@emulator duration=0.2s events=2"

[jobs.told]
repo = "acme/api"
prompt = "@emulator duration=0.2s events=1"
notify = [{ webhook = "https://hooks.mogplex.test/hook/{{ env.HOOK_SECRET }}", on = ["always"] }]
"""


def openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    """A CA, and a certificate it signed for both test hosts (``leaf``); a
    self-signed one for them that nothing trusts (``stray``)."""
    folder = tmp_path_factory.mktemp("certs")
    openssl(folder, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "2", "-subj", "/CN=mogrun test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    names = f"subjectAltName=DNS:{API_HOST},DNS:{HOOK_HOST}"
    (folder / "leaf.ext").write_text(f"{names}\nbasicConstraints=CA:FALSE\n"
                                     "extendedKeyUsage=serverAuth\n")
    openssl(folder, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key",
            "-out", "leaf.csr", "-subj", f"/CN={API_HOST}")
    openssl(folder, "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")
    openssl(folder, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "stray.key",
            "-out", "stray.pem", "-days", "2", "-subj", f"/CN={API_HOST}", "-addext", names)
    return folder


def pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


class Listener:
    """A loopback server answering each connection on a thread of its own."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.server.close()


class TlsFront(Listener):
    """TLS with ``cert`` in front of a plain HTTP server on ``backend``."""

    def __init__(self, folder: Path, cert: str, backend: int) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(folder / f"{cert}.pem", folder / f"{cert}.key")
        self.backend = backend
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError):  # a client that refused the certificate
            conn.close()
            return
        back = socket.create_connection(("127.0.0.1", self.backend))
        threading.Thread(target=pipe, args=(tls, back), daemon=True).start()
        pipe(back, tls)


class ConnectProxy(Listener):
    """A CONNECT proxy routing ``host:443`` to loopback ports (``routes``); with
    ``credentials`` (``user:password``), it answers 407 to a CONNECT without them.
    ``seen``: each request line and the Proxy-Authorization it carried."""

    def __init__(self, routes: dict[str, int], credentials: str | None = None) -> None:
        self.routes, self.credentials = routes, credentials
        self.seen: list[tuple[str, str | None]] = []
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        line = reader.readline().decode("latin-1").strip()
        headers = {}
        while (header := reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        auth = headers.get("proxy-authorization")
        self.seen.append((line, auth))
        method, target, *_ = [*line.split(" "), "", ""]
        wanted = self.credentials and "Basic " + base64.b64encode(
            self.credentials.encode()).decode()
        if wanted and auth != wanted:
            conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b'Proxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n')
            conn.close()
            return
        if method != "CONNECT" or target not in self.routes:
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            conn.close()
            return
        back = socket.create_connection(("127.0.0.1", self.routes[target]))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=pipe, args=(conn, back), daemon=True).start()
        pipe(back, conn)


@pytest.fixture
def network(certs):
    """The emulator behind TLS fronts for both hosts (one trusted, one not), and a
    proxy routing the names to them."""
    with Emulator() as emulator:
        trusted = TlsFront(certs, "leaf", emulator.port)
        stray = TlsFront(certs, "stray", emulator.port)
        fronts = {f"{API_HOST}:443": trusted.port, f"{HOOK_HOST}:443": trusted.port}
        try:
            yield emulator, fronts, stray.port
        finally:
            trusted.close()
            stray.close()


def mogrun(tmp_path: Path, certs: Path, emulator, *args: str, **env: str):
    """``python -m mogrun ARGS`` in a project of ``JOBS``, the API at
    ``https://api.mogplex.test``, this test's CA trusted; ``env`` on top."""
    (tmp_path / "mogplex.toml").write_text(JOBS)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))
            and k.lower() not in ("https_proxy", "http_proxy", "all_proxy", "no_proxy")
            and k not in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")}
    base.update({"MOGPLEX_URL": f"https://{API_HOST}", "MOGPLEX_API_KEY": emulator.write_token,
                 "SSL_CERT_FILE": str(certs / "ca.pem"), "MOGRUN_POLL_INTERVAL": "0.1",
                 "HOOK_SECRET": "s3cr3t-hook-path", **env})
    return subprocess.run([sys.executable, "-m", "mogrun", *args], cwd=tmp_path, env=base,
                          capture_output=True, text=True, timeout=120)


def through(proxy: ConnectProxy, tmp_path: Path, certs: Path, emulator, *args: str,
            proxy_url: str | None = None, variable: str = "HTTPS_PROXY", **env: str):
    """``mogrun`` with ``variable`` naming ``proxy`` (``proxy_url``: as written), then
    the proxy closed."""
    try:
        return mogrun(tmp_path, certs, emulator, *args,
                      **{variable: proxy_url or f"http://127.0.0.1:{proxy.port}"}, **env)
    finally:
        proxy.close()


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_a_run_goes_through_the_proxy_and_the_proxy_sees_no_token(tmp_path, certs, network,
                                                                    variable) -> None:
    emulator, fronts, _ = network
    proxy = ConnectProxy(fronts)
    done = through(proxy, tmp_path, certs, emulator, "hello", variable=variable,
                   proxy_url=f"127.0.0.1:{proxy.port}")  # host:port, as curl takes it
    assert done.returncode == 0, done.stderr
    assert proxy.seen and {line.rsplit(" ", 1)[0] for line, _ in proxy.seen} == {
        f"CONNECT {API_HOST}:443"}
    assert len(emulator.runs) == 1
    assert emulator.write_token not in str(proxy.seen)  # tunnelled: the proxy sees no header


def test_a_proxy_s_credentials_go_in_its_url_percent_encoded(tmp_path, certs, network) -> None:
    emulator, fronts, _ = network
    proxy = ConnectProxy(fronts, credentials="corp\\me:p@ss word")
    done = through(proxy, tmp_path, certs, emulator, "hello",
                   proxy_url=f"http://corp%5Cme:p%40ss%20word@127.0.0.1:{proxy.port}")
    assert done.returncode == 0, done.stderr
    assert "p@ss" not in done.stdout + done.stderr


@pytest.mark.parametrize("written", ["j%C3%BCrgen:p%C3%A4%E2%82%ACss", "jürgen:pä€ss"])
def test_a_proxy_s_credentials_beyond_ascii_go_as_utf8_as_curl_sends_them(
        tmp_path, certs, network, written) -> None:
    """They went as Latin-1: `ü` one byte a proxy reading UTF-8 refused (407), and
    `€` failed every request as "server unreachable" (exit 69 after retries)."""
    emulator, fronts, _ = network
    proxy = ConnectProxy(fronts, credentials="jürgen:pä€ss")
    done = through(proxy, tmp_path, certs, emulator, "hello",
                   proxy_url=f"http://{written}@127.0.0.1:{proxy.port}")
    assert done.returncode == 0, done.stderr
    assert "pä€ss" not in done.stdout + done.stderr and "p%C3%A4" not in done.stderr


def test_a_proxy_that_asks_for_credentials_is_said_at_once_not_retried(tmp_path, certs,
                                                                      network) -> None:
    emulator, fronts, _ = network
    proxy = ConnectProxy(fronts, credentials="corp:secret")
    done = through(proxy, tmp_path, certs, emulator, "hello",
                   proxy_url=f"http://corp:wrong@127.0.0.1:{proxy.port}")
    assert done.returncode == 69, done.stderr
    # It had credentials: "give them in its URL" sent its user to add what was there.
    assert (f"cannot connect to https://{API_HOST} through the proxy http://***@127.0.0.1:"
            f"{proxy.port} (from HTTPS_PROXY): the proxy answered 407 Proxy Authentication "
            "Required: it refused the user name and password its URL gives "
            "(percent-encoded, as a URL writes them)") in done.stderr
    assert "wrong" not in done.stderr and len(proxy.seen) == 1  # asked once: no retry
    done = through(proxy, tmp_path, certs, emulator, "hello",
                   proxy_url=f"http://127.0.0.1:{proxy.port}")
    assert done.returncode == 69, done.stderr
    assert (f"through the proxy http://127.0.0.1:{proxy.port} (from HTTPS_PROXY): the proxy "
            "answered 407 Proxy Authentication Required: it asks for credentials; give them "
            "in its URL, http://user:password@host:port") in done.stderr


@pytest.mark.parametrize("written", [
    "http://alice:TopSecretPw/42@proxy.corp:3128",  # '/': urllib reads host alice, port Top...
    "http://alice:TopSecretPw?x@proxy.corp:3128",
    "http://alice:TopSecretPw#x@proxy.corp:3128",
    "http://bob:2024/x@proxy.corp:3128",  # a port it can read: the request went to "bob"
])
def test_a_proxy_password_a_url_cannot_hold_as_written_is_said_not_quoted(
        tmp_path, certs, network, written) -> None:
    """urllib's error quoted the password as the "port", and a password whose
    piece read as a number sent every request to a host named after the user."""
    emulator, _, _ = network
    done = mogrun(tmp_path, certs, emulator, "--local", "hello", HTTPS_PROXY=written)
    assert done.returncode == 0, done.stderr
    assert ("warning: HTTPS_PROXY http://***@proxy.corp:3128: its user name or password "
            "holds a '/', '?' or '#', which a URL must write percent-encoded (%2F, %3F, %23); "
            "mogrun goes direct") in done.stderr
    assert "TopSecret" not in done.stderr and "2024" not in done.stderr
    assert Proxies.from_env({"HTTPS_PROXY": written}).for_url("https://x.io") is None


def test_a_proxy_that_cannot_reach_the_host_is_retried(tmp_path, certs, network) -> None:
    """A 502 to the CONNECT is the far side's failure, which may pass: retried, unlike
    the proxy's own refusal (a 4xx)."""
    emulator, _, _ = network
    proxy = ConnectProxy({})  # routes nothing: a 502 to every CONNECT
    repo = emulator.repo_id("acme/api")
    (tmp_path / "extra.toml").write_text(
        f'[jobs.once]\nrepo = "{repo}"\nprompt = "x"\nretry = {{ attempts = 2 }}\n')
    done = through(proxy, tmp_path, certs, emulator, "-f", "extra.toml", "once")
    assert done.returncode == 69, done.stderr
    assert "the proxy answered 502 Bad Gateway" in done.stderr, done.stderr
    assert "retry 1" in done.stdout + done.stderr, done.stdout + done.stderr


def test_a_proxy_that_cannot_be_reached_is_named(tmp_path, certs, network) -> None:
    emulator, _, _ = network
    dead = socket.create_server(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there now
    repo = emulator.repo_id("acme/api")  # (no look-up first, retried by its own policy)
    (tmp_path / "extra.toml").write_text(
        f'[jobs.once]\nrepo = "{repo}"\nprompt = "x"\nretry = {{ attempts = 1 }}\n')
    done = mogrun(tmp_path, certs, emulator, "-f", "extra.toml", "once",
                  https_proxy=f"http://127.0.0.1:{port}")
    assert done.returncode == 69, done.stderr
    assert (f"cannot connect to https://{API_HOST} through the proxy http://127.0.0.1:{port} "
            "(from https_proxy): the proxy cannot be reached (Connection refused)"
            ) in done.stderr, done.stderr


def test_an_untrusted_certificate_is_said_with_the_way_to_trust_it_and_not_retried(
        tmp_path, certs, network) -> None:
    emulator, _, stray = network
    proxy = ConnectProxy({f"{API_HOST}:443": stray})
    done = through(proxy, tmp_path, certs, emulator, "hello")
    assert done.returncode == 69, done.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in done.stderr
    assert "point SSL_CERT_FILE at its CA certificate" in done.stderr
    assert "Gave up after" not in done.stderr and len(proxy.seen) == 1


def test_no_proxy_and_loopback_go_direct(tmp_path, certs, network) -> None:
    emulator, _, _ = network
    dead = "http://127.0.0.1:9"  # nothing listens: any request through it fails
    local = mogrun(tmp_path, certs, emulator, "--local", "hello", HTTPS_PROXY=dead)
    assert local.returncode == 0, local.stderr
    assert "warning" not in local.stderr
    direct = mogrun(tmp_path, certs, emulator, "hello", HTTPS_PROXY=dead,
                    MOGPLEX_URL=emulator.url)  # loopback: direct, whatever NO_PROXY says
    assert direct.returncode == 0, direct.stderr


def test_a_webhook_goes_through_the_proxy_too(tmp_path, certs, network) -> None:
    emulator, fronts, _ = network
    proxy = ConnectProxy(fronts)
    done = through(proxy, tmp_path, certs, emulator, "told")
    assert done.returncode == 0, done.stderr
    assert f"CONNECT {HOOK_HOST}:443" in [line.rsplit(" ", 1)[0] for line, _ in proxy.seen]
    assert "s3cr3t-hook-path" not in str(proxy.seen) + done.stderr  # the path is tunnelled


def test_a_socks_proxy_is_passed_over_with_a_warning(tmp_path, certs, network) -> None:
    emulator, _, _ = network
    done = mogrun(tmp_path, certs, emulator, "--local", "hello",
                  ALL_PROXY="socks5://me:secret@127.0.0.1:1080")
    assert done.returncode == 0, done.stderr
    assert ("warning: ALL_PROXY socks5://***@127.0.0.1:1080: mogrun goes through an http:// "
            "or https:// proxy only (a SOCKS proxy is not supported), so it goes direct"
            ) in done.stderr
    assert "secret" not in done.stderr


@pytest.mark.parametrize(("env", "url", "through"), [
    ({"HTTPS_PROXY": "http://p:3128"}, "https://mogplex.com/api/v1", "http://p:3128"),
    ({"https_proxy": "p:3128", "HTTPS_PROXY": "http://q:1"}, "https://x.io", "http://p:3128"),
    ({"ALL_PROXY": "https://p:443"}, "https://x.io", "https://p:443"),
    ({"HTTPS_PROXY": "http://p:3128"}, "http://mogplex.com", None),  # https only
    ({"HTTPS_PROXY": "http://p:3128"}, "https://[::1]:8443/x", None),  # loopback
    ({"HTTPS_PROXY": "http://p:3128"}, "https://localhost/x", None),
    ({"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "*"}, "https://x.io", None),
    ({"HTTPS_PROXY": "http://p:3128", "no_proxy": " .corp.example, api.x.io:443"},
     "https://deep.corp.example/x", None),
    ({"HTTPS_PROXY": "http://p:3128", "no_proxy": "corp.example"}, "https://corp.example",
     None),
    ({"HTTPS_PROXY": "http://p:3128", "no_proxy": "api.x.io:443"}, "https://api.x.io", None),
    ({"HTTPS_PROXY": "http://p:3128", "no_proxy": "corp.example"},
     "https://notcorp.example", "http://p:3128"),
    ({"HTTPS_PROXY": "  "}, "https://x.io", None),
])
def test_which_requests_go_through_which_proxy(env, url, through) -> None:
    assert Proxies.from_env(env).for_url(url) == through


def test_a_tls_handshake_that_stalls_is_said_as_such_not_as_a_slow_answer(tmp_path, certs,
                                                                         network) -> None:
    """A middlebox that takes the connection and never answers its TLS handshake:
    each attempt ended at the 5 s connect timeout, said as "no answer within 30s
    (read timed out)", after a wait line that promised 25 s more."""
    emulator, _, _ = network
    tarpit = socket.create_server(("127.0.0.1", 0))  # accepts (the backlog), never answers
    port = tarpit.getsockname()[1]
    repo = emulator.repo_id("acme/api")
    (tmp_path / "extra.toml").write_text(
        f'[jobs.once]\nrepo = "{repo}"\nprompt = "x"\nretry = {{ attempts = 1 }}\n')
    try:
        done = mogrun(tmp_path, certs, emulator, "-f", "extra.toml", "once",
                      MOGPLEX_URL=f"https://127.0.0.1:{port}")
    finally:
        tarpit.close()
    assert done.returncode == 69, done.stderr
    assert (f"cannot connect to https://127.0.0.1:{port}: the connection "
            "or its TLS handshake stalled (no progress within 5s)") in done.stderr, done.stderr
    assert "read timed out" not in done.stderr and "no answer yet" not in done.stderr
