"""mogrun.testing's project fixture, task-file builders and markers, as a
plugin author's test uses them."""

from __future__ import annotations

import pytest

from mogrun.testing import job, task_file


def test_builders_write_a_file_check_accepts(mogrun_project) -> None:
    mogrun_project.write(task_file(
        job("lint", description="Lint it", needs=[]),
        job("fan", repo=["acme/api", "acme/web"], retry={"attempts": 2}),
        mogplex={"requests_per_minute": 600}, vars={"team": "platform"}))
    result = mogrun_project.run("--no-plugins", "check")
    assert result.exit_code == 0, result
    assert result.stdout.strip().endswith("ok (2 jobs)")


def test_a_value_needing_escapes_round_trips(mogrun_project) -> None:
    mogrun_project.write(task_file(job("q", prompt='say "hi"\tand\\go')))
    result = mogrun_project.run("--json", "show", "q")
    assert result.exit_code == 0, result
    assert '"say \\"hi\\"\\tand\\\\go"' in result.stdout


def test_project_runs_against_the_emulator_and_is_marked_e2e(
        request, mogrun_emulator, mogrun_project) -> None:
    mogrun_project.write(task_file(job("hello")))
    result = mogrun_project("hello", env={"MOGRUN_POLL_INTERVAL": "0.1"})
    assert result.exit_code == 0, result
    assert len(mogrun_emulator.runs) == 1
    assert request.node.get_closest_marker("e2e") is not None


def test_a_test_without_an_emulator_is_not_e2e(request) -> None:
    assert request.node.get_closest_marker("e2e") is None


def test_result_repr_shows_both_streams(mogrun_project) -> None:
    result = mogrun_project.run("nope-no-such-job")
    assert result.exit_code == 2
    assert result.errors and result.errors[0].startswith("Error: ")
    assert repr(result).startswith("<MogrunResult exit_code=2\nstdout:\n  (empty)\nstderr:\n")


@pytest.mark.parametrize("value, text", [(True, "true"), (3, "3"), ("a", '"a"'),
                                         (["x", 1], '["x", 1]'), ({"k": "v"}, '{ k = "v" }')])
def test_toml_values(value, text) -> None:
    from mogrun.testing import toml_value

    assert toml_value(value) == text
