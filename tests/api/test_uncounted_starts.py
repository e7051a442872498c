"""A start the server never counted leaves mogrun's start windows: the server
counts only what it lets through, and a start its limiter could not count (503)
took no start slot. Counted, three 503s before two starts held the second start
a minute behind a start limit of 2/min. End to end against the emulator."""

from __future__ import annotations

import time

from mogrun.testing import write_taskfile

FAN = """
    [mogplex]
    starts_per_minute = 2

    [jobs.fan]
    repo = ["acme/api", "acme/web"]
    prompt = "{{ repo }}\\n@emulator duration=0.2s"
    retry = { attempts = 5, max_delay = "0.05s" }
"""


def test_starts_the_limiter_could_not_count_hold_no_start_back(mogrun_cli, mogrun_emulator,
                                                               tmp_path):
    write_taskfile(tmp_path, FAN)
    mogrun_emulator.add_fault("start", "503", count=3, retry_after=0)
    began = time.monotonic()
    result = mogrun_cli("fan", cwd=tmp_path)
    assert result.exit_code == 0, result
    assert mogrun_emulator.count("POST", "/runs", status=503) == 3
    assert "start limit" not in result.output, result
    assert time.monotonic() - began < 30, result  # not a minute behind the 503s
