"""Commands that are thin over the API client: ``repos``, ``automations``."""

from __future__ import annotations

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
            state.echo_json(repo, sort_keys=True)
        return 0
    if not repos:
        click.echo(f"No repos{_matching(query)}.", err=True)
        return 0
    from mogrun.tables import render_table

    rows = [[escape_text(str(r.get(k) or "-")) for k in ("id", "full_name", "default_branch")]
            for r in repos]
    click.echo(render_table(["id", "full name", "default branch"], rows))
    if len(repos) >= limit:  # a listing as long as its limit may leave some out
        more = "raise --limit (at most 200) or " if limit < 200 else ""
        first = "The first repo" if limit == 1 else f"The first {limit} repos"
        click.echo(f"{first}{_matching(query)}; there may be more: "
                   f"{more}narrow them with a QUERY.", err=True)
    return 0


@click.command("automations")
@click.argument("query", required=False)
@click.pass_obj
def automations_command(state: CliState, query: str | None) -> int:
    """List the account's automations (helps fill `automation` in mogplex.toml).

    QUERY keeps those whose name or id contains it (case-insensitive). Only a
    published, active automation can be triggered by a job.
    With --json: one automation object per line.
    """
    from mogrun.api.automations import list_automations
    from mogrun.api.text import escape_text
    from mogrun.cli.connect import connect
    from mogrun.cli.loading import optional_taskfile

    connection = connect(state, taskfile=optional_taskfile(state))
    found = list_automations(connection.client, query)
    if state.json_output:
        for automation in found:
            state.echo_json({"id": automation.id, "name": automation.name,
                             "status": automation.status, "published": automation.published},
                            sort_keys=True)
        return 0
    if not found:
        click.echo(f"No automations{_matching(query)}.", err=True)
        return 0
    from mogrun.tables import render_table

    rows = [[escape_text(a.id), escape_text(a.name), escape_text(a.status or "-"),
             "yes" if a.published else "no"] for a in found]
    state.hold_github_commands()  # the account's text, as --json makes it inert
    click.echo(render_table(["id", "name", "status", "published"], rows))
    return 0


def _matching(query: str | None) -> str:
    """`` matching 'x\\y'`` as typed: Python's repr doubled its backslash (and put
    a query holding ``'`` in double quotes); a control character shows escaped."""
    from mogrun.textsafety import escape_agent_text

    return f" matching '{escape_agent_text(query)}'" if query else ""
