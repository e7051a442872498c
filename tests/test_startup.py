"""Start-up: what each command line imports, checked in a fresh interpreter.

``mogrun list`` (the commonest line) loads no click, plugin, HTTP, editing,
database or rich code; ``check`` and ``show JOB`` load no click; no path but
help loads rich-click, and help loads no pathlib; none reads
``importlib.metadata`` (~20 ms) or ``hashlib`` (~10 ms). bench/startup.py
measures the times; this keeps the imports from creeping back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mogrun.testing import job, task_file

PROBE = """
import sys
from mogrun.cli.app import run_cli
code = run_cli(sys.argv[1:])
modules = sorted(sys.modules)
import json
sys.stdout.flush()
sys.stderr.write("\\nMODULES " + json.dumps(modules) + "\\n")
sys.exit(code)
"""

# The code under test, not whichever mogrun is installed (a worktree run with PYTHONPATH).
PYTHONPATH = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
# A fresh interpreter sees the plugins installed here, a plugin's own imports with
# them: they are left out, as the suite's in-process mogrun never sees them (conftest).
CHILD_ENV = {"PATH": "/usr/bin:/bin"}


@pytest.fixture(autouse=True)
def _machine_plugins_left_out(machine_plugins_off, monkeypatch) -> None:
    for name, value in machine_plugins_off.items():
        monkeypatch.setitem(CHILD_ENV, name, value)


NEVER = ("importlib.metadata", "hashlib", "tomlkit", "urllib3", "sqlite3")
LIST_NEVER = (*NEVER, "click", "rich", "rich_click", "pluggy", "mogrun.pluginhost",
              "mogrun.api", "mogrun.emulator", "threading", "signal")


def loaded(tmp_path, *argv: str, text: str | None = None, code: int = 0,
           site: bool = True) -> set[str]:
    """The modules loaded by ``mogrun ARGV``. ``site=False`` runs without site (-S),
    the code under test and the installed packages on the path: an editable install's
    import hook, run by site, loads pathlib before any code of ours."""
    (tmp_path / "mogplex.toml").write_text(text or task_file(job("a"), job("b", needs=["a"])))
    paths = PYTHONPATH
    if not site:
        import sysconfig

        code_dir = PYTHONPATH.get("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
        paths = {"PYTHONPATH": os.pathsep.join([code_dir, sysconfig.get_paths()["purelib"]])}
    done = subprocess.run([sys.executable, *([] if site else ["-S"]), "-c", PROBE, *argv],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**CHILD_ENV, "COLUMNS": "100", **paths})
    assert done.returncode == code, done.stderr
    return set(json.loads(done.stderr.rpartition("MODULES ")[2]))


def imported(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.parametrize("argv", [["list"], [], ["-l", "--json"], ["-f", "mogplex.toml", "list"]])
def test_listing_the_jobs_loads_nothing_heavy(tmp_path, argv) -> None:
    # Templates too (four dataclasses and six patterns): only a --set needs them.
    assert imported(loaded(tmp_path, *argv), (*LIST_NEVER, "mogrun.taskfile.templates")) == []


@pytest.mark.parametrize("site", [True, False])
def test_listing_the_jobs_creates_no_dataclass(tmp_path, site) -> None:
    # dataclasses imports inspect (ast, dis, tokenize): ~12 ms of a ~80 ms list here.
    modules = loaded(tmp_path, "list", site=site)
    assert imported(modules, ("dataclasses", "inspect", "json")) == []
    assert "json" in loaded(tmp_path, "-l", "--json", site=site)


def test_listing_a_file_with_problems_warns_and_loads_nothing_heavy(tmp_path) -> None:
    # An unknown job key makes list look for other plugins' entry points: read, not loaded.
    text = task_file(job("a", pager=1), job("b")) + '[job.c]\nrepo = "acme/api"\n'
    modules = loaded(tmp_path, "list", text=text)
    assert imported(modules, (*LIST_NEVER, "mogrun.taskfile.validation",
                              "mogrun.taskfile.positions", "difflib")) == []
    assert "mogrun.entrypoints" in modules


@pytest.mark.parametrize(("argv", "code"), [(["--set", "team=web", "list"], 0),
                                            (["-l", "--json", "--set", "team=web"], 0),
                                            (["--set", "teem=web"], 2)])
def test_listing_judges_set_and_still_loads_nothing_heavy(tmp_path, argv, code) -> None:
    text = task_file(job("a", prompt="for {{ team }}"), vars={"team": "platform"})
    modules = loaded(tmp_path, *argv, text=text, code=code)
    assert imported(modules, (*LIST_NEVER, "mogrun.taskfile.resolve")) == []


@pytest.mark.parametrize("argv", [["check"], ["--json", "check"], ["show", "b"],
                                  ["show", "a", "b", "--no-deps", "--json"]])
def test_checking_and_showing_load_no_click(tmp_path, argv) -> None:
    modules = loaded(tmp_path, *argv)
    assert imported(modules, ("click", "rich", "rich_click")) == []
    assert "mogrun.taskfile.checking" in modules or "show" in argv
    # A valid file's check scans no positions (only a problem needs its place, or
    # its value as the file wrote it).
    assert imported(modules, ("mogrun.taskfile.positions",)) == []
    # Nothing of a run session: show describes the job kinds, it runs nothing.
    assert imported(modules, ("mogrun.engine.history", "mogrun.engine.history_file",
                              "mogrun.engine.history_lookups", "mogrun.engine.history_owner",
                              "mogrun.engine.history_reads", "mogrun.engine.history_row",
                              "mogrun.engine.context", "mogrun.engine.capacity",
                              "mogrun.engine.lifecycle")) == []
    # json (~3 ms) only where JSON is printed: show's request bodies, --json.
    assert ("json" in modules) == (argv != ["check"])


DATACLASSES = """
import dataclasses, json, sys
from mogrun.cli.app import run_cli
code = run_cli(sys.argv[1:])
found = sorted(f"{name}.{k}" for name, module in list(sys.modules.items())
               if name.startswith("mogrun") for k, v in vars(module).items()
               if isinstance(v, type) and dataclasses.is_dataclass(v) and v.__module__ == name)
sys.stdout.flush()
sys.stderr.write("\\nDATACLASSES " + json.dumps(found) + "\\n")
sys.exit(code)
"""
# The public values of a job before it runs (plugins build and replace them).
JOB_VALUES = [f"mogrun.models.{name}" for name in
              ("KeySpec", "ResolvedJob", "RunPlan", "SessionConfig", "StartRequest")]


@pytest.mark.parametrize("argv", [["check"], ["show", "b"], ["--json", "show", "a", "b"]])
def test_checking_and_showing_create_only_the_job_values(tmp_path, argv) -> None:
    # Each dataclass costs ~1 ms to create (its methods are compiled at import): the
    # records on these paths are named tuples or plain classes (docs/architecture.md).
    (tmp_path / "mogplex.toml").write_text(task_file(job("a"), job("b", needs=["a"])))
    done = subprocess.run([sys.executable, "-c", DATACLASSES, *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env={**CHILD_ENV, **PYTHONPATH})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stderr.rpartition("DATACLASSES ")[2]) == JOB_VALUES


FORWARD_REFS = """
import json, sys, typing
made = []
init = typing.ForwardRef.__init__
def counted(self, arg, *args, **kwargs):
    init(self, arg, *args, **kwargs)
    frame = sys._getframe(1)
    while frame.f_globals.get("__name__") == "typing":
        frame = frame.f_back
    made.append(frame.f_globals.get("__name__"))
typing.ForwardRef.__init__ = counted
from mogrun.cli.app import run_cli
code = run_cli(sys.argv[1:])
sys.stdout.flush()
sys.stderr.write("\\nFORWARD_REFS " + json.dumps(sorted(set(made))) + "\\n")
sys.exit(code)
"""
# Named tuples of these modules keep string annotations: their modules annotate with
# names imported only for type checkers, and hold few fields (~0.6 ms in all).
STRING_ANNOTATED = {"mogrun.cli.loading", "mogrun.engine.kinds", "mogrun.http",
                    "mogrun.masking", "mogrun.pluginguard", "mogrun.pluginhost",
                    "mogrun.pluginload"}


@pytest.mark.parametrize("argv", [["list"], ["check"], ["show", "b"]])
def test_named_tuples_on_the_start_up_paths_compile_no_string_annotations(tmp_path, argv):
    # A named tuple's field annotated with a string (`from __future__ import
    # annotations`) is compiled into a typing.ForwardRef as its class is made: `check`
    # made 103, 4.4 ms; 53 are left, 1.25 ms (docs/architecture.md).
    (tmp_path / "mogplex.toml").write_text(task_file(job("a"), job("b", needs=["a"])))
    done = subprocess.run([sys.executable, "-c", FORWARD_REFS, *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env={**CHILD_ENV, **PYTHONPATH})
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stderr.rpartition("FORWARD_REFS ")[2])
    assert sorted(m for m in made if m.startswith("mogrun")
                  and m not in STRING_ANNOTATED) == []


# What only a run meets: waits, the API's automation values, a run's track and ports.
RUN_VALUES = ("mogrun.waits", "mogrun.api.automations", "mogrun.engine.track",
              "mogrun.engine.ports", "mogrun.runs")


@pytest.mark.parametrize("argv", [["check"], ["show", "b"], ["--json", "show", "a"]])
def test_checking_and_showing_load_none_of_a_runs_values(tmp_path, argv) -> None:
    # Each module of dataclasses costs ~1 ms a class to create: show asks the job kinds
    # to describe a start, and every plugin is loaded, without them.
    assert imported(loaded(tmp_path, *argv), RUN_VALUES) == []


def test_the_plugin_module_gives_a_runs_values_when_asked() -> None:
    import mogrun.plugin
    from mogrun import pluginspec, runs, waits

    assert (mogrun.plugin.Wait, mogrun.plugin.WaitKind) == (waits.Wait, waits.WaitKind)
    assert (mogrun.plugin.GateVerdict, mogrun.plugin.RunResult) == (runs.GateVerdict,
                                                                   runs.RunResult)
    assert set(pluginspec.ON_FIRST_USE) <= set(mogrun.plugin.__all__)
    assert pluginspec.return_hint("mogrun_wait") is type(None)  # its spec names a Wait
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        mogrun.plugin.Nothing  # noqa: B018


@pytest.mark.parametrize("argv", [["check"], ["show", "b"], ["status", "--help"], ["--help"],
                                  ["check", "-v"]])
def test_other_lines_skip_metadata_and_hashlib(tmp_path, argv) -> None:
    modules = loaded(tmp_path, *argv)
    assert imported(modules, NEVER) == []
    help_shown = "--help" in argv
    assert ("rich_click" in modules) == help_shown


@pytest.mark.parametrize("argv", [["--help"], ["-h"]])
def test_the_root_help_loads_no_pathlib(tmp_path, argv) -> None:
    # pathlib with what it pulls in (urllib.parse, ipaddress, fnmatch) was 3.5-5.8 ms of
    # a help that click, rich and rich-click already make the slowest line (a command's
    # help reads the task file for its plugins' options, and needs it).
    modules = loaded(tmp_path, *argv, site=False)
    assert "rich_click" in modules  # the help was rendered
    assert imported(modules, ("pathlib", "urllib.parse", "ipaddress")) == []


@pytest.mark.machine_plugins  # both read this machine's distributions
@pytest.mark.parametrize("group", ["mogrun", "pytest11", "console_scripts"])
def test_entry_points_match_importlib_metadata(group) -> None:
    import importlib.metadata

    from mogrun.entrypoints import entry_points

    expected = sorted((ep.name, ep.value) for ep in importlib.metadata.entry_points(group=group))
    assert sorted((ep.name, ep.value) for ep in entry_points(group)) == expected


def test_an_entry_point_loads_its_attribute(tmp_path) -> None:
    from mogrun.entrypoints import entry_points

    meta = tmp_path / "demo_pkg-1.0.dist-info"
    meta.mkdir()
    (meta / "entry_points.txt").write_text(
        "# a comment\n[other]\nx = nope:nothing\n\n[mogrun]\n  demo = json : dumps \n",
        encoding="utf-8")
    (tmp_path / "old_pkg-2.0.dist-info").mkdir()  # no entry_points.txt: skipped
    [ep] = entry_points("mogrun", path=[str(tmp_path)])
    assert (ep.name, ep.value) == ("demo", "json : dumps")
    assert ep.load() is json.dumps
