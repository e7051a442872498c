"""Commands that are thin over the API client: ``repos``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from mogrun.cli import framework as click

if TYPE_CHECKING:
    from mogrun.cli.state import CliState


@click.command("repos")
@click.argument("query", required=False)
@click.option("--limit", type=click.IntRange(1, 200), default=200, show_default=True,
              help="At most this many repos (the API's cap is 200).")
@click.pass_obj
def repos_command(state: CliState, query: str | None, limit: int) -> int:
    """List the account's repos (helps fill `repo` in mogplex.toml).

    QUERY keeps the repos whose owner/name contains it (case-insensitive).
    With --json: one repo object per line.
    """
    from mogrun.api.text import escape_text
    from mogrun.cli.connect import connect
    from mogrun.cli.loading import optional_taskfile

    connection = connect(state, taskfile=optional_taskfile(state))
    repos = connection.client.list_repos(query, limit=limit)
    if state.json_output:
        for repo in repos:
            click.echo(json.dumps(repo, sort_keys=True))
        return 0
    if not repos:
        where = f" matching {query!r}" if query else ""
        click.echo(f"No repos{where}.", err=True)
        return 0
    from mogrun.tables import render_table

    rows = [[escape_text(str(r.get(k) or "-")) for k in ("id", "full_name", "default_branch")]
            for r in repos]
    click.echo(render_table(["id", "full name", "default branch"], rows))
    return 0
