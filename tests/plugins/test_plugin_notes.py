"""What was asked of the plugins and silently not done is said, once.

A task file's plugin registering `--pager` got `check` saying ok, `plugins`
showing `provides -` and `run --pager P` failing "No such option" with no
word of why; `MOGRUN_DISABLE_PLUGINS=1` (or a typo, or a bundled plugin's
name) left out nothing without a word, and so did `--no-plugins` of a `-p`
plugin."""

from __future__ import annotations

import json

import pytest

from mogrun.testing import write_taskfile

PAGER = """\
# pages the on-call service when a job fails
from mogrun.plugin import hookimpl


@hookimpl
def mogrun_add_options(register):
    register("pager", help="Page this PagerDuty service.", metavar="SERVICE")
    register("dry-page", help="Log pages instead.", flag=True)

"""

TASKS = (
    "# the team's jobs\r\n"
    "[mogplex]\r\n"
    'plugins = ["plugins/pager.py"]  # ours\r\n'
    "\r\n"
    "[jobs.fix]\r\n"
    'repo = "acme/api"\r\n'
    'prompt = """Fix it.\r\n@emulator duration=0.3s events=2\r\n"""\r\n'
    "\r\n"
)
LATE = ('plugin "pager" of the task file registers options "--pager", "--dry-page", which '
        "mogrun run does not have: a task file's plugins load after the command line is "
        "parsed (load it with mogrun run -p plugins/pager.py, or install it with an entry "
        "point)")
POLL = {"MOGRUN_POLL_INTERVAL": "0.2"}


@pytest.fixture
def team(tmp_path):
    write_taskfile(tmp_path, TASKS)
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "pager.py").write_text(PAGER)
    return tmp_path


def warnings_of(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.lower().startswith("warning")]


@pytest.mark.parametrize("command", [("plugins",), ("show", "fix"), ("run", "fix")])
def test_an_option_of_a_task_file_plugin_is_warned_of(team, mogrun_emulator, mogrun_cli,
                                                      command):
    result = mogrun_cli(*command, cwd=team, env=POLL)
    assert result.exit_code == 0, result
    assert warnings_of(result) == [f"warning: {LATE}"]


def test_check_lists_an_option_of_a_task_file_plugin(team, mogrun_cli):
    result = mogrun_cli("check", cwd=team)
    assert result.exit_code == 0, result
    assert warnings_of(result) == [f"warning: {LATE}"]
    result = mogrun_cli("--json", "check", cwd=team)
    assert json.loads(result.stdout)["warnings"] == [
        {"message": LATE, "context": [], "file": None, "line": None, "column": None}]


@pytest.mark.parametrize("line", [("run", "--pager", "P", "fix"), ("--pager", "P", "fix"),
                                  ("run", "--dry-page", "fix")])
def test_no_such_option_says_a_task_file_plugin_declares_it(team, mogrun_emulator,
                                                            mogrun_cli, line):
    result = mogrun_cli(*line, cwd=team)
    assert result.exit_code == 2, result
    option = line[1] if line[0] == "run" else line[0]
    assert result.stderr.splitlines()[-2:] == [
        f"Error: No such option '{option}'.",
        LATE.replace('options "--pager", "--dry-page"', f'option "{option}"')]
    assert mogrun_emulator.runs == []


def test_the_late_option_hint_names_the_command_typed(team, mogrun_emulator, mogrun_cli):
    """`rerun --pager P fix` was told to load the plugin with `mogrun run -p`."""
    assert mogrun_cli("run", "fix", cwd=team, env=POLL).exit_code == 0
    result = mogrun_cli("rerun", "--pager", "P", "fix", cwd=team)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[-1] == LATE.replace(
        'options "--pager", "--dry-page"', 'option "--pager"').replace("mogrun run", "mogrun rerun")


def test_the_option_works_when_the_plugin_is_loaded_with_p(team, mogrun_emulator, mogrun_cli):
    result = mogrun_cli("run", "-p", "plugins/pager.py", "--pager", "P", "fix", cwd=team,
                        env=POLL)
    assert result.exit_code == 0, result
    assert warnings_of(result) == []
    listed = mogrun_cli("--json", "plugins", "-p", "plugins/pager.py", cwd=team)
    pager = [json.loads(line) for line in listed.stdout.splitlines()][-1]
    assert (pager["source"], pager["options"]) == ("-p", ["--pager", "--dry-page"])
    assert warnings_of(listed) == []


@pytest.mark.parametrize(("names", "said"), [
    ("1", []),  # a switch: every external plugin left out (none named), none warned of
    (" False ", []),  # the switch off: nothing left out, nothing warned of
    ("nope", ['MOGRUN_DISABLE_PLUGINS names "nope", which is no external plugin here, so it '
              "leaves out nothing (it takes plugin names, comma-separated; --no-plugins leaves "
              "out every external plugin)"]),
    (" pagr ,pager", ['MOGRUN_DISABLE_PLUGINS names "pagr", which is no external plugin '
                      'here, so it leaves out nothing (did you mean "pager"?)']),
    ("retry", ['MOGRUN_DISABLE_PLUGINS names "retry", a bundled plugin: bundled plugins '
               "always load (their job keys are part of the task-file format)"]),
    ("pager", []),
])
@pytest.mark.parametrize("json_out", [False, True])
def test_a_disabled_name_that_leaves_out_nothing_is_warned_of(team, mogrun_cli, names, said,
                                                              json_out):
    (team / "plugins" / "pager.py").write_text("from mogrun.plugin import hookimpl\n")
    env = {"MOGRUN_DISABLE_PLUGINS": names}
    result = mogrun_cli(*(["--json"] if json_out else []), "plugins", cwd=team, env=env)
    assert result.exit_code == 0, result
    assert warnings_of(result) == [f"warning: {line}" for line in said]
    if json_out:  # stdout is the plugins' objects alone
        assert [json.loads(line)["name"] for line in result.stdout.splitlines()][:4] == [
            "retry", "gates", "notify", "junit"]


def test_p_under_no_plugins_is_warned_of(team, mogrun_cli):
    result = mogrun_cli("--json", "--no-plugins", "plugins", "-p", "plugins/pager.py",
                        cwd=team)
    assert result.exit_code == 0, result
    assert warnings_of(result) == [
        "warning: --no-plugins loads only the bundled plugins, so it leaves out -p "
        "plugins/pager.py (--no-plugins wins over -p)"]
    assert "pager" not in result.stdout
    json.loads(result.stdout.splitlines()[0])


def test_p_under_the_disable_switch_names_the_variable(team, mogrun_cli):
    """It said "--no-plugins wins over -p" to a user who typed no --no-plugins."""
    result = mogrun_cli("--json", "plugins", "-p", "plugins/pager.py", cwd=team,
                        env={"MOGRUN_DISABLE_PLUGINS": "true"})
    assert result.exit_code == 0, result
    assert warnings_of(result) == [
        "warning: MOGRUN_DISABLE_PLUGINS=true loads only the bundled plugins, so it leaves "
        "out -p plugins/pager.py (MOGRUN_DISABLE_PLUGINS=true wins over -p)"]
    assert "pager" not in result.stdout
