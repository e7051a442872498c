"""``mogrun completion SHELL``: the scripts load in the real shells, and the
installed ``mogrun`` answers their requests with the task file's job names."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mogrun.testing import job, task_file

MOGRUN = Path(sys.executable).with_name("mogrun")
pytestmark = pytest.mark.skipif(not MOGRUN.exists(), reason="needs the installed mogrun script")


def shell(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{MOGRUN.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("MOGRUN_FILE", None)
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)


def test_bash_loads_the_script(tmp_path) -> None:
    done = shell(tmp_path, "bash", "-c", "source <(mogrun completion bash) && complete -p mogrun")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "complete -o nosort -F _mogrun_completion mogrun"


def test_bash_completes_history_job_with_job_names(tmp_path) -> None:
    (tmp_path / "mogplex.toml").write_text(task_file(job("lint"), job("deploy")))
    done = shell(tmp_path, "bash", "-c",
                 'source <(mogrun completion bash); COMP_WORDS=(mogrun history --job "");'
                 ' COMP_CWORD=3; _mogrun_completion mogrun; echo "${COMPREPLY[@]}"')
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["lint", "deploy"]


def test_bash_completes_commands_and_jobs_as_the_first_word(tmp_path) -> None:
    (tmp_path / "mogplex.toml").write_text(task_file(job("stage"), job("lint")))
    done = shell(tmp_path, "bash", "-c",
                 'source <(mogrun completion bash); COMP_WORDS=(mogrun st);'
                 ' COMP_CWORD=1; _mogrun_completion mogrun; echo "${COMPREPLY[@]}"')
    assert done.stdout.split() == ["status", "stage"]


@pytest.mark.parametrize(("words", "offered"), [
    ("mogrun status --js", ["--json"]),
    ("mogrun run --lo", ["--local"]),
    ("mogrun run lint --js", ["--json"]),
    ("mogrun status --exit", ["--exit-status"]),  # its own still come first
    ("mogrun emulator --fi", ["--file"]),         # it serves the file -f names
])
def test_bash_completes_global_options_after_a_command(tmp_path, words, offered) -> None:
    """Global options may stand anywhere; after a command they were not offered."""
    (tmp_path / "mogplex.toml").write_text(task_file(job("lint")))
    count = len(words.split()) - 1
    done = shell(tmp_path, "bash", "-c",
                 f"source <(mogrun completion bash); COMP_WORDS=({words}); "
                 f'COMP_CWORD={count}; _mogrun_completion mogrun; echo "${{COMPREPLY[@]}}"')
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == offered


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_loads_the_script(tmp_path) -> None:
    done = shell(tmp_path, "zsh", "-c", "autoload -Uz compinit && compinit -u && "
                 "source <(mogrun completion zsh) && print -r -- ${_comps[mogrun]}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "_mogrun_completion"


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_loads_the_script_and_completes_jobs(tmp_path) -> None:
    (tmp_path / "mogplex.toml").write_text(task_file(job("lint"), job("deploy")))
    done = shell(tmp_path, "fish", "-c",
                 'mogrun completion fish | source; complete -C "mogrun history --job "')
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == ["deploy", "lint"]


def test_an_unknown_shell_is_a_usage_error(mogrun_cli, tmp_path) -> None:
    result = mogrun_cli("completion", "tcsh", cwd=tmp_path)
    assert result.exit_code == 2
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.stderr


@pytest.mark.parametrize("word", ["sho", "lsit", "histroy"])
def test_tab_after_a_mistyped_command_offers_nothing_and_prints_no_traceback(tmp_path,
                                                                            word) -> None:
    (tmp_path / "mogplex.toml").write_text(task_file(job("hello"), job("fan")))
    done = shell(tmp_path, "env", f"COMP_WORDS=mogrun {word} ", "COMP_CWORD=2",
                 "_MOGRUN_COMPLETE=bash_complete", str(MOGRUN))
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(("words", "offered"), [
    ("mogrun help ", {"run", "rerun", "status", "ci", "completion"}),
    ("mogrun help re", {"rerun", "repos"}),
    ("mogrun help ci ", {"github"}),
    ("mogrun help run ", set()),
])
def test_tab_after_help_offers_commands_and_prints_no_help(tmp_path, words, offered) -> None:
    """``mogrun help <TAB>`` printed the whole help as the completions and a
    traceback (click's Exit) onto the line."""
    (tmp_path / "mogplex.toml").write_text(task_file(job("hello")))
    count = len(words.split()) - (0 if words.endswith(" ") else 1)
    done = shell(tmp_path, "env", f"COMP_WORDS={words}", f"COMP_CWORD={count}",
                 "_MOGRUN_COMPLETE=bash_complete", str(MOGRUN))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    said = {line.split(",", 1)[1] for line in done.stdout.splitlines() if line}
    assert offered <= said and "hello" not in said and "Usage" not in done.stdout, said
    if not offered:
        assert said == set()


@pytest.mark.parametrize("shell_kind", ["bash", "zsh", "fish"])
@pytest.mark.parametrize(("after", "before"), [
    ("mogrun show -f nightly.t", "mogrun -f nightly.t"),
    ("mogrun status --file ", "mogrun --file "),
    ("mogrun status --url ", "mogrun --url "),
    ("mogrun show hello --set ", "mogrun --set "),
    ("mogrun show hello -qf ", "mogrun -qf "),
])
def test_tab_on_a_global_options_value_after_the_command(tmp_path, shell_kind, after,
                                                          before) -> None:
    """Answered as before the command; it printed a traceback ("Option '-f'
    requires an argument") onto the line."""
    (tmp_path / "mogplex.toml").write_text(task_file(job("hello")))
    (tmp_path / "nightly.toml").write_text(task_file(job("night")))

    def complete(words: str) -> subprocess.CompletedProcess[str]:
        count = len(words.split()) - (0 if words.endswith(" ") else 1)
        partial = words.split(" ")[-1]  # fish gives the word, the others its index
        cword = partial if shell_kind == "fish" else count
        return shell(tmp_path, "env", f"COMP_WORDS={words}", f"COMP_CWORD={cword}",
                     f"_MOGRUN_COMPLETE={shell_kind}_complete", str(MOGRUN))

    done, expected = complete(after), complete(before)
    assert "Traceback" not in done.stderr, done.stderr
    assert (done.returncode, done.stdout, done.stderr) == (
        expected.returncode, expected.stdout, expected.stderr)


def test_a_usage_error_while_completing_is_no_traceback(tmp_path, monkeypatch) -> None:
    """Whatever click refuses while reading the line answers nothing (exit 1)."""
    import io

    import click

    from mogrun.cli.completion import complete_from_process

    class Refusing(click.Command):
        def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
            raise click.BadOptionUsage("-f", "Option '-f' requires an argument.")

    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setenv("COMP_WORDS", "mogrun -f")  # click reads the shell's words there
    monkeypatch.setenv("COMP_CWORD", "2")
    env = {"_MOGRUN_COMPLETE": "bash_complete"}
    assert complete_from_process(Refusing("mogrun"), env, str(tmp_path), out, err) == 1
    assert (out.getvalue(), err.getvalue()) == ("", "")


@pytest.mark.parametrize("words", ["mogrun -f ", "mogrun run --junit ", "mogrun ci github -o ",
                                   "mogrun add x --prompt-file ", "mogrun run -p "])
def test_an_option_that_takes_a_path_completes_file_names(tmp_path, words) -> None:
    """`mogrun -f sub/oth<TAB>` beeped: the options that take a path answered nothing,
    and the script completes files only for what says "file" (as `make -f` does)."""
    (tmp_path / "mogplex.toml").write_text(task_file(job("lint")))
    done = shell(tmp_path, "env", f"COMP_WORDS={words}", f"COMP_CWORD={len(words.split())}",
                 "_MOGRUN_COMPLETE=bash_complete", str(MOGRUN))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["file,"], done.stdout


def test_an_empty_completion_variable_is_unset(tmp_path) -> None:
    """``_MOGRUN_COMPLETE=`` (empty) made every command exit 1 silently: click takes an
    empty one as unset, and so does mogrun."""
    (tmp_path / "mogplex.toml").write_text(task_file(job("hello")))
    done = shell(tmp_path, "env", "_MOGRUN_COMPLETE=", str(MOGRUN), "list")
    assert done.returncode == 0, done.stderr
    assert "hello" in done.stdout
