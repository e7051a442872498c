"""Regressions found by review: each test names the defect it guards against."""

from __future__ import annotations


def test_a_job_named_like_a_secret_is_not_a_secret_key(project) -> None:
    # Job names are names, not values: "rotate-token" holds no credential.
    project.write("""
        [jobs.rotate-token]
        repo = "acme/api"
        prompt = "Rotate the deploy token."
    """)
    result = project.run("check")
    assert result.code == 0, result
    assert "secret-looking" not in result.err
    assert project.run("show", "rotate-token").code == 0
