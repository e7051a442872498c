"""Every command says a warning the one way the run's reporters do,
``warning: ...`` on stderr: ``list``, ``check``, ``add``, ``init`` and
``ci github`` said ``Warning: ...`` while the rest said ``warning: ...``."""

from __future__ import annotations

import pytest

# A file as people write it: CRLF, comments, a job named like a command, a
# schedule on the hour, a [defaults] typo, blank lines at the end.
TASKS = (
    "# the team's jobs\r\n"
    "[defaults]\r\n"
    'timeot = "30m"   # a typo: list says so\r\n'
    "\r\n"
    "[jobs.list]  # named like a command\r\n"
    'repo = "acme/api"\r\n'
    'prompt = "Say hello."\r\n'
    'schedule = "0 6 * * *"\r\n'
    "\r\n"
    "\r\n"
)
FIXED = TASKS.replace('timeot = "30m"   # a typo: list says so\r\n', "")


def warning_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "warning" in line.split(":")[0].lower()]


@pytest.mark.parametrize(("text", "args"), [
    (TASKS, ("list",)),
    (FIXED, ("check",)),
    (FIXED, ("ci", "github", "-o", "-")),
    ("# no jobs yet\r\n\r\n", ("add", "list", "--repo", "acme/api", "--prompt", "Hi.")),
], ids=["list", "check", "ci-github", "add"])
def test_each_command_says_its_warnings_as_warning(project, text, args) -> None:
    project.path.write_bytes(text.encode())
    result = project.run(*args)
    assert result.code == 0, result
    said = warning_lines(result.err)
    assert said, result
    assert all(line.startswith("warning: ") for line in said), result


def test_init_says_a_gitignore_it_cannot_add_to_as_a_warning(project) -> None:
    (project.root / ".gitignore").mkdir()  # a folder of ignore files some tools keep
    result = project.run("init")
    assert result.code == 0, result
    assert warning_lines(result.err) == [
        f"warning: could not add .mogrun/ to {project.root / '.gitignore'}: it is a directory; "
        "add the line .mogrun/ to your ignore rules by hand"], result
