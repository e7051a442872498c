"""`check` says every problem at once: no problem of a plugin key's table, of a
plugin's file or of the installed plugins hides another, and none is said twice.
And what it says of a plugin key left unknown names what left its plugin out."""

from __future__ import annotations

import json

import pytest

from mogrun.errors import PluginError
from mogrun.pluginhost import PluginHost
from mogrun.plugintables import KeyProblems

# A job as people write them: comments, blank lines, a trailing blank line.
TABLES = """\
# nightly checks of the API
[jobs.a]
repo = "acme/api"
prompt = "x"

# only a clean finish counts
gates = { status = ["succes"], forbid = ["log"] }
retry = { attempts = 0, extra = 1 }  # retry less
notify = [{ webhook = "ftp://x.example.com", on = ["fail"], email = "me@example.com" }]

"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_an_unknown_sub_key_hides_no_other_problem_of_its_table(tmp_path, mogrun_cli,
                                                                  newline):
    # Only the three unknown keys were said; the four other problems came after
    # removing them.
    (tmp_path / "mogplex.toml").write_bytes(TABLES.replace("\n", newline).encode())
    result = mogrun_cli("--no-plugins", "check", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert [line.split('": ', 1)[1].split(";")[0] for line in result.errors] == [
        'gates.status: unknown value "succes" (did you mean "success"?)',
        'unknown gates setting "forbid" (did you mean "forbid_events"?)',
        "retry.attempts must be a whole number >= 1, not 0",
        'unknown retry setting "extra"',
        "notify[1].webhook must be an http(s) URL",
        'notify[1].on: unknown value "fail" (did you mean "failed"?)',
        'unknown notify[1] setting "email"',
    ], result
    where = [line.rsplit(":", 2)[-2:] for line in result.stderr.splitlines()
             if line.lstrip().startswith("--> ")]
    assert where == [["7", "21"], ["7", "32"], ["8", "11"], ["8", "25"], ["9", "13"],
                     ["9", "52"], ["9", "61"]], result
    assert result.stderr.endswith("7 problems in " + str(tmp_path / "mogplex.toml") + "\n")


def test_the_bundled_validators_keep_an_unknown_key_with_the_other_problems():
    from mogrun_plugins import gates, notify, retry

    with pytest.raises(KeyProblems) as info:
        gates.validate({"status": [], "max_duration": "soon", "colour": 1})
    assert [sub for sub, _ in info.value.problems] == ["colour", "status", "max_duration"]
    with pytest.raises(KeyProblems) as info:
        retry.validate({"stall_timeout": 0, "atempts": 2})
    assert [sub for sub, _ in info.value.problems] == ["atempts", "stall_timeout"]
    with pytest.raises(KeyProblems) as info:
        notify.validate([{"slack": "https://hooks.example.com/x", "on": [], "url": "y"}])
    assert [sub for sub, _ in info.value.problems] == ["0.url", "0.on"]


def test_table_without_problems_still_raises_its_unknown_keys():
    """Outside plugins call ``table(value, key, allowed)`` as before."""
    from mogrun.plugin import Problems, table

    with pytest.raises(KeyProblems) as info:
        table({"team": "core", "tem": 1}, "owners", ("team",))
    assert [sub for sub, _ in info.value.problems] == ["tem"]
    found = Problems()
    assert table({"team": "core", "tem": 1}, "owners", ("team",), found) == {
        "team": "core", "tem": 1}
    assert [sub for sub, _ in found.found] == ["tem"]


OWNERS = """\
from mogrun.plugin import hookimpl, table


def validate(value):
    return table(value, "owners", ("team",))


@hookimpl
def mogrun_job_keys(register):
    register("owners", validate)
"""

OWNED = """\
# the team's own plugin
[mogplex]
plugins = ["plugins/owners.py"]

[jobs.a]
repo = "acme/api"
prompt = "x"
owners = { team = "core" }  # who is paged

"""
HINT = "A job key a plugin declares needs that plugin loaded: "


@pytest.mark.parametrize(("args", "env", "said"), [
    (("--no-plugins",), {}, "--no-plugins left out every plugin but the bundled ones "
                            "([mogplex] plugins, -p and entry points)."),
    ((), {"MOGRUN_DISABLE_PLUGINS": "owners"}, 'MOGRUN_DISABLE_PLUGINS left out plugin '
                                                '"owners".'),
    # The switch named --no-plugins, which the user never typed (a CI step's variable).
    ((), {"MOGRUN_DISABLE_PLUGINS": "1"}, "MOGRUN_DISABLE_PLUGINS=1 left out every plugin but "
                                          "the bundled ones ([mogplex] plugins, -p and entry "
                                          "points)."),
], ids=["no-plugins", "disable-env", "disable-env-switch"])
def test_a_key_of_a_plugin_left_out_says_what_left_it_out(tmp_path, mogrun_cli, args, env,
                                                          said):
    # It said "needs that plugin loaded: [mogplex] plugins, -p, or the plugin
    # installed", of a plugin listed in [mogplex] plugins.
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "owners.py").write_text(OWNERS)
    (tmp_path / "mogplex.toml").write_bytes(OWNED.replace("\n", "\r\n").encode())
    assert mogrun_cli("check", cwd=tmp_path).exit_code == 0  # loaded, the key is known
    result = mogrun_cli(*args, "check", cwd=tmp_path, env=env)
    assert result.exit_code == 2, result
    assert result.errors == ['Error: unknown key "owners" in job "a"'], result
    assert HINT + said in result.stderr.splitlines(), result
    assert "[mogplex] plugins, -p, or the plugin installed" not in result.stderr, result
    shown = mogrun_cli(*args, "show", "a", cwd=tmp_path, env=env)  # run and show say it too
    assert shown.exit_code == 2, shown
    assert HINT + said in shown.stderr.splitlines(), shown


@pytest.mark.parametrize("value", ['"core"', '["core", "infra"]', "3", "true"])
@pytest.mark.parametrize(("args", "env"), [
    (("--no-plugins",), {}), ((), {"MOGRUN_DISABLE_PLUGINS": "owners"})])
def test_a_left_out_plugins_key_of_any_value_says_what_left_it_out(tmp_path, mogrun_cli, args,
                                                                   env, value):
    # Only a table's unknown key had the hint: `owner = "@platform-team"`, the doc's own
    # example, said a bare unknown key, and one close to a loaded plugin's key only
    # "did you mean" that other key.
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "owners.py").write_text(OWNERS)
    (tmp_path / "mogplex.toml").write_text(
        OWNED.replace('owners = { team = "core" }', f"owners = {value}"))
    result = mogrun_cli(*args, "check", cwd=tmp_path, env=env)
    assert result.exit_code == 2, result
    assert result.errors == ['Error: unknown key "owners" in job "a"'], result
    assert any(line.startswith(HINT) and "left out" in line
               for line in result.stderr.splitlines()), result


def test_an_unknown_scalar_key_with_nothing_left_out_is_a_typo_not_a_plugin(tmp_path,
                                                                            mogrun_cli):
    (tmp_path / "mogplex.toml").write_text(OWNED.replace(
        '[mogplex]\nplugins = ["plugins/owners.py"]\n', "").replace(
        'owners = { team = "core" }', 'promt = "x"'))
    result = mogrun_cli("check", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert HINT not in result.stderr and 'did you mean "prompt"?' in result.stderr, result


def load(tmp_path, plugins=(), **kw):
    kw.setdefault("use_entry_points", False)
    return PluginHost.load(project_dir=tmp_path, task_file_plugins=plugins, **kw)


@pytest.mark.parametrize(("hook", "guess"), [
    ("mogrun_notify", None), ("mogrun_custom", None), ("mogrun_foo", None),
    ("mogrun_gatee", "mogrun_gate"), ("mogrun_sesion_finished", "mogrun_session_finished"),
    ("gate", "mogrun_gate"),
])
def test_an_unknown_hook_is_compared_without_the_prefix_every_hook_has(tmp_path, plugin_file,
                                                                       hook, guess):
    # "mogrun_notify" got "did you mean mogrun_event", "mogrun_custom"
    # "mogrun_adjust_job", "mogrun_foo" "mogrun_wait": the shared prefix made any
    # name look close to some hook.
    rel = plugin_file("team", f"""
        # the team's hooks

        @hookimpl
        def {hook}(job):
            return None

    """)
    with pytest.raises(PluginError) as info:
        load(tmp_path, [rel])
    assert info.value.message == f'plugin "team" implements unknown hook "{hook}"'
    assert info.value.context == ((f'Did you mean "{guess}"?',) if guess else ())


IMPFAIL = "# broken on purpose\n\nraise RuntimeError('boom')\n\n"
PARAM = "\n@hookimpl\ndef mogrun_gate(evnts):  # a typo\n    return []\n\n"


@pytest.mark.parametrize(("entries", "source", "said"), [
    ('"plugins/impfail.py", "plugins/impfail.py"', IMPFAIL,
     'Error: plugin "impfail" failed to import: RuntimeError: boom'),
    ('"plugins/param.py", "./plugins/param.py"', PARAM,
     'Error: plugin "param": mogrun_gate has no parameter "evnts"'),
], ids=["import-fails", "bad-parameter"])
def test_a_plugin_listed_twice_that_cannot_load_is_said_once(tmp_path, mogrun_cli, plugin_file,
                                                             entries, source, said):
    name = "impfail" if "impfail" in entries else "param"
    plugin_file(name, source)
    (tmp_path / "mogplex.toml").write_bytes(
        (f'# plugins of the team\r\n[mogplex]\r\nplugins = [\r\n  {entries.split(", ")[0]},\r\n'
         f'  {entries.split(", ")[1]},  # again\r\n]\r\n\r\n'
         '[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n').encode())
    result = mogrun_cli("check", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert result.errors == [said], result
    assert f"{tmp_path / 'mogplex.toml'}:4:3" in result.stderr, result  # at the first entry
    assert "Also:" not in result.stderr, result
    assert result.stderr.endswith("1 problem in " + str(tmp_path / "mogplex.toml") + "\n")


@pytest.mark.parametrize("source", [IMPFAIL, PARAM], ids=["import-fails", "bad-parameter"])
def test_a_plugin_file_named_twice_is_tried_once(tmp_path, plugin_file, source):
    """As ``check`` loads the task file's plugins: one by one, into one host."""
    rel = plugin_file("twice", source)
    host = load(tmp_path)
    with pytest.raises(PluginError, match=r'^plugin "twice"'):
        host.add_plugins(project_dir=tmp_path, task_file_plugins=[rel])
    host.add_plugins(project_dir=tmp_path, task_file_plugins=[f"./{rel}"])  # said already
    host.add_plugins(project_dir=tmp_path, task_file_plugins=[f" {rel} "])
    assert "twice" not in host.plugin_names()
    with pytest.raises(PluginError) as info:  # in one load too
        load(tmp_path, [rel, f"./{rel}"])
    assert "Also:" not in " ".join(info.value.context)


TWO_PROBLEMS = """
    # the team's gate

    @hookimpl
    def mogrun_gatee(job):  # a typo
        return []


    def mogrun_event(event):  # not decorated
        pass


    @hookimpl
    def mogrun_watch(stat):
        return None

"""


def test_every_problem_of_a_plugin_file_is_said_at_once(tmp_path, mogrun_cli, plugin_file):
    # Only the missing @hookimpl was said; the unknown hook came once it was fixed.
    plugin_file("two", TWO_PROBLEMS)
    (tmp_path / "mogplex.toml").write_text(
        '# the team\'s plugins\n[mogplex]\nplugins = ["plugins/two.py"]\n\n'
        '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n\n')
    result = mogrun_cli("check", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert result.errors == [  # in the plugin file's order, each one problem
        'Error: plugin "two" implements unknown hook "mogrun_gatee"',
        'Error: plugin "two" defines mogrun_event without @hookimpl',
        'Error: plugin "two": mogrun_watch has no parameter "stat"',
    ], result
    lines = result.stderr.splitlines()
    # each located at the plugin's entry (the line, its caret), then its own hint
    assert [lines[lines.index(error) + 4] for error in result.errors] == [
        'Did you mean "mogrun_gate"?', "Decorate it: from mogrun.plugin import hookimpl",
        "It is called as mogrun_watch(job, run, state, unchanged_for); take any of those, by "
        "name, as ordinary (not keyword-only) parameters."], result
    assert "Also:" not in result.stderr, result


@pytest.mark.parametrize("command", [["show", "a"], ["--local", "run", "a"], ["plugins"]])
def test_a_command_other_than_check_says_every_problem_of_the_plugins(
        tmp_path, mogrun_cli, plugin_file, command):
    """run, show and plugins said the first problem of a task file's plugins and
    dropped the rest (a -p plugin's came as "Also:" lines): fixed, the next run
    met the next one. docs/plugins.md: the others after it, each on an Also: line."""
    plugin_file("two", TWO_PROBLEMS)
    (tmp_path / "mogplex.toml").write_text(
        '# the team\'s plugins\n[mogplex]\nplugins = ["plugins/two.py"]\n\n'
        '[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n\n')
    result = mogrun_cli(*command, cwd=tmp_path)
    assert result.exit_code == 2, result
    assert result.errors == ['Error: plugin "two" implements unknown hook "mogrun_gatee"']
    lines = result.stderr.splitlines()
    assert lines[1] == f"  --> {tmp_path / 'mogplex.toml'}:3:12", result
    assert [line for line in lines if line.startswith("Also: ")] == [
        'Also: plugin "two" defines mogrun_event without @hookimpl',
        'Also: plugin "two": mogrun_watch has no parameter "stat"'], result
    assert "Decorate it: from mogrun.plugin import hookimpl" in lines, result


def test_each_problem_of_a_plugin_file_is_counted(tmp_path, mogrun_cli, plugin_file):
    # Three problems were listed, under "1 problem in ..." (one error, two "Also:" lines).
    plugin_file("two", TWO_PROBLEMS)
    (tmp_path / "mogplex.toml").write_bytes(
        b'# the team\'s plugins\r\n[mogplex]\r\nplugins = ["plugins/two.py"]\r\n\r\n'
        b'[jobs.a]\r\nrepo = "acme/api"\r\nprompt = "x"\r\ntimeot = "5m"  # a typo\r\n\r\n')
    result = mogrun_cli("check", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert len(result.errors) == 4, result
    assert result.stderr.endswith(f"4 problems in {tmp_path / 'mogplex.toml'}\n"), result
    report = json.loads(mogrun_cli("--json", "check", cwd=tmp_path).stdout)
    assert [(e["message"], e["line"], e["column"]) for e in report["errors"]] == [
        ('plugin "two" implements unknown hook "mogrun_gatee"', 3, 12),
        ('plugin "two" defines mogrun_event without @hookimpl', 3, 12),
        ('plugin "two": mogrun_watch has no parameter "stat"', 3, 12),
        ('unknown key "timeot" in job "a"', 8, 1)], report


def test_a_plugin_with_one_problem_is_said_as_before(tmp_path, plugin_file):
    rel = plugin_file("team_gate", "\n@hookimpl\ndef mogrun_gatee(job):\n    return []\n")
    with pytest.raises(PluginError) as info:
        load(tmp_path, [rel])
    assert info.value.message == 'plugin "team_gate" implements unknown hook "mogrun_gatee"'
    assert info.value.context == ('Did you mean "mogrun_gate"?',)


def test_every_broken_entry_point_is_said_at_once(installed):
    # An entry point that failed to import hid a second one's name clash.
    installed("mogrun-two-eps", {"bad_ep": "mogrun_two_eps_missing",
                                 "gates": "mogrun_two_eps_gates"},
              {"mogrun_two_eps_gates": """
                  from mogrun.plugin import hookimpl

                  @hookimpl
                  def mogrun_event(event):
                      pass
              """})
    with pytest.raises(PluginError) as info:
        PluginHost.load(project_dir=None, use_entry_points=True)
    assert info.value.message.startswith(
        'plugin "bad_ep" failed to import: ModuleNotFoundError'), info.value
    assert info.value.context == (
        "From: entry point bad_ep = mogrun_two_eps_missing of the installed distribution "
        "mogrun_two_eps",
        "Fix or uninstall mogrun_two_eps, or leave it out: MOGRUN_DISABLE_PLUGINS=bad_ep",
        'Also: two plugins are named "gates" (bundled mogrun_plugins.gates and entry point '
        "mogrun_two_eps_gates)",
        "From: entry point gates = mogrun_two_eps_gates of the installed distribution "
        "mogrun_two_eps",
        "Fix or uninstall mogrun_two_eps, or leave it out: MOGRUN_DISABLE_PLUGINS=gates"), \
        info.value


def test_check_lists_a_broken_installed_plugin_with_the_files_problems(tmp_path, installed,
                                                                       mogrun_cli):
    """An entry point that failed to import stopped check at it: none of the task
    file's own problems was said, and no 'N problems' line."""
    installed("mogrun-badep", {"badep": "mogrun_badep_missing"})
    project = tmp_path / "p"
    project.mkdir()
    (project / "mogplex.toml").write_text(
        '[jobs.fix]\nrepo = "acme/api"\nprompt = "x {{ nosuch }}"\nbogus = 1\n\n')
    result = mogrun_cli("check", cwd=project)
    assert result.exit_code == 2, result
    assert result.errors[0].startswith(
        'Error: plugin "badep" failed to import: ModuleNotFoundError'), result
    assert len(result.errors) == 3, result  # and the template's and the key's
    assert result.stderr.endswith(f"3 problems in {project / 'mogplex.toml'}\n"), result


@pytest.mark.parametrize(("switch", "env"), [
    (("--no-plugins",), {}), ((), {"MOGRUN_DISABLE_PLUGINS": "1"}),
    ((), {"MOGRUN_DISABLE_PLUGINS": "teamkeys"})])
def test_list_warns_of_an_unknown_key_when_the_installed_plugin_is_switched_off(
        tmp_path, installed, mogrun_cli, switch, env):
    """Any installed entry point made list take an unknown key for one a plugin
    might declare, and say nothing, even with every plugin switched off."""
    installed("mogrun-teamkeys", {"teamkeys": "mogrun_teamkeys"})
    project = tmp_path / "p"
    project.mkdir()
    (project / "mogplex.toml").write_text('[jobs.fix]\nrepo = "acme/api"\nprompt = "x"\n'
                                          "bogus = 1\n\n")
    quiet = mogrun_cli("list", cwd=project)  # the plugin may declare it: nothing said
    assert (quiet.exit_code, quiet.stderr) == (0, ""), quiet
    result = mogrun_cli(*switch, "list", cwd=project, env=env)
    assert result.exit_code == 0, result
    assert "has problems" in result.stderr and "bogus" in result.stderr, result


def test_check_says_what_mogrun_adjust_job_makes_of_the_jobs(tmp_path, mogrun_cli,
                                                                plugin_file):
    """A mogrun_adjust_job that run and show refuse (exit 2) passed check: it said
    "ok (2 jobs)", as it never asked the hook."""
    rel = plugin_file("longer", """
        import dataclasses

        @hookimpl
        def mogrun_adjust_job(job):
            return dataclasses.replace(job, timeout=172800.0)
    """)
    (tmp_path / "mogplex.toml").write_text(
        f'[mogplex]\nplugins = ["{rel}"]\n\n[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n\n'
        '[jobs.b]\nrepo = "acme/web"\nprompt = "y"\n')
    said = ('plugin "longer" failed in mogrun_adjust_job: it returned a job whose timeout '
            "is an invalid duration 172800.0: longer than the longest allowed (24h)")
    result = mogrun_cli("check", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert result.errors == [f"Error: {said}"], result  # once, not once per job
    assert result.stderr.endswith(f"1 problem in {tmp_path / 'mogplex.toml'}\n"), result
    shown = mogrun_cli("show", "a", cwd=tmp_path)
    assert shown.exit_code == 2 and f"Error: {said}" in shown.stderr, shown


def test_hooks_declared_in_a_class_of_a_plugin_file_are_a_problem(tmp_path, mogrun_cli,
                                                                   plugin_file):
    """A plugin file whose hooks are methods of a class it never registers (the
    module is the plugin) loaded doing nothing: check said ok, run gated nothing."""
    rel = plugin_file("team_gate", """
        from mogrun.plugin import GateVerdict

        class TeamGate:
            @hookimpl
            def mogrun_gate(self, events):
                return GateVerdict("team_gate", False, "never asked")
    """)
    (tmp_path / "mogplex.toml").write_text(
        f'[mogplex]\nplugins = ["{rel}"]\n\n[jobs.a]\nrepo = "acme/api"\nprompt = "x"\n')
    result = mogrun_cli("check", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert result.errors == [
        'Error: plugin "team_gate" declares mogrun_gate in class TeamGate, which mogrun never '
        "calls: a plugin file's hooks are its module's functions"], result
