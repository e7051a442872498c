"""docs/plugins.md cannot drift: every hook is documented and every example loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mogrun.hookspecs import hook_names
from mogrun.pluginhost import PluginHost

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
TEXT = DOC.read_text()
EXAMPLES = [block for block in re.findall(r"```python\n(.*?)```", TEXT, re.S)
            if "@hookimpl" in block]


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_has_its_own_section(hook):
    assert re.search(rf"^### `{hook}\(", TEXT, re.M), f"{hook} is not documented"


def test_every_hook_has_an_example():
    shown = {name for block in EXAMPLES for name in re.findall(r"def (mogrun_\w+)\(", block)}
    assert shown == set(hook_names())


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_each_example_loads_as_a_plugin(tmp_path, index):
    path = tmp_path / f"doc_example_{index}.py"
    path.write_text(EXAMPLES[index])
    host = PluginHost.load(project_dir=None, extra=[str(path)], use_entry_points=False)
    [info] = [i for i in host.describe() if i.source == "-p"]
    assert set(info.hooks) == set(re.findall(r"def (mogrun_\w+)\(", EXAMPLES[index]))


def test_examples_import_only_the_public_module():
    """Plugin authors copy these: they must not teach mogrun's internals."""
    blocks = [block for block in re.findall(r"```python\n(.*?)```", TEXT, re.S)]
    imported = {name for block in blocks
                for name in re.findall(r"^\s*(?:from|import) (mogrun[\w.]*)", block, re.M)}
    # the testing section shows the test fixtures; its unit test calls the hook itself
    assert imported == {"mogrun.plugin", "mogrun.testing"}


def test_the_public_module_table_names_every_export():
    """"Anything not named there is internal": an export the table leaves out
    (toml_repr was) reads as internal to a plugin author."""
    import mogrun.plugin

    table = TEXT[TEXT.index("| what | names |"):].split("\n\n", 1)[0]
    named = set(re.findall(r"`([A-Za-z_]\w*)", table))
    assert sorted(set(mogrun.plugin.__all__) - named) == []


SETUP_ORDER = """\
import pathlib

from mogrun.plugin import hookimpl


def called(hook):
    with pathlib.Path(__file__).with_name("called.txt").open("a") as out:
        out.write(hook + "\\n")


@hookimpl
def mogrun_add_options(register):
    called("mogrun_add_options")


@hookimpl
def mogrun_configure(config):
    called("mogrun_configure")


@hookimpl
def mogrun_job_keys(register):
    called("mogrun_job_keys")


@hookimpl
def mogrun_adjust_job(job):
    called("mogrun_adjust_job")
"""


def test_the_set_up_order_said_is_the_order_called(tmp_path, mogrun_cli):
    """The module's docstring said "set-up (options, keys, configure)"; configure
    is called before job_keys."""
    import mogrun.hookspecs

    (tmp_path / "order.py").write_text(SETUP_ORDER)
    (tmp_path / "mogplex.toml").write_text('[jobs.a]\nrepo = "acme/api"\nprompt = "go"\n')
    result = mogrun_cli("show", "-p", "order.py", "a", cwd=tmp_path)
    assert result.exit_code == 0, result
    called = (tmp_path / "called.txt").read_text().splitlines()
    assert called == ["mogrun_add_options", "mogrun_configure", "mogrun_job_keys",
                      "mogrun_adjust_job"]
    said = " ".join((mogrun.hookspecs.__doc__ or "").split())
    assert "set-up (options, configure, keys: called in that order)" in said
    assert ", ".join(f"`{hook}`" for hook in called[:3]) in " ".join(TEXT.split())
