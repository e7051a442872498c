"""Secrets that showed in part or in another form: cut before they were masked
(a template excerpt, an automation's start failure), a repo group's prefix in the
``-v`` trace, the emulator's banner, a webhook host lower-cased, an exception's
``repr``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from mogrun.api import automations
from mogrun.api.budget import RequestBudget
from mogrun.api.client import MogplexClient
from mogrun.api.repos import secret_parts
from mogrun.api.transport import Urllib3Transport
from mogrun.masking import mask
from mogrun.models import ResolvedJob
from mogrun.testing import loopback_api, write_taskfile

SECRET = "PASTEDSECRETVALUE0123456789"
TOKEN = "mog_TOKENSECRETVALUE0123456789"


# --- 1. a template error's excerpt is cut before it is masked ----------------------


@pytest.mark.parametrize(("name", "value"), [("PSEC", SECRET), ("MOGPLEX_API_KEY", TOKEN)])
@pytest.mark.parametrize("json_output", [False, True])
def test_a_long_excerpt_is_never_cut_inside_a_secret(mogrun_cli, tmp_path, name, value,
                                                    json_output):
    """Cut at 99 characters, the excerpt showed ``PASTEDSECRETV…``: masked only after."""
    (tmp_path / "prompt.md").write_text("Intro\n" + "a" * 85 + f" {value} and {{{{ oops\n")
    write_taskfile(tmp_path, """
        [jobs.fix]
        repo = "acme/api"
        prompt_file = "prompt.md"
        branch = "x/{{ env.PSEC }}"
        """)
    result = mogrun_cli(*(["--json"] if json_output else []), "check", cwd=tmp_path,
                        env={"PSEC": SECRET, "MOGPLEX_API_KEY": TOKEN})
    assert result.exit_code != 0, result
    assert "It is on line 2 of the prompt file: " + "a" * 85 + " …" in (
        json.loads(result.stdout)["errors"][0]["context"][0] if json_output else result.output)
    assert value[:6] not in result.output


def test_a_cut_falls_before_a_value_it_would_split():
    from mogrun.masking import clear_cut

    assert clear_cut("ab SECRETX cd", 6, ["SECRETX", "zz"]) == "ab "
    assert clear_cut("ab SECRETX cd", 10, ["SECRETX"]) == "ab SECRETX"  # whole: masked later
    assert clear_cut("ab SECRETX cd", 6, []) == "ab SEC"
    assert clear_cut("short", 6, ["short"]) == "short"


# --- 2. the repo look-up's prefix query --------------------------------------------


def test_a_group_prefix_that_is_the_whole_query_is_masked():
    """The loop never tried the query's own length: ``secretorg/hidden`` went unmasked."""
    assert "secretorg/hidden" in secret_parts("secretorg/hidden", ["secretorg/hiddenalpha"])
    assert "secretorg/hid" in secret_parts("acme/secretorg/hid", ["secretorg/hiddenalpha"])


HIDDEN = ["secretorg/hiddenalpha", "secretorg/hiddenbeta"]


@pytest.mark.mogrun_emulator(repos=[f"bench/repo{n:03}" for n in range(205)] + HIDDEN)
def test_the_v_trace_of_a_prefix_look_up_masks_the_shared_prefix(mogrun_cli, mogrun_emulator,
                                                                  tmp_path):
    write_taskfile(tmp_path, """
        [jobs.fix]
        repo = ["{{ env.R1 }}", "{{ env.R2 }}"]
        prompt = "Do it. @emulator duration=0.1s"
        """)
    result = mogrun_cli("-v", "run", "fix", cwd=tmp_path,
                        env={"R1": HIDDEN[0], "R2": HIDDEN[1]})
    assert result.exit_code == 0, result
    assert "/repos?q=" in result.stderr  # looked up by a prefix query, as the bug needed
    assert "hidden" not in result.output.casefold(), result


# --- 3. an automation's start failure, said by the server --------------------------


def test_a_start_failure_reason_is_masked_before_it_is_cut():
    """Cut at 199 characters first, it showed ``... AUTOSECRE…`` in the wait line;
    and the API token a server quoted there was not masked at all (only the job's
    secrets were handed down). Read over HTTP, from a server that quotes both:
    masked, the reason fits; cut first, it is cut inside the job's secret."""
    reason = f"Trigger.dev failed for key {TOKEN}, input " + "x" * 150 + f" {SECRET} tail"
    run = {"id": "r1", "status": "pending", "flow_id": "a1",
           "dispatch_events": [{"id": "e1", "event_kind": "start", "outcome": "start_failed",
                                "reason": reason, "created_at": "2026-01-01T00:00:00Z"}]}
    job = ResolvedJob("aut", "", (), (), 60.0, secrets=frozenset({SECRET}))
    with loopback_api(lambda method, path: (200, {"run": run})) as url:
        client = MogplexClient(url + "/api/v1/mogplex", TOKEN,
                               transport=Urllib3Transport(),
                               budget=RequestBudget(requests_per_minute=100_000))
        read = automations.read_run(client, "a1", "r1", job=job)
    assert read.start_failed is not None
    assert read.start_failed[0] == reason.replace(TOKEN, "***").replace(SECRET, "***")


# --- 4. the emulator's banner for a task file --------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("json_output", [False, True])
def test_the_emulator_banner_masks_names_taken_from_env(tmp_path, json_output):
    """``-f mogplex.toml emulator`` printed ``repos: ..., secretorg/hiddenalpha``."""
    path = write_taskfile(tmp_path, """
        [jobs.fix]
        repo = "{{ env.R1 }}"
        prompt = "Do it."

        [jobs.aut]
        repo = "acme/api"
        automation = "{{ env.AUT }}"
        """)
    env = {**__import__("os").environ, "R1": HIDDEN[0], "AUT": "secretautomation"}
    env.pop("MOGPLEX_API_KEY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "mogrun", "-q", *(["--json"] if json_output else []), "-f",
         str(path), "emulator", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env)
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        if json_output or line.startswith("Press Ctrl-C"):
            break
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=10)
    shown = "".join(banner)
    assert "acme/api" in shown and "***" in shown, shown
    assert "hidden" not in shown and "secretautomation" not in shown, shown


# --- 5. a webhook host from env.*, lower-cased --------------------------------------


def test_a_webhook_host_from_env_is_masked_lower_cased_too(mogrun_cli, mogrun_emulator,
                                                            tmp_path):
    """``webhook #1 (secret-hook-host...)``: urlsplit and the connection error lower-case
    the host, and only the value as written was masked."""
    write_taskfile(tmp_path, """
        [jobs.fix]
        repo = "acme/api"
        prompt = "Do it. @emulator duration=0.1s"
        notify = [{ webhook = "http://{{ env.HH }}:1/x", on = ["always"] }]
        """)
    result = mogrun_cli("run", "fix", cwd=tmp_path, env={"HH": "LocalHost"})
    assert "webhook #1" in result.output, result
    assert "localhost" not in result.output.casefold(), result


def test_host_forms_add_the_lower_cased_form():
    from mogrun.masking import host_forms

    assert mask("to https://secret-host.invalid", host_forms(["Secret-Host.invalid"])) \
        == "to https://***"


# --- 6. an exception that quotes a secret with repr -------------------------------


def test_a_hook_exception_quoting_a_secret_with_repr_is_masked(mogrun_cli, mogrun_emulator,
                                                                tmp_path, monkeypatch):
    """``KeyError: 'C:\\\\temp\\\\sekrit'``: only the raw value was masked."""
    monkeypatch.setenv("S", "C:\\temp\\sekrit")  # the plugin reads the process's
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "leaky.py").write_text(
        "import os\nfrom mogrun.plugin import hookimpl\n\n\n@hookimpl\n"
        "def mogrun_job_finished(job, results, outcome):\n"
        "    raise KeyError(os.environ['S'])\n")
    write_taskfile(tmp_path, """
        [mogplex]
        plugins = ["plugins/leaky.py"]

        [jobs.fix]
        repo = "acme/api"
        prompt = "Do it {{ env.S }}. @emulator duration=0.1s"
        """)
    result = mogrun_cli("run", "fix", cwd=tmp_path, env={"S": "C:\\temp\\sekrit"})
    assert 'plugin "leaky" failed in mogrun_job_finished' in result.output, result
    assert "sekrit" not in result.output, result


def test_repr_forms_hold_the_quoted_and_json_forms():
    from mogrun.masking import repr_forms

    forms = repr_forms(["C:\\temp\\x\u00e9y"])
    assert mask(repr(KeyError("C:\\temp\\x\u00e9y")), forms) == "KeyError('***')"
    assert mask(json.dumps("C:\\temp\\x\u00e9y"), forms) == '"***"'
