"""``schema``: the JSON Schema of mogplex.toml, for editors."""

from __future__ import annotations

import json

from mogrun.cli import framework as click
from mogrun.cli.state import CliState

SCHEMA_HELP = """Print the JSON Schema of mogplex.toml (with the keys the loaded
plugins declare), for editors: taplo, Even Better TOML. It comes from the
rules `check` uses, so the two agree.

\b
Examples:
  mogrun schema > mogplex.schema.json
  (then put "#:schema ./mogplex.schema.json" on the first line of mogplex.toml)
"""


@click.command("schema", help=SCHEMA_HELP)
@click.option("-p", "--plugin", "extra", multiple=True, metavar="NAME",
              help="Also load this plugin (module name or .py path; repeatable).")
@click.pass_obj
def schema_command(state: CliState, extra: tuple[str, ...]) -> int:
    from mogrun.cli.loading import load_host, optional_taskfile
    from mogrun.taskfile.schema_json import json_schema

    state.stdout_is_data = True  # a plugin's print at import must not corrupt it
    host = load_host(state, optional_taskfile(state), extra)
    state.echo(json.dumps(json_schema(host.key_specs()), indent=2))
    return 0
