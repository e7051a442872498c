"""The key-position scanner behind every `--> file:line:col`."""

from __future__ import annotations

import tomllib

from mogrun.taskfile.positions import key_positions, locate

TEXT = '''# comment [jobs.fake]
[mogplex]
url = "x"  # [jobs.fake]
[jobs."a b"]
repo = ["a", # c
  "b"]
prompt = """
x = 1
[jobs.fake]
"""
notify = [{ webhook = "u", on = ["x"] },
  {slack = 'y'}]
retry.attempts = 3
[jobs.c]
  tmeout = 5
'''


def test_positions_of_tables_dotted_and_inline_keys() -> None:
    tomllib.loads(TEXT)  # the fixture is valid TOML
    found = key_positions(TEXT)
    assert found[("jobs", "a b")] == (4, 7)
    assert found[("jobs", "a b", "prompt")] == (7, 1)
    assert found[("jobs", "a b", "notify", "on")] == (11, 28)
    assert found[("jobs", "a b", "notify", "slack")] == (12, 4)
    assert found[("jobs", "a b", "retry", "attempts")] == (13, 7)
    assert found[("jobs", "c", "tmeout")] == (15, 3)
    assert ("jobs", "fake") not in found
    assert ("x",) not in found and ("jobs", "a b", "x") not in found


def test_locate_falls_back_to_the_longest_known_prefix() -> None:
    where = locate("f.toml", TEXT, ("jobs", "c", "missing"))
    assert (str(where), where.source_line) == ("f.toml:14:7", "[jobs.c]")
    assert str(locate("f.toml", TEXT, ("nothing",))) == "f.toml"
