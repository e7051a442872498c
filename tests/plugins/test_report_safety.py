"""What the JUnit report and the webhooks carry: always parseable XML, and no
secret of the job (env.* values in repo, prompt, key, branch; webhook URLs)."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET

import pytest
from plugtest_helpers import Receiver

from mogrun.testing import loopback_api, write_taskfile

REPO_ID = "5c0ffee0-1234-4321-8abc-0123456789ab"
CONTROL_RUN_ID = "run_\x01\x1b[31mX\x0c\x7f"


def fake_api(run_id: str, status: str = "failed"):
    """A loopback API whose one run has ``run_id`` (no emulator makes such ids)."""
    detail = {"runId": run_id, "repoId": REPO_ID, "status": status,
              "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:05Z",
              "error": f"agent quit \x00 on {run_id}"}

    def answer(method: str, path: str) -> tuple[int, dict]:
        if method == "POST":
            return 202, {**detail, "status": "pending", "replayed": False}
        return 200, {"run": detail, "events": []}

    return loopback_api(answer)


@pytest.mark.parametrize("status", ["failed", "success"])
def test_a_run_id_with_control_characters_still_makes_parseable_junit(tmp_path, mogrun_cli,
                                                                       status):
    write_taskfile(tmp_path, f'[jobs.odd]\nrepo = "{REPO_ID}"\nprompt = "go"\n\n')
    report = tmp_path / "out" / "junit.xml"
    with fake_api(CONTROL_RUN_ID, status) as url:
        result = mogrun_cli("run", "--junit", str(report), "odd", cwd=tmp_path,
                            env={"MOGPLEX_URL": url, "MOGPLEX_API_KEY": "mog_test",
                                 "MOGRUN_POLL_INTERVAL": "0.1"})
    assert result.exit_code == (1 if status == "failed" else 0), result
    case = ET.parse(report).getroot().find("testsuite/testcase")  # parses: the point
    assert case is not None
    [run_id] = [p.get("value") for p in case.iter("property") if p.get("name") == "run_id"]
    assert run_id == "run_\ufffd\ufffd[31mX\ufffd\x7f"
    if status == "failed":
        failure = case.find("failure")
        assert failure is not None and "[31mX" in (failure.text or "")


SECRETS = {"REPO_SECRET": "hushhush-svc", "TICKET": "TICKET-98765",
           "KEYSEED": "seed-5550123", "BRANCH_SECRET": "br-secret-771"}

TASKS = '''
[jobs.fix]
repo = "acme/{{ env.REPO_SECRET }}"
prompt = """Fix {{ env.TICKET }} on {{ env.BRANCH_SECRET }}.
@emulator status=failed duration=0.2s events=3 error="{{ env.TICKET }} still broken"
"""
idempotency_key = "k-{{ env.KEYSEED }}"
branch = "fix/{{ env.BRANCH_SECRET }}"
notify = [{ webhook = "{{ env.HOOK }}", on = ["always"] },
          { slack = "{{ env.SLACK }}", on = ["failed"] }]
'''


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.close()


@pytest.mark.mogrun_emulator(repos=["acme/hushhush-svc"])
def test_junit_and_webhooks_mask_every_secret_the_job_uses(tmp_path, mogrun_emulator,
                                                           mogrun_cli, receiver):
    write_taskfile(tmp_path, textwrap.dedent(TASKS))
    hook, slack = receiver.url("/hook/tok-abc123"), receiver.url("/services/T1/B2/zzz999")
    report = tmp_path / "junit.xml"
    result = mogrun_cli("run", "--junit", str(report), "fix", cwd=tmp_path,
                        env={**SECRETS, "HOOK": hook, "SLACK": slack,
                             "MOGRUN_POLL_INTERVAL": "0.1"})
    assert result.exit_code == 1, result
    xml_text = report.read_text(encoding="utf-8")
    case = ET.fromstring(xml_text).find("testsuite/testcase")
    assert case is not None and case.get("name") == "acme/***"
    bodies = {r["path"]: r["json"] for r in receiver.received}
    assert set(bodies) == {"/hook/tok-abc123", "/services/T1/B2/zzz999"}
    assert bodies["/hook/tok-abc123"]["runs"][0]["repo"] == "acme/***"
    assert "acme/***" in bodies["/services/T1/B2/zzz999"]["text"]
    written = {"junit": xml_text, "webhooks": json.dumps(bodies),
               "stdout": result.stdout, "stderr": result.stderr}
    for secret in [*SECRETS.values(), hook, slack]:
        for where, text in written.items():
            assert secret not in text, (secret, where)


@pytest.mark.mogrun_emulator(repos=["acme/hushhush-svc"])
@pytest.mark.parametrize("mode", [("-v", "--json"), ("-v",)])
def test_no_secret_in_anything_mogrun_writes(tmp_path, mogrun_emulator, mogrun_cli, receiver,
                                             mode):
    """Everything one run writes — stdout, stderr (-v traces), --json, the history
    database, JUnit, the GitHub step summary and outputs, webhook bodies."""
    write_taskfile(tmp_path, textwrap.dedent(TASKS))
    hook, slack = receiver.url("/hook/tok-abc123"), receiver.url("/services/T1/B2/zzz999")
    files = {name: tmp_path / f"{name}.txt" for name in ("summary", "outputs")}
    result = mogrun_cli(*mode, "run", "--junit", str(tmp_path / "junit.xml"), "fix",
                        cwd=tmp_path,
                        env={**SECRETS, "HOOK": hook, "SLACK": slack, "GITHUB_ACTIONS": "true",
                             "GITHUB_STEP_SUMMARY": str(files["summary"]),
                             "GITHUB_OUTPUT": str(files["outputs"]),
                             "MOGRUN_POLL_INTERVAL": "0.1"})
    assert result.exit_code == 1, result
    history = tmp_path / ".mogrun" / "history.db"
    written = {"stdout": result.stdout, "stderr": result.stderr,
               "webhooks": json.dumps([r["json"] for r in receiver.received]),
               "junit": (tmp_path / "junit.xml").read_text(encoding="utf-8"),
               "history": history.read_bytes().decode("utf-8", "replace"),
               **{name: path.read_text(encoding="utf-8") for name, path in files.items()
                  if path.exists()}}
    assert len(receiver.received) == 2 and "acme/***" in written["junit"]
    if "--json" not in mode:  # --json replaces the GitHub reporter
        # The step summary shows the mask as written: Markdown-escaped, never emphasis.
        assert r"acme/\*\*\*" in written["summary"] and written["outputs"]
    leaks = [(secret, where) for secret in [*SECRETS.values(), hook, slack]
             for where, text in written.items() if secret in text]
    assert leaks == []


@pytest.mark.mogrun_emulator(repos=["acme/other"])
def test_a_repo_named_from_env_that_is_not_found_stays_masked(tmp_path, mogrun_emulator,
                                                              mogrun_cli):
    write_taskfile(tmp_path, '[jobs.fix]\nrepo = "acme/{{ env.REPO_SECRET }}"\nprompt = "go"\n')
    result = mogrun_cli("-v", "run", "fix", cwd=tmp_path, env=SECRETS)
    assert result.exit_code == 2, result
    assert "Error: repo 'acme/***' is not one of this token's repos" in result.stderr
    assert "> GET " in result.stderr and "/repos?" in result.stderr  # the look-up is traced
    assert SECRETS["REPO_SECRET"] not in result.output
