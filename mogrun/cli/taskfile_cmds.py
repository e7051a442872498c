"""``list``, ``check`` and ``show``: what the task file says and what a run
would send, instantly and without network.

The click commands only: what they do lives in ``mogrun.cli.listing`` and
``mogrun.cli.taskfile_views``, which ``mogrun.cli.app`` also calls without
click for the lines that need no parser (``mogrun check``, ``mogrun show JOB``).
"""

from __future__ import annotations

from mogrun.cli import framework as click
from mogrun.cli.completion import complete_jobs
from mogrun.cli.state import CliState

LIST_HELP = """List the jobs of the task file.

A fan-out's row names its first three repos and counts the rest; --json
lists them all.

\b
Examples:
  mogrun list
  mogrun --json list | jq -r .job
"""


@click.command("list", help=LIST_HELP)
@click.pass_obj
def list_command(state: CliState) -> int:
    from mogrun.cli.listing import list_jobs

    return list_jobs(state)


CHECK_HELP = """Validate the task file without network: keys, types, templates,
prompt files, server limits, the needs graph and plugins. Exit 0 or 2.

\b
Examples:
  mogrun check
  mogrun -f ci/mogplex.toml check
"""


@click.command("check", help=CHECK_HELP)
@click.option("-p", "--plugin", "plugins", multiple=True, metavar="NAME",
              help="Load an extra plugin (module name or .py path).")
@click.pass_obj
def check_command(state: CliState, plugins: tuple[str, ...]) -> int:
    from mogrun.cli.taskfile_views import check_file

    return check_file(state, plugins)


SHOW_HELP = """Show the fully resolved jobs, needs first, and the exact start
request(s) a run would send (token and secrets masked). No network.

\b
Examples:
  mogrun show weekly-cleanup
  mogrun --set team=web show codemod
  mogrun --json show codemod
"""


@click.command("show", help=SHOW_HELP)
# Not required=True: click's "Missing argument 'JOBS...'" where run says what to do.
@click.argument("jobs", nargs=-1, metavar="JOBS...", shell_complete=complete_jobs)
@click.option("--no-deps", is_flag=True, help="Do not include the jobs' needs.")
@click.option("-p", "--plugin", "plugins", multiple=True, metavar="NAME",
              help="Load an extra plugin (module name or .py path).")
@click.pass_obj
def show_command(state: CliState, jobs: tuple[str, ...], no_deps: bool,
                 plugins: tuple[str, ...]) -> int:
    from mogrun.cli.taskfile_views import show_jobs

    if not jobs:
        from mogrun.errors import UsageError

        raise UsageError("show needs at least one job name", context=["See: mogrun list"])
    return show_jobs(state, jobs, no_deps=no_deps, extra_plugins=plugins)
