"""``mogrun list``: the jobs of the task file, fast.

This module imports neither click nor anything heavy: ``mogrun list`` (and
``mogrun`` alone, ``-l``, ``--json list``) is answered by ``MogrunApp`` without
loading click at all. It loads the task file with tomllib only — no plugins,
no rich, no HTTP code — and so does not reject plugin keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mogrun.cli.loading import load_taskfile
from mogrun.cli.state import CliState
from mogrun.taskfile.parse import TaskFile


def list_jobs(state: CliState) -> int:
    """``mogrun list``: one row per job (``--json``: one object per line), and
    one line on stderr when the file has problems (see ``warn_problems``)."""
    taskfile = load_taskfile(state)
    try:
        return _list(state, taskfile)
    finally:
        warn_problems(state, taskfile)


def warn_problems(state: CliState, taskfile: TaskFile) -> None:
    """One line on stderr when a glance finds problems (``schema.glance``): list
    shows what it can of such a file and still exits 0 (scripts, completion and
    prompts call it; ``check`` is the gate that exits 2), but never in silence:
    a table typo'd as ``[job.b]`` would otherwise just be a job that is not there."""
    from mogrun.taskfile.schema import glance

    found = glance(taskfile, _other_plugins(state, taskfile))
    if not found:
        return
    named = ", ".join(found[:2])
    if len(found) > 2:
        named += f" and {len(found) - 2} more"
    state.warn(f"{taskfile.path} has problems: {named}; run `mogrun check` to see them all")


def _other_plugins(state: CliState, taskfile: TaskFile) -> Callable[[], bool]:
    """Whether a plugin other than the bundled ones may be loaded, and so declare
    job keys list cannot know: the file's own, or an installed entry point, unless
    switched off (``--no-plugins``, ``MOGRUN_DISABLE_PLUGINS``), as the run would."""
    def other() -> bool:
        if state.no_plugins:
            return False
        from mogrun.entrypoints import entry_points  # read, never imported
        from mogrun.pluginload import disabled_names, spec_name

        off = disabled_names(state.env)
        if any(spec_name(spec) not in off for spec in taskfile.plugins):
            return True
        return any(not ep.value.strip().startswith("mogrun_plugins.") and ep.name not in off
                   for ep in entry_points("mogrun"))
    return other


REPOS_SHOWN = 3  # of a fan-out's repos, in its row of ``list``


def _list(state: CliState, taskfile: TaskFile) -> int:
    read = [job_summary(taskfile, name) for name in taskfile.job_names]
    rows = [row for row, _ in read]
    if state.json_output:
        for row in rows:
            state.echo_json(row)
        return 0
    if not rows:
        state.echo(f"No jobs in {taskfile.path}. Add one with `mogrun add`.", err=True)
        return 0
    from mogrun.tables import fitted_lines, listed, table_columns
    from mogrun.textsafety import escape_agent_text

    headers = ["job", "description", "repos", "harness", "needs"]
    with taskfile.spelled():  # a wrong value is shown as the file wrote it
        shown = [_shown(row, merged) for row, merged in read]
    # A fan-out's cell names its first repos and counts the rest (--json has them all):
    # 1,000 repos made every row 12,000 characters wide.
    table = [[r["job"], c["description"], c["repos"] if isinstance(c["repos"], str)
              else listed(c["repos"], REPOS_SHOWN), _harness_cell(r, c),
              c["needs"] if isinstance(c["needs"], str) else ", ".join(c["needs"]) or "-"]
             for r, c in zip(rows, shown, strict=True)]
    if any("next_run" in r for r in rows):  # the column only for files with schedules
        headers.append("next run (UTC)")
        for cells, r in zip(table, rows, strict=True):
            cells.append(r.get("next_run") or "-")
    # One line per job, and text from the file never acts on the terminal.
    table = [[escape_agent_text(" ".join(cell.split())) for cell in row] for row in table]
    state.hold_github_commands()  # the file's text: a pull request's, in CI
    # Wider than the terminal, a block per job, as status and history do: the example
    # file's rows were 168 columns, each wrapped over three lines at 80.
    state.echo("\n".join(fitted_lines(headers, table, table_columns(state.env, state.stdout))))
    return 0


# Each field of a job's row that shows a key's value, and that key.
_KEYS = {"description": "description", "repos": "repo", "harness": "harness", "needs": "needs"}


def _shown(row: dict[str, Any], merged: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` as its table row shows it: a value the file has (in the job's
    ``merged`` keys) but ``--json`` gives as ``null`` (not what the key takes:
    ``glance`` warns of it) as TOML writes it."""
    from mogrun.tomltext import toml_repr

    written = {field: merged.get(key) for field, key in _KEYS.items() if row[field] is None}
    return {**row, **{field: toml_repr(raw) for field, raw in written.items() if raw is not None}}


def _harness_cell(row: dict[str, Any], shown: dict[str, Any]) -> str:
    """The harness column: an automation job's automation (which decides how its
    agents run), else the harness as shown."""
    if "automation" in row:
        return f"automation {row['automation']}"
    return shown["harness"] or "-"


def _merged(taskfile: TaskFile, name: str) -> dict[str, Any]:
    """The job's keys as ``list`` reads them: ``[defaults]`` applied, but not to
    the keys only a job has (``description``, ``needs``)."""
    from mogrun.taskfile.schema import JOB_ONLY

    return {k: v for k, v in taskfile.job_keys(name).items()
            if k not in JOB_ONLY or k in taskfile.jobs[name]}


def job_summary(taskfile: TaskFile, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """One job as ``list`` shows it: raw values, defaults applied, nothing rendered;
    a value of the wrong type is ``null`` (never a string a script would take for
    a description or a repo), and repos are stripped, as they are sent. With it,
    the job's keys it was read from (``_shown`` writes a wrong value from them)."""
    merged = _merged(taskfile, name)
    description, repo = merged.get("description", ""), merged.get("repo", [])
    harness = merged.get("harness")
    automation = merged.get("automation")
    if isinstance(automation, str):  # the automation decides how its agents run: no harness
        harness = None  # (the table says "automation NAME" in its column)
    summary = {"job": name, "description": description if isinstance(description, str) else None,
               "repos": _strings([repo] if isinstance(repo, str) else repo, str.strip),
               "harness": harness if isinstance(harness, str) else None,
               "needs": _strings(merged.get("needs", []))}
    if isinstance(automation, str):
        summary["automation"] = automation
    if "schedule" in merged:  # the cron reader loads only for a job with a schedule
        from mogrun.ci.schedules import job_schedules, next_run_field

        raw = merged["schedule"]  # a wrong type is null, not the strings found in it
        summary["schedule"] = job_schedules(taskfile, name) if isinstance(raw, str) \
            or _strings(raw) is not None else None
        summary["next_run"] = next_run_field(taskfile, name)
    return summary, merged


def _strings(value: Any, shown: Callable[[str], str] = str) -> list[str] | None:
    """A list of strings, each as ``shown``; ``None`` for anything else."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None
    return [shown(item) for item in value]
