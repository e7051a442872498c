"""A ``.mogrun`` (or a file in it, or the ``--junit`` report's path) committed to
the repository as a symlink: an ordinary run in CI wrote through it, creating or
overwriting whatever it named outside the checkout. Each is refused, said, and
left as it was."""

from __future__ import annotations

import os

import pytest

from mogrun.testing import job, task_file

JOBS = task_file(job("lint"), job("fan", repo=["acme/api", "acme/web"]))


@pytest.fixture
def project(mogrun_project, mogrun_emulator, tmp_path_factory):
    mogrun_project.write(JOBS)
    mogrun_project.env.update({"MOGRUN_POLL_INTERVAL": "0.1"})
    mogrun_project.outside = tmp_path_factory.mktemp("outside")  # the runner's own files
    return mogrun_project


def plant(project, name: str, target_name: str, content: bytes | None = b"precious\n"):
    """``.mogrun/NAME`` as a link to a file outside (``content``: there before;
    ``None``: not there yet, as a link to be created through)."""
    target = project.outside / target_name
    if content is not None:
        target.write_bytes(content)
    link = project.root / ".mogrun" / name
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(target)
    return target


@pytest.mark.parametrize("content", [b"precious\n", b"", None])
def test_a_linked_history_is_not_written_through(project, content) -> None:
    target = plant(project, "history.db", "victim", content)
    result = project("lint")
    assert result.exit_code == 0, result  # the run itself goes on, unrecorded, as said
    assert f"{project.root / '.mogrun' / 'history.db'}: it is a symlink (to {target})" \
        in result.stderr
    assert (target.read_bytes() if target.exists() else None) == content
    history = project("history")
    assert history.exit_code == 1 and "it is a symlink" in history.stderr, history


def test_a_linked_repo_cache_is_neither_read_nor_written(project) -> None:
    target = plant(project, "repos.json", "victim")
    for _ in range(2):
        result = project("fan")
        assert result.exit_code == 0, result
    assert target.read_bytes() == b"precious\n"


def test_a_linked_state_folder_gets_nothing_written_into_it(project) -> None:
    folder = project.outside / "elsewhere"
    folder.mkdir()
    (project.root / ".mogrun").symlink_to(folder)
    result = project("fan")
    assert result.exit_code == 0, result
    assert f"its folder {project.root / '.mogrun'} is a symlink (to {folder})" in result.stderr
    assert os.listdir(folder) == []
    local = project("--local", "lint")
    assert local.exit_code == 0, local
    assert os.listdir(folder) == []


def test_linked_local_events_are_not_written_through(project) -> None:
    target = plant(project, "local-events.db", "victim", b"")
    result = project("--local", "lint")
    assert result.exit_code == 0, result
    assert "cannot keep the --local runs' events" in result.stderr
    assert target.read_bytes() == b""


@pytest.mark.parametrize("content", [b"", b"<?xml version='1.0'?><testsuites/>\n", None])
def test_a_junit_path_that_is_a_link_is_refused_before_any_run(project, mogrun_emulator,
                                                               content) -> None:
    target = project.outside / "victim.xml"
    if content is not None:
        target.write_bytes(content)
    (project.root / "mogrun-junit.xml").symlink_to(target)
    result = project("run", "--junit", "mogrun-junit.xml", "lint")
    assert result.exit_code == 2, result
    assert result.errors == [f"Error: --junit mogrun-junit.xml: is a symlink (to {target}); "
                             "the report is written through no link: remove it, or give "
                             "another path"]
    assert (target.read_bytes() if target.exists() else None) == content
    assert mogrun_emulator.runs == []


@pytest.mark.parametrize("typed", ["reports/junit.xml", "reports/ci/junit.xml",
                                   "reports/../junit.xml", "{root}/reports/junit.xml"])
def test_a_junit_path_in_a_linked_folder_is_refused_before_any_run(project, mogrun_emulator,
                                                                   typed) -> None:
    # A folder of the report's path committed as a link had the report (and the folders
    # made for it) written wherever it led, past the checkout.
    folder = project.outside / "elsewhere"
    folder.mkdir()
    (project.root / "reports").symlink_to(folder)
    typed = typed.format(root=project.root)
    result = project("run", "--junit", typed, "lint")
    assert result.exit_code == 2, result
    assert result.errors == [f"Error: --junit {typed}: its folder reports is a symlink (to "
                             f"{folder}); the report is written through no link: remove it, "
                             "or give another path"]
    assert os.listdir(folder) == [] and mogrun_emulator.runs == []
    assert not (project.outside / "junit.xml").exists()  # reports/.. is its parent


def test_a_junit_path_through_links_above_the_working_directory_is_written(
        project, tmp_path_factory) -> None:
    # The folders above the working directory are the machine's (macOS's /tmp is a link).
    real = tmp_path_factory.mktemp("real")
    linked = tmp_path_factory.mktemp("links") / "tmp"
    linked.symlink_to(real)
    result = project("run", "--junit", str(linked / "junit.xml"), "lint")
    assert result.exit_code == 0, result
    assert (real / "junit.xml").read_bytes().startswith(b"<?xml")
