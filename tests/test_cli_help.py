"""The root help renders through rich-click markup: text in square brackets
must survive it (an unescaped "[vars]" is read as a style tag and vanishes)."""

import pytest


def test_root_help_keeps_bracketed_words(mogrun_cli, tmp_path) -> None:
    result = mogrun_cli("--help", cwd=tmp_path, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result
    assert "Override a [vars] entry (repeatable)." in result.stdout
    for panel in ("Run jobs", "Task file", "Mogplex"):
        assert panel in result.stdout


def _commands():
    """Every command below the root, as the words that name it."""
    import click

    from mogrun.cli.main import cli

    def walk(command, path):
        if path:
            yield path, command
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                yield from walk(command.get_command(ctx, name), [*path, name])

    return list(walk(cli, []))


def test_every_command_s_help_keeps_its_bracketed_words(mogrun_cli, tmp_path) -> None:
    """`add --help` said "(default: , else the server's)": "[defaults]" in an
    option's help was read as a style tag, as "[vars]" was in the root's. Every
    bracketed word a command's help or its options' help holds is shown."""
    import re

    checked = []
    for path, command in _commands():
        texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
        words = {m.group(1) for text in texts for m in re.finditer(r"\\?(\[[^\]\s]+\])", text)}
        if not words:
            continue
        result = mogrun_cli(*path, "--help", cwd=tmp_path, env={"COLUMNS": "1000"})
        assert result.exit_code == 0, result
        shown = " ".join(result.stdout.split())
        for word in words:
            checked.append((" ".join(path), word))
            assert word in shown, (path, word)
    assert ("add", "[defaults]") in checked


def test_help_as_a_word_is_the_help_unless_a_job_has_the_name(mogrun_cli, tmp_path) -> None:
    """`mogrun help` (git's and gh's habit) said 'unknown job "help"', did you mean
    "hello"?; `mogrun help run` the same."""
    (tmp_path / "mogplex.toml").write_text(
        '[jobs.hello]\r\nrepo = "acme/api"\r\nprompt = "x"\r\n\r\n')
    root = mogrun_cli("--help", cwd=tmp_path, env={"COLUMNS": "120"})
    said = mogrun_cli("help", cwd=tmp_path, env={"COLUMNS": "120"})
    assert (said.exit_code, said.stdout) == (0, root.stdout), said
    again = mogrun_cli("help", "help", cwd=tmp_path, env={"COLUMNS": "120"})
    assert (again.exit_code, again.stdout) == (0, root.stdout), again  # was: no command
    run = mogrun_cli("help", "run", cwd=tmp_path, env={"COLUMNS": "120"})
    assert run.exit_code == 0, run
    assert run.stdout == mogrun_cli("run", "--help", cwd=tmp_path,
                                    env={"COLUMNS": "120"}).stdout
    (tmp_path / "mogplex.toml").write_text(
        '[jobs.help]\nrepo = "acme/api"\nprompt = "x"\n')  # a job of that name is run
    shown = mogrun_cli("-n", "help", cwd=tmp_path)
    assert shown.exit_code == 0 and "job help" in shown.stdout, shown
    job = mogrun_cli("help", "--local", cwd=tmp_path)
    assert "Usage:" not in job.stdout, job


def test_help_keeps_click_s_paragraphs(mogrun_cli, tmp_path) -> None:
    """rich-click joined every line of an epilog (completion's install line per shell,
    status's exit codes ran into one paragraph) and dedented what follows the first
    paragraph (the Examples of the root's help and of add lost their indent)."""
    def lines(*argv: str) -> list[str]:
        result = mogrun_cli(*argv, "--help", cwd=tmp_path, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result
        return [line.rstrip() for line in result.stdout.splitlines()]

    completion = lines("completion")
    for shell in ("bash", "zsh", "fish"):  # each shell's line starts its own
        assert any(line.split()[:1] == [shell] for line in completion), completion
        assert any(line.split()[:3] == ["mogrun", "completion", shell]
                   or line.split()[1:4] == ["mogrun", "completion", shell]
                   for line in completion), completion
    status = lines("status")
    assert any(line.lstrip().startswith("3  none failed") for line in status), status
    for argv, example in ((), "mogrun weekly-cleanup"), (("add",), "mogrun add lint-fix"):
        shown = lines(*argv)
        (line,) = [line for line in shown if example in line]
        heading = next(i for i, text in enumerate(shown) if text.strip().startswith("Examples"))
        assert len(line) - len(line.lstrip()) > len(shown[heading]) - len(
            shown[heading].lstrip()), (line, shown[heading])


@pytest.mark.parametrize("columns", ["21", "30", "50", "63"])
def test_help_on_a_narrow_screen_never_cuts_an_option_name(mogrun_cli, tmp_path, columns):
    """At 20-30 columns rich-click cut option names to `--…` and `--ver…` (--verbose
    or --version?), and at 50 `add`'s to `--idempoten…`: the one thing help is read
    for (QA pass in a pty, second read). Every option of every command is whole."""
    for path, command in [([], None), *_commands()]:
        result = mogrun_cli(*path, "--help", cwd=tmp_path, env={"COLUMNS": columns})
        assert result.exit_code == 0, result
        names = [n for p in (command.params if command else []) for n in p.opts
                 if n.startswith("--")]
        missing = [n for n in names if n not in result.stdout]
        assert not missing and "…" not in result.stdout.replace("...", ""), (path, missing)


def test_a_terminal_that_says_0_columns_gets_richs_own_width_not_the_least():
    """A pty that says 0x0 (`docker exec -t` before its first resize) is a width not
    known, as the tables take it: rich's 80, not HELP_LEAST (second read)."""
    import fcntl
    import os
    import struct
    import termios

    from mogrun.cli.helptext import HELP_LEAST, _width

    primary, secondary = os.openpty()
    try:
        with os.fdopen(secondary, "w", closefd=False) as stream:
            fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
            assert _width({}, stream) is None
            fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 10, 30, 0, 0))
            assert _width({}, stream) == HELP_LEAST
            fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 10, 120, 0, 0))
            assert _width({}, stream) == 120
    finally:
        os.close(primary)
        os.close(secondary)


def test_no_example_wraps_at_eighty_columns(mogrun_cli, tmp_path) -> None:
    """At the default 80 columns (a pipe gets them too) five commands' examples were
    wider than the screen: the rest of `mogrun add codemod ... --needs` went to the
    next line, so its first line, copied, was a cut command."""
    wrapped = []
    for path in [[], *(path for path, _ in _commands())]:
        result = mogrun_cli(*path, "--help", cwd=tmp_path, env={"COLUMNS": "80"})
        assert result.exit_code == 0, (path, result)
        lines = result.stdout.splitlines()
        start = next((i for i, line in enumerate(lines) if line.strip().startswith("Examples")),
                     None)
        for line in lines[start + 1:] if start is not None else ():
            if not line.strip():
                break
            if not line.startswith("   "):  # an example's own lines are indented
                wrapped.append((" ".join(path), line))
    assert not wrapped, wrapped


def test_help_of_a_group_command_and_of_a_word_that_is_none(mogrun_cli, tmp_path) -> None:
    """`mogrun help ci github` showed ci's help, and `mogrun help stauts` the root's,
    exit 0, saying nothing of the word (git and gh say there is no such command)."""
    env = {"COLUMNS": "120"}
    sub = mogrun_cli("help", "ci", "github", cwd=tmp_path, env=env)
    assert sub.exit_code == 0, sub
    assert sub.stdout == mogrun_cli("ci", "github", "--help", cwd=tmp_path, env=env).stdout
    typo = mogrun_cli("help", "stauts", cwd=tmp_path, env=env)
    assert typo.exit_code == 2, typo
    assert typo.stderr.splitlines()[:2] == ['Error: no command "stauts"',
                                            'did you mean "status"?'], typo.stderr
