"""``mogrun plugins``: which plugins load here, where each came from, its hooks.

Loads what ``run`` would load: the bundled plugins, entry points, the task
file's ``plugins`` (when a task file is found) and ``-p`` ones, honouring
``--no-plugins`` and ``MOGRUN_DISABLE_PLUGINS``. A plugin that fails to load is
reported exactly as ``run`` would report it (exit 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mogrun.cli import framework as click
from mogrun.cli.state import CliState

if TYPE_CHECKING:
    from mogrun.pluginhost import PluginHost

PLUGINS_HELP = """List the loaded plugins, where each came from, and the hooks,
job keys and `run` options it provides.

\b
Examples:
  mogrun plugins
  mogrun plugins -p plugins/team_gate.py
  mogrun --json plugins | jq -r .name
  MOGRUN_DISABLE_PLUGINS=team_gate mogrun plugins
"""


@click.command("plugins", help=PLUGINS_HELP)
@click.option("-p", "--plugin", "extra", multiple=True, metavar="NAME",
              help="Also load this plugin (module name or .py path; repeatable).")
@click.pass_obj
def plugins_command(state: CliState, extra: tuple[str, ...]) -> int:
    from mogrun.cli.loading import load_host, optional_taskfile

    taskfile = optional_taskfile(state)
    if taskfile is not None:
        _refuse_unloadable_entries(taskfile)
    host = load_host(state, taskfile, extra)
    rows = plugin_rows(host)
    if state.json_output:
        for row in rows:
            state.echo_json(row)
        return 0
    from mogrun.tables import render_table

    table = [[r["name"], r["source"], ", ".join(h.removeprefix("mogrun_") for h in r["hooks"]),
              ", ".join([*(f"key {k}" for k in r["keys"]), *r["options"]]) or "-"]
             for r in rows]
    click.echo(render_table(["plugin", "source", "hooks", "provides"], table))
    return 0


def _refuse_unloadable_entries(taskfile: Any) -> None:
    """A ``[mogplex] plugins`` that is no list, or an entry of it no loader tries
    (``../x.py``), refused as ``run`` refuses it (exit 2): the plugins that did load,
    listed without it, looked like all the task file asks for."""
    from mogrun.taskfile.validation import plugins_refused

    refused = plugins_refused(taskfile)
    if refused:
        raise refused[0]


def plugin_rows(host: PluginHost) -> list[dict[str, Any]]:
    """One plain dict per plugin: what ``--json`` prints and the table shows."""
    from mogrun.pluginload import SOURCE_TASK_FILE

    keys = host.key_specs().values()
    options = host.cli_options()
    # A task file's plugins load after the command line is parsed: the options they
    # register exist on no command, and are not listed as if they did.
    return [
        {"name": info.name, "source": info.source, "origin": info.origin,
         "hooks": list(info.hooks),
         "keys": [k.name for k in keys if k.plugin == info.name],
         "options": [f"--{o.name}" for o in options if o.plugin == info.name
                     and info.source != SOURCE_TASK_FILE]}
        for info in host.describe()
    ]
