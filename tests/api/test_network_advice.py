"""Issue 10: a network error says which URL was used and where it came from;
a retry after one is announced as a Wait (never printed by the client)."""

from __future__ import annotations

import re
import socket

import pytest

from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.transport import Urllib3Transport
from mogrun.errors import ConnectError, TransportError
from mogrun.testing import write_taskfile
from mogrun.waits import WaitKind

from .conftest import QuickRetry


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_url() -> str:
    return f"http://127.0.0.1:{closed_port()}"


def test_connection_refused_names_the_url_from_mogplex_url(mogrun_cli, tmp_path, dead_url):
    # The task file's retry policy governs `repos` too (it did only `run`): here it
    # retries at once, where the bundled policy's jittered backoff took 0-15 s.
    (tmp_path / "fast_retry.py").write_text(
        "from mogrun.plugin import hookimpl\n\n\n@hookimpl\n"
        "def mogrun_retry_delay(error, attempt):\n"
        "    return 0.01 if attempt <= 2 else False\n")
    (tmp_path / "mogplex.toml").write_text(
        '[mogplex]\nplugins = ["fast_retry.py"]\n\n[jobs.a]\nrepo = "a/b"\nprompt = "x"\n')
    result = mogrun_cli("repos", cwd=tmp_path,
                        env={"MOGPLEX_URL": dead_url, "MOGPLEX_API_KEY": "mog_test"})
    assert result.exit_code == 69, result
    waits = [line for line in result.stderr.splitlines() if line.startswith("wait retry: ")]
    assert len(waits) == 2  # the team's policy: two retries
    said = [line for line in result.stderr.splitlines() if not line.startswith("wait retry: ")]
    assert said[0] == (
        f"Error: cannot connect to {dead_url}: Connection refused "
        "(the URL comes from MOGPLEX_URL)")
    assert (f"The API URL is {dead_url}/api/v1/mogplex (from MOGPLEX_URL); check it and "
            "that the server is reachable.") in result.stderr
    assert "Traceback" not in result.output


JOB = """
    [jobs.hello]
    repo = "5c0ffee0-1234-4321-8abc-0123456789ab"
    prompt = "hi"
    retry = {attempts = 1, max_delay = "0.1s"}
"""


@pytest.mark.parametrize("source, words", [
    ("--url", "--url"), ("MOGPLEX_URL", "MOGPLEX_URL"),
    ("file", "the task file's [mogplex] url")])
def test_a_run_that_cannot_connect_says_where_its_url_came_from(mogrun_cli, tmp_path, dead_url,
                                                               source, words):
    header = f'[mogplex]\nurl = "{dead_url}"\n' if source == "file" else ""
    write_taskfile(tmp_path, header + JOB)
    args = ("--url", dead_url) if source == "--url" else ()
    env = {"MOGPLEX_URL": dead_url if source == "MOGPLEX_URL" else None,
           "MOGPLEX_API_KEY": "mog_t"}
    result = mogrun_cli(*args, "run", "hello", cwd=tmp_path, env=env)
    assert result.exit_code == 69, result
    assert (f"could not start: cannot connect to {dead_url}: Connection refused "
            f"(the URL comes from {words})") in result.output
    assert "Traceback" not in result.output


def test_each_retry_is_announced_as_a_wait_with_its_cause(dead_url):
    client = MogplexClient(dead_url + "/api/v1/mogplex", "mog_x", transport=Urllib3Transport(),
                           budget=RequestBudget(requests_per_minute=1000),
                           retry=QuickRetry(attempts=2, delay=0.01))
    seen = []
    client.waits.subscribe(seen.append)
    with pytest.raises(ConnectError) as caught:
        client.list_repos()
    assert isinstance(caught.value, TransportError)
    assert [(w.kind, w.reason) for w in seen] == [  # no job's: it says which request
        (WaitKind.RETRY, "GET /repos: connection refused; retry 1"),
        (WaitKind.RETRY, "GET /repos: connection refused; retry 2")]
    assert "Gave up after 3 attempts." in caught.value.context


def test_a_retry_wait_says_one_consistent_time(mogrun_cli, tmp_path, dead_url):
    """A 0.1 s backoff was written "retry 2 in 1s; ends in 0s" (its first retry, then
    numbered 2): two times, both wrong."""
    write_taskfile(tmp_path, JOB.replace("attempts = 1", "attempts = 3"))
    env = {"MOGPLEX_URL": dead_url, "MOGPLEX_API_KEY": "mog_t"}
    result = mogrun_cli("run", "hello", cwd=tmp_path, env=env)
    assert result.exit_code == 69, result
    waits = [line for line in result.output.splitlines() if "  wait  retry  " in line]
    assert waits, result.output
    for line in waits:  # (a jittered backoff of a few ms has ended when it is said: 0s)
        assert re.search(r"  wait  retry  connection refused; retry [123]; ends in [01]s "
                         r"\(\d\d:\d\d:\d\dZ\)$", line), line
