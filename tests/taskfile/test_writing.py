"""``init`` and ``add`` write a user's files whole or not at all, and take the
files people really have: empty ones, symlinked ones, ones named by MOGRUN_FILE.

The failed writes run mogrun in a child whose file-size limit (RLIMIT_FSIZE,
with SIGXFSZ ignored) makes the write fail the way a full disk does: the
kernel refuses the bytes past the limit mid-write."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mogrun.testing import ISOLATED_ENV

MINIMAL = '# mine\n[jobs.hello]\nrepo = "acme/api"\nprompt = "Say hello."\n'


def run_capped(cwd: Path, limit: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``mogrun ARGS`` in ``cwd``, unable to write a file past ``limit`` bytes."""

    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {k: v for k, v in os.environ.items() if k not in ISOLATED_ENV}
    return subprocess.run([sys.executable, "-m", "mogrun", "--no-plugins", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, preexec_fn=cap, timeout=60)


def test_add_that_cannot_be_written_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "mogplex.toml"
    path.write_bytes(MINIMAL.encode())
    result = run_capped(tmp_path, len(MINIMAL) + 64, "add", "big", "--repo", "a/b",
                        "--prompt", "y" * 6000)
    assert result.returncode == 2, result
    assert result.stderr.startswith(f"Error: cannot write {path}: File too large"), result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == MINIMAL.encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mogplex.toml"]  # no temporary left


def test_init_that_cannot_be_written_leaves_no_file(tmp_path: Path) -> None:
    result = run_capped(tmp_path, 100, "init")
    assert result.returncode == 2, result
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # a second init is not told "already exists"


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux procfs")
def test_init_warns_when_gitignore_cannot_be_read(project) -> None:
    (project.root / ".gitignore").symlink_to("/proc/self/mem")  # a file that fails to read
    result = project.run("init")
    assert result.code == 0, result
    assert "Traceback" not in result.err
    assert result.err == (f"warning: could not add .mogrun/ to {project.root / '.gitignore'}: "
                          "Input/output error; add the line .mogrun/ to your ignore rules by "
                          "hand\n")
    assert project.run("check").code == 0


def test_init_writes_where_mogrun_file_points(project, monkeypatch) -> None:
    (project.root / "ci").mkdir()
    monkeypatch.setenv("MOGRUN_FILE", "ci/mogplex.toml")
    assert project.run("init").code == 0
    assert (project.root / "ci" / "mogplex.toml").is_file()
    assert not project.path.exists()
    listed = project.run("list")
    assert (listed.code, listed.out.splitlines()[2].split()[0]) == (0, "hello"), listed


@pytest.mark.parametrize("blank", ["", "\n\n", "\ufeff \r\n\t\r\n"])
def test_add_to_a_blank_file_adds_its_first_job(project, blank) -> None:
    project.path.write_bytes(blank.encode())
    result = project.run("add", "hello", "--repo", "acme/api", "--prompt", "hi")
    assert result.code == 0, result
    assert project.path.read_bytes().startswith(blank.encode())
    assert project.run("check").code == 0


@pytest.mark.parametrize(("written", "said"), [
    (" \r ", "a carriage return with no line feed"),
    ("\u00a0\n", "U+00A0 NO-BREAK SPACE"),
    ("\x0c\r\n", "U+000C, a control character"),
    ("\u3000", "U+3000 IDEOGRAPHIC SPACE"),
])
def test_a_file_of_blanks_toml_does_not_allow_is_said_not_called_empty(project, written,
                                                                       said) -> None:
    """Python's blanks are not TOML's: check called such a file empty and sent the user
    to `mogrun add`, which then refused it as a file that "defines its jobs in a way a
    new [jobs.NAME] table would break"; neither said what the character was."""
    project.path.write_bytes(written.encode())
    for args in (["check"], ["add", "hello", "--repo", "acme/api", "--prompt", "hi"]):
        result = project.run(*args)
        assert result.code == 2, result
        assert result.err.startswith("Error: invalid TOML: "), result
        assert f"{project.path.name}:1:" in result.err and said in result.err, result
    assert project.path.read_bytes() == written.encode()


def test_add_through_a_symlink_keeps_the_link_and_the_mode(project) -> None:
    real = project.root / "config" / "tasks.toml"
    real.parent.mkdir()
    real.write_text(MINIMAL)
    real.chmod(0o640)
    project.path.symlink_to(real)
    result = project.run("add", "lint", "--repo", "acme/api", "--prompt", "x")
    assert result.code == 0, result
    assert project.path.is_symlink()
    assert real.read_text().startswith(MINIMAL) and "[jobs.lint]" in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["tasks.toml"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="only root may give a file to another user")
def test_add_as_root_keeps_the_files_owner_and_group(project) -> None:
    """``sudo mogrun add`` replaced a user's file with one of root's: its user could
    no longer edit the task file they wrote."""
    project.path.write_text(MINIMAL + "\n\n")
    os.chown(project.path, 65534, 65534)
    project.path.chmod(0o640)
    result = project.run("add", "lint", "--repo", "acme/api", "--prompt", "x")
    assert result.code == 0, result
    after = project.path.stat()
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (65534, 65534, 0o640)
    assert "[jobs.lint]" in project.path.read_text()


def test_add_accepts_a_templated_repo_written_with_spaces(project) -> None:
    project.write('[vars]\nteam = "platform"\n')
    result = project.run("add", "t1", "--repo", "{{ team }}/api", "--prompt", "p")
    assert result.code == 0, result
    shown = json.loads(project.run("--json", "show", "t1").out)
    assert [run["repo"] for run in shown["runs"]] == ["platform/api"]


def test_a_pipe_given_as_task_file_is_named_as_one(project) -> None:
    fifo = project.root / "tasks.pipe"
    os.mkfifo(fifo)
    result = project.run("-f", str(fifo), "list")
    assert result.code == 2
    assert result.err.startswith(f"Error: task file {fifo} (from -f/--file) is not a "
                                 "regular file"), result.err


def test_a_byte_order_mark_in_a_prompt_file_is_not_sent(project) -> None:
    (project.root / "prompt.md").write_bytes(b"\xef\xbb\xbfHello\r\nLine2\r\n")
    project.write('[jobs.p]\nrepo = "acme/api"\nprompt_file = "prompt.md"\n')
    shown = json.loads(project.run("--json", "show", "p").out)
    assert shown["runs"][0]["request"]["body"]["prompt"] == "Hello\nLine2\n"


def test_add_warns_of_a_job_named_like_a_command_as_check_does(project) -> None:
    project.write(MINIMAL)
    result = project.run("add", "list", "--repo", "acme/api", "--prompt", "x")
    assert result.code == 0, result
    warning = (f'warning: {project.job_at("list")}: job "list" has the name of a command: '
               "`mogrun list` runs the command; use `mogrun run list`")
    assert result.err.splitlines() == [warning]
    assert warning in project.run("check").err
    assert project.run("add", "lint", "--repo", "acme/api", "--prompt", "x").err == ""


def test_a_new_file_takes_its_mode_from_the_umask(tmp_path: Path) -> None:
    from mogrun.atomic import write_atomically

    previous = os.umask(0o027)
    try:
        write_atomically(tmp_path / "new.yml", b"x: 1\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "new.yml").stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.yml"]


def test_a_new_file_appears_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    # A new file (a first JUnit report, a cache) was written in place under its own
    # name: a CI step reading it meanwhile, or a kill mid-write, saw half of it.
    # Watched at the one moment it can appear: the rename.
    from mogrun.atomic import write_atomically

    target, data = tmp_path / "report.xml", b"<testsuites>" + b"x" * 100_000 + b"</testsuites>"
    renamed: list[tuple[bool, bytes]] = []
    real_replace = os.replace

    def watched(source, destination):
        renamed.append((Path(destination).exists(), Path(source).read_bytes()))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", watched)
    write_atomically(target, data)
    assert renamed == [(False, data)]  # absent until then, and whole
    assert target.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xml"]


@pytest.mark.parametrize("named", ["-f", "MOGRUN_FILE"])
def test_init_makes_the_folder_it_is_told_to_write_in(project, monkeypatch, named) -> None:
    """``mogrun -f ci/mogplex.toml init`` on a fresh checkout, as its --help shows."""
    args = ["-f", "ci/tasks/mogplex.toml", "init"] if named == "-f" else ["init"]
    if named == "MOGRUN_FILE":
        monkeypatch.setenv("MOGRUN_FILE", "ci/tasks/mogplex.toml")
    result = project.run(*args)
    assert result.code == 0, result
    written = project.root / "ci" / "tasks" / "mogplex.toml"
    assert written.is_file()
    # The next steps it prints work from here: -f named the file, discovery would not.
    next_line = result.out.splitlines()[-1]
    if named == "-f":
        assert next_line == ("Next: mogrun -f ci/tasks/mogplex.toml list, mogrun -f "
                             "ci/tasks/mogplex.toml show hello, mogrun -f "
                             "ci/tasks/mogplex.toml --local hello")
    else:
        assert next_line == "Next: mogrun list, mogrun show hello, mogrun --local hello"
    listed = project.run(*args[:-1], "list")
    assert listed.code == 0, listed


def test_init_through_a_link_makes_no_folder_where_it_points(project, tmp_path) -> None:
    """A dangling link to /elsewhere/dir/x.toml made /elsewhere/dir, anywhere on disk;
    a link to a file to be in a folder that is there is written through."""
    project.path.unlink(missing_ok=True)
    away = tmp_path / "away" / "deeper" / "x.toml"
    (project.root / "dangling.toml").symlink_to(away)
    result = project.run("-f", "dangling.toml", "init")
    assert result.code == 2, result
    assert result.err.splitlines() == [
        f"Error: cannot write dangling.toml: it is a symlink to {away}, whose folder does "
        "not exist", "Make that folder first, or point the link elsewhere."]
    assert not (tmp_path / "away").exists()
    away.parent.mkdir(parents=True)
    assert project.run("-f", "dangling.toml", "init").code == 0
    assert away.is_file() and (project.root / "dangling.toml").is_symlink()


def test_init_under_a_file_says_so(project) -> None:
    (project.root / "ci").write_text("not a folder")
    result = project.run("-f", "ci/mogplex.toml", "init")
    assert result.code == 2, result
    target = project.root.resolve() / "ci"
    assert result.err == (f"Error: cannot write {target}/mogplex.toml: {target} is a file, "
                          "not a folder\n")


def test_init_over_a_folder_of_that_name_says_it_is_a_folder(project) -> None:
    """It said the folder "already exists" and to add jobs to it with ``add``."""
    project.path.unlink(missing_ok=True)
    project.path.mkdir()
    result = project.run("init")
    assert result.code == 2, result
    assert result.err.splitlines() == [
        f"Error: {project.path.resolve()} is a directory; not making a task file there",
        "Move it away, or name a file with -f PATH."]


@pytest.mark.parametrize(("name", "said"), [
    ("loop.toml", "Error: cannot write loop.toml: it is a symlink loop\n"),
    ("x" * 300 + ".toml", f"Error: cannot write {'x' * 300}.toml: File name too long\n"),
])
def test_init_to_a_name_no_file_can_have_says_so(project, name: str, said: str) -> None:
    if name == "loop.toml":
        (project.root / name).symlink_to(name)
    result = project.run("-f", name, "init")
    assert (result.code, result.err) == (2, said), result


def test_init_adds_to_a_gitignore_with_its_line_endings(project) -> None:
    (project.root / ".gitignore").write_bytes(b"node_modules\r\n")
    assert project.run("init").code == 0
    assert (project.root / ".gitignore").read_bytes() == b"node_modules\r\n.mogrun/\r\n"


def test_init_escapes_what_the_terminal_would_act_on_in_the_name_it_echoes(project) -> None:
    result = project.run("-f", "\x1b[31mx.toml", "init")
    assert result.code == 0, result
    assert "\x1b" not in result.out and "\\x1b[31mx.toml" in result.out, result.out


@pytest.mark.timeout(30)
@pytest.mark.parametrize("command", [("check",), ("show", "a"), ("logs", "a"), ("plugins",),
                                     ("add", "b", "--repo", "acme/api", "--prompt", "y")])
def test_a_pipe_named_as_prompt_file_is_never_read(project, command: tuple[str, ...]) -> None:
    """Reading a pipe blocks until someone writes to it: every command that reads
    prompt files (a job's prompt, the ``env.*`` names to mask) checks first."""
    os.mkfifo(project.root / "prompt.pipe")
    project.write('[jobs.a]\nrepo = "acme/api"\nprompt_file = "prompt.pipe"\n')
    result = project.run(*command)
    assert "Traceback" not in result.err, result
    refusal = 'Error: job "a", key "prompt_file": prompt file prompt.pipe is not a regular file'
    if command[0] in ("check", "show"):
        assert result.code == 2 and result.err.startswith(refusal), result


def test_adds_at_once_each_keep_the_others_jobs(tmp_path: Path) -> None:
    """Ten ``mogrun add`` at once each read the file, then each wrote it whole with
    only its own job added: all said "Added", and most jobs were lost."""
    (tmp_path / "mogplex.toml").write_text(MINIMAL)
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED_ENV}
    procs = [subprocess.Popen([sys.executable, "-m", "mogrun", "add", f"job{i}", "--repo",
                               "acme/api", "--prompt", f"p{i}"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(6)]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (out, err)
    listed = subprocess.run([sys.executable, "-m", "mogrun", "--json", "list"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, check=True)
    names = {json.loads(line)["job"] for line in listed.stdout.splitlines()}
    assert names == {"hello", *(f"job{i}" for i in range(6))}
    assert (tmp_path / "mogplex.toml").read_text().startswith(MINIMAL)


def test_add_keeps_a_change_made_to_the_file_while_it_ran(project) -> None:
    """``add`` read the file, judged the new job (importing the file's plugins, which
    may take seconds), then wrote the file from what it read: a job an editor saved
    meanwhile was gone, and it said "Added". Here the file's own plugin makes that
    change while ``add`` imports it: nothing is written, and the change stays."""
    edit = '\n[jobs.editor]\nrepo = "acme/api"\nprompt = "mine"\n'
    project.root.joinpath("saved_meanwhile.py").write_text(
        "from pathlib import Path\n"
        f"with Path(__file__).with_name('mogplex.toml').open('a') as f:\n    f.write({edit!r})\n")
    project.path.write_text('[mogplex]\nplugins = ["saved_meanwhile.py"]\n\n[jobs.a]\n'
                            'repo = "acme/api"\nprompt = "x"\n')
    result = project.run("add", "b", "--repo", "acme/api", "--prompt", "y", plugins=True)
    assert result.code == 2, result
    assert "changed while mogrun read it" in result.err and "nothing written" in result.err
    text = project.path.read_text()
    assert text.endswith(edit) and "[jobs.b]" not in text
    assert sorted(p.name for p in project.root.iterdir()
                  if p.name.endswith(".tmp")) == []  # no temporary left


def test_a_read_only_mount_is_said_as_one(tmp_path: Path, monkeypatch) -> None:
    """On a file system mounted read-only, ``add`` said "Permission denied" of a file
    ``ls -l`` shows writable (``init`` said "Read-only file system")."""
    import errno

    from mogrun import atomic

    path = tmp_path / "mogplex.toml"
    path.write_text(MINIMAL)
    monkeypatch.setattr(atomic.os, "access", lambda *_: False)
    real = os.statvfs(tmp_path)
    monkeypatch.setattr(atomic.os, "statvfs", lambda _: os.statvfs_result(
        (*real[:8], real.f_flag | os.ST_RDONLY, real.f_namemax)))
    with pytest.raises(PermissionError) as caught:
        atomic.write_atomically(path, b"x")
    assert caught.value.errno == errno.EROFS and path.read_text() == MINIMAL


def test_an_add_waiting_for_another_says_so(tmp_path: Path) -> None:
    """A second ``add`` while another held the folder's lock said nothing at all until
    Ctrl-C: it says it waits, then adds once the lock is let go."""
    import fcntl

    (tmp_path / "mogplex.toml").write_text(MINIMAL)
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED_ENV}
    import threading

    held = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)
    let_go = threading.Timer(20, fcntl.flock, (held, fcntl.LOCK_UN))  # silent: no hang
    let_go.start()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "mogrun", "add", "later", "--repo",
                                 "acme/api", "--prompt", "p"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        said = proc.stderr.readline()  # before the lock is let go: said while it waits
        assert said.startswith(f"warning: waiting for another mogrun editing a file of "
                               f"{tmp_path} to end"), said
        assert let_go.is_alive()
    finally:
        let_go.cancel()
        os.close(held)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert "[jobs.later]" in (tmp_path / "mogplex.toml").read_text()


def test_hints_name_no_command_that_cannot_work(project) -> None:
    """`-f notes/x.toml` with notes a file said "Create it with `mogrun init -f
    notes/x.toml`", which then failed "Not a directory"; `init -f FIFO` said "Add
    jobs to it with `mogrun -f FIFO add ...`", which add refuses (no regular file)."""
    (project.root / "notes").write_text("a file\n")
    missing = project.run("-f", "notes/x.toml", "list")
    assert missing.code == 2, missing
    assert "is a file, not a folder: no task file can be made under it" in missing.err
    assert "mogrun init" not in missing.err
    os.mkfifo(project.root / "pipe")
    made = project.run("-f", "pipe", "init")
    assert made.code == 2, made
    assert "already exists and is not a file" in made.err and " add " not in made.err
