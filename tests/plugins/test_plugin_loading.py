"""Discovery and validation: where plugins come from, and what is refused (exit 2)."""

from __future__ import annotations

import sys

import pytest

from mogrun.errors import PluginError
from mogrun.hookspecs import hookimpl
from mogrun.pluginhost import PluginHost, PluginInfo

BUNDLED = ["retry", "gates", "notify", "junit"]


@pytest.fixture
def forget_modules():
    """Names of modules a test imports from its own folder, forgotten after it, passed
    or failed (a failing test left its module imported, for a later test importing
    a file of that name to get instead)."""
    names: list[str] = []
    yield names
    for name in names:
        sys.modules.pop(name, None)


def load(tmp_path, plugins=(), **kw):
    kw.setdefault("use_entry_points", False)
    return PluginHost.load(project_dir=tmp_path, task_file_plugins=plugins, **kw)


def test_bundled_plugins_always_load_with_their_hooks():
    infos = PluginHost.bundled_only().describe()
    assert [i.name for i in infos] == BUNDLED
    assert {i.source for i in infos} == {"bundled"}
    by_name = {i.name: i for i in infos}
    assert by_name["retry"].hooks == ("mogrun_job_keys", "mogrun_retry_delay", "mogrun_watch")
    assert by_name["gates"].hooks == ("mogrun_job_keys", "mogrun_gate")
    assert by_name["notify"].hooks == ("mogrun_job_keys", "mogrun_job_finished",
                                       "mogrun_session_finished")
    assert by_name["junit"].hooks == ("mogrun_add_options", "mogrun_configure",
                                      "mogrun_session_finished")
    assert by_name["retry"].origin == "mogrun_plugins.retry"


def test_task_file_py_plugin_loads_relative_to_project(tmp_path, plugin_file):
    rel = plugin_file("team_gate", """
        @hookimpl
        def mogrun_gate(job):
            return None
    """)
    infos = load(tmp_path, [rel]).describe()
    assert infos[-1] == PluginInfo("team_gate", "task file", ("mogrun_gate",),
                                   str(tmp_path / rel))


def test_two_task_file_plugins_of_one_name_are_an_error_not_one_skipped(tmp_path, plugin_file):
    """lint/check.py and tests/check.py: the second was taken for the first (loaded
    already) and never loaded, so its failing gate never ran and the run passed."""
    first = plugin_file("check", "@hookimpl\ndef mogrun_event(event):\n    pass\n", "lint")
    second = plugin_file("check", "@hookimpl\ndef mogrun_gate(events):\n    return []\n",
                         "tests")
    with pytest.raises(PluginError, match='two plugins are named "check"'):
        load(tmp_path, [first, second])
    host = load(tmp_path, [first])  # one by one, as the task file's are loaded
    host.add_plugins(project_dir=tmp_path, task_file_plugins=[first])  # the same one again
    assert [i.name for i in host.describe()].count("check") == 1
    with pytest.raises(PluginError, match='two plugins are named "check"'):
        host.add_plugins(project_dir=tmp_path, task_file_plugins=[second])


def test_task_file_module_name_and_dash_p_plugins_load(tmp_path, plugin_file, monkeypatch,
                                                        forget_modules):
    forget_modules.append("mogrun_pagerduty_fake")
    plugin_file("mogrun_pagerduty_fake", """
        @hookimpl
        def mogrun_event(event):
            pass
    """, folder="site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    extra = tmp_path / "site" / "extra_one.py"
    extra.write_text("from mogrun.hookspecs import hookimpl\n"
                     "@hookimpl\ndef mogrun_watch(state):\n    return None\n")
    host = load(tmp_path, ["mogrun_pagerduty_fake"], extra=[str(extra)])
    sources = {i.name: i.source for i in host.describe()}
    assert sources["mogrun_pagerduty_fake"] == "task file"
    assert sources["extra_one"] == "-p"


def test_misspelled_hook_is_refused_naming_plugin_and_hook(tmp_path, plugin_file):
    rel = plugin_file("team_gate", """
        @hookimpl
        def mogrun_gatee(job):
            return None
    """)
    with pytest.raises(PluginError) as info:
        load(tmp_path, [rel])
    assert info.value.message == 'plugin "team_gate" implements unknown hook "mogrun_gatee"'


def test_a_misspelled_optional_hook_is_refused_too(tmp_path, plugin_file):
    """``optionalhook=True`` (pluggy's, for a hook another plugin may declare) hid
    the typo: only mogrun declares hooks, and the gate silently never ran."""
    rel = plugin_file("team_gate", """
        @hookimpl(optionalhook=True)
        def mogrun_gatee(job):
            return None
    """)
    with pytest.raises(PluginError) as info:
        load(tmp_path, [rel])
    assert info.value.message == 'plugin "team_gate" implements unknown hook "mogrun_gatee"'
    assert info.value.context == ('Did you mean "mogrun_gate"?',)
    assert info.value.context == ('Did you mean "mogrun_gate"?',)
    assert info.value.exit_code == 2


def test_hook_argument_not_in_spec_is_refused(tmp_path, plugin_file):
    rel = plugin_file("bad_args", """
        @hookimpl
        def mogrun_event(evnt):
            pass
    """)
    with pytest.raises(PluginError) as info:
        load(tmp_path, [rel])
    assert info.value.message == 'plugin "bad_args": mogrun_event has no parameter "evnt"'
    assert info.value.context == ("It is called as mogrun_event(job, run, event); take any of "
                                  "those, by name, as ordinary (not keyword-only) parameters.",)


@pytest.mark.parametrize("written", ["*, events", "*, events=()"])
def test_keyword_only_hook_parameters_are_refused(tmp_path, plugin_file, written):
    rel = plugin_file("kwonly", f"""
        @hookimpl
        def mogrun_gate({written}):
            return None
    """)
    with pytest.raises(PluginError) as caught:
        load(tmp_path, [rel])
    # It has the parameter: saying it has none sent the author looking for a typo.
    assert caught.value.message == ('plugin "kwonly": mogrun_gate takes "events" as a '
                                    "keyword-only parameter, which is never given")


@pytest.mark.parametrize("signature", ["**kwargs", "*args, **kwargs", "*args",
                                       "*, verbose=1, **kw"])
def test_a_hook_taking_only_a_catch_all_is_refused(tmp_path, plugin_file, signature):
    """pluggy fills only named parameters: ``def mogrun_job_finished(**kwargs)``
    loaded, and was called with nothing at every job's end."""
    rel = plugin_file("notifier", f"""
        @hookimpl
        def mogrun_job_finished({signature}):
            pass
    """)
    with pytest.raises(PluginError) as caught:
        load(tmp_path, [rel])
    assert caught.value.message.startswith('plugin "notifier": mogrun_job_finished takes *')
    assert caught.value.message.endswith(", which is never given anything")
    assert caught.value.context == ("It is called as mogrun_job_finished(job, results, "
                                    "outcome); take any of those, by name, as ordinary "
                                    "(not keyword-only) parameters.",)


def test_optional_and_variadic_parameters_are_allowed(tmp_path, plugin_file):
    rel = plugin_file("flexible", """
        @hookimpl
        def mogrun_event(event, verbose=False, *rest, **more):
            pass
    """)
    assert load(tmp_path, [rel]).describe()[-1].hooks == ("mogrun_event",)


def test_undecorated_hook_function_is_refused(tmp_path):
    (tmp_path / "lazy.py").write_text("def mogrun_gate(job):\n    return None\n")
    with pytest.raises(PluginError) as info:
        load(tmp_path, ["lazy.py"])
    assert info.value.message == 'plugin "lazy" defines mogrun_gate without @hookimpl'


def test_plugin_that_fails_to_import_names_plugin_and_cause(tmp_path, plugin_file):
    rel = plugin_file("broken", "import no_such_module_xyz\n")
    with pytest.raises(PluginError) as info:
        load(tmp_path, [rel])
    assert info.value.message == ('plugin "broken" failed to import: ModuleNotFoundError: '
                                  "No module named 'no_such_module_xyz'")
    assert info.value.context == ("From: task file's [mogplex].plugins",)


def test_unknown_module_plugin_is_an_error(tmp_path):
    with pytest.raises(PluginError, match='plugin "mogrun_nowhere_xyz" failed to import'):
        load(tmp_path, ["mogrun_nowhere_xyz"])


def test_missing_plugin_file_is_an_error(tmp_path):
    with pytest.raises(PluginError, match='plugin "gone" not found'):
        load(tmp_path, ["plugins/gone.py"])


@pytest.mark.parametrize("spec", ["../outside.py", "/etc/passwd.py", "sub/../../x.py"])
def test_task_file_plugin_paths_may_not_leave_the_project(tmp_path, spec):
    with pytest.raises(PluginError, match="may not leave it"):
        load(tmp_path, [spec])


@pytest.mark.parametrize("spec", ["a\\u0000b.py", "a\\u0000b"])
def test_a_nul_in_a_task_file_plugin_name_is_an_error_not_a_traceback(tmp_path, mogrun_cli,
                                                                       spec):
    """A path with a NUL made realpath raise ValueError: check ended in a traceback.
    (``check`` says it at the entry's string, with the file's other problems.)"""
    (tmp_path / "mogplex.toml").write_text(
        f'[mogplex]\r\nplugins = ["{spec}"]  # hand-written\r\n\r\n'
        '[jobs.t]\r\nrepo = "acme/api"\r\nprompt = "p"\r\n\r\n', encoding="utf-8")
    result = mogrun_cli("check", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert result.stderr.startswith('Error: [mogplex] plugins: "a\\u0000b'), result
    assert "may not contain a NUL character" in result.stderr
    assert f"{tmp_path / 'mogplex.toml'}:2:12" in result.stderr
    assert "Traceback" not in result.output


def test_symlink_out_of_the_project_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.py").write_text("")
    project = tmp_path / "project"
    project.mkdir()
    (project / "evil.py").symlink_to(outside / "evil.py")
    with pytest.raises(PluginError, match="leaves the task file's folder"):
        PluginHost.load(project_dir=project, task_file_plugins=["evil.py"],
                        use_entry_points=False)


def test_no_plugins_keeps_only_bundled(tmp_path, plugin_file):
    rel = plugin_file("broken", "raise RuntimeError('must not even import')\n")
    host = load(tmp_path, [rel], extra=["no_such_module_xyz"], no_plugins=True)
    assert host.plugin_names() == BUNDLED


def test_disable_env_switches_off_external_plugins_by_name(tmp_path, plugin_file):
    a = plugin_file("team_a", "@hookimpl\ndef mogrun_event(event):\n    pass\n")
    b = plugin_file("team_b", "@hookimpl\ndef mogrun_event(event):\n    pass\n")
    env = {"MOGRUN_DISABLE_PLUGINS": " team_a , retry"}
    host = load(tmp_path, [a, b], env=env)
    assert host.plugin_names() == [*BUNDLED, "team_b"]  # bundled retry stays


def test_plugin_named_like_a_bundled_one_is_refused(tmp_path, plugin_file):
    rel = plugin_file("retry", "@hookimpl\ndef mogrun_event(event):\n    pass\n")
    with pytest.raises(PluginError, match='two plugins are named "retry"'):
        load(tmp_path, [rel])


def test_same_module_twice_registers_once(tmp_path):
    host = load(tmp_path, ["mogrun_plugins.retry"], extra=["mogrun_plugins.gates"])
    assert host.plugin_names() == BUNDLED


def test_wrappers_are_refused(tmp_path, plugin_file):
    rel = plugin_file("wrapping", """
        @hookimpl(wrapper=True)
        def mogrun_event(event):
            return (yield)
    """)
    with pytest.raises(PluginError, match="mogrun hooks do not support wrappers"):
        load(tmp_path, [rel])


def test_entry_points_skip_the_bundled_ones_and_load_others(installed):
    """A real dist-info on sys.path: importlib.metadata finds its entry point."""
    installed("mogrun-fake-ep", {"fake_ep": "mogrun_fake_ep_mod"}, {"mogrun_fake_ep_mod": """
        from mogrun.hookspecs import hookimpl
        @hookimpl
        def mogrun_status_changed(state):
            pass
    """})
    host = PluginHost.load(project_dir=None, use_entry_points=True)
    infos = {i.name: i for i in host.describe()}
    assert infos["fake_ep"].source == "entry point"
    assert infos["fake_ep"].hooks == ("mogrun_status_changed",)
    assert [i.source for i in host.describe()].count("bundled") == 4
    assert not any(i.origin.startswith("mogrun_plugins") for i in host.describe()
                   if i.source != "bundled")
    off = PluginHost.load(project_dir=None, env={"MOGRUN_DISABLE_PLUGINS": "fake_ep"})
    assert "fake_ep" not in off.plugin_names()


def test_broken_entry_point_is_a_plugin_error(installed):
    """An installed plugin that cannot import stops every command, in every project:
    the error said only 'From: entry-point group "mogrun"', neither which
    distribution holds it nor how to get past it."""
    installed("mogrun-bad-ep", {"bad_ep": "mogrun_bad_ep_missing"})
    with pytest.raises(PluginError) as info:
        PluginHost.load(project_dir=None, use_entry_points=True)
    assert info.value.message.startswith('plugin "bad_ep" failed to import: ModuleNotFoundError')
    assert info.value.context == (
        "From: entry point bad_ep = mogrun_bad_ep_missing of the installed distribution "
        "mogrun_bad_ep",
        "Fix or uninstall mogrun_bad_ep, or leave it out: MOGRUN_DISABLE_PLUGINS=bad_ep")


def test_an_installed_plugins_hook_problem_says_where_it_comes_from(installed):
    """A hook typo of an installed plugin was said with no place at all (check then
    counted it as a problem of the task file): neither the distribution holding it
    nor the way past it."""
    installed("mogrun-typo-ep", {"typo_ep": "mogrun_typo_ep"}, {"mogrun_typo_ep": """
        from mogrun.plugin import hookimpl

        @hookimpl
        def mogrun_wach(state):
            return None
    """})
    with pytest.raises(PluginError) as info:
        PluginHost.load(project_dir=None, use_entry_points=True)
    assert info.value.message == 'plugin "typo_ep" implements unknown hook "mogrun_wach"'
    assert info.value.context == (
        'Did you mean "mogrun_watch"?',
        "From: entry point typo_ep = mogrun_typo_ep of the installed distribution "
        "mogrun_typo_ep",
        "Fix or uninstall mogrun_typo_ep, or leave it out: MOGRUN_DISABLE_PLUGINS=typo_ep")


def test_key_specs_and_cli_options_of_bundled_plugins():
    host = PluginHost.bundled_only()
    specs = host.key_specs()
    assert sorted(specs) == ["gates", "notify", "retry"]
    assert {k: s.plugin for k, s in specs.items()} == {
        "gates": "gates", "notify": "notify", "retry": "retry"}
    urls = specs["notify"].validate([{"webhook": "https://hooks.example.com/x"}])
    assert list(specs["notify"].secrets(urls)) == ["https://hooks.example.com/x"]
    [junit] = host.cli_options()
    assert (junit.name, junit.metavar, junit.flag, junit.plugin) == ("junit", "PATH", False,
                                                                     "junit")
    no_plugins = PluginHost.load(project_dir=None, env={}, no_plugins=True)
    assert no_plugins.cli_options() == [junit]


def test_duplicate_job_key_is_a_plugin_error(tmp_path, plugin_file):
    rel = plugin_file("mine", """
        @hookimpl
        def mogrun_job_keys(register):
            register("retry", lambda v: v)
    """)
    with pytest.raises(PluginError) as info:
        load(tmp_path, [rel]).key_specs()
    assert info.value.message in (
        'job key "retry" is declared by both plugin "retry" and plugin "mine"',
        'job key "retry" is declared by both plugin "mine" and plugin "retry"')


def test_plugin_may_not_declare_a_builtin_key(tmp_path, plugin_file):
    rel = plugin_file("mine", """
        @hookimpl
        def mogrun_job_keys(register):
            register("timeout", lambda v: v)
    """)
    with pytest.raises(PluginError, match='declares job key "timeout", which is one of'):
        load(tmp_path, [rel]).key_specs()


def test_duplicate_and_malformed_options_are_refused(tmp_path, plugin_file):
    dup = plugin_file("dup", """
        @hookimpl
        def mogrun_add_options(register):
            register("junit", help="again")
    """)
    with pytest.raises(PluginError, match='option "--junit" is registered by both'):
        load(tmp_path, [dup]).cli_options()
    bad = plugin_file("bad", """
        @hookimpl
        def mogrun_add_options(register):
            register("--Shout")
    """)
    with pytest.raises(PluginError, match="bad option name '--Shout'"):
        load(tmp_path, [bad]).cli_options()


def test_an_option_one_plugin_registers_twice_is_said_so(tmp_path, mogrun_cli):
    """As a job key declared twice is: not "by both plugin "bad" and plugin "bad"."""
    (tmp_path / "bad.py").write_text(
        "from mogrun.plugin import hookimpl\n\n\n@hookimpl\ndef mogrun_add_options(register):"
        '\n    register("foo")\n    register("foo", flag=True)\n')
    (tmp_path / "mogplex.toml").write_text('[jobs.a]\nrepo = "acme/api"\nprompt = "go"\n')
    result = mogrun_cli("run", "-p", "bad.py", "a", cwd=tmp_path)
    assert result.exit_code == 2, result
    assert result.stderr.splitlines()[0] == 'Error: plugin "bad" registers option "--foo" twice'


def test_same_file_named_twice_loads_once(tmp_path, plugin_file):
    rel = plugin_file("team_gate", "@hookimpl\ndef mogrun_event(event):\n    pass\n")
    host = load(tmp_path, [rel, rel], extra=[str(tmp_path / rel)])
    assert host.plugin_names() == [*BUNDLED, "team_gate"]


def test_a_raising_property_is_not_mistaken_for_a_hook(tmp_path):
    class Odd:
        @property
        def mogrun_note(self):
            raise RuntimeError("not a hook")

        @hookimpl
        def mogrun_event(self, event):
            pass

    host = PluginHost.from_plugins(("odd", Odd()))
    assert host.describe()[-1].hooks == ("mogrun_event",)


def test_plugin_may_not_shadow_mogruns_own_options(tmp_path, plugin_file):
    rel = plugin_file("shadow", """
        @hookimpl
        def mogrun_add_options(register):
            register("timeout", help="mine")
    """)
    with pytest.raises(PluginError) as info:
        load(tmp_path, [rel]).cli_options()
    assert info.value.message == ('plugin "shadow" registers option "--timeout", '
                                  "which is one of mogrun's own options")


def _own_option_names() -> set[str]:
    """Every long option and option destination of ``mogrun``, ``run`` and ``rerun``."""
    import click

    from mogrun.cli.main import cli
    from mogrun.cli.rerun_cmd import rerun_command
    from mogrun.cli.run_cmd import run_command

    names = set()
    for command in (cli, run_command, rerun_command):
        for param in command.params:
            if isinstance(param, click.Option):
                names |= {o[2:] for o in param.opts + param.secondary_opts if o[:2] == "--"}
                names.add((param.name or "").replace("_", "-"))
    return names - {""}


def test_every_option_of_run_is_reserved():
    from mogrun.plugindecl import RESERVED_OPTIONS

    assert _own_option_names() <= RESERVED_OPTIONS


@pytest.mark.parametrize("name", ["parallel", "shard", "plugins", "list", "json-output"])
def test_run_with_a_plugin_option_named_like_its_own_is_refused(tmp_path, name):
    from mogrun.testing import run_mogrun

    (tmp_path / "opt.py").write_text(
        "from mogrun.plugin import hookimpl\n"
        f"@hookimpl\ndef mogrun_add_options(register):\n    register({name!r})\n")
    result = run_mogrun("run", "-p", str(tmp_path / "opt.py"), "--help", cwd=tmp_path,
                        env={"MOGRUN_FILE": None, "MOGRUN_DISABLE_PLUGINS": None})
    assert result.exit_code == 2, result
    assert f'Error: plugin "opt" registers option "--{name}", which is one of mogrun\'s ' \
           "own options" in result.stderr


def test_two_entry_points_of_one_name_are_an_error_not_one_dropped(installed):
    """The second was skipped without a word: its gate never ran, and check said ok."""
    for letter in "ab":
        installed(f"dup{letter}", {"dup": f"mogrun_dup{letter}_mod"}, {f"mogrun_dup{letter}_mod": (
            "from mogrun.hookspecs import hookimpl\n@hookimpl\ndef mogrun_status_changed(state):"
            "\n    pass\n")})
    with pytest.raises(PluginError) as info:
        PluginHost.load(project_dir=None, use_entry_points=True)
    assert info.value.message == ('two plugins are named "dup" (entry point mogrun_dupa_mod '
                                  "and entry point mogrun_dupb_mod)")
    off = PluginHost.load(project_dir=None, env={"MOGRUN_DISABLE_PLUGINS": "dup"})
    assert "dup" not in off.plugin_names()
