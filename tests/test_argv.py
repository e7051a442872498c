"""The command-line rewriting before click parses (pure functions), and the
click-free listing path giving what the full parser gives."""

from __future__ import annotations

import pytest

from mogrun.cli.app import listing_options
from mogrun.cli.argv import command_index, hoist_globals, route_run_options
from mogrun.testing import job, task_file

GROUP = {"-f": True, "--file": True, "--local": False, "--json": False, "-q": False,
         "-v": False, "--set": True}
LOGS = {"-f": False, "--follow": False, "-h": False, "--help": False}


@pytest.mark.parametrize("argv, expected", [
    (["logs", "x", "--local", "--json"], ["--local", "--json", "logs", "x"]),
    (["logs", "-f", "x", "-q"], ["-q", "logs", "-f", "x"]),              # logs' own -f
    (["logs", "x", "--set", "a=b", "-qv"], ["--set", "a=b", "-qv", "logs", "x"]),
    (["logs", "x", "--file=t.toml"], ["--file=t.toml", "logs", "x"]),
    (["logs", "--", "--local"], ["logs", "--", "--local"]),               # after -- stays
    (["-v", "logs", "x", "--local"], ["-v", "--local", "logs", "x"]),
    (["logs", "--unknown", "--local"], ["--local", "logs", "--unknown"]),
])
def test_hoist_globals(argv, expected) -> None:
    start = command_index(argv, GROUP)
    assert start is not None
    assert hoist_globals(argv, start, GROUP, LOGS) == expected


@pytest.mark.parametrize("argv, expected", [
    (["-j", "8", "a"], ["run", "-j", "8", "a"]),
    (["-q", "--detach", "a"], ["-q", "run", "--detach", "a"]),
    (["-fx.toml", "-k", "a"], ["-fx.toml", "run", "-k", "a"]),
    (["status"], ["status"]),
])
def test_run_options_route_to_run(argv, expected) -> None:
    assert route_run_options(argv, GROUP) == expected


@pytest.mark.parametrize("argv, expected", [
    ([], {}),
    (["list"], {}),
    (["-l", "--json"], {"json_output": True}),
    (["--file", "x.toml", "list", "-q"], {"file": "x.toml", "quiet": True}),
    (["--file=x.toml"], {"file": "x.toml"}),
    (["list", "list"], None),
    (["list", "extra"], None),
    (["--set", "a=b", "list"], None),
    (["-f"], None),
    (["status"], None),
])
def test_listing_options(argv, expected) -> None:
    assert listing_options(argv) == expected


@pytest.mark.parametrize("fast, full", [
    (["list"], ["-v", "list"]),
    (["--json", "list"], ["--json", "-v", "list"]),
    (["-l"], ["list", "--local"]),
])
def test_the_click_free_listing_says_what_click_says(mogrun_project, fast, full) -> None:
    mogrun_project.write(task_file(job("a", description="first"), job("b", needs=["a"])))
    quick, slow = mogrun_project.run(*fast), mogrun_project.run(*full)
    assert (quick.exit_code, quick.stdout, quick.stderr) == (0, slow.stdout, slow.stderr)


def test_the_click_free_listing_reports_errors_the_same_way(mogrun_project) -> None:
    quick, slow = mogrun_project.run("list"), mogrun_project.run("-v", "list")
    assert quick.exit_code == slow.exit_code == 2
    assert quick.stderr == slow.stderr
    assert quick.stderr.startswith("Error: no mogplex.toml found in ")
