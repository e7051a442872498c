"""Error codes of a start -> exit codes, through `mogrun run` end to end."""

from __future__ import annotations

from mogrun.testing import write_taskfile

TASKS = """
    [jobs.hello]
    repo = "acme/api"
    prompt = "hi\\n@emulator duration=0.2s"
    idempotency_key = "hello-fixed"

    [jobs.broken]
    repo = "acme/api"
    prompt = "hi\\n@emulator status=exploded"
"""


def test_a_read_only_token_cannot_start_exit_65(mogrun_cli, mogrun_emulator, tmp_path):
    write_taskfile(tmp_path, TASKS)
    result = mogrun_cli("hello", cwd=tmp_path,
                        env={"MOGPLEX_API_KEY": mogrun_emulator.read_token})
    assert result.exit_code == 65, result
    assert "(FORBIDDEN, HTTP 403)" in result.output
    assert mogrun_emulator.runs == []


def test_with_keep_going_a_refused_token_says_why_the_rest_did_not_start(
        mogrun_cli, mogrun_emulator, tmp_path):
    # The skipped job said "use -k to keep going" though -k was given: after a 401/403
    # nothing can start, and the reason is the token, not a missing -k.
    write_taskfile(tmp_path, """
        # two independent jobs, one slot: the second waits for the first
        [defaults]
        repo = "acme/api"
        prompt = "hi\\n@emulator duration=0.2s"

        [jobs.first]

        [jobs.second]

    """)
    result = mogrun_cli("-k", "-j", "1", "first", "second", cwd=tmp_path,
                        env={"MOGPLEX_API_KEY": mogrun_emulator.read_token})
    assert result.exit_code == 65, result
    assert "the API refused the token, so no run can start with it" in result.output
    assert "use -k" not in result.output
    assert mogrun_emulator.runs == []


def test_an_unknown_token_exits_64(mogrun_cli, mogrun_emulator, tmp_path):
    write_taskfile(tmp_path, TASKS)
    result = mogrun_cli("hello", cwd=tmp_path, env={"MOGPLEX_API_KEY": "mog_unknown"})
    assert result.exit_code == 64, result
    assert "(UNAUTHORIZED, HTTP 401)" in result.output
    assert "mog_unknown" not in result.output


def test_a_start_the_server_refuses_exits_1_with_its_message(mogrun_cli, mogrun_emulator,
                                                             tmp_path):
    write_taskfile(tmp_path, TASKS)
    result = mogrun_cli("broken", cwd=tmp_path)
    assert result.exit_code == 1, result
    assert "(BAD_REQUEST, HTTP 400)" in result.output
    assert mogrun_emulator.count("POST", "/runs", status=400) == 1  # never retried


def test_a_dropped_start_is_retried_into_one_run(mogrun_cli, mogrun_emulator, tmp_path):
    write_taskfile(tmp_path, TASKS)
    mogrun_emulator.add_fault("start", "drop_after_commit")
    result = mogrun_cli("hello", cwd=tmp_path)
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.runs) == 1
    keys = {r.idempotency_key for r in mogrun_emulator.requests if r.method == "POST"}
    assert keys == {"hello-fixed"}
    assert "attached to existing run" not in result.output
