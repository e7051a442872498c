"""The two limits kept apart, through `mogrun run` against the emulator: a
start-limit 429 holds starts only, and a Retry-After no policy would wait
gives that one job up at once without holding back the next."""

from __future__ import annotations

import re
import time

import pytest

from mogrun.emulator import Limits
from mogrun.testing import write_taskfile

FAST = {"MOGRUN_POLL_INTERVAL": "0.1"}

# The task file believes in a generous start limit; the server allows one start
# per 2 s, so the second start meets a real start-limit 429. Each run lasts longer
# than that pause, so the first one started is still going through all of it.
TWO_JOBS = """
    [mogplex]
    requests_per_minute = 6000
    starts_per_minute = 100

    [jobs.one]
    repo = "acme/api"
    prompt = "one\\n@emulator duration=2.5s"

    [jobs.two]
    repo = "acme/web"
    prompt = "two\\n@emulator duration=2.5s"
"""


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, window=60.0, starts=((1, 2.0),)))
def test_a_start_limit_429_pauses_starts_while_following_goes_on(mogrun_cli, mogrun_emulator,
                                                                 tmp_path):
    write_taskfile(tmp_path, TWO_JOBS)
    result = mogrun_cli("run", "-j", "2", "one", "two", cwd=tmp_path, env=FAST)
    assert result.exit_code == 0, result
    log = mogrun_emulator.requests
    limited = [r for r in log if r.method == "POST" and r.status == 429]
    started = [r for r in log if r.method == "POST" and r.status == 202]
    assert len(limited) >= 1 and len(started) == 2
    assert "the API answered 429 (start limit)" in result.output, result.output
    pause = (limited[0].time, started[-1].time)
    polls = [r for r in log if r.method == "GET" and r.path.endswith("/events")
             and pause[0] < r.time < pause[1]]
    # whichever started first is polled every 0.1 s through the ~2 s pause
    assert len(polls) >= 5, "the running job was not followed during the start-limit pause"
    assert all(r.status == 200 for r in polls)


# mogrun allows itself 3 starts a minute; the server 1 per 2 s. The starts it
# refuses must not count against mogrun's own 3: counted, the third start waited
# for the minute window (a minute), not for the server's 2 s.
THREE_JOBS = """
    [mogplex]
    requests_per_minute = 6000
    starts_per_minute = 3
""" + "".join(f"""
    [jobs.j{n}]
    repo = "acme/api"
    prompt = "{n}\\n@emulator duration=0.2s"
""" for n in range(3))


@pytest.mark.mogrun_emulator(limits=Limits(requests=0, window=60.0, starts=((1, 2.0),)))
def test_starts_the_server_refused_leave_room_in_mogruns_own_start_limit(
        mogrun_cli, mogrun_emulator, tmp_path):
    write_taskfile(tmp_path, THREE_JOBS)
    began = time.monotonic()
    result = mogrun_cli("run", "-j", "3", "j0", "j1", "j2", cwd=tmp_path, env=FAST)
    assert result.exit_code == 0, result
    posts = [r for r in mogrun_emulator.requests if r.method == "POST"]
    assert [r.status for r in posts].count(202) == 3
    assert any(r.status == 429 for r in posts)
    assert "queued for the start limit" not in result.output, result.output
    assert time.monotonic() - began < 20


GIVE_UP = """
    [mogplex]
    requests_per_minute = 6000
    starts_per_minute = 100

    [jobs.first]
    repo = "acme/api"
    prompt = "one\\n@emulator duration=0.2s"

    [jobs.second]
    repo = "acme/web"
    prompt = "two\\n@emulator duration=0.2s"
"""


@pytest.mark.parametrize("retry_after", [3600, 366 * 86400])
def test_a_retry_after_past_max_delay_gives_that_job_up_and_holds_back_no_other(
        mogrun_cli, mogrun_emulator, tmp_path, retry_after):
    write_taskfile(tmp_path, GIVE_UP)
    mogrun_emulator.add_fault("start", "429", retry_after=retry_after)
    began = time.monotonic()
    result = mogrun_cli("run", "-k", "-j", "1", "first", "second", cwd=tmp_path, env=FAST)
    assert time.monotonic() - began < 60  # not the hour the server asked for
    assert result.exit_code == 75, result
    assert "Traceback" not in result.output
    assert "Too many requests (injected) (RATE_LIMITED, HTTP 429)" in result.output
    assert "HTTP 429); try again after " in result.output
    assert mogrun_emulator.count("POST", "/runs", status=429) == 1  # given up at once
    assert mogrun_emulator.count("POST", "/runs", status=202) == 1  # the next job ran


@pytest.mark.parametrize("command", [("repos",), ("run", "first")])
def test_a_503_asking_for_an_hour_says_when_to_come_back(mogrun_cli, mogrun_emulator, tmp_path,
                                                        command):
    """It was given up at once with 'Gave up after 1 attempt.' and no word of the
    hour the server asked for, where a 429 says when to try again."""
    write_taskfile(tmp_path, GIVE_UP)
    mogrun_emulator.add_fault("repos", "503", retry_after=3600)
    mogrun_emulator.add_fault("start", "503", retry_after=3600)
    result = mogrun_cli(*command, cwd=tmp_path, env=FAST)
    assert result.exit_code in (1, 69), result
    assert "HTTP 503); try again after " in result.output and "(in 1h)" in result.output
    assert "Traceback" not in result.output


@pytest.mark.mogrun_emulator(limits=Limits(requests=2, window=2.0, starts=((100, 60.0),)))
def test_a_request_limit_429_on_a_start_is_called_the_request_limit(mogrun_cli, mogrun_emulator,
                                                                    tmp_path):
    """The server checks the token's request limit before the start limit: a 429 on
    a start was always called the start limit, and held back starts only while
    every other request ran on into the request limit."""
    write_taskfile(tmp_path, GIVE_UP)  # a budget that does not pace these requests itself
    result = mogrun_cli("run", "first", cwd=tmp_path, env=FAST)
    assert result.exit_code == 0, result
    assert mogrun_emulator.count("POST", "/runs", status=429) >= 1
    assert "the API answered 429 (request limit)" in result.output, result.output
    assert "(start limit)" not in result.output


def test_a_wait_of_no_jobs_request_says_which_request(mogrun_cli, mogrun_emulator, tmp_path):
    """A 429 on the repo look-up was shown as "mogrun  wait  rate_limited  the API
    answered 429": which request waited was not said."""
    from mogrun.testing import write_taskfile

    mogrun_emulator.add_fault("repos", "429", count=1, retry_after=1.0)
    write_taskfile(tmp_path, """
        [jobs.hello]
        repo = "acme/api"
        prompt = "@emulator duration=0.2s"
    """)
    result = mogrun_cli("run", "hello", cwd=tmp_path, env={"MOGRUN_POLL_INTERVAL": "0.1"})
    assert result.exit_code == 0, result
    assert re.search(r"mogrun  wait  rate_limited  GET /repos: the API answered 429 "
                     r"\(request limit\); retry 1 after its Retry-After", result.output), result
