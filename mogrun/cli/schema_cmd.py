"""``schema``: the JSON Schema of mogplex.toml, for editors."""

from __future__ import annotations

import json

from mogrun.cli import framework as click
from mogrun.cli.state import CliState
from mogrun.errors import TaskFileError

SCHEMA_HELP = """Print the JSON Schema of mogplex.toml (with the keys the loaded
plugins declare), for editors: taplo, Even Better TOML. It comes from the
rules `check` uses, so the two agree.

\b
Examples:
  mogrun schema > mogplex.schema.json
  (then put "#:schema ./mogplex.schema.json" on mogplex.toml's first line)
"""


@click.command("schema", help=SCHEMA_HELP)
@click.option("-p", "--plugin", "extra", multiple=True, metavar="NAME",
              help="Also load this plugin (module name or .py path; repeatable).")
@click.pass_obj
def schema_command(state: CliState, extra: tuple[str, ...]) -> int:
    from mogrun.cli.loading import checked_host, optional_taskfile, say_plugin_notes
    from mogrun.taskfile.schema_json import json_schema

    state.stdout_is_data = True  # a plugin's print at import must not corrupt it
    # An editor asks for the schema while the file is being fixed: one that is
    # there but cannot be read is said, and the schema is the plugins' that load.
    taskfile = optional_taskfile(state, unreadable=lambda error: _warn(
        state, error, "the keys its plugins declare are not in the schema"))
    host, problems = checked_host(state, taskfile, extra)
    for problem in problems:  # the keys of the plugins that loaded are still there
        _warn(state, problem, "the keys this plugin declares are not in the schema")
    if taskfile is not None:  # an entry no loader tries was left out without a word
        from mogrun.taskfile.validation import plugins_refused

        for refused in plugins_refused(taskfile):
            _warn(state, refused, "the keys of what it names are not in the schema")
    say_plugin_notes(state, host, taskfile, extra)
    schema = json_schema(host.key_specs())
    if state.json_output:  # one object on one line, as every --json output is
        state.echo_json(schema)
    else:
        state.echo(json.dumps(schema, indent=2))
    return 0


def _warn(state: CliState, error: TaskFileError, consequence: str) -> None:
    from mogrun.textsafety import escape_agent_text

    lines = error.lines()
    state.warn(f"{lines[0]} ({consequence})")
    for line in lines[1:]:
        state.echo(escape_agent_text(line), err=True)
