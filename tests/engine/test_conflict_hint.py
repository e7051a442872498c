"""The IDEMPOTENCY_CONFLICT hint names what changed since an earlier invocation
sent the key; when nothing did, it says so (the server holds another request
under the key) rather than "the job's the request changed"."""

from __future__ import annotations

JOB = """
    [jobs.a]
    repo = "acme/api"
    prompt = "first {{ team }}\\n@emulator duration=0.2s"
    idempotency_key = "fixed-key"
    [vars]
    team = "x"
"""

WAY_OUT = ("start a fresh attempt with: mogrun --set team=y rerun a (or give the job a new "
           "idempotency_key)")


def test_a_conflict_with_nothing_changed_since_the_last_send_says_so(
        project, mogrun, mogrun_emulator):
    """The second invocation sent the edited prompt and was refused; the third sends
    what the second did: none of its fields differs from the row history recalls,
    yet the server holds the first invocation's request under the key."""
    project(JOB)
    assert mogrun("-q", "a").exit_code == 0
    edited = mogrun("--set", "team=y", "a")
    assert edited.exit_code == 1, edited
    assert ": the job's prompt changed since invocation " in edited.stderr
    again = mogrun("--set", "team=y", "a")
    assert again.exit_code == 1, again
    assert "the job's the request" not in again.stderr
    assert "changed since invocation" not in again.stderr
    line = next(x for x in again.stderr.splitlines() if "IDEMPOTENCY_CONFLICT" in x)
    assert "(IDEMPOTENCY_CONFLICT, HTTP 409): the request is the one invocation " in line
    assert " sent under this key (" in line
    assert line.endswith("or with another value of a secret); " + WAY_OUT), line
    assert "), but the server holds a different one under it (sent by an earlier " in line
    assert len(mogrun_emulator.runs) == 1
