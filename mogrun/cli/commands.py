"""The sub-commands of `mogrun`: where each lives and its panel in ``--help``.

A table without click, so the click-free paths (``list``, ``check``, ``show``;
see ``mogrun.cli.app``) can know the command names too: a job may not be
named like a command.
"""

from __future__ import annotations

# name -> (module, attribute, panel). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("mogrun.cli.run_cmd", "run_command", "Run jobs"),
    "rerun": ("mogrun.cli.rerun_cmd", "rerun_command", "Run jobs"),
    "status": ("mogrun.cli.status_cmd", "status_command", "Run jobs"),
    "logs": ("mogrun.cli.logs_cmd", "logs_command", "Run jobs"),
    "cancel": ("mogrun.cli.cancel_cmd", "cancel_command", "Run jobs"),
    "history": ("mogrun.cli.history_cmd", "history_command", "Run jobs"),
    "list": ("mogrun.cli.taskfile_cmds", "list_command", "Task file"),
    "check": ("mogrun.cli.taskfile_cmds", "check_command", "Task file"),
    "show": ("mogrun.cli.taskfile_cmds", "show_command", "Task file"),
    "init": ("mogrun.cli.edit_cmds", "init_command", "Task file"),
    "add": ("mogrun.cli.edit_cmds", "add_command", "Task file"),
    "ci": ("mogrun.cli.ci_cmds", "ci_group", "Task file"),
    "schema": ("mogrun.cli.schema_cmd", "schema_command", "Task file"),
    "repos": ("mogrun.cli.api_cmds", "repos_command", "Mogplex"),
    "automations": ("mogrun.cli.api_cmds", "automations_command", "Mogplex"),
    "plugins": ("mogrun.cli.plugin_cmds", "plugins_command", "Mogplex"),
    "emulator": ("mogrun.cli.emulator_cmd", "emulator_command", "Mogplex"),
    "completion": ("mogrun.cli.completion_cmd", "completion_command", "Shell"),
}
