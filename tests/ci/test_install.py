"""``mogrun ci github --install REQUIREMENT``: what every job's ``pip install``
installs (a fork, a release not on PyPI), kept from the header like ``--shards``,
refused in one line when pip, the shell, YAML or GitHub would take it for
something else, and written so that each of them reads it back as given."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mogrun import __version__
from mogrun.ci.generate import DEFAULT_OUTPUT, install_requirement, regenerating_command
from mogrun.ci.plan import GitHubJob, Plan
from mogrun.ci.workflow import Recorded, recorded_options, render
from mogrun.errors import UsageError

from .test_github import BIG, FOUR, header
from .workflows import WORKFLOW, actionlint_problems, generated, load_yaml, schema_problems

FORK = "git+https://github.com/acme/mogrun@v0.1.0"
PIP = ["python", "-m", "pip", "install"]
EXAMPLES = ("Give what pip installs: mogrun==0.2.0 (from an index), "
            "git+https://github.com/acme/mogrun@v0.1.0 (a tag or commit of a repository) or "
            "a wheel's URL.")


def installs(flow: dict) -> list[str]:
    """The ``run`` of every step of every job that installs mogrun."""
    return [s["run"] for job in flow["jobs"].values() for s in job["steps"]
            if "pip install" in s.get("run", "")]


def test_without_install_every_job_installs_this_version(project) -> None:
    project.write(BIG)
    flow, text = generated(project, "--shards", "3")
    runs = installs(flow)
    assert len(runs) == len(flow["jobs"]) > 3  # the needs job and the matrix too
    assert set(runs) == {f"python -m pip install mogrun=={__version__}"}
    assert "--install" not in text


def test_install_is_what_every_install_step_installs_and_the_header_says(project) -> None:
    project.write(BIG)
    flow, text = generated(project, "--shards", "3", "--install", FORK)
    runs = installs(flow)
    assert len(runs) == len(flow["jobs"]) > 3
    assert set(runs) == {f"python -m pip install {FORK}"}  # plain: no quotes needed
    assert f'\n        run: "python -m pip install {FORK}"\n' in text  # ":" is quoted
    assert "mogrun==" not in text
    command = f"mogrun ci github --shards 3 --install {FORK}"
    assert header(text)[2:4] == [f"#   {command}",
                                 f"# CI can keep it current with: {command} --check"]


def test_a_plain_regenerate_and_check_keep_the_install(project) -> None:
    """The pull-request step is ``mogrun ci github --check``, with no --install:
    it must not call the fork's workflow stale, nor hint a command that drops it."""
    project.write(BIG)
    _, written = generated(project, "--install", FORK)
    path = project.root / WORKFLOW
    ok = project.run("ci", "github", "--check")
    assert (ok.code, ok.out, ok.err) == (0, "", f"{WORKFLOW} is current\n")
    _, again = generated(project)
    assert again == written
    project.write(BIG.replace("47 5 * * 0", "48 5 * * 0"))  # a new schedule
    stale = project.run("ci", "github", "--check")
    assert stale.code == 1, stale
    assert stale.err.splitlines()[-1] == \
        f"Run `mogrun ci github --install {FORK}` and commit the result."
    _, regenerated = generated(project)
    assert f'run: "python -m pip install {FORK}"\n' in regenerated
    assert header(regenerated)[2] == f"#   mogrun ci github --install {FORK}"
    assert path.read_text() == regenerated


def test_check_with_another_install_reports_stale(project) -> None:
    project.write(BIG)
    generated(project, "--install", FORK)
    result = project.run("ci", "github", "--check", "--install", "mogrun==0.2.0")
    assert result.code == 1, result
    assert f'-        run: "python -m pip install {FORK}"\n' in result.out
    assert "+        run: python -m pip install mogrun==0.2.0\n" in result.out
    assert result.err.splitlines() == [
        f"Error: {WORKFLOW} is out of date",
        "Run `mogrun ci github --install mogrun==0.2.0` and commit the result."]


def test_install_and_shards_are_kept_together_and_dropped_one_at_a_time(project) -> None:
    project.write(BIG)
    generated(project, "--shards", "3", "--install", FORK)
    _, text = generated(project, "--shards", "2")  # the install stays
    assert header(text)[2] == f"#   mogrun ci github --shards 2 --install {FORK}"
    _, text = generated(project, "--install", "mogrun==0.2.0")  # the shards stay
    assert header(text)[2] == "#   mogrun ci github --shards 2 --install mogrun==0.2.0"
    # The default, given, is named nowhere: the way back to this version's mogrun.
    flow, text = generated(project, "--install", f"mogrun=={__version__}")
    assert header(text)[2] == "#   mogrun ci github --shards 2"
    assert set(installs(flow)) == {f"python -m pip install mogrun=={__version__}"}


def test_dash_reads_no_file_for_its_install(project) -> None:
    project.write(FOUR.format(name="big", cron="17 6 * * 1"))
    generated(project, "--install", FORK)
    result = project.run("ci", "github", "-o", "-")
    assert result.code == 0, result
    assert result.out.splitlines()[2] == "#   mogrun ci github"
    assert set(installs(load_yaml(result.out))) == {
        f"python -m pip install mogrun=={__version__}"}
    given_ = project.run("ci", "github", "-o", "-", "--install", "mogrun==0.2.0")
    assert set(installs(load_yaml(given_.out))) == {"python -m pip install mogrun==0.2.0"}


def test_blanks_around_the_requirement_are_dropped(project) -> None:
    project.write(BIG)
    flow, text = generated(project, "--install", "  mogrun==0.2.0 ")
    assert set(installs(flow)) == {"python -m pip install mogrun==0.2.0"}
    assert header(text)[2] == "#   mogrun ci github --install mogrun==0.2.0"


BAD = [
    ("", "--install '' is empty, not a requirement"),
    ("   ", "--install '   ' is empty, not a requirement"),
    ("--index-url https://pypi.example/simple",
     "--install '--index-url https://pypi.example/simple' is a pip option, not a requirement"),
    ("-r requirements.txt", "--install '-r requirements.txt' is a pip option, not a requirement"),
    ("--pre", "--install --pre is a pip option, not a requirement"),
    (" -e .", "--install ' -e .' is a pip option, not a requirement"),
    ("mogrun\n--index-url x", "--install 'mogrun\\n--index-url x' holds U+000A, a line break "
     "or another control or invisible character, which no requirement holds"),
    ("mogrun\r", "--install 'mogrun\\r' holds U+000D, a line break or another control or "
     "invisible character, which no requirement holds"),
    ("a\tb", "--install 'a\\tb' holds U+0009, a line break or another control or invisible "
     "character, which no requirement holds"),
    ("a\x00b", "--install 'a\\u0000b' holds U+0000, a line break or another control or "
     "invisible character, which no requirement holds"),
    ("a\u2028b", "--install 'a\\u2028b' holds U+2028, a line break or another control or "
     "invisible character, which no requirement holds"),
    ("a\x85b", "--install 'a\\u0085b' holds U+0085, a line break or another control or "
     "invisible character, which no requirement holds"),
    ("mogrun\u202e==0.1", "--install 'mogrun\\u202e==0.1' holds U+202E, a line break or "
     "another control or invisible character, which no requirement holds"),
    ("git+https://github.com/${{ github.actor }}/mogrun",
     "--install 'git+https://github.com/${{ github.actor }}/mogrun' holds \"${{\", which "
     "GitHub reads as the start of an expression in the step's run line"),
]


@pytest.mark.parametrize(("value", "message"), BAD)
@pytest.mark.parametrize("extra", [(), ("--check",), ("-o", "-")])
def test_an_install_it_cannot_install_is_one_line_exit_2(project, value, message,
                                                         extra) -> None:
    project.write(BIG)
    result = project.run("ci", "github", *extra, f"--install={value}")
    assert (result.code, result.out) == (2, ""), result
    assert result.err == f"Error: {message}\n{EXAMPLES}\n"
    assert not (project.root / WORKFLOW).exists()


def test_a_bad_install_is_said_before_the_task_file_is_looked_for(project) -> None:
    result = project.run("ci", "github", "--install", "--pre")  # and no mogplex.toml
    assert (result.code, result.err) == (2, "Error: --install --pre is a pip option, not a "
                                            f"requirement\n{EXAMPLES}\n"), result


def hand_edit_command(project, command: str) -> Path:
    """The workflow, its header's command line changed by hand to ``command``."""
    path = project.root / WORKFLOW
    lines = path.read_text().split("\n")
    lines[2] = f"#   {command}"
    path.write_text("\n".join(lines))
    return path


@pytest.mark.parametrize(("written", "shown", "why"), [
    ("--pre", "--pre", "is a pip option, not a requirement"),
    ("''", "''", "is empty, not a requirement"),
    ("'a\x7fb'", "'a\\u007fb'", "holds U+007F, a line break or another control or invisible "
     "character, which no requirement holds"),
    ("'x${{ secrets.T }}'", "'x${{ secrets.T }}'", "holds \"${{\", which GitHub reads as the "
     "start of an expression in the step's run line"),
])
@pytest.mark.parametrize("check", [(), ("--check",)])
def test_a_bad_install_in_an_edited_header_says_where_it_came_from(project, written, shown,
                                                                  why, check) -> None:
    project.write(BIG)
    generated(project, "--install", FORK)
    path = hand_edit_command(project, f"mogrun ci github --install {written}")
    before = path.read_text()
    result = project.run("ci", "github", *check)
    assert (result.code, result.out) == (2, ""), result
    assert result.err.splitlines() == [
        f"Error: {WORKFLOW} was generated with --install {shown} (its header's command), "
        f"which {why}",
        f"Regenerate it with --install REQUIREMENT (--install mogrun=={__version__} for "
        "the default)."]
    assert path.read_text() == before
    _, text = generated(project, "--install", "mogrun==0.2.0")  # the way out it names
    assert header(text)[2] == "#   mogrun ci github --install mogrun==0.2.0"


@pytest.mark.parametrize("command", [
    f"mogrun ci github --install '{FORK}",  # a quote taken out
    f'mogrun ci github --install "{FORK}\'',
    "mogrun ci github --shards 3 --install 'it'\\''s",
])
def test_a_header_command_whose_quoting_a_hand_broke_is_a_warning_not_a_crash(
        project, command) -> None:
    project.write(BIG)
    generated(project, "--shards", "3", "--install", FORK)
    hand_edit_command(project, command)
    warning = (f"warning: the command in the header of {WORKFLOW} cannot be read (No closing "
               "quotation), so the --shards and --install it may name are not kept: give "
               "them again")
    checked = project.run("ci", "github", "--check")
    assert checked.code == 1, checked
    assert checked.err.splitlines()[:2] == [warning, f"Error: {WORKFLOW} is out of date"]
    assert checked.err.splitlines()[-1] == "Run `mogrun ci github` and commit the result."
    flow, text = generated(project, warnings=(warning.removeprefix("warning: "),))
    assert header(text)[2] == "#   mogrun ci github"
    assert set(installs(flow)) == {f"python -m pip install mogrun=={__version__}"}
    given_ = project.run("ci", "github", "--shards", "3", "--install", FORK, "--check")
    assert (given_.code, given_.err) == (1, f"Error: {WORKFLOW} is out of date\nRun `mogrun "
                                            f"ci github --shards 3 --install {FORK}` and commit "
                                            "the result.\n")  # both given: no look, no warning


@pytest.mark.parametrize(("command", "recorded"), [
    ("mogrun ci github", Recorded()),
    (f"mogrun ci github --install {FORK} --install other", Recorded(install=FORK)),
    ("mogrun ci github --install", Recorded()),  # no value: none
    # An -o path named like an option is that path, not the option.
    ("mogrun -f --install ci github -o --install --shards 2", Recorded(shards=2)),
    ("mogrun ci github -o --shards --install x", Recorded(install="x")),
    ("mogrun ci github --shards x --shards 0 --shards 4 --shards 5", Recorded(shards=4)),
    # Past the 4,300 digits int() reads (a traceback): no count, as x is none.
    (f"mogrun ci github --shards {'9' * 5000} --shards 2", Recorded(shards=2)),
    ("mogrun ci github --shards 3 --install 'a b'", Recorded(shards=3, install="a b")),
    ("mogrun ci github --install 'it'\\''s'", Recorded(install="it's")),
    ("mogrun ci github --install 'open", Recorded(unreadable="No closing quotation")),
])
def test_the_header_s_options_are_read_as_the_command_gives_them(command, recorded) -> None:
    text = f"# Generated by `mogrun ci github` (mogrun 0.1.0) from mogplex.toml.\n#\n" \
        f"#   {command}\n# Digest of the lines below: 0\nname: x\n"
    assert recorded_options(text) == recorded


def test_a_file_not_ours_or_without_a_command_records_nothing() -> None:
    assert recorded_options("name: x\n# mogrun ci github --install y\n") is None
    no_command = "# Generated by `mogrun ci github` (mogrun 0.1.0) from a.\nname: x\n"
    assert recorded_options(no_command) is None


AWKWARD = [
    "mogrun @ git+https://github.com/acme/mogrun@v0.1.0#egg=mogrun",  # spaces, #, @
    'mogrun[extra] >= 0.1, != 0.1.1 ; python_version >= "3.12"',  # quotes, ;, >
    "it's \"quoted\": a # b",  # both quotes, ": ", " #"
    "./wheels/mögrun-0.1.0-py3-none-any.whl",  # unicode
    "https://例え.jp/mögrun.whl#sha256=ab",
    "a  b\\c",  # two spaces, a backslash
    "$(touch pwned) `touch pwned` $HOME ; touch pwned",  # what a shell would run
    "$ {{ not.an.expression }}",
    "~",
    "true",
    "mogrun\U0001F680",
]


@pytest.mark.parametrize("value", AWKWARD)
def test_an_awkward_requirement_round_trips(project, value) -> None:
    project.write(BIG)
    result = project.run("ci", "github", "--install", value)
    assert (result.code, result.err) == (0, f"wrote {WORKFLOW}\n"), result
    path = project.root / WORKFLOW
    text = path.read_text(encoding="utf-8")
    assert schema_problems(text) == []
    # shellcheck (in actionlint) says, as information, that single quotes keep a "$"
    # from expanding: what they are there for.
    assert all("SC2016:info" in line for line in actionlint_problems(path).splitlines())
    flow = load_yaml(text)
    for run in installs(flow):
        assert shlex.split(run) == [*PIP, value]
    command = header(text)[2].removeprefix("#   ")
    assert shlex.split(command)[-2:] == ["--install", value]
    assert recorded_options(text) == Recorded(install=value)
    assert project.run("ci", "github", "--check").code == 0
    assert project.run("ci", "github").code == 0
    assert path.read_text(encoding="utf-8") == text
    bash = shutil.which("bash")
    if bash:  # the step's shell gives pip the value as one word, and runs none of it
        done = subprocess.run(
            [bash, "--noprofile", "--norc", "-eo", "pipefail", "-c",
             f"python() {{ printf '%s\\0' \"$@\"; }}\n{installs(flow)[0]}"],
            capture_output=True, cwd=project.root, timeout=30, check=True)
        assert done.stdout.decode("utf-8").split("\0")[:-1] == ["-m", "pip", "install", value]
        assert not (project.root / "pwned").exists()


PLAN = Plan(jobs=(GitHubJob(id="j", name="j", command=("run", "j"), job="j",
                            schedules=("17 6 * * 1",), timeout_minutes=10, group="j",
                            dispatch=("all", "j"), runs=("j",)),),
            schedules=("17 6 * * 1",), dispatchable=("j",))


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1))
def test_every_requirement_it_takes_reads_back_as_itself(value) -> None:
    """Any text: refused as a UsageError, or written so that the YAML reader, the
    shell and the header's reader all give back the requirement."""
    try:
        requirement = install_requirement(value)
    except UsageError:
        return
    root = Path("/repo")
    command = regenerating_command(root / "mogplex.toml", root=root,
                                   output=root / DEFAULT_OUTPUT, install=requirement)
    text = render(PLAN, version=__version__, task_file="mogplex.toml", command=command,
                  install=requirement)
    expected = None if requirement == f"mogrun=={__version__}" else requirement
    assert recorded_options(text) == Recorded(install=expected)
    flow = load_yaml(text)
    assert shlex.split(installs(flow)[0]) == [*PIP, requirement]
    # nothing got out
    assert list(flow) == ["name", "on", "permissions", "concurrency", "env", "jobs"]
