"""notify's deliveries over real HTTP on loopback: a post that got its status was
delivered (whatever its body does), a Slack line says why its run failed, a
malformed notify value never shows its URL, and ``-v`` traces each post."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from mogrun_plugins import notify
from plugtest_helpers import Receiver, make_result, notified, notify_job

from mogrun import http
from mogrun.errors import TransportError
from mogrun.pluginhost import PluginHost
from mogrun.runs import GateVerdict
from mogrun.testing import run_mogrun

SECRET = "T0/B0/LITERALSECRET"
BIG = 33 * 2**20  # past the transport's 32 MiB limit on an answer's body


class BadBodies:
    """A webhook that answers 200, then misbehaves in its body as the path's last
    segment says: ``huge`` (over 32 MiB), ``cut`` (the connection closed after 7
    of 1000 bytes), ``trickle`` (a byte every 0.2 s); ``stall`` sends no status."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.paths.append(self.path)
                mode = self.path.rsplit("/", 1)[-1]
                if mode == "stall":
                    receiver.release.wait(30)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(BIG if mode == "huge" else 1000))
                self.end_headers()
                with contextlib.suppress(OSError):  # mogrun hung up: it had what it wanted
                    receiver.body(self, mode)
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()

    def body(self, handler: BaseHTTPRequestHandler, mode: str) -> None:
        if mode == "huge":
            chunk = b"x" * 2**20
            for _ in range(BIG // len(chunk)):
                handler.wfile.write(chunk)
        elif mode == "cut":
            handler.wfile.write(b"partial")
            handler.wfile.flush()
            handler.connection.shutdown(socket.SHUT_RDWR)
        else:  # trickle
            for _ in range(1000):
                if self.release.is_set():
                    return
                handler.wfile.write(b"x")
                handler.wfile.flush()
                time.sleep(0.2)

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/{SECRET}/{mode}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bad_bodies() -> Iterator[BadBodies]:
    receiver = BadBodies()
    yield receiver
    receiver.close()


# --- 1. a post that got its status was delivered ----------------------------------


@pytest.mark.parametrize("mode", ["huge", "cut", "trickle"])
def test_a_2xx_is_delivered_once_whatever_its_body_does(bad_bodies, monkeypatch, mode):
    """It was posted again (two Slack messages, two pager events) and said to be
    undelivered: "HTTP 200 answer ... is larger than 32 MiB" / "was cut off"."""
    monkeypatch.setattr(notify, "TIMEOUT", 1.0)  # a trickle outlasted it, then was retried
    started = time.monotonic()
    job = notify_job([{"slack": bad_bodies.url(mode), "on": ["always"]}])
    host = notified(PluginHost.bundled_only(), job, (make_result(outcome="failed"),), "failed")
    assert host.warnings == []
    assert len(bad_bodies.paths) == 1, bad_bodies.paths
    assert time.monotonic() - started < 1.0  # the body was not waited for


def test_post_json_still_gives_up_on_a_status_that_does_not_come(bad_bodies):
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        http.post_json(bad_bodies.url("stall"), {"a": 1}, timeout=0.5)
    assert time.monotonic() - started < 3.0
    assert SECRET not in caught.value.message


# --- 2. a failed run's Slack line says why it failed --------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def test_a_failed_runs_slack_line_says_its_error_and_its_failed_gates(receiver):
    """It said only "ended failed, expected success" (the default status gate, which
    every failed run fails), never the run's own error."""
    failed = make_result(outcome="failed", run_id="run_9", message="npm test: 3 tests failed",
                         gates=(GateVerdict("status", False, "ended failed, expected success"),
                                GateVerdict("max_duration", True, "took 2m")))
    notified(PluginHost.bundled_only(), notify_job({"slack": receiver.url("/s")}), (failed,),
             "failed")
    [payload] = [post["json"] for post in receiver.received]
    assert payload["text"] == (
        "mogrun: job *nightly* failed\n• acme/api run run_9: failed "
        "(npm test: 3 tests failed; gate status: ended failed, expected success)")


def test_a_slack_line_names_a_failed_gate_without_a_reason(receiver):
    result = make_result(outcome="gate_failed", status="success",
                         gates=(GateVerdict("edit_gate", False, ""),))
    notified(PluginHost.bundled_only(), notify_job({"slack": receiver.url("/s")}), (result,),
             "gate_failed")
    [payload] = [post["json"] for post in receiver.received]
    assert payload["text"].endswith("• acme/api: gate_failed (gate edit_gate failed)")


# --- 3. a malformed notify value never shows its URL ---------------------------------


URL = f"https://hooks.slack.com/services/{SECRET}"
MALFORMED = [f'"{URL}"', f'["{URL}"]', f'[{{ webhok = "{URL}" }}]',
             f'{{ webhok = "{URL}", on = ["failed"] }}', f'[{{ slack = "{URL}" }}, "{URL}"]']


@pytest.mark.parametrize("value", MALFORMED)
def test_a_malformed_notify_value_is_masked_in_its_errors_and_quoted_line(tmp_path, value):
    (tmp_path / "mogplex.toml").write_text(
        f'[jobs.a]\nrepo = "acme/api"\nprompt = "x"\nnotify = {value}\n')
    checked = run_mogrun("--no-color", "check", cwd=tmp_path)
    assert checked.exit_code == 2, checked
    assert "LITERALSECRET" not in checked.stdout + checked.stderr, checked.stderr
    assert "  4 | " in checked.stderr and "*" * len(URL) in checked.stderr  # masked in place
    assert "Traceback" not in checked.stderr


def test_masking_leaves_the_outcome_names_of_on_readable():
    with pytest.raises(ValueError) as caught:
        notify.validate([{"webhok": URL, "on": ["failed", "eror"]}])
    assert 'unknown value "eror"' in str(caught.value)
    assert notify.secrets([{"webhok": URL, "on": ["failed"]}]) == [URL]
    assert notify.secrets(notify.validate({"slack": URL, "on": ["always"]})) == [URL]


def test_a_value_spelt_as_the_keys_own_word_blanks_no_message(tmp_path):
    """``kind = "webhook"`` (a guess at the format) made "webhook" a secret: every
    message then read "needs exactly one of *** = URL or *** = URL", "valid: ***,
    ***, on", the quoted line ``kind = "*******"``. The key's words are no
    credentials; a URL under a wrong key still is."""
    (tmp_path / "mogplex.toml").write_text(
        '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n\n[[jobs.a.notify]]\nkind = "webhook"\n'
        f'url = "{URL}"\n\n[[jobs.a.notify]]\nkind = "slack"\nslack = 3\non = ["failed"]\n')
    checked = run_mogrun("--no-color", "check", cwd=tmp_path)
    assert checked.exit_code == 2, checked
    assert "needs exactly one of webhook = URL or slack = URL" in checked.stderr
    assert 'setting "kind"; valid: webhook, slack, on' in checked.stderr
    assert '6 | kind = "webhook"' in checked.stderr and '10 | kind = "slack"' in checked.stderr
    assert "LITERALSECRET" not in checked.stderr and "*" * len(URL) in checked.stderr
    assert notify.secrets({"kind": "webhook", "url": URL, "on": ["failed"]}) == [URL]


# --- 4. -v traces each post ---------------------------------------------------------


@pytest.fixture
def traced() -> Iterator[list[str]]:
    lines: list[str] = []
    http.trace_posts(lines.append)
    yield lines
    http.trace_posts(None)


def test_each_post_is_traced_with_its_url_cut_to_scheme_and_host(receiver, traced):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/services/{SECRET}"
    job = notify_job([{"webhook": receiver.url(f"/services/{SECRET}")}, {"slack": dead}])
    notified(PluginHost.bundled_only(), job, (make_result(outcome="failed"),), "failed")
    assert len(traced) == 3, traced  # the webhook once; the dead one, and its retry
    origin = re.escape(receiver.url(""))
    assert [line for line in traced if re.fullmatch(rf"< 200 POST {origin} \d+ ms", line)]
    failures = [line for line in traced if line.startswith("< --- POST http://127.0.0.1:")]
    assert len(failures) == 2 and all("cannot connect to" in line for line in failures)
    assert not [line for line in traced if SECRET in line or "/services" in line]


def test_verbose_run_traces_each_webhook_post(tmp_path, mogrun_emulator, mogrun_cli):
    """End to end: ``-v`` hands the trace to the posts (``connect``), and a run
    without it leaves none from the last."""
    from mogrun.testing import write_taskfile

    receiver = Receiver()
    try:
        hook = receiver.url(f"/hooks/T0/{SECRET}")
        write_taskfile(tmp_path, '[jobs.fix]\nrepo = "acme/api"\nprompt = "Fix it."\n'
                       f'notify = [{{ webhook = "{hook}", on = ["always"] }}]\n')
        env = {"MOGRUN_POLL_INTERVAL": "0.1"}
        result = mogrun_cli("-v", "run", "fix", cwd=tmp_path, env=env)
        quiet = mogrun_cli("run", "fix", cwd=tmp_path, env=env)
    finally:
        receiver.close()
    assert result.exit_code == 0, result
    assert len(receiver.received) == 2
    assert re.search(rf"< 200 POST {re.escape(receiver.url(''))} \d+ ms", result.stderr), \
        result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert "POST" not in quiet.stderr, quiet.stderr
