"""Hints quote names so that pasting them into bash or zsh gives the names back,
even names holding a newline or an escape (which ``'...'`` would keep as the
two characters ``\\n``)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from mogrun.cli.run_cmd import command_prefix
from mogrun.cli.state import CliState
from mogrun.engine.rerun import rerun_for
from mogrun.textsafety import escape_agent_text, shell_word

NAMES = ["plain.toml", "with space.toml", "it's.toml", "nl\nname.toml", "esc\x1b[31mred.toml",
         "tab\there\\and 'quote'.toml", "bidi\u202ename.toml", "cr\r\n.toml",
         # U+0080-U+00FF were written \xHH: one raw byte in bash, not the character
         "my\u00a0file.toml", "soft\u00adhyphen.toml", "c1\x85.toml",
         "byte\udcff.toml"]  # an undecodable byte of a file name, as Python holds it


def _words(line: str, locale: str = "C.UTF-8") -> list[str]:
    """What bash makes of ``line``'s words (in ``locale``: ``$'\\u..'`` depends on it)."""
    done = subprocess.run(["bash", "-c", f"printf '%s\\0' {line}"], capture_output=True,
                          check=True, env={"LC_ALL": locale, "PATH": "/usr/bin:/bin"})
    return done.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_a_quoted_name_is_the_name_again_in_bash() -> None:
    for name in NAMES:
        word = shell_word(name)
        assert escape_agent_text(word) == word  # printed as is: nothing acts on the terminal
        assert _words(word) == [name], word
        assert _words(word, locale="C") == [name], word


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_rerun_hint_names_the_task_file_it_was_given() -> None:
    state = CliState(file="nl\nname.toml", local=True)
    line = rerun_for(command_prefix(state) + " rerun", ["a"])
    assert line == "mogrun -f $'nl\\nname.toml' --local rerun a"
    assert _words(line.removeprefix("mogrun ")) == ["-f", "nl\nname.toml", "--local",
                                                    "rerun", "a"]
