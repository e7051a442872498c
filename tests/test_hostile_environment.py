"""The process's surroundings, as shells, locales and terminals hand them over:
a stream that cannot encode every character, arguments and environment values
that are not UTF-8, a working directory deleted under the shell. Each gets one
clear message and a defined exit code, never a traceback or lost output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mogrun.testing import write_taskfile

CAFE = """\
[jobs.hello]
description = "Café cleanup"
repo = "acme/api"
prompt = \"\"\"
@emulator duration=0.2s events=3 message="café"
\"\"\"
"""


def mogrun(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m mogrun``; its output read in the encoding it was told to use."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    base.update({"MOGRUN_POLL_INTERVAL": "0.1", **env})
    return subprocess.run([sys.executable, "-m", "mogrun", *args], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=120,
                          encoding=env.get("PYTHONIOENCODING", "utf-8"), errors="surrogateescape")


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_a_stream_that_cannot_encode_a_character_gets_an_escape(tmp_path, encoding) -> None:
    """One "é" dropped the rest of a piped run's output (its summary too) with exit
    0, and list, show and logs ended in a traceback."""
    write_taskfile(tmp_path, CAFE)
    env = {"PYTHONIOENCODING": encoding}
    ran = mogrun("--local", "hello", cwd=tmp_path, **env)
    assert ran.returncode == 0, ran.stderr
    assert "exit code 0" in ran.stdout  # the summary came through
    assert "Traceback" not in ran.stderr
    for args in (["list"], ["show", "hello"]):
        shown = mogrun(*args, cwd=tmp_path, **env)
        assert shown.returncode == 0, shown.stderr
        assert "Caf\\xe9" in shown.stdout or "Café" in shown.stdout


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_a_table_of_escaped_cells_keeps_its_columns(tmp_path, encoding) -> None:
    """On an ASCII stream "Déjà vu ☕" is printed "D\\xe9j\\xe0 vu \\u2615", wider
    than its characters, and the table measured the characters: that row's later
    columns stood out of line with the others."""
    write_taskfile(tmp_path, '# two jobs\n[jobs.one]\n'
                   'description = "D\u00e9j\u00e0 vu \u2615 na\u00efve"\n'
                   'repo = "acme/api"\nprompt = "x"\n\n[jobs.two]\n'
                   'description = "plain"\nrepo = "acme/web"\nprompt = "x"\n\n')
    shown = mogrun("list", cwd=tmp_path, PYTHONIOENCODING=encoding)
    assert shown.returncode == 0, shown.stderr
    header, rule, one, two = shown.stdout.splitlines()
    assert "\\u2615" in one
    assert {line.index("acme/") for line in (one, two)} == {header.index("repos")}
    assert rule.split("  ")[1] == "-" * (header.index("repos") - header.index("description") - 2)


def on_a_terminal(args: list[str], cwd: Path, **env: str) -> tuple[int, bytes]:
    """``python -m mogrun ARGS`` on a pseudo-terminal: its exit code and all it drew."""
    import pty

    full = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    full.update(MOGRUN_POLL_INTERVAL="0.1", TERM="xterm", **env)
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mogrun", *args], cwd=cwd, env=full,
                            stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the other side closed: the process ended
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    return proc.wait(timeout=60), seen


def test_the_live_view_on_a_terminal_that_cannot_encode_its_own_dot(tmp_path) -> None:
    """The progress line's "·" ended the live view in a traceback: the cursor
    stayed hidden and the other jobs' runs were left going."""
    write_taskfile(tmp_path, CAFE)
    code, seen = on_a_terminal(["--local", "hello"], tmp_path, PYTHONIOENCODING="ascii",
                               COLUMNS="100")
    assert code == 0, seen.decode("ascii", "replace")
    assert b"Traceback" not in seen
    assert b"exit code 0" in seen
    if b"\x1b[?25l" in seen:  # the cursor hidden for the live view is shown again
        assert seen.rindex(b"\x1b[?25h") > seen.rindex(b"\x1b[?25l")


@pytest.mark.parametrize("args", [["status", "hel\udcfflo"], ["history", "--job", "\udce9"],
                                  ["add", "fix", "--repo", "acme/api", "--prompt", "caf\udce9"],
                                  ["-f", "x\udcff.toml", "list"]])
def test_an_argument_that_is_not_utf8_is_refused_up_front(tmp_path, args) -> None:
    """Bytes the locale could not decode: status, logs, cancel and history ended in
    sqlite's traceback, and add wrote the raw byte into a file mogrun could then no
    longer read."""
    write_taskfile(tmp_path, '[jobs.hello]\nrepo = "acme/api"\nprompt = "hi"\n')
    before = (tmp_path / "mogplex.toml").read_bytes()
    result = mogrun(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "is not UTF-8 text" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "mogplex.toml").read_bytes() == before


@pytest.mark.parametrize(("typed", "said"), [
    ("h\u00e9llo", "'h\\xe9llo' is UTF-8 text this process's locale cannot read (its "
                    "encoding is ascii): run mogrun under a UTF-8 locale (LC_ALL=C.UTF-8), "
                    "and without PYTHONUTF8=0"),
    (os.fsdecode(b"h\xe9llo"), "'h\\xe9llo' is not UTF-8 text; mogrun takes UTF-8 names and "
                                "paths")])
def test_utf8_the_locale_could_not_read_is_told_from_bytes_that_are_not_utf8(
        tmp_path, typed, said) -> None:
    """Under the C locale with UTF-8 mode turned off (``PYTHONUTF8=0``), ``mogrun
    show héllo`` typed in a UTF-8 terminal was refused as "not UTF-8 text": its
    user was sent to re-type what was right. The locale is named now; a Latin-1
    byte still gets the first message. (stderr is ASCII here: ``é`` shows escaped.)"""
    write_taskfile(tmp_path, '[jobs.hello]\nrepo = "acme/api"\nprompt = "hi"\n')
    before = (tmp_path / "mogplex.toml").read_bytes()
    result = mogrun("show", typed, cwd=tmp_path, PYTHONUTF8="0", LC_ALL="C", LANG="C")
    assert (result.returncode, result.stderr) == (2, f"Error: argument {said}\n")
    assert (tmp_path / "mogplex.toml").read_bytes() == before


def test_a_folder_whose_name_is_not_utf8_is_named_by_its_bytes(tmp_path) -> None:
    """``check`` in a folder named with byte 0xE9 (Latin-1's é) said
    ``bad\\udce9byte``, Python's stand-in for the byte; ``-f`` says ``\\xe9``."""
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/bad\xe9byte"))
    folder.mkdir()
    write_taskfile(folder, '[jobs.hello]\nrepo = "acme/api"\nprompt = "hi"\n\n')
    result = mogrun("check", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{tmp_path}/bad\\xe9byte/mogplex.toml: ok (1 job)\n", result


def test_an_env_value_that_is_not_utf8_is_a_task_file_error(tmp_path) -> None:
    write_taskfile(tmp_path, '[jobs.hello]\nrepo = "acme/api"\nprompt = "Fix {{ env.FOO }}"\n')
    for args in (["check"], ["--local", "hello"]):
        result = mogrun(*args, cwd=tmp_path, FOO="x\udcffy")
        assert result.returncode == 2, result.stderr
        assert "environment variable FOO (used by {{ env.FOO }}) is not valid UTF-8" in (
            result.stderr)


def test_an_env_value_the_locale_could_not_read_names_the_locale(tmp_path) -> None:
    """``WHO=Zoë`` under the C locale (UTF-8 mode off) was "not valid UTF-8 text":
    its user was sent to fix a value that was right."""
    write_taskfile(tmp_path, '[jobs.hello]\nrepo = "acme/api"\nprompt = "Greet {{ env.WHO }}"\n')
    for args in (["check"], ["--local", "hello"]):
        result = mogrun(*args, cwd=tmp_path, WHO="Zo\u00eb", PYTHONUTF8="0", LC_ALL="C",
                        LANG="C", PYTHONCOERCECLOCALE="0")
        assert result.returncode == 2, result.stderr
        assert ("environment variable WHO (used by {{ env.WHO }}) is UTF-8 text this "
                "process's locale cannot read (its encoding is ascii): run mogrun under a "
                "UTF-8 locale") in result.stderr, result.stderr


@pytest.mark.parametrize("args", [["--local", "hello"], ["--local", "hello", "--detach"],
                                  ["--local", "-v", "hello"]])
def test_a_token_that_is_not_utf8_is_ignored_by_local(tmp_path, args) -> None:
    """``--local`` ignores MOGPLEX_API_KEY, yet masking its forms in a URL ended in a
    traceback (a byte no UTF-8 reads cannot be percent-encoded as text)."""
    write_taskfile(tmp_path, CAFE)
    result = mogrun(*args, cwd=tmp_path, MOGPLEX_API_KEY="mog_\udcff")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_a_token_no_header_can_carry_is_exit_64_not_a_retried_transport_error(tmp_path) -> None:
    write_taskfile(tmp_path, '[jobs.hello]\nrepo = "acme/api"\nprompt = "hi"\n')
    result = mogrun("hello", cwd=tmp_path, MOGPLEX_API_KEY="mog_\U0001f680",
                    MOGPLEX_URL="http://127.0.0.1:9")
    assert result.returncode == 64, result.stderr
    assert "MOGPLEX_API_KEY contains characters other than ASCII" in result.stderr
    assert "retry" not in result.stderr


@pytest.mark.parametrize(("args", "code"), [(["--version"], 0), (["--help"], 0), (["list"], 2),
                                            (["--local", "hello"], 2)])
def test_a_deleted_working_directory(tmp_path, args, code) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    result = subprocess.run(["sh", "-c", 'cd "$1" && rmdir "$1" && shift && exec "$@"', "sh",
                             str(gone), sys.executable, "-m", "mogrun", *args],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    if code:
        assert "the current directory no longer exists" in result.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
@pytest.mark.parametrize(("args", "full", "code"), [
    (["list"], "stdout", 74),  # a traceback, exit 1
    (["schema"], "stdout", 74),
    (["--local", "--json", "hello"], "stdout", 74),  # exit 0 with nothing written
    (["nosuchjob"], "stderr", 2),  # the usage error's code, not a traceback's 1
    (["hello"], "stderr", 64),  # no token: 64 still
])
def test_a_full_disk_under_the_output_is_a_defined_exit_code(tmp_path, args, full, code) -> None:
    write_taskfile(tmp_path, '[jobs.hello]\nrepo = "acme/api"\n'
                   'prompt = "@emulator duration=0.1s"\n')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MOGRUN_", "GITHUB_")) and k != "MOGPLEX_API_KEY"}
    env["MOGRUN_POLL_INTERVAL"] = "0.1"
    with open("/dev/full", "w") as device, open(tmp_path / "other.txt", "w+") as other:
        streams = {"stdout": device, "stderr": other} if full == "stdout" else {
            "stdout": other, "stderr": device}
        proc = subprocess.run([sys.executable, "-m", "mogrun", *args], cwd=tmp_path, env=env,
                              timeout=120, **streams)
        other.seek(0)
        said = other.read()
    assert proc.returncode == code, said
    assert "Traceback" not in said
    if full == "stdout":
        assert "Error: cannot write the output: No space left on device" in said


@pytest.mark.parametrize("columns", ["0", "5", "abc"])
def test_a_columns_no_terminal_has_is_not_taken_at_its_word(tmp_path, columns) -> None:
    """COLUMNS=0 drew nothing at all, a run's summary and --help's text included;
    COLUMNS=5 cut every run id into pieces."""
    write_taskfile(tmp_path, CAFE)
    code, seen = on_a_terminal(["--local", "hello"], tmp_path, COLUMNS=columns)
    assert code == 0, seen
    assert b"exit code 0" in seen
    # The run's id, whole on one line.
    assert re.search(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", seen)
    code, seen = on_a_terminal(["--help"], tmp_path, COLUMNS=columns)
    assert code == 0 and b"Usage:" in seen


def test_a_lone_surrogate_in_an_argument_is_refused_with_an_escape() -> None:
    """Not from a locale (an embedder's argv): still one message, not a traceback
    while the refusal itself is written."""
    from mogrun.cli.app import _argv_refusal

    assert _argv_refusal(["status", "a\ud800b"]) == (
        "argument 'a\\ud800b' is not UTF-8 text; mogrun takes UTF-8 names and paths")
    assert _argv_refusal(["status", "café", "--json"]) is None



def test_a_mogrun_folder_another_user_made_private_is_said_not_a_traceback(tmp_path) -> None:
    """``.mogrun/`` made by someone else with umask 077 (a CI container run as
    root, a colleague's checkout): history, status and run ended in a traceback
    from probing the history file they may not look at."""
    import shutil

    as_user: list[str] = []
    if os.geteuid() == 0:  # root reads anything: without the capabilities that let it
        if shutil.which("setpriv") is None:
            pytest.skip("root, and no setpriv to give up reading what it may not")
        as_user = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    write_taskfile(tmp_path, CAFE)
    (tmp_path / ".mogrun").mkdir(mode=0o000)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    env["MOGRUN_POLL_INTERVAL"] = "0.1"
    said = f"cannot open run history {tmp_path / '.mogrun' / 'history.db'}: Permission denied"
    try:
        for args, code, how in ((["history"], 1, "Error: "), (["status"], 0, "warning: "),
                                (["--local", "hello"], 0, "warning: ")):
            result = subprocess.run([*as_user, sys.executable, "-m", "mogrun", *args],
                                    cwd=tmp_path, env=env, capture_output=True, text=True,
                                    timeout=120)
            assert "Traceback" not in result.stderr, result.stderr
            assert result.returncode == code, (args, result.stderr)
            assert how + said in result.stderr, (args, result.stderr)
    finally:
        (tmp_path / ".mogrun").chmod(0o700)


def test_a_folder_that_may_not_be_written_is_named_not_its_writable_file(tmp_path) -> None:
    """``add`` beside a writable task file in a read-only folder said "cannot write
    .../mogplex.toml: Permission denied" while the file was writable: the file is
    written whole beside itself, so the folder is what refuses."""
    import shutil

    as_user: list[str] = []
    if os.geteuid() == 0:  # root writes anything: without the capability that lets it
        if shutil.which("setpriv") is None:
            pytest.skip("root, and no setpriv to give up writing what it may not")
        as_user = ["setpriv", "--bounding-set=-dac_override", "--"]
    folder = tmp_path / "ro"
    folder.mkdir()
    task = write_taskfile(folder, CAFE)
    before = task.read_bytes()
    folder.chmod(0o555)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOGRUN_", "GITHUB_"))}
    try:
        result = subprocess.run([*as_user, sys.executable, "-m", "mogrun", "add", "b", "--repo",
                                 "acme/api", "--prompt", "y"], cwd=folder, env=env,
                                capture_output=True, text=True, timeout=120)
    finally:
        folder.chmod(0o755)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"Error: cannot write {task}: Permission denied to create a file in its folder "
        f"{folder} (a file is written whole beside it, then renamed over it)"), result.stderr
    assert task.read_bytes() == before


@pytest.mark.parametrize("command", [("list",), ("history",), ("show", "hello")])
def test_python_m_mogrun_imports_no_module_of_the_working_directory(tmp_path, command) -> None:
    """``python -m`` puts the working directory first on sys.path: a ``tomllib.py``
    a pull request committed beside its task file ran in ``list`` and ``history``,
    which load no code of the repository (``mogrun list`` did not)."""
    write_taskfile(tmp_path, CAFE)
    for module in ("tomllib", "tomlkit", "click", "rich_click", "sqlite3", "json"):
        (tmp_path / f"{module}.py").write_text(
            f"open({str(tmp_path / 'RAN')!r}, 'a').write({module!r} + '\\n')\n")
    result = mogrun(*command, cwd=tmp_path, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    assert not (tmp_path / "RAN").exists(), (tmp_path / "RAN").read_text()
    assert result.returncode == 0, result.stderr
