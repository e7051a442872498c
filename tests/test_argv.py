"""The command-line rewriting before click parses (pure functions), and the
click-free lines (list, check, show) giving what the full parser gives."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mogrun.cli.app import quick_line
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


RUN = {"-k": False, "-n": False, "-j": True, "--jobs": True, "-h": False}


@pytest.mark.parametrize("argv, command, expected", [
    (["logs", "x", "-fv"], LOGS, ["-v", "logs", "x", "-f"]),       # logs' -f, then global -v
    (["logs", "-vf", "x"], LOGS, ["-v", "logs", "-f", "x"]),
    (["logs", "-qvz"], LOGS, ["-qv", "logs", "-z"]),              # -z: click names it
    (["run", "-kq", "-n", "a"], RUN, ["-q", "run", "-k", "-n", "a"]),
    (["run", "-qj", "8", "a"], RUN, ["-q", "run", "-j", "8", "a"]),  # -j takes the next word
    (["run", "-qj8", "a"], RUN, ["-q", "run", "-j8", "a"]),
    (["run", "-kfx.toml", "a"], RUN, ["-fx.toml", "run", "-k", "a"]),  # -f takes the rest
    (["run", "-kf", "x.toml", "a"], RUN, ["-f", "x.toml", "run", "-k", "a"]),
    (["run", "-fk", "a"], RUN, ["-fk", "run", "a"]),              # the file named k, as click
])
def test_hoist_globals_splits_a_mixed_cluster(argv, command, expected) -> None:
    """A cluster of the command's and global short flags was taken whole by one
    table: ``logs -fv`` read v as the task file, ``run -kq`` had no -q."""
    assert hoist_globals(argv, 0, GROUP, command) == expected


@pytest.mark.parametrize("argv, expected", [
    (["show", "-f"], ["-f"]),
    (["-v", "show", "x", "--local", "--file"], ["-v", "--local", "--file"]),
    (["run", "-kqf"], ["-qf"]),
])
def test_hoist_globals_for_completion_ends_at_an_option_missing_its_value(argv,
                                                                          expected) -> None:
    """Completing that value is the root's, as before the command (it raised)."""
    start = command_index(argv, GROUP)
    assert start is not None
    assert hoist_globals(argv, start, GROUP, RUN, resilient=True) == expected


@pytest.mark.parametrize("argv, expected", [
    (["-vf", "x.toml", "a"], ["-vf", "x.toml", "a"]),             # the group's own cluster
    (["-kq", "a"], ["run", "-kq", "a"]),
    (["-j", "8", "a"], ["run", "-j", "8", "a"]),
    (["-q", "--detach", "a"], ["-q", "run", "--detach", "a"]),
    (["-fx.toml", "-k", "a"], ["-fx.toml", "run", "-k", "a"]),
    (["status"], ["status"]),
])
def test_run_options_route_to_run(argv, expected) -> None:
    assert route_run_options(argv, GROUP) == expected


NO_OWN = {"plugins": [], "jobs": [], "no_deps": False}


@pytest.mark.parametrize("argv, expected", [
    ([], ("list", {}, NO_OWN)),
    (["list"], ("list", {}, NO_OWN)),
    (["-l", "--json"], ("list", {"json_output": True}, NO_OWN)),
    (["--file", "x.toml", "list", "-q"], ("list", {"file": "x.toml", "quiet": True}, NO_OWN)),
    (["--file=x.toml"], ("list", {"file": "x.toml"}, NO_OWN)),
    (["check", "--json", "-p", "a.py"], ("check", {"json_output": True},
                                         {**NO_OWN, "plugins": ["a.py"]})),
    (["--set", "a=b", "show", "x", "list", "--no-deps"],
     ("show", {"sets": ["a=b"]}, {**NO_OWN, "jobs": ["x", "list"], "no_deps": True})),
    (["list", "list"], None),
    (["list", "extra"], None),
    (["check", "extra"], None),
    (["check", "show"], None),
    (["show"], None),                      # show needs a job: the command says so
    (["show", "x", "--help"], None),
    (["show", "-px.py", "x"], None),       # joined values are left to click
    (["--no-deps", "show", "x"], None),    # show's own flag before show
    (["-p", "x.py", "check"], None),
    (["--set", "a=b", "list"], ("list", {"sets": ["a=b"]}, NO_OWN)),  # list judges --set too
    (["-f", "a", "-f", "b", "check"], None),
    (["check", "-p"], None),
    (["-f"], None),
    (["status"], None),
    (["--url", "http://x", "check"], None),
])
def test_quick_line(argv, expected) -> None:
    assert quick_line(argv) == expected


QUICK_FILE = task_file(job("a", description="first", prompt="Fix {{ team }}"),
                       job("b", needs=["a"], repo=["acme/api", "acme/web"]),
                       vars={"team": "web"})


@pytest.mark.parametrize("fast, full", [
    (["list"], ["-v", "list"]),
    (["--json", "list"], ["--json", "-v", "list"]),
    (["-l"], ["list", "--local"]),
    (["check"], ["check", "-v"]),
    (["--json", "check"], ["check", "--json", "-v"]),
    (["show", "b"], ["show", "b", "-v"]),
    (["--json", "show", "a", "b", "--no-deps"], ["show", "--no-deps", "a", "b", "--json", "-v"]),
    (["--set", "team=api", "show", "a"], ["show", "a", "--set=team=api"]),
    (["show", "nope"], ["show", "nope", "-v"]),                # did you mean, exit 2
    (["--set", "oops", "show", "a"], ["show", "a", "--set=oops"]),
])
def test_the_click_free_lines_say_what_click_says(mogrun_project, fast, full) -> None:
    assert quick_line(fast) is not None and quick_line(full) is None
    mogrun_project.write(QUICK_FILE)
    quick, slow = mogrun_project.run(*fast), mogrun_project.run(*full)
    assert (quick.exit_code, _same_key(quick.stdout), quick.stderr) == (
        slow.exit_code, _same_key(slow.stdout), slow.stderr)
    assert quick.stdout or quick.stderr


def _same_key(text: str) -> str:
    """Each invocation draws its own idempotency key (``mogrun-JOB-<random>``)."""
    return re.sub(r"(mogrun-[ab])-[0-9a-f]{10}", r"\1-KEY", text)


@pytest.mark.parametrize("text", [
    "[jobs.a]\nrepo = 1\n\n",                  # a type error, then a trailing blank line
    "\ufeff[jobs.a]\r\nrepo = \"acme/api\"\r\nprompt = \"x\"\r\nbogus = 1\r\n",
    "[jobs.a]\n\trepo = \"acme/api\"  # here\n\tprompt = \"{{ nope }}\"\n",
    "[jobs.a\n",                                 # not TOML
])
def test_quick_check_reports_bad_files_as_click_does(mogrun_project, text) -> None:
    mogrun_project.path.write_bytes(text.encode("utf-8"))
    for flags in ([], ["--json"]):
        quick, slow = mogrun_project.run(*flags, "check"), mogrun_project.run(*flags, "check", "-v")
        assert quick.exit_code == slow.exit_code == 2
        assert (quick.stdout, quick.stderr) == (slow.stdout, slow.stderr)


def test_the_click_free_listing_reports_errors_the_same_way(mogrun_project) -> None:
    quick, slow = mogrun_project.run("list"), mogrun_project.run("-v", "list")
    assert quick.exit_code == slow.exit_code == 2
    assert quick.stderr == slow.stderr
    assert quick.stderr.startswith("Error: no mogplex.toml found in ")


MESSY_FILE = ("\ufeff# the team's jobs\r\n[vars]\r\nteam = \"web\"  # default\r\n\r\n"
              "[jobs.a]\r\n\trepo = \"acme/api\"\r\n\tprompt = \"Fix {{ team }}\"\r\n\r\n"
              "[jobs.b]  # fan-out\r\nrepo = [\"acme/api\", \"acme/web\"]\r\n"
              "prompt = \"Tidy {{ repo }}\"\r\nneeds = [\"a\"]\r\n\r\n\r\n")
GLOBALS = st.sampled_from([["--json"], ["-q"], ["--quiet"], ["--no-color"], ["--no-plugins"],
                           ["-f", "mogplex.toml"], ["--file=mogplex.toml"], ["-f", "none.toml"],
                           ["--set", "team=api"], ["--set", "oops"], ["--set", "nope=1"]])
@st.composite
def quick_lines(draw: st.DrawFn) -> list[str]:
    """A list/check/show line with the global flags before or after the command
    and the command's own after it, in any order (as people type them)."""
    command = draw(st.sampled_from(["list", "-l", "check", "show", None]))
    flags = draw(st.lists(GLOBALS, max_size=3))
    at = draw(st.integers(0, len(flags)))
    own: list[list[str]] = []
    if command in ("check", "show"):
        plugin = draw(st.sampled_from([None, "extra.py", "gone.py"]))
        own += [["-p", plugin]] if plugin else []
    if command == "show":
        own += [[name] for name in draw(st.lists(st.sampled_from(["a", "b", "nope", "list"]),
                                                 min_size=1, max_size=2))]
        own += [["--no-deps"]] if draw(st.booleans()) else []
    after = draw(st.permutations(flags[at:] + own))
    return [*(w for part in flags[:at] for w in part), *([command] if command else []),
            *(w for part in after for w in part)]


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.filter_too_much])
@given(argv=quick_lines())
def test_any_quick_line_says_what_click_says(mogrun_project, monkeypatch, argv) -> None:
    # Whatever quick_line takes, the full parser must answer the same, byte for byte:
    # for a file saved as editors do (BOM, CRLF, tabs, comments, trailing blank lines).
    assume(quick_line(argv) is not None)
    mogrun_project.path.write_bytes(MESSY_FILE.encode("utf-8"))
    (mogrun_project.root / "extra.py").write_text('"""A plugin with no hooks."""\n')
    quick = mogrun_project.run(*argv)
    with monkeypatch.context() as patch:
        patch.setattr("mogrun.cli.app.quick_line", lambda args: None)
        slow = mogrun_project.run(*argv)
    assert (quick.exit_code, _same_key(quick.stdout), quick.stderr) == (
        slow.exit_code, _same_key(slow.stdout), slow.stderr), argv


@pytest.mark.parametrize("argv", [["check"], ["show", "a"], ["check", "-v"]])
def test_a_ctrl_c_while_checking_is_one_line_on_either_path(mogrun_project, monkeypatch,
                                                             argv) -> None:
    # A 10,000-job file takes seconds to check: Ctrl-C then is "Interrupted.", exit 130,
    # whether the line went the click-free way or through click.
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    mogrun_project.write(QUICK_FILE)
    monkeypatch.setattr("mogrun.cli.taskfile_views.check_file", interrupted)
    monkeypatch.setattr("mogrun.cli.taskfile_views.show_jobs", interrupted)
    result = mogrun_project.run(*argv)
    assert (result.exit_code, result.stdout, result.stderr) == (130, "", "Interrupted.\n")


@pytest.mark.parametrize(("argv", "option"), [(["list", "-f"], "-f"),
                                              (["show", "hello", "--set"], "--set"),
                                              (["show", "hello", "--url"], "--url"),
                                              (["history", "--file"], "--file")])
def test_a_global_option_left_without_its_value_says_so(mogrun_project, argv, option) -> None:
    """Moved in front of the command, it took the command word for its value: 'task
    file list (from -f/--file) does not exist', '--set expects NAME=VALUE, got show'."""
    mogrun_project.write(task_file(job("hello")))
    result = mogrun_project.run(*argv)
    assert result.exit_code == 2, result
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: Option '{option}' requires an argument.")
