"""`mogrun plugins` end to end through the CLI (in-process run_cli)."""

from __future__ import annotations

import json
import textwrap

import pytest

from mogrun.cli.main import run_cli

TASK_FILE = """
[mogplex]
plugins = ["plugins/team_gate.py"]

[jobs.a]
repo = "acme/api"
prompt = "x"
"""

GATE = """
from mogrun.hookspecs import hookimpl

@hookimpl
def {hook}(job):
    return None
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "mogplex.toml").write_text(TASK_FILE)
    (tmp_path / "plugins").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MOGRUN_FILE", raising=False)
    monkeypatch.delenv("MOGRUN_DISABLE_PLUGINS", raising=False)

    def write_gate(hook="mogrun_gate"):
        (tmp_path / "plugins" / "team_gate.py").write_text(GATE.format(hook=hook))

    return write_gate


def own_rows(out):
    rows = [json.loads(line) for line in out.splitlines()]
    return [r for r in rows if r["source"] in ("bundled", "task file", "-p")]


def test_table_lists_bundled_and_task_file_plugins(project, capsys):
    project()
    assert run_cli(["--no-color", "plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["plugin", "source", "hooks", "provides"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    cells = {line.split()[0]: line for line in lines[2:]}
    assert "add_options, configure, session_finished" in cells["junit"]
    assert cells["junit"].endswith("--junit")
    assert cells["retry"].endswith("key retry")
    assert "task file" in cells["team_gate"] and "gate" in cells["team_gate"]


def test_json_is_one_object_per_plugin(project, capsys):
    project()
    assert run_cli(["--json", "plugins"]) == 0
    rows = own_rows(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["retry", "gates", "notify", "junit", "team_gate"]
    assert rows[-1]["hooks"] == ["mogrun_gate"]
    assert rows[-1]["origin"].endswith("plugins/team_gate.py")
    assert rows[0]["keys"] == ["retry"] and rows[3]["options"] == ["--junit"]


def test_misspelled_hook_exits_2_naming_plugin_and_hook(project, capsys):
    project("mogrun_gatee")
    assert run_cli(["plugins"]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert [lines[0], *lines[4:]] == [
        'Error: plugin "team_gate" implements unknown hook "mogrun_gatee"',
        'Did you mean "mogrun_gate"?',
    ]
    assert lines[1].endswith("mogplex.toml:3:12")  # at the plugin's entry in the file
    assert "Traceback" not in err


def test_no_plugins_and_disable_env_drop_external_ones(project, capsys, monkeypatch):
    project("mogrun_gatee")  # broken, but never loaded
    assert run_cli(["--json", "--no-plugins", "plugins"]) == 0
    assert [r["name"] for r in own_rows(capsys.readouterr().out)] == [
        "retry", "gates", "notify", "junit"]
    monkeypatch.setenv("MOGRUN_DISABLE_PLUGINS", "team_gate")
    project()
    assert run_cli(["--json", "plugins"]) == 0
    assert "team_gate" not in [r["name"] for r in own_rows(capsys.readouterr().out)]


def test_without_a_task_file_and_with_dash_p(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MOGRUN_FILE", raising=False)
    (tmp_path / "extra.py").write_text(textwrap.dedent(GATE.format(hook="mogrun_event")))
    assert run_cli(["--json", "plugins", "-p", "extra.py"]) == 0
    rows = own_rows(capsys.readouterr().out)
    assert rows[-1] == {"name": "extra", "source": "-p", "origin": str(tmp_path / "extra.py"),
                        "hooks": ["mogrun_event"], "keys": [], "options": []}


def test_missing_explicit_task_file_is_still_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli(["-f", "nope.toml", "plugins"]) == 2
    assert capsys.readouterr().err.startswith("Error: task file nope.toml")


@pytest.mark.parametrize(("plugins", "said"), [
    ('"plugins/team_gate.py"', "[mogplex] plugins must be a list of plugin names or .py paths"),
    ('["../team_gate.py"]', "[mogplex] plugins: '../team_gate.py' may not contain \"..\""),
])
def test_a_plugins_entry_run_refuses_is_refused_not_left_out(project, tmp_path, capsys,
                                                              plugins, said):
    # It listed the bundled plugins alone, exit 0: as if the file asked for nothing more.
    project()
    text = TASK_FILE.replace('["plugins/team_gate.py"]', plugins)
    (tmp_path / "mogplex.toml").write_text(text)
    assert run_cli(["plugins"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"Error: {said}") and "mogplex.toml:3:" in err


@pytest.mark.parametrize(("plugins", "said"), [
    ('"plugins/team_gate.py"', "[mogplex] plugins must be a list of plugin names or .py paths"),
    ('["../team_gate.py"]', "[mogplex] plugins: '../team_gate.py' may not contain \"..\""),
])
def test_schema_warns_of_a_plugins_entry_it_leaves_out(project, tmp_path, capsys,
                                                        plugins, said):
    """`schema` gives an editor the keys of the plugins that load, whatever else is
    wrong; but an entry no loader tries was left out without a word, exit 0."""
    project()
    (tmp_path / "mogplex.toml").write_text(TASK_FILE.replace('["plugins/team_gate.py"]',
                                                             plugins))
    assert run_cli(["schema"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["type"] == "object"
    assert err.startswith(f"warning: {said}"), err
    assert "(the keys of what it names are not in the schema)" in err.splitlines()[0], err
