"""`mogrun emulator`: serves until a signal, prints URL and tokens, refuses bad options."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from mogrun.testing import run_mogrun


def _serve(*args: str, quiet: bool = False) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mogrun", *(["-q"] if quiet else []), "emulator", "--port", "0",
         *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    seen: dict[str, str] = {}
    for line in process.stdout:
        if line.startswith("  export "):
            name, _, value = line.strip().removeprefix("export ").partition("=")
            seen[name] = value
        if "read token:" in line:
            seen["read"] = line.split(":", 1)[1].strip()
        if line.startswith(("  limits:", "  occupied:", "  automation:")):
            seen[line.split(":", 1)[0].strip()] = line.split(":", 1)[1].strip()
        if line.startswith("Press Ctrl-C"):
            return process, seen
    process.kill()
    raise AssertionError(f"emulator did not start: {process.stderr.read()}")  # type: ignore


def _account(*args: str) -> tuple[list[dict], list[dict], dict[str, str]]:
    """The repos and automations an emulator served with ``args`` lists (each
    answered 200), and what it printed."""
    process, seen = _serve(*args, quiet=True)
    try:
        listed = [_get(f"{seen['MOGPLEX_URL']}/api/v1/mogplex/{what}", seen["read"])
                  for what in ("repos", "automations")]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert [status for status, _ in listed] == [200, 200], listed
    (_, repos), (_, automations) = listed
    return repos["data"]["repos"], automations["data"]["automations"], seen


def _get(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(("signum", "quiet"), [(signal.SIGTERM, False), (signal.SIGINT, True)])
def test_serves_then_stops_cleanly_on_signal(signum, quiet):
    process, seen = _serve("--repos", "team/one,team/two", "--faults", "repos:503@2",
                           quiet=quiet)
    try:
        url, token = seen["MOGPLEX_URL"], seen["MOGPLEX_API_KEY"]
        assert url.startswith("http://127.0.0.1:")
        assert token.startswith("mog_") and seen["read"].startswith("mog_")
        status, body = _get(url + "/api/v1/mogplex/repos", token)
        assert (status, body["error"]["code"]) == (503, "SERVICE_UNAVAILABLE")
        status, body = _get(url + "/api/v1/mogplex/repos", seen["read"])
        assert [r["full_name"] for r in body["data"]["repos"]] == ["team/one", "team/two"]
    finally:
        process.send_signal(signum)
        _out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Emulator stopped." in err
    if quiet:
        assert "GET /api" not in err
        return
    assert "GET /api/v1/mogplex/repos -> 503  fault=503" in err
    assert "GET /api/v1/mogplex/repos -> 200" in err
    assert token not in err


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com"])
def test_non_loopback_host_is_refused(host):
    result = run_mogrun("emulator", "--host", host)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: --host {host} is not a loopback address\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--faults", "start:teapot"], "Error: bad fault 'start:teapot': unknown fault kind"),
    (["--limits", "fast"], "Error: expected COUNT/WINDOW such as 60/60s, got 'fast'"),
    (["--no-limits", "--limits", "5/1s"], "Error: --no-limits and --limits cannot be used"),
    (["--repos", "not-a-repo"], "Error: a repo must be owner/name, got 'not-a-repo'"),
    (["--repos", ","], "Error: --repos needs at least one owner/name"),
    (["--occupy", "two"], "Error: bad sandbox occupant 'two': expected [REPO:]COUNT[@BUSY]"),
    (["--occupy", "1@soon"], "Error: bad sandbox occupant '1@soon': not a duration: 'soon'"),
    (["--occupy", "no/such:1"], "Error: --occupy: no repo 'no/such' on the emulator"),
    (["--limits", "sandboxes=-1"], "Error: sandboxes must be a whole number of at least 1"),
    (["--automations", "triage:draft"],
     "Error: bad automation 'triage:draft': expected NAME[@OWNER/NAME][:unpublished][:inactive]"),
    (["--automations", "triage@zorg/nope"],
     "Error: --automations: no repo 'zorg/nope' on the emulator (repos: acme/api, acme/web, "
     "acme/worker)"),
    (["--taken-keys", "k1,k1"], "Error: --taken-keys: the key 'k1' is already taken"),
    # Accepted before: a typo's count took hours to set up, a bad branch made every
    # start that names no branch a 400.
    (["--occupy", "99999999"], "Error: bad sandbox occupant '99999999': occupy 1 to 1000 "
                               "sandboxes, not 99999999"),
    (["--repos", "acme/api@bad branch"], "Error: a repo's default branch must be a valid "
                                         "branch name, got 'bad branch'"),
    (["--repos", "acme/api@HEAD"], "Error: a repo's default branch must be a valid branch"),
    # Accepted before, though the task file's check refuses each: no server has them.
    (["--repos", "acme/api,-x/y"], "Error: '-x/y' is not a GitHub owner/name: the owner '-x' "
                                   'starts with "-"; an owner is at most 39'),
    (["--repos", "acme/.."], "Error: 'acme/..' is not a GitHub owner/name: the name '..' is "
                             'reserved; a name is at most 100'),
    (["--repos", "ac me/api"], "Error: 'ac me/api' is not a GitHub owner/name: owner and "
                               'name hold only ASCII letters, digits, "-", "_" and ".", '
                               "not ' '"),
    (["--repos", "a.b/api"], "Error: 'a.b/api' is not a GitHub owner/name: the owner 'a.b' "
                             'holds "."'),
])
def test_bad_options_exit_2(args, message):
    result = run_mogrun("emulator", *args)
    assert result.exit_code == 2, result
    assert result.stderr.startswith(message), result


@pytest.mark.parametrize("duration", ["nan", "inf", "1e308"])
def test_a_duration_no_run_can_take_is_refused(duration):
    """NaN was accepted and crashed every unscripted start; inf never ended one."""
    result = run_mogrun("emulator", "--duration", duration)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '--duration': a duration must be at most a year (366d), "
        f"not {float(duration)!r}")


@pytest.mark.parametrize(("duration", "seconds"), [
    ("5s", 5), ("500ms", 0.5), ("2m", 120), ("7", 7), ("0", 0), ("1.5", 1.5)])
def test_duration_takes_a_unit_as_a_prompts_duration_does(duration, seconds):
    """The help's table says "duration 5s, 500ms, 2m (default --duration)", but
    ``--duration 5s`` was refused: '5s' is not a valid float range. Now the option
    is read (the command goes on to refuse the --host after it)."""
    from mogrun.cli.emulator_cmd import _seconds

    assert _seconds(None, duration) == seconds
    result = run_mogrun("emulator", "--duration", duration, "--host", "0.0.0.0")
    assert result.exit_code == 2, result
    assert result.stderr.startswith("Error: --host 0.0.0.0 is not a loopback address"), result


@pytest.mark.parametrize("duration", ["-5s", "5 parsecs", ""])
def test_a_duration_that_is_not_one_is_refused(duration):
    result = run_mogrun("emulator", "--duration", duration)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[-1].startswith("Error: Invalid value for '--duration': ")


def test_port_in_use_is_an_error_not_a_traceback(mogrun_emulator):
    result = run_mogrun("emulator", "--port", str(mogrun_emulator.port))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{mogrun_emulator.port}")


def test_occupied_sandboxes_and_sandbox_limits_from_the_command_line():
    process, seen = _serve("--occupy", "acme/web:2@never", "--limits", "sandboxes=3,idle=20s",
                           quiet=True)
    try:
        status, body = _get(seen["MOGPLEX_URL"] + "/api/v1/mogplex/sandboxes", seen["read"])
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert status == 200
    assert [s["status"] for s in body["data"]["sandboxes"]] == ["running", "running"]
    assert seen["limits"] == ("60/60s,starts=10/60s,starts=30/1h,starts=150/1d,sandboxes=3,"
                              "idle=20s,boots=120/1h,boots=10000/1d")
    assert seen["occupied"] == "acme/web:2@never"


def test_automations_and_taken_keys_from_the_command_line():
    # @OWNER/NAME: an automation of another installation than the first repo's (the
    # only one there was, so a job over zorg's repos could never trigger it).
    repos, listed, seen = _account("--repos", "acme/api,zorg/tool", "--automations",
                                   "triage,draft:unpublished,fix@zorg/tool,me@home",
                                   "--taken-keys", "k1")
    assert [(a["name"], a["publishedVersionId"] is not None) for a in listed] == [
        ("me@home", True), ("fix", True), ("draft", False), ("triage", True)]
    installations = {r["full_name"]: r["installation_id"] for r in repos}
    assert {a["name"]: a["installationId"] for a in listed} == {
        "me@home": installations["acme/api"], "fix": installations["zorg/tool"],
        "draft": installations["acme/api"], "triage": installations["acme/api"]}
    assert seen["automation"].endswith(("triage", "draft", "fix", "me@home"))


def test_a_repeated_spec_option_adds_to_the_first():
    """--faults a --faults b dropped a without a word: a test relying on it went
    on without the fault it asked for."""
    process, seen = _serve("--faults", "start:503", "--faults", "events:429",
                           "--limits", "5/10s", "--limits", "starts=2/1m")
    try:
        status, faults = _get(seen["MOGPLEX_URL"] + "/_emulator/faults",
                              seen["MOGPLEX_API_KEY"])
        assert status == 200
        assert sorted(f["endpoint"] for f in faults) == ["events", "start"]
        assert seen["limits"].startswith("5/10s,starts=2/60s,")
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def test_json_announces_one_object_a_script_can_read():
    # `mogrun --json emulator` printed its human banner on stdout, which --json keeps
    # for JSON only: a script starting it in the background could not read its URL.
    process = subprocess.Popen(
        [sys.executable, "-m", "mogrun", "--json", "emulator", "--port", "0",
         "--repos", "team/one", "--automations", "triage"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        assert announced["type"] == "emulator" and announced["repos"] == ["team/one"]
        assert [a["name"] for a in announced["automations"]] == ["triage"]
        status, body = _get(announced["api_url"] + "/repos", announced["read_token"])
        assert (status, [r["full_name"] for r in body["data"]["repos"]]) == (200, ["team/one"])
        assert announced["write_token"].startswith("mog_")
    finally:
        process.send_signal(signal.SIGTERM)
        rest, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert rest == ""  # nothing but the one object on stdout
    assert "Emulator stopped." in err


@pytest.mark.parametrize("json_output", [False, True])
def test_a_signal_right_after_the_announcement_stops_it_cleanly(json_output):
    # The handlers were set only after the URL and tokens were printed: a script that
    # stopped the emulator as soon as it read them (or a test on a busy machine) got
    # SIGTERM's default, an exit of -15 with no "Emulator stopped.".
    for _ in range(10):
        process = subprocess.Popen(
            [sys.executable, "-m", "mogrun", *(["--json"] if json_output else []), "emulator",
             "--port", "0", "-q" if not json_output else "--repos=acme/api"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        process.stdout.readline()  # the first line of the announcement: ready, it says
        process.send_signal(signal.SIGTERM)
        _rest, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert "Emulator stopped." in err


def test_a_task_file_named_with_f_is_served_as_local_serves_it(tmp_path):
    """`mogrun -f mogplex.toml emulator` took -f and did nothing with it: the task
    file's repos were unknown (404 at each start) until typed again in --repos."""
    path = tmp_path / "jobs.toml"
    path.write_bytes(b'\xef\xbb\xbf# ours\r\n[jobs.fix]\r\nrepo = ["zorg/tool", "Acme/API"]\r\n'
                     b'prompt = "x"\r\n\r\n[jobs.triage]\r\nrepo = "zorg/tool"\r\n'
                     b'automation = "triage"  # on zorg\'s installation\r\n\r\n'
                     b'[jobs.shout]\r\nrepo = "ZORG/Tool"  # another job\'s zorg/tool\r\n'
                     b'prompt = "y"\r\n\r\n\r\n')
    repos, automations, _ = _account("-f", str(path), "--repos", "acme/api@dev",
                                     "--automations", "draft:unpublished")
    served = {r["full_name"]: r for r in repos}
    assert sorted(served) == ["acme/api", "zorg/tool"]  # Acme/API is acme/api, one repo
    assert served["acme/api"]["default_branch"] == "dev"  # --repos' own spec kept
    homes = {a["name"]: a["installationId"] for a in automations}
    assert homes == {"triage": served["zorg/tool"]["installation_id"],
                     "draft": served["acme/api"]["installation_id"]}
    missing = run_mogrun("-f", str(tmp_path / "nope.toml"), "emulator")
    assert missing.exit_code == 2, missing
    assert missing.stderr.startswith("Error: task file ") and "does not exist" in missing.stderr


def test_a_served_task_file_brings_its_plan_unless_limits_are_given(tmp_path):
    """`mogrun -f FILE emulator` serves the file as --local does: its bigger
    plan's limits too; ``--limits`` still says exactly what to serve."""
    path = tmp_path / "mogplex.toml"
    path.write_text("[mogplex]\nrequests_per_minute = 90  # our plan\nsandboxes = 5\n\n"
                    '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n\n')
    for args, limits in ((("-f", str(path)), "90/60s,starts=10/60s,"),
                         (("-f", str(path), "--limits", "60/60s"), "60/60s,starts=10/60s,")):
        process, seen = _serve(*args, quiet=True)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
        assert seen["limits"].startswith(limits), seen
        assert ("sandboxes=5," in seen["limits"]) == ("--limits" not in args), seen
    path.write_text('[mogplex]\nsandboxes = "5"\n\n[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    wrong = run_mogrun("-f", str(path), "emulator")
    assert wrong.exit_code == 2, wrong
    assert wrong.stderr.startswith(  # located, as check says it
        "Error: [mogplex] sandboxes must be a positive integer, not '5'\n  --> "), wrong.stderr


@pytest.mark.timeout(30)  # before the fix each of these served until killed
@pytest.mark.parametrize("value", ["", " ", ",", " , "])
@pytest.mark.parametrize(("option", "needs"), [
    ("--repos", "at least one owner/name"),
    ("--limits", "limits such as 60/60s,starts=10/60s"),
    ("--faults", "at least one fault such as start:503x2"),
    ("--occupy", "at least one sandbox occupant such as 2@30s"),
    ("--automations", "at least one automation name"),
    ("--taken-keys", "at least one key"),
])
def test_an_empty_or_blank_spec_option_is_refused(option, needs, value):
    """A script's unset variable (``--faults "$FAULTS"``): ``--repos ''`` served the
    default repos and the others were ignored, ``--faults ' '`` printed an empty
    ``faults:`` line, while ``--repos ' '`` was refused."""
    result = run_mogrun("emulator", option, value)
    assert result.exit_code == 2, result
    got = "an empty value" if not value else repr(value)
    assert result.stderr.splitlines()[0] == f"Error: {option} needs {needs}, got {got}"
    assert result.stderr.splitlines()[1].startswith("Leave it out ")
    assert result.stdout == ""


@pytest.mark.timeout(30)
def test_an_empty_value_among_repeated_ones_is_refused():
    result = run_mogrun("emulator", "--faults", "start:503", "--faults", "")
    assert result.exit_code == 2, result
    assert result.stderr.startswith("Error: --faults needs at least one fault such as "
                                    "start:503x2, got an empty value\n")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", ["tri\x1b]0;PWNED\x07\x1b[2Jage", "tri\nage", "tri\tage",
                                  "tri\x7fage", "tri\x9b2Jage", "tri\u202eage", "tri\u2028age"])
def test_an_automation_name_with_control_characters_is_refused(name):
    """It was made and printed raw in the announcement (``automation:   ID  tri^[]0;...``):
    the terminal's title set, its screen cleared."""
    result = run_mogrun("emulator", "--automations", f"ok,{name}:unpublished")
    assert result.exit_code == 2, result
    assert result.stderr == (f"Error: --automations: bad automation name {name!r}: a name is "
                             "printable text (no control characters or line breaks)\n")
    assert result.stdout == ""


def test_an_automation_name_of_printable_unicode_is_kept():
    _repos, listed, seen = _account("--automations", "prüfen-ß,トリアージ")
    assert [a["name"] for a in listed] == ["トリアージ", "prüfen-ß"]
    assert seen["automation"].endswith("トリアージ")
