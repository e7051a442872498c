"""Renderers of a run session: terminal, plain, NDJSON, GitHub Actions.

``base.make_reporter`` picks one; the engine calls it through the ``Reporter``
protocol (``base.py``) from worker threads:

- ``plain.PlainReporter``: lines ``HH:MM:SS  label  kind  tool  text`` (UTC); notices on
  stderr; ``tables`` holds the summary every mode shares.
- ``live.LiveReporter``: the same lines above a rich Live area (a terminal only)
  drawn from ``board.Board``: every run of the invocation and its phase.
- ``ndjson.NdjsonReporter``: ``--json``, one object per line on stdout.
- ``github.GithubReporter``: plain lines in groups inside ``::stop-commands::``,
  ``::error::`` annotations.
- ``stepfiles.StepFiles``: ``$GITHUB_STEP_SUMMARY`` and ``$GITHUB_OUTPUT``, written
  under GitHub Actions by both of the last two (they are files, not stdout).

``mogrun.tables.render_table`` prints aligned plain tables for other commands.
Nothing here is imported until a command needs it; rich loads only with ``live``.
"""
